/* several.c: several coroutines in one file, awaiting each other; a
 * coroutine declared before it is defined; a static coroutine. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

/* Declared here, defined at the end: fib awaits it before its definition. */
coroutine int leaf_value(int n);

static coroutine int fib(int n)
{
    if (n < 2)
        return leaf_value(n).wait;
    int a = fib(n - 1).wait;
    int b = fib(n - 2).wait;
    return a + b;
}

coroutine void print_fibs(int count)
{
    for (int i = 0; i < count; i++) {
        int f = fib(i).wait;
        printf("fib(%d) = %d\n", i, f);
    }
}

coroutine int leaf_value(int n)
{
    return ready_int(n % 2, n).wait;
}

int main(void)
{
    RUN_VOID(print_fibs(8));
    return 0;
}
