/* switches.c: a wait in the expression of a switch, and waits inside the
 * cases of one. Their case labels would belong to that switch, so these
 * wait points resume through a goto from a case at the top of the poll
 * function. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

coroutine int ready_int(int polls, int value);

coroutine int switches(int n)
{
    int total = 0;
    switch (ready_int(1, n).wait) {
    case 1:
        total += ready_int(2, 10).wait;
        break;
    case 2: {
        int v = ready_int(1, 20).wait;
        total += v;
    } /* fall through */
    case 3:
        for (int i = 0; i < 2; i++) {
            total += ready_int(1, 30).wait;
            if (i == 0)
                continue;
        }
        break;
    default:
        total = -1;
    }
    return total;
}

int main(void)
{
    for (int n = 1; n <= 4; n++) {
        int total = 0;
        RUN(switches(n), total);
        printf("switches(%d) = %d\n", n, total);
    }
    return 0;
}
