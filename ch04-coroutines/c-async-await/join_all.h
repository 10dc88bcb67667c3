/* join_all.h: one future that waits for many (ch04-coroutines step c). */
#ifndef JOIN_ALL_H
#define JOIN_ALL_H

#include <stddef.h>

#include "future.h"

/* Return a future that is ready once every one of futures[0] ..
 * futures[count - 1] is ready. Each poll polls, in array order, every future
 * that is not ready yet, so they all make progress within the same poll:
 * this is what makes them run concurrently on one thread.
 *
 * join_all takes ownership of the futures (it drops each one as soon as it
 * is ready, and the rest when it is dropped itself) but not of the array,
 * which it copies: the caller may reuse or free the array at once. The
 * futures' own outputs are discarded (they are polled with a NULL output),
 * and join_all's output is nothing: poll it with NULL. */
struct future *join_all(struct future **futures, size_t count);

#endif
