/* .wait in a function that is not a coroutine. */
#include "future.h"

int not_a_coroutine(void)
{
    return ready_int(1, 1).wait;
}
