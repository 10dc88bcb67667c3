/* main.c: ch05-runtime step d: several threads, each with its own executor,
 * all sharing one reactor; every executor spawns five requests. This is
 * corofy's input: make turns the `coroutine` functions into state machines
 * in main_corofied.c, and that file is what gets compiled. */
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
// ===== coroutine request (main.c:24), as you wrote it =====
//
//     coroutine void request(int i, int delay_ms)
//     {
//         char *text = http_get("/%d/%s-request-%d", delay_ms, executor_name(), i).wait;
//         if (text != NULL)
//             printf("%s: received %s\n", executor_name(), http_body(text));
//         free(text);
//     }
//
// corofy turned it into the four pieces below: struct request_frame (the state,
// the parameters and the locals, kept from one poll to the next), request_poll
// (runs the body from one wait point to the next), request_drop, and the
// constructor request(), which makes the frame without running any of the body.

struct future *request(int i, int delay_ms);

struct request_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1: at the wait point, -1: finished */
    int i;                  /* parameter */
    int delay_ms;           /* parameter */
    char *text;             /* local, line 26 */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status request_poll(struct future *self, const struct waker *waker, void *output)
{
    struct request_frame *frame = (struct request_frame *) self;

    (void) output; /* a void coroutine produces nothing */
    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        /* ---- wait point 1: char *text = http_get("/%d/%s-request-%d", delay_ms, executor_name(), i).wait; ---- */
        frame->awaited = http_get("/%d/%s-request-%d", frame->delay_ms, executor_name(), frame->i);
        frame->state = 1;
        /* fall through */
    case 1:
        if (frame->awaited->poll(frame->awaited, waker, &frame->text) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 1 ---- */
        if (frame->text != NULL)
            printf("%s: received %s\n", executor_name(), http_body(frame->text));
        free(frame->text);
        /* ---- end of your code ---- */
        frame->state = -1;
        return POLL_READY;
    default:
        fprintf(stderr, "corofy: request polled after it completed\n");
        abort();
    }
}

static void request_drop(struct future *self)
{
    struct request_frame *frame = (struct request_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *request(int i, int delay_ms)
{
    struct request_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating request\n");
        abort();
    }
    frame->base.poll = request_poll;
    frame->base.drop = request_drop;
    frame->state = 0;
    frame->i = i;
    frame->delay_ms = delay_ms;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

/* Spawn the requests, the slowest first, on this thread's executor. */
// ===== coroutine async_main (main.c:33), as you wrote it =====
//
//     coroutine void async_main(void)
//     {
//         printf("%s: spawning %d requests\n", executor_name(), REQUESTS);
//         for (int i = 0; i < REQUESTS; i++)
//             executor_spawn(request(i, (REQUESTS - i) * 400), "%s request %d", executor_name(), i);
//     }
//
// corofy turned it into the four pieces below: struct async_main_frame (the state,
// the parameters and the locals, kept from one poll to the next), async_main_poll
// (runs the body from one wait point to the next), async_main_drop, and the
// constructor async_main(), which makes the frame without running any of the body.

struct future *async_main(void);

struct async_main_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, -1: finished */
    int i;                  /* local, line 36 */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status async_main_poll(struct future *self, const struct waker *waker, void *output)
{
    struct async_main_frame *frame = (struct async_main_frame *) self;

    (void) output; /* a void coroutine produces nothing */
    (void) waker;  /* no wait point to hand it to */
    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        printf("%s: spawning %d requests\n", executor_name(), REQUESTS);
        for (frame->i = 0; frame->i < REQUESTS; frame->i++)
            executor_spawn(request(frame->i, (REQUESTS - frame->i) * 400), "%s request %d", executor_name(), frame->i);
        /* ---- end of your code ---- */
        frame->state = -1;
        return POLL_READY;
    default:
        fprintf(stderr, "corofy: async_main polled after it completed\n");
        abort();
    }
}

static void async_main_drop(struct future *self)
{
    struct async_main_frame *frame = (struct async_main_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *async_main(void)
{
    struct async_main_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating async_main\n");
        abort();
    }
    frame->base.poll = async_main_poll;
    frame->base.drop = async_main_drop;
    frame->state = 0;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
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
            fprintf(stderr, "multi-thread: unexpected argument '%s' after --help\n", argv[2]);
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

    reactor_stop();
    return http_failed() ? 1 : 0;
}
