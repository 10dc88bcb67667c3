/* alloc-count.h: counts every malloc, calloc and realloc our own code makes.
 * Introduced in ch05-runtime step i.
 *
 * The program is linked with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc:
 * the linker sends each call to those functions from our object files to
 * __wrap_malloc (and so on) in alloc-count.c, which counts it and calls the
 * real one. Calls that glibc makes to itself are not seen (none happen on
 * the task path: stdout's buffer is allocated by the first printf, before
 * any scope opens). */
#ifndef ALLOC_COUNT_H
#define ALLOC_COUNT_H

#include <stddef.h>

/* Allocations (malloc + calloc + realloc) since the program started. */
size_t alloc_count(void);

/* The wrappers the linker calls (declared here for -Wmissing-prototypes). */
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t count, size_t size);
void *__wrap_realloc(void *ptr, size_t size);

#endif
