/* executor.c: tasks whose state is one atomic word, their wakers, join
 * handles, ready queues, and the loop that polls ready tasks and sleeps on a
 * condition variable when there are none. Introduced in ch05-runtime step b;
 * step f puts each task's state in an atomic word and adds join handles. */
#include "executor.h"

#include <assert.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/alloc.h"
#include "../../common/errors.h"
#include "../../common/trace.h"

/* ===== The task state word =====
 *
 * Everything other threads may ask about a task is in one 64-bit atomic
 * word: five flags in the low bits and the reference count above them.
 * Every change is one atomic read-modify-write (a fetch_xor, a fetch_and,
 * or a compare-and-swap loop), so a thread always acts on the exact state
 * it changed, never on a value that went stale between a load and a store.
 *
 *   SCHEDULED      the task must be polled (again): it is on its ready
 *                  queue, or the one thread that set the flag while RUNNING
 *                  was clear is about to put it there, or it is RUNNING and
 *                  its executor will queue it again when the poll ends
 *   RUNNING        its executor is inside the future's poll right now
 *   COMPLETE       the future returned POLL_READY: the result is in
 *                  task->output, and the future has been dropped
 *   JOIN_INTEREST  a join handle exists and has not been dropped
 *   JOIN_WAKER     task->join_waker holds the waker of the task awaiting
 *                  the handle, and belongs to the task side: nobody writes
 *                  it, the completing executor wakes a copy of it, the
 *                  handle may read it (to compare wakers) or take it back
 *                  by clearing this flag while COMPLETE is clear
 *
 * Invariants (check_state() asserts them on every value an operation sees):
 *   - COMPLETE excludes RUNNING and SCHEDULED: a finished task is never
 *     polled or queued again, and waking it does nothing;
 *   - JOIN_WAKER without COMPLETE implies JOIN_INTEREST: a dropped handle
 *     leaves no waker behind in a live task;
 *   - the count is at least 1 whenever someone looks: whoever operates on
 *     a task holds a reference to it.
 *
 * References: the executor holds one from spawn until the task completes,
 * the join handle one until it is dropped, every waker clone one. The last
 * one to let go frees the task, whichever thread that is. A queued task
 * needs no reference of its own: it is not complete, so its executor's
 * reference is still there. */

#define SCHEDULED ((uint64_t) 1 << 0)
#define RUNNING ((uint64_t) 1 << 1)
#define COMPLETE ((uint64_t) 1 << 2)
#define JOIN_INTEREST ((uint64_t) 1 << 3)
#define JOIN_WAKER ((uint64_t) 1 << 4)
#define ALL_FLAGS (SCHEDULED | RUNNING | COMPLETE | JOIN_INTEREST | JOIN_WAKER)
#define REF_SHIFT 6
#define REF_ONE ((uint64_t) 1 << REF_SHIFT)

/* Successful CASes release what this thread wrote before (a result, the
 * join waker) and acquire what the thread before it wrote; a failed CAS
 * acquires too, because the loop acts on the value it found. */
#define CAS(word, expected, desired)                                                               \
    atomic_compare_exchange_weak_explicit((word), (expected), (desired), memory_order_acq_rel,     \
                                          memory_order_acquire)

static uint64_t refs_of(uint64_t state)
{
    return state >> REF_SHIFT;
}

static void check_state(uint64_t s)
{
    assert((s & (REF_ONE - 1) & ~ALL_FLAGS) == 0); /* no stray bits */
    assert(refs_of(s) >= 1);
    assert(!(s & COMPLETE) || !(s & (RUNNING | SCHEDULED)));
    assert((s & COMPLETE) || !(s & JOIN_WAKER) || (s & JOIN_INTEREST));
    (void) s;
}

/* ===== Data =====
 *
 * Who may touch what:
 *  - the executor's thread alone: task->future;
 *  - any thread, holding executor->lock: the ready queue, executor->pending,
 *    executor->shut_down;
 *  - any thread, atomically: task->state, the executors' reference counts;
 *  - task->join_waker: whoever the JOIN_WAKER flag says (see above);
 *  - task->output: the executor's thread until COMPLETE is set (release),
 *    then readers that saw COMPLETE (acquire); it never changes again. */

struct executor {
    atomic_size_t refs;      /* the owner (executor_new) + one per task struct */
    pthread_mutex_t lock;    /* guards the five fields below */
    pthread_cond_t wakeup;   /* signalled when a task is queued or on shutdown */
    struct task *ready_head; /* tasks to poll, oldest first */
    struct task *ready_tail;
    size_t pending; /* spawned, not finished */
    bool shut_down; /* run returns once pending reaches 0 */
    bool ran;       /* executor_run was called (only once allowed) */
    char name[32];  /* for executor_name() */
};

struct task {
    _Atomic uint64_t state;    /* flags and reference count, see above */
    struct executor *executor; /* counted reference; never changes */
    struct future *future;     /* executor thread only; NULL once complete */
    struct task *next_ready;   /* link in the ready queue (executor->lock) */
    struct waker join_waker;   /* who awaits the join handle (JOIN_WAKER) */
    uint64_t id;               /* its number in a trace, 0 if none; never changes */
    char *name;                /* its name in a trace, NULL if none; never changes */
    size_t output_size;        /* bytes in output[]; 0: the task produces nothing */
    alignas(max_align_t) unsigned char output[]; /* the result, once COMPLETE */
};

/* The join handle: a future whose output is the task's result. */
struct join_handle {
    struct future base; /* first: a join handle is a future */
    struct task *task;  /* counted reference */
    bool done;          /* returned POLL_READY: must not be polled again */
};

static _Thread_local struct executor *current; /* this thread's executor, if any */
static atomic_size_t live_tasks;               /* task structs allocated right now */

/* ===== Reference counting ===== */

static void executor_unref(struct executor *ex)
{
    /* acq_rel: every earlier use of ex by another thread happens before
       the free by whichever thread brings the count to zero. */
    if (atomic_fetch_sub_explicit(&ex->refs, 1, memory_order_acq_rel) == 1) {
        pthread_cond_destroy(&ex->wakeup);
        pthread_mutex_destroy(&ex->lock);
        free(ex);
    }
}

static void task_ref(struct task *t)
{
    /* Relaxed: a new reference is made from one we hold, so the count
       cannot reach zero meanwhile, and the flags are left alone. */
    uint64_t prev = atomic_fetch_add_explicit(&t->state, REF_ONE, memory_order_relaxed);
    check_state(prev);
}

static void task_unref(struct task *t)
{
    uint64_t prev = atomic_fetch_sub_explicit(&t->state, REF_ONE, memory_order_acq_rel);
    check_state(prev);
    if (refs_of(prev) > 1)
        return;
    /* The last reference. The executor's reference lasts until the task
       completes, so the task completed, and its future is gone. */
    assert(prev & COMPLETE);
    assert(t->future == NULL);
    executor_unref(t->executor);
    free(t->name);
    free(t);
    /* Release, and acquire in executor_live_tasks(): a thread that sees
       the count drop to 0 also sees everything done before each free,
       such as the last wake of a waker it is about to destroy. */
    atomic_fetch_sub_explicit(&live_tasks, 1, memory_order_release);
}

size_t executor_live_tasks(void)
{
    return atomic_load_explicit(&live_tasks, memory_order_acquire);
}

/* ===== Scheduling ===== */

/* Append t to its executor's ready queue. The caller is the one thread
 * entitled to do so (see SCHEDULED). */
static void push_ready(struct task *t)
{
    struct executor *ex = t->executor;
    pthread_mutex_lock(&ex->lock);
    t->next_ready = NULL;
    if (ex->ready_tail != NULL)
        ex->ready_tail->next_ready = t;
    else
        ex->ready_head = t;
    ex->ready_tail = t;
    pthread_cond_signal(&ex->wakeup);
    pthread_mutex_unlock(&ex->lock);
}

/* Make sure t is polled (again) after this call. Any thread.
 *
 *   COMPLETE                 nothing: a finished task is never polled again
 *   neither SCHEDULED nor    set SCHEDULED, and queue it: we are the one
 *     RUNNING                thread that made the flag go from 0 to 1
 *   RUNNING                  set SCHEDULED only: the executor sees it when
 *                            the poll ends and queues the task itself
 *   SCHEDULED already        nothing changes, but we still write the word:
 *                            the executor's next claim then reads our write
 *                            (acquire), so the poll it runs sees everything
 *                            this thread did before waking */
static void schedule(struct task *t)
{
    uint64_t cur = atomic_load_explicit(&t->state, memory_order_acquire);
    do {
        check_state(cur);
        if (cur & COMPLETE)
            return;
    } while (!CAS(&t->state, &cur, cur | SCHEDULED));
    if (!(cur & SCHEDULED))
        trace_wake(t->id, t->name); /* see "Tracing" below */
    if (!(cur & (SCHEDULED | RUNNING)))
        push_ready(t);
}

/* Take the oldest ready task, sleeping while there is none. Returns NULL
 * once the executor is shut down and has no task left. */
static struct task *next_ready(struct executor *ex)
{
    pthread_mutex_lock(&ex->lock);
    while (ex->ready_head == NULL) {
        if (ex->pending == 0 && ex->shut_down) {
            pthread_mutex_unlock(&ex->lock);
            return NULL;
        }
        trace_park_begin("condvar");
        pthread_cond_wait(&ex->wakeup, &ex->lock);
        trace_park_end();
    }
    struct task *t = ex->ready_head;
    ex->ready_head = t->next_ready;
    if (ex->ready_head == NULL)
        ex->ready_tail = NULL;
    pthread_mutex_unlock(&ex->lock);
    return t;
}

/* ===== Wakers ===== */

static const struct waker_vtable task_waker_vtable;

static struct waker task_waker_clone(void *data)
{
    task_ref(data);
    return (struct waker){.data = data, .vtable = &task_waker_vtable};
}

static void task_waker_wake_by_ref(void *data)
{
    schedule(data);
}

static void task_waker_drop(void *data)
{
    task_unref(data);
}

static void task_waker_wake(void *data)
{
    schedule(data);
    task_unref(data);
}

static const struct waker_vtable task_waker_vtable = {
    .clone = task_waker_clone,
    .wake = task_waker_wake,
    .wake_by_ref = task_waker_wake_by_ref,
    .drop = task_waker_drop,
};

/* ===== Running a task ===== */

/* SCHEDULED -> RUNNING, in one fetch_xor: the task came off the ready
 * queue, so SCHEDULED is set and RUNNING and COMPLETE are clear. */
static void start_running(struct task *t)
{
    uint64_t prev = atomic_fetch_xor_explicit(&t->state, SCHEDULED | RUNNING, memory_order_acq_rel);
    check_state(prev);
    assert((prev & (SCHEDULED | RUNNING | COMPLETE)) == SCHEDULED);
}

/* RUNNING -> idle after POLL_PENDING, in one fetch_and. If a waker set
 * SCHEDULED during the poll it did not queue the task (RUNNING was set),
 * so queueing it is our job. */
static void stop_running(struct task *t)
{
    uint64_t prev = atomic_fetch_and_explicit(&t->state, ~RUNNING, memory_order_acq_rel);
    check_state(prev);
    assert((prev & (RUNNING | COMPLETE)) == RUNNING);
#ifndef BUG_LOSE_WAKE /* exercise 1 (README.md) */
    if (prev & SCHEDULED)
        push_ready(t);
#endif
}

/* RUNNING -> COMPLETE after POLL_READY (a CAS loop: SCHEDULED may or may
 * not be set, and is cleared with RUNNING). The result is in t->output;
 * the release of the CAS publishes it to whoever sees COMPLETE. If
 * JOIN_WAKER was set, the join waker is ours now: wake it. */
static void complete(struct task *t)
{
    /* LESSON complete: RUNNING -> COMPLETE in one CAS loop; then wake the join waker if it was set.
     * hint: Load t->state; in a CAS loop (check_state and assert RUNNING without
     *   COMPLETE on each value seen) clear RUNNING and SCHEDULED and set COMPLETE.
     *   If the value the CAS replaced had JOIN_WAKER, the waker is yours: wake a
     *   copy of t->join_waker (the handle may still be reading the slot).
     * stub:
     *   (void) t;
     *   lesson_missing("complete"); */
    uint64_t cur = atomic_load_explicit(&t->state, memory_order_acquire);
    do {
        check_state(cur);
        assert((cur & (RUNNING | COMPLETE)) == RUNNING);
    } while (!CAS(&t->state, &cur, (cur & ~(RUNNING | SCHEDULED)) | COMPLETE));
    if (cur & JOIN_WAKER) {
        /* Wake a copy: the handle may still be reading the slot (to
           compare wakers) as long as it has not seen COMPLETE, so the
           slot is only ever read from here on, never written. */
        struct waker waker = t->join_waker;
        waker_wake(&waker);
    }
    /* END LESSON complete */
}

/* Poll one task with a waker that points at it. The waker only borrows the
 * executor's reference; a future that wants to keep it clones it. */
static void run_task(struct executor *ex, struct task *t)
{
    start_running(t);
    struct waker waker = {.data = t, .vtable = &task_waker_vtable};
    void *output = t->output_size > 0 ? t->output : NULL;
    trace_poll_begin(t->id, t->name);
    enum poll_status status = t->future->poll(t->future, &waker, output);
    trace_poll_end(t->id, status == POLL_READY);
    if (status == POLL_PENDING) {
        stop_running(t);
        return;
    }
    t->future->drop(t->future);
    t->future = NULL;
    complete(t);
    pthread_mutex_lock(&ex->lock);
    ex->pending--;
    pthread_mutex_unlock(&ex->lock);
    task_unref(t); /* the executor's reference */
}

/* ===== Join handles ===== */

static enum poll_status join_poll(struct future *self, const struct waker *waker, void *output);

static struct join_handle *as_join_handle(struct future *f)
{
    assert(f->poll == join_poll && "not a join handle");
    return (struct join_handle *) f;
}

/* Hand the join waker slot to the task side: set JOIN_WAKER, unless the
 * task completed meanwhile (then return false; the slot stays ours). */
static bool give_join_waker(struct task *t)
{
    uint64_t cur = atomic_load_explicit(&t->state, memory_order_acquire);
    do {
        check_state(cur);
        assert((cur & (JOIN_INTEREST | JOIN_WAKER)) == JOIN_INTEREST);
        if (cur & COMPLETE)
            return false;
    } while (!CAS(&t->state, &cur, cur | JOIN_WAKER));
    return true;
}

/* Take the slot back: clear JOIN_WAKER, unless the task completed
 * meanwhile (then return false: its executor has the waker to wake). */
static bool take_join_waker(struct task *t)
{
    uint64_t cur = atomic_load_explicit(&t->state, memory_order_acquire);
    do {
        check_state(cur);
        assert((cur & (JOIN_INTEREST | JOIN_WAKER)) == (JOIN_INTEREST | JOIN_WAKER));
        if (cur & COMPLETE)
            return false;
    } while (!CAS(&t->state, &cur, cur & ~JOIN_WAKER));
    return true;
}

static enum poll_status join_poll(struct future *self, const struct waker *waker, void *output)
{
    struct join_handle *h = as_join_handle(self);
    struct task *t = h->task;
    assert(!h->done && "join handle polled after it completed");
    uint64_t cur = atomic_load_explicit(&t->state, memory_order_acquire);
    check_state(cur);
    assert(cur & JOIN_INTEREST);
    if (!(cur & COMPLETE)) {
        if (cur & JOIN_WAKER) {
            /* Polled again, by the same task as last time? Then the stored
               waker is right, and reading it is safe: the completing side
               only ever reads it too. */
            if (waker_will_wake(&t->join_waker, waker))
                return POLL_PENDING;
            if (!take_join_waker(t))
                goto finished;
            waker_drop(&t->join_waker);
        }
        t->join_waker = waker_clone(waker);
        if (give_join_waker(t))
            return POLL_PENDING;    /* complete() will wake it */
        waker_drop(&t->join_waker); /* finished meanwhile: nobody will wake it */
    }
finished:
    if (output != NULL && t->output_size > 0)
        memcpy(output, t->output, t->output_size);
    h->done = true;
    return POLL_READY;
}

/* Clear JOIN_INTEREST (and take back the join waker if the task side has
 * it and has not completed), then give back the handle's reference. */
static void join_drop(struct future *self)
{
    struct join_handle *h = as_join_handle(self);
    struct task *t = h->task;
    uint64_t cur = atomic_load_explicit(&t->state, memory_order_acquire), next;
    do {
        check_state(cur);
        assert(cur & JOIN_INTEREST);
        next = cur & ~JOIN_INTEREST;
        if (!(cur & COMPLETE))
            next &= ~JOIN_WAKER;
    } while (!CAS(&t->state, &cur, next));
#ifndef BUG_KEEP_JOIN_WAKER /* exercise 2 (README.md) */
    if ((cur & (COMPLETE | JOIN_WAKER)) == JOIN_WAKER)
        waker_drop(&t->join_waker); /* taken back before the task could wake it */
#endif
    task_unref(t);
    free(h);
}

bool join_is_finished(struct future *handle)
{
    struct join_handle *h = as_join_handle(handle);
    return atomic_load_explicit(&h->task->state, memory_order_acquire) & COMPLETE;
}

void join_detach(struct future *handle)
{
    handle->drop(handle);
}

/* ===== Tracing =====
 *
 * With ASYNC_TRACE set (common/trace.h), each task gets a number and a name
 * at spawn; polls, parks and wakes are traced where they happen. schedule()
 * traces a wake when its CAS set SCHEDULED, the one wake that made the task
 * runnable. A task that was idle cannot be polled before that wake is
 * traced (the waker queues it afterwards); one that was RUNNING is queued
 * again by its executor when the poll ends, and if the waker's thread is
 * slow to trace, that next poll may begin first: then the trace shows the
 * wake a little late, its arrow pointing at the poll after. */

/* Give t a number and a name for the trace, and trace its spawn. Not
 * tracing, it gets neither: the name is not even formatted. */
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

/* ===== Spawning ===== */

static struct future *spawn(struct executor *ex, struct future *future, size_t output_size,
                            const char *name, va_list args)
{
    assert(ex != NULL && future != NULL);
    struct task *t = xmalloc(sizeof *t + output_size);
    struct join_handle *h = xmalloc(sizeof *h);
    atomic_fetch_add_explicit(&live_tasks, 1, memory_order_relaxed);
    /* Two references: the executor's (until complete) and the handle's. */
    atomic_init(&t->state, SCHEDULED | JOIN_INTEREST | 2 * REF_ONE);
    t->executor = ex;
    t->future = future;
    t->next_ready = NULL;
    t->join_waker = (struct waker){NULL, NULL};
    t->output_size = output_size;
    name_task(t, name, args);
    h->base = (struct future){.poll = join_poll, .drop = join_drop};
    h->task = t;
    h->done = false;

    atomic_fetch_add_explicit(&ex->refs, 1, memory_order_relaxed);
    pthread_mutex_lock(&ex->lock);
    assert((!ex->shut_down || current == ex) && "spawn onto an executor that was shut down");
    ex->pending++;
    pthread_mutex_unlock(&ex->lock);
    push_ready(t); /* SCHEDULED from birth: we queue it */
    return &h->base;
}

struct future *executor_spawn_on(struct executor *ex, struct future *future, size_t output_size,
                                 const char *name, ...)
{
    va_list args;
    va_start(args, name);
    struct future *handle = spawn(ex, future, output_size, name, args);
    va_end(args);
    return handle;
}

struct future *executor_spawn(struct future *future, size_t output_size, const char *name, ...)
{
    assert(current != NULL && "executor_spawn() outside a task");
    va_list args;
    va_start(args, name);
    struct future *handle = spawn(current, future, output_size, name, args);
    va_end(args);
    return handle;
}

const char *executor_name(void)
{
    assert(current != NULL && "executor_name() outside a task");
    return current->name;
}

/* ===== Executors ===== */

struct executor *executor_new(const char *name)
{
    struct executor *ex = xmalloc(sizeof *ex);
    atomic_init(&ex->refs, 1); /* the caller's */
    check_pthread(pthread_mutex_init(&ex->lock, NULL), "pthread_mutex_init");
    check_pthread(pthread_cond_init(&ex->wakeup, NULL), "pthread_cond_init");
    ex->ready_head = ex->ready_tail = NULL;
    ex->pending = 0;
    ex->shut_down = false;
    ex->ran = false;
    snprintf(ex->name, sizeof ex->name, "%s", name);
    return ex;
}

void executor_run(struct executor *ex)
{
    assert(current == NULL && "executor_run() is not reentrant");
    pthread_mutex_lock(&ex->lock);
    assert(!ex->ran && "executor_run() twice on one executor");
    ex->ran = true;
    pthread_mutex_unlock(&ex->lock);
    current = ex;
    trace_thread("%s", ex->name); /* this thread's track in a trace */
    struct task *t;
    while ((t = next_ready(ex)) != NULL)
        run_task(ex, t);
    current = NULL;
}

void executor_shutdown(struct executor *ex)
{
    pthread_mutex_lock(&ex->lock);
    ex->shut_down = true;
    pthread_cond_signal(&ex->wakeup);
    pthread_mutex_unlock(&ex->lock);
}

void executor_free(struct executor *ex)
{
    executor_unref(ex);
}

void executor_block_on(const char *name, struct future *main)
{
    struct executor *ex = executor_new(name);
    trace_thread("%s", name); /* before the spawn: executor_run() would name it later */
    join_detach(executor_spawn_on(ex, main, 0, "%s", name));
    executor_shutdown(ex);
    executor_run(ex);
    executor_free(ex);
}
