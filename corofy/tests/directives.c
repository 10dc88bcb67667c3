/* directives.c: preprocessor lines between statements and inside them
 * (even first or last in a condition or an expression) keep lines of their
 * own in the output. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

#define EXTRA 1

coroutine int directives(int n)
{
    int total = 0;
#if EXTRA
    total = 100;
#endif
    for (int i = 0;
#if EXTRA
         i < n
#endif
         ; i++) {
        int x = ready_int(1,
#if EXTRA
                          i
#else
                          0
#endif
                          ).wait;
        total += x;
    }
    return total
#if EXTRA
        + 1
#endif
        ;
}

int main(void)
{
    int total = 0;
    RUN(directives(3), total);
    printf("directives(3) = %d\n", total);
    return 0;
}
