        /* ---- wait point 2: x -= ready_int(2, 3).wait; ---- */
        frame->awaited = ready_int(2, 3);
        frame->state = 2;
        /* fall through */
    case 2:
        if (frame->awaited->poll(frame->awaited, &frame->wait_16_25) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 2 ---- */
        frame->x -= frame->wait_16_25;
