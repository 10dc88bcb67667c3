/* errors.c: die(), die_usage(), check_pthread() and lesson_missing(), shared
 * by every program of the workbook; see errors.h. */
#include "errors.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "<program>: <message><suffix>\n" on stderr, after what stdout holds. */
static void report(const char *suffix, const char *format, va_list args)
{
    fflush(stdout); /* what the program printed so far comes first */
    flockfile(stderr);
    fprintf(stderr, "%s: ", program_invocation_short_name);
    vfprintf(stderr, format, args);
    fprintf(stderr, "%s\n", suffix);
    funlockfile(stderr);
}

void die(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    report("", format, args);
    va_end(args);
    exit(1);
}

void die_usage(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    report(" (try --help)", format, args);
    va_end(args);
    exit(2);
}

void check_pthread(int err, const char *what)
{
    if (err != 0)
        die("%s: %s", what, strerror(err));
}

void lesson_missing(const char *name)
{
    die("the lesson '%s' is not written yet", name);
}
