        frame->ptr_33_5 = &(*pick(frame->slots, 3));
        /* ---- wait point 6: *pick(slots, 3) = ready_int(1, 33).wait; ---- */
