/* trace.c: the step-by-step trace of chapter 1 (ch01-block-on); see trace.h.
 * Nothing here is about futures.
 */
#include "trace.h"

#include <stdarg.h>
#include <stdio.h>

bool trace_enabled = false;

static _Thread_local const char *thread_name = "thread";

void trace_thread_name(const char *name)
{
    thread_name = name;
}

void trace(const char *format, ...)
{
    if (!trace_enabled)
        return;
    va_list args;
    va_start(args, format);
    flockfile(stdout); /* one whole line at a time, even with several threads */
    printf("%-6s ", thread_name);
    vprintf(format, args);
    putchar('\n');
    funlockfile(stdout);
    va_end(args);
}
