/* delayserver/timer.c: the binary min-heap of deadlines behind the delay
 * server's event loop (timer.h is the contract). Part of the delay server,
 * the tool every chapter talks to.
 */
#include "timer.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>

void timer_heap_init(struct timer_heap *heap)
{
    heap->items = NULL;
    heap->len = 0;
    heap->cap = 0;
    heap->next_seq = 0;
}

void timer_heap_free(struct timer_heap *heap)
{
    free(heap->items);
    timer_heap_init(heap);
}

void timer_init(struct timer *timer)
{
    timer->when = 0;
    timer->seq = 0;
    timer->slot = TIMER_UNARMED;
}

/* ===== Ordering ===== */

/* Is a due before b? Ties go to the one armed first, so requests with the
 * same deadline are answered in the order they arrived. */
static bool earlier(const struct timer *a, const struct timer *b)
{
    return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

/* Put `timer` in slot i and keep its back-pointer in step. */
static void place(struct timer_heap *heap, size_t i, struct timer *timer)
{
    heap->items[i] = timer;
    timer->slot = i;
}

/* Move the timer in slot i towards the root while it is earlier than its
 * parent. */
static void sift_up(struct timer_heap *heap, size_t i)
{
    struct timer *timer = heap->items[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!earlier(timer, heap->items[parent]))
            break;
        place(heap, i, heap->items[parent]);
        i = parent;
    }
    place(heap, i, timer);
}

/* Move the timer in slot i towards the leaves while a child is earlier. */
static void sift_down(struct timer_heap *heap, size_t i)
{
    struct timer *timer = heap->items[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= heap->len)
            break;
        if (child + 1 < heap->len && earlier(heap->items[child + 1], heap->items[child]))
            child++; /* the earlier of the two children */
        if (!earlier(heap->items[child], timer))
            break;
        place(heap, i, heap->items[child]);
        i = child;
    }
    place(heap, i, timer);
}

/* After slot i changed, restore the heap order around it. Only one of the
 * two sifts can move anything. */
static void fix(struct timer_heap *heap, size_t i)
{
    if (i > 0 && earlier(heap->items[i], heap->items[(i - 1) / 2]))
        sift_up(heap, i);
    else
        sift_down(heap, i);
}

/* ===== Arming and disarming ===== */

int timer_arm(struct timer_heap *heap, struct timer *timer, uint64_t when)
{
    timer->when = when;
    timer->seq = heap->next_seq++;
    if (timer_armed(timer)) { /* already in the heap: just move it */
        assert(timer->slot < heap->len && heap->items[timer->slot] == timer);
        fix(heap, timer->slot);
        return 0;
    }
    if (heap->len == heap->cap) {
        size_t cap = heap->cap ? 2 * heap->cap : 64;
        struct timer **items = realloc(heap->items, cap * sizeof *items);
        if (items == NULL)
            return -ENOMEM;
        heap->items = items;
        heap->cap = cap;
    }
    place(heap, heap->len++, timer);
    sift_up(heap, timer->slot);
    return 0;
}

void timer_disarm(struct timer_heap *heap, struct timer *timer)
{
    if (!timer_armed(timer))
        return;
    size_t i = timer->slot;
    assert(i < heap->len && heap->items[i] == timer);
    timer->slot = TIMER_UNARMED;
    struct timer *last = heap->items[--heap->len];
    if (last != timer) { /* fill the hole with the last timer, then re-order */
        place(heap, i, last);
        fix(heap, i);
    }
}

struct timer *timer_heap_pop_due(struct timer_heap *heap, uint64_t now)
{
    struct timer *first = timer_heap_first(heap);
    if (first == NULL || first->when > now)
        return NULL;
    timer_disarm(heap, first);
    return first;
}
