/* A '#' that is not the first thing on its line starts no preprocessor
 * line (here a #define written after a statement): corofy puts what follows
 * the wait on a line of its own, where the compiler would read one. */
#include "future.h"

coroutine int ready_int(int polls, int value);

coroutine int stray(void)
{
    int v = ready_int(1, 1).wait; #define TWICE(x) ((x) * 2)
    return v;
}
