/* A wait inside the future expression of another wait. */
#include "future.h"

coroutine void twice(void)
{
    chain(ready_int(1, 2).wait).wait;
}
