/* util.c: tracing, fatal errors and sleeping for chapter 1 (ch01-block-on).
 * Nothing here is about futures; see util.h.
 */
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ===== Tracing ===== */

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

/* ===== Errors and time ===== */

void die(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fprintf(stderr, "%s: ", program_invocation_short_name);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    exit(1);
}

void check_pthread(int err, const char *what)
{
    if (err != 0)
        die("%s: %s", what, strerror(err));
}

void *xmalloc(unsigned long size)
{
    void *p = malloc(size);
    if (p == NULL)
        die("out of memory (%lu bytes)", size);
    return p;
}

void sleep_ms(int ms)
{
    struct timespec left = {ms / 1000, (long) (ms % 1000) * 1000000};
    while (nanosleep(&left, &left) == -1 && errno == EINTR)
        ; /* a signal cut the sleep short: sleep for what is left */
}

double now_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double) now.tv_sec + (double) now.tv_nsec / 1e9;
}
