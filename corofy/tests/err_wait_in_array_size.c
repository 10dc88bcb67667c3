/* A frame field needs a size known before the coroutine runs. */
#include "future.h"

coroutine int ready_int(int polls, int value);

coroutine int sized(void)
{
    int v[ready_int(1, 2).wait];
    v[0] = 1;
    return v[0];
}
