/* A wait nested inside a larger expression. */
#include "future.h"

coroutine int sum(void)
{
    int total = 1 + ready_int(1, 2).wait;
    return total;
}
