/* udp.c: UDP sockets over the reactor: one registration per socket, and two
 * leaf futures, receive and send, that hand it their latest waker.
 * Introduced in ch05-runtime step h. */
#include "udp.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../common/alloc.h"
#include "../../common/args.h"
#include "../../common/errors.h"
#include "reactor.h"

struct udp_socket {
    int fd;          /* non-blocking, bound */
    bool registered; /* the reactor knows fd under `token` */
    uint64_t token;
    struct future *waiting; /* the future that said PENDING and is not done, or NULL */
};

/* ===== Addresses ===== */

/* Is addr an IPv4 address in 127.0.0.0/8? The only kind this workbook uses. */
static bool is_loopback(const struct sockaddr_in *addr)
{
    return addr->sin_family == AF_INET && (ntohl(addr->sin_addr.s_addr) >> 24) == 127;
}

int udp_parse_address(const char *text, struct sockaddr_in *addr)
{
    const char *colon = strrchr(text, ':');
    char host[INET_ADDRSTRLEN];
    if (colon == NULL || colon - text >= (ptrdiff_t) sizeof host || colon[1] == '\0')
        return -EINVAL;
    snprintf(host, sizeof host, "%.*s", (int) (colon - text), text);
    unsigned long long port;
    if (parse_count(colon + 1, 0, 65535, &port) < 0)
        return -EINVAL;
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_port = htons((uint16_t) port);
    if (inet_pton(AF_INET, host, &addr->sin_addr) != 1)
        return -EINVAL;
    return 0;
}

char *udp_format_address(const struct sockaddr_in *addr, char *text)
{
    char host[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &addr->sin_addr, host, sizeof host);
    snprintf(text, 22, "%s:%u", host, ntohs(addr->sin_port));
    return text;
}

/* ===== Sockets ===== */

int udp_open(const struct sockaddr_in *local, struct udp_socket **out)
{
    if (!is_loopback(local))
        return -EADDRNOTAVAIL;
    struct udp_socket *sock = malloc(sizeof *sock);
    if (sock == NULL)
        return -ENOMEM;
    sock->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (sock->fd < 0 || bind(sock->fd, (const struct sockaddr *) local, sizeof *local) < 0) {
        int err = -errno;
        if (sock->fd >= 0)
            close(sock->fd);
        free(sock);
        return err;
    }
    sock->registered = false;
    sock->token = 0;
    sock->waiting = NULL;
    *out = sock;
    return 0;
}

int udp_connect(struct udp_socket *sock, const struct sockaddr_in *peer)
{
    if (!is_loopback(peer))
        return -EADDRNOTAVAIL;
    /* A UDP connect sends nothing: it only records the peer, so it never
       has to wait, even on a non-blocking socket. */
    if (connect(sock->fd, (const struct sockaddr *) peer, sizeof *peer) < 0)
        return -errno;
    return 0;
}

struct sockaddr_in udp_local_address(const struct udp_socket *sock)
{
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    memset(&addr, 0, sizeof addr);
    getsockname(sock->fd, (struct sockaddr *) &addr, &len); /* cannot fail on a bound socket */
    return addr;
}

void udp_close(struct udp_socket *sock)
{
    assert(sock->waiting == NULL && "udp_close() while a future waits on the socket");
    /* Deregister before closing, so no event for this fd number (soon
       reused) can reach the reactor's table. */
    if (sock->registered)
        reactor_deregister(sock->fd, sock->token);
    close(sock->fd);
    free(sock);
}

/* ===== Waiting through the reactor =====
 *
 * Both futures start with the same three fields, and share the code that
 * deals with the reactor: arm() at the start of each poll, settle() at its
 * end, op_drop() to free either one. */

struct udp_op {
    struct future base;      /* first member: a struct future * points here */
    struct udp_socket *sock; /* borrowed: must outlive the future */
    bool finished;           /* returned POLL_READY */
};

/* Every poll of either future starts here, before its system call: the
 * first one registers the socket (with this poll's waker), every later one
 * replaces the reactor's waker with this poll's. The socket is registered
 * for both directions at once, because one registration is all a socket
 * gets; a wake then only means "try again", and a future that finds EAGAIN
 * simply waits for the next one. 0 or -errno. */
static int arm(struct udp_op *op, const struct waker *waker)
{
    struct udp_socket *sock = op->sock;
    assert(!op->finished && "a udp future polled after it completed");
    assert((sock->waiting == NULL || sock->waiting == &op->base) &&
           "two futures wait on one udp socket; the reactor keeps one waker per socket");
    /* LESSON arm: Register the socket once (both directions); later, hand the reactor this waker.
     * hint: Already registered: reactor_set_waker(sock->token, waker) and return 0.
     *   Not yet: reactor_register(sock->fd, EPOLLIN | EPOLLOUT, waker, &sock->token),
     *   and on success remember sock->registered; return what it returned.
     * stub:
     *   (void) waker;
     *   lesson_missing("arm"); */
    if (sock->registered) {
        reactor_set_waker(sock->token, waker);
        return 0;
    }
    int err = reactor_register(sock->fd, EPOLLIN | EPOLLOUT, waker, &sock->token);
    if (err == 0)
        sock->registered = true;
    return err;
    /* END LESSON arm */
}

/* Every poll ends here with the result of its system call: -EAGAIN means
 * wait (the reactor holds our waker and wakes us on the next edge); anything
 * else, a success or an error, finishes the future. */
static enum poll_status settle(struct udp_op *op, int err)
{
    if (err == -EAGAIN) {
        op->sock->waiting = &op->base;
        return POLL_PENDING;
    }
    op->sock->waiting = NULL;
    op->finished = true;
    return POLL_READY;
}

/* Drop either future, in any state. One dropped while waiting frees the
 * socket for the next future (the reactor may still wake its task once:
 * a spurious wake, which wakers make harmless). */
static void op_drop(struct future *self)
{
    struct udp_op *op = (struct udp_op *) self;
    if (op->sock->waiting == self)
        op->sock->waiting = NULL;
    free(op);
}

/* The shared part of a new future that polls with `poll`. */
static struct udp_op op_start(enum poll_status (*poll)(struct future *, const struct waker *,
                                                       void *),
                              struct udp_socket *sock)
{
    return (struct udp_op){
        .base = {.poll = poll, .drop = op_drop}, .sock = sock, .finished = false};
}

/* Was the call refused only because it would block? */
static bool would_block(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK;
}

/* ===== Receiving ===== */

struct udp_recv {
    struct udp_op op; /* first member: poll and drop cast back */
    void *buf;        /* borrowed: the caller's */
    size_t cap;
};

/* Take one datagram, or fail. 0 (got filled in), -EAGAIN, or -errno. */
static int receive(struct udp_recv *receiving, struct udp_received *got)
{
    for (;;) {
        struct iovec iov = {.iov_base = receiving->buf, .iov_len = receiving->cap};
        struct msghdr msg = {.msg_name = &got->from,
                             .msg_namelen = sizeof got->from,
                             .msg_iov = &iov,
                             .msg_iovlen = 1};
        /* With MSG_TRUNC in flags, Linux returns the datagram's real size
           even when only cap bytes of it were stored; msg_flags says
           whether any were cut off. */
        ssize_t n = recvmsg(receiving->op.sock->fd, &msg, MSG_TRUNC);
        if (n >= 0) {
            got->datagram_len = (size_t) n;
            got->len = (size_t) n < receiving->cap ? (size_t) n : receiving->cap;
            got->truncated = (msg.msg_flags & MSG_TRUNC) != 0;
            return 0;
        }
        if (errno == EINTR) /* a signal: nothing was taken, try again */
            continue;
        return would_block(errno) ? -EAGAIN : -errno;
    }
}

static enum poll_status recv_poll(struct future *self, const struct waker *waker, void *output)
{
    struct udp_recv *receiving = (struct udp_recv *) self;
    struct udp_received got;
    memset(&got, 0, sizeof got);

#ifdef EXERCISE_2 /* README.md: the I/O first; the waker only if it must wait, then once more */
    int err = receive(receiving, &got);
    if (err == -EAGAIN && (err = arm(&receiving->op, waker)) == 0)
        err = receive(receiving, &got);
#else
    int err = arm(&receiving->op, waker); /* the waker first, then the I/O */
    if (err == 0)
        err = receive(receiving, &got);
#endif
    if (settle(&receiving->op, err) == POLL_PENDING)
        return POLL_PENDING;
    if (err < 0) { /* an error is a result too */
        memset(&got, 0, sizeof got);
        got.error = err;
    }
    if (output != NULL)
        *(struct udp_received *) output = got;
    return POLL_READY;
}

struct future *udp_recv_from(struct udp_socket *sock, void *buf, size_t cap)
{
    assert(sock != NULL && (buf != NULL || cap == 0));
    struct udp_recv *receiving = xmalloc(sizeof *receiving);
    receiving->op = op_start(recv_poll, sock);
    receiving->buf = buf;
    receiving->cap = cap;
    return &receiving->op.base;
}

/* ===== Sending ===== */

struct udp_send {
    struct udp_op op; /* first member: poll and drop cast back */
    const void *buf;  /* borrowed: the caller's */
    size_t len;
    bool has_to;           /* false: the connected peer */
    struct sockaddr_in to; /* a copy of the destination */
};

/* Hand the datagram to the kernel. 0, -EAGAIN (the send buffer is full),
 * or -errno. */
static int transmit(struct udp_send *sending)
{
    if (sending->has_to && !is_loopback(&sending->to))
        return -EADDRNOTAVAIL;
    for (;;) {
        ssize_t n = sendto(sending->op.sock->fd, sending->buf, sending->len, 0,
                           sending->has_to ? (const struct sockaddr *) &sending->to : NULL,
                           sending->has_to ? sizeof sending->to : 0);
        if (n >= 0) {
            assert((size_t) n == sending->len); /* a datagram goes whole or not at all */
            return 0;
        }
        if (errno == EINTR)
            continue;
        return would_block(errno) ? -EAGAIN : -errno;
    }
}

static enum poll_status send_poll(struct future *self, const struct waker *waker, void *output)
{
    struct udp_send *sending = (struct udp_send *) self;
#ifdef EXERCISE_2 /* README.md */
    int err = transmit(sending);
    if (err == -EAGAIN && (err = arm(&sending->op, waker)) == 0)
        err = transmit(sending);
#else
    int err = arm(&sending->op, waker); /* the waker first, then the I/O */
    if (err == 0)
        err = transmit(sending);
#endif
    if (settle(&sending->op, err) == POLL_PENDING)
        return POLL_PENDING;
    if (output != NULL)
        *(int *) output = err;
    return POLL_READY;
}

struct future *udp_send_to(struct udp_socket *sock, const void *buf, size_t len,
                           const struct sockaddr_in *to)
{
    assert(sock != NULL && (buf != NULL || len == 0));
    struct udp_send *sending = xmalloc(sizeof *sending);
    sending->op = op_start(send_poll, sock);
    sending->buf = buf;
    sending->len = len;
    sending->has_to = to != NULL;
    if (to != NULL)
        sending->to = *to;
    return &sending->op.base;
}
