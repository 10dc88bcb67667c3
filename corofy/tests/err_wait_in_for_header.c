/* A wait in a for header. */
#include "future.h"

coroutine void count(void)
{
    for (int i = ready_int(1, 0).wait; i < 3; i++) {
    }
}
