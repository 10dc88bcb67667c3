/* main.c: ch05-runtime step f: a parent task spawns children on three
 * executors (its own and those of two other threads), awaits their results
 * through join handles, some before and some after they finish, and
 * detaches one. This is corofy's input: `make corofy` turns the `coroutine`
 * functions into state machines in main_corofied.c, which is what gets
 * compiled. */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/args.h"
#include "../../common/errors.h"
#include "executor.h"
#include "future.h"
#include "http.h"
#include "reactor.h"

#define WORKERS 2 /* exec-1 and exec-2, beside the main thread's */

/* A result that is more than one word: returned by value, like an int. */
struct summary {
    int count;
    int sum;
    int min;
    int max;
};

static struct executor *workers[WORKERS];

/* Ask the delay server to send `n` back after `delay_ms`; the number it
 * sent, or -1 if the request failed or the answer is not a number. */
// ===== coroutine fetch_number (main.c:35), as you wrote it =====
//
//     coroutine int fetch_number(int delay_ms, int n)
//     {
//         char *text = http_get("/%d/%d", delay_ms, n).wait;
//         unsigned long long number;
//         int result = -1; /* the request failed, or the body is not a number */
//         if (text != NULL && parse_count(http_body(text), 0, INT_MAX, &number) == 0)
//             result = (int) number;
//         free(text);
//         return result;
//     }
//
// corofy turned it into the four pieces below: struct fetch_number_frame (the state,
// the parameters and the locals, kept from one poll to the next), fetch_number_poll
// (runs the body from one wait point to the next), fetch_number_drop, and the
// constructor fetch_number(), which makes the frame without running any of the body.

struct future *fetch_number(int delay_ms, int n);

struct fetch_number_frame {
    struct future base;        /* first: a frame is a future */
    int state;                 /* 0: not started, 1: at the wait point, -1: finished */
    int delay_ms;              /* parameter */
    int n;                     /* parameter */
    char *text;                /* local, line 37 */
    unsigned long long number; /* local, line 38 */
    int result;                /* the request failed, or the body is not a number */
    struct future *awaited;    /* the future being waited for, or NULL */
};

static enum poll_status fetch_number_poll(struct future *self, const struct waker *waker, void *output)
{
    struct fetch_number_frame *frame = (struct fetch_number_frame *) self;

    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        /* ---- wait point 1: char *text = http_get("/%d/%d", delay_ms, n).wait; ---- */
        frame->awaited = http_get("/%d/%d", frame->delay_ms, frame->n);
        frame->state = 1;
        /* fall through */
    case 1:
        if (frame->awaited->poll(frame->awaited, waker, &frame->text) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 1 ---- */
        frame->result = -1; /* the request failed, or the body is not a number */
        if (frame->text != NULL && parse_count(http_body(frame->text), 0, INT_MAX, &frame->number) == 0)
            frame->result = (int) frame->number;
        free(frame->text);
        if (output != NULL)
            *(int *) output = frame->result;
        frame->state = -1;
        return POLL_READY;
        /* ---- end of your code ---- */
    default:
        fprintf(stderr, "corofy: fetch_number polled after it completed\n");
        abort();
    }
}

static void fetch_number_drop(struct future *self)
{
    struct fetch_number_frame *frame = (struct fetch_number_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *fetch_number(int delay_ms, int n)
{
    struct fetch_number_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating fetch_number\n");
        abort();
    }
    frame->base.poll = fetch_number_poll;
    frame->base.drop = fetch_number_drop;
    frame->state = 0;
    frame->delay_ms = delay_ms;
    frame->n = n;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

// ===== coroutine square (main.c:46), as you wrote it =====
//
//     coroutine int square(int delay_ms, int n)
//     {
//         int x = fetch_number(delay_ms, n).wait;
//         return x * x;
//     }
//
// corofy turned it into the four pieces below: struct square_frame (the state,
// the parameters and the locals, kept from one poll to the next), square_poll
// (runs the body from one wait point to the next), square_drop, and the
// constructor square(), which makes the frame without running any of the body.

struct future *square(int delay_ms, int n);

struct square_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1: at the wait point, -1: finished */
    int delay_ms;           /* parameter */
    int n;                  /* parameter */
    int x;                  /* local, line 48 */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status square_poll(struct future *self, const struct waker *waker, void *output)
{
    struct square_frame *frame = (struct square_frame *) self;

    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        /* ---- wait point 1: int x = fetch_number(delay_ms, n).wait; ---- */
        frame->awaited = fetch_number(frame->delay_ms, frame->n);
        frame->state = 1;
        /* fall through */
    case 1:
        if (frame->awaited->poll(frame->awaited, waker, &frame->x) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 1 ---- */
        if (output != NULL)
            *(int *) output = frame->x * frame->x;
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

struct future *square(int delay_ms, int n)
{
    struct square_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating square\n");
        abort();
    }
    frame->base.poll = square_poll;
    frame->base.drop = square_drop;
    frame->state = 0;
    frame->delay_ms = delay_ms;
    frame->n = n;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

/* Three numbers fetched at once by three tasks of this executor, joined in
 * the order they were spawned and summed up. */
// ===== coroutine summarize (main.c:54), as you wrote it =====
//
//     coroutine struct summary summarize(void)
//     {
//         struct future *first = executor_spawn(fetch_number(600, 4), sizeof(int), "fetch 4");
//         struct future *second = executor_spawn(fetch_number(1200, 6), sizeof(int), "fetch 6");
//         struct future *third = executor_spawn(fetch_number(1000, 5), sizeof(int), "fetch 5");
//         int x = first.wait;
//         int y = second.wait;
//         int z = third.wait;
//         struct summary s = {3, x + y + z, x, x};
//         if (y < s.min)
//             s.min = y;
//         if (z < s.min)
//             s.min = z;
//         if (y > s.max)
//             s.max = y;
//         if (z > s.max)
//             s.max = z;
//         return s;
//     }
//
// corofy turned it into the four pieces below: struct summarize_frame (the state,
// the parameters and the locals, kept from one poll to the next), summarize_poll
// (runs the body from one wait point to the next), summarize_drop, and the
// constructor summarize(), which makes the frame without running any of the body.

struct future *summarize(void);

struct summarize_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1-3: at that wait point, -1: finished */
    struct future *first;   /* local, line 56 */
    struct future *second;  /* local, line 57 */
    struct future *third;   /* local, line 58 */
    int x;                  /* local, line 59 */
    int y;                  /* local, line 60 */
    int z;                  /* local, line 61 */
    struct summary s;       /* local, line 62 */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status summarize_poll(struct future *self, const struct waker *waker, void *output)
{
    struct summarize_frame *frame = (struct summarize_frame *) self;

    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        frame->first = executor_spawn(fetch_number(600, 4), sizeof(int), "fetch 4");
        frame->second = executor_spawn(fetch_number(1200, 6), sizeof(int), "fetch 6");
        frame->third = executor_spawn(fetch_number(1000, 5), sizeof(int), "fetch 5");
        /* ---- wait point 1: int x = first.wait; ---- */
        frame->awaited = frame->first;
        frame->state = 1;
        /* fall through */
    case 1:
        if (frame->awaited->poll(frame->awaited, waker, &frame->x) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 1 ---- */
        /* ---- wait point 2: int y = second.wait; ---- */
        frame->awaited = frame->second;
        frame->state = 2;
        /* fall through */
    case 2:
        if (frame->awaited->poll(frame->awaited, waker, &frame->y) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 2 ---- */
        /* ---- wait point 3: int z = third.wait; ---- */
        frame->awaited = frame->third;
        frame->state = 3;
        /* fall through */
    case 3:
        if (frame->awaited->poll(frame->awaited, waker, &frame->z) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 3 ---- */
        frame->s = (struct summary){3, frame->x + frame->y + frame->z, frame->x, frame->x};
        if (frame->y < frame->s.min)
            frame->s.min = frame->y;
        if (frame->z < frame->s.min)
            frame->s.min = frame->z;
        if (frame->y > frame->s.max)
            frame->s.max = frame->y;
        if (frame->z > frame->s.max)
            frame->s.max = frame->z;
        if (output != NULL)
            *(struct summary *) output = frame->s;
        frame->state = -1;
        return POLL_READY;
        /* ---- end of your code ---- */
    default:
        fprintf(stderr, "corofy: summarize polled after it completed\n");
        abort();
    }
}

static void summarize_drop(struct future *self)
{
    struct summarize_frame *frame = (struct summarize_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *summarize(void)
{
    struct summarize_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating summarize\n");
        abort();
    }
    frame->base.poll = summarize_poll;
    frame->base.drop = summarize_drop;
    frame->state = 0;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

/* The task whose handle is dropped: it runs to the end all the same. */
// ===== coroutine unwanted (main.c:75), as you wrote it =====
//
//     coroutine int unwanted(int delay_ms)
//     {
//         int n = fetch_number(delay_ms, 99).wait;
//         printf("%s: the detached task got %d; nobody will read it\n", executor_name(), n);
//         return n;
//     }
//
// corofy turned it into the four pieces below: struct unwanted_frame (the state,
// the parameters and the locals, kept from one poll to the next), unwanted_poll
// (runs the body from one wait point to the next), unwanted_drop, and the
// constructor unwanted(), which makes the frame without running any of the body.

struct future *unwanted(int delay_ms);

struct unwanted_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1: at the wait point, -1: finished */
    int delay_ms;           /* parameter */
    int n;                  /* local, line 77 */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status unwanted_poll(struct future *self, const struct waker *waker, void *output)
{
    struct unwanted_frame *frame = (struct unwanted_frame *) self;

    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        /* ---- wait point 1: int n = fetch_number(delay_ms, 99).wait; ---- */
        frame->awaited = fetch_number(frame->delay_ms, 99);
        frame->state = 1;
        /* fall through */
    case 1:
        if (frame->awaited->poll(frame->awaited, waker, &frame->n) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 1 ---- */
        printf("%s: the detached task got %d; nobody will read it\n", executor_name(), frame->n);
        if (output != NULL)
            *(int *) output = frame->n;
        frame->state = -1;
        return POLL_READY;
        /* ---- end of your code ---- */
    default:
        fprintf(stderr, "corofy: unwanted polled after it completed\n");
        abort();
    }
}

static void unwanted_drop(struct future *self)
{
    struct unwanted_frame *frame = (struct unwanted_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *unwanted(int delay_ms)
{
    struct unwanted_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating unwanted\n");
        abort();
    }
    frame->base.poll = unwanted_poll;
    frame->base.drop = unwanted_drop;
    frame->state = 0;
    frame->delay_ms = delay_ms;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

static const char *finished(struct future *handle)
{
    return join_is_finished(handle) ? "yes, its result is already there" : "no, wait for it";
}

/* What it prints does not depend on timing, only on the order of events:
 * b is asked about right after its spawn (its children wait 600 to 1200
 * ms for the server); a and the detached task need 100 ms, done long before
 * b; c is spawned on this task's own executor, which cannot poll it before
 * this task waits. */
// ===== coroutine parent (main.c:92), as you wrote it =====
//
//     coroutine void parent(void)
//     {
//         const char *me = executor_name();
//         struct future *a = executor_spawn_on(workers[0], square(100, 7), sizeof(int), "a");
//         struct future *b = executor_spawn_on(workers[1], summarize(), sizeof(struct summary), "b");
//         printf("%s: spawn a = square(7) on exec-1, b = summarize() on exec-2\n", me);
//         printf("%s: b finished? %s\n", me, finished(b));
//         printf("%s: spawn one more task on exec-1 and drop its handle: detached\n", me);
//         join_detach(executor_spawn_on(workers[0], unwanted(100), sizeof(int), "detached"));
//
//         struct summary s = b.wait;
//         printf("%s: b = { count %d, sum %d, min %d, max %d }\n", me, s.count, s.sum, s.min, s.max);
//         printf("%s: a finished? %s\n", me, finished(a));
//         int a_value = a.wait;
//         printf("%s: a = %d\n", me, a_value);
//
//         struct future *c = executor_spawn(square(400, 9), sizeof(int), "c");
//         printf("%s: spawn c = square(9) here, on this task's own executor\n", me);
//         printf("%s: c finished? %s\n", me, finished(c));
//         int c_value = c.wait;
//         printf("%s: c = %d\n", me, c_value);
//
//         int d = executor_spawn_on(workers[1], square(400, 3), sizeof(int), "d").wait;
//         printf("%s: d = square(3) on exec-2, spawned and awaited in one line: %d\n", me, d);
//     }
//
// corofy turned it into the four pieces below: struct parent_frame (the state,
// the parameters and the locals, kept from one poll to the next), parent_poll
// (runs the body from one wait point to the next), parent_drop, and the
// constructor parent(), which makes the frame without running any of the body.

struct future *parent(void);

struct parent_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1-4: at that wait point, -1: finished */
    const char *me;         /* local, line 94 */
    struct future *a;       /* local, line 95 */
    struct future *b;       /* local, line 96 */
    struct summary s;       /* local, line 102 */
    int a_value;            /* local, line 105 */
    struct future *c;       /* local, line 108 */
    int c_value;            /* local, line 111 */
    int d;                  /* local, line 114 */
    struct future *awaited; /* the future being waited for, or NULL */
};

static enum poll_status parent_poll(struct future *self, const struct waker *waker, void *output)
{
    struct parent_frame *frame = (struct parent_frame *) self;

    (void) output; /* a void coroutine produces nothing */
    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        frame->me = executor_name();
        frame->a = executor_spawn_on(workers[0], square(100, 7), sizeof(int), "a");
        frame->b = executor_spawn_on(workers[1], summarize(), sizeof(struct summary), "b");
        printf("%s: spawn a = square(7) on exec-1, b = summarize() on exec-2\n", frame->me);
        printf("%s: b finished? %s\n", frame->me, finished(frame->b));
        printf("%s: spawn one more task on exec-1 and drop its handle: detached\n", frame->me);
        join_detach(executor_spawn_on(workers[0], unwanted(100), sizeof(int), "detached"));

        /* ---- wait point 1: struct summary s = b.wait; ---- */
        frame->awaited = frame->b;
        frame->state = 1;
        /* fall through */
    case 1:
        if (frame->awaited->poll(frame->awaited, waker, &frame->s) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 1 ---- */
        printf("%s: b = { count %d, sum %d, min %d, max %d }\n", frame->me, frame->s.count, frame->s.sum, frame->s.min, frame->s.max);
        printf("%s: a finished? %s\n", frame->me, finished(frame->a));
        /* ---- wait point 2: int a_value = a.wait; ---- */
        frame->awaited = frame->a;
        frame->state = 2;
        /* fall through */
    case 2:
        if (frame->awaited->poll(frame->awaited, waker, &frame->a_value) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 2 ---- */
        printf("%s: a = %d\n", frame->me, frame->a_value);

        frame->c = executor_spawn(square(400, 9), sizeof(int), "c");
        printf("%s: spawn c = square(9) here, on this task's own executor\n", frame->me);
        printf("%s: c finished? %s\n", frame->me, finished(frame->c));
        /* ---- wait point 3: int c_value = c.wait; ---- */
        frame->awaited = frame->c;
        frame->state = 3;
        /* fall through */
    case 3:
        if (frame->awaited->poll(frame->awaited, waker, &frame->c_value) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 3 ---- */
        printf("%s: c = %d\n", frame->me, frame->c_value);

        /* ---- wait point 4: int d = executor_spawn_on(workers[1], square(400, 3), sizeof(int), "d").wait; ---- */
        frame->awaited = executor_spawn_on(workers[1], square(400, 3), sizeof(int), "d");
        frame->state = 4;
        /* fall through */
    case 4:
        if (frame->awaited->poll(frame->awaited, waker, &frame->d) == POLL_PENDING)
            return POLL_PENDING;
        frame->awaited->drop(frame->awaited);
        frame->awaited = NULL;
        /* ---- end of wait point 4 ---- */
        printf("%s: d = square(3) on exec-2, spawned and awaited in one line: %d\n", frame->me, frame->d);
        /* ---- end of your code ---- */
        frame->state = -1;
        return POLL_READY;
    default:
        fprintf(stderr, "corofy: parent polled after it completed\n");
        abort();
    }
}

static void parent_drop(struct future *self)
{
    struct parent_frame *frame = (struct parent_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *parent(void)
{
    struct parent_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating parent\n");
        abort();
    }
    frame->base.poll = parent_poll;
    frame->base.drop = parent_drop;
    frame->state = 0;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

static void *worker_main(void *arg)
{
    struct executor *ex = arg;
    executor_run(ex);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        if (argc > 2) {
            fprintf(stderr, "join: unexpected argument '%s' after --help\n", argv[2]);
            return 2;
        }
        printf("usage: join\n"
               "Runs a parent task that spawns children on three executors (three\n"
               "threads), awaits their results through join handles and detaches one.\n"
               "The children ask the delay server at DELAYSERVER_ADDR (default\n"
               "127.0.0.1:8080) for their numbers; a request that has no complete answer\n"
               "after DELAYSERVER_TIMEOUT_MS (default 15000) is given up.\n");
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "join: unknown argument '%s' (try --help)\n", argv[1]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* each line as it happens, even into a pipe */
    if (http_init(false) < 0)
        return 1;
    int err = reactor_start();
    if (err < 0)
        die("cannot start the reactor: %s", strerror(-err));

    pthread_t threads[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        char name[16];
        snprintf(name, sizeof name, "exec-%d", i + 1);
        workers[i] = executor_new(name);
        check_pthread(pthread_create(&threads[i], NULL, worker_main, workers[i]), "pthread_create");
    }
    executor_block_on("main", parent());

    /* The parent is done, but a detached task may still be running: the
       workers return once their last task has finished. */
    for (int i = 0; i < WORKERS; i++) {
        executor_shutdown(workers[i]);
        check_pthread(pthread_join(threads[i], NULL), "pthread_join");
        executor_free(workers[i]);
    }
    reactor_stop();
    printf("all executors finished; task structs still allocated: %zu\n", executor_live_tasks());
    return http_failed() ? 1 : 0;
}
