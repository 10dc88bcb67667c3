/* race.h: two combinators. race(): the first of two futures to finish
 * wins, and the other is dropped, which cancels it; timeout_at(): a race
 * against a timer. Introduced in ch05-runtime step k (step i raced a fixed
 * set of children that lived in the caller's frame; these race futures on
 * the heap, and own them). */
#ifndef RACE_H
#define RACE_H

#include <stdint.h>

#include "future.h"

/* A future that polls `a`, then `b`, with its own waker (all three belong
 * to one task), until one of them is ready. The winner's output goes to
 * a_out or b_out (either may be NULL, and must stay valid until the race
 * is done); the other future is dropped at once, before the race returns:
 * a timer it set is cancelled, a registration it held is gone. The race's
 * output is an int: 0 if `a` won, 1 if `b` did. When `a` is ready at the
 * first poll, `b` is dropped without ever being polled, and futures are
 * lazy: a timer `b` would have set is never set. The race owns both from
 * now on; dropping it early drops both. */
struct future *race(struct future *a, void *a_out, struct future *b, void *b_out);

/* A future for `inner`, whose output must be a ssize_t (a count or -errno,
 * as tcp.h's futures produce): its output is inner's, or -ETIMEDOUT if
 * now_ns() reaches deadline_ns first, and then inner has been dropped:
 * cancelled. A race against timer_sleep_until(deadline_ns), whose timer is
 * only set up if inner is pending at its first poll. Owns inner. */
struct future *timeout_at(struct future *inner, uint64_t deadline_ns);

#endif
