/* futures.h: the futures the chapter 1 demo runs (ch01-block-on): a leaf
 * future (a timer with its own thread), a future that yields once, and a
 * future made of two timers awaited one after the other.
 */
#ifndef FUTURES_H
#define FUTURES_H

#include "future.h"

#include <stdbool.h>

/* ===== Timer: a leaf future ===== */

struct timer_thread; /* private to futures.c */

/* Waits `ms` milliseconds, then is READY with `message` as its output. The
 * first poll starts a thread and hands it a clone of the waker; the thread
 * sleeps, then wakes the waker. Nothing happens before the first poll. */
struct timer_future {
    struct future base;          /* first member: a timer_future * is a future * */
    unsigned ms;                 /* how long to wait */
    const char *message;         /* the output, valid once READY; borrowed from the caller */
    int threads_started;         /* timer threads poll has started: 1 when used correctly */
    struct timer_thread *thread; /* the running timer; NULL before the first poll and after READY */
    char name[32];               /* "timer 150 ms": base.name points here */
};

/* Set up a timer. `message` must stay valid as long as the timer is used. */
void timer_init(struct timer_future *timer, unsigned ms, const char *message);

/* For a timer abandoned before READY: wait for its thread to finish and free
 * what it holds. Does nothing for a timer that never started or finished. */
void timer_cleanup(struct timer_future *timer);

/* ===== Yield once: a future that wakes itself ===== */

/* The first poll wakes its own waker (wake_by_ref) and returns PENDING; the
 * second returns READY. It gives whoever polls it a chance to do other work. */
struct yield_once_future {
    struct future base; /* first member */
    bool yielded;       /* the first poll has happened */
};

void yield_once_init(struct yield_once_future *yield);

/* ===== Two timers, one after the other: a composed future ===== */

/* What `async { format!("{} {}", timer(a).await, timer(b).await) }` would be
 * in Rust: a state machine that owns two timer futures, polls the first until
 * READY, then the second, then joins their messages. */
struct two_timers_future {
    struct future base; /* first member */
    enum {
        WAIT_FIRST,  /* polling `first` */
        WAIT_SECOND, /* `first` is done; polling `second` */
    } state;
    struct timer_future first;  /* owned */
    struct timer_future second; /* owned */
    char result[64];            /* the output once READY: "<first message> <second message>" */
};

void two_timers_init(struct two_timers_future *both, unsigned first_ms, const char *first_message,
                     unsigned second_ms, const char *second_message);

#endif
