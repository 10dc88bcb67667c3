/* The flavour line names a flavour corofy does not know. */
/* corofy: wakers */
#include "future.h"

coroutine void f(void)
{
}
