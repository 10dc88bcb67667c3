/* A function whose name corofy generates for a coroutine (job_poll for
 * coroutine job): a clear message, not a compiler error in the output. */
#include "future.h"

static int job_poll(void)
{
    return 1;
}

coroutine int job(void)
{
    sleep_polls(1).wait;
    return job_poll();
}
