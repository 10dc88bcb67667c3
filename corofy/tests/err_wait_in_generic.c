/* Only one branch of _Generic is evaluated, and corofy cannot tell which. */
#include "future.h"

coroutine int ready_int(int polls, int value);

coroutine int generic(int n)
{
    return _Generic(n, int: ready_int(1, 1).wait, default: 0);
}
