/* main.c: ch05-runtime step d: several threads, each with its own executor,
 * all sharing one reactor; every executor spawns five requests. This is
 * corofy's input: make turns the `coroutine` functions into state machines
 * in main_corofied.c, and that file is what gets compiled. */
/* corofy: waker */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/args.h"
#include "../../common/errors.h"
#include "executor.h"
#include "future.h"
#include "http.h"
#include "reactor.h"

#define DEFAULT_EXECUTORS 6 /* the main thread's and five more */
#define MAX_EXECUTORS 64
#define REQUESTS 5 /* spawned by every executor */

/* One request, named after the executor that runs it, so every line of
 * output says which thread printed it and which request it answers. */
coroutine void request(int i, int delay_ms)
{
    char *text = http_get("/%d/%s-request-%d", delay_ms, executor_name(), i).wait;
    if (text != NULL)
        printf("%s: received %s\n", executor_name(), http_body(text));
    free(text);
}

/* Spawn the requests, the slowest first, on this thread's executor. */
coroutine void async_main(void)
{
    printf("%s: spawning %d requests\n", executor_name(), REQUESTS);
    for (int i = 0; i < REQUESTS; i++)
        executor_spawn(request(i, (REQUESTS - i) * 400), "%s request %d", executor_name(), i);
}

struct worker {
    pthread_t thread;
    char name[16]; /* also the thread's name (at most 15 bytes) */
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    pthread_setname_np(pthread_self(), w->name); /* for top -H, gdb, ... */
    executor_block_on(w->name, async_main());
    return NULL;
}

static void usage(void)
{
    printf("usage: multi-thread [--threads N]\n"
           "Runs N executors (default %d, at most %d), one per thread, all sharing one\n"
           "reactor; each spawns %d requests to the delay server at DELAYSERVER_ADDR\n"
           "(default 127.0.0.1:8080). A request that has no complete answer after\n"
           "DELAYSERVER_TIMEOUT_MS (default 15000) is given up.\n"
           "\n"
           "  --threads N   how many executors (threads), 1 to %d\n"
           "  --help        show this help\n",
           DEFAULT_EXECUTORS, MAX_EXECUTORS, REQUESTS, MAX_EXECUTORS);
}

int main(int argc, char **argv)
{
    unsigned long long executors = DEFAULT_EXECUTORS;

    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        if (argc > 2) {
            fprintf(stderr, "multi-thread: unexpected argument '%s' after --help (try --help)\n",
                    argv[2]);
            return 2;
        }
        usage();
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") != 0) {
            fprintf(stderr, "multi-thread: unknown argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
        const char *value = i + 1 < argc ? argv[++i] : "";
        if (parse_count(value, 1, MAX_EXECUTORS, &executors) < 0) {
            fprintf(stderr, "multi-thread: --threads wants a number from 1 to %d, not '%s'\n",
                    MAX_EXECUTORS, value);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* each line as it happens, even into a pipe */
    if (http_init(false) < 0)
        return 1;
    int err = reactor_start();
    if (err < 0)
        die("cannot start the reactor: %s", strerror(-err));
    printf("Program starting: %llu executors\n", executors);

    /* The main thread runs an executor too; the others get one each. */
    /* LESSON threads: An executor on each of executors - 1 new threads and on this one; join them.
     * hint: Name each worker "exec-1", "exec-2", ... and pthread_create it on
     *   worker_main; then executor_block_on("main", async_main()) on this thread,
     *   and pthread_join every worker you started (check_pthread each call).
     * stub:
     *   (void) worker_main;
     *   lesson_missing("threads"); */
    static struct worker workers[MAX_EXECUTORS];
    int started = 0;
    for (unsigned i = 1; i < executors; i++) {
        struct worker *w = &workers[started];
        snprintf(w->name, sizeof w->name, "exec-%u", i);
        check_pthread(pthread_create(&w->thread, NULL, worker_main, w), "pthread_create");
        started++;
    }
    executor_block_on("main", async_main());
    for (int i = 0; i < started; i++)
        check_pthread(pthread_join(workers[i].thread, NULL), "pthread_join");
    /* END LESSON threads */

    reactor_stop();
    return http_failed() ? 1 : 0;
}
