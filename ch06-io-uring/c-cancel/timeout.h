/* timeout.h: with_timeout(), a future that waits for another one, but not
 * for longer than a given time, and then drops it, whatever it is doing.
 * Introduced in ch06-io-uring step c, where that drop is the subject: the
 * future dropped may have an operation in flight (reactor.h, "Ownership"). */
#ifndef TIMEOUT_H
#define TIMEOUT_H

#include "future.h"

/* A future that polls `inner` until it is ready or `ms` milliseconds have
 * passed since its own first poll, whichever comes first. Takes ownership
 * of `inner`.
 *
 * Its output is a bool: true if `inner` finished in time, and then wrote its
 * output to `inner_output` (which must stay valid until this future is
 * ready, and may be NULL to discard it); false if the time ran out first:
 * `inner` has then been dropped, and wrote nothing.
 *
 * The time is kept by the kernel: an IORING_OP_TIMEOUT, in flight from the
 * first poll until it fires, or until this future is dropped, which hands
 * it to the reactor (reactor_abandon). */
struct future *with_timeout(struct future *inner, unsigned ms, void *inner_output);

#endif
