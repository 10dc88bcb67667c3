/* goto_labels.c: goto and labels in a coroutine with wait points: a jump
 * backwards over a wait, and forwards out of a loop that waits. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

coroutine int ready_int(int polls, int value);

coroutine int goto_labels(int n)
{
    int tries = 0, total = 0;
again:
    tries++;
    total += ready_int(1, tries).wait;
    if (tries < n)
        goto again;
    for (int i = 0;; i++) {
        if (ready_int(1, i).wait == 3)
            goto done;
        total += 100;
    }
done:
    return total;
}

int main(void)
{
    int total = 0;
    RUN(goto_labels(3), total);
    printf("goto_labels(3) = %d\n", total);
    return 0;
}
