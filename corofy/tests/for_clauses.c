/* for_clauses.c: waits in each of the three parts of a for header: the
 * declaration, the condition and the step. The step that waits moves to
 * the end of the body, after a label each continue jumps to. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

coroutine int ready_int(int polls, int value);

coroutine int for_clauses(int n)
{
    int total = 0, j;
    for (int i = ready_int(1, 1).wait; i < n; i++)
        total += i;
    for (j = 0; j < ready_int(2, n).wait; j += 2)
        total += 10 * j;
    for (int k = 0; k < n; k += ready_int(1, 1).wait) {
        if (k == 1)
            continue;
        total += 100 * k;
    }
    for (j = ready_int(1, 0).wait; ready_int(1, j).wait < 3; j = j + ready_int(1, 1).wait)
        total += 1000;
    return total;
}

int main(void)
{
    int total = 0;
    RUN(for_clauses(4), total);
    printf("for_clauses(4) = %d\n", total);
    return 0;
}
