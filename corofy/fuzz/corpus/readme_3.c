    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        frame->total = 0;
        for (frame->i = 0; frame->i < frame->n; frame->i++) {
            /* ---- wait point 1: int x = ready_int(1, i).wait; ---- */
            frame->awaited = ready_int(1, frame->i);
            frame->state = 1;
            /* fall through */
    case 1:
            if (frame->awaited->poll(frame->awaited, &frame->x) == POLL_PENDING)
                return POLL_PENDING;
            frame->awaited->drop(frame->awaited);
            frame->awaited = NULL;
            /* ---- end of wait point 1 ---- */
            frame->total += frame->x;
        }
        if (output != NULL)
            *(int *) output = frame->total;
        frame->state = -1;
        return POLL_READY;
