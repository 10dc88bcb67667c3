/* untouched.c: coroutine and wait inside comments, strings, character
 * literals, other identifiers, designators and macros stay as they are.
 * This coroutine is not a coroutine: coroutine int f(void) { x.wait; } */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

// coroutine void g(void) { y.wait; }
#define WAIT_FOR(f) f.wait
#define coroutine_count 2

struct options {
    int wait;      /* a member named wait */
    int waiting;
};

static int wait_time = 3;

static void show(const struct options *o)
{
    printf("\"coroutine\" and \".wait\" in a string, '.', wait %d, waiting %d\n", o->wait,
           o->waiting);
}

// ===== coroutine still_translated (untouched.c:26), as you wrote it =====
//
//     coroutine int still_translated(void)
//     {
//         struct options o = {.wait = 1, .waiting = 2};
//         int coroutines = coroutine_count; /* "wait" */
//         int waited = ready_int(1, wait_time).wait;
//         o.waiting = waited;
//         show(&o);
//         printf("%s %c\n", "x.wait; coroutine", '.');
//         return coroutines + o.waiting;
//     }
//
// corofy turned it into the four pieces below: struct still_translated_frame (the state,
// the parameters and the locals, kept from one poll to the next), still_translated_poll
// (runs the body from one wait point to the next), still_translated_drop, and the
// constructor still_translated(), which makes the frame without running any of the body.

struct future *still_translated(void);

struct still_translated_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1: at the wait point, -1: finished */
    struct options o;       /* local, line 28 */
    int coroutines;         /* "wait" */
    int waited;             /* local, line 30 */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status still_translated_poll(struct future *self, void *output)
{
    struct still_translated_frame *frame = (struct still_translated_frame *) self;

    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        frame->o = (struct options){.wait = 1, .waiting = 2};
        frame->coroutines = coroutine_count; /* "wait" */
        /* ---- wait point 1: int waited = ready_int(1, wait_time).wait; ---- */
        frame->awaited = ready_int(1, wait_time);
        frame->state = 1;
        /* fall through */
    case 1:
        if (frame->awaited->poll(frame->awaited, &frame->waited) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 1 ---- */
        frame->o.waiting = frame->waited;
        show(&frame->o);
        printf("%s %c\n", "x.wait; coroutine", '.');
        if (output != NULL)
            *(int *) output = frame->coroutines + frame->o.waiting;
        frame->state = -1;
        return POLL_READY;
        /* ---- end of your code ---- */
    default:
        fprintf(stderr, "corofy: still_translated polled after it completed\n");
        abort();
    }
}

static void still_translated_drop(struct future *self)
{
    struct still_translated_frame *frame = (struct still_translated_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *still_translated(void)
{
    struct still_translated_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating still_translated\n");
        abort();
    }
    frame->base.poll = still_translated_poll;
    frame->base.drop = still_translated_drop;
    frame->state = 0;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

int main(void)
{
    int r = 0;
    RUN(still_translated(), r);
    printf("%d\n", r);
    return 0;
}
