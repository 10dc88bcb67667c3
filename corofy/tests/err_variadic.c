/* A coroutine with a variable number of arguments. */
#include "future.h"

coroutine int sum(int count, ...)
{
    return count;
}
