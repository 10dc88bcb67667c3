/* A wait in an if condition. */
#include "future.h"

coroutine void check(void)
{
    if (ready_int(1, 1).wait)
        return;
}
