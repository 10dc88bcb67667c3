/* scope.c: a scope whose children are tasks (scope.h is the contract).
 * Introduced in ch05-runtime step k.
 *
 * The scope keeps its children in a list under a lock. Each child is
 * spawned wrapped in a member future: its poll polls the child, and its
 * drop, which the executor runs once the child finished or was aborted,
 * drops the child, runs the cleanup and takes the member out of the list,
 * dropping its join handle. So a member is in the list exactly while its
 * child may still hold something, and its handle is alive exactly while it
 * is in the list, which is what lets scope_close() abort through it.
 *
 * Lock order: the scope's lock, then an executor's (scope_spawn and
 * join_abort queue a task under it). An executor never takes a scope's lock
 * while it holds its own: it polls and drops with no lock held. */
#include "scope.h"

#include <assert.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../common/alloc.h"
#include "../../common/errors.h"
#include "../../common/trace.h"

struct member {
    struct future base;   /* first: the future the task actually runs */
    struct scope *scope;  /* the scope it belongs to */
    struct future *child; /* the child's own future */
    void (*cleanup)(void *arg);
    void *arg;
    struct future *handle;      /* the task's join handle (the scope's lock) */
    struct member *prev, *next; /* in scope->members (the scope's lock) */
};

struct scope {
    pthread_mutex_t lock;   /* guards everything below */
    struct member *members; /* children still in the scope, newest first */
    size_t count;           /* how many */
    bool closing;           /* scope_close() has aborted them all */
    struct waker closer;    /* whoever awaits scope_close(), while closing */
    bool closer_set;        /* closer holds a waker clone */
};

/* ===== Members ===== */

static enum poll_status member_poll(struct future *self, const struct waker *waker, void *output)
{
    struct member *m = (struct member *) self;
    (void) output; /* a child's result is discarded */
    return m->child->poll(m->child, waker, NULL);
}

/* The child's end, finished or aborted, on its executor's thread: drop it,
 * clean up after it, leave the scope. The last to leave a closing scope
 * wakes its closer. */
static void member_drop(struct future *self)
{
    struct member *m = (struct member *) self;
    struct scope *s = m->scope;
    m->child->drop(m->child);
    if (m->cleanup != NULL)
        m->cleanup(m->arg);

    struct waker closer = {NULL, NULL};
    pthread_mutex_lock(&s->lock);
    if (m->prev != NULL)
        m->prev->next = m->next;
    else
        s->members = m->next;
    if (m->next != NULL)
        m->next->prev = m->prev;
    s->count--;
    if (s->count == 0 && s->closer_set) {
        closer = s->closer; /* move the clone out: we wake it outside the lock */
        s->closer_set = false;
    }
    pthread_mutex_unlock(&s->lock);
    /* From here on the scope may be freed (its closer may be running): do
       not touch it. Dropping our own handle detaches the task, whose
       executor still holds a reference until it completes. */
    m->handle->drop(m->handle);
    free(m);
    if (closer.vtable != NULL)
        waker_wake(&closer);
}

/* ===== The scope ===== */

struct scope *scope_new(void)
{
    struct scope *s = xmalloc(sizeof *s);
    check_pthread(pthread_mutex_init(&s->lock, NULL), "pthread_mutex_init");
    s->members = NULL;
    s->count = 0;
    s->closing = false;
    s->closer_set = false;
    return s;
}

void scope_spawn(struct scope *s, struct executor *ex, struct future *child,
                 void (*cleanup)(void *arg), void *arg, const char *name, ...)
{
    char task_name[64] = "";
    if (trace_enabled()) { /* the executor has no va_list spawn: format it here */
        va_list args;
        va_start(args, name);
        vsnprintf(task_name, sizeof task_name, name, args);
        va_end(args);
    }
    struct member *m = xmalloc(sizeof *m);
    *m = (struct member){.base = {member_poll, member_drop},
                         .scope = s,
                         .child = child,
                         .cleanup = cleanup,
                         .arg = arg};
    /* Spawn under the lock: the child may finish on another thread at
       once, and its member_drop must find it in the list, handle and all. */
    pthread_mutex_lock(&s->lock);
    assert(!s->closing && "scope_spawn() into a scope that is closing");
    m->handle = executor_spawn_on(ex, &m->base, 0, "%s", task_name);
    m->next = s->members;
    if (s->members != NULL)
        s->members->prev = m;
    s->members = m;
    s->count++;
    pthread_mutex_unlock(&s->lock);
}

size_t scope_children(struct scope *s)
{
    pthread_mutex_lock(&s->lock);
    size_t count = s->count;
    pthread_mutex_unlock(&s->lock);
    return count;
}

/* ===== Closing ===== */

struct closing {
    struct future base; /* first: a struct future * points here */
    struct scope *scope;
    bool done; /* the scope is empty and freed */
};

static enum poll_status close_poll(struct future *self, const struct waker *waker, void *output)
{
    struct closing *c = (struct closing *) self;
    struct scope *s = c->scope;
    struct waker old = {NULL, NULL};
    (void) output;
    assert(!c->done && "scope_close() polled after it completed");

    pthread_mutex_lock(&s->lock);
    if (!s->closing) { /* the first poll: abort them all */
        s->closing = true;
        for (struct member *m = s->members; m != NULL; m = m->next)
            join_abort(m->handle);
    }
    bool empty = s->count == 0;
    if (!empty && !(s->closer_set && waker_will_wake(&s->closer, waker))) {
        if (s->closer_set)
            old = s->closer;
        s->closer = waker_clone(waker);
        s->closer_set = true;
    }
    pthread_mutex_unlock(&s->lock);
    if (old.vtable != NULL) /* dropping may free a task: not under our lock */
        waker_drop(&old);
    if (!empty)
        return POLL_PENDING;

    /* Empty and closing: nobody else can reach the scope any more. */
    pthread_mutex_destroy(&s->lock);
    free(s);
    c->done = true;
    return POLL_READY;
}

static void close_drop(struct future *self)
{
    struct closing *c = (struct closing *) self;
    assert(c->done && "scope_close() dropped before every child had left");
    free(c);
}

struct future *scope_close(struct scope *s)
{
    struct closing *c = xmalloc(sizeof *c);
    *c = (struct closing){.base = {close_poll, close_drop}, .scope = s, .done = false};
    return &c->base;
}
