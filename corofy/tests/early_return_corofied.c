/* early_return.c: returns from the middle of loops and branches; a return
 * whose value has side effects still runs when nobody wants the value. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

static int calls;

static int count_call(int v)
{
    calls++;
    return v;
}

// ===== coroutine find (early_return.c:16), as you wrote it =====
//
//     coroutine int find(int target)
//     {
//         for (int i = 0;; i++) {
//             int v = ready_int(1, i * i).wait;
//             if (v == target)
//                 return i;
//             if (v > target)
//                 break;
//         }
//         return -1;
//     }
//
// corofy turned it into the four pieces below: struct find_frame (the state,
// the parameters and the locals, kept from one poll to the next), find_poll
// (runs the body from one wait point to the next), find_drop, and the
// constructor find(), which makes the frame without running any of the body.

struct future *find(int target);

struct find_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1: at the wait point, -1: finished */
    int target;             /* parameter */
    int i;                  /* local, line 18 */
    int v;                  /* local, line 19 */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status find_poll(struct future *self, void *output)
{
    struct find_frame *frame = (struct find_frame *) self;

    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        for (frame->i = 0;; frame->i++) {
            /* ---- wait point 1: int v = ready_int(1, i * i).wait; ---- */
            frame->awaited = ready_int(1, frame->i * frame->i);
            frame->state = 1;
            /* fall through */
    case 1:
            if (frame->awaited->poll(frame->awaited, &frame->v) == POLL_PENDING)
                return POLL_PENDING;
            frame->awaited->drop(frame->awaited);
            frame->awaited = NULL;
            /* ---- end of wait point 1 ---- */
            if (frame->v == frame->target) {
                if (output != NULL)
                    *(int *) output = frame->i;
                frame->state = -1;
                return POLL_READY;
            }
            if (frame->v > frame->target)
                break;
        }
        if (output != NULL)
            *(int *) output = -1;
        frame->state = -1;
        return POLL_READY;
        /* ---- end of your code ---- */
    default:
        fprintf(stderr, "corofy: find polled after it completed\n");
        abort();
    }
}

static void find_drop(struct future *self)
{
    struct find_frame *frame = (struct find_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *find(int target)
{
    struct find_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating find\n");
        abort();
    }
    frame->base.poll = find_poll;
    frame->base.drop = find_drop;
    frame->state = 0;
    frame->target = target;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

// ===== coroutine maybe (early_return.c:28), as you wrote it =====
//
//     coroutine void maybe(int skip)
//     {
//         if (skip) {
//             printf("skipped\n");
//             return;
//         }
//         sleep_polls(1).wait;
//         printf("not skipped\n");
//     }
//
// corofy turned it into the four pieces below: struct maybe_frame (the state,
// the parameters and the locals, kept from one poll to the next), maybe_poll
// (runs the body from one wait point to the next), maybe_drop, and the
// constructor maybe(), which makes the frame without running any of the body.

struct future *maybe(int skip);

struct maybe_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1: at the wait point, -1: finished */
    int skip;               /* parameter */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status maybe_poll(struct future *self, void *output)
{
    struct maybe_frame *frame = (struct maybe_frame *) self;

    (void) output; /* a void coroutine produces nothing */
    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        if (frame->skip) {
            printf("skipped\n");
            frame->state = -1;
            return POLL_READY;
        }
        /* ---- wait point 1: sleep_polls(1).wait; ---- */
        frame->awaited = sleep_polls(1);
        frame->state = 1;
        /* fall through */
    case 1:
        if (frame->awaited->poll(frame->awaited, NULL) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 1 ---- */
        printf("not skipped\n");
        /* ---- end of your code ---- */
        frame->state = -1;
        return POLL_READY;
    default:
        fprintf(stderr, "corofy: maybe polled after it completed\n");
        abort();
    }
}

static void maybe_drop(struct future *self)
{
    struct maybe_frame *frame = (struct maybe_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *maybe(int skip)
{
    struct maybe_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating maybe\n");
        abort();
    }
    frame->base.poll = maybe_poll;
    frame->base.drop = maybe_drop;
    frame->state = 0;
    frame->skip = skip;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

// ===== coroutine side_effect (early_return.c:38), as you wrote it =====
//
//     coroutine int side_effect(void)
//     {
//         sleep_polls(1).wait;
//         return count_call(5);
//     }
//
// corofy turned it into the four pieces below: struct side_effect_frame (the state,
// the parameters and the locals, kept from one poll to the next), side_effect_poll
// (runs the body from one wait point to the next), side_effect_drop, and the
// constructor side_effect(), which makes the frame without running any of the body.

struct future *side_effect(void);

struct side_effect_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1: at the wait point, -1: finished */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status side_effect_poll(struct future *self, void *output)
{
    struct side_effect_frame *frame = (struct side_effect_frame *) self;
    int result; /* the value of a return statement */

    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        /* ---- wait point 1: sleep_polls(1).wait; ---- */
        frame->awaited = sleep_polls(1);
        frame->state = 1;
        /* fall through */
    case 1:
        if (frame->awaited->poll(frame->awaited, NULL) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 1 ---- */
        result = count_call(5);
        if (output != NULL)
            *(int *) output = result;
        frame->state = -1;
        return POLL_READY;
        /* ---- end of your code ---- */
    default:
        fprintf(stderr, "corofy: side_effect polled after it completed\n");
        abort();
    }
}

static void side_effect_drop(struct future *self)
{
    struct side_effect_frame *frame = (struct side_effect_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *side_effect(void)
{
    struct side_effect_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating side_effect\n");
        abort();
    }
    frame->base.poll = side_effect_poll;
    frame->base.drop = side_effect_drop;
    frame->state = 0;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

// ===== coroutine early (early_return.c:44), as you wrote it =====
//
//     coroutine void early(void)
//     {
//         int a = find(16).wait;
//         int b = find(15).wait;
//         printf("find(16) = %d, find(15) = %d\n", a, b);
//         maybe(1).wait;
//         maybe(0).wait;
//         side_effect().wait;
//         printf("calls %d\n", calls);
//     }
//
// corofy turned it into the four pieces below: struct early_frame (the state,
// the parameters and the locals, kept from one poll to the next), early_poll
// (runs the body from one wait point to the next), early_drop, and the
// constructor early(), which makes the frame without running any of the body.

struct future *early(void);

struct early_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1-5: at that wait point, -1: finished */
    int a;                  /* local, line 46 */
    int b;                  /* local, line 47 */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status early_poll(struct future *self, void *output)
{
    struct early_frame *frame = (struct early_frame *) self;

    (void) output; /* a void coroutine produces nothing */
    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        /* ---- wait point 1: int a = find(16).wait; ---- */
        frame->awaited = find(16);
        frame->state = 1;
        /* fall through */
    case 1:
        if (frame->awaited->poll(frame->awaited, &frame->a) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 1 ---- */
        /* ---- wait point 2: int b = find(15).wait; ---- */
        frame->awaited = find(15);
        frame->state = 2;
        /* fall through */
    case 2:
        if (frame->awaited->poll(frame->awaited, &frame->b) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 2 ---- */
        printf("find(16) = %d, find(15) = %d\n", frame->a, frame->b);
        /* ---- wait point 3: maybe(1).wait; ---- */
        frame->awaited = maybe(1);
        frame->state = 3;
        /* fall through */
    case 3:
        if (frame->awaited->poll(frame->awaited, NULL) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 3 ---- */
        /* ---- wait point 4: maybe(0).wait; ---- */
        frame->awaited = maybe(0);
        frame->state = 4;
        /* fall through */
    case 4:
        if (frame->awaited->poll(frame->awaited, NULL) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 4 ---- */
        /* ---- wait point 5: side_effect().wait; ---- */
        frame->awaited = side_effect();
        frame->state = 5;
        /* fall through */
    case 5:
        if (frame->awaited->poll(frame->awaited, NULL) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 5 ---- */
        printf("calls %d\n", calls);
        /* ---- end of your code ---- */
        frame->state = -1;
        return POLL_READY;
    default:
        fprintf(stderr, "corofy: early polled after it completed\n");
        abort();
    }
}

static void early_drop(struct future *self)
{
    struct early_frame *frame = (struct early_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *early(void)
{
    struct early_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating early\n");
        abort();
    }
    frame->base.poll = early_poll;
    frame->base.drop = early_drop;
    frame->state = 0;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

int main(void)
{
    RUN_VOID(early());
    return 0;
}
