/* waker.c: the waker_* calls of the workbook, introduced in chapter 1
 * (ch01-block-on); ch05-runtime carries this file over unchanged. A waker's
 * vtable does the real work; these functions only check that a consumed
 * waker is never used again.
 */
#include "waker.h"

#include <assert.h>
#include <stddef.h>

/* ===== Wakers ===== */

struct waker waker_clone(const struct waker *waker)
{
    assert(waker->vtable != NULL && "waker_clone: this waker was already consumed");
    return waker->vtable->clone(waker->data);
}

void waker_wake(struct waker *waker)
{
    assert(waker->vtable != NULL && "waker_wake: this waker was already consumed");
    struct waker consumed = *waker;
    *waker = (struct waker){NULL, NULL};
    consumed.vtable->wake(consumed.data);
}

void waker_wake_by_ref(const struct waker *waker)
{
    assert(waker->vtable != NULL && "waker_wake_by_ref: this waker was already consumed");
    waker->vtable->wake_by_ref(waker->data);
}

void waker_drop(struct waker *waker)
{
    assert(waker->vtable != NULL && "waker_drop: this waker was already consumed");
    struct waker consumed = *waker;
    *waker = (struct waker){NULL, NULL};
    consumed.vtable->drop(consumed.data);
}

bool waker_will_wake(const struct waker *a, const struct waker *b)
{
    return a->vtable == b->vtable && a->data == b->data;
}
