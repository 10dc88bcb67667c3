/* .wait with nothing to wait for. */
#include "future.h"

coroutine void empty(void)
{
    .wait;
}
