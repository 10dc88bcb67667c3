/* example.c: the worked example of corofy/README.md. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

/* Add up n numbers that arrive one at a time. */
// ===== coroutine sum (example.c:8), as you wrote it =====
//
//     coroutine int sum(int n)
//     {
//         int total = 0;
//         for (int i = 0; i < n; i++) {
//             int x = ready_int(1, i).wait;
//             total += x;
//         }
//         return total;
//     }
//
// corofy turned it into the four pieces below: struct sum_frame (the state,
// the parameters and the locals, kept from one poll to the next), sum_poll
// (runs the body from one wait point to the next), sum_drop, and the
// constructor sum(), which makes the frame without running any of the body.

struct future *sum(int n);

struct sum_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1: at the wait point, -1: finished */
    int n;                  /* parameter */
    int total;              /* local, line 10 */
    int i;                  /* local, line 11 */
    int x;                  /* local, line 12 */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status sum_poll(struct future *self, void *output)
{
    struct sum_frame *frame = (struct sum_frame *) self;

    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        frame->total = 0;
        for (frame->i = 0; frame->i < frame->n; frame->i++) {
            /* ---- wait point 1: int x = ready_int(1, i).wait; ---- */
            frame->awaited = ready_int(1, frame->i);
            frame->state = 1;
            /* fall through */
    case 1:
            if (frame->awaited->poll(frame->awaited, &frame->x) == POLL_PENDING)
                return POLL_PENDING;
            frame->awaited->drop(frame->awaited);
            frame->awaited = NULL;
            /* ---- end of wait point 1 ---- */
            frame->total += frame->x;
        }
        if (output != NULL)
            *(int *) output = frame->total;
        frame->state = -1;
        return POLL_READY;
        /* ---- end of your code ---- */
    default:
        fprintf(stderr, "corofy: sum polled after it completed\n");
        abort();
    }
}

static void sum_drop(struct future *self)
{
    struct sum_frame *frame = (struct sum_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *sum(int n)
{
    struct sum_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating sum\n");
        abort();
    }
    frame->base.poll = sum_poll;
    frame->base.drop = sum_drop;
    frame->state = 0;
    frame->n = n;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

int main(void)
{
    int total = 0;
    RUN(sum(4), total);
    printf("sum(4) = %d\n", total);
    return 0;
}
