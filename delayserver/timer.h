/* delayserver/timer.h: a binary min-heap of deadlines.
 *
 * The delay server keeps one deadline per connection (when its answer is
 * due, or when it has waited too long for the client) plus a few of its own.
 * The earliest one decides how long the event loop may sleep, so the heap
 * must give the minimum at once and let any timer move or leave in
 * O(log n). Timers are intrusive: the caller embeds a struct timer in its
 * own object and the heap stores pointers to them, never copies. Each timer
 * remembers its slot in the heap, which is what makes removal cheap.
 */
#ifndef DELAYSERVER_TIMER_H
#define DELAYSERVER_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TIMER_UNARMED SIZE_MAX /* slot of a timer that is not in any heap */

/* One deadline. Initialise with timer_init(); the fields are read-only to
 * everyone but timer.c. */
struct timer {
    uint64_t when; /* due time, CLOCK_MONOTONIC nanoseconds */
    uint64_t seq;  /* arming order: equal deadlines fire first-armed first */
    size_t slot;   /* index in heap->items while armed, TIMER_UNARMED otherwise */
};

/* The heap. items[0] is the earliest timer; for every i > 0,
 * items[(i - 1) / 2] is due no later than items[i]. */
struct timer_heap {
    struct timer **items; /* the armed timers, heap-ordered; owned by the heap */
    size_t len;           /* how many are armed */
    size_t cap;           /* how many items has room for */
    uint64_t next_seq;    /* seq for the next timer armed */
};

/* An empty heap. It allocates nothing until the first timer is armed. */
void timer_heap_init(struct timer_heap *heap);

/* Free the heap's array. The timers themselves belong to the caller and are
 * left untouched (their slot fields become meaningless); disarm them first
 * if they will be used again. */
void timer_heap_free(struct timer_heap *heap);

/* A timer that is not armed. */
void timer_init(struct timer *timer);

static inline bool timer_armed(const struct timer *timer)
{
    return timer->slot != TIMER_UNARMED;
}

/* Arm `timer` to fire at `when`, or move it there if it is already armed.
 * Returns 0, or -ENOMEM if the heap had to grow and could not; moving an
 * armed timer never allocates and so never fails. The heap keeps a pointer
 * to `timer` until it is disarmed or popped: do not free it before then. */
int timer_arm(struct timer_heap *heap, struct timer *timer, uint64_t when);

/* Take `timer` out of the heap. Disarming an unarmed timer does nothing. */
void timer_disarm(struct timer_heap *heap, struct timer *timer);

/* The earliest armed timer, or NULL when none is armed. */
static inline struct timer *timer_heap_first(const struct timer_heap *heap)
{
    return heap->len > 0 ? heap->items[0] : NULL;
}

/* Remove and return the earliest timer if it is due at or before `now`;
 * NULL otherwise. The returned timer is unarmed. */
struct timer *timer_heap_pop_due(struct timer_heap *heap, uint64_t now);

#endif
