/* order.c: the parts of an expression are evaluated left to right. A call
 * left of a wait is made before the wait (its value kept in a field), a
 * call right of it after. C leaves this order unspecified, so the twin
 * (-DSEQUENTIAL) spells it out with temporaries. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

coroutine int ready_int(int polls, int value);

static int step(const char *what, int v)
{
    printf("  %s\n", what);
    return v;
}

coroutine int order(void)
{
    int total = 0;
#ifdef SEQUENTIAL
    {
        int a = step("left", 1);
        int b = step("middle", ready_int(1, 2));
        int c = step("right", 3);
        total = a + b + c;
    }
    printf("then\n");
    {
        int *place = &total;
        int v = ready_int(1, step("future", 10));
        *place += v + step("after", 100);
    }
#else
    total = step("left", 1) + step("middle", ready_int(1, 2).wait) + step("right", 3);
    printf("then\n");
    total += ready_int(1,step("future", 10)).wait + step("after", 100);
#endif
    return total;
}

int main(void)
{
    int total = 0;
    RUN(order(), total);
    printf("order() = %d\n", total);
    return 0;
}
