/* A case label with no switch of the student's around it. */
#include "future.h"

coroutine void stray(void)
{
    sleep_polls(1).wait;
case 1:
    return;
}
