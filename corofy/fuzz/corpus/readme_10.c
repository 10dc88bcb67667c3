    switch (frame->state) {
    case 2: /* wait point 2 is inside a switch of yours */
        goto wait_point_2;
