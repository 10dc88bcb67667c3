/* conditions.c: waits in the condition of if, else if and while. A while
 * whose condition waits becomes a for (;;) that waits, then tests; a
 * continue still goes back to the wait. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

coroutine int ready_int(int polls, int value);

coroutine int conditions(int n)
{
    int total = 0;
    if (ready_int(1, n).wait > 2)
        total += 1;
    else if (ready_int(2, n).wait == 2)
        total += 2;
    else
        total += 3;
    int i = 0;
    while (ready_int(1, i).wait < n) {
        i++;
        if (i == 2)
            continue;
        total += 10 * i;
    }
    while (i > 0 && ready_int(0, i).wait)
        i--;
    return total + i;
}

int main(void)
{
    for (int n = 1; n <= 4; n++) {
        int total = 0;
        RUN(conditions(n), total);
        printf("conditions(%d) = %d\n", n, total);
    }
    return 0;
}
