/* main.c: ch06-io-uring step c: step b's program, five requests spawned as
 * tasks on one executor whose reactor is built on io_uring, with one change:
 * each request waits for its answer for a limited time (--patience), and is
 * dropped, its receive still in flight, when that time is up. This is
 * corofy's input: make turns the `coroutine` functions into state machines
 * in main_corofied.c, and that file is what gets compiled. */
/* corofy: waker */
#include <errno.h>
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
#include "http.h"
#include "reactor.h"
#include "timeout.h"

#define DEFAULT_PATIENCE_MS 1000
#define MAX_PATIENCE_MS 3600000

static unsigned patience_ms = DEFAULT_PATIENCE_MS; /* --patience */

/* One request: wait for the response, but not longer than patience_ms, and
 * print it; or say that it was dropped. */
coroutine void request(int i, int delay_ms)
{
    uint64_t start = now_ns();
    char *text = NULL;
    bool in_time = with_timeout(http_get("/%d/HelloWorld%d", delay_ms, i), patience_ms, &text).wait;
    if (in_time)
        http_print(text, start);
    else
        printf("HelloWorld%d: no answer within %u ms: dropped\n", i, patience_ms);
    free(text);
}

/* Spawn five requests, the slowest first; they all wait at the same time. */
coroutine void async_main(void)
{
    printf("Program starting\n");
    for (int i = 0; i < 5; i++)
        executor_spawn(request(i, (5 - i) * 400), "request %d", i);
}

#define EXIT_UNAVAILABLE 77 /* io_uring is not available here ("skipped" to test tools) */

static const char usage[] =
    "usage: cancel [--patience MS] [--full]\n"
    "Spawns five requests to the delay server at DELAYSERVER_ADDR (default\n"
    "127.0.0.1:8080), 2000 ms down to 400 ms, and runs them on one executor,\n"
    "which hands each connect, send and receive to the kernel through io_uring.\n"
    "Each request waits for its answer for MS milliseconds at most and is then\n"
    "dropped, with its receive still in flight. A request that has no complete\n"
    "answer after DELAYSERVER_TIMEOUT_MS (default 15000) is given up, and the\n"
    "program exits with status 1. Where io_uring is not available, says so in\n"
    "one line and exits with status 77.\n"
    "\n"
    "  --patience MS  how long each request waits, 1 to 3600000 (default 1000)\n"
    "  --full         print whole responses instead of one line each\n"
    "  --help         show this help\n";

int main(int argc, char **argv)
{
    bool full = false;
    unsigned long long ms;

    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        if (argc > 2)
            die_usage("unexpected argument '%s' after --help", argv[2]);
        fputs(usage, stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--full") == 0) {
            full = true;
        } else if (strcmp(argv[i], "--patience") == 0) {
            if (++i == argc)
                die_usage("--patience needs a value");
            if (parse_count(argv[i], 1, MAX_PATIENCE_MS, &ms) < 0)
                die_usage("--patience wants a number from 1 to %d, not '%s'", MAX_PATIENCE_MS,
                          argv[i]);
            patience_ms = (unsigned) ms;
        } else {
            die_usage("unknown argument '%s'", argv[i]);
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* each line as it happens, even into a pipe */
    if (http_init(full) < 0)
        return 1;
    int err = reactor_open();
    if (err == -ENOSYS || err == -EPERM) {
        fprintf(stderr, "%s: io_uring is not available here: io_uring_setup: %s (%s)\n",
                program_invocation_short_name, strerror(-err),
                err == -ENOSYS ? "a kernel without io_uring, or a seccomp filter that hides it"
                               : "kernel.io_uring_disabled or a seccomp profile forbids it");
        return EXIT_UNAVAILABLE;
    }
    if (err < 0)
        die("cannot open the reactor: %s", strerror(-err));
    executor_block_on("main", async_main());
    reactor_close(); /* waits for what the dropped requests left in flight */
    return http_failed() ? 1 : 0;
}
