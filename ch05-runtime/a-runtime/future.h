/* future.h: the future of ch05-runtime step a, the same shape as ch04's (the
 * "plain" flavour of the corofy contract): no waker yet. The code corofy
 * generates for this step relies on exactly these names. */
#ifndef FUTURE_H
#define FUTURE_H

enum poll_status { POLL_PENDING = 0, POLL_READY = 1 };

/* A future is a computation that finishes later. Nothing happens until it is
 * polled. Concrete futures embed this struct as their FIRST member, so a
 * pointer to the concrete struct and to its `struct future` are the same
 * address (poll and drop cast `self` back).
 *
 * The rule of this step: a future that returns POLL_PENDING because it
 * waits for a socket must have registered that socket with the runtime's
 * registry (runtime.h) first, so that block_on's sleep in epoll_wait ends
 * when the socket is ready. */
struct future {
    /* Advance the future. On POLL_READY the result has been written to
       *output (when output is not NULL; NULL means "discard the result").
       Polling again after POLL_READY is a programming error. */
    enum poll_status (*poll)(struct future *self, void *output);
    /* Release the future and everything it owns; valid in any state. */
    void (*drop)(struct future *self);
};

#endif
