/* scope.c: join and race over children whose frames the caller provides.
 * Introduced in ch05-runtime step i; see scope.h. */
#include "scope.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>

#include "../../common/errors.h"
#include "../../common/trace.h"
#include "alloc-count.h"

/* ===== A child's waker: points at its slot =====
 *
 * Borrowed, like every waker of this runtime (rt.h, rule 3): it lives in the
 * registrations of the child's leaves, which live inside the child, which
 * the scope cancels before the slot can go away. */

static const struct waker_vtable child_vtable;

static void child_wake_by_ref(void *data)
{
    struct scope_child *slot = data;
    /* A wake for a child that has ended means some node outlived its
       future: the one thing this design must never allow. */
    assert(slot->state == CHILD_RUNNING && "woken after it finished or was cancelled");
    slot->woken = true;
    if (slot->scope->waker.vtable != NULL)
        waker_wake_by_ref(&slot->scope->waker);
}

static struct waker child_clone(void *data)
{
    return (struct waker){data, &child_vtable};
}

static void child_wake(void *data)
{
    child_wake_by_ref(data);
}

static void child_drop(void *data)
{
    (void) data;
}

static const struct waker_vtable child_vtable = {
    .clone = child_clone,
    .wake = child_wake,
    .wake_by_ref = child_wake_by_ref,
    .drop = child_drop,
};

/* ===== Ending children ===== */

static void finish(struct scope *s, struct scope_child *slot)
{
    slot->state = CHILD_FINISHED;
    s->running--;
    slot->future->drop(slot->future); /* releases nothing an embedded leaf still holds */
}

static void cancel(struct scope *s, struct scope_child *slot)
{
    slot->state = CHILD_CANCELLED;
    s->running--;
#ifndef BUG_CANCEL_NO_DROP            /* exercise 2 (README.md) */
    slot->future->drop(slot->future); /* unlinks every node inside the child */
#endif
}

/* The scope is over: say how it went. After this no child is running. */
static void close_scope(struct scope *s, const char *how)
{
    assert(s->running == 0);
    size_t finished = 0, cancelled = 0;
    for (size_t i = 0; i < s->count; i++) {
        finished += s->slots[i].state == CHILD_FINISHED;
        cancelled += s->slots[i].state == CHILD_CANCELLED;
    }
    printf("scope %s: %s: %zu finished, %zu cancelled, %zu allocations\n", s->name, how, finished,
           cancelled, alloc_count() - s->allocations_at_init);
    s->closed = true;
    s->waker = (struct waker){NULL, NULL};
}

/* ===== The scope as a future ===== */

static enum poll_status scope_poll(struct future *self, const struct waker *waker, void *output)
{
    struct scope *s = (struct scope *) self;
    assert(!s->closed && "scope polled after it closed");
    if (!s->opened) {
        s->opened = true;
        printf("scope %s: %s of %zu children\n", s->name, s->kind == SCOPE_JOIN ? "join" : "race",
               s->count);
    }
    s->waker = *waker; /* borrowed: the parent outlives us */

    /* LESSON scope-poll: Poll woken children; a race's first finisher wins, the rest are cancelled.
     * hint: Poll each running, woken child (clear woken first) with a waker that
     *   points at its slot; finish() it when ready, and in a race record it as the
     *   winner and stop. A decided race cancel()s every child still running and
     *   outputs the winner's index; a join is done when none is running (a race
     *   with no children outputs -1). Either way close_scope(s, "closed") and
     *   return POLL_READY; otherwise POLL_PENDING.
     * stub:
     *   (void) output;
     *   (void) finish;
     *   lesson_missing("scope-poll"); */
    for (size_t i = 0; i < s->count && s->winner < 0; i++) {
        struct scope_child *slot = &s->slots[i];
#ifdef BUG_POLL_EVERY_CHILD /* exercise 3 (README.md) */
        if (slot->state != CHILD_RUNNING)
#else
        if (slot->state != CHILD_RUNNING || !slot->woken)
#endif
            continue;
        slot->woken = false;
        struct waker child_waker = {.data = slot, .vtable = &child_vtable};
        trace_poll_begin(slot->id, slot->name);
        enum poll_status status = slot->future->poll(slot->future, &child_waker, slot->output);
        trace_poll_end(slot->id, status == POLL_READY);
        if (status == POLL_PENDING)
            continue;
        finish(s, slot);
        if (s->kind == SCOPE_RACE)
            s->winner = (int) i;
    }

    if (s->winner >= 0) { /* a race is decided: cancel the rest */
        for (size_t i = 0; i < s->count; i++)
            if (s->slots[i].state == CHILD_RUNNING)
                cancel(s, &s->slots[i]);
        if (output != NULL)
            *(int *) output = s->winner;
        close_scope(s, "closed");
        return POLL_READY;
    }
    if (s->running == 0) { /* a join is complete (or a race had no children) */
        if (s->kind == SCOPE_RACE && output != NULL)
            *(int *) output = -1;
        close_scope(s, "closed");
        return POLL_READY;
    }
    return POLL_PENDING;
    /* END LESSON scope-poll */
}

/* Cancelled by whoever holds the scope: cancel every child still running.
 * A scope that already closed holds nothing. */
static void scope_drop(struct future *self)
{
    struct scope *s = (struct scope *) self;
    if (s->closed)
        return;
    for (size_t i = 0; i < s->count; i++)
        if (s->slots[i].state == CHILD_RUNNING)
            cancel(s, &s->slots[i]);
    close_scope(s, "cancelled");
}

void scope_init(struct scope *scope, enum scope_kind kind, const char *name,
                struct scope_child *slots, size_t capacity)
{
    scope->base.poll = scope_poll;
    scope->base.drop = scope_drop;
    scope->kind = kind;
    scope->name = name;
    scope->slots = slots;
    scope->capacity = capacity;
    scope->count = 0;
    scope->running = 0;
    scope->winner = -1;
    scope->opened = false;
    scope->closed = false;
    scope->waker = (struct waker){NULL, NULL};
    scope->allocations_at_init = alloc_count();
}

void scope_spawn(struct scope *scope, struct future *child, void *output, const char *name, ...)
{
    assert(!scope->opened && "scope_spawn() after the scope's first poll");
    assert(scope->count < scope->capacity && "scope_spawn(): no free slot");
    struct scope_child *slot = &scope->slots[scope->count++];
    *slot = (struct scope_child){
        .future = child,
        .output = output,
        .scope = scope,
        .woken = true, /* every child gets a first poll */
        .state = CHILD_RUNNING,
    };
    scope->running++;
    if (!trace_enabled())
        return;
    slot->id = trace_next_task_id();
    va_list args;
    va_start(args, name);
    if (name != NULL)
        vsnprintf(slot->name, sizeof slot->name, name, args);
    else
        snprintf(slot->name, sizeof slot->name, "task %llu", (unsigned long long) slot->id);
    va_end(args);
    trace_spawn(slot->id, slot->name);
}
