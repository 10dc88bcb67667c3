/* main.c: ch04-coroutines step a. Polls the hand-written coroutine of
 * coroutine.c every 100 ms, doing "other work" in between, until it is done. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "coroutine.h"

/* ===== main: poll, do "other work", poll again ===== */

static void sleep_ms(long ms)
{
    struct timespec left = {.tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000};

    while (nanosleep(&left, &left) < 0 && errno == EINTR)
        ;
}

static const char usage[] =
    "usage: coroutine [--help]\n"
    "Runs a hand-written coroutine that fetches two messages, one after the other,\n"
    "from the delay server at DELAYSERVER_ADDR (default 127.0.0.1:8080), and polls\n"
    "it every 100 ms until it finishes.\n";

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "coroutine: unknown argument '%s' (try --help)\n", argv[1]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* each line as it happens, even into a pipe */

    struct future *future = async_main();
    while (future->poll(future, NULL) == POLL_PENDING) {
        printf("Schedule other tasks\n");
        sleep_ms(100);
    }
    future->drop(future);
    return 0;
}
