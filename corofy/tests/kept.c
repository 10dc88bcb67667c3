/* kept.c: what stays a real local of the poll function: static locals,
 * function declarations, and a variable-length array that no wait follows. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

int helper(int v);

coroutine int kept(int n)
{
    static int polls_started;
    int helper(int);
    _Static_assert(sizeof(int) >= 2, "int too small");

    polls_started++;
    int sum = ready_int(1, n).wait;
    {
        int squares[n];  /* variable length, but no wait follows in its block */
        for (int i = 0; i < n; i++)
            squares[i] = i * i;
        for (int i = 0; i < n; i++)
            sum += squares[i];
    }
    return helper(sum) + polls_started;
}

int helper(int v)
{
    return v + 1000;
}

int main(void)
{
    int out = 0;
    RUN(kept(4), out);
    printf("%d\n", out);
    return 0;
}
