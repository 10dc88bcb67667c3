/* future.h: the future of ch04-coroutines, the simplest one in the workbook.
 * Introduced in step a; every later step of chapter 4 and the first step of
 * chapter 5 (ch05-runtime/a-runtime) carry it over unchanged, and the code
 * corofy generates in its plain flavour relies on exactly these names. */
#ifndef FUTURE_H
#define FUTURE_H

enum poll_status { POLL_PENDING = 0, POLL_READY = 1 };

/* A future is a computation that finishes later. Nothing happens until
 * someone polls it; whoever holds it polls it again and again until it says
 * POLL_READY. There is no waker here: a future cannot ask to be polled, so
 * its holder polls again, after a nap (chapter 4) or once the kernel reports
 * an event the future registered for (ch05-runtime step a, runtime.h).
 *
 * Concrete futures embed this struct as their FIRST member, so a pointer to
 * the concrete struct and a pointer to its `struct future` are the same
 * address (poll and drop cast `self` back). */
struct future {
    /* Advance the future. On POLL_READY the result has been written to
       *output (when output is not NULL; NULL means "discard the result").
       Polling again after POLL_READY is a programming error. */
    enum poll_status (*poll)(struct future *self, void *output);
    /* Release the future and everything it owns; valid in any state. */
    void (*drop)(struct future *self);
};

#endif
