/* util.h: small helpers of chapter 1 (ch01-block-on) that are not the lesson:
 * the step-by-step trace the demo prints, fatal errors, sleeping.
 */
#ifndef UTIL_H
#define UTIL_H

#include <stdbool.h>

/* ===== Tracing ===== */

/* When false (the default), trace() prints nothing: the checks run millions of
 * polls and keep it off. The demo turns it on. Set it before starting threads. */
extern bool trace_enabled;

/* Name the calling thread in its trace lines ("main", "timer"). The string
 * must outlive the thread; threads that never call this are "thread". */
void trace_thread_name(const char *name);

/* Print one line to stdout: the thread's name, then the formatted text.
 * Lines from different threads never mix within a line. */
void trace(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* ===== Errors and time ===== */

/* Print "<program>: <message>" to stderr and exit(1). */
void die(const char *format, ...) __attribute__((format(printf, 1, 2), noreturn));

/* die() unless err (a pthread_* result) is 0. */
void check_pthread(int err, const char *what);

/* malloc that never returns NULL: it dies with a clear message instead. */
void *xmalloc(unsigned long size);

/* Sleep for `ms` milliseconds, even if signals interrupt the sleep. */
void sleep_ms(int ms);

/* Seconds on a monotonic clock, for measuring how long something took. */
double now_seconds(void);

#endif
