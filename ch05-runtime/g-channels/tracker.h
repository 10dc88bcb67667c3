/* tracker.h: a waker that belongs to no task, for polling futures by hand in
 * channel-check (ch05-runtime step g). It lives in a header of its own
 * because corofy (which reads channel-check.c) refuses a file-scope function
 * that returns a `struct waker`: it takes the tag for a name it reserves.
 *
 * It counts how often it was woken and how many clones of it are alive, so a
 * check can see a missing wake-up, an extra one, and a clone that was never
 * given back. */
#ifndef TRACKER_H
#define TRACKER_H

#include <stdatomic.h>

#include "future.h"

struct tracker {
    atomic_int wakes;  /* wake and wake_by_ref calls */
    atomic_int clones; /* taken and not yet woken or dropped */
};

static const struct waker_vtable tracker_vtable;

static inline struct waker tracker_clone(void *data)
{
    atomic_fetch_add(&((struct tracker *) data)->clones, 1);
    return (struct waker){data, &tracker_vtable};
}

static inline void tracker_wake_by_ref(void *data)
{
    atomic_fetch_add(&((struct tracker *) data)->wakes, 1);
}

static inline void tracker_drop(void *data)
{
    atomic_fetch_sub(&((struct tracker *) data)->clones, 1);
}

static inline void tracker_wake(void *data)
{
    tracker_wake_by_ref(data);
    tracker_drop(data);
}

static const struct waker_vtable tracker_vtable = {
    .clone = tracker_clone,
    .wake = tracker_wake,
    .wake_by_ref = tracker_wake_by_ref,
    .drop = tracker_drop,
};

/* A waker for t, to pass to poll (borrowed: not counted as a clone). */
static inline struct waker tracker_waker(struct tracker *t)
{
    return (struct waker){t, &tracker_vtable};
}

#endif
