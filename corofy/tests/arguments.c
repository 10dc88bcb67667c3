/* arguments.c: waits as the arguments of a call, several in one call, and
 * a call whose argument waits made before a wait to its right. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

coroutine int ready_int(int polls, int value);

static int add3(int a, int b, int c)
{
    return a + 10 * b + 100 * c;
}

coroutine int arguments(int n)
{
    printf("%d and %d\n", ready_int(1, n).wait, ready_int(2, n + 1).wait);
    int v = add3(ready_int(1, 1).wait, n, ready_int(1, 3).wait);
    v += add3(add3(ready_int(1, 1).wait, 0, 0), ready_int(2, 2).wait, 0);
    return v;
}

int main(void)
{
    int total = 0;
    RUN(arguments(7), total);
    printf("arguments(7) = %d\n", total);
    return 0;
}
