/* comments.c: the student's comments and blank lines survive in the poll
 * function, next to the code they describe. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

// ===== coroutine commented (comments.c:8), as you wrote it =====
//
//     coroutine int commented(int n)
//     { // the body starts
//         int total = 0; /* a running sum */
//         int last;      // the last value seen
//
//         /* Ask for n numbers,
//          * one at a time. */
//         for (int i = 0; i < n; i++) {
//             last = ready_int(1, i).wait; // wait here
//             total += last;
//
//             // a comment on its own line
//         }
//         total = total + 0; // a line comment, then a declaration that writes nothing
//         int spare; /* and its comment, which must not
//                       end up inside the line comment */
//         spare = total;
//         if (total > 3) { /* big */
//             printf("big\n");
//         } // end of if
//         else {
//             printf("small\n");
//         }
//         printf("total %d, last %d, spare %d\n", total, /* inline */ last, spare);
//         return total;
//         /* a comment before the closing brace */
//     }
//
// corofy turned it into the four pieces below: struct commented_frame (the state,
// the parameters and the locals, kept from one poll to the next), commented_poll
// (runs the body from one wait point to the next), commented_drop, and the
// constructor commented(), which makes the frame without running any of the body.

struct future *commented(int n);

struct commented_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1: at the wait point, -1: finished */
    int n;                  /* parameter */
    int total;              /* a running sum */
    int last;               // the last value seen
    int i;                  /* local, line 15 */
    int spare;              /* local, line 22 */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status commented_poll(struct future *self, void *output)
{
    struct commented_frame *frame = (struct commented_frame *) self;

    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        // the body starts
        frame->total = 0; /* a running sum */

        /* Ask for n numbers,
         * one at a time. */
        for (frame->i = 0; frame->i < frame->n; frame->i++) {
            /* ---- wait point 1: last = ready_int(1, i).wait; ---- */
            frame->awaited = ready_int(1, frame->i); // wait here
            frame->state = 1;
            /* fall through */
    case 1:
            if (frame->awaited->poll(frame->awaited, &frame->last) == POLL_PENDING)
                return POLL_PENDING;
            frame->awaited->drop(frame->awaited);
            frame->awaited = NULL;
            /* ---- end of wait point 1 ---- */
            frame->total += frame->last;

            // a comment on its own line
        }
        frame->total = frame->total + 0; // a line comment, then a declaration that writes nothing
        /* and its comment, which must not
           end up inside the line comment */
        frame->spare = frame->total;
        if (frame->total > 3) { /* big */
            printf("big\n");
        } // end of if
        else {
            printf("small\n");
        }
        printf("total %d, last %d, spare %d\n", frame->total, /* inline */ frame->last, frame->spare);
        if (output != NULL)
            *(int *) output = frame->total;
        frame->state = -1;
        return POLL_READY;
        /* a comment before the closing brace */
        /* ---- end of your code ---- */
    default:
        fprintf(stderr, "corofy: commented polled after it completed\n");
        abort();
    }
}

static void commented_drop(struct future *self)
{
    struct commented_frame *frame = (struct commented_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *commented(int n)
{
    struct commented_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating commented\n");
        abort();
    }
    frame->base.poll = commented_poll;
    frame->base.drop = commented_drop;
    frame->state = 0;
    frame->n = n;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

int main(void)
{
    int total = 0;
    RUN(commented(4), total);
    printf("%d\n", total);
    return 0;
}
