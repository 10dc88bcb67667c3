/* A variable-length array that lives across a wait point. */
#include "future.h"

coroutine int fill(int n)
{
    int squares[n];
    int last = ready_int(1, n * n).wait;
    squares[n - 1] = last;
    return squares[n - 1];
}
