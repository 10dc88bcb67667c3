/* channel-check.c: a test driver for ch05-runtime step g: the promises of
 * channel.h, one check each. Some checks poll the channel's futures by hand
 * with a waker that only counts, so they can say exactly who was woken when;
 * the others run tasks on executors, on one thread or several. Prints one
 * line per check that passed; the first that fails prints FAILED and exits 1.
 * `channel-check --misuse NAME` breaks one rule of channel.h on purpose (a
 * long sent into an int channel, a handle dropped while a future borrows it,
 * two receivers) and must stop at that rule's assertion. This file is
 * corofy's input; the Makefile compiles channel-check_corofied.c. */
/* corofy: waker */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/clock.h"
#include "channel.h"
#include "executor.h"
#include "future.h"
#include "tracker.h"

static void check(bool ok, const char *what)
{
    if (!ok) {
        printf("FAILED: %s\n", what);
        exit(1);
    }
}

/* ===== Polling by hand ===== */

static int wakes(struct tracker *t)
{
    return atomic_load(&t->wakes);
}

/* Poll f once on behalf of t. On POLL_READY *status holds its output and f
 * has been dropped. */
static enum poll_status poll_by(struct tracker *t, struct future *f, enum channel_status *status)
{
    struct waker w = tracker_waker(t);
    enum poll_status done = f->poll(f, &w, status);
    if (done == POLL_READY)
        f->drop(f);
    return done;
}

/* A future that must complete on its first poll: returns its status. */
static enum channel_status at_once(struct future *f)
{
    struct tracker t = {0, 0};
    enum channel_status status = CHANNEL_CLOSED;
    check(poll_by(&t, f, &status) == POLL_READY, "a future that should not wait did");
    check(atomic_load(&t.clones) == 0, "a completed future kept a waker clone");
    return status;
}

/* ===== 1. FIFO per sender ===== */

struct tagged {
    int sender;
    int seq;
};

struct fifo_log {
    int next[2]; /* per sender: the seq expected next */
    int received;
    int switches; /* how often the sender changed between two messages */
    int last_sender;
    bool in_order;
};

coroutine void fifo_sender(int id, int count, struct sender *tx)
{
    for (int seq = 0; seq < count; seq++) {
        struct tagged m = {id, seq};
        enum channel_status status = channel_send(tx, &m).wait;
        check(status == CHANNEL_OK, "fifo: a send failed");
    }
    channel_sender_drop(tx);
}

coroutine void fifo_receiver(struct receiver *rx, struct fifo_log *log)
{
    for (;;) {
        struct tagged m;
        enum channel_status status = channel_recv(rx, &m).wait;
        if (status == CHANNEL_CLOSED)
            break;
        if (m.sender < 0 || m.sender > 1 || m.seq != log->next[m.sender])
            log->in_order = false;
        else
            log->next[m.sender]++;
        if (log->received > 0 && m.sender != log->last_sender)
            log->switches++;
        log->last_sender = m.sender;
        log->received++;
    }
    channel_receiver_drop(rx);
}

coroutine void fifo_main(struct fifo_log *log)
{
    struct channel_ends ends = channel_new(sizeof(struct tagged), 3, NULL);
    executor_spawn(fifo_sender(0, 500, channel_sender_clone(ends.tx)), "sender 0");
    executor_spawn(fifo_sender(1, 500, ends.tx), "sender 1");
    executor_spawn(fifo_receiver(ends.rx, log), "receiver");
}

static void check_fifo(void)
{
    struct fifo_log log = {.in_order = true};
    executor_block_on(NULL, fifo_main(&log));
    check(log.received == 1000, "fifo: not every message arrived");
    check(log.in_order && log.next[0] == 500 && log.next[1] == 500,
          "fifo: a sender's messages arrived out of order");
    check(log.switches > 100, "fifo: the two senders' messages were not interleaved");
    printf("fifo: 2 senders x 500 messages through capacity 3, interleaved %d times: "
           "each sender's messages in the order sent\n",
           log.switches);
}

/* ===== 2. Closing: the last sender ===== */

static void check_drain_then_close(void)
{
    struct channel_ends ends = channel_new(sizeof(int), CHANNEL_UNBOUNDED, NULL);
    for (int n = 1; n <= 3; n++)
        check(at_once(channel_send(ends.tx, &n)) == CHANNEL_OK, "close: a send failed");
    channel_sender_drop(ends.tx);
    for (int n = 1; n <= 3; n++) {
        int got = 0;
        check(at_once(channel_recv(ends.rx, &got)) == CHANNEL_OK && got == n,
              "close: a queued message was lost when the last sender dropped");
    }
    int untouched = -1;
    check(at_once(channel_recv(ends.rx, &untouched)) == CHANNEL_CLOSED && untouched == -1,
          "close: recv did not end after the queue was drained");
    check(at_once(channel_recv(ends.rx, &untouched)) == CHANNEL_CLOSED,
          "close: recv after the end did not say closed again");
    channel_receiver_drop(ends.rx);
    printf("close: after the last sender dropped, recv drained the 3 queued messages, "
           "then said closed (and again)\n");
}

static void check_close_wakes_receiver(void)
{
    struct channel_ends ends = channel_new(sizeof(int), 2, NULL);
    struct sender *second = channel_sender_clone(ends.tx);
    struct tracker t = {0, 0};
    enum channel_status status;
    int n;
    struct future *recv = channel_recv(ends.rx, &n);
    check(poll_by(&t, recv, &status) == POLL_PENDING, "close: recv on an empty channel completed");
    channel_sender_drop(ends.tx);
    check(wakes(&t) == 0, "close: dropping one of two senders woke the receiver");
    check(poll_by(&t, recv, &status) == POLL_PENDING, "close: recv ended while a sender was left");
    channel_sender_drop(second);
    check(wakes(&t) == 1, "close: dropping the last sender did not wake the receiver");
    check(poll_by(&t, recv, &status) == POLL_READY && status == CHANNEL_CLOSED,
          "close: the woken receiver did not see the channel closed");
    check(atomic_load(&t.clones) == 0, "close: a waker clone was never dropped");
    channel_receiver_drop(ends.rx);
    printf("close: a sleeping recv was woken by the last sender's drop (not the one before) "
           "and said closed\n");
}

/* ===== 3. Closing: the receiver ===== */

static atomic_int strings_dropped;

static void drop_string(void *message)
{
    free(*(char **) message);
    atomic_fetch_add(&strings_dropped, 1);
}

static void check_receiver_gone(void)
{
    /* Messages that own memory: the channel frees what it was given but
       never delivered (drop_message); a refused send leaves it to the
       sender. Run under ASan, a leak either way would be reported. */
    struct channel_ends ends = channel_new(sizeof(char *), 1, drop_string);
    char *a = strdup("a"), *b = strdup("b"), *c = strdup("c");
    check(a && b && c, "out of memory");
    check(at_once(channel_send(ends.tx, &a)) == CHANNEL_OK, "closed: the first send failed");
    struct tracker t = {0, 0};
    enum channel_status status;
    struct future *waiting = channel_send(ends.tx, &b);
    check(poll_by(&t, waiting, &status) == POLL_PENDING,
          "closed: a send into a full channel completed");
    channel_receiver_drop(ends.rx);
    check(wakes(&t) == 1, "closed: dropping the receiver did not wake the waiting send");
    check(poll_by(&t, waiting, &status) == POLL_READY && status == CHANNEL_CLOSED,
          "closed: the waiting send did not fail");
    check(at_once(channel_send(ends.tx, &c)) == CHANNEL_CLOSED,
          "closed: a send after the receiver dropped did not fail");
    check(atomic_load(&strings_dropped) == 1, "closed: the queued message was not discarded");
    check(atomic_load(&t.clones) == 0, "closed: a waker clone was never dropped");
    free(b); /* refused: still ours */
    free(c);
    channel_sender_drop(ends.tx);
    printf("closed: with the receiver gone, a waiting send and a new one failed; "
           "the 1 queued message went to drop_message\n");
}

/* ===== 4. Back-pressure ===== */

struct race {
    int produced;  /* sends completed */
    int consumed;  /* messages received */
    int max_ahead; /* the most produced - consumed ever was */
    struct channel_stats stats;
};

coroutine void fast_producer(struct sender *tx, int count, struct race *race)
{
    for (int i = 0; i < count; i++) {
        enum channel_status status = channel_send(tx, &i).wait;
        check(status == CHANNEL_OK, "back-pressure: a send failed");
        race->produced++;
        if (race->produced - race->consumed > race->max_ahead)
            race->max_ahead = race->produced - race->consumed;
    }
    channel_sender_drop(tx);
}

coroutine void consumer(struct receiver *rx, struct race *race)
{
    for (;;) {
        int n;
        enum channel_status status = channel_recv(rx, &n).wait;
        if (status == CHANNEL_CLOSED)
            break;
        check(n == race->consumed, "back-pressure: a message arrived out of order");
        race->consumed++;
    }
    race->stats = channel_stats(rx);
    channel_receiver_drop(rx);
}

coroutine void race_main(size_t capacity, int count, struct race *race)
{
    struct channel_ends ends = channel_new(sizeof(int), capacity, NULL);
    executor_spawn(fast_producer(ends.tx, count, race), "producer");
    executor_spawn(consumer(ends.rx, race), "consumer");
}

static void check_back_pressure(void)
{
    struct race bounded = {0}, unbounded = {0};
    executor_block_on(NULL, race_main(4, 1000, &bounded));
    executor_block_on(NULL, race_main(CHANNEL_UNBOUNDED, 1000, &unbounded));
    check(bounded.consumed == 1000 && unbounded.consumed == 1000, "back-pressure: messages lost");
    check(bounded.max_ahead == 4 && bounded.stats.max_queued == 4,
          "back-pressure: the producer was not held at the capacity of 4");
    check(bounded.stats.send_waits > 0, "back-pressure: the producer never had to wait");
    check(unbounded.stats.send_waits == 0, "back-pressure: an unbounded send waited");
    printf("back-pressure: 1000 messages, capacity 4: the producer got at most %d ahead "
           "(%zu queued at most) and waited %zu times\n",
           bounded.max_ahead, bounded.stats.max_queued, bounded.stats.send_waits);
    printf("back-pressure: 1000 messages, unbounded: the producer got %d ahead "
           "(%zu queued at most) and never waited\n",
           unbounded.max_ahead, unbounded.stats.max_queued);
}

/* ===== 5. Cancelling a waiting send ===== */

static void check_cancel(void)
{
    struct channel_ends ends = channel_new(sizeof(int), 1, NULL);
    int a = 1, b = 2, c = 3, got = 0;
    struct tracker tb = {0, 0}, tc = {0, 0};
    enum channel_status status;
    check(at_once(channel_send(ends.tx, &a)) == CHANNEL_OK, "cancel: the first send failed");
    struct future *send_b = channel_send(ends.tx, &b);
    struct future *send_c = channel_send(ends.tx, &c);
    check(poll_by(&tb, send_b, &status) == POLL_PENDING &&
              poll_by(&tc, send_c, &status) == POLL_PENDING,
          "cancel: a send into a full channel completed");
    send_b->drop(send_b); /* b gives up before its turn */
    check(atomic_load(&tb.clones) == 0, "cancel: a dropped send kept its waker");
    check(at_once(channel_recv(ends.rx, &got)) == CHANNEL_OK && got == 1,
          "cancel: lost the first message");
    check(wakes(&tb) == 0 && wakes(&tc) == 1,
          "cancel: the freed slot did not go to the next waiting send");
    check(poll_by(&tc, send_c, &status) == POLL_READY && status == CHANNEL_OK,
          "cancel: the next send did not complete");
    check(at_once(channel_recv(ends.rx, &got)) == CHANNEL_OK && got == 3,
          "cancel: the dropped send's message was delivered, or the next one lost");

    /* The receiver's side: a recv dropped while it waits takes its waker
       with it, and the next recv takes over. */
    struct tracker tr = {0, 0};
    struct future *recv = channel_recv(ends.rx, &got);
    check(poll_by(&tr, recv, &status) == POLL_PENDING,
          "cancel: recv on an empty channel completed");
    recv->drop(recv);
    check(atomic_load(&tr.clones) == 0, "cancel: a dropped recv left its waker behind");
    check(at_once(channel_send(ends.tx, &a)) == CHANNEL_OK, "cancel: a send failed");
    check(wakes(&tr) == 0, "cancel: a send woke a recv that was dropped");
    check(at_once(channel_recv(ends.rx, &got)) == CHANNEL_OK && got == 1,
          "cancel: a new recv did not take over from the dropped one");
    channel_sender_drop(ends.tx);
    check(at_once(channel_recv(ends.rx, &got)) == CHANNEL_CLOSED, "cancel: recv did not end");
    channel_receiver_drop(ends.rx);
    printf("cancel: a waiting send dropped before its turn left the line and the freed "
           "slot went to the next; a dropped recv left no waker behind\n");
}

/* ===== 6. Waiting without spinning ===== */

static void *send_later(void *arg)
{
    struct sender *tx = arg;
    sleep_blocking_ms(50);
    int n = 7;
    check(at_once(channel_send(tx, &n)) == CHANNEL_OK, "no spinning: the late send failed");
    channel_sender_drop(tx);
    return NULL;
}

coroutine void patient(struct receiver *rx, int *got)
{
    int n;
    enum channel_status status = channel_recv(rx, &n).wait;
    *got = status == CHANNEL_OK ? n : -1;
}

static void check_no_spinning(void)
{
    struct channel_ends ends = channel_new(sizeof(int), CHANNEL_UNBOUNDED, NULL);
    pthread_t thread;
    check(pthread_create(&thread, NULL, send_later, ends.tx) == 0, "pthread_create");
    int got = 0;
    executor_block_on(NULL, patient(ends.rx, &got));
    pthread_join(thread, NULL);
    struct channel_stats stats = channel_stats(ends.rx);
    channel_receiver_drop(ends.rx);
    check(got == 7, "no spinning: the message from the other thread did not arrive");
    check(stats.recv_waits == 1, "no spinning: recv was polled again before the send woke it");
    printf("no spinning: a recv that waited 50 ms for another thread's send "
           "went to sleep %zu time\n",
           stats.recv_waits);
}

/* ===== 7. No lost wake-ups: ping-pong between two threads ===== */

#define BALLS 5000

/* Receive a ball, send the next one back, until BALLS have been played;
 * whoever receives the last one stops, and so closes the other's channel. */
coroutine void player(struct receiver *rx, struct sender *tx, bool serve, int *caught)
{
    if (serve) {
        int first = 0;
        channel_send(tx, &first).wait;
    }
    for (;;) {
        int ball;
        enum channel_status status = channel_recv(rx, &ball).wait;
        if (status == CHANNEL_CLOSED)
            break;
        check(ball % 2 == (serve ? 1 : 0), "ping-pong: a ball came back to the wrong player");
        (*caught)++;
        if (ball + 1 == BALLS)
            break;
        int next = ball + 1;
        status = channel_send(tx, &next).wait;
        check(status == CHANNEL_OK, "ping-pong: a ball could not be sent");
    }
    channel_receiver_drop(rx);
    channel_sender_drop(tx);
}

struct player_args {
    struct receiver *rx;
    struct sender *tx;
    int caught;
};

static void *play_on_thread(void *arg)
{
    struct player_args *p = arg;
    executor_block_on(NULL, player(p->rx, p->tx, true, &p->caught));
    return NULL;
}

static void check_ping_pong(void)
{
    struct channel_ends there = channel_new(sizeof(int), 1, NULL);
    struct channel_ends back = channel_new(sizeof(int), 1, NULL);
    struct player_args server = {back.rx, there.tx, 0};
    pthread_t thread;
    check(pthread_create(&thread, NULL, play_on_thread, &server) == 0, "pthread_create");
    int caught = 0;
    executor_block_on(NULL, player(there.rx, back.tx, false, &caught));
    pthread_join(thread, NULL);
    check(caught + server.caught == BALLS, "ping-pong: a ball was lost");
    printf("ping-pong: %d messages between two threads, each one waited for: "
           "no wake-up lost\n",
           BALLS);
}

/* ===== Running the checks ===== */

/* ===== Misuse that must stop at an assertion ===== */

/* Each of these breaks a rule of channel.h; the assertion that catches it
 * ends the program before it prints FAILED. */
static int misuse(const char *what)
{
    struct channel_ends ends = channel_new(sizeof(int), 1, NULL);
    int n = 1;
    if (strcmp(what, "wrong-size") == 0) {
        long big = 1;
        channel_send(ends.tx, &big); /* a long into an int channel */
    } else if (strcmp(what, "sender-in-use") == 0) {
        struct future *f = channel_send(ends.tx, &n);
        channel_sender_drop(ends.tx); /* f still borrows it */
        f->drop(f);
    } else if (strcmp(what, "two-recvs") == 0) {
        channel_recv(ends.rx, &n);
        channel_recv(ends.rx, &n); /* a second consumer */
    } else if (strcmp(what, "receiver-in-use") == 0) {
        channel_recv(ends.rx, &n);
        channel_receiver_drop(ends.rx); /* the recv still borrows it */
    } else {
        fprintf(stderr, "channel-check: unknown misuse '%s' (try --help)\n", what);
        channel_sender_drop(ends.tx);
        channel_receiver_drop(ends.rx);
        return 2;
    }
    printf("FAILED: %s was not caught\n", what);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        if (argc > 2) {
            fprintf(stderr, "channel-check: unexpected argument '%s' after --help (try --help)\n",
                    argv[2]);
            return 2;
        }
        printf(
            "usage: channel-check [--misuse wrong-size|sender-in-use|two-recvs|receiver-in-use]\n");
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "--misuse") == 0) {
        if (argc == 3)
            return misuse(argv[2]);
        fprintf(stderr, argc == 2
                            ? "channel-check: --misuse needs the name of a misuse (try --help)\n"
                            : "channel-check: one misuse at a time (try --help)\n");
        return 2;
    }
    if (argc > 1) {
        fprintf(stderr, "channel-check: unknown argument '%s' (try --help)\n", argv[1]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    check_fifo();
    check_drain_then_close();
    check_close_wakes_receiver();
    check_receiver_gone();
    check_back_pressure();
    check_cancel();
    check_no_spinning();
    check_ping_pong();
    printf("all checks passed\n");
    return 0;
}
