/* main.c: ch06-io-uring step b: chapter 5 step b's program, five requests
 * spawned as tasks on one executor, on a reactor built on io_uring: each
 * request's connect, send and recv are operations the kernel completes, and
 * the executor's thread sleeps in io_uring_enter in between. This is
 * corofy's input: make turns the `coroutine` functions into state machines
 * in main_corofied.c, and that file is what gets compiled. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/clock.h"
#include "../../common/errors.h"
#include "executor.h"
#include "future.h"
#include "http.h"
#include "reactor.h"

/* One request: wait for the response and print it. */
// ===== coroutine request (main.c:23), as you wrote it =====
//
//     coroutine void request(int i, int delay_ms)
//     {
//         uint64_t start = now_ns();
//         char *text = http_get("/%d/HelloWorld%d", delay_ms, i).wait;
//         http_print(text, start);
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
    uint64_t start;         /* local, line 25 */
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
        frame->start = now_ns();
        /* ---- wait point 1: char *text = http_get("/%d/HelloWorld%d", delay_ms, i).wait; ---- */
        frame->awaited = http_get("/%d/HelloWorld%d", frame->delay_ms, frame->i);
        frame->state = 1;
        /* fall through */
    case 1:
        if (frame->awaited->poll(frame->awaited, waker, &frame->text) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 1 ---- */
        http_print(frame->text, frame->start);
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
// ===== coroutine async_main (main.c:32), as you wrote it =====
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
    int i;                  /* local, line 35 */
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
    "usage: proactor [--full]\n"
    "Spawns five requests to the delay server at DELAYSERVER_ADDR (default\n"
    "127.0.0.1:8080) and runs them on one executor, which hands each connect,\n"
    "send and receive to the kernel through io_uring and sleeps in io_uring_enter\n"
    "while no task can make progress. A request that has no complete answer\n"
    "after DELAYSERVER_TIMEOUT_MS (default 15000) is given up. Where io_uring is\n"
    "not available, says so in one line and exits with status 77.\n"
    "\n"
    "  --full      print whole responses instead of one line each\n"
    "  --help      show this help\n";

int main(int argc, char **argv)
{
    bool full = false;

    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        if (argc > 2) {
            fprintf(stderr, "proactor: unexpected argument '%s' after --help (try --help)\n",
                    argv[2]);
            return 2;
        }
        fputs(usage, stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--full") != 0) {
            fprintf(stderr, "proactor: unknown argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
        full = true;
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
    reactor_close();
    return http_failed() ? 1 : 0;
}
