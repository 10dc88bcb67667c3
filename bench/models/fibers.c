/* fibers.c: bench/models, model 3: a fiber per request on ch03's fiber
 * runtime (ch03-fibers/c-fibers fiber.c + switch.S), over a small epoll loop.
 *
 * A fiber writes its GET as straight-line blocking-style code; where a call
 * would block (EAGAIN) it yields until the loop has seen an event for its
 * socket. ch03's fibers have no "blocked" state (a fiber is READY, RUNNING
 * or finished), so a waiting fiber stays READY and checks its flag each time
 * its turn comes. The main fiber runs one round of every fiber
 * (fiber_yield), then sleeps in epoll_wait until some socket has news, marks
 * those fibers woken, and runs the next round. */
#include "fiber.h"
#include "poll.h"

#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define EVENTS_PER_WAIT 1024

struct request {
    bool woken; /* the loop saw an event for its socket since the fiber last looked */
    bool ok;    /* the output: the answer said 200 OK */
    bool done;  /* the fiber has finished: later events are stale */
};

/* What every fiber shares, set up by main before the first one runs. */
static struct bench_job job;
static struct poll queue;
static struct request *requests;
static int woken_count; /* requests with woken set: the loop must not sleep */
static int left;        /* fibers not finished yet */

/* Yield until the loop has seen an event for this request's socket. */
static void wait_for_event(struct request *r)
{
    while (!r->woken)
        fiber_yield();
    r->woken = false;
    woken_count--;
}

/* The body of a fiber: one GET, written as if every call blocked. */
static void get_fiber(void *data)
{
    struct request *r = data;
    char head[12];
    size_t head_length = 0, sent = 0;

    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto out;
    if (connect(fd, (struct sockaddr *) &job.server, sizeof job.server) < 0 && errno != EINPROGRESS)
        goto close;
    if (poll_register(poll_registry(&queue), fd, (uint64_t) (r - requests),
                      EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) < 0)
        goto close;
    while (sent < job.request_length) {
        ssize_t n = send(fd, job.request + sent, job.request_length - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EAGAIN)
            wait_for_event(r); /* still connecting */
        else if (n < 0 && errno != EINTR)
            goto close; /* refused */
        else if (n > 0)
            sent += (size_t) n;
    }
    for (;;) {
        char buffer[1024];
        ssize_t n = read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EAGAIN) {
            wait_for_event(r);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* the server closed (Connection: close), or an error */
        size_t keep = sizeof head - head_length;
        if (keep > (size_t) n)
            keep = (size_t) n;
        memcpy(head + head_length, buffer, keep);
        head_length += keep;
    }
    r->ok = bench_is_ok(head, head_length);
close:
    close(fd); /* also removes it from the epoll set */
out:
    if (r->woken) { /* a last event nobody waits for any more */
        r->woken = false;
        woken_count--;
    }
    r->done = true;
    left--;
}

int main(int argc, char **argv)
{
    char extra[160];
    snprintf(extra, sizeof extra,
             "Built with FIBER_MAX %d (so at most %d requests) and %d-byte fiber stacks.\n",
             FIBER_MAX, FIBER_MAX - 1, FIBER_STACK_SIZE);
    bench_start(argc, argv, extra, false, &job);
    int n = job.options.requests;
    requests = calloc((size_t) n, sizeof *requests);
    struct poll_events events;
    if (requests == NULL || poll_events_init(&events, EVENTS_PER_WAIT) < 0)
        bench_die("out of memory for %d requests", n);
    int err = poll_open(&queue);
    if (err < 0)
        bench_die("epoll_create1: %s", strerror(-err));

    double start = bench_now();
    for (int i = 0; i < n; i++) {
        int id = fiber_spawn(get_fiber, &requests[i]);
        if (id == -EAGAIN) {
            printf("models: model=fibers n=%d error=fiber %d does not fit: the fiber table "
                   "has FIBER_MAX %d slots, one of them the main fiber\n",
                   n, i + 1, FIBER_MAX);
            return 1;
        }
        if (id < 0)
            bench_die("fiber_spawn #%d: %s", i + 1, strerror(-id));
        left++;
    }
    for (;;) {
        fiber_yield(); /* one round: every fiber runs until it waits or ends */
        if (left == 0)
            break;
        err = poll_wait(&queue, &events, woken_count > 0 ? 0 : POLL_FOREVER);
        if (err < 0 && err != -EINTR)
            bench_die("epoll_wait: %s", strerror(-err));
        for (int e = 0; e < events.count; e++) {
            struct request *r = &requests[poll_event_token(&events.items[e])];
            if (!r->woken && !r->done) {
                r->woken = true;
                woken_count++;
            }
        }
    }
    double wall = bench_now() - start;
    fiber_run(); /* every fiber has finished: release the stacks */

    int ok = 0;
    for (int i = 0; i < n; i++)
        ok += requests[i].ok;
    bench_report("fibers", n, ok, wall, "");
    poll_events_free(&events);
    poll_close(&queue);
    free(requests);
    return 0;
}
