/* loops.c: wait points inside every kind of loop, nested. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

// ===== coroutine loops (loops.c:7), as you wrote it =====
//
//     coroutine int loops(int n)
//     {
//         int total = 0;
//
//         for (int i = 0; i < n; i++) {
//             int v = ready_int(i % 3, i).wait;
//             total += v;
//             int j = 0;
//             while (j < i) {
//                 sleep_polls(1).wait;
//                 j++;
//                 if (j == 2)
//                     continue;
//                 do {
//                     int got = ready_int(1, j).wait;
//                     total += got;
//                 } while (0);
//             }
//         }
//         for (int i = 0; i < 2; i++)
//             total = ready_int(1, total * 2).wait;
//         int k = 3;
//         do
//             k = ready_int(0, k - 1).wait;
//         while (k > 0);
//         printf("loops: total %d\n", total);
//         return total;
//     }
//
// corofy turned it into the four pieces below: struct loops_frame (the state,
// the parameters and the locals, kept from one poll to the next), loops_poll
// (runs the body from one wait point to the next), loops_drop, and the
// constructor loops(), which makes the frame without running any of the body.

struct future *loops(int n);

struct loops_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1-5: at that wait point, -1: finished */
    int n;                  /* parameter */
    int total;              /* local, line 9 */
    int i;                  /* local, lines 11 and 26 */
    int v;                  /* local, line 12 */
    int j;                  /* local, line 14 */
    int got;                /* local, line 21 */
    int k;                  /* local, line 28 */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status loops_poll(struct future *self, void *output)
{
    struct loops_frame *frame = (struct loops_frame *) self;

    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        frame->total = 0;

        for (frame->i = 0; frame->i < frame->n; frame->i++) {
            /* ---- wait point 1: int v = ready_int(i % 3, i).wait; ---- */
            frame->awaited = ready_int(frame->i % 3, frame->i);
            frame->state = 1;
            /* fall through */
    case 1:
            if (frame->awaited->poll(frame->awaited, &frame->v) == POLL_PENDING)
                return POLL_PENDING;
            frame->awaited->drop(frame->awaited);
            frame->awaited = NULL;
            /* ---- end of wait point 1 ---- */
            frame->total += frame->v;
            frame->j = 0;
            while (frame->j < frame->i) {
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
                frame->j++;
                if (frame->j == 2)
                    continue;
                do {
                    /* ---- wait point 3: int got = ready_int(1, j).wait; ---- */
                    frame->awaited = ready_int(1, frame->j);
                    frame->state = 3;
                    /* fall through */
    case 3:
                    if (frame->awaited->poll(frame->awaited, &frame->got) == POLL_PENDING)
                        return POLL_PENDING;
                    frame->awaited->drop(frame->awaited);
                    frame->awaited = NULL;
                    /* ---- end of wait point 3 ---- */
                    frame->total += frame->got;
                } while (0);
            }
        }
        for (frame->i = 0; frame->i < 2; frame->i++) {
            /* ---- wait point 4: total = ready_int(1, total * 2).wait; ---- */
            frame->awaited = ready_int(1, frame->total * 2);
            frame->state = 4;
            /* fall through */
    case 4:
            if (frame->awaited->poll(frame->awaited, &frame->total) == POLL_PENDING)
                return POLL_PENDING;
            frame->awaited->drop(frame->awaited);
            frame->awaited = NULL;
            /* ---- end of wait point 4 ---- */
        }
        frame->k = 3;
        do {
            /* ---- wait point 5: k = ready_int(0, k - 1).wait; ---- */
            frame->awaited = ready_int(0, frame->k - 1);
            frame->state = 5;
            /* fall through */
    case 5:
            if (frame->awaited->poll(frame->awaited, &frame->k) == POLL_PENDING)
                return POLL_PENDING;
            frame->awaited->drop(frame->awaited);
            frame->awaited = NULL;
            /* ---- end of wait point 5 ---- */
        } while (frame->k > 0);
        printf("loops: total %d\n", frame->total);
        if (output != NULL)
            *(int *) output = frame->total;
        frame->state = -1;
        return POLL_READY;
        /* ---- end of your code ---- */
    default:
        fprintf(stderr, "corofy: loops polled after it completed\n");
        abort();
    }
}

static void loops_drop(struct future *self)
{
    struct loops_frame *frame = (struct loops_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *loops(int n)
{
    struct loops_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating loops\n");
        abort();
    }
    frame->base.poll = loops_poll;
    frame->base.drop = loops_drop;
    frame->state = 0;
    frame->n = n;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

int main(void)
{
    int total = 0;
    RUN(loops(5), total);
    printf("total %d\n", total);
    return 0;
}
