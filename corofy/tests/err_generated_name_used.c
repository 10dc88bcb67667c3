/* A coroutine that calls a function it never declares, named like the one
 * corofy generates for it (job_poll for coroutine job). C would take it for
 * an implicitly declared function, and the generated job_poll would answer
 * the call: a clear message instead. */
#include "future.h"

coroutine int job(void)
{
    sleep_polls(1).wait;
    return job_poll();
}
