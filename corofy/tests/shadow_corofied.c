/* shadow.c: names that shadow each other keep their meaning; variables of
 * the same name and type in sibling blocks share a field. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

// ===== coroutine shadow (shadow.c:8), as you wrote it =====
//
//     coroutine int shadow(int x)
//     {
//         int state = 100;  /* a local named like a frame field of corofy's */
//         printf("outer x = %d\n", x);
//         {
//             int x = ready_int(1, 5).wait;
//             printf("inner x = %d\n", x);
//             {
//                 long x = 7;
//                 sleep_polls(1).wait;
//                 printf("innermost x = %ld\n", x);
//             }
//             printf("inner x again = %d\n", x);
//         }
//         for (int i = 0; i < 2; i++)
//             sleep_polls(1).wait;
//         for (int i = 10; i < 12; i++) {
//             int x = ready_int(0, i).wait;
//             printf("loop x = %d\n", x);
//         }
//         for (unsigned i = 0; i < 1; i++)
//             printf("unsigned i = %u\n", i);
//         printf("outer x again = %d, state = %d\n", x, state);
//         return x;
//     }
//
// corofy turned it into the four pieces below: struct shadow_frame (the state,
// the parameters and the locals, kept from one poll to the next), shadow_poll
// (runs the body from one wait point to the next), shadow_drop, and the
// constructor shadow(), which makes the frame without running any of the body.

struct future *shadow(int x);

struct shadow_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1-4: at that wait point, -1: finished */
    int x;                  /* parameter */
    int state_2;            /* a local named like a frame field of corofy's */
    int x_2;                /* local x, lines 13 and 25 */
    long x_3;               /* local x, line 16 */
    int i;                  /* local, lines 22 and 24 */
    unsigned i_2;           /* local i, line 28 */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status shadow_poll(struct future *self, void *output)
{
    struct shadow_frame *frame = (struct shadow_frame *) self;

    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        frame->state_2 = 100; /* a local named like a frame field of corofy's */
        printf("outer x = %d\n", frame->x);
        {
            /* ---- wait point 1: int x = ready_int(1, 5).wait; ---- */
            frame->awaited = ready_int(1, 5);
            frame->state = 1;
            /* fall through */
    case 1:
            if (frame->awaited->poll(frame->awaited, &frame->x_2) == POLL_PENDING)
                return POLL_PENDING;
            frame->awaited->drop(frame->awaited);
            frame->awaited = NULL;
            /* ---- end of wait point 1 ---- */
            printf("inner x = %d\n", frame->x_2);
            {
                frame->x_3 = 7;
                /* ---- wait point 2: sleep_polls(1).wait; ---- */
                frame->awaited = sleep_polls(1);
                frame->state = 2;
                /* fall through */
    case 2:
                if (frame->awaited->poll(frame->awaited, NULL) == POLL_PENDING)
                    return POLL_PENDING;
                frame->awaited->drop(frame->awaited);
                frame->awaited = NULL;
                /* ---- end of wait point 2 ---- */
                printf("innermost x = %ld\n", frame->x_3);
            }
            printf("inner x again = %d\n", frame->x_2);
        }
        for (frame->i = 0; frame->i < 2; frame->i++) {
            /* ---- wait point 3: sleep_polls(1).wait; ---- */
            frame->awaited = sleep_polls(1);
            frame->state = 3;
            /* fall through */
    case 3:
            if (frame->awaited->poll(frame->awaited, NULL) == POLL_PENDING)
                return POLL_PENDING;
            frame->awaited->drop(frame->awaited);
            frame->awaited = NULL;
            /* ---- end of wait point 3 ---- */
        }
        for (frame->i = 10; frame->i < 12; frame->i++) {
            /* ---- wait point 4: int x = ready_int(0, i).wait; ---- */
            frame->awaited = ready_int(0, frame->i);
            frame->state = 4;
            /* fall through */
    case 4:
            if (frame->awaited->poll(frame->awaited, &frame->x_2) == POLL_PENDING)
                return POLL_PENDING;
            frame->awaited->drop(frame->awaited);
            frame->awaited = NULL;
            /* ---- end of wait point 4 ---- */
            printf("loop x = %d\n", frame->x_2);
        }
        for (frame->i_2 = 0; frame->i_2 < 1; frame->i_2++)
            printf("unsigned i = %u\n", frame->i_2);
        printf("outer x again = %d, state = %d\n", frame->x, frame->state_2);
        if (output != NULL)
            *(int *) output = frame->x;
        frame->state = -1;
        return POLL_READY;
        /* ---- end of your code ---- */
    default:
        fprintf(stderr, "corofy: shadow polled after it completed\n");
        abort();
    }
}

static void shadow_drop(struct future *self)
{
    struct shadow_frame *frame = (struct shadow_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *shadow(int x)
{
    struct shadow_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating shadow\n");
        abort();
    }
    frame->base.poll = shadow_poll;
    frame->base.drop = shadow_drop;
    frame->state = 0;
    frame->x = x;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

int main(void)
{
    int x = 0;
    RUN(shadow(1), x);
    printf("x %d\n", x);
    return 0;
}
