/* A typedef inside a coroutine. */
#include "future.h"

coroutine void typed(void)
{
    typedef int number;
    number n = ready_int(1, 1).wait;
    (void) n;
}
