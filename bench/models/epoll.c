/* epoll.c: bench/models, model 2: ch02's raw event loop. One thread, N
 * non-blocking sockets registered edge-triggered with ch02-epoll's poll.c;
 * each event is handled by looking the token up in a plain array of small
 * structs. No futures, no wakers, no stacks: the least a program can keep
 * per request. */
#include "poll.h"

#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define EVENTS_PER_WAIT 1024

/* Everything the loop keeps about one request. */
struct connection {
    int fd;        /* -1 once the request is over */
    unsigned sent; /* bytes of the request sent so far */
    unsigned char head_length;
    char head[12]; /* the first bytes of the answer: "HTTP/1.1 200" */
};

/* Make progress on c after an event. Returns true when the request is over
 * (answered, refused or broken): its socket is closed then. */
static bool advance(struct connection *c, const char *request, size_t request_length)
{
    while (c->sent < request_length) {
        ssize_t n = send(c->fd, request + c->sent, request_length - c->sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return false; /* still connecting, or the buffer is full: wait */
        if (n < 0)
            goto over; /* refused: the error shows up at the first send */
        c->sent += (unsigned) n;
    }
    for (;;) {
        char buffer[1024];
        ssize_t n = read(c->fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return false; /* edge-triggered: read until EAGAIN, then wait */
        if (n <= 0)
            goto over; /* the server closed (Connection: close), or an error */
        size_t keep = sizeof c->head - c->head_length;
        if (keep > (size_t) n)
            keep = (size_t) n;
        memcpy(c->head + c->head_length, buffer, keep);
        c->head_length = (unsigned char) (c->head_length + keep);
    }
over:
    close(c->fd); /* closing also removes it from the epoll set */
    c->fd = -1;
    return true;
}

int main(int argc, char **argv)
{
    struct bench_job job;
    bench_start(argc, argv, "", false, &job);
    int n = job.options.requests;
    struct connection *connections = calloc((size_t) n, sizeof *connections);
    if (connections == NULL)
        bench_die("out of memory for %d requests", n);
    struct poll queue;
    struct poll_events events;
    int err = poll_open(&queue);
    if (err < 0)
        bench_die("epoll_create1: %s", strerror(-err));
    if (poll_events_init(&events, EVENTS_PER_WAIT) < 0)
        bench_die("out of memory for events");

    double start = bench_now();
    for (int i = 0; i < n; i++) {
        struct connection *c = &connections[i];
        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0)
            bench_die("socket #%d: %s", i + 1, strerror(errno));
        if (connect(c->fd, (struct sockaddr *) &job.server, sizeof job.server) < 0 &&
            errno != EINPROGRESS)
            bench_die("connect #%d: %s", i + 1, strerror(errno));
        err = poll_register(poll_registry(&queue), c->fd, (uint64_t) i,
                            EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
        if (err < 0)
            bench_die("epoll_ctl #%d: %s", i + 1, strerror(-err));
    }
    int left = n;
    while (left > 0) {
        err = poll_wait(&queue, &events, POLL_FOREVER);
        if (err == -EINTR)
            continue;
        if (err < 0)
            bench_die("epoll_wait: %s", strerror(-err));
        for (int e = 0; e < events.count; e++) {
            struct connection *c = &connections[poll_event_token(&events.items[e])];
            if (c->fd >= 0 && advance(c, job.request, job.request_length))
                left--;
        }
    }
    double wall = bench_now() - start;

    int ok = 0;
    for (int i = 0; i < n; i++)
        ok += bench_is_ok(connections[i].head, connections[i].head_length);
    bench_report("epoll", n, ok, wall, "");
    poll_events_free(&events);
    poll_close(&queue);
    free(connections);
    return 0;
}
