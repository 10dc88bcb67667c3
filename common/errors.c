/* errors.c: die() and check_pthread(), shared by every program of the
 * workbook; see errors.h. */
#include "errors.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void die(const char *format, ...)
{
    va_list args;

    fflush(stdout); /* what the program printed so far comes first */
    flockfile(stderr);
    fprintf(stderr, "%s: ", program_invocation_short_name);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputc('\n', stderr);
    funlockfile(stderr);
    exit(1);
}

void check_pthread(int err, const char *what)
{
    if (err != 0)
        die("%s: %s", what, strerror(err));
}
