/* A preprocessor line inside the future of a wait, where that future waits
 * itself: corofy moves the parts of the future apart (the call to pick()
 * comes before the inner wait), so the line cannot stay where it was. */
#include "future.h"

coroutine int ready_int(int polls, int value);

static int pick(int a, int b)
{
    return a + b;
}

coroutine int nested(void)
{
    int x = ready_int(pick(1,
#if 1
                           2
#endif
                           ),
                      ready_int(1, 3).wait)
                .wait;
    return x;
}
