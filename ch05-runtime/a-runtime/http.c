/* http.c: http_get(), a leaf future that fetches one response from the delay
 * server over a non-blocking socket. Introduced in ch04-coroutines step a;
 * ch05-runtime step a registers the socket with the runtime's registry, so
 * that block_on can sleep until the socket is ready (runtime.h). */
#include "http.h"

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
#include "runtime.h"

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
    enum { START, SENDING, RECEIVING } state;
    int fd;            /* -1 before the first poll and after the last */
    bool registered;   /* the registry watches fd */
    uint64_t deadline; /* now_ns() at the first poll + the timeout */
    char *path;        /* what we ask for, owned */
    char *request;     /* the bytes to send, owned */
    size_t request_len, sent;
    char *response; /* what came back so far, owned, NUL-terminated */
    size_t len, cap;
};

/* Let go of the socket: deregister first (closing would do it too, but
 * saying it keeps the registry's bookkeeping in plain sight). */
static void close_socket(struct http_get *req)
{
    if (req->registered)
        runtime_deregister(req->fd);
    req->registered = false;
    if (req->fd >= 0)
        close(req->fd);
    req->fd = -1;
}

/* Open a non-blocking socket, start connecting, and register with the
 * registry. 0 or -errno. */
static int start(struct http_get *req)
{
    req->fd = socket(server.sockaddr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (req->fd < 0)
        return -errno;
    if (connect(req->fd, (struct sockaddr *) &server.sockaddr, server.len) < 0 &&
        errno != EINPROGRESS)
        return -errno;
        /* Connected or not yet, the answer comes through the registry: EPOLLOUT
           when the connection is up, EPOLLIN (or an error) after that. */
#ifndef BUG_REGISTER_LATE
    int err = runtime_register(req->fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
    if (err < 0)
        return err;
    req->registered = true;
#endif
    return 0;
}

/* Send what is left of the request. 0 when all is sent, -EAGAIN when the
 * socket is not ready (still connecting, or its buffer is full), else -errno. */
static int send_request(struct http_get *req)
{
    while (req->sent < req->request_len) {
        ssize_t n =
            send(req->fd, req->request + req->sent, req->request_len - req->sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        }
        req->sent += (size_t) n;
    }
    return 0;
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

/* Read until the response is complete or the server closes the connection.
 * 0 at the end of the response, -EAGAIN when no more bytes are there yet,
 * -EFBIG when the response is too large, else -errno. */
static int receive_response(struct http_get *req)
{
    for (;;) {
        if (req->cap - req->len < 1024) { /* keep room for a read and the NUL */
            if (req->cap >= MAX_RESPONSE)
                return -EFBIG;
            req->cap = req->cap ? 2 * req->cap : 4096;
            req->response = xrealloc(req->response, req->cap);
        }
        ssize_t n = read(req->fd, req->response + req->len, req->cap - req->len - 1);
        if (n > 0) {
            req->len += (size_t) n;
            if (response_complete(req))
                return 0;
            continue;
        }
        if (n == 0) /* the server closed: all is here */
            return 0;
        if (errno == EINTR)
            continue;
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
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
    close_socket(req);
    if (output != NULL)
        *(char **) output = text;
    else
        free(text);
    return POLL_READY;
}

/* Nothing more can be done now. Past the deadline, give up; before it, say
 * POLL_PENDING: the registry wakes block_on when the socket is ready, and
 * runtime_wake_by() makes sure it wakes at the deadline if nothing comes. */
static enum poll_status wait_or_give_up(struct http_get *req, void *output)
{
    if (now_ns() < req->deadline) {
        runtime_wake_by(req->deadline);
        return POLL_PENDING;
    }
    atomic_fetch_add(&timed_out, 1);
    atomic_store(&failed, true);
    return finish(req, NULL, output);
}

static enum poll_status http_poll(struct future *self, void *output)
{
    struct http_get *req = (struct http_get *) self;
    int err;

    if (req->state == START) {
        atomic_fetch_add(&started, 1);
        req->deadline = now_ns() + (uint64_t) timeout_ms * 1000000u;
        if ((err = start(req)) < 0) {
            report(req->path, "cannot connect to", -err);
            return finish(req, NULL, output);
        }
        req->state = SENDING;
        return wait_or_give_up(req, output); /* the first poll only starts */
    }

    if (req->state == SENDING) {
        err = send_request(req);
        if (err == -EAGAIN)
            return wait_or_give_up(req, output);
        if (err < 0) {
            /* A refused connection shows up here, at the first send. */
            report(req->path, "cannot connect to", -err);
            return finish(req, NULL, output);
        }
        req->state = RECEIVING;
#ifdef BUG_REGISTER_LATE /* exercise 2 (README.md): registered only once sent */
        if (runtime_register(req->fd, EPOLLIN | EPOLLRDHUP) == 0)
            req->registered = true;
#endif
    }

    err = receive_response(req);
    if (err == -EAGAIN)
        return wait_or_give_up(req, output);
    if (err == -EFBIG)
        report(req->path, "got a response larger than 1 MiB from", 0);
    else if (err < 0)
        report(req->path, "lost the connection to", -err);
    return finish(req, err == 0 ? take_response(req) : NULL, output);
}

static void http_drop(struct future *self)
{
    struct http_get *req = (struct http_get *) self;
    close_socket(req);
    free(req->path);
    free(req->request);
    free(req->response);
    free(req);
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
