/* timeout.c: with_timeout(), a timer operation raced against a future; the
 * loser is dropped. Introduced in ch06-io-uring step c. */
#include "timeout.h"

#include <stdlib.h>

#include "../../common/alloc.h"
#include "reactor.h"

struct with_timeout {
    struct future base;    /* first member: a struct future * points here */
    struct future *inner;  /* owned; NULL once dropped */
    void *inner_output;    /* where inner writes its output */
    bool polled;           /* the first poll has been */
    bool timed;            /* ...and started the timer (unless the kernel took no SQE) */
    struct operation tick; /* the timer: completes with -ETIME after `ms` */
    struct __kernel_timespec duration; /* the timer's; copied when submitted */
};

/* Start the timer: IORING_OP_TIMEOUT with a count of 0 is a plain timer.
 * 0 or -errno. */
static int start_timer(struct with_timeout *t, const struct waker *waker)
{
    struct io_uring_sqe sqe = {
        .opcode = IORING_OP_TIMEOUT,
        .fd = -1,
        .addr = (uintptr_t) &t->duration,
        .len = 1, /* one timespec, relative to now */
        .off = 0, /* complete on time alone, not after other completions */
    };
    return reactor_start(&t->tick, &sqe, waker, REACTOR_NO_DEADLINE);
}

static enum poll_status with_timeout_poll(struct future *self, const struct waker *waker,
                                          void *output)
{
    struct with_timeout *t = (struct with_timeout *) self;
    if (!t->polled) {
        t->polled = true;
        t->timed = start_timer(t, waker) == 0; /* if not, wait without a limit */
    } else if (t->tick.in_flight) {
        reactor_set_waker(&t->tick, waker);
    }

    /* Whatever woke us, ask inner first: an answer that is there wins over
       a timer that fired at the same moment. */
    bool in_time = t->inner->poll(t->inner, waker, t->inner_output) == POLL_READY;
    if (!in_time) {
        if (!t->timed || t->tick.in_flight)
            return POLL_PENDING;
        /* The timer has completed: time is up. inner may be in the middle
           of anything, an operation in flight included: its drop must cope
           (reactor.h, "Ownership"). */
        t->inner->drop(t->inner);
        t->inner = NULL;
    }
    if (output != NULL)
        *(bool *) output = in_time;
    return POLL_READY; /* if inner won, the timer is still in flight: see drop */
}

static void release_timeout(void *data)
{
    free(data);
}

static void with_timeout_drop(struct future *self)
{
    struct with_timeout *t = (struct with_timeout *) self;
    if (t->inner != NULL)
        t->inner->drop(t->inner);
        /* The timer may still be running (inner won): the kernel holds the
           address of t->tick. Leave t to the reactor, which cancels the timer
           and frees t when its completion has come. */
#ifdef BUG_FREE_TIMER_EARLY /* exercise 3 (README.md) */
    if (false)
#else
    if (t->tick.in_flight)
#endif
        reactor_abandon(&t->tick, release_timeout, t);
    else
        release_timeout(t);
}

struct future *with_timeout(struct future *inner, unsigned ms, void *inner_output)
{
    struct with_timeout *t = xcalloc(1, sizeof *t);
    t->base.poll = with_timeout_poll;
    t->base.drop = with_timeout_drop;
    t->inner = inner;
    t->inner_output = inner_output;
    t->duration.tv_sec = ms / 1000;
    t->duration.tv_nsec = (long long) (ms % 1000) * 1000000;
    return &t->base;
}
