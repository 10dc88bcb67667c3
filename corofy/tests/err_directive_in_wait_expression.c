/* A preprocessor line in an expression that waits, outside the future it
 * waits for: corofy moves the parts of such an expression apart. */
#include "future.h"

coroutine int ready_int(int polls, int value);

coroutine int split(void)
{
    int x = ready_int(1, 1).wait
#if 1
            + 2
#endif
        ;
    return x;
}
