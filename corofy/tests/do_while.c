/* do_while.c: a wait in the condition of do ... while. The loop becomes a
 * for (;;) whose condition comes last, after a label that each continue of
 * the body jumps to, as a continue of a do loop goes to its condition. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

coroutine int ready_int(int polls, int value);

coroutine int do_while(int n)
{
    int i = 0, total = 0;
    do {
        i++;
        if (i % 2 == 0)
            continue;
        total += i;
        for (int k = 0; k < 2; k++) {
            if (k == 0)
                continue; /* this loop's own continue */
            total += 100;
        }
    } while (ready_int(1, i).wait < n);
    return total;
}

int main(void)
{
    int total = 0;
    RUN(do_while(5), total);
    printf("do_while(5) = %d\n", total);
    return 0;
}
