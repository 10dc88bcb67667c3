/* main.c: ch05-runtime step b: five requests spawned as tasks on one
 * executor, each polled again only when its waker says so; the executor's
 * thread sleeps in the reactor in between. This is corofy's input: make
 * turns the `coroutine` functions into state machines in main_corofied.c,
 * and that file is what gets compiled. */
/* corofy: waker */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/clock.h"
#include "../../common/errors.h"
#include "executor.h"
#include "future.h"
#include "http.h"
#include "reactor.h"

/* One request: wait for the response and print it. */
coroutine void request(int i, int delay_ms)
{
    uint64_t start = now_ns();
    char *text = http_get("/%d/HelloWorld%d", delay_ms, i).wait;
    http_print(text, start);
    free(text);
}

/* Spawn five requests, the slowest first; they all wait at the same time. */
coroutine void async_main(void)
{
    printf("Program starting\n");
    for (int i = 0; i < 5; i++)
        executor_spawn(request(i, (5 - i) * 400), "request %d", i);
}

static const char usage[] =
    "usage: executor [--full]\n"
    "Spawns five requests to the delay server at DELAYSERVER_ADDR (default\n"
    "127.0.0.1:8080) and runs them on one executor, which sleeps in epoll_wait\n"
    "while no task can make progress. A request that has no complete answer\n"
    "after DELAYSERVER_TIMEOUT_MS (default 15000) is given up.\n"
    "\n"
    "  --full      print whole responses instead of one line each\n"
    "  --help      show this help\n";

int main(int argc, char **argv)
{
    bool full = false;

    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        if (argc > 2) {
            fprintf(stderr, "executor: unexpected argument '%s' after --help (try --help)\n",
                    argv[2]);
            return 2;
        }
        fputs(usage, stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--full") != 0) {
            fprintf(stderr, "executor: unknown argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
        full = true;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* each line as it happens, even into a pipe */
    if (http_init(full) < 0)
        return 1;
    int err = reactor_open();
    if (err < 0)
        die("cannot open the reactor: %s", strerror(-err));
    executor_block_on("main", async_main());
    reactor_close();
    return http_failed() ? 1 : 0;
}
