/* main.c: ch05-runtime step a: the ch04 program, two requests one after the
 * other, on a block_on that sleeps in the registry (chapter 2's event queue)
 * instead of polling in a loop. This is corofy's input: make turns the
 * `coroutine` function into a state machine in main_corofied.c, and that
 * file is what gets compiled. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/clock.h"
#include "../../common/errors.h"
#include "future.h"
#include "http.h"
#include "runtime.h"

// ===== coroutine async_main (main.c:18), as you wrote it =====
//
//     coroutine void async_main(void)
//     {
//         printf("Program starting\n");
//         uint64_t start = now_ns();
//         char *text = http_get("/600/HelloAsyncAwait").wait;
//         http_print(text, start);
//         free(text);
//         start = now_ns();
//         text = http_get("/400/HelloAsyncAwait").wait;
//         http_print(text, start);
//         free(text);
//     }
//
// corofy turned it into the four pieces below: struct async_main_frame (the state,
// the parameters and the locals, kept from one poll to the next), async_main_poll
// (runs the body from one wait point to the next), async_main_drop, and the
// constructor async_main(), which makes the frame without running any of the body.

struct future *async_main(void);

struct async_main_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1-2: at that wait point, -1: finished */
    uint64_t start;         /* local, line 21 */
    char *text;             /* local, line 22 */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status async_main_poll(struct future *self, void *output)
{
    struct async_main_frame *frame = (struct async_main_frame *) self;

    (void) output; /* a void coroutine produces nothing */
    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        printf("Program starting\n");
        frame->start = now_ns();
        /* ---- wait point 1: char *text = http_get("/600/HelloAsyncAwait").wait; ---- */
        frame->awaited = http_get("/600/HelloAsyncAwait");
        frame->state = 1;
        /* fall through */
    case 1:
        if (frame->awaited->poll(frame->awaited, &frame->text) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 1 ---- */
        http_print(frame->text, frame->start);
        free(frame->text);
        frame->start = now_ns();
        /* ---- wait point 2: text = http_get("/400/HelloAsyncAwait").wait; ---- */
        frame->awaited = http_get("/400/HelloAsyncAwait");
        frame->state = 2;
        /* fall through */
    case 2:
        if (frame->awaited->poll(frame->awaited, &frame->text) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 2 ---- */
        http_print(frame->text, frame->start);
        free(frame->text);
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

static const char usage[] =
    "usage: runtime [--full]\n"
    "Sends two requests, one after the other, to the delay server at\n"
    "DELAYSERVER_ADDR (default 127.0.0.1:8080), sleeping in epoll_wait while it\n"
    "waits. A request that has no complete answer after DELAYSERVER_TIMEOUT_MS\n"
    "(default 15000) is given up.\n"
    "\n"
    "  --full      print whole responses instead of one line each\n"
    "  --help      show this help\n";

int main(int argc, char **argv)
{
    bool full = false;

    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        if (argc > 2) {
            fprintf(stderr, "runtime: unexpected argument '%s' after --help\n", argv[2]);
            return 2;
        }
        fputs(usage, stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--full") != 0) {
            fprintf(stderr, "runtime: unknown argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
        full = true;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* each line as it happens, even into a pipe */
    if (http_init(full) < 0)
        return 1;
    int err = runtime_init();
    if (err < 0)
        die("cannot create the registry: %s", strerror(-err));
    err = block_on(async_main(), NULL);
    runtime_close();
    if (err < 0)
        die("epoll_wait: %s", strerror(-err));
    return http_failed() ? 1 : 0;
}
