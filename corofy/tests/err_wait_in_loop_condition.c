/* A wait in a loop condition. */
#include "future.h"

coroutine void poll_until_done(void)
{
    while (ready_int(1, 0).wait) {
    }
}
