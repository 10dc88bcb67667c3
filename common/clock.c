/* clock.c: the monotonic clock and a blocking sleep, shared by every program
 * of the workbook; see clock.h. */
#include "clock.h"

#include <errno.h>
#include <time.h>

uint64_t now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t) now.tv_sec * 1000000000u + (uint64_t) now.tv_nsec;
}

double now_seconds(void)
{
    return (double) now_ns() / 1e9;
}

void sleep_blocking_ms(unsigned ms)
{
    struct timespec left = {(time_t) (ms / 1000), (long) (ms % 1000) * 1000000};
    while (nanosleep(&left, &left) == -1 && errno == EINTR)
        ; /* a signal cut the sleep short: sleep for what is left */
}
