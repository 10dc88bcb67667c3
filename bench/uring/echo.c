/* echo.c: bench/uring, the echo workload on ch06-io-uring/b-proactor's
 * executor and io_uring reactor: N 64-byte round trips over 127.0.0.1, both
 * ends small futures of ours that start operations (send, recv) and are
 * woken by their completions, as reactor.h says. bench/runtime's rt.c does
 * the same on ch05's epoll reactor with readiness futures; this is its
 * completion twin, and prints the same line (bench/runtime/common.h).
 *
 *     echo N
 *
 * Exits 77 where io_uring is not available. */
#include <errno.h>
#include <stdbool.h>

#include "../runtime/common.h"
#include "executor.h"
#include "future.h"
#include "reactor.h"

static size_t count; /* N */

struct echo_end {
    struct future base;
    int fd;
    bool client;         /* the side that pings (else echoes) */
    bool started;        /* the first operation has been started */
    bool sending;        /* the operation in flight (or just done) is a send */
    size_t rounds;       /* client: round trips done */
    size_t len, off;     /* bytes of buf to send, and sent; or expected, and received */
    struct operation op; /* the send or recv in flight */
    char buf[ECHO_MSG];
};

static void start(struct echo_end *e, const struct waker *waker, bool send)
{
    struct io_uring_sqe sqe = {
        .opcode = send ? IORING_OP_SEND : IORING_OP_RECV,
        .fd = e->fd,
        .addr = (uintptr_t) (e->buf + e->off),
        .len = (unsigned) (e->len - e->off),
    };
    e->sending = send;
    if (reactor_start(&e->op, &sqe, waker, REACTOR_NO_DEADLINE) != 0)
        die("echo: reactor_start failed");
}

static enum poll_status echo_poll(struct future *self, const struct waker *waker, void *output)
{
    (void) output;
    struct echo_end *e = (struct echo_end *) self;
    if (!e->started) { /* the client pings, the server listens */
        e->started = true;
        e->len = ECHO_MSG;
        start(e, waker, e->client);
        return POLL_PENDING;
    }
    if (e->op.in_flight) {
        reactor_set_waker(&e->op, waker);
        return POLL_PENDING;
    }
    int res = e->op.result;
    if (res < 0)
        die(e->sending ? "echo: send failed" : "echo: recv failed");
    if (res == 0 && !e->sending) { /* the client hung up: the server is done */
        if (e->client)
            die("echo: the server hung up");
        return POLL_READY;
    }
    e->off += (size_t) res;
    if (!e->client && !e->sending) { /* echo back what came */
        e->len = (size_t) res;
        e->off = 0;
        start(e, waker, true);
        return POLL_PENDING;
    }
    if (e->off < e->len) { /* the rest of a short send or of the answer */
        start(e, waker, e->sending);
        return POLL_PENDING;
    }
    e->off = 0;
    e->len = ECHO_MSG;
    if (!e->client) { /* sent back: listen again */
        start(e, waker, false);
        return POLL_PENDING;
    }
    if (e->sending) { /* the ping is out: wait for the answer */
        start(e, waker, false);
        return POLL_PENDING;
    }
    if (++e->rounds == count) {
        shutdown(e->fd, SHUT_WR); /* the server's recv completes with 0 */
        return POLL_READY;
    }
    start(e, waker, true); /* the answer is the next ping */
    return POLL_PENDING;
}

static void echo_drop(struct future *self)
{
    free(self);
}

struct spawner {
    struct future base;
    int fds[2];
};

static enum poll_status spawner_poll(struct future *self, const struct waker *waker, void *output)
{
    (void) waker, (void) output;
    struct spawner *s = (struct spawner *) self;
    for (int i = 0; i < 2; i++) {
        struct echo_end *e = xcalloc(1, sizeof *e);
        e->base = (struct future){.poll = echo_poll, .drop = echo_drop};
        e->fd = s->fds[i];
        e->client = i == 0;
        memset(e->buf, 'x', sizeof e->buf);
        executor_spawn(&e->base, "%s", e->client ? "client" : "server");
    }
    return POLL_READY;
}

static void spawner_drop(struct future *self)
{
    free(self);
}

int main(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "echo") != 0 || (count = strtoul(argv[2], NULL, 10)) == 0) {
        fprintf(stderr, "usage: %s echo N\n", argv[0]);
        return 2;
    }
    results_open();
    struct spawner *s = xcalloc(1, sizeof *s);
    s->base = (struct future){.poll = spawner_poll, .drop = spawner_drop};
    tcp_pair(s->fds);
    for (int i = 0; i < 2; i++) /* io_uring waits for a blocking socket itself */
        if (fcntl(s->fds[i], F_SETFL, fcntl(s->fds[i], F_GETFL) & ~O_NONBLOCK) < 0)
            die("cannot make a socket blocking");
    int err = reactor_open();
    if (err == -ENOSYS || err == -EPERM) {
        fprintf(stderr, "%s: io_uring is not available here: %s\n", argv[0], strerror(-err));
        return 77;
    }
    if (err < 0)
        die("cannot open the reactor");
    int fds[2] = {s->fds[0], s->fds[1]};
    struct span span = span_begin();
    executor_block_on("main", &s->base);
    span_report(&span, count);
    reactor_close();
    close(fds[0]);
    close(fds[1]);
    fprintf(results, "\n");
    fclose(results);
    return 0;
}
