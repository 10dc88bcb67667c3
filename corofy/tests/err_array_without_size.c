/* An array whose size comes from its initialiser. */
#include "future.h"

coroutine void sized(void)
{
    int values[] = {1, 2, 3};
    sleep_polls(1).wait;
    (void) values;
}
