/* future.h: a tiny runtime for corofy's golden tests. It implements the
 * contract corofy's output relies on, in both flavours, plus "leaf" futures
 * that answer POLL_PENDING a few times before POLL_READY, and block_on.
 *
 *   #define FUTURE_WAKER   before including: the ch05 flavour (poll takes a waker)
 *   -DSEQUENTIAL           the plain twin of a test program: every leaf is an
 *                          ordinary function that returns its value at once, and
 *                          RUN() is a call (tests strip `coroutine` and `.wait`)
 *
 * A runnable test prints the same thing either way; test_corofy.py checks it.
 * At exit the runtime reports on stderr how often a leaf was not ready (so a
 * test can check the coroutine really was suspended), and fails if a future
 * was never dropped. leaves_made() counts the leaves made so far, in both
 * builds, so a test can show that a wait C would not evaluate was skipped.
 *
 *   #define FUTURE_COUNT_ALLOCATIONS   before including: malloc is counted
 *                          (allocations()), to show frames that need none */
#ifndef FUTURE_H
#define FUTURE_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pair {
    int x, y;
};

static long test_leaves_made; /* leaves made, in either build */

static inline long leaves_made(void)
{
    return test_leaves_made;
}

#ifdef FUTURE_COUNT_ALLOCATIONS
static long test_allocations;

static inline void *test_malloc(size_t size)
{
    test_allocations++;
    return malloc(size);
}

static inline void *test_calloc(size_t n, size_t size)
{
    test_allocations++;
    return calloc(n, size);
}

static inline long allocations(void)
{
    return test_allocations;
}
#define malloc(size) test_malloc(size)
#define calloc(n, size) test_calloc(n, size)
#endif

#ifdef SEQUENTIAL

static inline int ready_int(int polls, int value)
{
    (void) polls;
    test_leaves_made++;
    return value;
}

static inline char *ready_str(int polls, const char *text)
{
    (void) polls;
    test_leaves_made++;
    return strdup(text);
}

static inline struct pair ready_pair(int polls, int x, int y)
{
    (void) polls;
    test_leaves_made++;
    return (struct pair){x, y};
}

static inline void sleep_polls(int polls)
{
    (void) polls;
    test_leaves_made++;
}

struct countdown {
    int unused;
};

static inline int countdown_init(struct countdown *c, int polls, int value)
{
    (void) c;
    (void) polls;
    test_leaves_made++;
    return value;
}

#define RUN(call, dest) ((dest) = (call))
#define RUN_VOID(call) (call)

#else /* the coroutine build */

enum poll_status { POLL_PENDING = 0, POLL_READY = 1 };

#ifdef FUTURE_WAKER
/* The waker of this test runtime only counts wake-ups: block_on checks that
 * every POLL_PENDING came with one, i.e. the waker reached the leaf. A poll
 * only borrows the waker (const), so it counts through a pointer. */
struct waker {
    int *wakes;
};
#define WAKER_PARAMETER const struct waker *waker,
#define WAKER_ARGUMENT(w) (w),
#else
#define WAKER_PARAMETER
#define WAKER_ARGUMENT(w)
#endif

struct future {
    /* On POLL_READY the result has been written to *output (unless NULL). */
    enum poll_status (*poll)(struct future *self, WAKER_PARAMETER void *output);
    /* Release the future and everything it owns; valid in any state. */
    void (*drop)(struct future *self);
};

static int test_live_futures; /* leaves created and not yet dropped */
static int test_not_ready;    /* POLL_PENDING answers given by leaves */

static inline void test_report(void)
{
    fflush(stdout);
    fprintf(stderr, "test runtime: %d not-ready answers\n", test_not_ready);
    if (test_live_futures != 0) {
        fprintf(stderr, "test runtime: %d futures never dropped\n", test_live_futures);
        _Exit(6);
    }
}

/* A leaf future: not ready `polls` times, then ready with a copy of `value`. */
struct leaf {
    struct future base;
    int polls_left;
    bool done;
    char *owned; /* a string the leaf frees if it is never delivered */
    size_t size; /* bytes of the value */
    unsigned char value[16];
};

static inline enum poll_status leaf_poll(struct future *self, WAKER_PARAMETER void *output)
{
    struct leaf *leaf = (struct leaf *) self;

    if (leaf->done) {
        fprintf(stderr, "test runtime: a leaf was polled after it completed\n");
        exit(3);
    }
    if (leaf->polls_left > 0) {
        leaf->polls_left--;
        test_not_ready++;
#ifdef FUTURE_WAKER
        (*waker->wakes)++; /* a real leaf would clone the waker for a reactor */
#endif
        return POLL_PENDING;
    }
    leaf->done = true;
    if (output != NULL) {
        memcpy(output, leaf->value, leaf->size);
        leaf->owned = NULL; /* delivered: the receiver owns it now */
    }
    return POLL_READY;
}

static inline void leaf_drop(struct future *self)
{
    struct leaf *leaf = (struct leaf *) self;
    free(leaf->owned);
    free(leaf);
    test_live_futures--;
}

static inline void test_report_at_exit(void)
{
    static bool registered;
    if (!registered) {
        atexit(test_report);
        registered = true;
    }
}

static inline struct future *leaf_new(int polls, const void *value, size_t size)
{
    struct leaf *leaf = calloc(1, sizeof *leaf);

    if (leaf == NULL)
        abort();
    test_report_at_exit();
    leaf->base.poll = leaf_poll;
    leaf->base.drop = leaf_drop;
    leaf->polls_left = polls;
    leaf->size = size;
    if (size > 0)
        memcpy(leaf->value, value, size);
    test_live_futures++;
    test_leaves_made++;
    return &leaf->base;
}

static inline struct future *ready_int(int polls, int value)
{
    return leaf_new(polls, &value, sizeof value);
}

static inline struct future *ready_str(int polls, const char *text)
{
    char *copy = strdup(text);
    struct future *f = leaf_new(polls, &copy, sizeof copy);
    ((struct leaf *) f)->owned = copy;
    return f;
}

static inline struct future *ready_pair(int polls, int x, int y)
{
    struct pair p = {x, y};
    return leaf_new(polls, &p, sizeof p);
}

static inline struct future *sleep_polls(int polls)
{
    return leaf_new(polls, NULL, 0);
}

/* A leaf in storage of the caller's (no malloc): not ready `polls` times,
 * then ready with `value`. */
struct countdown {
    struct future base;
    int polls_left;
    int value;
};

static inline enum poll_status countdown_poll(struct future *self, WAKER_PARAMETER void *output)
{
    struct countdown *c = (struct countdown *) self;
    if (c->polls_left > 0) {
        c->polls_left--;
        test_not_ready++;
#ifdef FUTURE_WAKER
        (*waker->wakes)++;
#endif
        return POLL_PENDING;
    }
    if (output != NULL)
        *(int *) output = c->value;
    return POLL_READY;
}

static inline void countdown_drop(struct future *self)
{
    (void) self;
    test_live_futures--;
}

static inline struct future *countdown_init(struct countdown *c, int polls, int value)
{
    test_report_at_exit();
    c->base.poll = countdown_poll;
    c->base.drop = countdown_drop;
    c->polls_left = polls;
    c->value = value;
    test_live_futures++;
    test_leaves_made++;
    return &c->base;
}

/* Poll `future` until it is ready, then drop it. */
static inline void block_on(struct future *future, void *output)
{
    test_report_at_exit();
#ifdef FUTURE_WAKER
    int woken = 0;
    struct waker waker = {&woken};
#endif
    for (long polls = 1;; polls++) {
#ifdef FUTURE_WAKER
        int wakes = woken;
#endif
        if (future->poll(future, WAKER_ARGUMENT(&waker) output) == POLL_READY)
            break;
#ifdef FUTURE_WAKER
        if (woken == wakes) {
            fprintf(stderr, "test runtime: POLL_PENDING without a wake-up: a lost waker\n");
            exit(4);
        }
#endif
        if (polls > 1000000) {
            fprintf(stderr, "test runtime: still not ready after a million polls\n");
            exit(5);
        }
    }
    future->drop(future);
}

#define RUN(call, dest) block_on((call), &(dest))
#define RUN_VOID(call) block_on((call), NULL)

#endif /* SEQUENTIAL */
#endif
