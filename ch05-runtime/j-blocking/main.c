/* main.c: ch05-runtime step j: work that holds an executor's thread stalls
 * every other task of that executor. A ticker task that wants to run every
 * 10 ms measures it, beside six kinds of work; then three aborts. This is
 * corofy's input: `make corofy` turns the `coroutine` functions into state
 * machines in main_corofied.c, which is what gets compiled. */
/* corofy: waker */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/args.h"
#include "../../common/clock.h"
#include "../../common/errors.h"
#include "../../common/trace.h"
#include "executor.h"
#include "future.h"
#include "reactor.h"
#include "timer.h"

#define TICK_MS 10   /* the ticker's period */
#define SETTLE_MS 50 /* the ticker runs alone this long before and after the work */
#ifdef EXERCISE_1    /* README.md: yield less often */
#define SLICE_MS 20
#else
#define SLICE_MS 1 /* the yielding loop hashes this long between two yields */
#endif
#define TEXT(number) #number
#define NUMBER_TEXT(macro) TEXT(macro) /* "1" for SLICE_MS */
#define NS_PER_MS 1000000ull
#define DEFAULT_WORK_MS 300

/* ===== The work ===== */

enum how {
    SLEEP_ASYNC,    /* timer_sleep_ms(): the task waits, the thread does not */
    SLEEP_BLOCKING, /* sleep_blocking_ms(): the thread waits */
    HASH,           /* the thread computes */
    HASH_YIELDING,  /* the thread computes, and yields every SLICE_MS */
};

enum phase { BEFORE, DURING, AFTER };

struct work {
    const char *label; /* how the row starts, with %u for the milliseconds */
    enum how how;
    bool in_pool;           /* run through spawn_blocking() instead of in the task */
    unsigned ms;            /* how long */
    atomic_int phase;       /* BEFORE, DURING or AFTER; the pool thread writes it too */
    atomic_bool stop;       /* the ticker stops at its next tick */
    _Atomic uint64_t total; /* what the hashing computed, so it cannot be left out */
};

static struct work rows[] = {
    {.label = "timer_sleep_ms(%u) in a task", .how = SLEEP_ASYNC, .in_pool = false},
    {.label = "sleep_blocking_ms(%u) in a task", .how = SLEEP_BLOCKING, .in_pool = false},
    {.label = "sleep_blocking_ms(%u) through spawn_blocking",
     .how = SLEEP_BLOCKING,
     .in_pool = true},
    {.label = "hashing for %u ms in a task", .how = HASH, .in_pool = false},
    {.label = "hashing for %u ms in a task, yield_now() every " NUMBER_TEXT(SLICE_MS) " ms",
     .how = HASH_YIELDING,
     .in_pool = false},
    {.label = "hashing for %u ms through spawn_blocking", .how = HASH, .in_pool = true},
};
#define ROWS (sizeof rows / sizeof rows[0])

/* Mix numbers until the clock reaches end_ns: work whose length does not
 * depend on how fast the machine is. */
static uint64_t hash_until(uint64_t end_ns, uint64_t h)
{
    do {
        for (int i = 0; i < 4096; i++) { /* xorshift64 */
            h ^= h << 13;
            h ^= h >> 7;
            h ^= h << 17;
        }
    } while (now_ns() < end_ns);
    return h;
}

/* The work that holds its thread: sleep_blocking_ms() or hashing, from
 * start to end. A blocking_fn, so spawn_blocking() can run it too. */
static void hold_the_thread(void *arg, void *output)
{
    struct work *w = arg;
    (void) output;
    atomic_store(&w->phase, DURING);
    if (w->how == SLEEP_BLOCKING)
        sleep_blocking_ms(w->ms);
    else
        atomic_store(&w->total, hash_until(now_ns() + w->ms * NS_PER_MS, 88172645463325252ull));
    atomic_store(&w->phase, AFTER);
}

/* The same hashing, cut into slices with a yield after each. */
coroutine void hash_yielding(struct work *w)
{
    atomic_store(&w->phase, DURING);
    uint64_t end = now_ns() + w->ms * NS_PER_MS, h = 88172645463325252ull;
    while (now_ns() < end) {
        /* LESSON slices: Hash for one slice of SLICE_MS, then let others run.
         * hint: h = hash_until(slice end or end, h) carries the hash on,
         *   and yield_now().wait puts this task at the back of the queue.
         * stub:
         *   lesson_missing("slices"); */
        uint64_t slice_end = now_ns() + SLICE_MS * NS_PER_MS;
        h = hash_until(slice_end < end ? slice_end : end, h);
        yield_now().wait;
        /* END LESSON slices */
    }
    atomic_store(&w->total, h);
    atomic_store(&w->phase, AFTER);
}

/* A timer_sleep_ms() for the whole work: the task waits, and lets go of
 * the thread while it does. */
coroutine void sleep_async(struct work *w)
{
    atomic_store(&w->phase, DURING);
    timer_sleep_ms(w->ms).wait;
    atomic_store(&w->phase, AFTER);
}

/* ===== The ticker ===== */

struct ticks {
    unsigned during;   /* ticks that ran while the work was going on */
    uint64_t worst_ns; /* the latest a tick ran after its deadline */
};

/* Tick every TICK_MS until told to stop, and say how late the ticks ran.
 * A tick that comes late skips the ones it missed: the next is due
 * TICK_MS after it ran. */
coroutine struct ticks ticker(struct work *w)
{
    struct ticks seen = {0, 0};
    uint64_t due = now_ns();
    while (!atomic_load(&w->stop)) {
        due += TICK_MS * NS_PER_MS;
        timer_sleep_until(due).wait;
        uint64_t now = now_ns();
        if (now - due > seen.worst_ns)
            seen.worst_ns = now - due;
        if (atomic_load(&w->phase) == DURING)
            seen.during++;
        if (due < now)
            due = now;
    }
    return seen;
}

/* Run the work w beside a ticker on this executor, and return what the
 * ticker saw. */
coroutine struct ticks beside_a_ticker(struct work *w)
{
    struct future *ticking =
        executor_spawn(ticker(w), sizeof(struct ticks), "ticker %zu", (size_t) (w - rows) + 1);
    timer_sleep_ms(SETTLE_MS).wait;
    if (w->in_pool) {
        const char *what = w->how == SLEEP_BLOCKING ? "sleep" : "hash";
        spawn_blocking(hold_the_thread, w, 0, "blocking: %s %u ms", what, w->ms).wait;
    } else if (w->how == SLEEP_ASYNC) {
        sleep_async(w).wait;
    } else if (w->how == HASH_YIELDING) {
        hash_yielding(w).wait;
    } else {
        hold_the_thread(w, NULL); /* right here, on the executor's thread */
    }
    timer_sleep_ms(SETTLE_MS).wait;
    atomic_store(&w->stop, true);
    return ticking.wait;
}

/* ===== Aborts ===== */

/* A call that takes 100 ms of its thread, and says when it started. */
struct call {
    atomic_bool started;
};

static void slow_call(void *arg, void *output)
{
    struct call *c = arg;
    atomic_store(&c->started, true);
    sleep_blocking_ms(100);
    *(int *) output = 42;
}

static struct call calls[BLOCKING_THREADS + 1];

coroutine int sleeper(unsigned ms)
{
    timer_sleep_ms(ms).wait;
    return 1;
}

coroutine void aborts(void)
{
    struct future *sleeping = executor_spawn(sleeper(10000), sizeof(int), "sleeper 10 s");
    timer_sleep_ms(SETTLE_MS).wait;
    uint64_t asked = now_ns();
    join_abort(sleeping);
    int woke = sleeping.wait;
    printf(
        "abort a task asleep in a 10 s timer: its handle ready %.1f ms later, with the result %d "
        "(aborted)\n",
        (double) (now_ns() - asked) / NS_PER_MS, woke);

    struct future *running[BLOCKING_THREADS];
    for (int i = 0; i < BLOCKING_THREADS; i++)
        running[i] =
            spawn_blocking(slow_call, &calls[i], sizeof(int), "blocking: slow call %d", i + 1);
    struct future *queued =
        spawn_blocking(slow_call, &calls[BLOCKING_THREADS], sizeof(int), "blocking: queued call");
    join_abort(queued);
    int never = queued.wait;
    printf("abort a blocking call queued behind %d running ones: it %s; result %d\n",
           BLOCKING_THREADS, atomic_load(&calls[BLOCKING_THREADS].started) ? "ran" : "never ran",
           never);

    while (!atomic_load(&calls[0].started))
        timer_sleep_ms(1).wait;
    join_abort(running[0]);
    int finished = running[0].wait;
    printf("abort a blocking call already running: it ran to its end; result %d\n", finished);
    for (int i = 1; i < BLOCKING_THREADS; i++)
        running[i].wait;
}

coroutine void demo(unsigned work_ms)
{
    printf("one executor thread; a ticker task wants to run every %d ms. Beside it, %u ms of "
           "work:\n",
           TICK_MS, work_ms);
    for (size_t i = 0; i < ROWS; i++) {
        struct work *w = &rows[i];
        w->ms = work_ms;
        struct ticks seen = beside_a_ticker(w).wait;
        printf(w->label, work_ms);
        printf(": %u ticks during the work, the worst %.1f ms late\n", seen.during,
               (double) seen.worst_ns / NS_PER_MS);
    }
    aborts().wait;
}

int main(int argc, char **argv)
{
    unsigned long long work_ms = DEFAULT_WORK_MS;
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        if (argc > 2)
            die_usage("unexpected argument '%s' after --help", argv[2]);
        printf("usage: blocking [--work MS]\n"
               "Runs a ticker task that wants to run every %d ms beside work that holds\n"
               "the thread, or not, for MS milliseconds (default %d, from 20 to 60000),\n"
               "and shows how late the ticks came; then aborts three tasks.\n",
               TICK_MS, DEFAULT_WORK_MS);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--work") != 0)
            die_usage("unknown argument '%s'", argv[i]);
        const char *value = i + 1 < argc ? argv[++i] : "";
        if (parse_count(value, 20, 60000, &work_ms) < 0)
            die_usage("--work wants a number of milliseconds from 20 to 60000, not '%s'", value);
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* each line as it happens, even into a pipe */
    trace_thread("main");             /* timer_start() registers before block_on names it */
    int err = reactor_start();
    if (err < 0)
        die("cannot start the reactor: %s", strerror(-err));
    if ((err = timer_start(TIMER_HEAP)) < 0)
        die("cannot start the timers: %s", strerror(-err));
    executor_block_on("main", demo((unsigned) work_ms));
    timer_stop();
    blocking_pool_shutdown(); /* a pool thread may still hold a task a moment */
    reactor_stop();
    printf("task structs still allocated: %zu\n", executor_live_tasks());
    return 0;
}
