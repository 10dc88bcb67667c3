/* async_await.c: ch04-coroutines step b, written in corofy's dialect.
 * This is the file to read and edit: make runs ../../corofy/corofy on it and
 * compiles what it writes, async_await_corofied.c. corofy turns each
 * `coroutine` function into a state machine like the one written by hand in
 * step a. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/clock.h"
#include "future.h"
#include "http.h"

#define POLL_EVERY_MS 1 /* no waker yet: main looks again after this long */

/* One request: fetch `path` and print the response. A coroutine awaits
 * another future the same way whether that future is a leaf (http_get) or
 * a coroutine itself. */
// ===== coroutine fetch (async_await.c:21), as you wrote it =====
//
//     static coroutine void fetch(const char *path)
//     {
//         uint64_t start = now_ns();
//         char *text = http_get("%s", path).wait;
//         http_print(text, start);
//         free(text);
//     }
//
// corofy turned it into the four pieces below: struct fetch_frame (the state,
// the parameters and the locals, kept from one poll to the next), fetch_poll
// (runs the body from one wait point to the next), fetch_drop, and the
// constructor fetch(), which makes the frame without running any of the body.

static struct future *fetch(const char *path);

struct fetch_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1: at the wait point, -1: finished */
    const char *path;       /* parameter */
    uint64_t start;         /* local, line 23 */
    char *text;             /* local, line 24 */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status fetch_poll(struct future *self, void *output)
{
    struct fetch_frame *frame = (struct fetch_frame *) self;

    (void) output; /* a void coroutine produces nothing */
    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        frame->start = now_ns();
        /* ---- wait point 1: char *text = http_get("%s", path).wait; ---- */
        frame->awaited = http_get("%s", frame->path);
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
        fprintf(stderr, "corofy: fetch polled after it completed\n");
        abort();
    }
}

static void fetch_drop(struct future *self)
{
    struct fetch_frame *frame = (struct fetch_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

static struct future *fetch(const char *path)
{
    struct fetch_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating fetch\n");
        abort();
    }
    frame->base.poll = fetch_poll;
    frame->base.drop = fetch_drop;
    frame->state = 0;
    frame->path = path;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

/* Five requests, one after another: each starts only once the previous one
 * has been answered, so the delays add up to 0 + 1 + 2 + 3 + 4 = 10 seconds. */
// ===== coroutine async_main (async_await.c:31), as you wrote it =====
//
//     static coroutine void async_main(void)
//     {
//         printf("Program starting\n");
//         fetch("/0/HelloWorld0").wait;
//         fetch("/1000/HelloWorld1").wait;
//         fetch("/2000/HelloWorld2").wait;
//         fetch("/3000/HelloWorld3").wait;
//         fetch("/4000/HelloWorld4").wait;
//     }
//
// corofy turned it into the four pieces below: struct async_main_frame (the state,
// the parameters and the locals, kept from one poll to the next), async_main_poll
// (runs the body from one wait point to the next), async_main_drop, and the
// constructor async_main(), which makes the frame without running any of the body.

static struct future *async_main(void);

struct async_main_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1-5: at that wait point, -1: finished */
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
        /* ---- wait point 1: fetch("/0/HelloWorld0").wait; ---- */
        frame->awaited = fetch("/0/HelloWorld0");
        frame->state = 1;
        /* fall through */
    case 1:
        if (frame->awaited->poll(frame->awaited, NULL) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 1 ---- */
        /* ---- wait point 2: fetch("/1000/HelloWorld1").wait; ---- */
        frame->awaited = fetch("/1000/HelloWorld1");
        frame->state = 2;
        /* fall through */
    case 2:
        if (frame->awaited->poll(frame->awaited, NULL) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 2 ---- */
        /* ---- wait point 3: fetch("/2000/HelloWorld2").wait; ---- */
        frame->awaited = fetch("/2000/HelloWorld2");
        frame->state = 3;
        /* fall through */
    case 3:
        if (frame->awaited->poll(frame->awaited, NULL) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 3 ---- */
        /* ---- wait point 4: fetch("/3000/HelloWorld3").wait; ---- */
        frame->awaited = fetch("/3000/HelloWorld3");
        frame->state = 4;
        /* fall through */
    case 4:
        if (frame->awaited->poll(frame->awaited, NULL) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 4 ---- */
        /* ---- wait point 5: fetch("/4000/HelloWorld4").wait; ---- */
        frame->awaited = fetch("/4000/HelloWorld4");
        frame->state = 5;
        /* fall through */
    case 5:
        if (frame->awaited->poll(frame->awaited, NULL) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 5 ---- */
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

/* ===== main: poll, nap, poll again ===== */

static const char usage[] =
    "usage: async-await [--full]\n"
    "Runs a coroutine (generated by corofy) that fetches five messages, one after\n"
    "the other, from the delay server at DELAYSERVER_ADDR (default 127.0.0.1:8080),\n"
    "polling it every millisecond, and prints how long it all took. A request that\n"
    "has no complete answer after DELAYSERVER_TIMEOUT_MS (default 15000) is given up.\n"
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
