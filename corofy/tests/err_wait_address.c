/* The value of a wait is not a variable: it has no address. */
#include "future.h"

coroutine int ready_int(int polls, int value);

coroutine int address(void)
{
    int *p = &ready_int(1, 2).wait;
    return *p;
}
