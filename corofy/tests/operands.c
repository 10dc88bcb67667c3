/* operands.c: waits as operands: several in one expression, under unary
 * operators and casts, as the value of a member access, nested (a wait
 * whose future is made from another wait's value), and in a comma. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

coroutine int ready_int(int polls, int value);
coroutine struct pair ready_pair(int polls, int x, int y);

coroutine int twice(int n)
{
    return 2 * ready_int(1, n).wait;
}

coroutine long operands(int n)
{
    int a = ready_int(1, n).wait + ready_int(2, 3).wait * 2;
    int b = -ready_int(1, 4).wait + !ready_int(0, 0).wait + ~ready_int(1, 0).wait;
    long c = (long) ready_int(1, 1000).wait * 1000000;
    int d = ready_pair(1, 5, 6).wait.y;
    int e = twice(twice(ready_int(1, 3).wait).wait).wait;
    int f = (ready_int(1, 1).wait, ready_int(1, 2).wait);
    (void) ready_int(1, 99).wait;
    printf("a %d, b %d, c %ld, d %d, e %d, f %d\n", a, b, c, d, e, f);
    return a + b + c + d + e + f;
}

int main(void)
{
    long total = 0;
    RUN(operands(2), total);
    printf("operands(2) = %ld\n", total);
    return 0;
}
