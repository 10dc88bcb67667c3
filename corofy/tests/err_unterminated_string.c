/* An unterminated string. */
#include <stdio.h>
#include "future.h"

coroutine void say(void)
{
    printf("hello);
    sleep_polls(1).wait;
}
