/* A brace that is never closed. */
#include "future.h"

coroutine void open_forever(void)
{
    if (1) {
        sleep_polls(1).wait;
}
