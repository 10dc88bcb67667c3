/* An unterminated comment. */
#include "future.h"

coroutine void commented(void)
{
    /* this comment never ends
    sleep_polls(1).wait;
}
