/* directives.c: preprocessor lines between statements and inside them
 * (even first or last in a condition or an expression) keep lines of their
 * own in the output. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

#define EXTRA 1

// ===== coroutine directives (directives.c:11), as you wrote it =====
//
//     coroutine int directives(int n)
//     {
//         int total = 0;
//     #if EXTRA
//         total = 100;
//     #endif
//         for (int i = 0;
//     #if EXTRA
//              i < n
//     #endif
//              ; i++) {
//             int x = ready_int(1,
//     #if EXTRA
//                               i
//     #else
//                               0
//     #endif
//                               ).wait;
//             total += x;
//         }
//         return total
//     #if EXTRA
//             + 1
//     #endif
//             ;
//     }
//
// corofy turned it into the four pieces below: struct directives_frame (the state,
// the parameters and the locals, kept from one poll to the next), directives_poll
// (runs the body from one wait point to the next), directives_drop, and the
// constructor directives(), which makes the frame without running any of the body.

struct future *directives(int n);

struct directives_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1: at the wait point, -1: finished */
    int n;                  /* parameter */
    int total;              /* local, line 13 */
    int i;                  /* local, line 17 */
    int x;                  /* local, line 22 */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status directives_poll(struct future *self, void *output)
{
    struct directives_frame *frame = (struct directives_frame *) self;

    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        frame->total = 0;
#if EXTRA
        frame->total = 100;
#endif
        for (frame->i = 0;
#if EXTRA
             frame->i < frame->n
#endif
        ; frame->i++) {
            /* ---- wait point 1: int x = ready_int(1, #if EXTRA i #else 0 #endif ).wait; ---- */
            frame->awaited = ready_int(1,
#if EXTRA
                              frame->i
#else
                              0
#endif
                              );
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
            *(int *) output = frame->total
#if EXTRA
                + 1
#endif
            ;
        frame->state = -1;
        return POLL_READY;
        /* ---- end of your code ---- */
    default:
        fprintf(stderr, "corofy: directives polled after it completed\n");
        abort();
    }
}

static void directives_drop(struct future *self)
{
    struct directives_frame *frame = (struct directives_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *directives(int n)
{
    struct directives_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating directives\n");
        abort();
    }
    frame->base.poll = directives_poll;
    frame->base.drop = directives_drop;
    frame->state = 0;
    frame->n = n;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

int main(void)
{
    int total = 0;
    RUN(directives(3), total);
    printf("directives(3) = %d\n", total);
    return 0;
}
