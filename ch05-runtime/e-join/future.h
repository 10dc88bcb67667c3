/* future.h: futures that carry a waker, the interface of ch05-runtime from
 * step b on. This is the "waker" flavour of the corofy contract: the code
 * corofy generates for this step relies on exactly these names. */
#ifndef FUTURE_H
#define FUTURE_H

#include <stdbool.h>
#include <stddef.h>

enum poll_status { POLL_PENDING = 0, POLL_READY = 1 };

/* ===== Wakers =====
 *
 * A waker is the answer to one question: "when the thing this future waits
 * for happens, who do I tell, and how?" It is two words: a pointer to some
 * data (here: a task) and a table of what can be done with it. Whoever
 * polls a future passes a waker in; the future keeps a clone wherever the
 * event will come from (the reactor, a channel, another thread), and that
 * place calls wake on it later. The executor that made the waker then puts
 * the task back on its ready queue and polls it again.
 *
 * Ownership: a `struct waker` value is a counted reference. The waker passed
 * to poll() is only borrowed for the duration of that call; to keep it, take
 * a clone. Every clone must be consumed exactly once, either by waker_wake()
 * or by waker_drop(). A waker may be cloned, woken and dropped from any
 * thread, at any time, even after its task finished or its executor ended:
 * waking then does nothing, and the memory stays valid until the last clone
 * is dropped. */
struct waker;

struct waker_vtable {
    struct waker (*clone)(const struct waker *waker);  /* a new reference to the same task */
    void (*wake)(struct waker *waker);                 /* schedule the task, consume *waker */
    void (*wake_by_ref)(const struct waker *waker);    /* schedule the task, keep *waker */
    void (*drop)(struct waker *waker);                 /* give the reference back */
};

struct waker {
    const struct waker_vtable *vtable;  /* how to wake `data`; NULL in an empty waker */
    void *data;                         /* what to wake (the executor's task) */
};

static inline struct waker waker_clone(const struct waker *waker)
{
    return waker->vtable->clone(waker);
}

/* Wake and consume: *waker is empty afterwards. */
static inline void waker_wake(struct waker *waker)
{
    waker->vtable->wake(waker);
    waker->vtable = NULL;
    waker->data = NULL;
}

static inline void waker_wake_by_ref(const struct waker *waker)
{
    waker->vtable->wake_by_ref(waker);
}

/* Consume without waking: *waker is empty afterwards. */
static inline void waker_drop(struct waker *waker)
{
    waker->vtable->drop(waker);
    waker->vtable = NULL;
    waker->data = NULL;
}

/* Would waking a wake the same task as waking b? (Then a stored clone need
 * not be replaced.) */
static inline bool waker_will_wake(const struct waker *a, const struct waker *b)
{
    return a->vtable == b->vtable && a->data == b->data;
}

/* ===== Futures =====
 *
 * A future is a computation that finishes later. Nothing happens until it is
 * polled. Concrete futures embed this struct as their FIRST member, so a
 * pointer to the concrete struct and to its `struct future` are the same
 * address (poll and drop cast `self` back).
 *
 * The rule that makes wakers work: a future that returns POLL_PENDING must
 * first have arranged for `waker` (or a clone of it) to be woken when it can
 * make progress. Otherwise nobody will ever poll it again. */
struct future {
    /* Advance the future. On POLL_READY the result has been written to
       *output (when output is not NULL; NULL means "discard the result").
       Polling again after POLL_READY is a programming error. */
    enum poll_status (*poll)(struct future *self, struct waker *waker, void *output);
    /* Release the future and everything it owns; valid in any state. */
    void (*drop)(struct future *self);
};

#endif
