/* A wait inside a switch: its case label would mix with corofy's own. */
#include "future.h"

coroutine int pick(int n)
{
    switch (n) {
    case 1:
        return ready_int(1, 10).wait;
    default:
        return 0;
    }
}
