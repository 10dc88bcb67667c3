/* one_wait.c: the smallest coroutine with a wait point. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

/* Wait for a number, then add to it. */
coroutine int add_later(int a, int b)
{
    int x = ready_int(2, a).wait;
    printf("got %d\n", x);
    return x + b;
}

int main(void)
{
    int sum = 0;
    RUN(add_later(40, 2), sum);
    printf("sum %d\n", sum);
    return 0;
}
