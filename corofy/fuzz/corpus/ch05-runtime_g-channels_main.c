/* main.c: ch05-runtime step g: tasks that talk through channels. By default
 * a pipeline on one executor: two producers -> doubler -> printer. With
 * --stress, producers on other threads push messages through a small
 * bounded channel to one consumer, which checks that every message arrives
 * exactly once and in order. This is corofy's input: `make corofy` turns the
 * `coroutine` functions into state machines in main_corofied.c, and that file
 * is what gets compiled. */
/* corofy: waker */
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
coroutine void producer(const char *name, int first, int count, struct sender *tx)
{
    for (int i = 1; i <= count; i++) {
        int n = i * first;
        printf("%s: sending %d\n", name, n);
        enum channel_status status = channel_send(tx, &n).wait;
        if (status == CHANNEL_CLOSED) {
            printf("%s: nobody is listening any more\n", name);
            break;
        }
        printf("%s: sent %d\n", name, n);
    }
    printf("%s: done, dropping its sender\n", name);
    channel_sender_drop(tx);
}

/* Pass on twice every number received, until every producer has hung up. */
coroutine void doubler(struct receiver *rx, struct sender *tx)
{
    for (;;) {
        int n;
        enum channel_status status = channel_recv(rx, &n).wait;
        if (status == CHANNEL_CLOSED)
            break;
        int doubled = 2 * n;
        printf("doubler: %d -> %d\n", n, doubled);
        status = channel_send(tx, &doubled).wait;
        if (status == CHANNEL_CLOSED)
            break;
    }
    struct channel_stats stats = channel_stats(rx);
    printf("doubler: numbers closed: %zu sent, %zu received, at most %zu queued, "
           "senders waited %zu times\n",
           stats.sent, stats.received, stats.max_queued, stats.send_waits);
    channel_receiver_drop(rx);
    channel_sender_drop(tx);
}

/* Print every number that arrives, until the doubler hangs up. */
coroutine void printer(struct receiver *rx)
{
    int received = 0;
    for (;;) {
        int n;
        enum channel_status status = channel_recv(rx, &n).wait;
        if (status == CHANNEL_CLOSED)
            break;
        printf("printer: %d\n", n);
        received++;
    }
    printf("printer: doubled closed after %d messages\n", received);
    channel_receiver_drop(rx);
}

/* Two producers share the bounded channel `numbers` (room for two); the
 * doubler feeds the unbounded channel `doubled`. Every task owns the handles
 * it is given and drops them when it is done. */
coroutine void pipeline(void)
{
    struct channel_ends numbers = channel_new(sizeof(int), 2, NULL);
    struct channel_ends doubled = channel_new(sizeof(int), CHANNEL_UNBOUNDED, NULL);
    executor_spawn(producer("producer-a", 1, 3, channel_sender_clone(numbers.tx)), "producer-a");
    executor_spawn(producer("producer-b", 100, 3, numbers.tx), "producer-b");
    executor_spawn(doubler(numbers.rx, doubled.tx), "doubler");
    executor_spawn(printer(doubled.rx), "printer");
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

coroutine void stress_producer(int id, int count, struct sender *tx)
{
    for (int seq = 0; seq < count; seq++) {
        struct message m = {id, seq};
        enum channel_status status = channel_send(tx, &m).wait;
        if (status == CHANNEL_CLOSED)
            break;
    }
    channel_sender_drop(tx);
}

/* Receive until every producer has hung up, checking each message against
 * the next one its producer should send. */
coroutine void stress_consumer(struct receiver *rx, struct tally *tally)
{
    for (;;) {
        struct message m;
        enum channel_status status = channel_recv(rx, &m).wait;
        if (status == CHANNEL_CLOSED)
            break;
        tally->received++;
        if (m.producer < 0 || m.producer >= tally->producers ||
            m.seq != tally->next_seq[m.producer])
            tally->out_of_order++;
        else
            tally->next_seq[m.producer]++;
    }
    tally->stats = channel_stats(rx);
    channel_receiver_drop(rx);
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
            fprintf(stderr, "channels: unexpected argument '%s' after --help (try --help)\n",
                    argv[2]);
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
