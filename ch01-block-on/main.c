/* main.c: the chapter 1 demo (ch01-block-on). Runs three futures with
 * block_on and traces every poll, park and wake, so the order is visible.
 */
#include "block_on.h"
#include "futures.h"
#include "trace.h"

#include "../common/errors.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static void usage(void)
{
    printf("usage: block-on\n"
           "Runs three futures with block_on and prints every poll, park and wake:\n"
           "a timer, a future that yields once, and two timers in sequence.\n");
}

int main(int argc, char **argv)
{
    bool help = argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
    if (help && argc == 2) {
        usage();
        return 0;
    }
    if (argc > 1) { /* the demo takes nothing but --help, alone */
        fprintf(stderr, "block-on: unexpected argument '%s' (try --help)\n", argv[help ? 2 : 1]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* each line out as soon as it is traced */
    trace_enabled = true;
    trace_thread_name("main");

    printf("== 1. A leaf future: a timer that a thread wakes\n");
    struct timer_future timer;
    timer_init(&timer, 150, "tick");
    block_on(&timer.base);
    printf("output: \"%s\"\n\n", timer.message);

    printf("== 2. A future that yields once: it wakes itself, then says pending\n");
    struct yield_once_future yield;
    yield_once_init(&yield);
    block_on(&yield.base);
    printf("\n");

    printf("== 3. A composed future: two timers, one after the other\n");
    struct two_timers_future both;
    two_timers_init(&both, 100, "hello", 50, "world");
    block_on(&both.base);
    printf("result: \"%s\"\n", both.result);

    if (block_on_parkers_alive() != 0)
        die("%ld parkers were never freed", block_on_parkers_alive());
    return 0;
}
