/* waker.c: the ch05 flavour: poll takes a waker and passes it down. */
#include <stdio.h>
#include <stdlib.h>

#define FUTURE_WAKER
#include "future.h"

// ===== coroutine twice (waker.c:9), as you wrote it =====
//
//     coroutine int twice(int x)
//     {
//         int a = ready_int(2, x).wait;
//         int b = ready_int(1, a * 2).wait;
//         return b;
//     }
//
// corofy turned it into the four pieces below: struct twice_frame (the state,
// the parameters and the locals, kept from one poll to the next), twice_poll
// (runs the body from one wait point to the next), twice_drop, and the
// constructor twice(), which makes the frame without running any of the body.

struct future *twice(int x);

struct twice_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1-2: at that wait point, -1: finished */
    int x;                  /* parameter */
    int a;                  /* local, line 11 */
    int b;                  /* local, line 12 */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status twice_poll(struct future *self, const struct waker *waker, void *output)
{
    struct twice_frame *frame = (struct twice_frame *) self;

    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        /* ---- wait point 1: int a = ready_int(2, x).wait; ---- */
        frame->awaited = ready_int(2, frame->x);
        frame->state = 1;
        /* fall through */
    case 1:
        if (frame->awaited->poll(frame->awaited, waker, &frame->a) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 1 ---- */
        /* ---- wait point 2: int b = ready_int(1, a * 2).wait; ---- */
        frame->awaited = ready_int(1, frame->a * 2);
        frame->state = 2;
        /* fall through */
    case 2:
        if (frame->awaited->poll(frame->awaited, waker, &frame->b) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 2 ---- */
        if (output != NULL)
            *(int *) output = frame->b;
        frame->state = -1;
        return POLL_READY;
        /* ---- end of your code ---- */
    default:
        fprintf(stderr, "corofy: twice polled after it completed\n");
        abort();
    }
}

static void twice_drop(struct future *self)
{
    struct twice_frame *frame = (struct twice_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *twice(int x)
{
    struct twice_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating twice\n");
        abort();
    }
    frame->base.poll = twice_poll;
    frame->base.drop = twice_drop;
    frame->state = 0;
    frame->x = x;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

/* No wait point: the waker is not needed. */
// ===== coroutine hello (waker.c:17), as you wrote it =====
//
//     coroutine void hello(void)
//     {
//         printf("hello\n");
//     }
//
// corofy turned it into the four pieces below: struct hello_frame (the state,
// the parameters and the locals, kept from one poll to the next), hello_poll
// (runs the body from one wait point to the next), hello_drop, and the
// constructor hello(), which makes the frame without running any of the body.

struct future *hello(void);

struct hello_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, -1: finished */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status hello_poll(struct future *self, const struct waker *waker, void *output)
{
    struct hello_frame *frame = (struct hello_frame *) self;

    (void) output; /* a void coroutine produces nothing */
    (void) waker;  /* no wait point to hand it to */
    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        printf("hello\n");
        /* ---- end of your code ---- */
        frame->state = -1;
        return POLL_READY;
    default:
        fprintf(stderr, "corofy: hello polled after it completed\n");
        abort();
    }
}

static void hello_drop(struct future *self)
{
    struct hello_frame *frame = (struct hello_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *hello(void)
{
    struct hello_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating hello\n");
        abort();
    }
    frame->base.poll = hello_poll;
    frame->base.drop = hello_drop;
    frame->state = 0;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

// ===== coroutine waker_main (waker.c:22), as you wrote it =====
//
//     coroutine void waker_main(void)
//     {
//         hello().wait;
//         for (int i = 0; i < 3; i++) {
//             int t = twice(i).wait;
//             printf("twice(%d) = %d\n", i, t);
//         }
//     }
//
// corofy turned it into the four pieces below: struct waker_main_frame (the state,
// the parameters and the locals, kept from one poll to the next), waker_main_poll
// (runs the body from one wait point to the next), waker_main_drop, and the
// constructor waker_main(), which makes the frame without running any of the body.

struct future *waker_main(void);

struct waker_main_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1-2: at that wait point, -1: finished */
    int i;                  /* local, line 25 */
    int t;                  /* local, line 26 */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status waker_main_poll(struct future *self, const struct waker *waker, void *output)
{
    struct waker_main_frame *frame = (struct waker_main_frame *) self;

    (void) output; /* a void coroutine produces nothing */
    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        /* ---- wait point 1: hello().wait; ---- */
        frame->awaited = hello();
        frame->state = 1;
        /* fall through */
    case 1:
        if (frame->awaited->poll(frame->awaited, waker, NULL) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 1 ---- */
        for (frame->i = 0; frame->i < 3; frame->i++) {
            /* ---- wait point 2: int t = twice(i).wait; ---- */
            frame->awaited = twice(frame->i);
            frame->state = 2;
            /* fall through */
    case 2:
            if (frame->awaited->poll(frame->awaited, waker, &frame->t) == POLL_PENDING)
                return POLL_PENDING;
            frame->awaited->drop(frame->awaited);
            frame->awaited = NULL;
            /* ---- end of wait point 2 ---- */
            printf("twice(%d) = %d\n", frame->i, frame->t);
        }
        /* ---- end of your code ---- */
        frame->state = -1;
        return POLL_READY;
    default:
        fprintf(stderr, "corofy: waker_main polled after it completed\n");
        abort();
    }
}

static void waker_main_drop(struct future *self)
{
    struct waker_main_frame *frame = (struct waker_main_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *waker_main(void)
{
    struct waker_main_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating waker_main\n");
        abort();
    }
    frame->base.poll = waker_main_poll;
    frame->base.drop = waker_main_drop;
    frame->state = 0;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

int main(void)
{
    RUN_VOID(waker_main());
    return 0;
}
