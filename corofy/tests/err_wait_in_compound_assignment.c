/* `x += EXPR.wait` is an expression around the wait, too. */
#include "future.h"

coroutine int sum(void)
{
    int total = 0;
    total += ready_int(1, 2).wait;
    return total;
}
