/* main.c: ch05-runtime step f: a parent task spawns children on three
 * executors (its own and those of two other threads), awaits their results
 * through join handles, some before and some after they finish, and
 * detaches one. This is corofy's input: `make corofy` turns the `coroutine`
 * functions into state machines in main_corofied.c, which is what gets
 * compiled. */
/* corofy: waker */
#include <limits.h>
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

#define WORKERS 2 /* exec-1 and exec-2, beside the main thread's */

/* A result that is more than one word: returned by value, like an int. */
struct summary {
    int count;
    int sum;
    int min;
    int max;
};

static struct executor *workers[WORKERS];

/* Ask the delay server to send `n` back after `delay_ms`; the number it
 * sent, or -1 if the request failed or the answer is not a number. */
coroutine int fetch_number(int delay_ms, int n)
{
    char *text = http_get("/%d/%d", delay_ms, n).wait;
    unsigned long long number;
    int result = -1; /* the request failed, or the body is not a number */
    if (text != NULL && parse_count(http_body(text), 0, INT_MAX, &number) == 0)
        result = (int) number;
    free(text);
    return result;
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
    struct future *first = executor_spawn(fetch_number(600, 4), sizeof(int), "fetch 4");
    struct future *second = executor_spawn(fetch_number(1200, 6), sizeof(int), "fetch 6");
    struct future *third = executor_spawn(fetch_number(1000, 5), sizeof(int), "fetch 5");
    int x = first.wait;
    int y = second.wait;
    int z = third.wait;
    struct summary s = {3, x + y + z, x, x};
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

/* What it prints does not depend on timing, only on the order of events:
 * b is asked about right after its spawn (its children wait 600 to 1200
 * ms for the server); a and the detached task need 100 ms, done long before
 * b; c is spawned on this task's own executor, which cannot poll it before
 * this task waits. */
coroutine void parent(void)
{
    const char *me = executor_name();
    struct future *a = executor_spawn_on(workers[0], square(100, 7), sizeof(int), "a");
    struct future *b = executor_spawn_on(workers[1], summarize(), sizeof(struct summary), "b");
    printf("%s: spawn a = square(7) on exec-1, b = summarize() on exec-2\n", me);
    printf("%s: b finished? %s\n", me, finished(b));
    printf("%s: spawn one more task on exec-1 and drop its handle: detached\n", me);
    join_detach(executor_spawn_on(workers[0], unwanted(100), sizeof(int), "detached"));

    struct summary s = b.wait;
    printf("%s: b = { count %d, sum %d, min %d, max %d }\n", me, s.count, s.sum, s.min, s.max);
    printf("%s: a finished? %s\n", me, finished(a));
    int a_value = a.wait;
    printf("%s: a = %d\n", me, a_value);

    struct future *c = executor_spawn(square(400, 9), sizeof(int), "c");
    printf("%s: spawn c = square(9) here, on this task's own executor\n", me);
    printf("%s: c finished? %s\n", me, finished(c));
    int c_value = c.wait;
    printf("%s: c = %d\n", me, c_value);

    int d = executor_spawn_on(workers[1], square(400, 3), sizeof(int), "d").wait;
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
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        if (argc > 2) {
            fprintf(stderr, "join: unexpected argument '%s' after --help (try --help)\n", argv[2]);
            return 2;
        }
        printf("usage: join\n"
               "Runs a parent task that spawns children on three executors (three\n"
               "threads), awaits their results through join handles and detaches one.\n"
               "The children ask the delay server at DELAYSERVER_ADDR (default\n"
               "127.0.0.1:8080) for their numbers; a request that has no complete answer\n"
               "after DELAYSERVER_TIMEOUT_MS (default 15000) is given up.\n");
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "join: unknown argument '%s' (try --help)\n", argv[1]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* each line as it happens, even into a pipe */
    if (http_init(false) < 0)
        return 1;
    int err = reactor_start();
    if (err < 0)
        die("cannot start the reactor: %s", strerror(-err));

    pthread_t threads[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        char name[16];
        snprintf(name, sizeof name, "exec-%d", i + 1);
        workers[i] = executor_new(name);
        check_pthread(pthread_create(&threads[i], NULL, worker_main, workers[i]), "pthread_create");
    }
    executor_block_on("main", parent());

    /* The parent is done, but a detached task may still be running: the
       workers return once their last task has finished. */
    for (int i = 0; i < WORKERS; i++) {
        executor_shutdown(workers[i]);
        check_pthread(pthread_join(threads[i], NULL), "pthread_join");
        executor_free(workers[i]);
    }
    reactor_stop();
    printf("all executors finished; task structs still allocated: %zu\n", executor_live_tasks());
    return http_failed() ? 1 : 0;
}
