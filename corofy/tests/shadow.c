/* shadow.c: names that shadow each other keep their meaning; variables of
 * the same name and type in sibling blocks share a field. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

coroutine int shadow(int x)
{
    int state = 100;  /* a local named like a frame field of corofy's */
    printf("outer x = %d\n", x);
    {
        int x = ready_int(1, 5).wait;
        printf("inner x = %d\n", x);
        {
            long x = 7;
            sleep_polls(1).wait;
            printf("innermost x = %ld\n", x);
        }
        printf("inner x again = %d\n", x);
    }
    for (int i = 0; i < 2; i++)
        sleep_polls(1).wait;
    for (int i = 10; i < 12; i++) {
        int x = ready_int(0, i).wait;
        printf("loop x = %d\n", x);
    }
    for (unsigned i = 0; i < 1; i++)
        printf("unsigned i = %u\n", i);
    printf("outer x again = %d, state = %d\n", x, state);
    return x;
}

int main(void)
{
    int x = 0;
    RUN(shadow(1), x);
    printf("x %d\n", x);
    return 0;
}
