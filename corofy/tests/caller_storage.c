/* caller_storage.c: the init option gives each coroutine NAME_init,
 * which builds its frame in storage the caller provides (the frame struct,
 * or NAME_FRAME_SIZE bytes), beside NAME(), which mallocs it. A child's
 * frame sits inside its parent's, as a local; the parent's on main's stack.
 * Nothing is allocated while it runs: allocations() counts every malloc. */
/* corofy: init */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#define FUTURE_COUNT_ALLOCATIONS
#include "future.h"

#ifdef SEQUENTIAL /* the twin has plain functions, and no frames */
struct child_frame {
    int unused;
};
#define child_init(storage, ...) ((void) (storage), child(__VA_ARGS__))
#define parent_init(storage, ...) ((void) (storage), parent(__VA_ARGS__))
#define PARENT_FRAME_SIZE 1
#endif

coroutine int child(int polls, int value)
{
    struct countdown leaf; /* the leaf lives in the child's frame */
    int v = countdown_init(&leaf, polls, value).wait;
    return 2 * v;
}

coroutine int parent(int n)
{
    struct child_frame first, second; /* the children live in the parent's frame */
    int a = child_init(&first, 2, n).wait;
    int b = child_init(&second, 1, n + 1).wait;
    return a + b;
}

int main(void)
{
    _Alignas(max_align_t) unsigned char storage[PARENT_FRAME_SIZE];
    int total = 0;
    long before = allocations();
    RUN(parent_init(storage, 3), total);
    printf("parent(3) = %d, allocations while it ran: %ld\n", total, allocations() - before);
    RUN(parent(4), total); /* the allocating constructor still works */
    printf("parent(4) = %d\n", total);
    return 0;
}
