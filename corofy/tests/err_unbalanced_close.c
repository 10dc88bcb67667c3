/* A closing brace too many. */
#include "future.h"

coroutine void closed_twice(void)
{
    sleep_polls(1).wait;
}
}
