/* main.c: ch05-runtime step a: the ch04 program, two requests one after the
 * other, on a block_on that sleeps in epoll_wait instead of polling in a
 * loop. This is corofy's input: `make corofy` turns the `coroutine` function
 * into a state machine in main_corofied.c, and that file is what gets
 * compiled. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "future.h"
#include "http.h"
#include "runtime.h"

/* Print a response and free it; a failed request (NULL) was reported already. */
static void print_response(char *text)
{
    if (text != NULL)
        printf("%s\n\n", text);
    free(text);
}

coroutine void async_main(void)
{
    printf("Program starting\n");
    char *text = http_get("/600/HelloAsyncAwait").wait;
    print_response(text);
    text = http_get("/400/HelloAsyncAwait").wait;
    print_response(text);
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        if (strcmp(argv[1], "--help") != 0) {
            fprintf(stderr, "%s: unknown argument '%s' (try --help)\n", argv[0], argv[1]);
            return 2;
        }
        printf("usage: %s\n"
               "Sends two requests, one after the other, to the delay server at\n"
               "DELAYSERVER_ADDR (default 127.0.0.1:8080), sleeping in epoll_wait\n"
               "while it waits.\n", argv[0]);
        return 0;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);   /* each line as it happens, even into a pipe */
    if (http_init() < 0)
        return 1;
    int err = runtime_init();
    if (err < 0) {
        fprintf(stderr, "%s: cannot create the registry: %s\n", argv[0], strerror(-err));
        return 1;
    }
    err = block_on(async_main(), NULL);
    runtime_close();
    if (err < 0) {
        fprintf(stderr, "%s: epoll_wait: %s\n", argv[0], strerror(-err));
        return 1;
    }
    return http_failed() ? 1 : 0;
}
