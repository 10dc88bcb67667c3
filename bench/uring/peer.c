/* peer.c: bench/uring's library peer: both workloads written directly on
 * liburing (Debian's liburing-dev), with no runtime: no executor, no tasks,
 * no wakers; one loop that submits, waits and dispatches each completion to
 * a small state machine by its user_data. What an io_uring program costs
 * without the workbook's runtime on top.
 *
 *     peer echo N                 N 64-byte round trips over 127.0.0.1
 *     peer requests N DELAY_MS    N concurrent GET /<DELAY_MS>/m to the
 *                                 delay server at DELAYSERVER_ADDR
 *
 * Each request makes the same operations as the chapter's http.c: connect,
 * send, then receive until the content-length is in, one at a time.
 * Prints the same line as the other drivers; exits 77 where io_uring is not
 * available. */
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <stdbool.h>

#include "../runtime/common.h"

#define RING_ENTRIES 1024 /* as the chapter's reactor */

static struct io_uring ring;

static void open_ring(const char *program)
{
    int err = io_uring_queue_init(RING_ENTRIES, &ring, 0);
    if (err == -ENOSYS || err == -EPERM) {
        fprintf(stderr, "%s: io_uring is not available here: %s\n", program, strerror(-err));
        exit(77);
    }
    if (err < 0)
        die("io_uring_queue_init failed");
}

/* A free SQE; when the ring is full, hand the kernel what it holds first. */
static struct io_uring_sqe *get_sqe(void)
{
    struct io_uring_sqe *sqe;
    while ((sqe = io_uring_get_sqe(&ring)) == NULL)
        if (io_uring_submit(&ring) < 0)
            die("io_uring_submit failed");
    return sqe;
}

/* Submit what is queued, wait for one completion, then hand every
 * completion there is to `handle`. */
static void submit_and_dispatch(void (*handle)(uint64_t user_data, int res))
{
    int err;
    while ((err = io_uring_submit_and_wait(&ring, 1)) == -EINTR)
        ;
    if (err < 0 && err != -EBUSY)
        die("io_uring_submit_and_wait failed");
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe)
    {
        handle(cqe->user_data, cqe->res);
        seen++;
    }
    io_uring_cq_advance(&ring, seen);
}

/* ===== echo ===== */

static size_t rounds, count;
static char ping[ECHO_MSG], pong[ECHO_MSG];
static size_t ping_got, pong_len;
static int fds[2]; /* client, server */
static bool echo_done;

enum { CLIENT_SEND, CLIENT_RECV, SERVER_RECV, SERVER_SEND };

static void queue(int op, int fd, char *buf, size_t len, uint64_t tag)
{
    struct io_uring_sqe *sqe = get_sqe();
    if (op == IORING_OP_SEND)
        io_uring_prep_send(sqe, fd, buf, len, 0);
    else
        io_uring_prep_recv(sqe, fd, buf, len, 0);
    io_uring_sqe_set_data64(sqe, tag);
}

static void echo_handle(uint64_t tag, int res)
{
    if (res < 0)
        die("echo: an operation failed");
    switch (tag) {
    case CLIENT_SEND: /* 64 bytes on a fresh socket buffer: always whole */
        if (res != ECHO_MSG)
            die("echo: a short send");
        queue(IORING_OP_RECV, fds[0], ping, ECHO_MSG, CLIENT_RECV);
        break;
    case CLIENT_RECV:
        if (res == 0)
            die("echo: the server hung up");
        ping_got += (size_t) res;
        if (ping_got < ECHO_MSG) {
            queue(IORING_OP_RECV, fds[0], ping + ping_got, ECHO_MSG - ping_got, CLIENT_RECV);
            break;
        }
        ping_got = 0;
        if (++rounds == count) {
            shutdown(fds[0], SHUT_WR);
            break;
        }
        queue(IORING_OP_SEND, fds[0], ping, ECHO_MSG, CLIENT_SEND);
        break;
    case SERVER_RECV:
        if (res == 0) {
            echo_done = true;
            break;
        }
        pong_len = (size_t) res;
        queue(IORING_OP_SEND, fds[1], pong, pong_len, SERVER_SEND);
        break;
    case SERVER_SEND:
        if ((size_t) res != pong_len)
            die("echo: a short send");
        queue(IORING_OP_RECV, fds[1], pong, ECHO_MSG, SERVER_RECV);
        break;
    }
}

static void bench_echo(const char *program)
{
    tcp_pair(fds);
    for (int i = 0; i < 2; i++) /* io_uring waits for a blocking socket itself */
        if (fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) & ~O_NONBLOCK) < 0)
            die("cannot make a socket blocking");
    open_ring(program);
    memset(ping, 'x', sizeof ping);
    struct span s = span_begin();
    queue(IORING_OP_RECV, fds[1], pong, ECHO_MSG, SERVER_RECV);
    queue(IORING_OP_SEND, fds[0], ping, ECHO_MSG, CLIENT_SEND);
    while (!echo_done)
        submit_and_dispatch(echo_handle);
    span_report(&s, count);
    io_uring_queue_exit(&ring);
    close(fds[0]);
    close(fds[1]);
}

/* ===== requests ===== */

struct request {
    int fd;
    enum { CONNECTING, SENDING, RECEIVING } state;
    size_t sent, len;
    char buf[1024]; /* a delay server answer is about 150 bytes */
};

static struct request *requests;
static struct sockaddr_in server;
static char get[128];
static size_t get_len;
static int finished, ok;

/* Whole, once the head is in and as many body bytes as content-length says. */
static bool complete(struct request *r)
{
    r->buf[r->len] = '\0';
    char *end = strstr(r->buf, "\r\n\r\n");
    char *length = strcasestr(r->buf, "\r\ncontent-length:");
    return end != NULL && length != NULL && length < end &&
           r->len >= (size_t) (end + 4 - r->buf) + strtoul(length + 17, NULL, 10);
}

static void request_op(struct request *r)
{
    struct io_uring_sqe *sqe = get_sqe();
    if (r->state == CONNECTING)
        io_uring_prep_connect(sqe, r->fd, (struct sockaddr *) &server, sizeof server);
    else if (r->state == SENDING)
        io_uring_prep_send(sqe, r->fd, get + r->sent, get_len - r->sent, MSG_NOSIGNAL);
    else
        io_uring_prep_recv(sqe, r->fd, r->buf + r->len, sizeof r->buf - 1 - r->len, 0);
    io_uring_sqe_set_data(sqe, r);
}

static void finish(struct request *r)
{
    ok += r->len >= 12 && memcmp(r->buf, "HTTP/1.1 200", 12) == 0;
    close(r->fd);
    finished++;
}

static void request_handle(uint64_t user_data, int res)
{
    struct request *r = (struct request *) (uintptr_t) user_data;
    if (res < 0) {
        fprintf(stderr, "peer: a request failed: %s\n", strerror(-res));
        exit(1);
    }
    if (r->state == CONNECTING) {
        r->state = SENDING;
    } else if (r->state == SENDING) {
        r->sent += (size_t) res;
        if (r->sent == get_len)
            r->state = RECEIVING;
    } else {
        r->len += (size_t) res;
        if (res == 0 || complete(r) || r->len == sizeof r->buf - 1) {
            finish(r);
            return;
        }
    }
    request_op(r);
}

static void bench_requests(const char *program, int n, int delay_ms)
{
    const char *addr = getenv("DELAYSERVER_ADDR");
    char host[64] = "127.0.0.1";
    int port = 8080;
    if (addr != NULL && *addr != '\0' && sscanf(addr, "%63[^:]:%d", host, &port) != 2)
        die("DELAYSERVER_ADDR: expected an IPv4 address and a port");
    server.sin_family = AF_INET;
    server.sin_port = htons((uint16_t) port);
    if (inet_pton(AF_INET, host, &server.sin_addr) != 1)
        die("DELAYSERVER_ADDR: expected an IPv4 address");
    get_len = (size_t) snprintf(get, sizeof get,
                                "GET /%d/m HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
                                delay_ms, addr != NULL && *addr ? addr : "127.0.0.1:8080");
    struct rlimit limit; /* a socket per request */
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
    open_ring(program);
    requests = xcalloc((size_t) n, sizeof *requests);
    uint64_t start = now_ns();
    for (int i = 0; i < n; i++) {
        requests[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (requests[i].fd < 0)
            die("cannot create a socket");
        request_op(&requests[i]);
    }
    while (finished < n)
        submit_and_dispatch(request_handle);
    uint64_t elapsed = now_ns() - start;
    io_uring_queue_exit(&ring);
    free(requests);
    fprintf(results, "ok=%d elapsed_ns=%llu peak_rss=%lld", ok, (unsigned long long) elapsed,
            peak_rss());
}

int main(int argc, char **argv)
{
    size_t n = argc >= 3 ? strtoul(argv[2], NULL, 10) : 0;
    if (argc == 3 && strcmp(argv[1], "echo") == 0 && n > 0) {
        count = n;
        results_open();
        bench_echo(argv[0]);
    } else if (argc == 4 && strcmp(argv[1], "requests") == 0 && n > 0) {
        results_open();
        bench_requests(argv[0], (int) n, atoi(argv[3]));
    } else {
        fprintf(stderr, "usage: %s echo N | requests N DELAY_MS\n", argv[0]);
        return 2;
    }
    fprintf(results, "\n");
    fclose(results);
    return 0;
}
