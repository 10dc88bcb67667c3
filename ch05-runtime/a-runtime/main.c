/* main.c: ch05-runtime step a: the ch04 program, two requests one after the
 * other, on a block_on that sleeps in the registry (chapter 2's event queue)
 * instead of polling in a loop. This is corofy's input: make turns the
 * `coroutine` function into a state machine in main_corofied.c, and that
 * file is what gets compiled. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/clock.h"
#include "../../common/errors.h"
#include "future.h"
#include "http.h"
#include "runtime.h"

coroutine void async_main(void)
{
    printf("Program starting\n");
    uint64_t start = now_ns();
    char *text = http_get("/600/HelloAsyncAwait").wait;
    http_print(text, start);
    free(text);
    start = now_ns();
    text = http_get("/400/HelloAsyncAwait").wait;
    http_print(text, start);
    free(text);
}

static const char usage[] =
    "usage: runtime [--full]\n"
    "Sends two requests, one after the other, to the delay server at\n"
    "DELAYSERVER_ADDR (default 127.0.0.1:8080), sleeping in epoll_wait while it\n"
    "waits. A request that has no complete answer after DELAYSERVER_TIMEOUT_MS\n"
    "(default 15000) is given up.\n"
    "\n"
    "  --full      print whole responses instead of one line each\n"
    "  --help      show this help\n";

int main(int argc, char **argv)
{
    bool full = false;

    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        if (argc > 2) {
            fprintf(stderr, "runtime: unexpected argument '%s' after --help (try --help)\n",
                    argv[2]);
            return 2;
        }
        fputs(usage, stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--full") != 0) {
            fprintf(stderr, "runtime: unknown argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
        full = true;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* each line as it happens, even into a pipe */
    if (http_init(full) < 0)
        return 1;
    int err = runtime_init();
    if (err < 0)
        die("cannot create the registry: %s", strerror(-err));
    err = block_on(async_main(), NULL);
    runtime_close();
    if (err < 0)
        die("epoll_wait: %s", strerror(-err));
#ifdef EXERCISE_1 /* README.md */
    printf("block_on slept %d times\n", err);
#endif
    return http_failed() ? 1 : 0;
}
