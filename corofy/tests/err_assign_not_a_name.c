/* The destination of a wait must be a plain variable name. */
#include "future.h"

coroutine void store(int *slots)
{
    slots[0] = ready_int(1, 5).wait;
}
