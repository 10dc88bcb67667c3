/* http.c: the leaf future of ch05: one HTTP GET over a non-blocking socket,
 * waiting for readiness through the reactor. Introduced in ch05-runtime
 * step a; from step b on it hands its waker to the reactor. */
#include "http.h"

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "reactor.h"

#define MAX_RESPONSE (1 << 20)  /* a delay server answer is tiny; more is garbage */

/* ===== The server's address and error reporting ===== */

static struct sockaddr_storage server;     /* written once by http_init() */
static socklen_t server_len;
static char server_name[256];              /* "host:port", for messages */
static atomic_bool failed;

/* Whether `text` is a port number, 1 to 65535, in decimal digits only.
   getaddrinfo() alone would take 99999 and quietly use 99999 % 65536. */
static bool is_port(const char *text)
{
    long port = 0;
    for (const char *c = text; *c != '\0'; c++) {
        if (*c < '0' || *c > '9' || c - text >= 5)
            return false;
        port = port * 10 + (*c - '0');
    }
    return port >= 1 && port <= 65535;
}

int http_init(void)
{
    const char *addr = getenv("DELAYSERVER_ADDR");
    if (addr == NULL || *addr == '\0')
        addr = "127.0.0.1:8080";
    const char *colon = strrchr(addr, ':');
    if (colon == NULL || colon == addr || !is_port(colon + 1) || strlen(addr) >= sizeof server_name) {
        fprintf(stderr, "%s: DELAYSERVER_ADDR='%s' is not host:port\n",
                program_invocation_short_name, addr);
        return -1;
    }
    char host[sizeof server_name];
    snprintf(host, sizeof host, "%.*s", (int)(colon - addr), addr);
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
    struct addrinfo *found;
    int err = getaddrinfo(host, colon + 1, &hints, &found);
    if (err != 0) {
        fprintf(stderr, "%s: DELAYSERVER_ADDR='%s': %s\n",
                program_invocation_short_name, addr, gai_strerror(err));
        return -1;
    }
    memcpy(&server, found->ai_addr, found->ai_addrlen);
    server_len = found->ai_addrlen;
    freeaddrinfo(found);
    snprintf(server_name, sizeof server_name, "%s", addr);
    return 0;
}

bool http_failed(void)
{
    return atomic_load(&failed);
}

/* Report a failed request; only the first one in the program prints. */
static void report(const char *path, const char *what, int err)
{
    if (atomic_exchange(&failed, true))
        return;
    if (err != 0)
        fprintf(stderr, "%s: GET %s: %s %s: %s\n", program_invocation_short_name,
                path, what, server_name, strerror(err));
    else
        fprintf(stderr, "%s: GET %s: %s %s\n", program_invocation_short_name,
                path, what, server_name);
}

const char *http_body(const char *response)
{
    const char *blank = strstr(response, "\n\n");
    return blank != NULL ? blank + 2 : "";
}

/* ===== The future ===== */

struct http_get {
    struct future base;         /* first member: a struct future * points here */
    enum { START, SENDING, RECEIVING } state;
    int fd;                     /* -1 before the first poll */
    bool registered;            /* the reactor knows fd under `token` */
    uint64_t token;
    char *path;                 /* what we ask for, owned */
    char *request;              /* the bytes to send, owned */
    size_t request_len, sent;
    char *response;             /* what came back so far, owned, NUL-terminated */
    size_t len, cap;
};

/* Let go of the socket: deregister first, so no event for a closed (and
 * perhaps reused) fd number can reach the reactor's table. */
static void close_socket(struct http_get *req)
{
    if (req->registered)
        reactor_deregister(req->fd, req->token);
    req->registered = false;
    if (req->fd >= 0)
        close(req->fd);
    req->fd = -1;
}

/* Open a non-blocking socket, start connecting, and register with the
 * reactor. 0 or -errno. */
static int start(struct http_get *req, struct waker *waker)
{
    req->fd = socket(server.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (req->fd < 0)
        return -errno;
    if (connect(req->fd, (struct sockaddr *)&server, server_len) < 0 && errno != EINPROGRESS)
        return -errno;
    /* Connected or not yet, the answer comes through the reactor: EPOLLOUT
       when the connection is up, EPOLLIN (or an error) after that. */
    int err = reactor_register(req->fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP, waker, &req->token);
    if (err < 0)
        return err;
    req->registered = true;
    return 0;
}

/* Send what is left of the request. 0 when all is sent, -EAGAIN when the
 * socket is not ready (still connecting, or its buffer is full), else -errno. */
static int send_request(struct http_get *req)
{
    while (req->sent < req->request_len) {
        ssize_t n = send(req->fd, req->request + req->sent,
                         req->request_len - req->sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        }
        req->sent += (size_t)n;
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
            return req->len >= (size_t)(end + 4 - req->response) + body;
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
        if (req->cap - req->len < 1024) {     /* keep room for a read and the NUL */
            if (req->cap >= MAX_RESPONSE)
                return -EFBIG;
            size_t cap = req->cap ? 2 * req->cap : 4096;
            char *grown = realloc(req->response, cap);
            if (grown == NULL)
                return -ENOMEM;
            req->response = grown;
            req->cap = cap;
        }
        ssize_t n = read(req->fd, req->response + req->len, req->cap - req->len - 1);
        if (n > 0) {
            req->len += (size_t)n;
            if (response_complete(req))
                return 0;
            continue;
        }
        if (n == 0)                           /* the server closed: all is here */
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
    text[req->len] = '\0';
    if (req->len == 0) {
        report(req->path, "the connection was closed without an answer by", 0);
        return NULL;
    }
    if (strncmp(text, "HTTP/1.", 7) != 0 || strlen(text) != req->len ||
        strstr(text, "\r\n\r\n") == NULL) {
        report(req->path, "got something that is not an HTTP response from", 0);
        return NULL;
    }
    char *to = text;                          /* "\r\n" -> "\n", in place */
    for (const char *from = text; *from != '\0'; from++)
        if (!(from[0] == '\r' && from[1] == '\n'))
            *to++ = *from;
    *to = '\0';
    req->response = NULL;
    req->len = req->cap = 0;
    return text;
}

static enum poll_status http_poll(struct future *self, struct waker *waker, void *output)
{
    struct http_get *req = (struct http_get *)self;
    char *text = NULL;
    int err;

    /* Hand the reactor the waker of this poll before trying any I/O (see
       reactor.h for why the order matters). */
    if (req->state == START) {
        if ((err = start(req, waker)) < 0) {
            report(req->path, "cannot connect to", -err);
            goto done;
        }
        req->state = SENDING;
    } else {
        reactor_set_waker(req->token, waker);
    }

    if (req->state == SENDING) {
        err = send_request(req);
        if (err == -EAGAIN)
            return POLL_PENDING;
        if (err < 0) {
            /* A refused connection shows up here, at the first send. */
            report(req->path, "cannot connect to", -err);
            goto done;
        }
        req->state = RECEIVING;
    }

    err = receive_response(req);
    if (err == -EAGAIN)
        return POLL_PENDING;
    if (err == -EFBIG)
        report(req->path, "got a response larger than 1 MiB from", 0);
    else if (err < 0)
        report(req->path, "lost the connection to", -err);
    else
        text = take_response(req);
done:
    close_socket(req);
    if (output != NULL)
        *(char **)output = text;
    else
        free(text);
    return POLL_READY;
}

static void http_drop(struct future *self)
{
    struct http_get *req = (struct http_get *)self;
    close_socket(req);
    free(req->path);
    free(req->request);
    free(req->response);
    free(req);
}

struct future *http_get(const char *path_format, ...)
{
    struct http_get *req = calloc(1, sizeof *req);
    va_list args;
    va_start(args, path_format);
    int ok = req != NULL && vasprintf(&req->path, path_format, args) >= 0;
    va_end(args);
    int len = ok ? asprintf(&req->request, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
                            req->path, server_name) : -1;
    if (len < 0) {
        fprintf(stderr, "%s: out of memory\n", program_invocation_short_name);
        abort();
    }
    req->base.poll = http_poll;
    req->base.drop = http_drop;
    req->state = START;
    req->fd = -1;
    req->request_len = (size_t)len;
    return &req->base;
}
