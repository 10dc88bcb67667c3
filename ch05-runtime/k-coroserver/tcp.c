/* tcp.c: TCP over the reactor: one registration per socket, and four leaf
 * futures (accept, read, write, hang-up) that hand it their latest waker
 * and take the events that came. Introduced in ch05-runtime step k; the
 * registration code is h-udp's.
 *
 * The events: an edge-triggered registration reports a socket once, when
 * it *becomes* readable (or writable, or the peer hangs up). A leaf that
 * simply tried its system call at every poll would pay for a call that can
 * only find EAGAIN whenever its task was woken for something else: a read
 * right after the answer went out, a read when the wake was a timer's. So
 * the socket keeps three facts, set by the events the reactor saw (taken
 * at every poll, reactor_take_events) and cleared by what the system calls
 * find: readable until a read finds EAGAIN or empties the socket (it
 * returned fewer bytes than it asked for, and the peer has not closed:
 * then the end of the stream waits behind them); writable until a send finds the
 * buffer full; hung up for good once the peer shut its side. A future
 * tries its call only when the fact says it can succeed. delayserver/
 * saves the same calls by never reading before epoll says so. */
#include "tcp.h"

#include <assert.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../common/alloc.h"
#include "../../common/trace.h"
#include "reactor.h"

#define LISTEN_BACKLOG 65535 /* the kernel caps it at net.core.somaxconn */

/* What a listener and a stream share: a socket and its registration. */
struct tcp_socket {
    int fd;                 /* non-blocking */
    uint32_t events;        /* what to register for, on first use */
    bool registered;        /* the reactor knows fd under `token` */
    uint64_t token;         /* the registration (registered) */
    struct future *waiting; /* the future that said PENDING and is not done, or NULL */
    bool readable;          /* a read (an accept) may find something: see the top */
    bool writable;          /* a send may go out */
    bool hung_up;           /* the peer shut its side, closed or reset the connection */
};

struct tcp_listener {
    struct tcp_socket sock;
};

struct tcp_stream {
    struct tcp_socket sock;
};

static void socket_init(struct tcp_socket *sock, int fd, uint32_t events)
{
    /* Not readable yet as far as we know: registering reports what is
       there already, as an event. */
    *sock = (struct tcp_socket){.fd = fd,
                                .events = events,
                                .registered = false,
                                .waiting = NULL,
                                .readable = false,
                                .writable = true,
                                .hung_up = false};
}

/* Forget the registration, then close: no other descriptor refers to the
 * socket, so closing takes it out of the event queue (no epoll_ctl needed),
 * and an event already on its way for this fd number (soon reused) carries
 * a token whose generation the reactor no longer knows. */
static void socket_close(struct tcp_socket *sock)
{
    assert(sock->waiting == NULL && "a tcp socket closed while a future waits on it");
    if (sock->registered)
        reactor_forget(sock->token);
    close(sock->fd);
}

/* Was the call refused only because it would block? */
static bool would_block(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK;
}

/* What a read or an accept that failed with errno `err` (not EINTR) says:
 * nothing more to take for now (-EAGAIN: the socket is readable no more),
 * or an error (-err). */
static ssize_t nothing_to_take(struct tcp_socket *sock, int err)
{
    if (!would_block(err))
        return -err;
    sock->readable = false;
    return -EAGAIN;
}

/* ===== Listening ===== */

int tcp_listen(const char *host, unsigned port, struct tcp_listener **out)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE};
    struct addrinfo *addr;
    char service[16];
    snprintf(service, sizeof service, "%u", port);
    int rc = getaddrinfo(host, service, &hints, &addr);
    if (rc != 0)
        return rc == EAI_SYSTEM ? -errno : -EINVAL;

    /* TCP_NODELAY, which accepted sockets inherit: each answer leaves in
       one write, and Nagle's algorithm would hold back the answer to a
       pipelined request until the client acknowledged the one before. */
    int fd = socket(addr->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    int err = 0;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0 ||
        bind(fd, addr->ai_addr, addr->ai_addrlen) < 0 || listen(fd, LISTEN_BACKLOG) < 0)
        err = -errno;
    freeaddrinfo(addr);
    struct tcp_listener *listener = err == 0 ? malloc(sizeof *listener) : NULL;
    if (err == 0 && listener == NULL)
        err = -ENOMEM;
    if (err < 0) {
        if (fd >= 0)
            close(fd);
        return err;
    }
    socket_init(&listener->sock, fd, EPOLLIN);
    *out = listener;
    return 0;
}

int tcp_listener_address(const struct tcp_listener *listener, char *text, size_t size)
{
    struct sockaddr_storage bound;
    socklen_t len = sizeof bound;
    char host[NI_MAXHOST], service[NI_MAXSERV];
    if (getsockname(listener->sock.fd, (struct sockaddr *) &bound, &len) < 0)
        return -errno;
    if (getnameinfo((struct sockaddr *) &bound, len, host, sizeof host, service, sizeof service,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        return -EINVAL;
    snprintf(text, size, bound.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, service);
    return 0;
}

void tcp_listener_close(struct tcp_listener *listener)
{
    socket_close(&listener->sock);
    free(listener);
}

/* ===== Waiting through the reactor =====
 *
 * Every future starts with the same three fields and shares the code that
 * deals with the reactor: arm() at the start of each poll, settle() at its
 * end, op_drop() to free any of them. */

struct tcp_op {
    struct future base;      /* first member: a struct future * points here */
    struct tcp_socket *sock; /* borrowed: must outlive the future */
    const char *waits_for;   /* "to read", ...: what a trace says it waits for */
    bool finished;           /* returned POLL_READY */
};

/* Every poll starts here, before its system call: the first one on a
 * socket registers it (with this poll's waker), every later one replaces
 * the reactor's waker with this poll's and takes the events that came
 * meanwhile into the socket's facts. A stream registers for reading,
 * writing and the peer's hang-up at once, because one registration is all
 * a socket gets. 0 or -errno. */
static int arm(struct tcp_op *op, const struct waker *waker)
{
    struct tcp_socket *sock = op->sock;
    assert(!op->finished && "a tcp future polled after it completed");
    assert((sock->waiting == NULL || sock->waiting == &op->base) &&
           "two futures wait on one tcp socket; the reactor keeps one waker per socket");
    if (!sock->registered) {
        int err = reactor_register(sock->fd, sock->events, waker, &sock->token);
        if (err == 0)
            sock->registered = true;
        return err;
    }
    uint32_t events = reactor_take_events(sock->token, waker);
    if (events &
        (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) /* a read sees the end, or the error */
        sock->readable = true;
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        sock->writable = true;
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        sock->hung_up = true;
    return 0;
}

/* Every poll ends here with the result of its system call: -EAGAIN means
 * wait (the reactor holds our waker and wakes us on the next edge);
 * anything else, a success or an error, finishes the future. A trace shows
 * where a future starts to wait, as the reactor's interest it now is. */
static enum poll_status settle(struct tcp_op *op, ssize_t result)
{
    if (result == -EAGAIN) {
        if (op->sock->waiting != &op->base)
            trace_register("fd %d waits %s", op->sock->fd, op->waits_for);
        op->sock->waiting = &op->base;
        return POLL_PENDING;
    }
    op->sock->waiting = NULL;
    op->finished = true;
    return POLL_READY;
}

/* settle(), for the futures whose output is the ssize_t result itself. */
static enum poll_status settle_with(struct tcp_op *op, ssize_t result, void *output)
{
    if (settle(op, result) == POLL_PENDING)
        return POLL_PENDING;
    if (output != NULL)
        *(ssize_t *) output = result;
    return POLL_READY;
}

/* Drop any of the futures, in any state. One dropped while waiting frees
 * the socket for the next future (the reactor may still wake its task
 * once: a spurious wake, which wakers make harmless). */
static void op_drop(struct future *self)
{
    struct tcp_op *op = (struct tcp_op *) self;
    if (op->sock->waiting == self)
        op->sock->waiting = NULL;
    free(op);
}

/* The shared part of a new future that polls with `poll`. */
static struct tcp_op op_start(enum poll_status (*poll)(struct future *, const struct waker *,
                                                       void *),
                              struct tcp_socket *sock, const char *waits_for)
{
    return (struct tcp_op){
        .base = {.poll = poll, .drop = op_drop}, .sock = sock, .waits_for = waits_for};
}

/* ===== Accepting ===== */

static int accept_one(struct tcp_socket *sock)
{
    if (!sock->readable)
        return -EAGAIN;
    for (;;) {
        int fd = accept4(sock->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0)
            return fd;
        if (errno != EINTR)
            return (int) nothing_to_take(sock, errno);
    }
}

static enum poll_status accept_poll(struct future *self, const struct waker *waker, void *output)
{
    struct tcp_op *op = (struct tcp_op *) self;
    int result = arm(op, waker); /* the waker first, then the system call */
    if (result == 0)
        result = accept_one(op->sock);
    if (settle(op, result) == POLL_PENDING)
        return POLL_PENDING;
    if (output != NULL)
        *(int *) output = result;
    return POLL_READY;
}

struct future *tcp_accept(struct tcp_listener *listener)
{
    struct tcp_op *op = xmalloc(sizeof *op);
    *op = op_start(accept_poll, &listener->sock, "to accept");
    return &op->base;
}

/* ===== Streams ===== */

struct tcp_stream *tcp_stream_new(int fd)
{
    struct tcp_stream *stream = malloc(sizeof *stream);
    if (stream != NULL)
        socket_init(&stream->sock, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
    return stream;
}

void tcp_stream_close(struct tcp_stream *stream)
{
    socket_close(&stream->sock);
    free(stream);
}

bool tcp_nothing_unread(struct tcp_stream *stream)
{
    char byte;
    ssize_t n = recv(stream->sock.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && would_block(errno)); /* the peer's own close, or nothing at all */
}

int tcp_shutdown_write(struct tcp_stream *stream)
{
    return shutdown(stream->sock.fd, SHUT_WR) < 0 ? -errno : 0;
}

/* ===== Reading ===== */

struct tcp_read {
    struct tcp_op op; /* first member: poll and drop cast back */
    void *buf;        /* borrowed: the caller's */
    size_t cap;
};

static ssize_t read_some(struct tcp_read *reading)
{
    struct tcp_socket *sock = reading->op.sock;
#ifndef BUG_ALWAYS_READ /* exercise 3 (README.md): try the read whatever the reactor said */
    if (!sock->readable)
        return -EAGAIN;
#endif
    for (;;) {
        ssize_t n = read(sock->fd, reading->buf, reading->cap);
        /* Fewer bytes than asked for: it emptied the socket, unless the
           peer has closed, and the end of the stream is still to read. */
        if (n > 0 && (size_t) n < reading->cap && !sock->hung_up)
            sock->readable = false;
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return nothing_to_take(sock, errno);
    }
}

static enum poll_status read_poll(struct future *self, const struct waker *waker, void *output)
{
    struct tcp_read *reading = (struct tcp_read *) self;
    ssize_t result = arm(&reading->op, waker);
    if (result == 0)
        result = read_some(reading);
    return settle_with(&reading->op, result, output);
}

struct future *tcp_read(struct tcp_stream *stream, void *buf, size_t cap)
{
    assert(buf != NULL && cap > 0 && "a read of 0 bytes would look like the end of the stream");
    struct tcp_read *reading = xmalloc(sizeof *reading);
    reading->op = op_start(read_poll, &stream->sock, "to read");
    reading->buf = buf;
    reading->cap = cap;
    return &reading->op.base;
}

/* ===== Writing ===== */

struct tcp_write {
    struct tcp_op op; /* first member: poll and drop cast back */
    struct iovec iov[TCP_WRITE_IOV_MAX];
    int count;   /* pieces in iov */
    size_t sent; /* bytes of all the pieces sent so far */
    size_t total;
};

/* Send what is left, all pieces in one call, until everything is out or
 * the socket's buffer is full. The total, -EAGAIN or -errno. */
static ssize_t send_rest(struct tcp_write *writing)
{
    if (!writing->op.sock->writable)
        return -EAGAIN;
    while (writing->sent < writing->total) {
        struct iovec rest[TCP_WRITE_IOV_MAX];
        int n = 0;
        size_t skip = writing->sent;
        for (int i = 0; i < writing->count; i++) {
            struct iovec piece = writing->iov[i];
            if (skip >= piece.iov_len) {
                skip -= piece.iov_len;
                continue;
            }
            rest[n++] = (struct iovec){(char *) piece.iov_base + skip, piece.iov_len - skip};
            skip = 0;
        }
        struct msghdr msg = {.msg_iov = rest, .msg_iovlen = (size_t) n};
        ssize_t sent = sendmsg(writing->op.sock->fd, &msg, MSG_NOSIGNAL); /* no SIGPIPE */
        if (sent >= 0) {
            writing->sent += (size_t) sent;
        } else if (would_block(errno)) {
            writing->op.sock->writable = false; /* the buffer is full */
            return -EAGAIN;
        } else if (errno != EINTR) {
            return -errno;
        }
    }
    return (ssize_t) writing->total;
}

static enum poll_status write_poll(struct future *self, const struct waker *waker, void *output)
{
    struct tcp_write *writing = (struct tcp_write *) self;
    ssize_t result = arm(&writing->op, waker);
    if (result == 0)
        result = send_rest(writing);
    return settle_with(&writing->op, result, output);
}

struct future *tcp_write(struct tcp_stream *stream, const struct iovec *iov, int count)
{
    assert(count >= 0 && count <= TCP_WRITE_IOV_MAX);
    struct tcp_write *writing = xmalloc(sizeof *writing);
    writing->op = op_start(write_poll, &stream->sock, "to write");
    writing->count = count;
    writing->sent = writing->total = 0;
    for (int i = 0; i < count; i++) {
        writing->iov[i] = iov[i];
        writing->total += iov[i].iov_len;
    }
    return &writing->op.base;
}

/* ===== Hanging up ===== */

static enum poll_status hangup_poll(struct future *self, const struct waker *waker, void *output)
{
    struct tcp_op *op = (struct tcp_op *) self;
    ssize_t result = arm(op, waker);
    if (result == 0)
        result = op->sock->hung_up ? 0 : -EAGAIN;
    return settle_with(op, result, output);
}

struct future *tcp_hangup(struct tcp_stream *stream)
{
    struct tcp_op *op = xmalloc(sizeof *op);
    *op = op_start(hangup_poll, &stream->sock, "for a hang-up");
    return &op->base;
}
