/* future.h: the future of ch05-runtime from step b on: chapter 4's future
 * (poll with an output, and a drop) with chapter 1's waker back in poll.
 * This is the "waker" flavour of the corofy contract: the code corofy
 * generates for these steps relies on exactly these names. */
#ifndef FUTURE_H
#define FUTURE_H

#include "waker.h"

enum poll_status { POLL_PENDING = 0, POLL_READY = 1 };

/* A future is a computation that finishes later. Nothing happens until it is
 * polled. Concrete futures embed this struct as their FIRST member, so a
 * pointer to the concrete struct and to its `struct future` are the same
 * address (poll and drop cast `self` back).
 *
 * The rule that makes wakers work: a future that returns POLL_PENDING must
 * first have arranged for `waker` to be woken when it can make progress (by
 * handing a clone to whoever will see the progress: the reactor, a channel,
 * another thread), or have woken it already. Otherwise nobody will ever poll
 * it again. The waker is borrowed for the duration of the call: to keep it,
 * take a clone (waker_clone), which the keeper must end exactly once. */
struct future {
    /* Advance the future. On POLL_READY the result has been written to
       *output (when output is not NULL; NULL means "discard the result").
       Polling again after POLL_READY is a programming error. */
    enum poll_status (*poll)(struct future *self, const struct waker *waker, void *output);
    /* Release the future and everything it owns; valid in any state. */
    void (*drop)(struct future *self);
};

#endif
