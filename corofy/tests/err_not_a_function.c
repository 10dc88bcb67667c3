/* `coroutine` must come before a function. */
#include "future.h"

coroutine int counter;
