/* return without a value in a coroutine that produces an int. */
#include "future.h"

coroutine int something(void)
{
    sleep_polls(1).wait;
    return;
}
