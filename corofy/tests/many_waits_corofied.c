/* many_waits.c: several wait points in a row, in all four shapes. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

// ===== coroutine steps (many_waits.c:7), as you wrote it =====
//
//     coroutine int steps(void)
//     {
//         printf("step 0\n");
//         int a = ready_int(1, 10).wait;
//         printf("step 1: a = %d\n", a);
//         sleep_polls(3).wait;
//         printf("step 2\n");
//         a = ready_int(2, a + 5).wait;
//         printf("step 3: a = %d\n", a);
//         char *word = ready_str(1, "wait").wait;
//         printf("step 4: %s\n", word);
//         free(word);
//         ready_int(0, 99).wait;
//         printf("step 5\n");
//         return ready_int(4, a * 2).wait;
//     }
//
// corofy turned it into the four pieces below: struct steps_frame (the state,
// the parameters and the locals, kept from one poll to the next), steps_poll
// (runs the body from one wait point to the next), steps_drop, and the
// constructor steps(), which makes the frame without running any of the body.

struct future *steps(void);

struct steps_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1-6: at that wait point, -1: finished */
    int a;                  /* local, line 10 */
    char *word;             /* local, line 16 */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status steps_poll(struct future *self, void *output)
{
    struct steps_frame *frame = (struct steps_frame *) self;
    int result; /* the value of a return statement */

    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        printf("step 0\n");
        /* ---- wait point 1: int a = ready_int(1, 10).wait; ---- */
        frame->awaited = ready_int(1, 10);
        frame->state = 1;
        /* fall through */
    case 1:
        if (frame->awaited->poll(frame->awaited, &frame->a) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 1 ---- */
        printf("step 1: a = %d\n", frame->a);
        /* ---- wait point 2: sleep_polls(3).wait; ---- */
        frame->awaited = sleep_polls(3);
        frame->state = 2;
        /* fall through */
    case 2:
        if (frame->awaited->poll(frame->awaited, NULL) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 2 ---- */
        printf("step 2\n");
        /* ---- wait point 3: a = ready_int(2, a + 5).wait; ---- */
        frame->awaited = ready_int(2, frame->a + 5);
        frame->state = 3;
        /* fall through */
    case 3:
        if (frame->awaited->poll(frame->awaited, &frame->a) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 3 ---- */
        printf("step 3: a = %d\n", frame->a);
        /* ---- wait point 4: char *word = ready_str(1, "wait").wait; ---- */
        frame->awaited = ready_str(1, "wait");
        frame->state = 4;
        /* fall through */
    case 4:
        if (frame->awaited->poll(frame->awaited, &frame->word) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 4 ---- */
        printf("step 4: %s\n", frame->word);
        free(frame->word);
        /* ---- wait point 5: ready_int(0, 99).wait; ---- */
        frame->awaited = ready_int(0, 99);
        frame->state = 5;
        /* fall through */
    case 5:
        if (frame->awaited->poll(frame->awaited, NULL) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 5 ---- */
        printf("step 5\n");
        /* ---- wait point 6: return ready_int(4, a * 2).wait; ---- */
        frame->awaited = ready_int(4, frame->a * 2);
        frame->state = 6;
        /* fall through */
    case 6:
        if (frame->awaited->poll(frame->awaited, &result) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 6 ---- */
        if (output != NULL)
            *(int *) output = result;
        frame->state = -1;
        return POLL_READY;
        /* ---- end of your code ---- */
    default:
        fprintf(stderr, "corofy: steps polled after it completed\n");
        abort();
    }
}

static void steps_drop(struct future *self)
{
    struct steps_frame *frame = (struct steps_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *steps(void)
{
    struct steps_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating steps\n");
        abort();
    }
    frame->base.poll = steps_poll;
    frame->base.drop = steps_drop;
    frame->state = 0;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

int main(void)
{
    int result = 0;
    RUN(steps(), result);
    printf("result %d\n", result);
    return 0;
}
