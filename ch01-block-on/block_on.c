/* block_on.c: the smallest executor there is (chapter 1, ch01-block-on).
 * It polls one future on the calling thread and, between polls, parks the
 * thread on a condition variable until a waker says there is news.
 *
 * The BUG_* switches build the classic bugs of tiny executors for the checks
 * (README.md, "Four classic bugs"); a normal build has none of them.
 */
#include "block_on.h"

#include "trace.h"

#include "../common/alloc.h"
#include "../common/errors.h"
#ifdef BUG_WAKE_OUTSIDE_LOCK
#include "../common/clock.h"
#endif

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

/* ===== The parker ===== */

/* pthread_mutex_lock/unlock and pthread_cond_wait/signal cannot fail on a
 * mutex and condition variable that were initialised and are used correctly,
 * so their results are not checked here; the init calls are. */

/* Where one block_on call sleeps. Its address is the data pointer of every
 * waker that block_on hands out. */
struct parker {
#ifdef BUG_PLAIN_REFCOUNT
    long refs; /* exercise 5: a plain counter, ++ and -- on several threads */
#else
    atomic_long refs; /* block_on's reference plus one per live waker clone */
#endif
    bool notified;        /* a wake-up came that park has not consumed yet; under lock */
    pthread_mutex_t lock; /* guards notified */
    pthread_cond_t cond;  /* signalled whenever notified becomes true */
};

static atomic_long parkers_alive; /* parkers made and not yet freed */

#ifdef BUG_GLOBAL_PARKER
/* Bug 3: one parker for the whole process, shared by every block_on on every
 * thread. Its first reference is never released, so it is never freed. */
static struct parker shared_parker = {
    .refs = 1,
    .notified = false,
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .cond = PTHREAD_COND_INITIALIZER,
};
#endif

/* A new parker holding one reference, the caller's. */
static struct parker *parker_new(void)
{
#ifdef BUG_GLOBAL_PARKER
    atomic_fetch_add(&shared_parker.refs, 1);
    return &shared_parker;
#else
    struct parker *parker = xmalloc(sizeof *parker);
    atomic_init(&parker->refs, 1);
    parker->notified = false;
    check_pthread(pthread_mutex_init(&parker->lock, NULL), "pthread_mutex_init");
    check_pthread(pthread_cond_init(&parker->cond, NULL), "pthread_cond_init");
    atomic_fetch_add(&parkers_alive, 1);
    return parker;
#endif
}

static void parker_free(struct parker *parker)
{
#ifdef BUG_GLOBAL_PARKER
    if (parker == &shared_parker) /* never true: its first reference is never released; */
        return;                   /* but the compiler cannot know that */
#endif
    pthread_cond_destroy(&parker->cond);
    pthread_mutex_destroy(&parker->lock);
    free(parker);
    atomic_fetch_sub(&parkers_alive, 1);
}

/* Give up one reference; the last one frees the parker. acq_rel: everything a
 * holder did with the parker happens before its release (release half), and
 * the thread that frees it sees all of that before freeing (acquire half).
 * Returns the count before. After this call the caller must not touch the
 * parker again. */
static long parker_release(struct parker *parker)
{
#ifdef BUG_PLAIN_REFCOUNT
    long before = parker->refs--;
#else
    long before = atomic_fetch_sub_explicit(&parker->refs, 1, memory_order_acq_rel);
#endif
    if (before == 1)
        parker_free(parker);
    return before;
}

/* Let the parked thread run: set the flag and signal, both under the lock. If
 * the flag were set without the lock, park could see it false, then miss the
 * signal sent before it starts waiting: a lost wake-up. */
static void parker_unpark(struct parker *parker)
{
#if defined(BUG_FLAG_OUTSIDE_LOCK)
    /* Exercise 4, first half: the flag set before the lock, the signal still
     * under it. A data race, but no lost wake-up: park, holding the lock from
     * its test of the flag until it waits, gets the signal. */
    parker->notified = true;
    pthread_mutex_lock(&parker->lock);
    pthread_cond_signal(&parker->cond);
    pthread_mutex_unlock(&parker->lock);
#elif defined(BUG_WAKE_OUTSIDE_LOCK)
    /* Exercise 4, second half: flag and signal both without the lock. */
    parker->notified = true;
    pthread_cond_signal(&parker->cond);
#else
    pthread_mutex_lock(&parker->lock);
    parker->notified = true;
    pthread_cond_signal(&parker->cond);
    pthread_mutex_unlock(&parker->lock);
#endif
}

/* Sleep until notified, then consume the notification. A wake-up that came
 * before this call returns at once. Returns true when the thread slept. */
static bool parker_park(struct parker *parker)
{
    /* LESSON park: Sleep until notified, then consume the notification.
     * hint: Under parker->lock, pthread_cond_wait in a loop while !notified
     *   (a wake-up can be spurious), then set notified back to false; return
     *   whether it had to wait (block_on traces which).
     * stub:
     *   (void) parker;
     *   lesson_missing("park"); */
    bool slept = false;
    pthread_mutex_lock(&parker->lock);
    while (!parker->notified) { /* not yet, or a spurious wake-up: (go back to) sleep */
        slept = true;
#ifdef BUG_WAKE_OUTSIDE_LOCK
        sleep_blocking_ms(1); /* widens the window between test and wait: the wake lands in it */
#endif
        pthread_cond_wait(&parker->cond, &parker->lock);
    }
    parker->notified = false;
    pthread_mutex_unlock(&parker->lock);
    return slept;
    /* END LESSON park */
}

/* ===== The waker vtable: a waker is a counted reference to a parker ===== */

static const struct waker_vtable parker_waker_vtable;

static struct waker parker_waker_clone(void *data)
{
    struct parker *parker = data;
#ifdef BUG_CLONE_NO_REF
    /* Bug 2: a new waker that nobody counted. When it is dropped, the count
     * goes down for a reference that never went up: the parker is freed while
     * block_on (or another waker) still uses it. */
    long before = atomic_load(&parker->refs), after = before;
#elif defined(BUG_PLAIN_REFCOUNT)
    long before = parker->refs++, after = before + 1;
#else
    /* One more reference. The caller holds one already, so the parker cannot
     * be freed meanwhile, and nothing else needs ordering: relaxed is enough. */
    long before = atomic_fetch_add_explicit(&parker->refs, 1, memory_order_relaxed);
    long after = before + 1;
#endif
    trace("    waker: clone (parker references %ld -> %ld)", before, after);
    return (struct waker){parker, &parker_waker_vtable};
}

/* LESSON waker-vtable: A wake sets notified and signals; every waker owns a parker reference.
 * hint: wake_by_ref is parker_unpark(); wake is parker_unpark() then
 *   parker_release() (it consumes the waker); drop only releases.
 *   The trace lines stay: the demo's output (README.md) shows them.
 * stub:
 *   static void parker_waker_wake(void *data)
 *   {
 *       trace("    waker: wake: set notified, signal the condition variable, drop this reference");
 *       (void) data;
 *       lesson_missing("waker-vtable");
 *   }
 *
 *   static void parker_waker_wake_by_ref(void *data)
 *   {
 *       trace("    waker: wake_by_ref: set notified, signal the condition variable");
 *       (void) data;
 *       (void) parker_unpark; // yours to call
 *       lesson_missing("waker-vtable");
 *   }
 *
 *   static void parker_waker_drop(void *data)
 *   {
 *       trace("    waker: drop");
 *       (void) data;
 *       lesson_missing("waker-vtable");
 *   } */
static void parker_waker_wake(void *data)
{
    trace("    waker: wake: set notified, signal the condition variable, drop this reference");
    parker_unpark(data);
    parker_release(data);
}

static void parker_waker_wake_by_ref(void *data)
{
    trace("    waker: wake_by_ref: set notified, signal the condition variable");
    parker_unpark(data);
}

static void parker_waker_drop(void *data)
{
    trace("    waker: drop");
    parker_release(data);
}
/* END LESSON waker-vtable */

static const struct waker_vtable parker_waker_vtable = {
    .clone = parker_waker_clone,
    .wake = parker_waker_wake,
    .wake_by_ref = parker_waker_wake_by_ref,
    .drop = parker_waker_drop,
};

/* ===== block_on ===== */

void block_on(struct future *future)
{
    struct parker *parker = parker_new();
    struct waker waker = {parker, &parker_waker_vtable}; /* block_on's own reference */
    struct context cx = {&waker};                        /* lent to every poll */

    for (long polls = 1;; polls++) {
        trace("block_on: poll '%s' (poll #%ld)", future->name, polls);
        if (future_poll(future, &cx) == POLL_READY) {
            trace("block_on: '%s' is ready", future->name);
            break;
        }
        trace("block_on: '%s' is pending: park this thread", future->name);
        if (parker_park(parker))
            trace("block_on: unparked by a wake-up");
        else
            trace("block_on: a wake-up came before we parked: no need to sleep");
    }

#ifdef BUG_FREE_PARKER_EARLY
    /* Bug 1: free the parker as if block_on held the only reference. A waker
     * clone that outlives this call now points at freed memory. */
    trace("block_on: free the parker");
    parker_free(parker);
#else
    long before = parker_release(parker);
    trace("block_on: drop its parker reference (%ld -> %ld): %s", before, before - 1,
          before == 1 ? "parker freed" : "a waker clone keeps the parker alive");
#endif
}

long block_on_parkers_alive(void)
{
    return atomic_load(&parkers_alive);
}
