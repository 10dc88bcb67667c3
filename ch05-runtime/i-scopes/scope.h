/* scope.h: structured concurrency without malloc. A scope is a future that
 * owns a fixed set of child futures and ends only when every child has
 * finished or been cancelled. Introduced in ch05-runtime step i.
 *
 * Everything lives in storage the caller provides: the scope itself, an
 * array of child slots, and the children's frames (normally fields of the
 * same struct, which lives in the parent's frame or on the stack of the
 * function that calls rt_block_on). Nothing here calls malloc.
 *
 *     struct demo {
 *         struct scope scope;
 *         struct scope_child slots[2];
 *         struct rt_sleep a, b;        children: frames inside the parent
 *     } d;
 *     scope_init(&d.scope, SCOPE_RACE, "demo", d.slots, 2);
 *     rt_sleep_init(&d.a, 100);  scope_spawn(&d.scope, &d.a.base, NULL, "a");
 *     rt_sleep_init(&d.b, 300);  scope_spawn(&d.scope, &d.b.base, NULL, "b");
 *     int winner;
 *     rt_block_on(&d.scope.base, &winner);     winner == 0; b was cancelled
 *
 * Two kinds:
 *  - SCOPE_JOIN ends when every child has finished. Output: none.
 *  - SCOPE_RACE ends when the first child finishes; it drops (cancels) every
 *    other child before it returns POLL_READY. Output (int, may be NULL): the
 *    index of the winner (-1 for a race of no children, which ends at once).
 *
 * Ownership: the scope owns its children from scope_spawn() on and drops
 * each exactly once, when it finishes or when it is cancelled. Dropping
 * releases what a child holds (registrations, its own children); whether
 * that frees memory is up to the child (embedded ones: no; corofy's: yes).
 * Dropping the scope before it is done cancels every child still running.
 * Either way, once the scope has returned POLL_READY or been dropped, no
 * child is linked anywhere and the storage may be reused.
 *
 * Each child is polled with its own waker, which points at its slot: a wake
 * marks that slot, and the scope then polls only the children whose slots
 * were marked. The scope prints a line when it opens and when it closes
 * (how its children ended, how many allocations happened while it was
 * open). */
#ifndef SCOPE_H
#define SCOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "future.h"

enum scope_kind { SCOPE_JOIN, SCOPE_RACE };

enum child_state { CHILD_RUNNING, CHILD_FINISHED, CHILD_CANCELLED };

/* One child's slot. */
struct scope_child {
    struct future *future; /* the child; its frame is the caller's */
    void *output;          /* where its result goes, or NULL */
    struct scope *scope;   /* the owner, for the child's waker */
    bool woken;            /* poll it at the scope's next poll */
    enum child_state state;
    uint64_t id;   /* its number in a trace (common/trace.h); 0 when not tracing */
    char name[24]; /* its name there: scope_spawn()'s, formatted only when tracing */
};

struct scope {
    struct future base; /* first: a scope is a future */
    enum scope_kind kind;
    const char *name;           /* for the messages (not copied) */
    struct scope_child *slots;  /* the caller's array */
    size_t capacity;            /* its length */
    size_t count;               /* children spawned */
    size_t running;             /* children neither finished nor cancelled */
    int winner;                 /* SCOPE_RACE: the first to finish, or -1 */
    bool opened;                /* polled at least once */
    bool closed;                /* done or dropped: no child is running */
    struct waker waker;         /* the parent's, from the latest poll (borrowed) */
    size_t allocations_at_init; /* alloc_count() when the scope was made */
};

/* Make an empty scope over `slots` (an array of `capacity` slots). */
void scope_init(struct scope *scope, enum scope_kind kind, const char *name,
                struct scope_child *slots, size_t capacity);

/* Add a child; its result will be written to *output (if not NULL). Only
 * before the scope's first poll, and at most `capacity` times (assert).
 * `name`, printf-style, is what a trace calls the child (common/trace.h),
 * where its polls show inside the root's; NULL calls it "task <n>". */
void scope_spawn(struct scope *scope, struct future *child, void *output, const char *name, ...)
    __attribute__((format(printf, 4, 5)));

#endif
