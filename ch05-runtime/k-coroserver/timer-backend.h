/* timer-backend.h: what timer.c and the two backends (timer-fd.c,
 * timer-heap.c) share; not part of the interface (that is timer.h).
 * Introduced in ch05-runtime step e. */
#ifndef TIMER_BACKEND_H
#define TIMER_BACKEND_H

#include <stdint.h>
#include <time.h>

#include "future.h"

#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull

/* ===== Shared by both backends (timer.c) ===== */

/* Report a failed sleep ("<program>: <what>: <strerror(err)>"); only the
 * first one in the program prints. */
void timer_report(const char *what, int err);

/* Complete a sleep: write `result` (0 or -errno) to *output, if any, and
 * return POLL_READY. */
enum poll_status timer_finish(void *output, int result);

/* A CLOCK_MONOTONIC time in nanoseconds as a struct timespec. */
struct timespec timer_timespec(uint64_t ns);

/* ===== Backend 1: one timerfd per sleep (timer-fd.c) ===== */

struct future *timer_fd_sleep(uint64_t deadline_ns);

/* ===== Backend 2: one heap, one timerfd (timer-heap.c) ===== */

/* Create the shared timerfd and register it with the reactor. 0 or -errno. */
int timer_heap_start(void);

/* Deregister and close it; no sleep may be pending (assert). */
void timer_heap_stop(void);

struct future *timer_heap_sleep(uint64_t deadline_ns);

#endif
