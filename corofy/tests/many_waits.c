/* many_waits.c: several wait points in a row, in all four shapes. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

coroutine int steps(void)
{
    printf("step 0\n");
    int a = ready_int(1, 10).wait;
    printf("step 1: a = %d\n", a);
    sleep_polls(3).wait;
    printf("step 2\n");
    a = ready_int(2, a + 5).wait;
    printf("step 3: a = %d\n", a);
    char *word = ready_str(1, "wait").wait;
    printf("step 4: %s\n", word);
    free(word);
    ready_int(0, 99).wait;
    printf("step 5\n");
    return ready_int(4, a * 2).wait;
}

int main(void)
{
    int result = 0;
    RUN(steps(), result);
    printf("result %d\n", result);
    return 0;
}
