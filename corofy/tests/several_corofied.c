/* several.c: several coroutines in one file, awaiting each other; a
 * coroutine declared before it is defined; a static coroutine. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

/* Declared here, defined at the end: fib awaits it before its definition. */
// corofy: coroutine int leaf_value(int n);
struct future *leaf_value(int n);

// ===== coroutine fib (several.c:11), as you wrote it =====
//
//     static coroutine int fib(int n)
//     {
//         if (n < 2)
//             return leaf_value(n).wait;
//         int a = fib(n - 1).wait;
//         int b = fib(n - 2).wait;
//         return a + b;
//     }
//
// corofy turned it into the four pieces below: struct fib_frame (the state,
// the parameters and the locals, kept from one poll to the next), fib_poll
// (runs the body from one wait point to the next), fib_drop, and the
// constructor fib(), which makes the frame without running any of the body.

static struct future *fib(int n);

struct fib_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1-3: at that wait point, -1: finished */
    int n;                  /* parameter */
    int a;                  /* local, line 15 */
    int b;                  /* local, line 16 */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status fib_poll(struct future *self, void *output)
{
    struct fib_frame *frame = (struct fib_frame *) self;
    int result; /* the value of a return statement */

    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        if (frame->n < 2) {
            /* ---- wait point 1: return leaf_value(n).wait; ---- */
            frame->awaited = leaf_value(frame->n);
            frame->state = 1;
            /* fall through */
    case 1:
            if (frame->awaited->poll(frame->awaited, &result) == POLL_PENDING)
                return POLL_PENDING;
            frame->awaited->drop(frame->awaited);
            frame->awaited = NULL;
            /* ---- end of wait point 1 ---- */
            if (output != NULL)
                *(int *) output = result;
            frame->state = -1;
            return POLL_READY;
        }
        /* ---- wait point 2: int a = fib(n - 1).wait; ---- */
        frame->awaited = fib(frame->n - 1);
        frame->state = 2;
        /* fall through */
    case 2:
        if (frame->awaited->poll(frame->awaited, &frame->a) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 2 ---- */
        /* ---- wait point 3: int b = fib(n - 2).wait; ---- */
        frame->awaited = fib(frame->n - 2);
        frame->state = 3;
        /* fall through */
    case 3:
        if (frame->awaited->poll(frame->awaited, &frame->b) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 3 ---- */
        if (output != NULL)
            *(int *) output = frame->a + frame->b;
        frame->state = -1;
        return POLL_READY;
        /* ---- end of your code ---- */
    default:
        fprintf(stderr, "corofy: fib polled after it completed\n");
        abort();
    }
}

static void fib_drop(struct future *self)
{
    struct fib_frame *frame = (struct fib_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

static struct future *fib(int n)
{
    struct fib_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating fib\n");
        abort();
    }
    frame->base.poll = fib_poll;
    frame->base.drop = fib_drop;
    frame->state = 0;
    frame->n = n;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

// ===== coroutine print_fibs (several.c:20), as you wrote it =====
//
//     coroutine void print_fibs(int count)
//     {
//         for (int i = 0; i < count; i++) {
//             int f = fib(i).wait;
//             printf("fib(%d) = %d\n", i, f);
//         }
//     }
//
// corofy turned it into the four pieces below: struct print_fibs_frame (the state,
// the parameters and the locals, kept from one poll to the next), print_fibs_poll
// (runs the body from one wait point to the next), print_fibs_drop, and the
// constructor print_fibs(), which makes the frame without running any of the body.

struct future *print_fibs(int count);

struct print_fibs_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1: at the wait point, -1: finished */
    int count;              /* parameter */
    int i;                  /* local, line 22 */
    int f;                  /* local, line 23 */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status print_fibs_poll(struct future *self, void *output)
{
    struct print_fibs_frame *frame = (struct print_fibs_frame *) self;

    (void) output; /* a void coroutine produces nothing */
    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        for (frame->i = 0; frame->i < frame->count; frame->i++) {
            /* ---- wait point 1: int f = fib(i).wait; ---- */
            frame->awaited = fib(frame->i);
            frame->state = 1;
            /* fall through */
    case 1:
            if (frame->awaited->poll(frame->awaited, &frame->f) == POLL_PENDING)
                return POLL_PENDING;
            frame->awaited->drop(frame->awaited);
            frame->awaited = NULL;
            /* ---- end of wait point 1 ---- */
            printf("fib(%d) = %d\n", frame->i, frame->f);
        }
        /* ---- end of your code ---- */
        frame->state = -1;
        return POLL_READY;
    default:
        fprintf(stderr, "corofy: print_fibs polled after it completed\n");
        abort();
    }
}

static void print_fibs_drop(struct future *self)
{
    struct print_fibs_frame *frame = (struct print_fibs_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *print_fibs(int count)
{
    struct print_fibs_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating print_fibs\n");
        abort();
    }
    frame->base.poll = print_fibs_poll;
    frame->base.drop = print_fibs_drop;
    frame->state = 0;
    frame->count = count;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

// ===== coroutine leaf_value (several.c:28), as you wrote it =====
//
//     coroutine int leaf_value(int n)
//     {
//         return ready_int(n % 2, n).wait;
//     }
//
// corofy turned it into the four pieces below: struct leaf_value_frame (the state,
// the parameters and the locals, kept from one poll to the next), leaf_value_poll
// (runs the body from one wait point to the next), leaf_value_drop, and the
// constructor leaf_value(), which makes the frame without running any of the body.

struct future *leaf_value(int n);

struct leaf_value_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1: at the wait point, -1: finished */
    int n;                  /* parameter */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status leaf_value_poll(struct future *self, void *output)
{
    struct leaf_value_frame *frame = (struct leaf_value_frame *) self;
    int result; /* the value of a return statement */

    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        /* ---- wait point 1: return ready_int(n % 2, n).wait; ---- */
        frame->awaited = ready_int(frame->n % 2, frame->n);
        frame->state = 1;
        /* fall through */
    case 1:
        if (frame->awaited->poll(frame->awaited, &result) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 1 ---- */
        if (output != NULL)
            *(int *) output = result;
        frame->state = -1;
        return POLL_READY;
        /* ---- end of your code ---- */
    default:
        fprintf(stderr, "corofy: leaf_value polled after it completed\n");
        abort();
    }
}

static void leaf_value_drop(struct future *self)
{
    struct leaf_value_frame *frame = (struct leaf_value_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *leaf_value(int n)
{
    struct leaf_value_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating leaf_value\n");
        abort();
    }
    frame->base.poll = leaf_value_poll;
    frame->base.drop = leaf_value_drop;
    frame->state = 0;
    frame->n = n;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

int main(void)
{
    RUN_VOID(print_fibs(8));
    return 0;
}
