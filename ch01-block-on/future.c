/* future.c: the poll-after-ready guard of chapter 1 (ch01-block-on). */
#include "future.h"

#include <stdio.h>
#include <stdlib.h>

/* ===== Futures ===== */

enum poll_status future_poll(struct future *future, struct context *cx)
{
#ifndef BUG_NO_READY_GUARD
    /* A finished future has handed out its result and released what it held;
     * its poll function would run on state that no longer means anything.
     * (Bug 4 in README.md is this file built without the check.) */
    if (future->finished) {
        fprintf(stderr, "future_poll: '%s' polled again after it returned READY\n", future->name);
        abort();
    }
#endif
    enum poll_status status = future->poll(future, cx);
    if (status == POLL_READY)
        future->finished = true;
    return status;
}
