/* async_await.c: ch04-coroutines step b, written in corofy's dialect.
 * This is the file to read and edit. `make corofy` runs ../../corofy/corofy
 * on it and writes async_await_corofied.c, which is what gets compiled:
 * corofy turns each `coroutine` function into a state machine like the one
 * written by hand in step a. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "future.h"
#include "http.h"

static void print_response(char *text)
{
    printf("%s\n", text);
    free(text);
}

/* Five requests, one after another: each starts only once the previous one
 * has been answered, so the delays add up to 0 + 1 + 2 + 3 + 4 = 10 seconds. */
// ===== coroutine async_main (async_await.c:22), as you wrote it =====
//
//     static coroutine void async_main(void)
//     {
//         printf("Program starting\n");
//         char *text = http_get("/0/HelloWorld0").wait;
//         print_response(text);
//         text = http_get("/1000/HelloWorld1").wait;
//         print_response(text);
//         text = http_get("/2000/HelloWorld2").wait;
//         print_response(text);
//         text = http_get("/3000/HelloWorld3").wait;
//         print_response(text);
//         text = http_get("/4000/HelloWorld4").wait;
//         print_response(text);
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
    char *text;             /* local, line 25 */
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
        /* ---- wait point 1: char *text = http_get("/0/HelloWorld0").wait; ---- */
        frame->awaited = http_get("/0/HelloWorld0");
        frame->state = 1;
        /* fall through */
    case 1:
        if (frame->awaited->poll(frame->awaited, &frame->text) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 1 ---- */
        print_response(frame->text);
        /* ---- wait point 2: text = http_get("/1000/HelloWorld1").wait; ---- */
        frame->awaited = http_get("/1000/HelloWorld1");
        frame->state = 2;
        /* fall through */
    case 2:
        if (frame->awaited->poll(frame->awaited, &frame->text) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 2 ---- */
        print_response(frame->text);
        /* ---- wait point 3: text = http_get("/2000/HelloWorld2").wait; ---- */
        frame->awaited = http_get("/2000/HelloWorld2");
        frame->state = 3;
        /* fall through */
    case 3:
        if (frame->awaited->poll(frame->awaited, &frame->text) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 3 ---- */
        print_response(frame->text);
        /* ---- wait point 4: text = http_get("/3000/HelloWorld3").wait; ---- */
        frame->awaited = http_get("/3000/HelloWorld3");
        frame->state = 4;
        /* fall through */
    case 4:
        if (frame->awaited->poll(frame->awaited, &frame->text) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 4 ---- */
        print_response(frame->text);
        /* ---- wait point 5: text = http_get("/4000/HelloWorld4").wait; ---- */
        frame->awaited = http_get("/4000/HelloWorld4");
        frame->state = 5;
        /* fall through */
    case 5:
        if (frame->awaited->poll(frame->awaited, &frame->text) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 5 ---- */
        print_response(frame->text);
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

/* ===== main: busy-polling ===== */

static double seconds_now(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double) now.tv_sec + (double) now.tv_nsec / 1e9;
}

static const char usage[] =
    "usage: async-await [--help]\n"
    "Runs a coroutine (generated by corofy) that fetches five messages, one after\n"
    "the other, from the delay server at DELAYSERVER_ADDR (default 127.0.0.1:8080),\n"
    "polling it in a busy loop, and prints how long it all took.\n";

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "async-await: unknown argument '%s' (try --help)\n", argv[1]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* each line as it happens, even into a pipe */

    double start = seconds_now();
    struct future *future = async_main();
    while (future->poll(future, NULL) == POLL_PENDING)
        ; /* nothing else to do, so ask again at once (and burn a whole core) */
    future->drop(future);
    printf("ELAPSED TIME: %.3f\n", seconds_now() - start);
    return 0;
}
