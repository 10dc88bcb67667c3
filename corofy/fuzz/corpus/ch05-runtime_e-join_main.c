/* main.c: ch05-runtime step e: a parent task spawns children on three
 * executors (its own and those of two other threads), awaits their results
 * through join handles, some before and some after they finish, and
 * detaches one. This is corofy's input: `make corofy` turns the `coroutine`
 * functions into state machines in main_corofied.c, which is what gets
 * compiled. */
/* corofy: waker */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "executor.h"
#include "future.h"
#include "http.h"
#include "reactor.h"

#define WORKERS 2               /* exec-1 and exec-2, beside the main thread's */

/* A result that is more than one word: returned by value, like an int. */
struct summary {
    int count;
    int sum;
    int min;
    int max;
};

static struct executor *workers[WORKERS];

/* Ask the delay server to send `n` back after `delay_ms`; the number it
 * sent, or -1 if the request failed. */
coroutine int fetch_number(int delay_ms, int n)
{
    char *text = http_get("/%d/%d", delay_ms, n).wait;
    int number = text != NULL ? atoi(http_body(text)) : -1;
    free(text);
    return number;
}

coroutine int square(int delay_ms, int n)
{
    int x = fetch_number(delay_ms, n).wait;
    return x * x;
}

/* Three numbers fetched at once by three tasks of this executor, joined in
 * the order they were spawned and summed up. */
coroutine struct summary summarize(void)
{
    struct future *first = executor_spawn(fetch_number(600, 4), sizeof(int));
    struct future *second = executor_spawn(fetch_number(1200, 6), sizeof(int));
    struct future *third = executor_spawn(fetch_number(1000, 5), sizeof(int));
    int x = first.wait;
    int y = second.wait;
    int z = third.wait;
    struct summary s = { 3, x + y + z, x, x };
    if (y < s.min)
        s.min = y;
    if (z < s.min)
        s.min = z;
    if (y > s.max)
        s.max = y;
    if (z > s.max)
        s.max = z;
    return s;
}

/* The task whose handle is dropped: it runs to the end all the same. */
coroutine int unwanted(int delay_ms)
{
    int n = fetch_number(delay_ms, 99).wait;
    printf("%s: the detached task got %d; nobody will read it\n", executor_name(), n);
    return n;
}

static const char *finished(struct future *handle)
{
    return join_is_finished(handle) ? "yes, its result is already there" : "no, wait for it";
}

coroutine void parent(void)
{
    const char *me = executor_name();
    struct future *a = executor_spawn_on(workers[0], square(400, 7), sizeof(int));
    struct future *b = executor_spawn_on(workers[1], summarize(), sizeof(struct summary));
    struct future *c = executor_spawn(square(1600, 9), sizeof(int));
    printf("%s: spawn a = square(7) on exec-1, b = summarize() on exec-2, c = square(9) here\n", me);
    join_detach(executor_spawn_on(workers[0], unwanted(800), sizeof(int)));
    printf("%s: spawn one more task on exec-1 and drop its handle: detached\n", me);

    printf("%s: b finished? %s\n", me, finished(b));
    struct summary s = b.wait;
    printf("%s: b = { count %d, sum %d, min %d, max %d }\n", me, s.count, s.sum, s.min, s.max);
    printf("%s: a finished? %s\n", me, finished(a));
    int a_value = a.wait;
    printf("%s: a = %d\n", me, a_value);
    printf("%s: c finished? %s\n", me, finished(c));
    int c_value = c.wait;
    printf("%s: c = %d\n", me, c_value);

    int d = executor_spawn_on(workers[1], square(400, 3), sizeof(int)).wait;
    printf("%s: d = square(3) on exec-2, spawned and awaited in one line: %d\n", me, d);
}

static void *worker_main(void *arg)
{
    struct executor *ex = arg;
    executor_run(ex);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        if (strcmp(argv[1], "--help") != 0) {
            fprintf(stderr, "%s: unknown argument '%s' (try --help)\n", argv[0], argv[1]);
            return 2;
        }
        printf("usage: %s\n"
               "Runs a parent task that spawns children on three executors (three\n"
               "threads), awaits their results through join handles and detaches one.\n"
               "The children ask the delay server at DELAYSERVER_ADDR (default\n"
               "127.0.0.1:8080) for their numbers.\n", argv[0]);
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

    pthread_t threads[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        char name[16];
        snprintf(name, sizeof name, "exec-%d", i + 1);
        workers[i] = executor_new(name);
        if ((err = pthread_create(&threads[i], NULL, worker_main, workers[i])) != 0) {
            fprintf(stderr, "%s: cannot start thread %s: %s\n", argv[0], name, strerror(err));
            exit(1);
        }
    }
    executor_block_on("main", parent());

    /* The parent is done, but a detached task may still be running: the
       workers return once their last task has finished. */
    for (int i = 0; i < WORKERS; i++) {
        executor_shutdown(workers[i]);
        pthread_join(threads[i], NULL);
        executor_free(workers[i]);
    }
    reactor_stop();
    printf("all executors finished; task structs still allocated: %zu\n", executor_live_tasks());
    return http_failed() ? 1 : 0;
}
