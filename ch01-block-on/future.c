/* future.c: the waker_* calls and the poll-after-ready guard of chapter 1
 * (ch01-block-on). A waker's vtable does the real work; these functions only
 * check that a consumed waker is never used again.
 */
#include "future.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

/* ===== Wakers ===== */

struct waker waker_clone(const struct waker *waker)
{
    assert(waker->vtable != NULL && "waker_clone: this waker was already consumed");
    return waker->vtable->clone(waker->data);
}

void waker_wake(struct waker *waker)
{
    assert(waker->vtable != NULL && "waker_wake: this waker was already consumed");
    struct waker consumed = *waker;
    *waker = (struct waker){NULL, NULL};
    consumed.vtable->wake(consumed.data);
}

void waker_wake_by_ref(const struct waker *waker)
{
    assert(waker->vtable != NULL && "waker_wake_by_ref: this waker was already consumed");
    waker->vtable->wake_by_ref(waker->data);
}

void waker_drop(struct waker *waker)
{
    assert(waker->vtable != NULL && "waker_drop: this waker was already consumed");
    struct waker consumed = *waker;
    *waker = (struct waker){NULL, NULL};
    consumed.vtable->drop(consumed.data);
}

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
