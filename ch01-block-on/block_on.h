/* block_on.h: run one future to completion on the calling thread
 * (chapter 1, ch01-block-on).
 */
#ifndef BLOCK_ON_H
#define BLOCK_ON_H

#include "future.h"

/* Poll `future` until it returns POLL_READY, sleeping in between.
 *
 * Each call makes its own parker (a mutex, a condition variable and a
 * "notified" flag) and hands the future wakers that point at it. After a
 * POLL_PENDING the calling thread sleeps until one of those wakers is woken,
 * from any thread, then polls again. A wake-up that arrives before the thread
 * goes to sleep is not lost: the flag remembers it.
 *
 * The parker is reference counted: block_on holds one reference and every
 * waker clone one more, so a clone may outlive block_on (and be woken or
 * dropped later, harmlessly); the last reference frees the parker.
 *
 * The caller keeps ownership of `future`; block_on never frees it, and never
 * polls it again after POLL_READY. */
void block_on(struct future *future);

/* How many parkers exist right now (made by block_on, not yet freed by their
 * last reference). The checks use it to prove that nothing is freed too early
 * or never. */
long block_on_parkers_alive(void);

#endif
