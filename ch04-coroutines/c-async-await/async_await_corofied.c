/* async_await.c: ch04-coroutines step c, written in corofy's dialect.
 * The same five requests as step b, but started together and awaited with
 * join_all, so they wait for the server at the same time. make runs corofy
 * on this file and compiles what it writes, async_await_corofied.c. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/clock.h"
#include "future.h"
#include "http.h"
#include "join_all.h"

#define POLL_EVERY_MS 1 /* no waker yet: main looks again after this long */
#define REQUESTS 5

/* Request number i asks for /<i seconds>/HelloWorld<i> and prints the answer. */
// ===== coroutine request (async_await.c:20), as you wrote it =====
//
//     static coroutine void request(int i)
//     {
//         uint64_t start = now_ns();
//         char *text = http_get("/%d/HelloWorld%d", i * 1000, i).wait;
//         http_print(text, start);
//         free(text);
//     }
//
// corofy turned it into the four pieces below: struct request_frame (the state,
// the parameters and the locals, kept from one poll to the next), request_poll
// (runs the body from one wait point to the next), request_drop, and the
// constructor request(), which makes the frame without running any of the body.

static struct future *request(int i);

struct request_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1: at the wait point, -1: finished */
    int i;                  /* parameter */
    uint64_t start;         /* local, line 22 */
    char *text;             /* local, line 23 */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status request_poll(struct future *self, void *output)
{
    struct request_frame *frame = (struct request_frame *) self;

    (void) output; /* a void coroutine produces nothing */
    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        frame->start = now_ns();
        /* ---- wait point 1: char *text = http_get("/%d/HelloWorld%d", i * 1000, i).wait; ---- */
        frame->awaited = http_get("/%d/HelloWorld%d", frame->i * 1000, frame->i);
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

static struct future *request(int i)
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
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

/* Create all the requests first (that runs none of them: futures are lazy),
 * then wait for all of them at once. */
// ===== coroutine async_main (async_await.c:30), as you wrote it =====
//
//     static coroutine void async_main(void)
//     {
//         struct future *requests[REQUESTS];
//
//         printf("Program starting\n");
//         for (int i = 0; i < REQUESTS; i++)
//             requests[i] = request(i);
//         join_all(requests, REQUESTS).wait;
//     }
//
// corofy turned it into the four pieces below: struct async_main_frame (the state,
// the parameters and the locals, kept from one poll to the next), async_main_poll
// (runs the body from one wait point to the next), async_main_drop, and the
// constructor async_main(), which makes the frame without running any of the body.

static struct future *async_main(void);

struct async_main_frame {
    struct future base;                /* first: a frame is a future */
    int state;                         /* 0: not started, 1: at the wait point, -1: finished */
    struct future *requests[REQUESTS]; /* local, line 32 */
    int i;                             /* local, line 35 */
    struct future *awaited;            /* the future being waited for, or NULL */
};

static enum poll_status async_main_poll(struct future *self, void *output)
{
    struct async_main_frame *frame = (struct async_main_frame *) self;

    (void) output; /* a void coroutine produces nothing */
    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */

        printf("Program starting\n");
        for (frame->i = 0; frame->i < REQUESTS; frame->i++)
            frame->requests[frame->i] = request(frame->i);
        /* ---- wait point 1: join_all(requests, REQUESTS).wait; ---- */
        frame->awaited = join_all(frame->requests, REQUESTS);
        frame->state = 1;
        /* fall through */
    case 1:
        if (frame->awaited->poll(frame->awaited, NULL) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 1 ---- */
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

static struct future *async_main(void)
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

/* ===== main: poll, nap, poll again, as in step b ===== */

static const char usage[] =
    "usage: async-await [--full]\n"
    "Runs five coroutines (generated by corofy) together: each fetches one message\n"
    "from the delay server at DELAYSERVER_ADDR (default 127.0.0.1:8080). Polls them\n"
    "every millisecond, and prints how long it all took. A request that has no\n"
    "complete answer after DELAYSERVER_TIMEOUT_MS (default 15000) is given up.\n"
    "\n"
    "  --full      print whole responses instead of one line each\n"
    "  --help      show this help\n";

int main(int argc, char **argv)
{
    bool full = false;

    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        if (argc > 2) {
            fprintf(stderr, "async-await: unexpected argument '%s' after --help\n", argv[2]);
            return 2;
        }
        fputs(usage, stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--full") != 0) {
            fprintf(stderr, "async-await: unknown argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
        full = true;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* each line as it happens, even into a pipe */
    if (http_init(full) < 0)
        return 1;

    double start = now_seconds();
    struct future *future = async_main();
    while (future->poll(future, NULL) == POLL_PENDING)
        sleep_blocking_ms(POLL_EVERY_MS); /* nothing can tell us when: look again soon */
    future->drop(future);
    printf("ELAPSED TIME: %.3f\n", now_seconds() - start);
    return http_failed() ? 1 : 0;
}
