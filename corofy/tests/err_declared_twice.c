/* Two branches declare the same local with different types: corofy cannot
 * tell which one the rest of the block means. */
#include "future.h"

coroutine long twice(void)
{
#if 1
    int v = 5;
#else
    long v = 6;
#endif
    sleep_polls(1).wait;
    return v;
}
