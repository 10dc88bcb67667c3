/* A declaration as the body of an if. */
#include "future.h"

coroutine void declared(int n)
{
    if (n)
        int x = ready_int(1, n).wait;
}
