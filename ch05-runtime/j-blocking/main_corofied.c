/* main.c: ch05-runtime step j: work that holds an executor's thread stalls
 * every other task of that executor. A ticker task that wants to run every
 * 10 ms measures it, beside six kinds of work; then three aborts. This is
 * corofy's input: `make corofy` turns the `coroutine` functions into state
 * machines in main_corofied.c, which is what gets compiled. */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/args.h"
#include "../../common/clock.h"
#include "../../common/errors.h"
#include "executor.h"
#include "future.h"
#include "reactor.h"
#include "timer.h"

#define TICK_MS 10   /* the ticker's period */
#define SETTLE_MS 50 /* the ticker runs alone this long before and after the work */
#define SLICE_MS 1   /* the yielding loop hashes this long between two yields */
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
    {.label = "hashing for %u ms in a task, yield_now() every 1 ms",
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
// ===== coroutine hash_yielding (main.c:92), as you wrote it =====
//
//     coroutine void hash_yielding(struct work *w)
//     {
//         atomic_store(&w->phase, DURING);
//         uint64_t end = now_ns() + w->ms * NS_PER_MS, h = 88172645463325252ull;
//         while (now_ns() < end) {
//             uint64_t slice_end = now_ns() + SLICE_MS * NS_PER_MS;
//             h = hash_until(slice_end < end ? slice_end : end, h);
//             yield_now().wait;
//         }
//         atomic_store(&w->total, h);
//         atomic_store(&w->phase, AFTER);
//     }
//
// corofy turned it into the four pieces below: struct hash_yielding_frame (the state,
// the parameters and the locals, kept from one poll to the next), hash_yielding_poll
// (runs the body from one wait point to the next), hash_yielding_drop, and the
// constructor hash_yielding(), which makes the frame without running any of the body.

struct future *hash_yielding(struct work *w);

struct hash_yielding_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1: at the wait point, -1: finished */
    struct work *w;         /* parameter */
    uint64_t end;           /* local, line 95 */
    uint64_t h;             /* local, line 95 */
    uint64_t slice_end;     /* local, line 97 */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status hash_yielding_poll(struct future *self, const struct waker *waker, void *output)
{
    struct hash_yielding_frame *frame = (struct hash_yielding_frame *) self;

    (void) output; /* a void coroutine produces nothing */
    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        atomic_store(&frame->w->phase, DURING);
        frame->end = now_ns() + frame->w->ms * NS_PER_MS;
        frame->h = 88172645463325252ull;
        while (now_ns() < frame->end) {
            frame->slice_end = now_ns() + SLICE_MS * NS_PER_MS;
            frame->h = hash_until(frame->slice_end < frame->end ? frame->slice_end : frame->end, frame->h);
            /* ---- wait point 1: yield_now().wait; ---- */
            frame->awaited = yield_now();
            frame->state = 1;
            /* fall through */
    case 1:
            if (frame->awaited->poll(frame->awaited, waker, NULL) == POLL_PENDING)
                return POLL_PENDING;
            frame->awaited->drop(frame->awaited);
            frame->awaited = NULL;
            /* ---- end of wait point 1 ---- */
        }
        atomic_store(&frame->w->total, frame->h);
        atomic_store(&frame->w->phase, AFTER);
        /* ---- end of your code ---- */
        frame->state = -1;
        return POLL_READY;
    default:
        fprintf(stderr, "corofy: hash_yielding polled after it completed\n");
        abort();
    }
}

static void hash_yielding_drop(struct future *self)
{
    struct hash_yielding_frame *frame = (struct hash_yielding_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *hash_yielding(struct work *w)
{
    struct hash_yielding_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating hash_yielding\n");
        abort();
    }
    frame->base.poll = hash_yielding_poll;
    frame->base.drop = hash_yielding_drop;
    frame->state = 0;
    frame->w = w;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

/* A timer_sleep_ms() for the whole work: the task waits, and lets go of
 * the thread while it does. */
// ===== coroutine sleep_async (main.c:107), as you wrote it =====
//
//     coroutine void sleep_async(struct work *w)
//     {
//         atomic_store(&w->phase, DURING);
//         timer_sleep_ms(w->ms).wait;
//         atomic_store(&w->phase, AFTER);
//     }
//
// corofy turned it into the four pieces below: struct sleep_async_frame (the state,
// the parameters and the locals, kept from one poll to the next), sleep_async_poll
// (runs the body from one wait point to the next), sleep_async_drop, and the
// constructor sleep_async(), which makes the frame without running any of the body.

struct future *sleep_async(struct work *w);

struct sleep_async_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1: at the wait point, -1: finished */
    struct work *w;         /* parameter */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status sleep_async_poll(struct future *self, const struct waker *waker, void *output)
{
    struct sleep_async_frame *frame = (struct sleep_async_frame *) self;

    (void) output; /* a void coroutine produces nothing */
    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        atomic_store(&frame->w->phase, DURING);
        /* ---- wait point 1: timer_sleep_ms(w->ms).wait; ---- */
        frame->awaited = timer_sleep_ms(frame->w->ms);
        frame->state = 1;
        /* fall through */
    case 1:
        if (frame->awaited->poll(frame->awaited, waker, NULL) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 1 ---- */
        atomic_store(&frame->w->phase, AFTER);
        /* ---- end of your code ---- */
        frame->state = -1;
        return POLL_READY;
    default:
        fprintf(stderr, "corofy: sleep_async polled after it completed\n");
        abort();
    }
}

static void sleep_async_drop(struct future *self)
{
    struct sleep_async_frame *frame = (struct sleep_async_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *sleep_async(struct work *w)
{
    struct sleep_async_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating sleep_async\n");
        abort();
    }
    frame->base.poll = sleep_async_poll;
    frame->base.drop = sleep_async_drop;
    frame->state = 0;
    frame->w = w;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

/* ===== The ticker ===== */

struct ticks {
    unsigned during;   /* ticks that ran while the work was going on */
    uint64_t worst_ns; /* the latest a tick ran after its deadline */
};

/* Tick every TICK_MS until told to stop, and say how late the ticks ran.
 * A tick that comes late skips the ones it missed: the next is due
 * TICK_MS after it ran. */
// ===== coroutine ticker (main.c:124), as you wrote it =====
//
//     coroutine struct ticks ticker(struct work *w)
//     {
//         struct ticks seen = {0, 0};
//         uint64_t due = now_ns();
//         while (!atomic_load(&w->stop)) {
//             due += TICK_MS * NS_PER_MS;
//             timer_sleep_until(due).wait;
//             uint64_t now = now_ns();
//             if (now - due > seen.worst_ns)
//                 seen.worst_ns = now - due;
//             if (atomic_load(&w->phase) == DURING)
//                 seen.during++;
//             if (due < now)
//                 due = now;
//         }
//         return seen;
//     }
//
// corofy turned it into the four pieces below: struct ticker_frame (the state,
// the parameters and the locals, kept from one poll to the next), ticker_poll
// (runs the body from one wait point to the next), ticker_drop, and the
// constructor ticker(), which makes the frame without running any of the body.

struct future *ticker(struct work *w);

struct ticker_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1: at the wait point, -1: finished */
    struct work *w;         /* parameter */
    struct ticks seen;      /* local, line 126 */
    uint64_t due;           /* local, line 127 */
    uint64_t now;           /* local, line 131 */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status ticker_poll(struct future *self, const struct waker *waker, void *output)
{
    struct ticker_frame *frame = (struct ticker_frame *) self;

    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        frame->seen = (struct ticks){0, 0};
        frame->due = now_ns();
        while (!atomic_load(&frame->w->stop)) {
            frame->due += TICK_MS * NS_PER_MS;
            /* ---- wait point 1: timer_sleep_until(due).wait; ---- */
            frame->awaited = timer_sleep_until(frame->due);
            frame->state = 1;
            /* fall through */
    case 1:
            if (frame->awaited->poll(frame->awaited, waker, NULL) == POLL_PENDING)
                return POLL_PENDING;
            frame->awaited->drop(frame->awaited);
            frame->awaited = NULL;
            /* ---- end of wait point 1 ---- */
            frame->now = now_ns();
            if (frame->now - frame->due > frame->seen.worst_ns)
                frame->seen.worst_ns = frame->now - frame->due;
            if (atomic_load(&frame->w->phase) == DURING)
                frame->seen.during++;
            if (frame->due < frame->now)
                frame->due = frame->now;
        }
        if (output != NULL)
            *(struct ticks *) output = frame->seen;
        frame->state = -1;
        return POLL_READY;
        /* ---- end of your code ---- */
    default:
        fprintf(stderr, "corofy: ticker polled after it completed\n");
        abort();
    }
}

static void ticker_drop(struct future *self)
{
    struct ticker_frame *frame = (struct ticker_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *ticker(struct work *w)
{
    struct ticker_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating ticker\n");
        abort();
    }
    frame->base.poll = ticker_poll;
    frame->base.drop = ticker_drop;
    frame->state = 0;
    frame->w = w;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

/* Run the work w beside a ticker on this executor, and return what the
 * ticker saw. */
// ===== coroutine beside_a_ticker (main.c:144), as you wrote it =====
//
//     coroutine struct ticks beside_a_ticker(struct work *w)
//     {
//         struct future *ticking = executor_spawn(ticker(w), sizeof(struct ticks));
//         timer_sleep_ms(SETTLE_MS).wait;
//         if (w->in_pool) {
//             spawn_blocking(hold_the_thread, w, 0).wait;
//         } else if (w->how == SLEEP_ASYNC) {
//             sleep_async(w).wait;
//         } else if (w->how == HASH_YIELDING) {
//             hash_yielding(w).wait;
//         } else {
//             hold_the_thread(w, NULL); /* right here, on the executor's thread */
//         }
//         timer_sleep_ms(SETTLE_MS).wait;
//         atomic_store(&w->stop, true);
//         return ticking.wait;
//     }
//
// corofy turned it into the four pieces below: struct beside_a_ticker_frame (the state,
// the parameters and the locals, kept from one poll to the next), beside_a_ticker_poll
// (runs the body from one wait point to the next), beside_a_ticker_drop, and the
// constructor beside_a_ticker(), which makes the frame without running any of the body.

struct future *beside_a_ticker(struct work *w);

struct beside_a_ticker_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1-6: at that wait point, -1: finished */
    struct work *w;         /* parameter */
    struct future *ticking; /* local, line 146 */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status beside_a_ticker_poll(struct future *self, const struct waker *waker, void *output)
{
    struct beside_a_ticker_frame *frame = (struct beside_a_ticker_frame *) self;
    struct ticks result; /* the value of a return statement */

    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        frame->ticking = executor_spawn(ticker(frame->w), sizeof(struct ticks));
        /* ---- wait point 1: timer_sleep_ms(SETTLE_MS).wait; ---- */
        frame->awaited = timer_sleep_ms(SETTLE_MS);
        frame->state = 1;
        /* fall through */
    case 1:
        if (frame->awaited->poll(frame->awaited, waker, NULL) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 1 ---- */
        if (frame->w->in_pool) {
            /* ---- wait point 2: spawn_blocking(hold_the_thread, w, 0).wait; ---- */
            frame->awaited = spawn_blocking(hold_the_thread, frame->w, 0);
            frame->state = 2;
            /* fall through */
    case 2:
            if (frame->awaited->poll(frame->awaited, waker, NULL) == POLL_PENDING)
                return POLL_PENDING;
            frame->awaited->drop(frame->awaited);
            frame->awaited = NULL;
            /* ---- end of wait point 2 ---- */
        } else if (frame->w->how == SLEEP_ASYNC) {
            /* ---- wait point 3: sleep_async(w).wait; ---- */
            frame->awaited = sleep_async(frame->w);
            frame->state = 3;
            /* fall through */
    case 3:
            if (frame->awaited->poll(frame->awaited, waker, NULL) == POLL_PENDING)
                return POLL_PENDING;
            frame->awaited->drop(frame->awaited);
            frame->awaited = NULL;
            /* ---- end of wait point 3 ---- */
        } else if (frame->w->how == HASH_YIELDING) {
            /* ---- wait point 4: hash_yielding(w).wait; ---- */
            frame->awaited = hash_yielding(frame->w);
            frame->state = 4;
            /* fall through */
    case 4:
            if (frame->awaited->poll(frame->awaited, waker, NULL) == POLL_PENDING)
                return POLL_PENDING;
            frame->awaited->drop(frame->awaited);
            frame->awaited = NULL;
            /* ---- end of wait point 4 ---- */
        } else {
            hold_the_thread(frame->w, NULL); /* right here, on the executor's thread */
        }
        /* ---- wait point 5: timer_sleep_ms(SETTLE_MS).wait; ---- */
        frame->awaited = timer_sleep_ms(SETTLE_MS);
        frame->state = 5;
        /* fall through */
    case 5:
        if (frame->awaited->poll(frame->awaited, waker, NULL) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 5 ---- */
        atomic_store(&frame->w->stop, true);
        /* ---- wait point 6: return ticking.wait; ---- */
        frame->awaited = frame->ticking;
        frame->state = 6;
        /* fall through */
    case 6:
        if (frame->awaited->poll(frame->awaited, waker, &result) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 6 ---- */
        if (output != NULL)
            *(struct ticks *) output = result;
        frame->state = -1;
        return POLL_READY;
        /* ---- end of your code ---- */
    default:
        fprintf(stderr, "corofy: beside_a_ticker polled after it completed\n");
        abort();
    }
}

static void beside_a_ticker_drop(struct future *self)
{
    struct beside_a_ticker_frame *frame = (struct beside_a_ticker_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *beside_a_ticker(struct work *w)
{
    struct beside_a_ticker_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating beside_a_ticker\n");
        abort();
    }
    frame->base.poll = beside_a_ticker_poll;
    frame->base.drop = beside_a_ticker_drop;
    frame->state = 0;
    frame->w = w;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
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

// ===== coroutine sleeper (main.c:179), as you wrote it =====
//
//     coroutine int sleeper(unsigned ms)
//     {
//         timer_sleep_ms(ms).wait;
//         return 1;
//     }
//
// corofy turned it into the four pieces below: struct sleeper_frame (the state,
// the parameters and the locals, kept from one poll to the next), sleeper_poll
// (runs the body from one wait point to the next), sleeper_drop, and the
// constructor sleeper(), which makes the frame without running any of the body.

struct future *sleeper(unsigned ms);

struct sleeper_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1: at the wait point, -1: finished */
    unsigned ms;            /* parameter */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status sleeper_poll(struct future *self, const struct waker *waker, void *output)
{
    struct sleeper_frame *frame = (struct sleeper_frame *) self;

    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        /* ---- wait point 1: timer_sleep_ms(ms).wait; ---- */
        frame->awaited = timer_sleep_ms(frame->ms);
        frame->state = 1;
        /* fall through */
    case 1:
        if (frame->awaited->poll(frame->awaited, waker, NULL) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 1 ---- */
        if (output != NULL)
            *(int *) output = 1;
        frame->state = -1;
        return POLL_READY;
        /* ---- end of your code ---- */
    default:
        fprintf(stderr, "corofy: sleeper polled after it completed\n");
        abort();
    }
}

static void sleeper_drop(struct future *self)
{
    struct sleeper_frame *frame = (struct sleeper_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *sleeper(unsigned ms)
{
    struct sleeper_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating sleeper\n");
        abort();
    }
    frame->base.poll = sleeper_poll;
    frame->base.drop = sleeper_drop;
    frame->state = 0;
    frame->ms = ms;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

// ===== coroutine aborts (main.c:185), as you wrote it =====
//
//     coroutine void aborts(void)
//     {
//         struct future *sleeping = executor_spawn(sleeper(10000), sizeof(int));
//         timer_sleep_ms(SETTLE_MS).wait;
//         uint64_t asked = now_ns();
//         join_abort(sleeping);
//         int woke = sleeping.wait;
//         printf(
//             "abort a task asleep in a 10 s timer: its handle ready %.1f ms later, with the result %d "
//             "(aborted)\n",
//             (double) (now_ns() - asked) / NS_PER_MS, woke);
//
//         struct future *running[BLOCKING_THREADS];
//         for (int i = 0; i < BLOCKING_THREADS; i++)
//             running[i] = spawn_blocking(slow_call, &calls[i], sizeof(int));
//         struct future *queued = spawn_blocking(slow_call, &calls[BLOCKING_THREADS], sizeof(int));
//         join_abort(queued);
//         int never = queued.wait;
//         printf("abort a blocking call queued behind %d running ones: it %s; result %d\n",
//                BLOCKING_THREADS, atomic_load(&calls[BLOCKING_THREADS].started) ? "ran" : "never ran",
//                never);
//
//         while (!atomic_load(&calls[0].started))
//             timer_sleep_ms(1).wait;
//         join_abort(running[0]);
//         int finished = running[0].wait;
//         printf("abort a blocking call already running: it ran to its end; result %d\n", finished);
//         for (int i = 1; i < BLOCKING_THREADS; i++)
//             running[i].wait;
//     }
//
// corofy turned it into the four pieces below: struct aborts_frame (the state,
// the parameters and the locals, kept from one poll to the next), aborts_poll
// (runs the body from one wait point to the next), aborts_drop, and the
// constructor aborts(), which makes the frame without running any of the body.

struct future *aborts(void);

struct aborts_frame {
    struct future base;                       /* first: a frame is a future */
    int state;                                /* 0: not started, 1-6: at that wait point, -1: finished */
    struct future *sleeping;                  /* local, line 187 */
    uint64_t asked;                           /* local, line 189 */
    int woke;                                 /* local, line 191 */
    struct future *running[BLOCKING_THREADS]; /* local, line 197 */
    int i;                                    /* local, lines 198 and 212 */
    struct future *queued;                    /* local, line 200 */
    int never;                                /* local, line 202 */
    int finished;                             /* local, line 210 */
    struct future *awaited;                   /* the future being waited for, or NULL */
};

static enum poll_status aborts_poll(struct future *self, const struct waker *waker, void *output)
{
    struct aborts_frame *frame = (struct aborts_frame *) self;

    (void) output; /* a void coroutine produces nothing */
    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        frame->sleeping = executor_spawn(sleeper(10000), sizeof(int));
        /* ---- wait point 1: timer_sleep_ms(SETTLE_MS).wait; ---- */
        frame->awaited = timer_sleep_ms(SETTLE_MS);
        frame->state = 1;
        /* fall through */
    case 1:
        if (frame->awaited->poll(frame->awaited, waker, NULL) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 1 ---- */
        frame->asked = now_ns();
        join_abort(frame->sleeping);
        /* ---- wait point 2: int woke = sleeping.wait; ---- */
        frame->awaited = frame->sleeping;
        frame->state = 2;
        /* fall through */
    case 2:
        if (frame->awaited->poll(frame->awaited, waker, &frame->woke) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 2 ---- */
        printf(
            "abort a task asleep in a 10 s timer: its handle ready %.1f ms later, with the result %d "
            "(aborted)\n",
            (double) (now_ns() - frame->asked) / NS_PER_MS, frame->woke);

        for (frame->i = 0; frame->i < BLOCKING_THREADS; frame->i++)
            frame->running[frame->i] = spawn_blocking(slow_call, &calls[frame->i], sizeof(int));
        frame->queued = spawn_blocking(slow_call, &calls[BLOCKING_THREADS], sizeof(int));
        join_abort(frame->queued);
        /* ---- wait point 3: int never = queued.wait; ---- */
        frame->awaited = frame->queued;
        frame->state = 3;
        /* fall through */
    case 3:
        if (frame->awaited->poll(frame->awaited, waker, &frame->never) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 3 ---- */
        printf("abort a blocking call queued behind %d running ones: it %s; result %d\n",
               BLOCKING_THREADS, atomic_load(&calls[BLOCKING_THREADS].started) ? "ran" : "never ran",
               frame->never);

        while (!atomic_load(&calls[0].started)) {
            /* ---- wait point 4: timer_sleep_ms(1).wait; ---- */
            frame->awaited = timer_sleep_ms(1);
            frame->state = 4;
            /* fall through */
    case 4:
            if (frame->awaited->poll(frame->awaited, waker, NULL) == POLL_PENDING)
                return POLL_PENDING;
            frame->awaited->drop(frame->awaited);
            frame->awaited = NULL;
            /* ---- end of wait point 4 ---- */
        }
        join_abort(frame->running[0]);
        /* ---- wait point 5: int finished = running[0].wait; ---- */
        frame->awaited = frame->running[0];
        frame->state = 5;
        /* fall through */
    case 5:
        if (frame->awaited->poll(frame->awaited, waker, &frame->finished) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 5 ---- */
        printf("abort a blocking call already running: it ran to its end; result %d\n", frame->finished);
        for (frame->i = 1; frame->i < BLOCKING_THREADS; frame->i++) {
            /* ---- wait point 6: running[i].wait; ---- */
            frame->awaited = frame->running[frame->i];
            frame->state = 6;
            /* fall through */
    case 6:
            if (frame->awaited->poll(frame->awaited, waker, NULL) == POLL_PENDING)
                return POLL_PENDING;
            frame->awaited->drop(frame->awaited);
            frame->awaited = NULL;
            /* ---- end of wait point 6 ---- */
        }
        /* ---- end of your code ---- */
        frame->state = -1;
        return POLL_READY;
    default:
        fprintf(stderr, "corofy: aborts polled after it completed\n");
        abort();
    }
}

static void aborts_drop(struct future *self)
{
    struct aborts_frame *frame = (struct aborts_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *aborts(void)
{
    struct aborts_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating aborts\n");
        abort();
    }
    frame->base.poll = aborts_poll;
    frame->base.drop = aborts_drop;
    frame->state = 0;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

// ===== coroutine demo (main.c:216), as you wrote it =====
//
//     coroutine void demo(unsigned work_ms)
//     {
//         printf("one executor thread; a ticker task wants to run every %d ms. Beside it, %u ms of "
//                "work:\n",
//                TICK_MS, work_ms);
//         for (size_t i = 0; i < ROWS; i++) {
//             struct work *w = &rows[i];
//             w->ms = work_ms;
//             struct ticks seen = beside_a_ticker(w).wait;
//             printf(w->label, work_ms);
//             printf(": %u ticks during the work, the worst %.1f ms late\n", seen.during,
//                    (double) seen.worst_ns / NS_PER_MS);
//         }
//         aborts().wait;
//     }
//
// corofy turned it into the four pieces below: struct demo_frame (the state,
// the parameters and the locals, kept from one poll to the next), demo_poll
// (runs the body from one wait point to the next), demo_drop, and the
// constructor demo(), which makes the frame without running any of the body.

struct future *demo(unsigned work_ms);

struct demo_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1-2: at that wait point, -1: finished */
    unsigned work_ms;       /* parameter */
    size_t i;               /* local, line 221 */
    struct work *w;         /* local, line 222 */
    struct ticks seen;      /* local, line 224 */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status demo_poll(struct future *self, const struct waker *waker, void *output)
{
    struct demo_frame *frame = (struct demo_frame *) self;

    (void) output; /* a void coroutine produces nothing */
    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        printf("one executor thread; a ticker task wants to run every %d ms. Beside it, %u ms of "
               "work:\n",
               TICK_MS, frame->work_ms);
        for (frame->i = 0; frame->i < ROWS; frame->i++) {
            frame->w = &rows[frame->i];
            frame->w->ms = frame->work_ms;
            /* ---- wait point 1: struct ticks seen = beside_a_ticker(w).wait; ---- */
            frame->awaited = beside_a_ticker(frame->w);
            frame->state = 1;
            /* fall through */
    case 1:
            if (frame->awaited->poll(frame->awaited, waker, &frame->seen) == POLL_PENDING)
                return POLL_PENDING;
            frame->awaited->drop(frame->awaited);
            frame->awaited = NULL;
            /* ---- end of wait point 1 ---- */
            printf(frame->w->label, frame->work_ms);
            printf(": %u ticks during the work, the worst %.1f ms late\n", frame->seen.during,
                   (double) frame->seen.worst_ns / NS_PER_MS);
        }
        /* ---- wait point 2: aborts().wait; ---- */
        frame->awaited = aborts();
        frame->state = 2;
        /* fall through */
    case 2:
        if (frame->awaited->poll(frame->awaited, waker, NULL) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 2 ---- */
        /* ---- end of your code ---- */
        frame->state = -1;
        return POLL_READY;
    default:
        fprintf(stderr, "corofy: demo polled after it completed\n");
        abort();
    }
}

static void demo_drop(struct future *self)
{
    struct demo_frame *frame = (struct demo_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *demo(unsigned work_ms)
{
    struct demo_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating demo\n");
        abort();
    }
    frame->base.poll = demo_poll;
    frame->base.drop = demo_drop;
    frame->state = 0;
    frame->work_ms = work_ms;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
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
