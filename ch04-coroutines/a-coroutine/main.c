/* main.c: ch04-coroutines step a. Polls the hand-written coroutine of
 * coroutine.c every 100 ms, doing "other work" in between, until it is done. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "../../common/clock.h"
#include "coroutine.h"
#include "http.h"

#define POLL_EVERY_MS 100

static const char usage[] =
    "usage: coroutine [--full]\n"
    "Runs a hand-written coroutine that fetches two messages, one after the other,\n"
    "from the delay server at DELAYSERVER_ADDR (default 127.0.0.1:8080), and polls\n"
    "it every 100 ms until it finishes. A request that has no complete answer after\n"
    "DELAYSERVER_TIMEOUT_MS (default 15000) is given up.\n"
    "\n"
    "  --full      print whole responses instead of one line each\n"
    "  --help      show this help\n";

int main(int argc, char **argv)
{
    bool full = false;

    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        if (argc > 2) {
            fprintf(stderr, "coroutine: unexpected argument '%s' after --help (try --help)\n",
                    argv[2]);
            return 2;
        }
        fputs(usage, stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--full") != 0) {
            fprintf(stderr, "coroutine: unknown argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
        full = true;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* each line as it happens, even into a pipe */
    if (http_init(full) < 0)
        return 1;

    /* ===== Poll, do "other work", poll again ===== */
    struct future *future = async_main();
    while (future->poll(future, NULL) == POLL_PENDING) {
        printf("Schedule other tasks\n");
        sleep_blocking_ms(POLL_EVERY_MS);
    }
    future->drop(future);
    return http_failed() ? 1 : 0;
}
