/* A parenthesis closed by a brace. */
#include "future.h"

coroutine void mismatched(void)
{
    sleep_polls(1.wait;
}
