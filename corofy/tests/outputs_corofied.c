/* outputs.c: coroutines that produce an int, a pointer, a struct, or nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "future.h"

// ===== coroutine make_int (outputs.c:8), as you wrote it =====
//
//     coroutine int make_int(int base)
//     {
//         int x = ready_int(1, base).wait;
//         return x * 3;
//     }
//
// corofy turned it into the four pieces below: struct make_int_frame (the state,
// the parameters and the locals, kept from one poll to the next), make_int_poll
// (runs the body from one wait point to the next), make_int_drop, and the
// constructor make_int(), which makes the frame without running any of the body.

struct future *make_int(int base);

struct make_int_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1: at the wait point, -1: finished */
    int base_2;             /* parameter */
    int x;                  /* local, line 10 */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status make_int_poll(struct future *self, void *output)
{
    struct make_int_frame *frame = (struct make_int_frame *) self;

    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        /* ---- wait point 1: int x = ready_int(1, base).wait; ---- */
        frame->awaited = ready_int(1, frame->base_2);
        frame->state = 1;
        /* fall through */
    case 1:
        if (frame->awaited->poll(frame->awaited, &frame->x) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 1 ---- */
        if (output != NULL)
            *(int *) output = frame->x * 3;
        frame->state = -1;
        return POLL_READY;
        /* ---- end of your code ---- */
    default:
        fprintf(stderr, "corofy: make_int polled after it completed\n");
        abort();
    }
}

static void make_int_drop(struct future *self)
{
    struct make_int_frame *frame = (struct make_int_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *make_int(int base)
{
    struct make_int_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating make_int\n");
        abort();
    }
    frame->base.poll = make_int_poll;
    frame->base.drop = make_int_drop;
    frame->state = 0;
    frame->base_2 = base;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

// ===== coroutine make_string (outputs.c:14), as you wrote it =====
//
//     coroutine char *make_string(const char *prefix)
//     {
//         char *word = ready_str(2, "coroutine").wait;
//         char *joined = malloc(strlen(prefix) + strlen(word) + 1);
//         strcpy(joined, prefix);
//         strcat(joined, word);
//         free(word);
//         return joined;
//     }
//
// corofy turned it into the four pieces below: struct make_string_frame (the state,
// the parameters and the locals, kept from one poll to the next), make_string_poll
// (runs the body from one wait point to the next), make_string_drop, and the
// constructor make_string(), which makes the frame without running any of the body.

struct future *make_string(const char *prefix);

struct make_string_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1: at the wait point, -1: finished */
    const char *prefix;     /* parameter */
    char *word;             /* local, line 16 */
    char *joined;           /* local, line 17 */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status make_string_poll(struct future *self, void *output)
{
    struct make_string_frame *frame = (struct make_string_frame *) self;

    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        /* ---- wait point 1: char *word = ready_str(2, "coroutine").wait; ---- */
        frame->awaited = ready_str(2, "coroutine");
        frame->state = 1;
        /* fall through */
    case 1:
        if (frame->awaited->poll(frame->awaited, &frame->word) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 1 ---- */
        frame->joined = malloc(strlen(frame->prefix) + strlen(frame->word) + 1);
        strcpy(frame->joined, frame->prefix);
        strcat(frame->joined, frame->word);
        free(frame->word);
        if (output != NULL)
            *(char **) output = frame->joined;
        frame->state = -1;
        return POLL_READY;
        /* ---- end of your code ---- */
    default:
        fprintf(stderr, "corofy: make_string polled after it completed\n");
        abort();
    }
}

static void make_string_drop(struct future *self)
{
    struct make_string_frame *frame = (struct make_string_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *make_string(const char *prefix)
{
    struct make_string_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating make_string\n");
        abort();
    }
    frame->base.poll = make_string_poll;
    frame->base.drop = make_string_drop;
    frame->state = 0;
    frame->prefix = prefix;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

// ===== coroutine make_pair (outputs.c:24), as you wrote it =====
//
//     coroutine struct pair make_pair(int x)
//     {
//         struct pair p = ready_pair(1, x, x + 1).wait;
//         p.y *= 10;
//         return p;
//     }
//
// corofy turned it into the four pieces below: struct make_pair_frame (the state,
// the parameters and the locals, kept from one poll to the next), make_pair_poll
// (runs the body from one wait point to the next), make_pair_drop, and the
// constructor make_pair(), which makes the frame without running any of the body.

struct future *make_pair(int x);

struct make_pair_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1: at the wait point, -1: finished */
    int x;                  /* parameter */
    struct pair p;          /* local, line 26 */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status make_pair_poll(struct future *self, void *output)
{
    struct make_pair_frame *frame = (struct make_pair_frame *) self;

    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        /* ---- wait point 1: struct pair p = ready_pair(1, x, x + 1).wait; ---- */
        frame->awaited = ready_pair(1, frame->x, frame->x + 1);
        frame->state = 1;
        /* fall through */
    case 1:
        if (frame->awaited->poll(frame->awaited, &frame->p) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 1 ---- */
        frame->p.y *= 10;
        if (output != NULL)
            *(struct pair *) output = frame->p;
        frame->state = -1;
        return POLL_READY;
        /* ---- end of your code ---- */
    default:
        fprintf(stderr, "corofy: make_pair polled after it completed\n");
        abort();
    }
}

static void make_pair_drop(struct future *self)
{
    struct make_pair_frame *frame = (struct make_pair_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *make_pair(int x)
{
    struct make_pair_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating make_pair\n");
        abort();
    }
    frame->base.poll = make_pair_poll;
    frame->base.drop = make_pair_drop;
    frame->state = 0;
    frame->x = x;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

// ===== coroutine constant (outputs.c:31), as you wrote it =====
//
//     coroutine const char *constant(void)
//     {
//         sleep_polls(1).wait;
//         return "a constant string";
//     }
//
// corofy turned it into the four pieces below: struct constant_frame (the state,
// the parameters and the locals, kept from one poll to the next), constant_poll
// (runs the body from one wait point to the next), constant_drop, and the
// constructor constant(), which makes the frame without running any of the body.

struct future *constant(void);

struct constant_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1: at the wait point, -1: finished */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status constant_poll(struct future *self, void *output)
{
    struct constant_frame *frame = (struct constant_frame *) self;

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
        if (output != NULL)
            *(const char **) output = "a constant string";
        frame->state = -1;
        return POLL_READY;
        /* ---- end of your code ---- */
    default:
        fprintf(stderr, "corofy: constant polled after it completed\n");
        abort();
    }
}

static void constant_drop(struct future *self)
{
    struct constant_frame *frame = (struct constant_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *constant(void)
{
    struct constant_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating constant\n");
        abort();
    }
    frame->base.poll = constant_poll;
    frame->base.drop = constant_drop;
    frame->state = 0;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

// ===== coroutine make_nothing (outputs.c:37), as you wrote it =====
//
//     coroutine void make_nothing(int *counter)
//     {
//         sleep_polls(2).wait;
//         (*counter)++;
//     }
//
// corofy turned it into the four pieces below: struct make_nothing_frame (the state,
// the parameters and the locals, kept from one poll to the next), make_nothing_poll
// (runs the body from one wait point to the next), make_nothing_drop, and the
// constructor make_nothing(), which makes the frame without running any of the body.

struct future *make_nothing(int *counter);

struct make_nothing_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1: at the wait point, -1: finished */
    int *counter;           /* parameter */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status make_nothing_poll(struct future *self, void *output)
{
    struct make_nothing_frame *frame = (struct make_nothing_frame *) self;

    (void) output; /* a void coroutine produces nothing */
    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        /* ---- wait point 1: sleep_polls(2).wait; ---- */
        frame->awaited = sleep_polls(2);
        frame->state = 1;
        /* fall through */
    case 1:
        if (frame->awaited->poll(frame->awaited, NULL) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 1 ---- */
        (*frame->counter)++;
        /* ---- end of your code ---- */
        frame->state = -1;
        return POLL_READY;
    default:
        fprintf(stderr, "corofy: make_nothing polled after it completed\n");
        abort();
    }
}

static void make_nothing_drop(struct future *self)
{
    struct make_nothing_frame *frame = (struct make_nothing_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *make_nothing(int *counter)
{
    struct make_nothing_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating make_nothing\n");
        abort();
    }
    frame->base.poll = make_nothing_poll;
    frame->base.drop = make_nothing_drop;
    frame->state = 0;
    frame->counter = counter;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

// ===== coroutine outputs (outputs.c:43), as you wrote it =====
//
//     coroutine void outputs(void)
//     {
//         int i = make_int(14).wait;
//         char *s = make_string("a ").wait;
//         struct pair p = make_pair(4).wait;
//         const char *c = constant().wait;
//         int counter = 0;
//         make_nothing(&counter).wait;
//         make_int(1).wait; /* a value nobody wants: written nowhere */
//         printf("%d, %s, (%d, %d), %s, %d\n", i, s, p.x, p.y, c, counter);
//         free(s);
//     }
//
// corofy turned it into the four pieces below: struct outputs_frame (the state,
// the parameters and the locals, kept from one poll to the next), outputs_poll
// (runs the body from one wait point to the next), outputs_drop, and the
// constructor outputs(), which makes the frame without running any of the body.

struct future *outputs(void);

struct outputs_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1-6: at that wait point, -1: finished */
    int i;                  /* local, line 45 */
    char *s;                /* local, line 46 */
    struct pair p;          /* local, line 47 */
    const char *c;          /* local, line 48 */
    int counter;            /* local, line 49 */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status outputs_poll(struct future *self, void *output)
{
    struct outputs_frame *frame = (struct outputs_frame *) self;

    (void) output; /* a void coroutine produces nothing */
    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        /* ---- wait point 1: int i = make_int(14).wait; ---- */
        frame->awaited = make_int(14);
        frame->state = 1;
        /* fall through */
    case 1:
        if (frame->awaited->poll(frame->awaited, &frame->i) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 1 ---- */
        /* ---- wait point 2: char *s = make_string("a ").wait; ---- */
        frame->awaited = make_string("a ");
        frame->state = 2;
        /* fall through */
    case 2:
        if (frame->awaited->poll(frame->awaited, &frame->s) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 2 ---- */
        /* ---- wait point 3: struct pair p = make_pair(4).wait; ---- */
        frame->awaited = make_pair(4);
        frame->state = 3;
        /* fall through */
    case 3:
        if (frame->awaited->poll(frame->awaited, &frame->p) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 3 ---- */
        /* ---- wait point 4: const char *c = constant().wait; ---- */
        frame->awaited = constant();
        frame->state = 4;
        /* fall through */
    case 4:
        if (frame->awaited->poll(frame->awaited, &frame->c) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 4 ---- */
        frame->counter = 0;
        /* ---- wait point 5: make_nothing(&counter).wait; ---- */
        frame->awaited = make_nothing(&frame->counter);
        frame->state = 5;
        /* fall through */
    case 5:
        if (frame->awaited->poll(frame->awaited, NULL) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 5 ---- */
        /* ---- wait point 6: make_int(1).wait; ---- */
        frame->awaited = make_int(1); /* a value nobody wants: written nowhere */
        frame->state = 6;
        /* fall through */
    case 6:
        if (frame->awaited->poll(frame->awaited, NULL) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 6 ---- */
        printf("%d, %s, (%d, %d), %s, %d\n", frame->i, frame->s, frame->p.x, frame->p.y, frame->c, frame->counter);
        free(frame->s);
        /* ---- end of your code ---- */
        frame->state = -1;
        return POLL_READY;
    default:
        fprintf(stderr, "corofy: outputs polled after it completed\n");
        abort();
    }
}

static void outputs_drop(struct future *self)
{
    struct outputs_frame *frame = (struct outputs_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *outputs(void)
{
    struct outputs_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating outputs\n");
        abort();
    }
    frame->base.poll = outputs_poll;
    frame->base.drop = outputs_drop;
    frame->state = 0;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

int main(void)
{
    RUN_VOID(outputs());
    return 0;
}
