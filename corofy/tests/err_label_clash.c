/* A label of the coroutine's own has the name corofy needs for one of its
 * labels (where a continue of the do loop on line 10 goes). */
#include "future.h"

coroutine int ready_int(int polls, int value);

coroutine int clash(void)
{
    int i = 0;
    do {
        if (++i == 2)
            continue;
    continue_10_5:
        i += 0;
    } while (ready_int(1, i).wait < 3);
    return i;
}
