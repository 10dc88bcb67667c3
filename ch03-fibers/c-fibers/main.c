/*
 * ch03-fibers/c-fibers/main.c: two fibers take turns counting, each on its
 * own stack. Step c of chapter 3; `--overflow` shows what the guard page buys.
 */
#include "fiber.h"

#include "../../common/errors.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A fiber's body: count to *limit, yielding after every number. */
static void count(void *data)
{
    const int *limit = data;
    int id = fiber_self();

    printf("THREAD %d STARTING\n", id);
    for (int i = 0; i < *limit; i++) {
        printf("thread: %d counter: %d\n", id, i);
#ifdef EXERCISE_1 /* README.md: a fiber spawned from inside a fiber */
        static const int three = 3;
        if (id == 1 && i == 5 && fiber_spawn(count, (void *) &three) < 0)
            die("cannot spawn a fiber");
#endif
        fiber_yield();
    }
    printf("THREAD %d FINISHED\n", id);
}

/* Each call keeps a 256-byte frame alive and hands it to the next call, so
 * the compiler can neither reuse the frame nor turn the recursion into a
 * loop: the stack really grows by a frame per call until it runs out. */
static __attribute__((noinline)) unsigned recurse(volatile unsigned char *caller, unsigned depth)
{
    volatile unsigned char frame[256];

    frame[0] = (unsigned char) (caller[0] + 1);
    if (depth == 0)
        return frame[0];
    return recurse(frame, depth - 1) + frame[0];
}

/* A fiber's body that asks for far more stack than FIBER_STACK_SIZE. */
static void overflow(void *data)
{
    (void) data;
    unsigned char start = 0;

    printf("fiber %d recurses until its stack runs out\n", fiber_self());
    recurse(&start, 1u << 20); /* a million frames: about 300 MB of stack */
    printf("fiber %d is still here: the guard page did not fire?!\n", fiber_self());
}

static void spawn_or_die(fiber_fn fn, void *data)
{
    int id = fiber_spawn(fn, data);
    if (id < 0)
        die("cannot spawn a fiber: %s", strerror(-id));
}

#if defined(EXERCISE_2) || defined(BUG_COUNTERS_IN_HELPER)
/* Exercise 2: a closure-like argument, and a total both fibers add to. */
struct counter {
    const char *name;
    int limit;
    int *total;
};

static void count_into(void *data)
{
    struct counter *counter = data;
    for (int i = 0; i < counter->limit; i++) {
        printf("%s: %d\n", counter->name, i);
        *counter->total += i;
        fiber_yield();
    }
}

#ifdef BUG_COUNTERS_IN_HELPER
/* The counters die with this frame, before the fibers ever run. */
static __attribute__((noinline)) void spawn_counters(int *total)
{
    struct counter counters[] = {{"first", 10, total}, {"second", 15, total}};
    spawn_or_die(count_into, &counters[0]);
    spawn_or_die(count_into, &counters[1]);
}
#endif
#endif

int main(int argc, char **argv)
{
    static const int limits[] = {10, 15};
    int overflow_demo = 0;

    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        puts("usage: fibers [--overflow]\n"
             "Runs two fibers that take turns counting, then exits.\n"
             "  --overflow  run one fiber that recurses until it overflows its stack");
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "--overflow") == 0) {
        overflow_demo = 1;
    } else if (argc > 1) { /* one known option at most */
        bool known = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "--overflow") == 0;
        fprintf(stderr, "fibers: unexpected argument '%s' (try --help)\n", argv[known ? 2 : 1]);
        return 2;
    }
    /* One line at a time even into a pipe, so what the fibers print and the
     * overflow report on stderr come out in the order they happened. */
    setvbuf(stdout, NULL, _IOLBF, 0);

#if defined(EXERCISE_2) || defined(BUG_COUNTERS_IN_HELPER)
    int total = 0;
#ifdef BUG_COUNTERS_IN_HELPER
    spawn_counters(&total);
#else
    struct counter counters[] = {{"first", 10, &total}, {"second", 15, &total}};
    spawn_or_die(count_into, &counters[0]);
    spawn_or_die(count_into, &counters[1]);
#endif
    fiber_run();
    printf("total: %d\n", total);
    return 0;
#endif
    if (overflow_demo) {
        spawn_or_die(overflow, NULL);
    } else {
        spawn_or_die(count, (void *) &limits[0]);
        spawn_or_die(count, (void *) &limits[1]);
    }
    fiber_run();
    return overflow_demo ? EXIT_FAILURE : 0;
}
