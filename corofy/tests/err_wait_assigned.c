/* The value of a wait is not a variable: nothing can be assigned to it. */
#include "future.h"

coroutine int ready_int(int polls, int value);

coroutine int assigned(void)
{
    ready_int(1, 2).wait = 3;
    return 0;
}
