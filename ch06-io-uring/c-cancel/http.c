/* http.c: http_get(), a leaf future that fetches one response from the delay
 * server. Introduced in ch04-coroutines step a, where it tried a non-blocking
 * socket on every poll; chapter 5 registered the socket with a reactor that
 * said when to try again. In ch06-io-uring step b the future tries nothing
 * itself: it hands the kernel one whole operation at a time (connect, send,
 * recv) and its task is woken when that operation has finished (reactor.h).
 * In step c a request may be dropped while an operation is in flight; it
 * then leaves its memory to the reactor (http_drop). Built with
 * -DBUG_FREE_IN_FLIGHT (make cancel-bug), it frees it at once, as chapter 5
 * did: the bug that step is about. */
#include "http.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../common/addr.h"
#include "../../common/alloc.h"
#include "../../common/clock.h"
#include "../../common/response.h"
#include "reactor.h"

#define MAX_RESPONSE (1 << 20) /* a delay server answer is tiny; more is garbage */

/* ===== The server, the deadline, and what went wrong =====
 *
 * http_init() writes the first three before any request; after that they
 * are only read. The counters may be changed by requests on any thread. */

static struct server_addr server;
static long timeout_ms;
static bool show_full;
static atomic_bool failed;   /* some request failed */
static atomic_bool reported; /* the one line about it has been printed */
static atomic_int started;   /* requests that got their first poll */
static atomic_int timed_out; /* requests given up at their deadline */

int http_init(bool full)
{
    if (server_addr_from_env(&server) < 0)
        return -1;
    timeout_ms = server_timeout_ms();
    if (timeout_ms < 0)
        return -1;
    show_full = full;
    return 0;
}

/* Report a failed request; only the first one in the program prints. */
static void report(const char *path, const char *what, int err)
{
    atomic_store(&failed, true);
    if (atomic_exchange(&reported, true))
        return;
    if (err != 0)
        fprintf(stderr, "%s: GET %s: %s %s: %s\n", program_invocation_short_name, path, what,
                server.text, strerror(err));
    else
        fprintf(stderr, "%s: GET %s: %s %s\n", program_invocation_short_name, path, what,
                server.text);
}

bool http_failed(void)
{
    int lost = atomic_load(&timed_out);
    if (lost > 0 && !atomic_exchange(&reported, true)) {
        if (timeout_ms % 1000 == 0)
            fprintf(stderr, "%s: gave up after %ld s: %d of %d responses never came\n",
                    program_invocation_short_name, timeout_ms / 1000, lost, atomic_load(&started));
        else
            fprintf(stderr, "%s: gave up after %ld ms: %d of %d responses never came\n",
                    program_invocation_short_name, timeout_ms, lost, atomic_load(&started));
    }
    return atomic_load(&failed);
}

const char *http_body(const char *response)
{
    const char *blank = response != NULL ? strstr(response, "\n\n") : NULL;
    return blank != NULL ? blank + 2 : "";
}

void http_print(const char *response, uint64_t started_ns)
{
    if (response == NULL)
        return;
    if (show_full)
        printf("%s\n\n", response);
    else
        response_print_line(stdout, response, strlen(response), now_ns() - started_ns);
}

/* ===== The future ===== */

struct http_get {
    struct future base; /* first member: a struct future * points here */
    enum { START, CONNECTING, SENDING, RECEIVING } state;
    int fd;              /* -1 before the first poll and after the last */
    struct operation op; /* the connect, send or recv in flight, if any */
    uint64_t deadline;   /* now_ns() at the first poll + the timeout */
    char *path;          /* what we ask for, owned */
    char *request;       /* the bytes to send, owned; the kernel reads them during a send */
    size_t request_len, sent;
    char *response; /* what came back so far, owned, NUL-terminated; the kernel
                       writes into it during a recv */
    size_t len, cap;
};

/* Let go of the socket. There is nothing to deregister: the ring knows
 * operations, not sockets. */
static void close_socket(struct http_get *req)
{
    if (req->fd >= 0)
        close(req->fd);
    req->fd = -1;
}

/* Hand the kernel an operation on the request's socket, with the request's
 * deadline; its completion wakes this task. 0 or -errno. */
static int start_operation(struct http_get *req, struct io_uring_sqe *sqe,
                           const struct waker *waker)
{
    sqe->fd = req->fd;
    return reactor_start(&req->op, sqe, waker, req->deadline);
}

/* Start connecting the request's socket to the server. 0 or -errno. */
static int connect_to_server(struct http_get *req, const struct waker *waker)
{
    struct io_uring_sqe sqe = {
        .opcode = IORING_OP_CONNECT,
        .addr = (uintptr_t) &server.sockaddr,
        .off = server.len, /* connect takes the address length in the offset field */
    };
    return start_operation(req, &sqe, waker);
}

/* Start sending what is left of the request. 0 or -errno. */
static int send_request(struct http_get *req, const struct waker *waker)
{
    struct io_uring_sqe sqe = {
        .opcode = IORING_OP_SEND,
        .addr = (uintptr_t) (req->request + req->sent),
        .len = (unsigned) (req->request_len - req->sent),
        .msg_flags = MSG_NOSIGNAL, /* a closed connection is an error result, not SIGPIPE */
    };
    return start_operation(req, &sqe, waker);
}

/* Has the whole response arrived? It has once the headers are complete and
 * as many body bytes as their content-length says follow them. Without a
 * content-length only the server closing the connection says so. */
static bool response_complete(const struct http_get *req)
{
    req->response[req->len] = '\0';
    const char *end = strstr(req->response, "\r\n\r\n");
    if (end == NULL)
        return false;
    for (const char *line = strstr(req->response, "\r\n"); line < end;
         line = strstr(line + 2, "\r\n")) {
        if (strncasecmp(line + 2, "content-length:", 15) == 0) {
            size_t body = strtoul(line + 17, NULL, 10);
            return req->len >= (size_t) (end + 4 - req->response) + body;
        }
    }
    return false;
}

/* Start receiving into the free part of the buffer. 0, -EFBIG when the
 * response is too large, else -errno. The buffer may grow (and move) here
 * only because no recv is in flight: the kernel holds no pointer into it. */
static int receive_response(struct http_get *req, const struct waker *waker)
{
    if (req->cap - req->len < 1024) { /* keep room for a recv and the NUL */
        if (req->cap >= MAX_RESPONSE)
            return -EFBIG;
        size_t old = req->cap;
        req->cap = req->cap ? 2 * req->cap : 4096;
        req->response = xrealloc(req->response, req->cap);
        /* Zeroed, because valgrind cannot see the kernel write into it. */
        memset(req->response + old, 0, req->cap - old);
    }
    struct io_uring_sqe sqe = {
        .opcode = IORING_OP_RECV,
        .addr = (uintptr_t) (req->response + req->len),
        .len = (unsigned) (req->cap - req->len - 1),
    };
    return start_operation(req, &sqe, waker);
}

/* Turn the bytes received into the text the caller gets, or report why they
 * are not an HTTP response. Returns the text (owned by the caller) or NULL. */
static char *take_response(struct http_get *req)
{
    char *text = req->response;
    if (req->len == 0) {
        report(req->path, "the connection was closed without an answer by", 0);
        return NULL;
    }
    text[req->len] = '\0';
    if (strncmp(text, "HTTP/1.", 7) != 0 || strlen(text) != req->len ||
        strstr(text, "\r\n\r\n") == NULL) {
        report(req->path, "got something that is not an HTTP response from", 0);
        return NULL;
    }
    char *to = text; /* "\r\n" -> "\n", in place */
    for (const char *from = text; *from != '\0'; from++)
        if (!(from[0] == '\r' && from[1] == '\n'))
            *to++ = *from;
    *to = '\0';
    req->response = NULL;
    req->len = req->cap = 0;
    return text;
}

/* The request is over: let go of the socket and hand `text` (NULL for a
 * failed request) to whoever polled. */
static enum poll_status finish(struct http_get *req, char *text, void *output)
{
    assert(!req->op.in_flight); /* see reactor.h, "Ownership" */
    close_socket(req);
    if (output != NULL)
        *(char **) output = text;
    else
        free(text);
    return POLL_READY;
}

/* An operation has been handed to the kernel (err == 0): wait for its
 * completion. Or it could not be (err < 0): say so and fail. */
static enum poll_status wait_for(struct http_get *req, int err, void *output)
{
    if (err == 0)
        return POLL_PENDING; /* the completion wakes our task */
    if (err == -EFBIG)
        report(req->path, "got a response larger than 1 MiB from", 0);
    else
        report(req->path, "cannot hand the kernel an operation for", -err);
    return finish(req, NULL, output);
}

static enum poll_status http_poll(struct future *self, const struct waker *waker, void *output)
{
    struct http_get *req = (struct http_get *) self;

    if (req->state == START) {
        atomic_fetch_add(&started, 1);
        req->deadline = now_ns() + (uint64_t) timeout_ms * 1000000u;
        /* A plain blocking socket: io_uring never blocks the thread on it.
           It tries each operation without waiting and, if it would have to
           wait, waits for readiness itself (in the kernel, on no thread of
           ours) and tries again then. */
        req->fd = socket(server.sockaddr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (req->fd < 0) {
            report(req->path, "cannot connect to", errno);
            return finish(req, NULL, output);
        }
        req->state = CONNECTING; /* the first poll only starts */
        return wait_for(req, connect_to_server(req, waker), output);
    }
    /* Polled before the completion came (by a combinator that polls all its
       children, say): hand the reactor the waker of this poll, and wait. */
    if (req->op.in_flight) {
        reactor_set_waker(&req->op, waker);
        return POLL_PENDING;
    }

    /* The operation has completed, and its result is what the system call
       would have returned. Nothing is left to do "now that it is ready": the
       connection is up, the bytes are sent, or they are in the buffer. */
    int res = req->op.result;
    if (res == -ECANCELED) { /* the deadline passed, and the reactor cancelled it */
        atomic_fetch_add(&timed_out, 1);
        atomic_store(&failed, true);
        return finish(req, NULL, output);
    }
    if (req->state == CONNECTING) {
        if (res < 0) { /* a refused connection shows up here */
            report(req->path, "cannot connect to", -res);
            return finish(req, NULL, output);
        }
        req->state = SENDING;
        return wait_for(req, send_request(req, waker), output);
    }
    if (res < 0) {
        report(req->path, "lost the connection to", -res);
        return finish(req, NULL, output);
    }
    if (req->state == SENDING) {
        req->sent += (size_t) res;
        if (req->sent < req->request_len) /* a short send: send the rest */
            return wait_for(req, send_request(req, waker), output);
        req->state = RECEIVING;
        return wait_for(req, receive_response(req, waker), output);
    }
    if (res == 0) /* the server closed: all is here */
        return finish(req, take_response(req), output);
    req->len += (size_t) res;
    if (response_complete(req))
        return finish(req, take_response(req), output);
    return wait_for(req, receive_response(req, waker), output);
}

/* Free the request and everything it owns. */
static void release_request(void *data)
{
    struct http_get *req = data;
    free(req->path);
    free(req->request);
    free(req->response);
    free(req);
}

/* Dropped: by the executor once the request is over, or earlier, with an
 * operation in flight, by whoever stopped waiting for it (a timeout). */
static void http_drop(struct future *self)
{
    struct http_get *req = (struct http_get *) self;
    /* The socket can go now: an operation in flight holds the socket open
       for itself until it completes, and is cancelled by its address, not
       by the descriptor's number. */
    close_socket(req);
#ifndef BUG_FREE_IN_FLIGHT
    /* Not the memory, though: the kernel holds the address of req->op and
       of the buffer the operation reads or fills, both inside what
       release_request frees. The reactor cancels the operation and frees
       the request when the completion has come. */
    if (req->op.in_flight) {
        reactor_abandon(&req->op, release_request, req);
        return;
    }
#endif
    release_request(req);
}

struct future *http_get(const char *path_format, ...)
{
    struct http_get *req = xcalloc(1, sizeof *req);
    va_list args;

    va_start(args, path_format);
    int path_len = vsnprintf(NULL, 0, path_format, args);
    va_end(args);
    req->path = xmalloc((size_t) path_len + 1);
    va_start(args, path_format);
    vsnprintf(req->path, (size_t) path_len + 1, path_format, args);
    va_end(args);
    req->request = xasprintf("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", req->path,
                             server.text);
    req->base.poll = http_poll;
    req->base.drop = http_drop;
    req->state = START;
    req->fd = -1;
    req->request_len = strlen(req->request);
    return &req->base;
}
