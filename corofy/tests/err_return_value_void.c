/* A void coroutine may return a wait (whose value it throws away), but
 * not a value computed from one. */
#include "future.h"

coroutine int ready_int(int polls, int value);

coroutine void give(void)
{
    return ready_int(1, 2).wait + 1;
}
