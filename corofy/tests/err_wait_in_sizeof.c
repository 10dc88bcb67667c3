/* sizeof does not evaluate its operand: a wait there would never happen. */
#include "future.h"

coroutine int size(void)
{
    return (int) sizeof(ready_int(1, 2).wait);
}
