/* no_wait.c: coroutines without a wait point still become futures: lazy,
 * ready at the first poll. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

// ===== coroutine square (no_wait.c:8), as you wrote it =====
//
//     coroutine int square(int n)
//     {
//         printf("square(%d) runs only when polled\n", n);
//         return n * n;
//     }
//
// corofy turned it into the four pieces below: struct square_frame (the state,
// the parameters and the locals, kept from one poll to the next), square_poll
// (runs the body from one wait point to the next), square_drop, and the
// constructor square(), which makes the frame without running any of the body.

struct future *square(int n);

struct square_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, -1: finished */
    int n;                  /* parameter */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status square_poll(struct future *self, void *output)
{
    struct square_frame *frame = (struct square_frame *) self;

    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        printf("square(%d) runs only when polled\n", frame->n);
        if (output != NULL)
            *(int *) output = frame->n * frame->n;
        frame->state = -1;
        return POLL_READY;
        /* ---- end of your code ---- */
    default:
        fprintf(stderr, "corofy: square polled after it completed\n");
        abort();
    }
}

static void square_drop(struct future *self)
{
    struct square_frame *frame = (struct square_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *square(int n)
{
    struct square_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating square\n");
        abort();
    }
    frame->base.poll = square_poll;
    frame->base.drop = square_drop;
    frame->state = 0;
    frame->n = n;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

// ===== coroutine say (no_wait.c:14), as you wrote it =====
//
//     coroutine void say(const char *what)
//     {
//         printf("%s\n", what);
//     }
//
// corofy turned it into the four pieces below: struct say_frame (the state,
// the parameters and the locals, kept from one poll to the next), say_poll
// (runs the body from one wait point to the next), say_drop, and the
// constructor say(), which makes the frame without running any of the body.

struct future *say(const char *what);

struct say_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, -1: finished */
    const char *what;       /* parameter */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status say_poll(struct future *self, void *output)
{
    struct say_frame *frame = (struct say_frame *) self;

    (void) output; /* a void coroutine produces nothing */
    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        printf("%s\n", frame->what);
        /* ---- end of your code ---- */
        frame->state = -1;
        return POLL_READY;
    default:
        fprintf(stderr, "corofy: say polled after it completed\n");
        abort();
    }
}

static void say_drop(struct future *self)
{
    struct say_frame *frame = (struct say_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *say(const char *what)
{
    struct say_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating say\n");
        abort();
    }
    frame->base.poll = say_poll;
    frame->base.drop = say_drop;
    frame->state = 0;
    frame->what = what;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

int main(void)
{
    int nine = 0;
    printf("before polling\n");
    RUN(square(3), nine);
    printf("square(3) = %d\n", nine);
    RUN_VOID(say("said"));
    return 0;
}
