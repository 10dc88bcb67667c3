/* A file-scope name that the generated code uses for itself. */
#include "future.h"

static int output;

coroutine void uses_output(void)
{
    output = ready_int(1, 1).wait;
}
