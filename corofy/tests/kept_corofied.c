/* kept.c: what stays a real local of the poll function: static locals,
 * function declarations, and a variable-length array that no wait follows. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

int helper(int v);

// ===== coroutine kept (kept.c:10), as you wrote it =====
//
//     coroutine int kept(int n)
//     {
//         static int polls_started;
//         int helper(int);
//         _Static_assert(sizeof(int) >= 2, "int too small");
//
//         polls_started++;
//         int sum = ready_int(1, n).wait;
//         {
//             int squares[n];  /* variable length, but no wait follows in its block */
//             for (int i = 0; i < n; i++)
//                 squares[i] = i * i;
//             for (int i = 0; i < n; i++)
//                 sum += squares[i];
//         }
//         return helper(sum) + polls_started;
//     }
//
// corofy turned it into the four pieces below: struct kept_frame (the state,
// the parameters and the locals, kept from one poll to the next), kept_poll
// (runs the body from one wait point to the next), kept_drop, and the
// constructor kept(), which makes the frame without running any of the body.

struct future *kept(int n);

struct kept_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1: at the wait point, -1: finished */
    int n;                  /* parameter */
    int sum;                /* local, line 17 */
    int i;                  /* local, lines 20 and 22 */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status kept_poll(struct future *self, void *output)
{
    struct kept_frame *frame = (struct kept_frame *) self;
    int result; /* the value of a return statement */

    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        ;  /* a label cannot be followed by a declaration */
        static int polls_started;
        int helper(int);
        _Static_assert(sizeof(int) >= 2, "int too small");

        polls_started++;
        /* ---- wait point 1: int sum = ready_int(1, n).wait; ---- */
        frame->awaited = ready_int(1, frame->n);
        frame->state = 1;
        /* fall through */
    case 1:
        if (frame->awaited->poll(frame->awaited, &frame->sum) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 1 ---- */
        {
            int squares[frame->n]; /* variable length, but no wait follows in its block */
            for (frame->i = 0; frame->i < frame->n; frame->i++)
                squares[frame->i] = frame->i * frame->i;
            for (frame->i = 0; frame->i < frame->n; frame->i++)
                frame->sum += squares[frame->i];
        }
        result = helper(frame->sum) + polls_started;
        if (output != NULL)
            *(int *) output = result;
        frame->state = -1;
        return POLL_READY;
        /* ---- end of your code ---- */
    default:
        fprintf(stderr, "corofy: kept polled after it completed\n");
        abort();
    }
}

static void kept_drop(struct future *self)
{
    struct kept_frame *frame = (struct kept_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *kept(int n)
{
    struct kept_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating kept\n");
        abort();
    }
    frame->base.poll = kept_poll;
    frame->base.drop = kept_drop;
    frame->state = 0;
    frame->n = n;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

int helper(int v)
{
    return v + 1000;
}

int main(void)
{
    int out = 0;
    RUN(kept(4), out);
    printf("%d\n", out);
    return 0;
}
