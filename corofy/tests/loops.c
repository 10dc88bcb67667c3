/* loops.c: wait points inside every kind of loop, nested. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

coroutine int loops(int n)
{
    int total = 0;

    for (int i = 0; i < n; i++) {
        int v = ready_int(i % 3, i).wait;
        total += v;
        int j = 0;
        while (j < i) {
            sleep_polls(1).wait;
            j++;
            if (j == 2)
                continue;
            do {
                int got = ready_int(1, j).wait;
                total += got;
            } while (0);
        }
    }
    for (int i = 0; i < 2; i++)
        total = ready_int(1, total * 2).wait;
    int k = 3;
    do
        k = ready_int(0, k - 1).wait;
    while (k > 0);
    printf("loops: total %d\n", total);
    return total;
}

int main(void)
{
    int total = 0;
    RUN(loops(5), total);
    printf("total %d\n", total);
    return 0;
}
