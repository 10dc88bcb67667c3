/* clock.h: reading the monotonic clock and sleeping the thread. Not a
 * lesson: every measurement in the workbook uses these, so "elapsed" means
 * the same everywhere (CLOCK_MONOTONIC: it never jumps when the wall clock
 * is set). */
#ifndef COMMON_CLOCK_H
#define COMMON_CLOCK_H

#include <stdint.h>

uint64_t now_ns(void);    /* nanoseconds since some fixed moment (boot) */
double now_seconds(void); /* the same, in seconds */

/* Block the calling thread for `ms` milliseconds, even if signals interrupt
 * the sleep. This is the thread-blocking sleep of ch01; a runtime's sleep
 * that lets other tasks run is a future of its own (ch05 e-timers). */
void sleep_blocking_ms(unsigned ms);

#endif
