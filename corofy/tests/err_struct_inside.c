/* A struct defined inside a coroutine. */
#include "future.h"

coroutine void structured(void)
{
    struct point { int x, y; } p = {1, 2};
    sleep_polls(1).wait;
    (void) p;
}
