        for (;;) { /* while (ready_int(1, i).wait < n): its waits, then the test */
            /* ---- wait point 3: while (ready_int(1, i).wait < n) ---- */
