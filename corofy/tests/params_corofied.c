/* params.c: parameters live in the frame: scalars, pointers, arrays,
 * structs, function pointers and const ones, used and changed after waits. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

struct point {
    int x, y;
};

static int twice(int v)
{
    return 2 * v;
}

// ===== coroutine params (params.c:17), as you wrote it =====
//
//     coroutine int params(int n, const char *name, int values[3], struct point p, int (*f)(int),
//                          const int k)
//     {
//         int sum = ready_int(1, k).wait;
//         for (int i = 0; i < 3; i++) {
//             int v = ready_int(i, values[i]).wait;
//             sum += f(v);
//         }
//         n = ready_int(2, n + 1).wait;
//         p.x += n;
//         printf("%s: sum %d, n %d, p = (%d, %d)\n", name, sum, n, p.x, p.y);
//         return sum + p.x;
//     }
//
// corofy turned it into the four pieces below: struct params_frame (the state,
// the parameters and the locals, kept from one poll to the next), params_poll
// (runs the body from one wait point to the next), params_drop, and the
// constructor params(), which makes the frame without running any of the body.

struct future *params(int n, const char *name, int values[3], struct point p, int (*f)(int), const int k);

struct params_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1-3: at that wait point, -1: finished */
    int n;                  /* parameter */
    const char *name;       /* parameter */
    int *values;            /* parameter */
    struct point p;         /* parameter */
    int (*f)(int);          /* parameter */
    int k;                  /* parameter */
    int sum;                /* local, line 20 */
    int i;                  /* local, line 21 */
    int v;                  /* local, line 22 */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status params_poll(struct future *self, void *output)
{
    struct params_frame *frame = (struct params_frame *) self;

    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        /* ---- wait point 1: int sum = ready_int(1, k).wait; ---- */
        frame->awaited = ready_int(1, frame->k);
        frame->state = 1;
        /* fall through */
    case 1:
        if (frame->awaited->poll(frame->awaited, &frame->sum) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 1 ---- */
        for (frame->i = 0; frame->i < 3; frame->i++) {
            /* ---- wait point 2: int v = ready_int(i, values[i]).wait; ---- */
            frame->awaited = ready_int(frame->i, frame->values[frame->i]);
            frame->state = 2;
            /* fall through */
    case 2:
            if (frame->awaited->poll(frame->awaited, &frame->v) == POLL_PENDING)
                return POLL_PENDING;
            frame->awaited->drop(frame->awaited);
            frame->awaited = NULL;
            /* ---- end of wait point 2 ---- */
            frame->sum += frame->f(frame->v);
        }
        /* ---- wait point 3: n = ready_int(2, n + 1).wait; ---- */
        frame->awaited = ready_int(2, frame->n + 1);
        frame->state = 3;
        /* fall through */
    case 3:
        if (frame->awaited->poll(frame->awaited, &frame->n) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 3 ---- */
        frame->p.x += frame->n;
        printf("%s: sum %d, n %d, p = (%d, %d)\n", frame->name, frame->sum, frame->n, frame->p.x, frame->p.y);
        if (output != NULL)
            *(int *) output = frame->sum + frame->p.x;
        frame->state = -1;
        return POLL_READY;
        /* ---- end of your code ---- */
    default:
        fprintf(stderr, "corofy: params polled after it completed\n");
        abort();
    }
}

static void params_drop(struct future *self)
{
    struct params_frame *frame = (struct params_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *params(int n, const char *name, int values[3], struct point p, int (*f)(int), const int k)
{
    struct params_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating params\n");
        abort();
    }
    frame->base.poll = params_poll;
    frame->base.drop = params_drop;
    frame->state = 0;
    frame->n = n;
    frame->name = name;
    frame->values = values;
    frame->p = p;
    frame->f = f;
    frame->k = k;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

int main(void)
{
    int values[3] = {1, 2, 3};
    int out = 0;
    RUN(params(4, "params", values, (struct point){10, 20}, twice, 100), out);
    printf("out %d\n", out);
    return 0;
}
