/* alloc.c: the allocation calls that die instead of returning NULL, shared
 * by every program of the workbook; see alloc.h. */
#include "alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

static void out_of_memory(size_t size)
{
    die("out of memory (%zu bytes)", size);
}

void *xmalloc(size_t size)
{
    void *p = malloc(size);
    if (p == NULL && size != 0)
        out_of_memory(size);
    return p;
}

void *xcalloc(size_t count, size_t size)
{
    void *p = calloc(count, size);
    if (p == NULL && count != 0 && size != 0)
        out_of_memory(count > (size_t) -1 / size ? (size_t) -1 : count * size);
    return p;
}

void *xrealloc(void *old, size_t size)
{
    void *p = realloc(old, size);
    if (p == NULL && size != 0)
        out_of_memory(size);
    return p;
}

char *xstrdup(const char *text)
{
    size_t size = strlen(text) + 1;
    return memcpy(xmalloc(size), text, size);
}

char *xasprintf(const char *format, ...)
{
    va_list args;
    char *text;

    va_start(args, format);
    int len = vasprintf(&text, format, args);
    va_end(args);
    if (len < 0)
        out_of_memory(strlen(format));
    return text;
}
