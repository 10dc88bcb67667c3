/* trace.h: the step-by-step trace of chapter 1 (ch01-block-on). The demo's
 * output is this trace: every poll, park and wake says what it does, one
 * line each, so the order of events can be followed by eye.
 */
#ifndef TRACE_H
#define TRACE_H

#include <stdbool.h>

/* When false (the default), trace() prints nothing: the checks run millions of
 * polls and keep it off. The demo turns it on. Set it before starting threads. */
extern bool trace_enabled;

/* Name the calling thread in its trace lines ("main", "timer"). The string
 * must outlive the thread; threads that never call this are "thread". */
void trace_thread_name(const char *name);

/* Print one line to stdout: the thread's name, then the formatted text.
 * Lines from different threads never mix within a line. */
void trace(const char *format, ...) __attribute__((format(printf, 1, 2)));

#endif
