/* A parameter without a name: the frame could not keep it. */
#include "future.h"

coroutine int first(int, int b)
{
    return b;
}
