/* locals.c: scalars, pointers, arrays and structs that live across waits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "future.h"

struct point {
    int x, y;
};

// ===== coroutine locals (locals.c:12), as you wrote it =====
//
//     coroutine int locals(void)
//     {
//         int count = 1;
//         const int limit = 3;
//         double half = 0.5;
//         char buffer[32] = "start";
//         int squares[4] = {0, 1, 4, 9};
//         int *cursor = squares;
//         struct point p = {1, 2};
//         struct point *where = &p;
//         char letters[3];
//         int a = 1, *pa = &a, b;
//
//         letters[0] = 'x';
//         b = ready_int(1, 2).wait;
//         struct pair q = ready_pair(2, 30, 40).wait;
//         while (count <= limit) {
//             cursor++;
//             int seen = ready_int(1, *cursor).wait;
//             strcat(buffer, "+");
//             where->x += seen;
//             count++;
//         }
//         letters[1] = 'y';
//         letters[2] = '\0';
//         printf("buffer %s, p = (%d, %d), q = (%d, %d)\n", buffer, p.x, p.y, q.x, q.y);
//         printf("letters %s, half %.1f, *pa + b = %d\n", letters, half, *pa + b);
//         return (int) (cursor - squares);
//     }
//
// corofy turned it into the four pieces below: struct locals_frame (the state,
// the parameters and the locals, kept from one poll to the next), locals_poll
// (runs the body from one wait point to the next), locals_drop, and the
// constructor locals(), which makes the frame without running any of the body.

struct future *locals(void);

struct locals_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1-3: at that wait point, -1: finished */
    int count;              /* local, line 14 */
    int limit;              /* local, line 15 */
    double half;            /* local, line 16 */
    char buffer[32];        /* local, line 17 */
    int squares[4];         /* local, line 18 */
    int *cursor;            /* local, line 19 */
    struct point p;         /* local, line 20 */
    struct point *where;    /* local, line 21 */
    char letters[3];        /* local, line 22 */
    int a;                  /* local, line 23 */
    int *pa;                /* local, line 23 */
    int b;                  /* local, line 23 */
    struct pair q;          /* local, line 27 */
    int seen;               /* local, line 30 */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status locals_poll(struct future *self, void *output)
{
    struct locals_frame *frame = (struct locals_frame *) self;

    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        frame->count = 1;
        frame->limit = 3;
        frame->half = 0.5;
        memcpy(frame->buffer, (char[32]){"start"}, sizeof frame->buffer);
        memcpy(frame->squares, (int[4]){0, 1, 4, 9}, sizeof frame->squares);
        frame->cursor = frame->squares;
        frame->p = (struct point){1, 2};
        frame->where = &frame->p;
        frame->a = 1;
        frame->pa = &frame->a;

        frame->letters[0] = 'x';
        /* ---- wait point 1: b = ready_int(1, 2).wait; ---- */
        frame->awaited = ready_int(1, 2);
        frame->state = 1;
        /* fall through */
    case 1:
        if (frame->awaited->poll(frame->awaited, &frame->b) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 1 ---- */
        /* ---- wait point 2: struct pair q = ready_pair(2, 30, 40).wait; ---- */
        frame->awaited = ready_pair(2, 30, 40);
        frame->state = 2;
        /* fall through */
    case 2:
        if (frame->awaited->poll(frame->awaited, &frame->q) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 2 ---- */
        while (frame->count <= frame->limit) {
            frame->cursor++;
            /* ---- wait point 3: int seen = ready_int(1, *cursor).wait; ---- */
            frame->awaited = ready_int(1, *frame->cursor);
            frame->state = 3;
            /* fall through */
    case 3:
            if (frame->awaited->poll(frame->awaited, &frame->seen) == POLL_PENDING)
                return POLL_PENDING;
            frame->awaited->drop(frame->awaited);
            frame->awaited = NULL;
            /* ---- end of wait point 3 ---- */
            strcat(frame->buffer, "+");
            frame->where->x += frame->seen;
            frame->count++;
        }
        frame->letters[1] = 'y';
        frame->letters[2] = '\0';
        printf("buffer %s, p = (%d, %d), q = (%d, %d)\n", frame->buffer, frame->p.x, frame->p.y, frame->q.x, frame->q.y);
        printf("letters %s, half %.1f, *pa + b = %d\n", frame->letters, frame->half, *frame->pa + frame->b);
        if (output != NULL)
            *(int *) output = (int) (frame->cursor - frame->squares);
        frame->state = -1;
        return POLL_READY;
        /* ---- end of your code ---- */
    default:
        fprintf(stderr, "corofy: locals polled after it completed\n");
        abort();
    }
}

static void locals_drop(struct future *self)
{
    struct locals_frame *frame = (struct locals_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *locals(void)
{
    struct locals_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating locals\n");
        abort();
    }
    frame->base.poll = locals_poll;
    frame->base.drop = locals_drop;
    frame->state = 0;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

int main(void)
{
    int moved = 0;
    RUN(locals(), moved);
    printf("cursor moved %d\n", moved);
    return 0;
}
