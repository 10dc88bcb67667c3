/* one_wait.c: the smallest coroutine with a wait point. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

/* Wait for a number, then add to it. */
// ===== coroutine add_later (one_wait.c:8), as you wrote it =====
//
//     coroutine int add_later(int a, int b)
//     {
//         int x = ready_int(2, a).wait;
//         printf("got %d\n", x);
//         return x + b;
//     }
//
// corofy turned it into the four pieces below: struct add_later_frame (the state,
// the parameters and the locals, kept from one poll to the next), add_later_poll
// (runs the body from one wait point to the next), add_later_drop, and the
// constructor add_later(), which makes the frame without running any of the body.

struct future *add_later(int a, int b);

struct add_later_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1: at the wait point, -1: finished */
    int a;                  /* parameter */
    int b;                  /* parameter */
    int x;                  /* local, line 10 */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status add_later_poll(struct future *self, void *output)
{
    struct add_later_frame *frame = (struct add_later_frame *) self;

    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        /* ---- wait point 1: int x = ready_int(2, a).wait; ---- */
        frame->awaited = ready_int(2, frame->a);
        frame->state = 1;
        /* fall through */
    case 1:
        if (frame->awaited->poll(frame->awaited, &frame->x) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 1 ---- */
        printf("got %d\n", frame->x);
        if (output != NULL)
            *(int *) output = frame->x + frame->b;
        frame->state = -1;
        return POLL_READY;
        /* ---- end of your code ---- */
    default:
        fprintf(stderr, "corofy: add_later polled after it completed\n");
        abort();
    }
}

static void add_later_drop(struct future *self)
{
    struct add_later_frame *frame = (struct add_later_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *add_later(int a, int b)
{
    struct add_later_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating add_later\n");
        abort();
    }
    frame->base.poll = add_later_poll;
    frame->base.drop = add_later_drop;
    frame->state = 0;
    frame->a = a;
    frame->b = b;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

int main(void)
{
    int sum = 0;
    RUN(add_later(40, 2), sum);
    printf("sum %d\n", sum);
    return 0;
}
