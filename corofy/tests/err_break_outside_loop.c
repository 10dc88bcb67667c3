/* break outside a loop: in the poll function it would leave corofy's switch. */
#include "future.h"

coroutine void leave(void)
{
    sleep_polls(1).wait;
    break;
}
