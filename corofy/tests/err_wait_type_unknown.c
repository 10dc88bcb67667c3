/* A wait whose value is kept while the expression goes on, for a future
 * whose type corofy cannot know (ready_int is not declared a coroutine). */
#include "future.h"

coroutine int unknown(void)
{
    int x = 1 + ready_int(1, 2).wait;
    return x;
}
