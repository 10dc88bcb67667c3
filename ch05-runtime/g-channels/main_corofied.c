/* main.c: ch05-runtime step g: tasks that talk through channels. By default
 * a pipeline on one executor: two producers -> doubler -> printer. With
 * --stress, producers on other threads push messages through a small
 * bounded channel to one consumer, which checks that every message arrives
 * exactly once and in order. This is corofy's input: `make corofy` turns the
 * `coroutine` functions into state machines in main_corofied.c, and that file
 * is what gets compiled. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/alloc.h"
#include "../../common/args.h"
#include "../../common/errors.h"
#include "channel.h"
#include "executor.h"
#include "future.h"

/* ===== The pipeline ===== */

/* Send count numbers, first, 2*first, ..., then hang up. */
// ===== coroutine producer (main.c:24), as you wrote it =====
//
//     coroutine void producer(const char *name, int first, int count, struct sender *tx)
//     {
//         for (int i = 1; i <= count; i++) {
//             int n = i * first;
//             printf("%s: sending %d\n", name, n);
//             enum channel_status status = channel_send(tx, &n).wait;
//             if (status == CHANNEL_CLOSED) {
//                 printf("%s: nobody is listening any more\n", name);
//                 break;
//             }
//             printf("%s: sent %d\n", name, n);
//         }
//         printf("%s: done, dropping its sender\n", name);
//         channel_sender_drop(tx);
//     }
//
// corofy turned it into the four pieces below: struct producer_frame (the state,
// the parameters and the locals, kept from one poll to the next), producer_poll
// (runs the body from one wait point to the next), producer_drop, and the
// constructor producer(), which makes the frame without running any of the body.

struct future *producer(const char *name, int first, int count, struct sender *tx);

struct producer_frame {
    struct future base;         /* first: a frame is a future */
    int state;                  /* 0: not started, 1: at the wait point, -1: finished */
    const char *name;           /* parameter */
    int first;                  /* parameter */
    int count;                  /* parameter */
    struct sender *tx;          /* parameter */
    int i;                      /* local, line 26 */
    int n;                      /* local, line 27 */
    enum channel_status status; /* local, line 29 */
    struct future *awaited;     /* the future being waited for, or NULL */
};

static enum poll_status producer_poll(struct future *self, const struct waker *waker, void *output)
{
    struct producer_frame *frame = (struct producer_frame *) self;

    (void) output; /* a void coroutine produces nothing */
    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        for (frame->i = 1; frame->i <= frame->count; frame->i++) {
            frame->n = frame->i * frame->first;
            printf("%s: sending %d\n", frame->name, frame->n);
            /* ---- wait point 1: enum channel_status status = channel_send(tx, &n).wait; ---- */
            frame->awaited = channel_send(frame->tx, &frame->n);
            frame->state = 1;
            /* fall through */
    case 1:
            if (frame->awaited->poll(frame->awaited, waker, &frame->status) == POLL_PENDING)
                return POLL_PENDING;
            frame->awaited->drop(frame->awaited);
            frame->awaited = NULL;
            /* ---- end of wait point 1 ---- */
            if (frame->status == CHANNEL_CLOSED) {
                printf("%s: nobody is listening any more\n", frame->name);
                break;
            }
            printf("%s: sent %d\n", frame->name, frame->n);
        }
        printf("%s: done, dropping its sender\n", frame->name);
        channel_sender_drop(frame->tx);
        /* ---- end of your code ---- */
        frame->state = -1;
        return POLL_READY;
    default:
        fprintf(stderr, "corofy: producer polled after it completed\n");
        abort();
    }
}

static void producer_drop(struct future *self)
{
    struct producer_frame *frame = (struct producer_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *producer(const char *name, int first, int count, struct sender *tx)
{
    struct producer_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating producer\n");
        abort();
    }
    frame->base.poll = producer_poll;
    frame->base.drop = producer_drop;
    frame->state = 0;
    frame->name = name;
    frame->first = first;
    frame->count = count;
    frame->tx = tx;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

/* Pass on twice every number received, until every producer has hung up. */
// ===== coroutine doubler (main.c:41), as you wrote it =====
//
//     coroutine void doubler(struct receiver *rx, struct sender *tx)
//     {
//         for (;;) {
//             int n;
//             enum channel_status status = channel_recv(rx, &n).wait;
//             if (status == CHANNEL_CLOSED)
//                 break;
//             int doubled = 2 * n;
//             printf("doubler: %d -> %d\n", n, doubled);
//             status = channel_send(tx, &doubled).wait;
//             if (status == CHANNEL_CLOSED)
//                 break;
//         }
//         struct channel_stats stats = channel_stats(rx);
//         printf("doubler: numbers closed: %zu sent, %zu received, at most %zu queued, "
//                "senders waited %zu times\n",
//                stats.sent, stats.received, stats.max_queued, stats.send_waits);
//         channel_receiver_drop(rx);
//         channel_sender_drop(tx);
//     }
//
// corofy turned it into the four pieces below: struct doubler_frame (the state,
// the parameters and the locals, kept from one poll to the next), doubler_poll
// (runs the body from one wait point to the next), doubler_drop, and the
// constructor doubler(), which makes the frame without running any of the body.

struct future *doubler(struct receiver *rx, struct sender *tx);

struct doubler_frame {
    struct future base;         /* first: a frame is a future */
    int state;                  /* 0: not started, 1-2: at that wait point, -1: finished */
    struct receiver *rx;        /* parameter */
    struct sender *tx;          /* parameter */
    int n;                      /* local, line 44 */
    enum channel_status status; /* local, line 45 */
    int doubled;                /* local, line 48 */
    struct channel_stats stats; /* local, line 54 */
    struct future *awaited;     /* the future being waited for, or NULL */
};

static enum poll_status doubler_poll(struct future *self, const struct waker *waker, void *output)
{
    struct doubler_frame *frame = (struct doubler_frame *) self;

    (void) output; /* a void coroutine produces nothing */
    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        for (;;) {
            /* ---- wait point 1: enum channel_status status = channel_recv(rx, &n).wait; ---- */
            frame->awaited = channel_recv(frame->rx, &frame->n);
            frame->state = 1;
            /* fall through */
    case 1:
            if (frame->awaited->poll(frame->awaited, waker, &frame->status) == POLL_PENDING)
                return POLL_PENDING;
            frame->awaited->drop(frame->awaited);
            frame->awaited = NULL;
            /* ---- end of wait point 1 ---- */
            if (frame->status == CHANNEL_CLOSED)
                break;
            frame->doubled = 2 * frame->n;
            printf("doubler: %d -> %d\n", frame->n, frame->doubled);
            /* ---- wait point 2: status = channel_send(tx, &doubled).wait; ---- */
            frame->awaited = channel_send(frame->tx, &frame->doubled);
            frame->state = 2;
            /* fall through */
    case 2:
            if (frame->awaited->poll(frame->awaited, waker, &frame->status) == POLL_PENDING)
                return POLL_PENDING;
            frame->awaited->drop(frame->awaited);
            frame->awaited = NULL;
            /* ---- end of wait point 2 ---- */
            if (frame->status == CHANNEL_CLOSED)
                break;
        }
        frame->stats = channel_stats(frame->rx);
        printf("doubler: numbers closed: %zu sent, %zu received, at most %zu queued, "
               "senders waited %zu times\n",
               frame->stats.sent, frame->stats.received, frame->stats.max_queued, frame->stats.send_waits);
        channel_receiver_drop(frame->rx);
        channel_sender_drop(frame->tx);
        /* ---- end of your code ---- */
        frame->state = -1;
        return POLL_READY;
    default:
        fprintf(stderr, "corofy: doubler polled after it completed\n");
        abort();
    }
}

static void doubler_drop(struct future *self)
{
    struct doubler_frame *frame = (struct doubler_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *doubler(struct receiver *rx, struct sender *tx)
{
    struct doubler_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating doubler\n");
        abort();
    }
    frame->base.poll = doubler_poll;
    frame->base.drop = doubler_drop;
    frame->state = 0;
    frame->rx = rx;
    frame->tx = tx;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

/* Print every number that arrives, until the doubler hangs up. */
// ===== coroutine printer (main.c:63), as you wrote it =====
//
//     coroutine void printer(struct receiver *rx)
//     {
//         int received = 0;
//         for (;;) {
//             int n;
//             enum channel_status status = channel_recv(rx, &n).wait;
//             if (status == CHANNEL_CLOSED)
//                 break;
//             printf("printer: %d\n", n);
//             received++;
//         }
//         printf("printer: doubled closed after %d messages\n", received);
//         channel_receiver_drop(rx);
//     }
//
// corofy turned it into the four pieces below: struct printer_frame (the state,
// the parameters and the locals, kept from one poll to the next), printer_poll
// (runs the body from one wait point to the next), printer_drop, and the
// constructor printer(), which makes the frame without running any of the body.

struct future *printer(struct receiver *rx);

struct printer_frame {
    struct future base;         /* first: a frame is a future */
    int state;                  /* 0: not started, 1: at the wait point, -1: finished */
    struct receiver *rx;        /* parameter */
    int received;               /* local, line 65 */
    int n;                      /* local, line 67 */
    enum channel_status status; /* local, line 68 */
    struct future *awaited;     /* the future being waited for, or NULL */
};

static enum poll_status printer_poll(struct future *self, const struct waker *waker, void *output)
{
    struct printer_frame *frame = (struct printer_frame *) self;

    (void) output; /* a void coroutine produces nothing */
    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        frame->received = 0;
        for (;;) {
            /* ---- wait point 1: enum channel_status status = channel_recv(rx, &n).wait; ---- */
            frame->awaited = channel_recv(frame->rx, &frame->n);
            frame->state = 1;
            /* fall through */
    case 1:
            if (frame->awaited->poll(frame->awaited, waker, &frame->status) == POLL_PENDING)
                return POLL_PENDING;
            frame->awaited->drop(frame->awaited);
            frame->awaited = NULL;
            /* ---- end of wait point 1 ---- */
            if (frame->status == CHANNEL_CLOSED)
                break;
            printf("printer: %d\n", frame->n);
            frame->received++;
        }
        printf("printer: doubled closed after %d messages\n", frame->received);
        channel_receiver_drop(frame->rx);
        /* ---- end of your code ---- */
        frame->state = -1;
        return POLL_READY;
    default:
        fprintf(stderr, "corofy: printer polled after it completed\n");
        abort();
    }
}

static void printer_drop(struct future *self)
{
    struct printer_frame *frame = (struct printer_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *printer(struct receiver *rx)
{
    struct printer_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating printer\n");
        abort();
    }
    frame->base.poll = printer_poll;
    frame->base.drop = printer_drop;
    frame->state = 0;
    frame->rx = rx;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

/* Two producers share the bounded channel `numbers` (room for two); the
 * doubler feeds the unbounded channel `doubled`. Every task owns the handles
 * it is given and drops them when it is done. */
// ===== coroutine pipeline (main.c:81), as you wrote it =====
//
//     coroutine void pipeline(void)
//     {
//         struct channel_ends numbers = channel_new(sizeof(int), 2, NULL);
//         struct channel_ends doubled = channel_new(sizeof(int), CHANNEL_UNBOUNDED, NULL);
//         executor_spawn(producer("producer-a", 1, 3, channel_sender_clone(numbers.tx)), "producer-a");
//         executor_spawn(producer("producer-b", 100, 3, numbers.tx), "producer-b");
//         executor_spawn(doubler(numbers.rx, doubled.tx), "doubler");
//         executor_spawn(printer(doubled.rx), "printer");
//     }
//
// corofy turned it into the four pieces below: struct pipeline_frame (the state,
// the parameters and the locals, kept from one poll to the next), pipeline_poll
// (runs the body from one wait point to the next), pipeline_drop, and the
// constructor pipeline(), which makes the frame without running any of the body.

struct future *pipeline(void);

struct pipeline_frame {
    struct future base;          /* first: a frame is a future */
    int state;                   /* 0: not started, -1: finished */
    struct channel_ends numbers; /* local, line 83 */
    struct channel_ends doubled; /* local, line 84 */
    struct future *awaited;      /* the future being waited for, or NULL */
};

static enum poll_status pipeline_poll(struct future *self, const struct waker *waker, void *output)
{
    struct pipeline_frame *frame = (struct pipeline_frame *) self;

    (void) output; /* a void coroutine produces nothing */
    (void) waker;  /* no wait point to hand it to */
    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        frame->numbers = channel_new(sizeof(int), 2, NULL);
        frame->doubled = channel_new(sizeof(int), CHANNEL_UNBOUNDED, NULL);
        executor_spawn(producer("producer-a", 1, 3, channel_sender_clone(frame->numbers.tx)), "producer-a");
        executor_spawn(producer("producer-b", 100, 3, frame->numbers.tx), "producer-b");
        executor_spawn(doubler(frame->numbers.rx, frame->doubled.tx), "doubler");
        executor_spawn(printer(frame->doubled.rx), "printer");
        /* ---- end of your code ---- */
        frame->state = -1;
        return POLL_READY;
    default:
        fprintf(stderr, "corofy: pipeline polled after it completed\n");
        abort();
    }
}

static void pipeline_drop(struct future *self)
{
    struct pipeline_frame *frame = (struct pipeline_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *pipeline(void)
{
    struct pipeline_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating pipeline\n");
        abort();
    }
    frame->base.poll = pipeline_poll;
    frame->base.drop = pipeline_drop;
    frame->state = 0;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

/* ===== The stress test ===== */

struct message {
    int producer; /* who sent it */
    int seq;      /* its number in that producer's stream: 0, 1, 2, ... */
};

/* What the consumer found, for main() to print. */
struct tally {
    int producers;
    int *next_seq; /* per producer: the seq expected next */
    long received;
    long out_of_order; /* wrong producer, a gap, or a repeat */
    struct channel_stats stats;
};

// ===== coroutine stress_producer (main.c:107), as you wrote it =====
//
//     coroutine void stress_producer(int id, int count, struct sender *tx)
//     {
//         for (int seq = 0; seq < count; seq++) {
//             struct message m = {id, seq};
//             enum channel_status status = channel_send(tx, &m).wait;
//             if (status == CHANNEL_CLOSED)
//                 break;
//         }
//         channel_sender_drop(tx);
//     }
//
// corofy turned it into the four pieces below: struct stress_producer_frame (the state,
// the parameters and the locals, kept from one poll to the next), stress_producer_poll
// (runs the body from one wait point to the next), stress_producer_drop, and the
// constructor stress_producer(), which makes the frame without running any of the body.

struct future *stress_producer(int id, int count, struct sender *tx);

struct stress_producer_frame {
    struct future base;         /* first: a frame is a future */
    int state;                  /* 0: not started, 1: at the wait point, -1: finished */
    int id;                     /* parameter */
    int count;                  /* parameter */
    struct sender *tx;          /* parameter */
    int seq;                    /* local, line 109 */
    struct message m;           /* local, line 110 */
    enum channel_status status; /* local, line 111 */
    struct future *awaited;     /* the future being waited for, or NULL */
};

static enum poll_status stress_producer_poll(struct future *self, const struct waker *waker, void *output)
{
    struct stress_producer_frame *frame = (struct stress_producer_frame *) self;

    (void) output; /* a void coroutine produces nothing */
    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        for (frame->seq = 0; frame->seq < frame->count; frame->seq++) {
            frame->m = (struct message){frame->id, frame->seq};
            /* ---- wait point 1: enum channel_status status = channel_send(tx, &m).wait; ---- */
            frame->awaited = channel_send(frame->tx, &frame->m);
            frame->state = 1;
            /* fall through */
    case 1:
            if (frame->awaited->poll(frame->awaited, waker, &frame->status) == POLL_PENDING)
                return POLL_PENDING;
            frame->awaited->drop(frame->awaited);
            frame->awaited = NULL;
            /* ---- end of wait point 1 ---- */
            if (frame->status == CHANNEL_CLOSED)
                break;
        }
        channel_sender_drop(frame->tx);
        /* ---- end of your code ---- */
        frame->state = -1;
        return POLL_READY;
    default:
        fprintf(stderr, "corofy: stress_producer polled after it completed\n");
        abort();
    }
}

static void stress_producer_drop(struct future *self)
{
    struct stress_producer_frame *frame = (struct stress_producer_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *stress_producer(int id, int count, struct sender *tx)
{
    struct stress_producer_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating stress_producer\n");
        abort();
    }
    frame->base.poll = stress_producer_poll;
    frame->base.drop = stress_producer_drop;
    frame->state = 0;
    frame->id = id;
    frame->count = count;
    frame->tx = tx;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

/* Receive until every producer has hung up, checking each message against
 * the next one its producer should send. */
// ===== coroutine stress_consumer (main.c:120), as you wrote it =====
//
//     coroutine void stress_consumer(struct receiver *rx, struct tally *tally)
//     {
//         for (;;) {
//             struct message m;
//             enum channel_status status = channel_recv(rx, &m).wait;
//             if (status == CHANNEL_CLOSED)
//                 break;
//             tally->received++;
//             if (m.producer < 0 || m.producer >= tally->producers ||
//                 m.seq != tally->next_seq[m.producer])
//                 tally->out_of_order++;
//             else
//                 tally->next_seq[m.producer]++;
//         }
//         tally->stats = channel_stats(rx);
//         channel_receiver_drop(rx);
//     }
//
// corofy turned it into the four pieces below: struct stress_consumer_frame (the state,
// the parameters and the locals, kept from one poll to the next), stress_consumer_poll
// (runs the body from one wait point to the next), stress_consumer_drop, and the
// constructor stress_consumer(), which makes the frame without running any of the body.

struct future *stress_consumer(struct receiver *rx, struct tally *tally);

struct stress_consumer_frame {
    struct future base;         /* first: a frame is a future */
    int state;                  /* 0: not started, 1: at the wait point, -1: finished */
    struct receiver *rx;        /* parameter */
    struct tally *tally;        /* parameter */
    struct message m;           /* local, line 123 */
    enum channel_status status; /* local, line 124 */
    struct future *awaited;     /* the future being waited for, or NULL */
};

static enum poll_status stress_consumer_poll(struct future *self, const struct waker *waker, void *output)
{
    struct stress_consumer_frame *frame = (struct stress_consumer_frame *) self;

    (void) output; /* a void coroutine produces nothing */
    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        for (;;) {
            /* ---- wait point 1: enum channel_status status = channel_recv(rx, &m).wait; ---- */
            frame->awaited = channel_recv(frame->rx, &frame->m);
            frame->state = 1;
            /* fall through */
    case 1:
            if (frame->awaited->poll(frame->awaited, waker, &frame->status) == POLL_PENDING)
                return POLL_PENDING;
            frame->awaited->drop(frame->awaited);
            frame->awaited = NULL;
            /* ---- end of wait point 1 ---- */
            if (frame->status == CHANNEL_CLOSED)
                break;
            frame->tally->received++;
            if (frame->m.producer < 0 || frame->m.producer >= frame->tally->producers ||
                frame->m.seq != frame->tally->next_seq[frame->m.producer])
                frame->tally->out_of_order++;
            else
                frame->tally->next_seq[frame->m.producer]++;
        }
        frame->tally->stats = channel_stats(frame->rx);
        channel_receiver_drop(frame->rx);
        /* ---- end of your code ---- */
        frame->state = -1;
        return POLL_READY;
    default:
        fprintf(stderr, "corofy: stress_consumer polled after it completed\n");
        abort();
    }
}

static void stress_consumer_drop(struct future *self)
{
    struct stress_consumer_frame *frame = (struct stress_consumer_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *stress_consumer(struct receiver *rx, struct tally *tally)
{
    struct stress_consumer_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating stress_consumer\n");
        abort();
    }
    frame->base.poll = stress_consumer_poll;
    frame->base.drop = stress_consumer_drop;
    frame->state = 0;
    frame->rx = rx;
    frame->tally = tally;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

struct producer_thread {
    pthread_t thread;
    int id;
    int count;
    struct sender *tx;
};

/* Each producer runs on an executor of its own thread (a quiet one: it
 * sleeps every time the channel is full, which is often). */
static void *run_producer(void *arg)
{
    struct producer_thread *p = arg;
    executor_block_on(NULL, stress_producer(p->id, p->count, p->tx));
    return NULL;
}

static int stress(int producers, int messages, int capacity)
{
    printf("stress: %d producers on their own threads x %d messages, "
           "one consumer, capacity %d\n",
           producers, messages, capacity);
    struct producer_thread *threads = xcalloc((size_t) producers, sizeof *threads);
    struct tally tally = {.producers = producers};
    tally.next_seq = xcalloc((size_t) producers, sizeof *tally.next_seq);
    struct channel_ends ends = channel_new(sizeof(struct message), (size_t) capacity, NULL);
    for (int i = 0; i < producers; i++) {
        threads[i] = (struct producer_thread){
            .id = i, .count = messages, .tx = channel_sender_clone(ends.tx)};
        check_pthread(pthread_create(&threads[i].thread, NULL, run_producer, &threads[i]),
                      "pthread_create");
    }
    channel_sender_drop(ends.tx); /* only the producers' handles keep it open */
    executor_block_on(NULL, stress_consumer(ends.rx, &tally));
    for (int i = 0; i < producers; i++)
        check_pthread(pthread_join(threads[i].thread, NULL), "pthread_join");

    long expected = (long) producers * messages;
    int complete = 0;
    for (int i = 0; i < producers; i++)
        complete += tally.next_seq[i] == messages;
    printf("received %ld of %ld messages, %ld out of order; "
           "%d of %d producers complete\n",
           tally.received, expected, tally.out_of_order, complete, producers);
    printf("most queued at once: %zu (capacity %d)\n", tally.stats.max_queued, capacity);
    printf("the consumer slept %zu times on an empty channel; "
           "sends waited %zu times on a full one\n",
           tally.stats.recv_waits, tally.stats.send_waits);
    free(threads);
    free(tally.next_seq);
    bool ok = tally.received == expected && tally.out_of_order == 0 && complete == producers;
    printf("%s\n", ok ? "every message received exactly once, in order per producer"
                      : "FAILED: messages lost, repeated or out of order");
    return ok ? 0 : 1;
}

/* ===== The command line ===== */

#define OPTION_MAX 100000000 /* --producers, --messages, --capacity: at most this */

static void usage(void)
{
    printf("usage: channels [--stress [--producers P] [--messages M] [--capacity C]]\n"
           "Without options: a pipeline of tasks (two producers -> doubler -> printer)\n"
           "passing numbers through channels on one executor.\n"
           "--stress: P producers (default 4), each on a thread of its own, send M\n"
           "messages each (default 100000) through a channel of capacity C (default 16)\n"
           "to one consumer, which checks that every message arrives exactly once.\n"
           "Each number is 1 to %d.\n",
           OPTION_MAX);
}

int main(int argc, char **argv)
{
    bool stressing = false, sized = false;
    unsigned long long producers = 4, messages = 100000, capacity = 16;

    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        if (argc > 2) {
            fprintf(stderr, "channels: unexpected argument '%s' after --help\n", argv[2]);
            return 2;
        }
        usage();
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        unsigned long long *option = NULL;
        if (strcmp(argv[i], "--stress") == 0) {
            stressing = true;
            continue;
        } else if (strcmp(argv[i], "--producers") == 0) {
            option = &producers;
        } else if (strcmp(argv[i], "--messages") == 0) {
            option = &messages;
        } else if (strcmp(argv[i], "--capacity") == 0) {
            option = &capacity;
        } else {
            fprintf(stderr, "channels: unknown argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
        const char *value = i + 1 < argc ? argv[i + 1] : "";
        if (parse_count(value, 1, OPTION_MAX, option) < 0) {
            fprintf(stderr, "channels: %s needs a number from 1 to %d, not '%s'\n", argv[i],
                    OPTION_MAX, value);
            return 2;
        }
        sized = true;
        i++;
    }
    if (sized && !stressing) {
        fprintf(stderr, "channels: --producers, --messages and --capacity go with --stress\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* each line as it happens, even into a pipe */
    if (stressing)
        return stress((int) producers, (int) messages, (int) capacity);
    printf("Program starting\n");
    executor_block_on("main", pipeline());
    return 0;
}
