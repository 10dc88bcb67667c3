        frame->and_13_26 = 0;
        if (frame->n > 0) {
            /* ---- wait point 2: int and_true = n > 0 && ready_int(1, 5).wait; ---- */
