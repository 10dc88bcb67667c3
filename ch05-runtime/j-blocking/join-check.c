/* join-check.c: a test driver for ch05-runtime step f's join handles:
 * awaited before and after their task finished, re-polled with another
 * waker, dropped while the task is pending, detached, raced against the
 * task's completion, and a stress run of thousands of spawn/join pairs
 * between tasks on several threads. Step j adds aborts (while pending,
 * after completion, raced against completion on other threads) and
 * blocking calls (results, the pool's size, an abort before a call
 * starts). Its -asan and -tsan builds show that
 * none of it leaks, touches freed memory or races. Prints one line per check
 * that passed; the first check that fails prints FAILED and exits 1. Lines
 * starting with "info:" vary run to run. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/args.h"
#include "../../common/clock.h"
#include "../../common/errors.h"
#include "executor.h"
#include "future.h"

#define EXECUTORS 4         /* each on a thread of its own */
#define DEFAULT_PAIRS 10000 /* spawn/join pairs in the stress run */
#define MAX_PAIRS 10000000  /* --pairs: more than this is surely a typo */
#define TIMEOUT_MS 10000    /* a check that waits longer has failed */
#define BATCH 16            /* children a parent spawns before joining them */
#define RACES 3000          /* handles raced against their task's completion */
#define ABORT_RACES 3000    /* aborts raced against their task's completion */
#define CALLS 64            /* blocking calls in the pool check */

static void check(bool ok, const char *what)
{
    if (!ok) {
        printf("FAILED: %s\n", what);
        exit(1);
    }
}

/* Wait (politely) until live task structs are down to `n`. */
static bool wait_for_live_tasks(size_t n)
{
    for (int waited = 0; waited < TIMEOUT_MS; waited++) {
        if (executor_live_tasks() == n)
            return true;
        sleep_blocking_ms(1);
    }
    return false;
}

/* Wait (politely) until the task behind a join handle has finished. */
static void wait_until_finished(struct future *handle)
{
    for (int waited = 0; !join_is_finished(handle); waited++) {
        check(waited < TIMEOUT_MS, "a task that could finish at once never finished");
        sleep_blocking_ms(1);
    }
}

/* ===== A waker that counts =====
 *
 * Not a task's waker: the checks poll join handles straight from the main
 * thread with it, so they can count exactly how often a handle cloned,
 * woke and dropped the waker it was given. */

struct counter {
    atomic_int alive; /* clones not yet woken or dropped */
    atomic_int wakes;
    pthread_mutex_t lock; /* with `woken`: wait for a wake */
    pthread_cond_t woken;
};

static const struct waker_vtable counter_vtable;

static struct waker counter_clone(void *data)
{
    struct counter *c = data;
    atomic_fetch_add(&c->alive, 1);
    return (struct waker){data, &counter_vtable};
}

static void counter_wake_by_ref(void *data)
{
    struct counter *c = data;
    pthread_mutex_lock(&c->lock);
    atomic_fetch_add(&c->wakes, 1);
    pthread_cond_broadcast(&c->woken);
    pthread_mutex_unlock(&c->lock);
}

static void counter_drop(void *data)
{
    struct counter *c = data;
    atomic_fetch_sub(&c->alive, 1);
}

/* Consume the clone before announcing the wake: whoever waits for the
 * wake then finds the count of live clones already up to date. */
static void counter_wake(void *data)
{
    counter_drop(data);
    counter_wake_by_ref(data);
}

static const struct waker_vtable counter_vtable = {
    .clone = counter_clone,
    .wake = counter_wake,
    .wake_by_ref = counter_wake_by_ref,
    .drop = counter_drop,
};

static void counter_init(struct counter *c)
{
    atomic_init(&c->alive, 0);
    atomic_init(&c->wakes, 0);
    check_pthread(pthread_mutex_init(&c->lock, NULL), "pthread_mutex_init");
    check_pthread(pthread_cond_init(&c->woken, NULL), "pthread_cond_init");
}

static void counter_destroy(struct counter *c)
{
    pthread_cond_destroy(&c->woken);
    pthread_mutex_destroy(&c->lock);
}

/* The waker to pass to poll(): borrowed, so it is not counted as alive. */
static struct waker counter_waker(struct counter *c)
{
    return (struct waker){.data = c, .vtable = &counter_vtable};
}

/* Wait until c has been woken at least n times. */
static bool wait_for_wakes(struct counter *c, int n)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += TIMEOUT_MS / 1000;
    pthread_mutex_lock(&c->lock);
    int err = 0;
    while (atomic_load(&c->wakes) < n && err != ETIMEDOUT)
        err = pthread_cond_timedwait(&c->woken, &c->lock, &deadline);
    pthread_mutex_unlock(&c->lock);
    return atomic_load(&c->wakes) >= n;
}

/* Await a join handle from a plain thread: poll, sleep until woken, poll
 * again. Drops the handle, and says whether its task was aborted. */
static bool join_blocking(struct future *handle, void *output)
{
    struct counter c;
    counter_init(&c);
    struct waker w = counter_waker(&c);
    int polls = 0;
    while (handle->poll(handle, &w, output) == POLL_PENDING)
        check(wait_for_wakes(&c, ++polls), "a join handle never woke the thread awaiting it");
    bool aborted = join_is_aborted(handle);
    handle->drop(handle);
    check(atomic_load(&c.alive) == 0, "a join handle kept a clone of a waker after it was done");
    counter_destroy(&c);
    return aborted;
}

/* ===== A result bigger than a word ===== */

struct result {
    uint64_t index;
    uint64_t square;
    char tag[24];
};

static void make_result(struct result *r, uint64_t index)
{
    memset(r, 0, sizeof *r);
    r->index = index;
    r->square = index * index;
    snprintf(r->tag, sizeof r->tag, "child-%" PRIu64, index);
}

static bool result_is(const struct result *r, uint64_t index)
{
    struct result expected;
    make_result(&expected, index);
    return memcmp(r, &expected, sizeof expected) == 0;
}

/* ===== A gate: a future that waits until another thread opens it ===== */

struct gate {
    pthread_mutex_t lock;
    bool open;
    struct waker waiter; /* clone of the waker of the last poll; vtable NULL if none */
};

static void gate_init(struct gate *g)
{
    check_pthread(pthread_mutex_init(&g->lock, NULL), "pthread_mutex_init");
    g->open = false;
    g->waiter = (struct waker){NULL, NULL};
}

static void gate_open(struct gate *g)
{
    pthread_mutex_lock(&g->lock);
    g->open = true;
    struct waker w = g->waiter;
    g->waiter = (struct waker){NULL, NULL};
    pthread_mutex_unlock(&g->lock);
    if (w.vtable != NULL)
        waker_wake(&w);
}

/* Has a task polled at the gate and left its waker there? */
static bool gate_has_waiter(struct gate *g)
{
    pthread_mutex_lock(&g->lock);
    bool waiting = g->waiter.vtable != NULL;
    pthread_mutex_unlock(&g->lock);
    return waiting;
}

/* A task that produces result(index) once its gate is open. */
struct gated {
    struct future base;
    struct gate *gate;
    uint64_t index;
    atomic_bool *dropped; /* set by drop, if not NULL */
};

static enum poll_status gated_poll(struct future *self, const struct waker *waker, void *output)
{
    struct gated *f = (struct gated *) self;
    struct waker old = {NULL, NULL};
    pthread_mutex_lock(&f->gate->lock);
    bool open = f->gate->open;
    if (!open) {
        old = f->gate->waiter;
        f->gate->waiter = waker_clone(waker);
    }
    pthread_mutex_unlock(&f->gate->lock);
    if (old.vtable != NULL)
        waker_drop(&old);
    if (!open)
        return POLL_PENDING;
    if (output != NULL)
        make_result(output, f->index);
    return POLL_READY;
}

static void gated_drop(struct future *self)
{
    struct gated *f = (struct gated *) self;
    if (f->dropped != NULL)
        atomic_store(f->dropped, true);
    free(f);
}

static struct future *gated(struct gate *g, uint64_t index, atomic_bool *dropped)
{
    struct gated *f = malloc(sizeof *f);
    check(f != NULL, "out of memory");
    f->base = (struct future){.poll = gated_poll, .drop = gated_drop};
    f->gate = g;
    f->index = index;
    f->dropped = dropped;
    return &f->base;
}

/* ===== The checks on single handles ===== */

static struct executor *executors[EXECUTORS];

/* 1. The handle is polled before the task can finish: PENDING, then one
 *    wake when it finishes (on another thread), then READY with the result. */
static void await_before_completion(void)
{
    struct counter c;
    counter_init(&c);
    struct waker w = counter_waker(&c);
    struct gate g;
    gate_init(&g);
    struct future *h =
        executor_spawn_on(executors[1], gated(&g, 7, NULL), sizeof(struct result), "gated 7");
    struct result r;
    check(h->poll(h, &w, &r) == POLL_PENDING, "a handle was ready before its task could finish");
    check(h->poll(h, &w, &r) == POLL_PENDING, "a handle polled twice was ready too early");
    check(atomic_load(&c.alive) == 1,
          "a pending handle should keep exactly one clone of its waker");
    check(!join_is_finished(h), "join_is_finished() said yes before the task finished");
    gate_open(&g);
    check(wait_for_wakes(&c, 1), "the task finished but its handle's waker was never woken");
    check(h->poll(h, &w, &r) == POLL_READY, "a handle was not ready after its waker was woken");
    check(result_is(&r, 7), "the result that came through the handle is wrong");
    h->drop(h);
    check(wait_for_live_tasks(0),
          "the task was not freed after it finished and its handle was dropped");
    check(atomic_load(&c.wakes) == 1, "the waker was woken more than once");
    check(atomic_load(&c.alive) == 0, "a clone of the waker was leaked");
    counter_destroy(&c);
    printf("awaited before completion: pending, woken once from another thread, then the result\n");
}

/* 2. The task finishes first: the first poll of its handle is READY and
 *    stores no waker at all. */
static void await_after_completion(void)
{
    struct counter c;
    counter_init(&c);
    struct waker w = counter_waker(&c);
    struct gate g;
    gate_init(&g);
    gate_open(&g);
    struct future *h =
        executor_spawn_on(executors[2], gated(&g, 11, NULL), sizeof(struct result), "gated 11");
    wait_until_finished(h);
    struct result r;
    check(h->poll(h, &w, &r) == POLL_READY, "a handle of a finished task was not ready at once");
    check(result_is(&r, 11), "the result that came through the handle is wrong");
    check(atomic_load(&c.alive) == 0 && atomic_load(&c.wakes) == 0,
          "a handle of a finished task kept or woke a waker");
    h->drop(h);
    check(wait_for_live_tasks(0), "the task was not freed after its handle was dropped");
    counter_destroy(&c);
    printf("awaited after completion: ready on the first poll, no waker kept\n");
}

/* 3. Polled by one waker, then by another: the first clone goes back, only
 *    the second is woken. */
static void repoll_with_another_waker(void)
{
    struct counter first, second;
    counter_init(&first);
    counter_init(&second);
    struct waker w1 = counter_waker(&first), w2 = counter_waker(&second);
    struct gate g;
    gate_init(&g);
    struct future *h =
        executor_spawn_on(executors[1], gated(&g, 3, NULL), sizeof(struct result), "gated 3");
    struct result r;
    check(h->poll(h, &w1, &r) == POLL_PENDING, "a handle was ready too early");
    check(h->poll(h, &w2, &r) == POLL_PENDING, "a handle was ready too early");
    check(atomic_load(&first.alive) == 0,
          "the handle kept the old waker after a poll with a new one");
    check(atomic_load(&second.alive) == 1, "the handle did not keep the new waker");
    gate_open(&g);
    check(wait_for_wakes(&second, 1), "the newest waker was not woken");
    check(h->poll(h, &w2, &r) == POLL_READY && result_is(&r, 3), "wrong result after a re-poll");
    h->drop(h);
    check(wait_for_live_tasks(0), "the task was not freed");
    check(atomic_load(&first.wakes) == 0, "a waker replaced by a newer one was woken");
    counter_destroy(&first);
    counter_destroy(&second);
    printf("re-polled with another waker: the old clone dropped, only the new one woken\n");
}

/* Spawn gated(index) on ex behind a closed gate, and poll its handle once
 * with a waker counted by *c: it must be pending. */
static struct future *spawn_pending(struct executor *ex, uint64_t index, struct counter *c,
                                    struct gate *g, atomic_bool *dropped)
{
    counter_init(c);
    gate_init(g);
    atomic_init(dropped, false);
    struct future *h = executor_spawn_on(ex, gated(g, index, dropped), sizeof(struct result),
                                         "gated %" PRIu64, index);
    struct waker w = counter_waker(c);
    struct result r;
    check(h->poll(h, &w, &r) == POLL_PENDING, "a handle was ready too early");
    return h;
}

/* 4. The handle is dropped while its task is pending, after it stored a
 *    waker: the waker goes back at once, the task runs on and is freed, and
 *    the dropped waker is never woken. */
static void drop_pending_handle(void)
{
    struct counter c;
    struct gate g;
    atomic_bool dropped;
    struct future *h = spawn_pending(executors[3], 5, &c, &g, &dropped);
    h->drop(h);
    check(atomic_load(&c.alive) == 0, "a dropped handle still holds its waker");
    check(executor_live_tasks() == 1, "the pending task went away with its handle");
    gate_open(&g);
    check(wait_for_live_tasks(0), "a task whose handle was dropped was never freed");
    check(atomic_load(&dropped), "a task whose handle was dropped never finished");
    check(atomic_load(&c.wakes) == 0, "the waker of a dropped handle was woken");
    counter_destroy(&c);
    printf("dropped while pending: its waker given back at once, the task still finished and was "
           "freed\n");
}

/* 5. Detached at once, never polled; and a finished task whose result is
 *    never read. Both run to completion and are freed. */
static void detach(void)
{
    struct gate g;
    gate_init(&g);
    atomic_bool dropped;
    atomic_init(&dropped, false);
    join_detach(
        executor_spawn_on(executors[1], gated(&g, 9, &dropped), sizeof(struct result), "gated 9"));
    check(executor_live_tasks() == 1, "a detached task went away before it ran");
    gate_open(&g);
    check(wait_for_live_tasks(0), "a detached task was never freed");
    check(atomic_load(&dropped), "a detached task never finished");

    struct gate open;
    gate_init(&open);
    gate_open(&open);
    struct future *h =
        executor_spawn_on(executors[2], gated(&open, 10, NULL), sizeof(struct result), "gated 10");
    wait_until_finished(h);
    check(executor_live_tasks() == 1, "a finished task went away while its handle is alive");
    join_detach(h); /* the executor may still hold its reference a moment */
    check(wait_for_live_tasks(0), "a finished task was not freed after its handle was dropped");
    printf("detached: ran to completion and freed, before or after it finished\n");
}

/* ===== The stress run =====
 *
 * One parent task per executor spawns its share of children round-robin
 * over all executors (its own included), BATCH at a time, and joins each
 * batch in order before it spawns the next. Children
 * yield a few times first (they wake themselves while running), so some are
 * finished when their parent gets to them and some are not. Every seventh
 * child is detached at once, and every seventh-plus-three is detached if it
 * is still pending when its parent first polls its handle. */

static atomic_uint_fast64_t children_finished;
static atomic_uint_fast64_t children_dropped;

struct child {
    struct future base;
    uint64_t index;
    int yields; /* polls left that return PENDING */
};

static enum poll_status child_poll(struct future *self, const struct waker *waker, void *output)
{
    struct child *c = (struct child *) self;
    if (c->yields > 0) {
        c->yields--;
        waker_wake_by_ref(waker); /* woken while running: queued again after this poll */
        return POLL_PENDING;
    }
    if (output != NULL)
        make_result(output, c->index);
    atomic_fetch_add(&children_finished, 1);
    return POLL_READY;
}

static void child_drop(struct future *self)
{
    atomic_fetch_add(&children_dropped, 1);
    free(self);
}

static struct future *child(uint64_t index)
{
    struct child *c = malloc(sizeof *c);
    check(c != NULL, "out of memory");
    c->base = (struct future){.poll = child_poll, .drop = child_drop};
    c->index = index;
    c->yields = (int) (index % 4);
    return &c->base;
}

/* 6. Race the handle against the completion on another thread: poll it
 *    with two wakers in turn while the task finishes (each poll takes the
 *    slot back and hands it over again), or poll once and drop it at once.
 *    Whatever the interleaving, every clone must come back exactly once. */
static void race_completion(void)
{
    struct counter first, second;
    counter_init(&first);
    counter_init(&second);
    struct waker w1 = counter_waker(&first), w2 = counter_waker(&second);
    uint64_t finished_before = atomic_load(&children_finished), not_ready = 0;
    for (uint64_t i = 0; i < RACES; i++) {
        struct future *h = executor_spawn_on(executors[i % EXECUTORS], child(i),
                                             sizeof(struct result), "child %" PRIu64, i);
        struct result r;
        if (i % 3 == 0) {
            if (h->poll(h, &w1, &r) == POLL_READY)
                check(result_is(&r, i), "the result that came through the handle is wrong");
            h->drop(h);
            continue;
        }
        for (int n = 0; h->poll(h, n % 2 ? &w1 : &w2, &r) == POLL_PENDING; n++) {
            not_ready++;
            sched_yield();
        }
        check(result_is(&r, i), "the result that came through the handle is wrong");
        h->drop(h);
    }
    check(wait_for_live_tasks(0), "a task raced by its handle was never freed");
    check(atomic_load(&children_finished) - finished_before == RACES,
          "a raced task never finished");
    check(atomic_load(&first.alive) == 0 && atomic_load(&second.alive) == 0,
          "a race between a handle and its task's completion leaked a waker clone");
    counter_destroy(&first);
    counter_destroy(&second);
    printf("info: %" PRIu64 " polls of raced handles found their task pending\n", not_ready);
    printf("%d handles raced against their task's completion: every waker clone came back\n",
           RACES);
}

/* ===== Aborts ===== */

static bool all_zero(const void *bytes, size_t n)
{
    const unsigned char *b = bytes;
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return false;
    return true;
}

/* 7. Aborted while pending: the future is dropped without another poll,
 *    the waker of the awaiting thread is woken once, the result is zero
 *    bytes. The clone the gate still holds keeps the task struct until the
 *    gate lets go of it; waking it then does nothing. */
static void abort_pending(void)
{
    struct counter c;
    struct gate g;
    atomic_bool dropped;
    struct future *h = spawn_pending(executors[1], 13, &c, &g, &dropped);
    struct waker w = counter_waker(&c);
    struct result r;
    for (int waited = 0; !gate_has_waiter(&g); waited++) { /* the task's first poll */
        check(waited < TIMEOUT_MS, "a spawned task was never polled");
        sleep_blocking_ms(1);
    }
    join_abort(h);
    join_abort(h); /* twice is allowed, and changes nothing */
    check(wait_for_wakes(&c, 1), "an aborted task's handle never woke the thread awaiting it");
    check(atomic_load(&dropped), "an aborted task's future was not dropped");
    check(join_is_aborted(h), "join_is_aborted() says no after an abort of a pending task");
    check(h->poll(h, &w, &r) == POLL_READY, "an aborted task's handle was not ready");
    check(all_zero(&r, sizeof r), "an aborted task's result is not zero bytes");
    h->drop(h);
    check(executor_live_tasks() == 1, "the gate's waker clone no longer keeps the task struct");
    gate_open(&g); /* wakes a complete task: nothing happens, and the clone goes */
    check(wait_for_live_tasks(0), "an aborted task was never freed");
    check(atomic_load(&c.wakes) == 1 && atomic_load(&c.alive) == 0,
          "the awaiting waker was woken more than once, or leaked");
    counter_destroy(&c);
    printf("aborted while pending: dropped without another poll, the awaiting waker woken once, "
           "a zero result\n");
}

/* 8. Aborted after it finished: nothing changes, the result stands. */
static void abort_after_completion(void)
{
    struct gate g;
    gate_init(&g);
    gate_open(&g);
    struct future *h =
        executor_spawn_on(executors[2], gated(&g, 17, NULL), sizeof(struct result), "gated 17");
    wait_until_finished(h);
    join_abort(h);
    check(!join_is_aborted(h), "join_is_aborted() says yes for a task that finished first");
    struct result r;
    join_blocking(h, &r);
    check(result_is(&r, 17), "an abort after completion changed the result");
    check(wait_for_live_tasks(0), "the task was not freed");
    printf("aborted after completion: nothing changes, the result stands\n");
}

/* 9. Aborts raced against completion on the executors' threads: busy
 *    children (they wake themselves during their polls, so they are
 *    SCHEDULED or RUNNING when the abort lands) and children waiting at a
 *    gate (idle) that the main thread opens just before or just after it
 *    aborts. Each must end exactly one way: completed with its own result,
 *    or aborted with zero bytes; its future dropped exactly once. */
static void race_aborts(void)
{
    uint64_t dropped_before = atomic_load(&children_dropped);
    uint64_t aborted = 0, completed = 0, gated_dropped = 0;
    for (uint64_t i = 0; i < ABORT_RACES; i++) {
        struct executor *ex = executors[i % EXECUTORS];
        bool at_gate = i % 2 == 1, open_first = i % 4 == 1;
        struct gate g;
        gate_init(&g);
        atomic_bool dropped;
        atomic_init(&dropped, false);
        struct future *h = at_gate ? gated(&g, i, &dropped) : child(i);
        h = executor_spawn_on(ex, h, sizeof(struct result), "raced %" PRIu64, i);
        for (uint64_t spin = i % 5; spin > 0; spin--)
            sched_yield(); /* let the task get a little further, or not */
        if (at_gate && open_first)
            gate_open(&g);
        join_abort(h);
        if (at_gate && !open_first)
            gate_open(&g);
        struct result r;
        if (join_blocking(h, &r)) {
            check(all_zero(&r, sizeof r), "an aborted task's result is not zero bytes");
            aborted++;
        } else {
            check(result_is(&r, i), "a task that completed before its abort lost its result");
            completed++;
        }
        gated_dropped += atomic_load(&dropped);
    }
    check(wait_for_live_tasks(0), "a task raced by an abort was never freed");
    check(atomic_load(&children_dropped) - dropped_before + gated_dropped == ABORT_RACES,
          "a raced task's future was dropped twice, or never");
    check(aborted > 0, "no abort ever won its race: the check proves nothing");
    printf("info: %" PRIu64 " aborted, %" PRIu64 " completed first\n", aborted, completed);
    printf("%d aborts raced against completion: each task aborted or completed, never both\n",
           ABORT_RACES);
}

/* ===== Blocking calls ===== */

static atomic_int calls_running, most_calls_running;

/* A blocking call: index * index, after holding its thread a moment. */
static void square_call(void *arg, void *output)
{
    int now = atomic_fetch_add(&calls_running, 1) + 1;
    int most = atomic_load(&most_calls_running);
    while (now > most && !atomic_compare_exchange_weak(&most_calls_running, &most, now))
        ;
    sleep_blocking_ms(1);
    uint64_t index = (uint64_t) (uintptr_t) arg;
    make_result(output, index);
    atomic_fetch_sub(&calls_running, 1);
}

/* A task that spawns CALLS blocking calls and awaits them in order. */
struct caller {
    struct future base;
    uint64_t first;
    struct future *handles[CALLS];
    int next;
    bool spawned;
};

static enum poll_status caller_poll(struct future *self, const struct waker *waker, void *output)
{
    struct caller *c = (struct caller *) self;
    (void) output;
    if (!c->spawned) {
        for (int i = 0; i < CALLS; i++)
            c->handles[i] = spawn_blocking(
                square_call, (void *) (uintptr_t) (c->first + (uint64_t) i), sizeof(struct result),
                "blocking: square %" PRIu64, c->first + (uint64_t) i);
        c->spawned = true;
    }
    for (; c->next < CALLS; c->next++) {
        struct future *h = c->handles[c->next];
        struct result r;
        if (h->poll(h, waker, &r) == POLL_PENDING)
            return POLL_PENDING;
        check(result_is(&r, c->first + (uint64_t) c->next), "a blocking call gave a wrong result");
        h->drop(h);
    }
    return POLL_READY;
}

static void caller_drop(struct future *self)
{
    free(self);
}

/* A call that blocks until the main thread lets it go. */
struct held {
    pthread_mutex_t lock;
    pthread_cond_t released;
    bool release;
    atomic_int started;
};

static void held_call(void *arg, void *output)
{
    struct held *held = arg;
    atomic_fetch_add(&held->started, 1);
    pthread_mutex_lock(&held->lock);
    while (!held->release)
        pthread_cond_wait(&held->released, &held->lock);
    pthread_mutex_unlock(&held->lock);
    *(int *) output = 1;
}

/* 10. Blocking calls: results through handles awaited by tasks on every
 *     executor, never more than BLOCKING_THREADS at once; a call aborted
 *     while it waits for a thread never runs. */
static void blocking_calls(void)
{
    struct future *callers[EXECUTORS];
    for (int i = 0; i < EXECUTORS; i++) {
        struct caller *c = calloc(1, sizeof *c);
        check(c != NULL, "out of memory");
        c->base = (struct future){.poll = caller_poll, .drop = caller_drop};
        c->first = (uint64_t) i * CALLS;
        callers[i] = executor_spawn_on(executors[i], &c->base, 0, "caller %d", i);
    }
    for (int i = 0; i < EXECUTORS; i++)
        join_blocking(callers[i], NULL);
    check(atomic_load(&most_calls_running) <= BLOCKING_THREADS,
          "more blocking calls ran at once than the pool has threads");

    struct held held = {.release = false};
    check_pthread(pthread_mutex_init(&held.lock, NULL), "pthread_mutex_init");
    check_pthread(pthread_cond_init(&held.released, NULL), "pthread_cond_init");
    atomic_init(&held.started, 0);
    struct future *busy[BLOCKING_THREADS];
    for (int i = 0; i < BLOCKING_THREADS; i++)
        busy[i] = spawn_blocking(held_call, &held, sizeof(int), "blocking: held %d", i);
    for (int waited = 0; atomic_load(&held.started) < BLOCKING_THREADS; waited++) {
        check(waited < TIMEOUT_MS, "the pool never ran its calls side by side");
        sleep_blocking_ms(1);
    }
    struct future *queued = spawn_blocking(held_call, &held, sizeof(int), "blocking: queued");
    join_abort(queued);
    pthread_mutex_lock(&held.lock);
    held.release = true;
    pthread_cond_broadcast(&held.released);
    pthread_mutex_unlock(&held.lock);
    int r;
    join_blocking(queued, &r);
    check(r == 0 && atomic_load(&held.started) == BLOCKING_THREADS,
          "a blocking call aborted before it started ran all the same");
    for (int i = 0; i < BLOCKING_THREADS; i++) {
        join_blocking(busy[i], &r);
        check(r == 1, "a blocking call gave a wrong result");
    }
    check(wait_for_live_tasks(0), "task structs are left after the blocking calls");
    printf("%d blocking calls awaited from %d executors, at most %d at once; one aborted "
           "before it started never ran\n",
           EXECUTORS * CALLS, EXECUTORS, BLOCKING_THREADS);
}

struct parent_summary {
    uint64_t joined; /* results read through a handle */
    uint64_t detached;
    uint64_t ready_at_once; /* handles ready on their first poll */
    uint64_t index_sum;     /* of every child joined or detached */
};

struct parent {
    struct future base;
    int id;
    uint64_t first, count;   /* children first .. first + count - 1 */
    struct future **handles; /* NULL once joined or detached */
    uint64_t spawned;        /* children spawned so far */
    uint64_t next;           /* the handle being joined */
    bool polled_next;        /* handles[next] was polled before */
    struct parent_summary summary;
};

/* Spawn the next batch of children (called when all earlier ones are
 * joined or detached). */
static void spawn_batch(struct parent *p)
{
    uint64_t end = p->spawned + BATCH < p->count ? p->spawned + BATCH : p->count;
    for (; p->spawned < end; p->spawned++) {
        uint64_t i = p->spawned, index = p->first + i;
        struct executor *ex = executors[(p->id + i) % EXECUTORS];
        p->handles[i] =
            executor_spawn_on(ex, child(index), sizeof(struct result), "child %" PRIu64, index);
        if (index % 7 == 0) { /* detach it at once */
            join_detach(p->handles[i]);
            p->handles[i] = NULL;
            p->summary.detached++;
            p->summary.index_sum += index;
        }
    }
}

static enum poll_status parent_poll(struct future *self, const struct waker *waker, void *output)
{
    struct parent *p = (struct parent *) self;
    if (p->handles == NULL) {
        p->handles = calloc(p->count, sizeof *p->handles);
        check(p->handles != NULL, "out of memory");
    }
    for (; p->next < p->count; p->next++, p->polled_next = false) {
        if (p->next == p->spawned)
            spawn_batch(p);
        struct future *h = p->handles[p->next];
        if (h == NULL)
            continue;
        uint64_t index = p->first + p->next;
        struct result r;
        if (h->poll(h, waker, &r) == POLL_PENDING) {
            if (index % 7 == 3) { /* drop it while it is pending */
                join_detach(h);
                p->handles[p->next] = NULL;
                p->summary.detached++;
                p->summary.index_sum += index;
                continue;
            }
            p->polled_next = true;
            return POLL_PENDING;
        }
        check(result_is(&r, index), "a join handle gave the result of another task");
        p->summary.ready_at_once += !p->polled_next;
        p->summary.joined++;
        p->summary.index_sum += index;
        h->drop(h);
        p->handles[p->next] = NULL;
    }
    if (output != NULL)
        *(struct parent_summary *) output = p->summary;
    return POLL_READY;
}

static void parent_drop(struct future *self)
{
    struct parent *p = (struct parent *) self;
    free(p->handles);
    free(p);
}

static struct future *parent(int id, uint64_t first, uint64_t count)
{
    struct parent *p = calloc(1, sizeof *p);
    check(p != NULL, "out of memory");
    p->base = (struct future){.poll = parent_poll, .drop = parent_drop};
    p->id = id;
    p->first = first;
    p->count = count;
    return &p->base;
}

static void stress(uint64_t pairs)
{
    uint64_t finished_before = atomic_load(&children_finished);
    struct future *parents[EXECUTORS];
    uint64_t first = 0;
    for (int i = 0; i < EXECUTORS; i++) {
        uint64_t count = pairs / EXECUTORS + ((uint64_t) i < pairs % EXECUTORS);
        parents[i] = executor_spawn_on(executors[i], parent(i, first, count),
                                       sizeof(struct parent_summary), "parent %d", i);
        first += count;
    }
    struct parent_summary total = {0, 0, 0, 0};
    for (int i = 0; i < EXECUTORS; i++) {
        struct parent_summary s;
        join_blocking(parents[i], &s);
        total.joined += s.joined;
        total.detached += s.detached;
        total.ready_at_once += s.ready_at_once;
        total.index_sum += s.index_sum;
    }
    check(total.joined + total.detached == pairs, "a child was neither joined nor detached");
    check(total.index_sum == pairs * (pairs - 1) / 2, "a child was counted twice, or not at all");
    check(wait_for_live_tasks(0), "task structs are left after the stress run");
    check(atomic_load(&children_finished) - finished_before == pairs,
          "a child (joined or detached) never finished");
    printf("info: %" PRIu64 " joined (%" PRIu64 " ready on the first poll), %" PRIu64 " detached\n",
           total.joined, total.ready_at_once, total.detached);
    printf(
        "%" PRIu64
        " spawn/join pairs across %d threads: every result right, every task finished and freed\n",
        pairs, EXECUTORS);
}

/* ===== Main ===== */

static void *run_executor(void *arg)
{
    executor_run(arg);
    return NULL;
}

int main(int argc, char **argv)
{
    unsigned long long pairs = DEFAULT_PAIRS;

    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        if (argc > 2) {
            fprintf(stderr, "join-check: unexpected argument '%s' after --help (try --help)\n",
                    argv[2]);
            return 2;
        }
        printf("usage: join-check [--pairs N]\n"
               "Checks join handles in every order of events, then runs N spawn/join pairs\n"
               "(default %d, at most %d) between tasks on %d threads.\n",
               DEFAULT_PAIRS, MAX_PAIRS, EXECUTORS);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--pairs") != 0) {
            fprintf(stderr, "join-check: unknown argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
        const char *value = i + 1 < argc ? argv[++i] : "";
        if (parse_count(value, 1, MAX_PAIRS, &pairs) < 0) {
            fprintf(stderr, "join-check: --pairs wants a number from 1 to %d, not '%s'\n",
                    MAX_PAIRS, value);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    pthread_t threads[EXECUTORS];
    for (int i = 0; i < EXECUTORS; i++) {
        char name[16];
        snprintf(name, sizeof name, "exec-%d", i);
        executors[i] = executor_new(name);
        check(pthread_create(&threads[i], NULL, run_executor, executors[i]) == 0, "pthread_create");
    }
    await_before_completion();
    await_after_completion();
    repoll_with_another_waker();
    drop_pending_handle();
    detach();
    race_completion();
    abort_pending();
    abort_after_completion();
    race_aborts();
    blocking_calls();
    stress(pairs);
    for (int i = 0; i < EXECUTORS; i++) {
        executor_shutdown(executors[i]);
        pthread_join(threads[i], NULL);
        executor_free(executors[i]);
    }
    blocking_pool_shutdown();
    check(executor_live_tasks() == 0, "task structs are left after every executor finished");
    printf("all checks passed\n");
    return 0;
}
