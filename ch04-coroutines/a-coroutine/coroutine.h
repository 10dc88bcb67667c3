/* coroutine.h: the coroutine of ch04-coroutines step a. */
#ifndef COROUTINE_H
#define COROUTINE_H

#include "future.h"

/* Create the coroutine: it prints "Program starting", then fetches two
 * messages from the delay server one after the other and prints each
 * response. Like every future in this chapter it is lazy: nothing of its body
 * runs until the first poll. It produces no value: poll it with a NULL
 * output. Whoever holds it drops it. */
struct future *async_main(void);

#endif
