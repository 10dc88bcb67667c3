/* goto in a coroutine that has wait points. */
#include "future.h"

coroutine int retry(void)
{
    int tries = 0;
again:
    tries++;
    sleep_polls(1).wait;
    if (tries < 3)
        goto again;
    return tries;
}
