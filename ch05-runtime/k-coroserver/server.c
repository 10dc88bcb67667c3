/* server.c: the delay server as coroutines on the runtime of this chapter
 * (server.h is the contract; main.c, route.c and http.c are delayserver/'s,
 * byte for byte). Where delayserver/server.c keeps a state machine per
 * connection and one loop that moves them all, here each connection is a
 * task whose coroutine reads like the protocol. ch05-runtime step k.
 *
 * This is corofy's input: `make` turns the `coroutine` functions into state
 * machines in server_corofied.c, which is what gets compiled.
 * Sections: Limits, The server, Connections, One connection, Accepting,
 * Serving, Setup and teardown. */
/* corofy: waker */
#include "server.h"

#include <assert.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../common/alloc.h"
#include "../../common/args.h"
#include "../../common/clock.h"
#include "../../common/errors.h"
#include "../../common/trace.h"
#include "executor.h"
#include "future.h"
#include "http.h"
#include "race.h"
#include "reactor.h"
#include "route.h"
#include "scope.h"
#include "signals.h"
#include "tcp.h"
#include "timer.h"

/* ===== Limits ===== */

#define IN_FIRST 1024       /* first size of an input buffer; it doubles up to ROUTE_HEAD_MAX */
#define ACCEPT_BATCH 64     /* connections accepted in a row before the others get a turn */
#define ACCEPT_RETRY_MS 100 /* out of descriptors: how long to stop accepting */
#define FAIR_SHARE 16       /* answers on one connection in a row before the others get a turn */
#define TRIM_BURST 256      /* give memory back once this many have closed since the peak */
#define MAX_THREADS 64      /* COROSERVER_THREADS: more is surely a typo */
#define NS_PER_MS 1000000ull

/* ===== The server ===== */

/* An executor and what its connections share, one parse and one date at a
 * time: only the tasks of this executor touch it, on its thread. */
struct worker {
    struct executor *executor;
    pthread_t thread;            /* the thread that runs it (all but the first) */
    struct http_header *headers; /* ROUTE_MAX_HEADERS slots, route_next()'s scratch */
    time_t date_time;            /* the second that `date` shows */
    char date[HTTP_DATE_SIZE];   /* the Date header, formatted once a second */
};

struct server {
    const struct server_options *options;
    struct tcp_listener *listener;
    struct signals *signals;   /* SIGINT and SIGTERM */
    struct scope *connections; /* every connection's task */
    struct worker *workers;    /* workers[0] runs on the thread of server_run() */
    size_t worker_count;       /* COROSERVER_THREADS, default 1 */
    size_t accepted; /* connections so far: the next one goes to workers[accepted % worker_count] */
    pthread_mutex_t lock; /* guards the log and the counts below */
    uint64_t requests;    /* valid requests so far: the n of "#n" in the log */
    size_t open, peak;    /* connections open now, and the most since memory went back */
};

/* ===== Connections ===== */

struct conn {
    struct server *server;
    struct worker *worker;             /* whose executor runs this connection */
    struct tcp_stream *stream;         /* the client's socket */
    char *in;                          /* bytes received (malloc'd at the first read) */
    size_t in_start;                   /* in[in_start..in_len) is not parsed yet */
    size_t in_len;                     /* bytes in `in` */
    size_t in_cap;                     /* its size: IN_FIRST, doubling up to ROUTE_HEAD_MAX */
    struct route answer;               /* the verdict being answered (its body is ours) */
    char head[ROUTE_ANSWER_HEAD_SIZE]; /* its status line and headers */
};

static uint64_t idle_deadline(const struct conn *c)
{
    return now_ns() + c->server->options->idle_timeout_ms * NS_PER_MS;
}

/* The Date header's value, formatted again only when the second changes. */
static const char *date_now(struct worker *w)
{
    time_t t = time(NULL);
    if (t != w->date_time) {
        http_format_date(t, w->date);
        w->date_time = t;
    }
    return w->date;
}

/* Make room in c->in for more bytes: drop the requests already taken, and
 * grow the buffer when it is full. 0, or -ENOMEM. */
static int make_room(struct conn *c)
{
    if (c->in_start > 0) {
        memmove(c->in, c->in + c->in_start, c->in_len - c->in_start);
        c->in_len -= c->in_start;
        c->in_start = 0;
    }
    if (c->in_len < c->in_cap)
        return 0;
    /* Fewer than ROUTE_HEAD_MAX bytes wait to be parsed here (a full
       buffer is answered with 431), so growing always makes room. */
    size_t cap = c->in_cap == 0 ? IN_FIRST : 2 * c->in_cap;
    if (cap > ROUTE_HEAD_MAX)
        cap = ROUTE_HEAD_MAX;
    assert(cap > c->in_len);
    char *in = realloc(c->in, cap);
    if (in == NULL)
        return -ENOMEM;
    c->in = in;
    c->in_cap = cap;
    return 0;
}

/* Count and log a 200 verdict; returns when its answer is due. */
static uint64_t log_request(struct conn *c)
{
    struct server *s = c->server;
    pthread_mutex_lock(&s->lock);
    uint64_t n = ++s->requests;
    if (!s->options->quiet)
        route_log(stdout, n, &c->answer);
    pthread_mutex_unlock(&s->lock);
    return now_ns() + c->answer.delay_ms * NS_PER_MS / s->options->speedup;
}

/* The answer, its head (with today's date) and body in one write, within
 * the idle timeout. A plain function that returns a future: it waits for
 * nothing itself, so it needs no coroutine. */
static struct future *send_answer(struct conn *c)
{
    size_t head_len = route_answer_head(&c->answer, date_now(c->worker), c->head);
    struct iovec iov[2] = {{c->head, head_len}, {c->answer.body, route_body_to_send(&c->answer)}};
    return timeout_at(tcp_write(c->stream, iov, 2), idle_deadline(c));
}

/* When a burst of connections has drained, free() alone would keep their
 * memory: glibc shrinks a heap only from its top, and one block that lives
 * on above the freed ones pins them all. malloc_trim() hands the free pages
 * in the middle back too (of every thread's heap). It walks the heaps and
 * holds each while it does: with 5,000 connections still open that took 50
 * to 120 ms here, during which every task of the executor waited (a blocking
 * call, step j would say, and one that spawn_blocking cannot cure: it
 * locks the heap the executor allocates from). So it runs only once most of
 * a burst has gone: at least TRIM_BURST connections, and all but an eighth
 * of the peak. */
static void count_connection(struct server *s, bool opened)
{
    pthread_mutex_lock(&s->lock);
    if (opened && ++s->open > s->peak)
        s->peak = s->open;
    bool drained = !opened && --s->open <= s->peak / 8 && s->peak - s->open >= TRIM_BURST;
    if (drained)
        s->peak = s->open;
    pthread_mutex_unlock(&s->lock);
    if (drained)
        malloc_trim(0);
}

/* The scope's cleanup for a connection, after its task's future (and so
 * every future it was waiting for) has been dropped: close the socket,
 * which also takes it out of the reactor, and free the rest. */
static void conn_free(void *arg)
{
    struct conn *c = arg;
    struct server *s = c->server;
    tcp_stream_close(c->stream);
    route_free(&c->answer);
    free(c->in);
    free(c);
    count_connection(s, false);
}

/* ===== One connection ===== */

/* Take the next request out of what the client sent, reading more until a
 * whole request head is in, within the idle timeout. 0: c->answer holds
 * the verdict (a 200, an error, or a 408 for part of a request); below 0:
 * just hang up (the client left, or said nothing; or we are out of memory). */
coroutine int read_request(struct conn *c)
{
    const struct server_options *o = c->server->options;
    uint64_t deadline = idle_deadline(c);
    for (;;) {
        if (c->in_start < c->in_len) {
            ssize_t taken = route_next(c->in + c->in_start, c->in_len - c->in_start,
                                       o->max_delay_ms, c->worker->headers, &c->answer);
            if (taken < 0)
                return -1;
            if (taken > 0) {
                c->in_start += (size_t) taken;
                return 0;
            }
        }
        if (make_room(c) < 0)
            return -1;
        size_t room = c->in_cap - c->in_len;
        ssize_t n = timeout_at(tcp_read(c->stream, c->in + c->in_len, room), deadline).wait;
        if (n == -ETIMEDOUT && c->in_start == c->in_len)
            return -1;       /* it said nothing (or nothing more): just hang up */
        if (n == -ETIMEDOUT) /* part of a request, and then nothing: 408 */
            return route_timeout(c->in + c->in_start, c->in_len - c->in_start, o->idle_timeout_ms,
                                 &c->answer);
        if (n <= 0)
            return -1; /* end of stream or a reset: a half-sent request gets no answer */
        c->in_len += (size_t) n;
    }
}

/* The last answer is out and the connection ends. Closing a socket that
 * still has unread input makes the kernel send a reset, and a reset can
 * destroy an answer the client has not read yet. So if the client has sent
 * nothing more, return (the cleanup closes at once); otherwise shut our
 * sending side, so the client sees the answer end, and read until the
 * client closes too, or the idle timeout. Errors always linger: their
 * client may still be sending. */
coroutine void linger(struct conn *c)
{
    if (c->answer.status == 200 && c->in_start == c->in_len && tcp_nothing_unread(c->stream))
        return;
    if (tcp_shutdown_write(c->stream) < 0)
        return;
    uint64_t deadline = idle_deadline(c);
    c->in_start = c->in_len = 0;
    ssize_t n = 1;
    while (n > 0 && make_room(c) == 0) {
        n = timeout_at(tcp_read(c->stream, c->in, c->in_cap), deadline).wait;
    }
}

/* The protocol, as it reads: take a request, wait for its delay, send the
 * answer, and again while the client keeps the connection open. Returning
 * ends the connection: the scope's cleanup (conn_free) closes it. */
coroutine void serve_connection(struct conn *c)
{
    for (unsigned answered = 1;; answered++) {
        int got = read_request(c).wait;
        if (got < 0)
            return;
        if (c->answer.status == 200) {
            uint64_t due = log_request(c);
            if (due > now_ns()) {
                ssize_t left = timeout_at(tcp_hangup(c->stream), due).wait;
                if (left != -ETIMEDOUT)
                    return; /* the client hung up before its answer was due */
            }
        }
        ssize_t sent = send_answer(c).wait;
        route_free(&c->answer); /* its status and keep_alive stay for what follows */
        if (sent < 0)
            return; /* the client left, or stopped reading for the idle timeout */
        if (!c->answer.keep_alive) {
            linger(c).wait;
            return;
        }
        if (answered % FAIR_SHARE == 0)
            yield_now().wait; /* a client that never makes us wait does not keep the thread */
    }
}

/* ===== Accepting ===== */

/* A new client: its task, on the next worker in turn. On any failure the
 * socket is closed and the client sees the connection end without an
 * answer. */
static void start_connection(struct server *s, int fd)
{
    struct conn *c = calloc(1, sizeof *c);
    struct tcp_stream *stream = c != NULL ? tcp_stream_new(fd) : NULL;
    if (stream == NULL) {
        free(c);
        close(fd);
        return;
    }
    size_t n = s->accepted++;
    c->server = s;
    c->stream = stream;
    c->worker = &s->workers[n % s->worker_count];
    count_connection(s, true);
#ifdef BUG_NO_CLEANUP /* exercise 1 (README.md): nobody closes the socket */
    (void) conn_free;
    scope_spawn(s->connections, c->worker->executor, serve_connection(c), NULL, c, "connection %zu",
                n + 1);
#else
    scope_spawn(s->connections, c->worker->executor, serve_connection(c), conn_free, c,
                "connection %zu", n + 1);
#endif
}

/* accept(2): these errors belong to the one client that caused them. */
static bool client_error(int err)
{
    switch (-err) {
    case ECONNABORTED: /* that client gave up already */
    case EPROTO:
    case EPERM:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
        return true;
    default:
        return false;
    }
}

/* Out of descriptors (or memory), the waiting client stays in the
 * kernel's queue, and accepting again at once would spin: wait a while. */
coroutine void accept_connections(struct server *s)
{
    for (unsigned accepted = 1;; accepted++) {
        int fd = tcp_accept(s->listener).wait;
        if (fd >= 0) {
            start_connection(s, fd);
        } else if (!client_error(fd)) {
            if (fd != -EMFILE && fd != -ENFILE && fd != -ENOBUFS && fd != -ENOMEM)
                fprintf(stderr, "%s: accept: %s\n", program_invocation_short_name, strerror(-fd));
            timer_sleep_ms(ACCEPT_RETRY_MS).wait;
        }
        if (accepted % ACCEPT_BATCH == 0)
            yield_now().wait; /* a flood of clients does not starve the connections */
    }
}

/* ===== Serving ===== */

/* Accept clients until a stop signal comes; then close every connection:
 * each task is aborted, each future dropped, each socket closed. */
coroutine void serve(struct server *s)
{
    race(accept_connections(s), NULL, signals_next(s->signals), NULL).wait;
    scope_close(s->connections).wait;
}

/* ===== Setup and teardown ===== */

static void *run_worker(void *arg)
{
    executor_run(arg);
    return NULL;
}

/* COROSERVER_THREADS: how many executors (threads) serve connections. The
 * command line is delayserver's, so the number comes from the environment.
 * 0 or -1 (after one line on stderr). */
static int threads_from_environment(size_t *count)
{
    const char *text = getenv("COROSERVER_THREADS");
    unsigned long long n = 1;
    if (text != NULL && parse_count(text, 1, MAX_THREADS, &n) < 0) {
        fprintf(stderr, "%s: COROSERVER_THREADS wants a whole number from 1 to %d, not '%s'\n",
                program_invocation_short_name, MAX_THREADS, text);
        return -1;
    }
    *count = (size_t) n;
    return 0;
}

/* Print "<program>: <what>: <strerror(-err)>" and return 1. */
static int failed(const char *what, int err)
{
    fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what, strerror(-err));
    return 1;
}

/* Listen. 0, or 1 after a line on stderr. */
static int open_listener(struct server *s)
{
    const struct server_options *o = s->options;
    int err = tcp_listen(o->host, o->port, &s->listener);
    if (err < 0) {
        fprintf(stderr, "%s: cannot listen on %s:%u: %s\n", program_invocation_short_name, o->host,
                o->port, strerror(-err));
        return 1;
    }
    return 0;
}

/* The first line on stdout, once everything is ready: whoever reads it may
 * connect, count our descriptors, or send a signal at once. */
static void announce(struct server *s)
{
    char address[80];
    int err = tcp_listener_address(s->listener, address, sizeof address);
    if (err < 0)
        die("getsockname: %s", strerror(-err));
    printf("delayserver listening on %s\n", address);
    fflush(stdout);
}

/* Run `s` on its workers: workers[0] here, with the serving task; every
 * other one on a thread of its own. Returns when the serving task and
 * every connection have finished. */
static void run_workers(struct server *s)
{
    for (size_t i = 0; i < s->worker_count; i++) {
        struct worker *w = &s->workers[i];
        char name[32] = "main";
        if (i > 0)
            snprintf(name, sizeof name, "exec-%zu", i);
        w->executor = executor_new(name);
        w->headers = xcalloc(ROUTE_MAX_HEADERS, sizeof *w->headers);
        if (i > 0)
            check_pthread(pthread_create(&w->thread, NULL, run_worker, w->executor),
                          "pthread_create");
    }
    struct executor *first = s->workers[0].executor;
    join_detach(executor_spawn_on(first, serve(s), 0, "serve"));
    executor_shutdown(first); /* run returns once serve() and its connections are done */
    executor_run(first);
    for (size_t i = 0; i < s->worker_count; i++) {
        struct worker *w = &s->workers[i];
        if (i > 0) {
            executor_shutdown(w->executor);
            check_pthread(pthread_join(w->thread, NULL), "pthread_join");
        }
        executor_free(w->executor);
        free(w->headers);
    }
}

int server_run(const struct server_options *options)
{
    struct server s = {.options = options};
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    /* Block the stop signals before any thread starts, so that they reach
       the signalfd, and every thread inherits the mask. Answers are sent
       with MSG_NOSIGNAL, but the log is written to stdout: if its reader
       goes away, that write should fail, not kill us. */
    int err = signals_block(&stop);
    if (err < 0)
        return failed("pthread_sigmask", err);
    signal(SIGPIPE, SIG_IGN);
    if (threads_from_environment(&s.worker_count) < 0 || open_listener(&s) != 0)
        return 1;
    if ((err = signals_open(&stop, &s.signals)) < 0) {
        tcp_listener_close(s.listener);
        return failed("signalfd", err);
    }
    /* One executor sleeps in the reactor itself; several share a reactor
       thread (reactor.h, "Without a thread"). */
    trace_thread("main"); /* timer_start() registers before executor_run() names it */
    err = s.worker_count == 1 ? reactor_open() : reactor_start();
    if (err < 0 || (err = timer_start(TIMER_HEAP)) < 0)
        die("cannot start the runtime: %s", strerror(-err));
    check_pthread(pthread_mutex_init(&s.lock, NULL), "pthread_mutex_init");
    s.connections = scope_new();
    s.workers = xcalloc(s.worker_count, sizeof *s.workers);
    announce(&s);

    run_workers(&s);

    /* Every connection is closed and every task gone: deregister what is
       left, before the reactor stops. */
    tcp_listener_close(s.listener);
    signals_close(s.signals);
    timer_stop();
    if (reactor_has_thread())
        reactor_stop();
    else
        reactor_close();
    pthread_mutex_destroy(&s.lock);
    free(s.workers);
    return 0;
}
