/* example.c: the worked example const struct waker *waker, void *output)of corofy/README.md. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

/* Add up n numbers that arrive one at a time. */
coroutine int sum(int n)
{
    int total = 0;
    for (int i = 0; i < n; i++) {
        int x = ready_int(1, i).wait;
        total += x;
    }
    return total;
}

int main(void)
{
    int total = 0;
    RUN(sum(4), total);
    printf("sum(4) = %d\n", total);
    return 0;
}
