/* main.c: ch05-runtime step c: several threads, each with its own executor,
 * all sharing one reactor; every executor spawns five requests. This is
 * corofy's input: `make corofy` turns the `coroutine` functions into state
 * machines in main_corofied.c, and that file is what gets compiled. */
/* corofy: waker */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "executor.h"
#include "future.h"
#include "http.h"
#include "reactor.h"

#define DEFAULT_EXECUTORS 6     /* the main thread's and five more */
#define MAX_EXECUTORS 64
#define REQUESTS 5              /* spawned by every executor */

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
        executor_spawn(request(i, (REQUESTS - i) * 400));
}

struct worker {
    pthread_t thread;
    char name[16];              /* also the thread's name (at most 15 bytes) */
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    pthread_setname_np(pthread_self(), w->name);    /* for top -H, gdb, ... */
    executor_block_on(w->name, async_main());
    return NULL;
}

static int usage(const char *prog, FILE *to)
{
    fprintf(to, "usage: %s [--threads N]\n"
                "Runs N executors (default %d, at most %d), one per thread, all sharing\n"
                "one reactor; each spawns %d requests to the delay server at\n"
                "DELAYSERVER_ADDR (default 127.0.0.1:8080).\n",
            prog, DEFAULT_EXECUTORS, MAX_EXECUTORS, REQUESTS);
    return to == stdout ? 0 : 2;
}

int main(int argc, char **argv)
{
    int executors = DEFAULT_EXECUTORS;
    for (int i = 1; i < argc; i++) {
        char *end;
        if (strcmp(argv[i], "--help") == 0)
            return usage(argv[0], stdout);
        if (strcmp(argv[i], "--threads") == 0) {
            const char *value = i + 1 < argc ? argv[++i] : "";
            long n = strtol(value, &end, 10);
            if (*value != '\0' && *end == '\0' && n >= 1 && n <= MAX_EXECUTORS) {
                executors = (int)n;
                continue;
            }
            fprintf(stderr, "%s: --threads wants a number from 1 to %d, not '%s'\n",
                    argv[0], MAX_EXECUTORS, value);
            return 2;
        }
        fprintf(stderr, "%s: unknown argument '%s' (try --help)\n", argv[0], argv[i]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);   /* each line as it happens, even into a pipe */
    if (http_init() < 0)
        return 1;
    int err = reactor_start();
    if (err < 0) {
        fprintf(stderr, "%s: cannot start the reactor: %s\n", argv[0], strerror(-err));
        return 1;
    }
    printf("Program starting: %d executors\n", executors);

    /* The main thread runs an executor too; the others get one each. */
    static struct worker workers[MAX_EXECUTORS];
    int started = 0, status = 0;
    for (int i = 1; i < executors; i++) {
        struct worker *w = &workers[started];
        snprintf(w->name, sizeof w->name, "exec-%d", i);
        if ((err = pthread_create(&w->thread, NULL, worker_main, w)) != 0) {
            fprintf(stderr, "%s: cannot start thread %s: %s\n", argv[0], w->name, strerror(err));
            status = 1;
            break;
        }
        started++;
    }
    executor_block_on("main", async_main());
    for (int i = 0; i < started; i++)
        pthread_join(workers[i].thread, NULL);

    reactor_stop();
    return status != 0 || http_failed() ? 1 : 0;
}
