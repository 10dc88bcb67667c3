/* The flavour comment must be on a line of its own. */
#include "future.h" /* corofy: waker */

coroutine void f(void)
{
}
