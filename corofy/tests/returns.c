/* returns.c: return with any expression that waits, of a coroutine's type
 * or converted to it, and a wait returned from a void coroutine. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

coroutine int ready_int(int polls, int value);

coroutine long widen(int n)
{
    return ready_int(1, n).wait; /* an int, converted to long */
}

coroutine void nothing(void)
{
    return sleep_polls(1).wait;
}

coroutine int returns(int n)
{
    nothing().wait;
    if (n > 10)
        return ready_int(1, n).wait * 2 + 1;
    long w = widen(n).wait;
    return (int) w + ready_int(2, 100).wait;
}

int main(void)
{
    int a = 0, b = 0;
    RUN(returns(20), a);
    RUN(returns(3), b);
    printf("returns(20) = %d, returns(3) = %d\n", a, b);
    return 0;
}
