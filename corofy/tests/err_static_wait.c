/* A static local initialised by a wait. */
#include "future.h"

coroutine int remembered(void)
{
    static int seen = ready_int(1, 1).wait;
    return seen;
}
