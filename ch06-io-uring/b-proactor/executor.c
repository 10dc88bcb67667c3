/* executor.c: tasks, their wakers, a ready queue, and block_on, which polls
 * ready tasks and, when there are none, sleeps in the reactor until an event
 * wakes one. Introduced in ch05-runtime step b. */
#include "executor.h"

#include <assert.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/alloc.h"
#include "../../common/errors.h"
#include "../../common/trace.h"
#include "reactor.h"

/* ===== Data =====
 *
 * Who may touch what:
 *  - the executor's thread alone: task->future, executor->pending;
 *  - any thread, holding executor->lock: the ready queue, task->queued,
 *    task->finished, executor->closed, executor->parked;
 *  - any thread, atomically: the reference counts.
 *
 * A waker may be woken on any thread (waker.h). While the executor's thread
 * sleeps in reactor_wait() it is `parked`: a wake from another thread then
 * calls reactor_notify(), or the task would sit on the queue until some
 * unrelated event came. A wake on the executor's own thread (from inside
 * reactor_wait or a poll) needs no notify: that thread looks at the queue
 * next anyway.
 *
 * References: an executor is held by its block_on and by every task struct
 * still allocated; a task is held by its executor until it finishes, by the
 * ready queue while it is queued, and by every waker clone. The last one to
 * let go frees the struct, whichever thread that is. */

struct executor {
    atomic_size_t refs;      /* block_on + one per live task struct */
    pthread_mutex_t lock;    /* guards the ready queue, parked and closed */
    struct task *ready_head; /* tasks to poll, oldest first */
    struct task *ready_tail;
    bool parked;    /* the executor's thread sleeps in reactor_wait() */
    bool closed;    /* block_on has returned: wakes are ignored */
    size_t pending; /* executor thread only: spawned, not finished */
    char name[32];  /* for the messages it prints */
};

struct task {
    atomic_size_t refs;        /* see "References" above */
    struct executor *executor; /* counted reference; never changes */
    struct future *future;     /* executor thread only; NULL once finished */
    struct task *next_ready;   /* link in the ready queue (lock) */
    bool queued;               /* on the ready queue right now (lock) */
    bool finished;             /* returned POLL_READY (lock) */
    uint64_t id;               /* its number in a trace, 0 if none; never changes */
    char *name;                /* its name in a trace, NULL if none; never changes */
};

static _Thread_local struct executor *current; /* this thread's executor, if any */

/* ===== Reference counting ===== */

static void executor_unref(struct executor *ex)
{
    /* acq_rel: every earlier use of ex by another thread happens before
       the free by whichever thread brings the count to zero. */
    if (atomic_fetch_sub_explicit(&ex->refs, 1, memory_order_acq_rel) == 1) {
        pthread_mutex_destroy(&ex->lock);
        free(ex);
    }
}

static void task_ref(struct task *t)
{
    atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
}

static void task_unref(struct task *t)
{
    if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1) {
        assert(t->future == NULL); /* the executor's reference outlives the future */
        executor_unref(t->executor);
        free(t->name);
        free(t);
    }
}

/* ===== The ready queue ===== */

/* Put t on its executor's ready queue unless it is there already, finished,
 * or its executor has ended. Callable from any thread. A wake (`woken`: a
 * waker's, not the spawn) that queues the task is traced here, under the
 * lock, so that it comes before the poll it causes. */
static void schedule(struct task *t, bool woken)
{
    struct executor *ex = t->executor;
    bool notify = false;
    pthread_mutex_lock(&ex->lock);
    if (!t->queued && !t->finished && !ex->closed) {
        if (woken)
            trace_wake(t->id, t->name);
        t->queued = true;
        task_ref(t); /* the queue's reference */
        t->next_ready = NULL;
        if (ex->ready_tail != NULL)
            ex->ready_tail->next_ready = t;
        else
            ex->ready_head = t;
        ex->ready_tail = t;
        notify = ex->parked && current != ex; /* see "Data" */
        ex->parked = false;                   /* one notify is enough */
    }
    pthread_mutex_unlock(&ex->lock);
    if (notify)
        reactor_notify();
}

/* Take the oldest ready task, sleeping while there is none. Returns NULL when
 * no task is pending any more: block_on is done. The caller inherits the
 * queue's reference to the task. */
static struct task *next_ready(struct executor *ex)
{
    pthread_mutex_lock(&ex->lock);
    while (ex->ready_head == NULL) {
        if (ex->pending == 0) {
            pthread_mutex_unlock(&ex->lock);
            return NULL;
        }
        /* Print outside the lock, then look again: a waker may have queued
           a task meanwhile, and then we must not sleep. */
        pthread_mutex_unlock(&ex->lock);
        printf("%s: %zu pending tasks. Sleep until notified.\n", ex->name, ex->pending);
        pthread_mutex_lock(&ex->lock);
        while (ex->ready_head == NULL) {
            ex->parked = true; /* from now on, wakes from elsewhere notify */
            pthread_mutex_unlock(&ex->lock);
            int err = reactor_wait(); /* events and deadlines wake tasks */
            if (err < 0)
                die("reactor_wait: %s", strerror(-err));
            pthread_mutex_lock(&ex->lock);
            ex->parked = false;
        }
    }
    struct task *t = ex->ready_head;
    ex->ready_head = t->next_ready;
    if (ex->ready_head == NULL)
        ex->ready_tail = NULL;
    t->queued = false;
    pthread_mutex_unlock(&ex->lock);
    return t;
}

/* ===== Wakers ===== */

static const struct waker_vtable task_waker_vtable;

static struct waker task_waker_clone(void *data)
{
#ifndef BUG_CLONE_NO_REF /* exercise 1 (README.md) */
    task_ref(data);
#endif
    return (struct waker){.data = data, .vtable = &task_waker_vtable};
}

static void task_waker_wake_by_ref(void *data)
{
    schedule(data, true);
}

static void task_waker_drop(void *data)
{
    task_unref(data);
}

static void task_waker_wake(void *data)
{
    schedule(data, true);
    task_unref(data);
}

static const struct waker_vtable task_waker_vtable = {
    .clone = task_waker_clone,
    .wake = task_waker_wake,
    .wake_by_ref = task_waker_wake_by_ref,
    .drop = task_waker_drop,
};

/* ===== Spawning and running ===== */

/* Give t a number and a name for the trace (common/trace.h), and trace its
 * spawn. Not tracing, it gets neither: the name is not even formatted. */
static void name_task(struct task *t, const char *format, va_list args)
{
    t->id = 0;
    t->name = NULL;
    if (!trace_enabled())
        return;
    char name[64];
    t->id = trace_next_task_id();
    if (format != NULL)
        vsnprintf(name, sizeof name, format, args);
    else
        snprintf(name, sizeof name, "task %llu", (unsigned long long) t->id);
    t->name = xstrdup(name);
    trace_spawn(t->id, t->name);
}

void executor_spawn(struct future *future, const char *name, ...)
{
    struct executor *ex = current;
    assert(ex != NULL && "executor_spawn() outside executor_block_on()");
    assert(future != NULL);
    struct task *t = xmalloc(sizeof *t);
    atomic_init(&t->refs, 1); /* the executor's reference, until it finishes */
    atomic_fetch_add_explicit(&ex->refs, 1, memory_order_relaxed);
    t->executor = ex;
    t->future = future;
    t->next_ready = NULL;
    t->queued = false;
    t->finished = false;
    va_list args;
    va_start(args, name);
    name_task(t, name, args);
    va_end(args);
    ex->pending++;
    schedule(t, false);
}

const char *executor_name(void)
{
    assert(current != NULL && "executor_name() outside executor_block_on()");
    return current->name;
}

/* Poll one task with a waker that points at it. The waker only borrows the
 * reference the caller holds; a future that wants to keep it clones it. */
static void run_task(struct executor *ex, struct task *t)
{
    /* LESSON run-task: Poll the task once with a waker that points at it; finish it when ready.
     * hint: The waker borrows the caller's reference ({t, &task_waker_vtable}).
     *   Ready: drop the future, mark it finished under ex->lock, pending--,
     *   and give up the executor's reference (task_unref).
     * stub:
     *   (void) ex, (void) t;
     *   lesson_missing("run-task"); */
    if (t->future == NULL) /* finished since it was queued */
        return;
    struct waker waker = {.data = t, .vtable = &task_waker_vtable};
    trace_poll_begin(t->id, t->name);
    enum poll_status status = t->future->poll(t->future, &waker, NULL);
    trace_poll_end(t->id, status == POLL_READY);
    if (status == POLL_PENDING)
        return; /* a clone of the waker will queue it again */
    t->future->drop(t->future);
    t->future = NULL;
    pthread_mutex_lock(&ex->lock);
    t->finished = true; /* from now on, wakes are ignored */
    pthread_mutex_unlock(&ex->lock);
    ex->pending--;
    task_unref(t); /* the executor's reference */
    /* END LESSON run-task */
}

void executor_block_on(const char *name, struct future *main)
{
    assert(current == NULL && "executor_block_on() is not reentrant");
    struct executor *ex = xmalloc(sizeof *ex);
    atomic_init(&ex->refs, 1); /* this block_on's reference */
    check_pthread(pthread_mutex_init(&ex->lock, NULL), "pthread_mutex_init");
    ex->ready_head = ex->ready_tail = NULL;
    ex->parked = false;
    ex->closed = false;
    ex->pending = 0;
    snprintf(ex->name, sizeof ex->name, "%s", name);
    current = ex;
    trace_thread("%s", ex->name); /* this thread's track in a trace */

    executor_spawn(main, "%s", ex->name);
    struct task *t;
    while ((t = next_ready(ex)) != NULL) {
        run_task(ex, t);
        task_unref(t); /* the queue's reference, handed to us */
    }
    printf("%s: All tasks are finished\n", ex->name);

    /* Every task has finished, so the queue is empty and stays empty; wakers
       still held somewhere may call schedule() later, and find it closed. */
    pthread_mutex_lock(&ex->lock);
    assert(ex->ready_head == NULL);
    ex->closed = true;
    pthread_mutex_unlock(&ex->lock);
    current = NULL;
    executor_unref(ex);
}
