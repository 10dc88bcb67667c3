/* waker.h: the waker of the whole workbook, introduced in chapter 1
 * (ch01-block-on). ch05-runtime carries this file over unchanged: its
 * executors make other kinds of wakers, with the same layout and the same
 * ownership rule.
 *
 * The shape follows Rust's std::task::Waker (a RawWaker: a data pointer and
 * a vtable of four functions that receive it).
 */
#ifndef WAKER_H
#define WAKER_H

#include <stdbool.h>

/* ===== Wakers ===== */

struct waker;

/* The four operations every kind of waker provides. Each receives the waker's
 * data pointer. Each executor supplies one vtable for the wakers it makes
 * (ch01: block_on.c; ch05: every executor); futures never call these
 * directly but go through the waker_* functions below. */
struct waker_vtable {
    struct waker (*clone)(void *data); /* a new waker for the same task: one more reference */
    void (*wake)(void *data);          /* wake the task, then release this reference */
    void (*wake_by_ref)(void *data);   /* wake the task; the reference stays */
    void (*drop)(void *data);          /* release this reference without waking */
};

/* A waker is a counted reference to "the task that is waiting". Whoever holds
 * a struct waker value owns one reference and must end it exactly once, with
 * waker_wake() or waker_drop(). waker_clone() makes another reference, with
 * its own obligation to be ended. A waker may be woken from any thread. */
struct waker {
    void *data; /* what the vtable operates on (ch01: a parker; ch05: a task) */
    const struct waker_vtable *vtable; /* NULL once the waker has been consumed */
};

/* Return a new reference to the same task. */
struct waker waker_clone(const struct waker *waker);

/* Wake the task and release the reference. This consumes *waker: it is
 * cleared, and using it again fails an assert instead of freeing twice. */
void waker_wake(struct waker *waker);

/* Wake the task and keep the reference: *waker stays valid. */
void waker_wake_by_ref(const struct waker *waker);

/* Release the reference without waking. Consumes and clears *waker. */
void waker_drop(struct waker *waker);

/* Would waking `a` wake the same task as waking `b`? Then a future that
 * already keeps a clone of `a` need not replace it with a clone of `b`. */
bool waker_will_wake(const struct waker *a, const struct waker *b);

#endif
