/* A case label must be a constant. */
#include "future.h"

coroutine int ready_int(int polls, int value);

coroutine int cases(int n)
{
    switch (n) {
    case ready_int(1, 1).wait:
        return 1;
    }
    return 0;
}
