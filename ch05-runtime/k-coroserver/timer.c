/* timer.c: the interface of timer.h: choose a backend, hand each sleep to
 * it, and what the backends share (reporting a failure, completing a
 * sleep). Introduced in ch05-runtime step e; the backends are timer-fd.c
 * and timer-heap.c. */
#include "timer.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "../../common/clock.h"
#include "timer-backend.h"

static enum timer_backend backend = TIMER_FD; /* written by timer_start() only */
static atomic_bool failed;

/* ===== Shared by both backends ===== */

void timer_report(const char *what, int err)
{
    if (!atomic_exchange(&failed, true))
        fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what, strerror(err));
}

enum poll_status timer_finish(void *output, int result)
{
    if (output != NULL)
        *(int *) output = result;
    return POLL_READY;
}

struct timespec timer_timespec(uint64_t ns)
{
    return (struct timespec){.tv_sec = (time_t) (ns / NS_PER_S), .tv_nsec = (long) (ns % NS_PER_S)};
}

/* ===== The interface ===== */

int timer_start(enum timer_backend which)
{
    backend = which;
    return which == TIMER_HEAP ? timer_heap_start() : 0;
}

void timer_stop(void)
{
    if (backend == TIMER_HEAP)
        timer_heap_stop();
}

const char *timer_backend_name(void)
{
    return backend == TIMER_FD ? "timerfd" : "heap";
}

bool timer_failed(void)
{
    return atomic_load(&failed);
}

struct future *timer_sleep_until(uint64_t deadline_ns)
{
    return backend == TIMER_FD ? timer_fd_sleep(deadline_ns) : timer_heap_sleep(deadline_ns);
}

struct future *timer_sleep_ms(unsigned ms)
{
    return timer_sleep_until(now_ns() + ms * NS_PER_MS);
}
