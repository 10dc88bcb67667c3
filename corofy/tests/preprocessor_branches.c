/* preprocessor_branches.c: #if and #else branches that declare the same
 * local are one variable to corofy (one frame field), whichever branch the
 * compiler keeps: the rest of the block means that variable. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

#define FAST 1

coroutine int branches(int n)
{
#if FAST
    int v = ready_int(1, n).wait;
#else
    int v = ready_int(5, n).wait;
#endif
    v += 1;
    return v;
}

int main(void)
{
    int total = 0;
    RUN(branches(41), total);
    printf("branches(41) = %d\n", total);
    return 0;
}
