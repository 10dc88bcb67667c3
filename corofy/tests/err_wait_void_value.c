/* A wait for a void coroutine gives no value to use. */
#include "future.h"

coroutine void nothing(void);

coroutine int use_nothing(void)
{
    int x = 1 + nothing().wait;
    return x;
}
