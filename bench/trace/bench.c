/* bench/trace/bench.c: what the calls of common/trace.h cost, with tracing
 * off and with tracing on. Built and run by bench/trace/run.
 *
 *   bench off N R   R rounds of: N iterations of a loop without trace calls,
 *                   then N of the same loop with three trace calls (a poll
 *                   span and a wake), ASYNC_TRACE unset; one line per round:
 *                   "bare_ns=<ns per iteration> traced_ns=<ns per iteration>"
 *   bench on N R    the traced loop only, for ASYNC_TRACE=/dev/null:
 *                   "traced_ns=<ns per iteration>" per round */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/clock.h"
#include "../../common/trace.h"

/* A stand-in for a poll, called through a pointer the compiler cannot see
 * through: every iteration makes one real call, as an executor's loop does,
 * and the trace calls around it cannot be moved out of the loop. */
static int poll_stub(int *state)
{
    return ++*state & 1;
}
static int (*volatile poll_fn)(int *) = poll_stub;

static double bare(long n)
{
    int state = 0, ready = 0;
    uint64_t start = now_ns();
    for (long i = 0; i < n; i++)
        ready += poll_fn(&state);
    uint64_t ns = now_ns() - start;
    if (ready < 0)
        puts("impossible"); /* keeps `ready` alive */
    return (double) ns / (double) n;
}

static double traced(long n)
{
    int state = 0, ready = 0;
    uint64_t start = now_ns();
    for (long i = 0; i < n; i++) {
        trace_poll_begin((uint64_t) i, "task");
        int r = poll_fn(&state);
        trace_poll_end((uint64_t) i, false);
        trace_wake((uint64_t) i + 1, "task"); /* the next iteration polls it */
        ready += r;
    }
    uint64_t ns = now_ns() - start;
    if (ready < 0)
        puts("impossible");
    return (double) ns / (double) n;
}

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[1], "off") != 0 && strcmp(argv[1], "on") != 0)) {
        fprintf(stderr, "usage: bench off|on ITERATIONS ROUNDS\n");
        return 2;
    }
    long n = atol(argv[2]), rounds = atol(argv[3]);
    bool off = strcmp(argv[1], "off") == 0;
    if (n < 1 || rounds < 1 || off == trace_enabled()) {
        fprintf(stderr, "bench: bad counts, or ASYNC_TRACE does not match '%s'\n", argv[1]);
        return 2;
    }
    trace_thread("bench");
    bare(n / 10 + 1); /* warm up: page in the code, wake the CPU's clock */
    traced(n / 10 + 1);
    for (long r = 0; r < rounds; r++) {
        if (off) {
            /* The two loops take turns going first, so neither always runs
               on a warmer or a colder machine. */
            double b, t;
            if (r % 2 == 0) {
                b = bare(n);
                t = traced(n);
            } else {
                t = traced(n);
                b = bare(n);
            }
            printf("bare_ns=%.4f traced_ns=%.4f\n", b, t);
        } else {
            printf("traced_ns=%.4f\n", traced(n));
        }
    }
    return 0;
}
