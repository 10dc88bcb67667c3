/* alloc.h: memory allocation that cannot fail. Not a lesson: when memory
 * runs out, the program stops with
 *
 *     <program>: out of memory (<n> bytes)
 *
 * and exit status 1 (errors.h), so the code that is the lesson never has to
 * say what to do about a NULL it cannot get. Code that must survive running
 * out of memory (a server, a runtime that reports -ENOMEM) calls malloc
 * itself and says so. */
#ifndef COMMON_ALLOC_H
#define COMMON_ALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);               /* malloc, or die */
void *xcalloc(size_t count, size_t size); /* calloc, or die (also on overflow) */
void *xrealloc(void *old, size_t size);   /* realloc, or die; old stays valid on failure */
char *xstrdup(const char *text);          /* strdup, or die */

/* vasprintf into a new string the caller frees, or die. */
char *xasprintf(const char *format, ...) __attribute__((format(printf, 1, 2)));

#endif
