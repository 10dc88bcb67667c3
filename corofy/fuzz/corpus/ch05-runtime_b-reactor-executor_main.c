/* main.c: ch05-runtime step b: five requests spawned as tasks on one
 * executor, each polled again only when the reactor wakes it. This is
 * corofy's input: `make corofy` turns the `coroutine` functions into state
 * machines in main_corofied.c, and that file is what gets compiled. */
/* corofy: waker */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "executor.h"
#include "future.h"
#include "http.h"
#include "reactor.h"

/* One request: wait for the response and print it. */
coroutine void request(int i, int delay_ms)
{
    char *text = http_get("/%d/HelloWorld%d", delay_ms, i).wait;
    if (text != NULL) {
        printf("%s\n\n", text);
        free(text);
    }
}

/* Spawn five requests, the slowest first; they all wait at the same time. */
coroutine void async_main(void)
{
    printf("Program starting\n");
    for (int i = 0; i < 5; i++)
        executor_spawn(request(i, (5 - i) * 400));
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        if (strcmp(argv[1], "--help") != 0) {
            fprintf(stderr, "%s: unknown argument '%s' (try --help)\n", argv[0], argv[1]);
            return 2;
        }
        printf("usage: %s\n"
               "Spawns five requests to the delay server at DELAYSERVER_ADDR\n"
               "(default 127.0.0.1:8080) and runs them on one executor.\n", argv[0]);
        return 0;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);   /* each line as it happens, even into a pipe */
    if (http_init() < 0)
        return 1;
    int err = reactor_start();
    if (err < 0) {
        fprintf(stderr, "%s: cannot start the reactor: %s\n", argv[0], strerror(-err));
        return 1;
    }
    executor_block_on("main", async_main());
    reactor_stop();
    return http_failed() ? 1 : 0;
}
