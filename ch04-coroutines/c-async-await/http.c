/* http.c: http_get(), a leaf future that fetches one response from the delay
 * server over a non-blocking socket. Introduced in ch04-coroutines step a.
 * After its first poll it never blocks: each poll takes what has arrived and
 * returns at once. */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "http.h"

#define DEFAULT_SERVER_ADDR "127.0.0.1:8080"
#define CONNECT_TIMEOUT_SECONDS 5    /* a host that drops packets fails in seconds, not minutes */
#define MAX_RESPONSE_BYTES (1 << 20) /* the delay server never sends this much */

/* ===== Errors ===== */

/* Print "<program>: <message>" on stderr and exit with status 1. */
static void die(const char *format, ...) __attribute__((noreturn, format(printf, 1, 2)));

static void die(const char *format, ...)
{
    va_list args;

    fflush(stdout); /* what the program printed so far comes first */
    fprintf(stderr, "%s: ", program_invocation_short_name);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputc('\n', stderr);
    exit(1);
}

static void *checked_realloc(void *old, size_t size)
{
    void *p = realloc(old, size);
    if (p == NULL)
        die("out of memory");
    return p;
}

/* ===== Connecting to the delay server ===== */

static const char *server_addr(void)
{
    const char *addr = getenv("DELAYSERVER_ADDR");
    return addr != NULL && addr[0] != '\0' ? addr : DEFAULT_SERVER_ADDR;
}

/* Split "host:port" (or "[v6 address]:port") into host and port, or die. */
static void split_addr(const char *addr, char *host, size_t host_size, char *port, size_t port_size)
{
    const char *colon = strrchr(addr, ':');
    const char *host_start = addr;
    size_t host_length = colon != NULL ? (size_t) (colon - addr) : 0;
    char *end = NULL;
    long number =
        colon != NULL && isdigit((unsigned char) colon[1]) ? strtol(colon + 1, &end, 10) : 0;

    if (host_length >= 2 && addr[0] == '[' && addr[host_length - 1] == ']') {
        host_start++;
        host_length -= 2;
    }
    if (host_length == 0 || host_length >= host_size || number < 1 || number > 65535 ||
        *end != '\0')
        die("DELAYSERVER_ADDR must look like 127.0.0.1:8080 (host:port), not '%s'", addr);
    memcpy(host, host_start, host_length);
    host[host_length] = '\0';
    snprintf(port, port_size, "%ld", number);
}

/* Open a connection to the delay server and return its socket, or die.
 * The socket is still blocking: connecting to a local server takes
 * microseconds, and the timeout bounds it for any other host. */
static int connect_to_server(void)
{
    const char *addr = server_addr();
    char host[256], port[8];
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *found;
    int fd = -1, error = 0;

    split_addr(addr, host, sizeof host, port, sizeof port);
    int status = getaddrinfo(host, port, &hints, &found);
    if (status != 0)
        die("cannot find the delay server at %s: %s", addr, gai_strerror(status));

    for (struct addrinfo *ai = found; ai != NULL && fd < 0; ai = ai->ai_next) {
        struct timeval timeout = {.tv_sec = CONNECT_TIMEOUT_SECONDS};

        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            error = errno;
            continue;
        }
        /* On Linux the send timeout also bounds connect(); it then fails with EINPROGRESS. */
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            error = errno == EINPROGRESS ? ETIMEDOUT : errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(found);
    if (fd < 0)
        die("cannot connect to the delay server at %s: %s (is delayserver running?)", addr,
            strerror(error));
    return fd;
}

/* Send the whole request, or die. MSG_NOSIGNAL: a server that has already
 * closed the connection gives us EPIPE, not a SIGPIPE that kills the program. */
static void send_request(int fd, const char *path)
{
    char *request;
    int length = asprintf(&request, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
                          path, server_addr());
    if (length < 0)
        die("out of memory");

    for (int sent = 0; sent < length;) {
        ssize_t n = send(fd, request + sent, (size_t) (length - sent), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("cannot send a request to the delay server at %s: %s", server_addr(),
                strerror(errno));
        sent += (int) n;
    }
    free(request);
}

static void set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        die("cannot make a socket non-blocking: %s", strerror(errno));
}

/* ===== The future ===== */

enum http_state {
    HTTP_START,   /* not polled yet: no connection, nothing sent */
    HTTP_READING, /* request sent; collecting the response */
    HTTP_DONE,    /* the response was handed out (or discarded) */
};

struct http_get {
    struct future base;    /* first, so the struct future * we hand out points here */
    enum http_state state; /* what the next poll does */
    char *path;            /* our own copy of the path */
    int fd;                /* the connection while READING, else -1 */
    char *text;            /* the response so far, NUL-terminated (NULL until data arrives) */
    size_t length;         /* bytes in text, not counting the NUL */
    size_t capacity;       /* bytes allocated for text */
};

/* Read everything that has arrived. POLL_READY means the server closed the
 * connection, so the response is complete; POLL_PENDING means there is
 * nothing more to read yet. */
static enum poll_status read_available(struct http_get *get)
{
    for (;;) {
        if (get->capacity - get->length < 2) { /* room for one byte and the NUL? */
            if (get->capacity >= MAX_RESPONSE_BYTES)
                die("the server at %s sent more than %d bytes: it is not a delay server",
                    server_addr(), MAX_RESPONSE_BYTES);
            get->capacity = get->capacity == 0 ? 1024 : 2 * get->capacity;
            get->text = checked_realloc(get->text, get->capacity);
        }
        ssize_t n = read(get->fd, get->text + get->length, get->capacity - get->length - 1);
        if (n > 0) {
            get->length += (size_t) n;
            get->text[get->length] = '\0';
        } else if (n == 0) { /* peer closed the connection? then we have it all */
            return POLL_READY;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) { /* nothing more yet? */
            return POLL_PENDING;
        } else if (errno != EINTR) {
            die("cannot read from the delay server at %s: %s", server_addr(), strerror(errno));
        }
    }
}

static enum poll_status http_get_poll(struct future *self, void *output)
{
    struct http_get *get = (struct http_get *) self;

    switch (get->state) {
    case HTTP_START:
        /* The first poll starts the operation and never waits for it. */
        get->fd = connect_to_server();
        send_request(get->fd, get->path);
        set_nonblocking(get->fd);
        get->state = HTTP_READING;
        printf("FIRST POLL - START OPERATION\n");
        return POLL_PENDING;

    case HTTP_READING:
        if (read_available(get) == POLL_PENDING)
            return POLL_PENDING;
        close(get->fd);
        get->fd = -1;
        get->state = HTTP_DONE;
        if (get->length == 0)
            die("the server at %s closed the connection without answering", server_addr());
        if (strncmp(get->text, "HTTP/1.", 7) != 0)
            die("the server at %s answered something that is not HTTP", server_addr());
        if (output != NULL) {
            *(char **) output = get->text; /* the caller owns it now */
            get->text = NULL;
        }
        return POLL_READY;

    case HTTP_DONE:
        break;
    }
    fprintf(stderr, "%s: http_get polled after it completed\n", program_invocation_short_name);
    abort();
}

static void http_get_drop(struct future *self)
{
    struct http_get *get = (struct http_get *) self;

    if (get->fd >= 0)
        close(get->fd);
    free(get->text);
    free(get->path);
    free(get);
}

struct future *http_get(const char *path)
{
    assert(path[0] == '/' && path[strcspn(path, " \r\n")] == '\0');

    struct http_get *get = checked_realloc(NULL, sizeof *get);
    *get = (struct http_get){
        .base = {.poll = http_get_poll, .drop = http_get_drop},
        .state = HTTP_START,
        .path = strdup(path),
        .fd = -1,
    };
    if (get->path == NULL)
        die("out of memory");
    return &get->base;
}
