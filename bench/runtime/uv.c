/* uv.c: the peers of bench/runtime: libuv doing what rt.c
 * does with the ch05 runtime, and a plain epoll loop as the floor for the
 * echo. One run of one workload per process; prints one line of key=value.
 *
 *   uv spawn N       N uv_idle_t handles started from a main callback; each
 *                    callback stops its handle and closes it (close_cb frees)
 *   uv wake N        ping-pong of uv_async_send between two loops on two
 *                    threads: N wakes, each timed from the send to the callback
 *   uv sleeps N      N concurrent uv_timer_t, the same deadlines as rt-d
 *   uv echo N        N 64-byte round trips over 127.0.0.1, uv_tcp both ends
 *   uv echo-epoll N  the same with two sockets in one level-triggered epoll
 *                    loop on one thread (ch02 style, no library at all) */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <uv.h>

#include "common.h"

static size_t count; /* N from the command line */
static uv_loop_t *loop;

static void free_on_close(uv_handle_t *h)
{
    free(h);
}

/* ===== spawn: a million idle handles =====
 *
 * libuv has no tasks. The nearest thing to "spawn a future that is ready at
 * once" is a handle whose callback the loop runs on its next turn: an idle
 * handle (a check or prepare handle would behave the same). Like a ch05
 * task it is one allocation per unit of work, queued on the loop, run once,
 * then released; unlike a task it has no waker, no reference count and no
 * lock, because libuv handles belong to one thread. */

static void trivial_cb(uv_idle_t *h)
{
    uv_idle_stop(h);
    uv_close((uv_handle_t *) h, free_on_close);
}

static void spawn_main_cb(uv_idle_t *main_handle)
{
    uv_idle_stop(main_handle);
    uv_close((uv_handle_t *) main_handle, NULL);
    for (size_t i = 0; i < count; i++) {
        uv_idle_t *h = xcalloc(1, sizeof *h);
        uv_idle_init(loop, h);
        uv_idle_start(h, trivial_cb);
    }
}

static void bench_spawn(void)
{
    static uv_idle_t main_handle;
    struct span s = span_begin();
    uv_idle_init(loop, &main_handle);
    uv_idle_start(&main_handle, spawn_main_cb);
    uv_run(loop, UV_RUN_DEFAULT);
    span_report(&s, count);
}

/* ===== wake: uv_async_send ping-pong between two loops =====
 *
 * Each side is a loop on its own thread with one async handle. A side's
 * callback stamps the time and uv_async_send()s the other side; the other
 * side's callback reads the clock: the difference is one wake-to-callback
 * latency (the woken loop was asleep in epoll_wait). Hops strictly
 * alternate, so the plain variables are handed over by the send. */

struct side {
    uv_loop_t loop;
    uv_async_t async;
};

static struct side sides[2];
static _Atomic uint64_t sent_ns;
static size_t hops, total_hops;
static uint64_t *lat;
static bool finished;
static uint64_t first_counted_ns, last_ns;

static void send_to(struct side *other)
{
    atomic_store(&sent_ns, now_ns());
    uv_async_send(&other->async);
}

static void async_cb(uv_async_t *h)
{
    uint64_t t = now_ns();
    struct side *me = h->data, *other = &sides[me == &sides[0] ? 1 : 0];
    uint64_t sent = atomic_load(&sent_ns);
    if (finished) {
        uv_close((uv_handle_t *) h, NULL);
        return;
    }
    if (hops == WAKE_WARMUP)
        first_counted_ns = sent;
    if (hops >= WAKE_WARMUP)
        lat[hops - WAKE_WARMUP] = t - sent;
    if (++hops == total_hops) {
        last_ns = t;
        finished = true;
        send_to(other); /* lets the other side close too */
        uv_close((uv_handle_t *) h, NULL);
        return;
    }
    send_to(other);
}

static void *run_side_b(void *unused)
{
    (void) unused;
    uv_run(&sides[1].loop, UV_RUN_DEFAULT);
    return NULL;
}

static void bench_wake(void)
{
    total_hops = count + WAKE_WARMUP;
    lat = xcalloc(count, sizeof *lat);
    for (int i = 0; i < 2; i++) {
        if (uv_loop_init(&sides[i].loop) != 0 ||
            uv_async_init(&sides[i].loop, &sides[i].async, async_cb) != 0)
            die("cannot set up the libuv loops");
        sides[i].async.data = &sides[i];
    }
    pthread_t b;
    if (pthread_create(&b, NULL, run_side_b, NULL) != 0)
        die("pthread_create failed");
    send_to(&sides[1]); /* the first serve, from outside any loop */
    uv_run(&sides[0].loop, UV_RUN_DEFAULT);
    pthread_join(b, NULL);
    for (int i = 0; i < 2; i++)
        uv_loop_close(&sides[i].loop);
    latency_report(lat, count, last_ns - first_counted_ns);
    free(lat);
}

/* ===== sleeps: N concurrent timers ===== */

static void timer_cb(uv_timer_t *h)
{
    uv_close((uv_handle_t *) h, free_on_close);
}

static void sleeps_main_cb(uv_idle_t *main_handle)
{
    uv_idle_stop(main_handle);
    uv_close((uv_handle_t *) main_handle, NULL);
    for (size_t i = 0; i < count; i++) {
        uv_timer_t *t = xcalloc(1, sizeof *t);
        uv_timer_init(loop, t);
        uv_timer_start(t, timer_cb, SLEEP_MS(i), 0);
    }
}

static void bench_sleeps(void)
{
    static uv_idle_t main_handle;
    struct span s = span_begin();
    uv_idle_init(loop, &main_handle);
    uv_idle_start(&main_handle, sleeps_main_cb);
    uv_run(loop, UV_RUN_DEFAULT);
    span_report(&s, count);
}

/* ===== echo: uv_tcp ping-pong ===== */

static uv_tcp_t listener, server_conn, client;
static uv_connect_t connect_req;
static uv_write_t server_write, client_write;
static char server_buf[ECHO_MSG], client_buf[ECHO_MSG], ping[ECHO_MSG];
static size_t client_got, rounds;
static struct span echo_span;

static void server_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void) h, (void) suggested;
    *buf = uv_buf_init(server_buf, sizeof server_buf);
}

static void client_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void) h, (void) suggested;
    *buf = uv_buf_init(client_buf + client_got, (unsigned) (ECHO_MSG - client_got));
}

static void write_done(uv_write_t *req, int status)
{
    (void) req;
    if (status < 0)
        die("uv echo: write failed");
}

/* One message is in flight at a time, so the write of server_buf is done
 * (in the kernel) before the next ping can arrive and overwrite it. */
static void server_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    if (nread == UV_EOF) {
        uv_close((uv_handle_t *) stream, NULL);
        return;
    }
    if (nread < 0)
        die("uv echo: server read failed");
    if (nread == 0)
        return;
    uv_buf_t out = uv_buf_init(buf->base, (unsigned) nread);
    uv_write(&server_write, stream, &out, 1, write_done);
}

static void send_ping(void)
{
    uv_buf_t out = uv_buf_init(ping, sizeof ping);
    uv_write(&client_write, (uv_stream_t *) &client, &out, 1, write_done);
}

static void client_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    (void) buf;
    if (nread < 0)
        die("uv echo: client read failed");
    client_got += (size_t) nread;
    if (client_got < ECHO_MSG)
        return;
    client_got = 0;
    if (++rounds == count) {
        span_report(&echo_span, count);
        uv_close((uv_handle_t *) stream, NULL);
        return;
    }
    send_ping();
}

static void on_connection(uv_stream_t *l, int status)
{
    if (status < 0 || uv_tcp_init(loop, &server_conn) != 0 ||
        uv_accept(l, (uv_stream_t *) &server_conn) != 0)
        die("uv echo: accept failed");
    uv_tcp_nodelay(&server_conn, 1);
    uv_read_start((uv_stream_t *) &server_conn, server_alloc, server_read);
    uv_close((uv_handle_t *) l, NULL);
}

static void on_connect(uv_connect_t *req, int status)
{
    (void) req;
    if (status < 0)
        die("uv echo: connect failed");
    uv_tcp_nodelay(&client, 1);
    uv_read_start((uv_stream_t *) &client, client_alloc, client_read);
    echo_span = span_begin(); /* the clock starts with the first ping */
    send_ping();
}

static void bench_echo(void)
{
    struct sockaddr_in addr;
    struct sockaddr_storage bound;
    int len = sizeof bound;
    memset(ping, 'x', sizeof ping);
    uv_ip4_addr("127.0.0.1", 0, &addr);
    if (uv_tcp_init(loop, &listener) != 0 ||
        uv_tcp_bind(&listener, (struct sockaddr *) &addr, 0) != 0 ||
        uv_listen((uv_stream_t *) &listener, 1, on_connection) != 0 ||
        uv_tcp_getsockname(&listener, (struct sockaddr *) &bound, &len) != 0)
        die("uv echo: cannot listen on 127.0.0.1");
    uv_tcp_init(loop, &client);
    uv_tcp_connect(&connect_req, &client, (struct sockaddr *) &bound, on_connect);
    uv_run(loop, UV_RUN_DEFAULT);
    if (rounds != count)
        die("uv echo: stopped early");
}

/* ===== echo-epoll: the floor, one thread, no library ===== */

static void bench_echo_epoll(void)
{
    int fds[2]; /* client, server */
    tcp_pair(fds);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; i < 2; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = i};
        if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0)
            die("epoll echo: epoll_ctl failed");
    }
    char msg[ECHO_MSG], buf[ECHO_MSG];
    size_t got = 0, done = 0;
    memset(msg, 'x', sizeof msg);
    struct span s = span_begin();
    if (write(fds[0], msg, sizeof msg) != (ssize_t) sizeof msg)
        die("epoll echo: short write");
    while (done < count) {
        struct epoll_event evs[2];
        int n = epoll_wait(ep, evs, 2, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("epoll echo: epoll_wait failed");
        for (int i = 0; i < n; i++) {
            if (evs[i].data.fd == 1) { /* the server echoes */
                ssize_t r = read(fds[1], buf, sizeof buf);
                if (r > 0 && write(fds[1], buf, (size_t) r) != r)
                    die("epoll echo: short write");
                continue;
            }
            ssize_t r = read(fds[0], buf, sizeof buf - got);
            if (r < 0 && errno == EAGAIN)
                continue;
            if (r <= 0)
                die("epoll echo: read failed");
            got += (size_t) r;
            if (got == ECHO_MSG && ++done < count) {
                got = 0;
                if (write(fds[0], msg, sizeof msg) != (ssize_t) sizeof msg)
                    die("epoll echo: short write");
            }
        }
    }
    span_report(&s, count);
    close(fds[0]);
    close(fds[1]);
    close(ep);
}

int main(int argc, char **argv)
{
    if (argc != 3 || (count = strtoul(argv[2], NULL, 10)) == 0) {
        fprintf(stderr, "usage: %s spawn|wake|sleeps|echo|echo-epoll N\n", argv[0]);
        return 2;
    }
    results_open();
    loop = uv_default_loop();
    if (strcmp(argv[1], "spawn") == 0)
        bench_spawn();
    else if (strcmp(argv[1], "wake") == 0)
        bench_wake();
    else if (strcmp(argv[1], "sleeps") == 0)
        bench_sleeps();
    else if (strcmp(argv[1], "echo") == 0)
        bench_echo();
    else if (strcmp(argv[1], "echo-epoll") == 0)
        bench_echo_epoll();
    else
        die("unknown workload");
    uv_loop_close(loop);
    fprintf(results, " libuv=%s\n", uv_version_string());
    fclose(results);
    return 0;
}
