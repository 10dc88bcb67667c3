/* An unterminated character constant. */
#include "future.h"

coroutine int letter(void)
{
    return 'a;
}
