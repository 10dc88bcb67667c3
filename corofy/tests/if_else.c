/* if_else.c: wait points in if and else branches, braced or not, nested. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

coroutine int choose(int n)
{
    int got = 0;

    if (n > 2) {
        got = ready_int(1, n * 10).wait;
    } else if (n == 2)
        got = ready_int(2, 200).wait;
    else {
        if (n == 1) {
            int inner = ready_int(1, 7).wait;
            got = inner + 1;
        } else {
            sleep_polls(2).wait;
            got = -1;
        }
    }
    if (got > 100)
        printf("big %d\n", got);
    else
        printf("small %d\n", got);
    if (n == 3)
        sleep_polls(1).wait;
    return got;
}

coroutine void all_choices(void)
{
    for (int n = 0; n < 5; n++) {
        int r = choose(n).wait;
        printf("choose(%d) = %d\n", n, r);
    }
}

int main(void)
{
    RUN_VOID(all_choices());
    return 0;
}
