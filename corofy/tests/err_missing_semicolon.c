/* The ';' after a wait is missing, and another statement follows. */
#include "future.h"

coroutine int missing(void)
{
    int v = 0;
    v = ready_int(1, 2).wait
    v++;
    return v;
}
