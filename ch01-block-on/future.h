/* future.h: the future of chapter 1 (ch01-block-on).
 *
 * The shape follows Rust's std::future::Future: a future is polled with a
 * context, and the context carries a waker (waker.h) that the future uses to
 * say "poll me again, I can make progress now".
 */
#ifndef FUTURE_H
#define FUTURE_H

#include <stdbool.h>

#include "waker.h"

/* ===== Poll results ===== */

enum poll_status {
    POLL_PENDING, /* not finished; the future has arranged for its waker to be woken */
    POLL_READY,   /* finished; the future must never be polled again */
};

/* ===== Futures ===== */

/* What poll receives besides the future itself. */
struct context {
    const struct waker *waker; /* borrowed: valid only until poll returns */
};

struct future;

/* Advance the future as far as it can go without blocking.
 *
 * Return POLL_READY when it has finished. Return POLL_PENDING only after
 * arranging for cx->waker to be woken once progress is possible (hand a clone
 * to whoever will make the progress, or wake it at once); a future that
 * returns POLL_PENDING without that sleeps forever. Poll may be called when
 * nothing has changed (a spurious poll); it must then return POLL_PENDING
 * again without arranging a second wake-up for the same event. */
typedef enum poll_status (*poll_fn)(struct future *self, struct context *cx);

/* The part every future starts with. A concrete future embeds it as its first
 * member, so a pointer to the concrete future is also a struct future *. The
 * caller owns the future; nothing here frees it. */
struct future {
    poll_fn poll;     /* this future's step; call it only through future_poll() */
    const char *name; /* shown in traces and in the poll-after-ready message */
    bool finished;    /* set by future_poll() when poll returned POLL_READY */
};

/* An initializer for the struct future at the start of a concrete future:
 * `struct timer_future t = {.base = FUTURE_INIT(timer_poll, "timer")};` */
/* clang-format off */
#define FUTURE_INIT(poll_function, future_name) { (poll_function), (future_name), false }
/* clang-format on */

/* Poll `future` once. Polling a future again after it returned POLL_READY is
 * a programming error: future_poll() prints one line naming the future and
 * aborts instead of letting it run its finished code a second time. */
enum poll_status future_poll(struct future *future, struct context *cx);

#endif
