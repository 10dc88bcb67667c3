/* waker.c: the ch05 flavour: poll takes a waker and passes it down. */
/* corofy: waker */
#include <stdio.h>
#include <stdlib.h>

#define FUTURE_WAKER
#include "future.h"

coroutine int twice(int x)
{
    int a = ready_int(2, x).wait;
    int b = ready_int(1, a * 2).wait;
    return b;
}

/* No wait point: the waker is not needed. */
coroutine void hello(void)
{
    printf("hello\n");
}

coroutine void waker_main(void)
{
    hello().wait;
    for (int i = 0; i < 3; i++) {
        int t = twice(i).wait;
        printf("twice(%d) = %d\n", i, t);
    }
}

int main(void)
{
    RUN_VOID(waker_main());
    return 0;
}
