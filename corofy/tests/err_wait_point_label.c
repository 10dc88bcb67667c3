/* A label of the coroutine's own has the name corofy needs for a wait point
 * inside a switch of its own. */
#include "future.h"

coroutine int ready_int(int polls, int value);

coroutine int f(int n)
{
    switch (n) {
    case 1:
        n += ready_int(1, 2).wait;
    wait_point_1:
        break;
    }
    return n;
}
