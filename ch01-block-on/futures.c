/* futures.c: a timer, a yield, and two timers in sequence: the futures of the
 * chapter 1 demo (ch01-block-on). Each poll traces what it does.
 */
#include "futures.h"

#include "trace.h"

#include "../common/alloc.h"
#include "../common/clock.h"
#include "../common/errors.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

/* ===== Timer ===== */

/* What the timer future shares with its thread. */
struct timer_thread {
    pthread_t id;
    unsigned ms;        /* copied from the future */
    const char *name;   /* the future's name, for the trace */
    struct waker waker; /* the thread's own clone; it wakes (consumes) it when time is up */
    atomic_bool fired;  /* set by the thread just before it wakes the waker */
};

static void *timer_thread_main(void *arg)
{
    struct timer_thread *thread = arg;
    trace_thread_name("timer");
    sleep_blocking_ms(thread->ms);
    trace("  %s: time is up: wake the waker", thread->name);
    atomic_store(&thread->fired, true); /* before the wake, so the next poll sees it */
    waker_wake(&thread->waker);
    return NULL;
}

static enum poll_status timer_poll(struct future *self, struct context *cx)
{
    struct timer_future *timer = (struct timer_future *) self;

    if (timer->thread == NULL) { /* first poll? */
        trace("  %s: first poll: start a thread, give it a clone of the waker", self->name);
        struct timer_thread *thread = xmalloc(sizeof *thread);
        thread->ms = timer->ms;
        thread->name = self->name;
        thread->waker = waker_clone(cx->waker);
        atomic_init(&thread->fired, false);
        check_pthread(pthread_create(&thread->id, NULL, timer_thread_main, thread),
                      "pthread_create");
        timer->thread = thread;
        timer->threads_started++;
        trace("  %s: pending", self->name);
        return POLL_PENDING;
    }
    if (!atomic_load(&timer->thread->fired)) { /* polled, but the time is not up yet */
        trace("  %s: not yet: still pending", self->name);
        return POLL_PENDING;
    }
    /* The thread has woken its waker and is about to exit. */
    pthread_join(timer->thread->id, NULL);
    free(timer->thread);
    timer->thread = NULL;
    trace("  %s: the thread has fired: ready with \"%s\"", self->name, timer->message);
    return POLL_READY;
}

void timer_init(struct timer_future *timer, unsigned ms, const char *message)
{
    snprintf(timer->name, sizeof timer->name, "timer %u ms", ms);
    timer->base = (struct future) FUTURE_INIT(timer_poll, timer->name);
    timer->ms = ms;
    timer->message = message;
    timer->threads_started = 0;
    timer->thread = NULL;
}

void timer_cleanup(struct timer_future *timer)
{
    if (timer->thread == NULL)
        return;
    pthread_join(timer->thread->id, NULL); /* its waker clone is consumed by then */
    free(timer->thread);
    timer->thread = NULL;
}

/* ===== Yield once ===== */

static enum poll_status yield_once_poll(struct future *self, struct context *cx)
{
    struct yield_once_future *yield = (struct yield_once_future *) self;

    if (!yield->yielded) {
        yield->yielded = true;
        trace("  %s: first poll: wake my own waker, then say pending", self->name);
        waker_wake_by_ref(cx->waker);
        return POLL_PENDING;
    }
    trace("  %s: second poll: ready", self->name);
    return POLL_READY;
}

void yield_once_init(struct yield_once_future *yield)
{
    yield->base = (struct future) FUTURE_INIT(yield_once_poll, "yield once");
    yield->yielded = false;
}

/* ===== Two timers, one after the other ===== */

static enum poll_status two_timers_poll(struct future *self, struct context *cx)
{
    struct two_timers_future *both = (struct two_timers_future *) self;

    switch (both->state) {
    case WAIT_FIRST:
        if (future_poll(&both->first.base, cx) == POLL_PENDING)
            return POLL_PENDING;
        trace("  %s: first timer done, now the second", self->name);
        both->state = WAIT_SECOND;
        /* The second timer has never been polled: poll it now, or nobody
         * would ever start it. */
        /* fall through */
    case WAIT_SECOND:
        if (future_poll(&both->second.base, cx) == POLL_PENDING)
            return POLL_PENDING;
        snprintf(both->result, sizeof both->result, "%s %s", both->first.message,
                 both->second.message);
        trace("  %s: second timer done: ready", self->name);
        return POLL_READY;
    }
    abort(); /* state holds one of the two values above */
}

void two_timers_init(struct two_timers_future *both, unsigned first_ms, const char *first_message,
                     unsigned second_ms, const char *second_message)
{
    both->base = (struct future) FUTURE_INIT(two_timers_poll, "two timers");
    both->state = WAIT_FIRST;
    timer_init(&both->first, first_ms, first_message);
    timer_init(&both->second, second_ms, second_message);
    both->result[0] = '\0';
}
