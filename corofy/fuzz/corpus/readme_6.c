        frame->tmp_19_15 = add3(frame->wait_19_35, 0, 0);
        /* ---- wait point 6: ready_int(2, 2).wait (line 19) ---- */
