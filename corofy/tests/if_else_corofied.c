/* if_else.c: wait points in if and else branches, braced or not, nested. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

// ===== coroutine choose (if_else.c:7), as you wrote it =====
//
//     coroutine int choose(int n)
//     {
//         int got = 0;
//
//         if (n > 2) {
//             got = ready_int(1, n * 10).wait;
//         } else if (n == 2)
//             got = ready_int(2, 200).wait;
//         else {
//             if (n == 1) {
//                 int inner = ready_int(1, 7).wait;
//                 got = inner + 1;
//             } else {
//                 sleep_polls(2).wait;
//                 got = -1;
//             }
//         }
//         if (got > 100)
//             printf("big %d\n", got);
//         else
//             printf("small %d\n", got);
//         if (n == 3)
//             sleep_polls(1).wait;
//         return got;
//     }
//
// corofy turned it into the four pieces below: struct choose_frame (the state,
// the parameters and the locals, kept from one poll to the next), choose_poll
// (runs the body from one wait point to the next), choose_drop, and the
// constructor choose(), which makes the frame without running any of the body.

struct future *choose(int n);

struct choose_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1-5: at that wait point, -1: finished */
    int n;                  /* parameter */
    int got;                /* local, line 9 */
    int inner;              /* local, line 17 */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status choose_poll(struct future *self, void *output)
{
    struct choose_frame *frame = (struct choose_frame *) self;

    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        frame->got = 0;

        if (frame->n > 2) {
            /* ---- wait point 1: got = ready_int(1, n * 10).wait; ---- */
            frame->awaited = ready_int(1, frame->n * 10);
            frame->state = 1;
            /* fall through */
    case 1:
            if (frame->awaited->poll(frame->awaited, &frame->got) == POLL_PENDING)
                return POLL_PENDING;
            frame->awaited->drop(frame->awaited);
            frame->awaited = NULL;
            /* ---- end of wait point 1 ---- */
        } else if (frame->n == 2) {
            /* ---- wait point 2: got = ready_int(2, 200).wait; ---- */
            frame->awaited = ready_int(2, 200);
            frame->state = 2;
            /* fall through */
    case 2:
            if (frame->awaited->poll(frame->awaited, &frame->got) == POLL_PENDING)
                return POLL_PENDING;
            frame->awaited->drop(frame->awaited);
            frame->awaited = NULL;
            /* ---- end of wait point 2 ---- */
        } else {
            if (frame->n == 1) {
                /* ---- wait point 3: int inner = ready_int(1, 7).wait; ---- */
                frame->awaited = ready_int(1, 7);
                frame->state = 3;
                /* fall through */
    case 3:
                if (frame->awaited->poll(frame->awaited, &frame->inner) == POLL_PENDING)
                    return POLL_PENDING;
                frame->awaited->drop(frame->awaited);
                frame->awaited = NULL;
                /* ---- end of wait point 3 ---- */
                frame->got = frame->inner + 1;
            } else {
                /* ---- wait point 4: sleep_polls(2).wait; ---- */
                frame->awaited = sleep_polls(2);
                frame->state = 4;
                /* fall through */
    case 4:
                if (frame->awaited->poll(frame->awaited, NULL) == POLL_PENDING)
                    return POLL_PENDING;
                frame->awaited->drop(frame->awaited);
                frame->awaited = NULL;
                /* ---- end of wait point 4 ---- */
                frame->got = -1;
            }
        }
        if (frame->got > 100)
            printf("big %d\n", frame->got);
        else
            printf("small %d\n", frame->got);
        if (frame->n == 3) {
            /* ---- wait point 5: sleep_polls(1).wait; ---- */
            frame->awaited = sleep_polls(1);
            frame->state = 5;
            /* fall through */
    case 5:
            if (frame->awaited->poll(frame->awaited, NULL) == POLL_PENDING)
                return POLL_PENDING;
            frame->awaited->drop(frame->awaited);
            frame->awaited = NULL;
            /* ---- end of wait point 5 ---- */
        }
        if (output != NULL)
            *(int *) output = frame->got;
        frame->state = -1;
        return POLL_READY;
        /* ---- end of your code ---- */
    default:
        fprintf(stderr, "corofy: choose polled after it completed\n");
        abort();
    }
}

static void choose_drop(struct future *self)
{
    struct choose_frame *frame = (struct choose_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *choose(int n)
{
    struct choose_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating choose\n");
        abort();
    }
    frame->base.poll = choose_poll;
    frame->base.drop = choose_drop;
    frame->state = 0;
    frame->n = n;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

// ===== coroutine all_choices (if_else.c:33), as you wrote it =====
//
//     coroutine void all_choices(void)
//     {
//         for (int n = 0; n < 5; n++) {
//             int r = choose(n).wait;
//             printf("choose(%d) = %d\n", n, r);
//         }
//     }
//
// corofy turned it into the four pieces below: struct all_choices_frame (the state,
// the parameters and the locals, kept from one poll to the next), all_choices_poll
// (runs the body from one wait point to the next), all_choices_drop, and the
// constructor all_choices(), which makes the frame without running any of the body.

struct future *all_choices(void);

struct all_choices_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1: at the wait point, -1: finished */
    int n;                  /* local, line 35 */
    int r;                  /* local, line 36 */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status all_choices_poll(struct future *self, void *output)
{
    struct all_choices_frame *frame = (struct all_choices_frame *) self;

    (void) output; /* a void coroutine produces nothing */
    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        for (frame->n = 0; frame->n < 5; frame->n++) {
            /* ---- wait point 1: int r = choose(n).wait; ---- */
            frame->awaited = choose(frame->n);
            frame->state = 1;
            /* fall through */
    case 1:
            if (frame->awaited->poll(frame->awaited, &frame->r) == POLL_PENDING)
                return POLL_PENDING;
            frame->awaited->drop(frame->awaited);
            frame->awaited = NULL;
            /* ---- end of wait point 1 ---- */
            printf("choose(%d) = %d\n", frame->n, frame->r);
        }
        /* ---- end of your code ---- */
        frame->state = -1;
        return POLL_READY;
    default:
        fprintf(stderr, "corofy: all_choices polled after it completed\n");
        abort();
    }
}

static void all_choices_drop(struct future *self)
{
    struct all_choices_frame *frame = (struct all_choices_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *all_choices(void)
{
    struct all_choices_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating all_choices\n");
        abort();
    }
    frame->base.poll = all_choices_poll;
    frame->base.drop = all_choices_drop;
    frame->state = 0;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

int main(void)
{
    RUN_VOID(all_choices());
    return 0;
}
