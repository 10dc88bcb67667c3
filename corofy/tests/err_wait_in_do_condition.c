/* A wait in the condition of a do-while loop. */
#include "future.h"

coroutine void again(void)
{
    do {
    } while (ready_int(1, 0).wait);
}
