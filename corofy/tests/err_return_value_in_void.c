/* return with a value in a void coroutine. */
#include "future.h"

coroutine void nothing(void)
{
    return 1;
}
