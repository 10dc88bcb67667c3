/* main.c: ch06-io-uring step c: step b's program, five requests spawned as
 * tasks on one executor whose reactor is built on io_uring, with one change:
 * each request waits for its answer for a limited time (--patience), and is
 * dropped, its receive still in flight, when that time is up. This is
 * corofy's input: make turns the `coroutine` functions into state machines
 * in main_corofied.c, and that file is what gets compiled. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/args.h"
#include "../../common/clock.h"
#include "../../common/errors.h"
#include "executor.h"
#include "future.h"
#include "http.h"
#include "reactor.h"
#include "timeout.h"

#define DEFAULT_PATIENCE_MS 1000
#define MAX_PATIENCE_MS 3600000

static unsigned patience_ms = DEFAULT_PATIENCE_MS; /* --patience */

/* One request: wait for the response, but not longer than patience_ms, and
 * print it; or say that it was dropped. */
// ===== coroutine request (main.c:31), as you wrote it =====
//
//     coroutine void request(int i, int delay_ms)
//     {
//         uint64_t start = now_ns();
//         char *text = NULL;
//         bool in_time = with_timeout(http_get("/%d/HelloWorld%d", delay_ms, i), patience_ms, &text).wait;
//         if (in_time)
//             http_print(text, start);
//         else
//             printf("HelloWorld%d: no answer within %u ms: dropped\n", i, patience_ms);
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
    uint64_t start;         /* local, line 33 */
    char *text;             /* local, line 34 */
    bool in_time;           /* local, line 35 */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status request_poll(struct future *self, const struct waker *waker, void *output)
{
    struct request_frame *frame = (struct request_frame *) self;

    (void) output; /* a void coroutine produces nothing */
    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        frame->start = now_ns();
        frame->text = NULL;
        /* ---- wait point 1: bool in_time = with_timeout(http_get("/%d/HelloWorld%d", delay_ms, i), patience_ms, &text).wait; ---- */
        frame->awaited = with_timeout(http_get("/%d/HelloWorld%d", frame->delay_ms, frame->i), patience_ms, &frame->text);
        frame->state = 1;
        /* fall through */
    case 1:
        if (frame->awaited->poll(frame->awaited, waker, &frame->in_time) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 1 ---- */
        if (frame->in_time)
            http_print(frame->text, frame->start);
        else
            printf("HelloWorld%d: no answer within %u ms: dropped\n", frame->i, patience_ms);
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

/* Spawn five requests, the slowest first; they all wait at the same time. */
// ===== coroutine async_main (main.c:44), as you wrote it =====
//
//     coroutine void async_main(void)
//     {
//         printf("Program starting\n");
//         for (int i = 0; i < 5; i++)
//             executor_spawn(request(i, (5 - i) * 400));
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
    int i;                  /* local, line 47 */
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
        printf("Program starting\n");
        for (frame->i = 0; frame->i < 5; frame->i++)
            executor_spawn(request(frame->i, (5 - frame->i) * 400));
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

#define EXIT_UNAVAILABLE 77 /* io_uring is not available here ("skipped" to test tools) */

static const char usage[] =
    "usage: cancel [--patience MS] [--full]\n"
    "Spawns five requests to the delay server at DELAYSERVER_ADDR (default\n"
    "127.0.0.1:8080), 2000 ms down to 400 ms, and runs them on one executor,\n"
    "which hands each connect, send and receive to the kernel through io_uring.\n"
    "Each request waits for its answer for MS milliseconds at most and is then\n"
    "dropped, with its receive still in flight. A request that has no complete\n"
    "answer after DELAYSERVER_TIMEOUT_MS (default 15000) is given up, and the\n"
    "program exits with status 1. Where io_uring is not available, says so in\n"
    "one line and exits with status 77.\n"
    "\n"
    "  --patience MS  how long each request waits, 1 to 3600000 (default 1000)\n"
    "  --full         print whole responses instead of one line each\n"
    "  --help         show this help\n";

int main(int argc, char **argv)
{
    bool full = false;
    unsigned long long ms;

    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        if (argc > 2)
            die_usage("unexpected argument '%s' after --help", argv[2]);
        fputs(usage, stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--full") == 0) {
            full = true;
        } else if (strcmp(argv[i], "--patience") == 0) {
            if (++i == argc)
                die_usage("--patience needs a value");
            if (parse_count(argv[i], 1, MAX_PATIENCE_MS, &ms) < 0)
                die_usage("--patience wants a number from 1 to %d, not '%s'", MAX_PATIENCE_MS,
                          argv[i]);
            patience_ms = (unsigned) ms;
        } else {
            die_usage("unknown argument '%s'", argv[i]);
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* each line as it happens, even into a pipe */
    if (http_init(full) < 0)
        return 1;
    int err = reactor_open();
    if (err == -ENOSYS || err == -EPERM) {
        fprintf(stderr, "%s: io_uring is not available here: io_uring_setup: %s (%s)\n",
                program_invocation_short_name, strerror(-err),
                err == -ENOSYS ? "a kernel without io_uring, or a seccomp filter that hides it"
                               : "kernel.io_uring_disabled or a seccomp profile forbids it");
        return EXIT_UNAVAILABLE;
    }
    if (err < 0)
        die("cannot open the reactor: %s", strerror(-err));
    executor_block_on("main", async_main());
    reactor_close(); /* waits for what the dropped requests left in flight */
    return http_failed() ? 1 : 0;
}
