/* no_wait.c: coroutines without a wait point still become futures: lazy,
 * ready at the first poll. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

coroutine int square(int n)
{
    printf("square(%d) runs only when polled\n", n);
    return n * n;
}

coroutine void say(const char *what)
{
    printf("%s\n", what);
}

int main(void)
{
    int nine = 0;
    printf("before polling\n");
    RUN(square(3), nine);
    printf("square(3) = %d\n", nine);
    RUN_VOID(say("said"));
    return 0;
}
