/* rt.c: the ch05 runtime side of bench/runtime. One run of one workload
 * per process, so each peak RSS is its own:
 *
 *   rt-e spawn N    N trivial tasks spawned from a main task (step c's
 *                   executor; steps d, e and h carry it unchanged)
 *   rt-e wake N     ping-pong between tasks on two executors on two threads
 *                   (step d): N wakes, each timed from waker_wake to the poll
 *   rt-e sleeps N   N concurrent timer_sleep_ms() on step e's heap backend
 *   rt-e echo N     N 64-byte round trips over 127.0.0.1, both ends being
 *                   small futures of ours on step c's reactor thread
 *   rt-b spawn N, rt-b echo N: the same on step b's executor, which sleeps
 *                   in the reactor itself (one thread, -DSTEP_B)
 *   rt-f spawn N, rt-f wake N: the same on step f's executor (join handles,
 *                   the task state in one atomic word, -DSTEP_F)
 *
 * rt-e is built from ch05-runtime/e-timers, rt-b from b-executor, rt-f from
 * f-join; run builds all three. Prints one line of key=value pairs. */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/epoll.h>

#include "common.h"
#include "executor.h"
#include "future.h"
#ifndef STEP_F
#include "reactor.h"
#endif
#if !defined(STEP_F) && !defined(STEP_B)
#include "timer.h"
#endif

/* The one API difference between the executors: step f's spawn returns a
 * join handle, which we detach (the task runs on; nobody awaits it). The
 * tasks have no name (NULL): a trace would call them "task <n>". */
static void spawn(struct future *f)
{
#ifdef STEP_F
    join_detach(executor_spawn(f, 0, NULL));
#else
    executor_spawn(f, NULL);
#endif
}

/* Start and stop the reactor: step b's runs on the executor's own thread
 * (opened, not started), step f's executor needs none for spawn and wake. */
static void reactor_up(void)
{
#if defined(STEP_B)
    if (reactor_open() != 0)
        die("cannot open the reactor");
#elif !defined(STEP_F)
    if (reactor_start() != 0)
        die("cannot start the reactor");
#endif
}

static void reactor_down(void)
{
#if defined(STEP_B)
    reactor_close();
#elif !defined(STEP_F)
    reactor_stop();
#endif
}

static size_t count; /* N from the command line */

/* ===== spawn: a million trivial tasks ===== */

/* A future that is READY at its first poll. Each task gets its own (malloc'd,
 * freed by drop) as a real task's state would be. */
static enum poll_status trivial_poll(struct future *self, const struct waker *waker, void *output)
{
    (void) self, (void) waker, (void) output;
    return POLL_READY;
}

static void trivial_drop(struct future *self)
{
    free(self);
}

static struct future *trivial(void)
{
    struct future *f = xcalloc(1, sizeof *f);
    *f = (struct future){.poll = trivial_poll, .drop = trivial_drop};
    return f;
}

/* The main task: spawns n futures made by `make`, then is done. The
 * executor returns from block_on once every one of them has finished. */
struct spawner {
    struct future base;
    struct future *(*make)(size_t i);
    size_t n;
};

static enum poll_status spawner_poll(struct future *self, const struct waker *waker, void *output)
{
    (void) waker, (void) output;
    struct spawner *s = (struct spawner *) self;
    for (size_t i = 0; i < s->n; i++)
        spawn(s->make(i));
    return POLL_READY;
}

static void spawner_drop(struct future *self)
{
    free(self);
}

static struct future *spawner(struct future *(*make)(size_t i), size_t n)
{
    struct spawner *s = xcalloc(1, sizeof *s);
    s->base = (struct future){.poll = spawner_poll, .drop = spawner_drop};
    s->make = make;
    s->n = n;
    return &s->base;
}

static struct future *make_trivial(size_t i)
{
    (void) i;
    return trivial();
}

static void bench_spawn(void)
{
    reactor_up();
    struct span s = span_begin();
    executor_block_on("main", spawner(make_trivial, count));
    span_report(&s, count);
    reactor_down();
}

#ifndef STEP_B /* step b has one executor, on one thread */
/* ===== wake: ping-pong between two executors on two threads =====
 *
 * Each side has a mailbox. A side's task parks by leaving a waker clone in
 * its own box and returning PENDING; the other side drops a message in
 * and wakes that waker, stamping the time just before waker_wake(). The
 * woken task's next poll reads the clock again: the difference is one
 * wake-to-poll latency (the woken executor was asleep on its condition
 * variable, on another thread). Hops strictly alternate, so `hops`, `lat`
 * and `finished` are only touched by one thread at a time, handed over
 * through the box locks. */

struct mailbox {
    pthread_mutex_t lock;
    bool full;          /* a message waits (lock) */
    uint64_t sent_ns;   /* when it was sent (lock) */
    struct waker waker; /* the parked task, or empty (lock) */
};

static struct mailbox boxes[2] = {
    {.lock = PTHREAD_MUTEX_INITIALIZER},
    {.lock = PTHREAD_MUTEX_INITIALIZER},
};
static size_t hops, total_hops;
static uint64_t *lat; /* wake-to-poll, one per counted hop */
static bool finished;
static uint64_t first_counted_ns, last_ns; /* for the mean: RTT / 2 */

static void send_to(struct mailbox *box)
{
    pthread_mutex_lock(&box->lock);
    struct waker w = box->waker;
    box->waker = (struct waker){NULL, NULL};
    box->full = true;
    box->sent_ns = now_ns();
    pthread_mutex_unlock(&box->lock);
    if (w.vtable != NULL) /* NULL only if the other side is not parked yet */
        waker_wake(&w);
}

static void park(struct mailbox *box, const struct waker *waker)
{
    pthread_mutex_lock(&box->lock);
    if (box->waker.vtable == NULL)
        box->waker = waker_clone(waker);
    pthread_mutex_unlock(&box->lock);
}

struct pinger {
    struct future base;
    int side; /* 0 serves first */
    bool started;
};

static enum poll_status pinger_poll(struct future *self, const struct waker *waker, void *output)
{
    (void) output;
    struct pinger *p = (struct pinger *) self;
    struct mailbox *mine = &boxes[p->side], *other = &boxes[1 - p->side];
    if (!p->started) {
        p->started = true;
        if (p->side == 0) {
            park(mine, waker);
            send_to(other);
            return POLL_PENDING;
        }
    }
    pthread_mutex_lock(&mine->lock);
    if (!mine->full) { /* polled before the message came: park */
        if (mine->waker.vtable == NULL)
            mine->waker = waker_clone(waker);
        pthread_mutex_unlock(&mine->lock);
        return POLL_PENDING;
    }
    mine->full = false;
    uint64_t sent = mine->sent_ns;
    pthread_mutex_unlock(&mine->lock);
    uint64_t t = now_ns();
    if (finished)
        return POLL_READY;
    if (hops == WAKE_WARMUP)
        first_counted_ns = sent;
    if (hops >= WAKE_WARMUP)
        lat[hops - WAKE_WARMUP] = t - sent;
    if (++hops == total_hops) {
        last_ns = t;
        finished = true;
        send_to(other); /* lets the other side finish too */
        return POLL_READY;
    }
    park(mine, waker);
    send_to(other);
    return POLL_PENDING;
}

static void pinger_drop(struct future *self)
{
    free(self);
}

static struct future *pinger(int side)
{
    struct pinger *p = xcalloc(1, sizeof *p);
    p->base = (struct future){.poll = pinger_poll, .drop = pinger_drop};
    p->side = side;
    return &p->base;
}

static void *side_b(void *unused)
{
    (void) unused;
    executor_block_on("B", pinger(1));
    return NULL;
}

static void bench_wake(void)
{
    total_hops = count + WAKE_WARMUP;
    lat = xcalloc(count, sizeof *lat);
    pthread_t b;
    if (pthread_create(&b, NULL, side_b, NULL) != 0)
        die("pthread_create failed");
    executor_block_on("A", pinger(0));
    pthread_join(b, NULL);
    for (int i = 0; i < 2; i++)
        assert(boxes[i].waker.vtable == NULL);
    latency_report(lat, count, last_ns - first_counted_ns);
    free(lat);
}
#endif

#if !defined(STEP_F) && !defined(STEP_B)
/* ===== sleeps: N concurrent timer_sleep_ms on the heap backend ===== */

static struct future *make_sleep(size_t i)
{
    return timer_sleep_ms(SLEEP_MS(i));
}

static void bench_sleeps(void)
{
    if (reactor_start() != 0 || timer_start(TIMER_HEAP) != 0)
        die("cannot start the reactor or the timers");
    struct span s = span_begin();
    executor_block_on("main", spawner(make_sleep, count));
    span_report(&s, count);
    timer_stop();
    reactor_stop();
    if (timer_failed())
        die("a sleep failed");
}
#endif

#ifndef STEP_F

/* ===== echo: a TCP ping-pong through the reactor =====
 *
 * The runtime has no accept or listen future, so the connection is made with
 * plain blocking calls before the clock starts; then both ends are
 * non-blocking sockets driven by two leaf futures written here the way
 * reactor.h says: register on the first poll, hand over the waker on every
 * poll, do I/O until EAGAIN. */

struct echo_end {
    struct future base;
    int fd;
    uint64_t token;
    bool registered;
    bool client;             /* the side that pings (else echoes) */
    size_t rounds;           /* client: round trips done */
    size_t out_len, out_off; /* bytes of buf still to write */
    size_t got;              /* client: bytes of the answer so far */
    char buf[ECHO_MSG];
};

static void echo_close(struct echo_end *e)
{
    reactor_deregister(e->fd, e->token);
    close(e->fd);
    e->fd = -1;
}

static enum poll_status echo_poll(struct future *self, const struct waker *waker, void *output)
{
    (void) output;
    struct echo_end *e = (struct echo_end *) self;
    if (!e->registered) {
        if (reactor_register(e->fd, EPOLLIN | EPOLLOUT, waker, &e->token) != 0)
            die("reactor_register failed");
        e->registered = true;
    } else {
        reactor_set_waker(e->token, waker);
    }
    for (;;) {
        if (e->out_off < e->out_len) {
            ssize_t n = write(e->fd, e->buf + e->out_off, e->out_len - e->out_off);
            if (n < 0 && errno == EAGAIN)
                return POLL_PENDING;
            if (n < 0 && errno != EINTR)
                die("echo: write failed");
            e->out_off += n > 0 ? (size_t) n : 0;
            continue;
        }
        size_t want = e->client ? ECHO_MSG - e->got : ECHO_MSG;
        ssize_t n = read(e->fd, e->buf + (e->client ? e->got : 0), want);
        if (n < 0 && errno == EAGAIN)
            return POLL_PENDING;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("echo: read failed");
        if (n == 0) { /* the client hung up: the server is done */
            if (e->client)
                die("echo: the server hung up");
            echo_close(e);
            return POLL_READY;
        }
        if (!e->client) { /* echo back what came */
            e->out_len = (size_t) n;
            e->out_off = 0;
            continue;
        }
        e->got += (size_t) n;
        if (e->got < ECHO_MSG)
            continue;
        if (++e->rounds == count) {
            echo_close(e);
            return POLL_READY;
        }
        e->got = 0; /* the answer is the next ping */
        e->out_len = ECHO_MSG;
        e->out_off = 0;
    }
}

static void echo_drop(struct future *self)
{
    free(self);
}

static struct future *echo_end(int fd, bool client)
{
    struct echo_end *e = xcalloc(1, sizeof *e);
    e->base = (struct future){.poll = echo_poll, .drop = echo_drop};
    e->fd = fd;
    e->client = client;
    if (client) {
        memset(e->buf, 'x', sizeof e->buf);
        e->out_len = ECHO_MSG; /* the first ping */
    }
    return &e->base;
}

static int echo_fds[2]; /* client, server */

static struct future *make_echo_end(size_t i)
{
    return echo_end(echo_fds[i], i == 0);
}

static void bench_echo(void)
{
    tcp_pair(echo_fds);
    reactor_up();
    struct span s = span_begin();
    executor_block_on("main", spawner(make_echo_end, 2)); /* the two ends */
    span_report(&s, count);
    reactor_down();
}
#endif

int main(int argc, char **argv)
{
    if (argc != 3 || (count = strtoul(argv[2], NULL, 10)) == 0) {
        fprintf(stderr, "usage: %s spawn|wake|sleeps|echo N\n", argv[0]);
        return 2;
    }
    results_open();
    if (strcmp(argv[1], "spawn") == 0)
        bench_spawn();
#ifndef STEP_B
    else if (strcmp(argv[1], "wake") == 0)
        bench_wake();
#endif
#if !defined(STEP_F) && !defined(STEP_B)
    else if (strcmp(argv[1], "sleeps") == 0)
        bench_sleeps();
#endif
#ifndef STEP_F
    else if (strcmp(argv[1], "echo") == 0)
        bench_echo();
#endif
    else
        die("unknown workload");
    fprintf(results, "\n");
    fclose(results);
    return 0;
}
