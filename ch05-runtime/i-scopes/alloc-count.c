/* alloc-count.c: the allocation counter behind `--wrap=malloc`.
 * Introduced in ch05-runtime step i; see alloc-count.h. */
#include "alloc-count.h"

/* The real functions, as the linker names them under --wrap. */
void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *ptr, size_t size);

static size_t allocations; /* one thread only: this runtime has one */

size_t alloc_count(void)
{
    return allocations;
}

void *__wrap_malloc(size_t size)
{
    allocations++;
    return __real_malloc(size);
}

void *__wrap_calloc(size_t count, size_t size)
{
    allocations++;
    return __real_calloc(count, size);
}

void *__wrap_realloc(void *ptr, size_t size)
{
    allocations++;
    return __real_realloc(ptr, size);
}
