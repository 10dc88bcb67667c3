/* main.c: ch02-epoll. Sends N requests to the delay server, each on its own
 * non-blocking socket, then waits for every answer on one thread with the
 * event queue of poll.h. Run ./epoll --help for the options. */
#include "poll.h"

#include "../common/addr.h"
#include "../common/alloc.h"
#include "../common/args.h"
#include "../common/clock.h"
#include "../common/errors.h"
#include "../common/response.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define DEFAULT_REQUESTS 5
#define MAX_REQUESTS 10000
#define STEP_MS 1000             /* request i waits (N-i) steps... */
#define LONGEST_DELAY_MS 5000    /* ...but no request waits longer than this */
#define MAX_RESPONSE (64 * 1024) /* the delay server's answers are tiny */
#define EVENTS_PER_WAIT 64

/* What we know about one request. Its index in the streams array is also
 * its token, so an event leads straight back here. */
struct stream {
    int fd;            /* the connection; stays registered until the end */
    bool done;         /* response complete: later events are ignored */
    uint64_t start_ns; /* when its connect began: its deadline counts from here */
    char *response;    /* the bytes received so far */
    size_t length;     /* bytes used in response */
    size_t capacity;   /* bytes allocated for response */
};

struct options {
    unsigned requests; /* -n */
    bool full;         /* --full: the whole response, not one line */
    bool rearm;        /* --rearm: ask the kernel to repeat a finished stream */
};

/* ===== Command line ===== */

/* A mistake on the command line: one line on stderr, exit status 2. */
__attribute__((format(printf, 1, 2), noreturn)) static void usage_error(const char *format, ...)
{
    va_list args;
    fprintf(stderr, "%s: ", program_invocation_short_name);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputc('\n', stderr);
    exit(2);
}

static void usage(void)
{
    printf("usage: epoll [-n N] [--full] [--rearm]\n"
           "\n"
           "Sends N requests to the delay server at DELAYSERVER_ADDR\n"
           "(default %s), each on its own non-blocking socket, then waits\n"
           "for all the answers on one thread with an edge-triggered epoll queue.\n"
           "\n"
           "Request i (counting from 0) is GET /<delay>/request-i with a delay of\n"
           "(N-i)*%d ms, so the first request sent is the last one answered. Above\n"
           "%d requests the delays are squeezed into %d ms, (N-i)*%d/N ms rounded\n"
           "down, so no run needs much more than %d seconds. A request not answered\n"
           "DELAYSERVER_TIMEOUT_MS after it started (default %d) ends the run.\n"
           "\n"
           "  -n N        number of requests, 1 to %d (default %d)\n"
           "  --full      print each whole response instead of one line per response\n"
           "  --rearm     after a response completes, re-register its socket so the\n"
           "              kernel reports it again; the program must ignore that event\n"
           "  -h, --help  show this help\n",
           SERVER_ADDR_DEFAULT, STEP_MS, LONGEST_DELAY_MS / STEP_MS, LONGEST_DELAY_MS,
           LONGEST_DELAY_MS, LONGEST_DELAY_MS / 1000, SERVER_TIMEOUT_MS_DEFAULT, MAX_REQUESTS,
           DEFAULT_REQUESTS);
}

static struct options parse_options(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"full", no_argument, NULL, 'f'},
        {"rearm", no_argument, NULL, 'r'},
        {NULL, 0, NULL, 0},
    };
    struct options options = {.requests = DEFAULT_REQUESTS};
    unsigned long long n;
    bool help = false;
    int c;

    opterr = 0; /* we print our own one-line messages */
    while ((c = getopt_long(argc, argv, ":n:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (parse_count(optarg, 1, MAX_REQUESTS, &n) < 0)
                usage_error("-n wants a number from 1 to %d, not '%s'", MAX_REQUESTS, optarg);
            options.requests = (unsigned) n;
            break;
        case 'f':
            options.full = true;
            break;
        case 'r':
            options.rearm = true;
            break;
        case 'h':
            help = true;
            break;
        case ':':
            usage_error("%s needs a value (try --help)", argv[optind - 1]);
        default:
            usage_error("bad option '%s' (try --help)", argv[optind - 1]);
        }
    }
    if (optind < argc)
        usage_error("unexpected argument '%s' (try --help)", argv[optind]);
    if (help && argc > 2) /* --help alone, or it is a mistake */
        usage_error("--help takes no other argument (try --help)");
    if (help) {
        usage();
        exit(0);
    }
    return options;
}

/* The delay request i asks for; see usage(). */
static long delay_ms(unsigned i, unsigned requests)
{
    if (requests * STEP_MS <= LONGEST_DELAY_MS)
        return (long) (requests - i) * STEP_MS;
    return (long) (requests - i) * LONGEST_DELAY_MS / (long) requests;
}

/* ===== Connecting ===== */

/* A connected socket, still in blocking mode. Blocking is fine for the
 * handful of microseconds a loopback connect takes; the send timeout (the
 * request's whole allowance) keeps a server that never accepts from hanging
 * us. */
static int connect_to(const struct server_addr *server, long timeout_ms)
{
    struct timeval timeout = {.tv_sec = timeout_ms / 1000, .tv_usec = timeout_ms % 1000 * 1000};
    int fd = socket(server->sockaddr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("cannot create a socket: %s", strerror(errno));
    if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout) < 0)
        die("setsockopt(SO_SNDTIMEO): %s", strerror(errno));
    while (connect(fd, (const struct sockaddr *) &server->sockaddr, server->len) < 0) {
        /* Stopped and continued (Ctrl-Z, fg) mid-handshake? Calling connect
         * again makes Linux wait for the same handshake, or says it is done. */
        if (errno == EINTR)
            continue;
        if (errno == EISCONN)
            break;
        die("cannot connect to %s: %s", server->text,
            errno == EINPROGRESS || errno == EALREADY ? "timed out" : strerror(errno));
    }
    return fd;
}

/* Write all of buf: a blocking send may still stop short after a signal. */
static void send_all(int fd, const char *buf, size_t length, const char *addr)
{
    while (length > 0) {
        ssize_t n = send(fd, buf, length, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("cannot send to %s: %s", addr, errno == EAGAIN ? "timed out" : strerror(errno));
        buf += n;
        length -= (size_t) n;
    }
}

static void set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        die("cannot make a socket non-blocking: %s", strerror(errno));
}

/* Each request holds one file descriptor until the end, so -n 1000 needs
 * more than the usual soft limit of 1024. Raise it as far as needed, if the
 * hard limit allows. */
static void ensure_fd_limit(unsigned requests)
{
    struct rlimit limit;
    rlim_t needed = (rlim_t) requests + 32; /* stdio, the queue, and some slack */

    if (getrlimit(RLIMIT_NOFILE, &limit) < 0)
        die("getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
    if (limit.rlim_cur >= needed)
        return;
    if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < needed)
        die("-n %u needs %llu open files, but the limit is %llu (see ulimit -Hn)", requests,
            (unsigned long long) needed, (unsigned long long) limit.rlim_max);
    limit.rlim_cur = needed;
    if (setrlimit(RLIMIT_NOFILE, &limit) < 0)
        die("cannot raise the open-file limit to %llu: %s", (unsigned long long) needed,
            strerror(errno));
}

/* ===== Reading responses ===== */

/* Exercise 1 (README.md) switches edge-triggered mode off. */
#ifdef BUG_LEVEL_TRIGGERED
#define EDGE_TRIGGERED 0
#else
#define EDGE_TRIGGERED EPOLLET
#endif

enum drain_result { DRAIN_AGAIN, DRAIN_CLOSED };

/* Read everything the socket holds right now. Edge-triggered mode reports a
 * change once, so stopping early would leave bytes no later event mentions:
 * keep reading until the kernel says EAGAIN (empty for now, more may come)
 * or read returns 0 (the server closed the connection: nothing more will). */
static enum drain_result drain(struct stream *s, unsigned index)
{
    for (;;) {
        if (s->capacity - s->length < 1024) {
            size_t capacity = s->capacity ? 2 * s->capacity : 4096;
            if (capacity > MAX_RESPONSE)
                die("request-%u: the answer is over %d bytes; is that the delay server?", index,
                    MAX_RESPONSE);
            s->response = xrealloc(s->response, capacity);
            s->capacity = capacity;
        }
        ssize_t n = read(s->fd, s->response + s->length, s->capacity - s->length);
        if (n > 0) {
            s->length += (size_t) n;
#ifdef BUG_SINGLE_READ
            return DRAIN_AGAIN; /* exercise 4: one read per event */
#endif
            continue; /* there may be more behind it */
        }
        if (n == 0) /* the server closed the connection? */
            return DRAIN_CLOSED;
        if (errno == EAGAIN || errno == EWOULDBLOCK) /* nothing more for now? */
            return DRAIN_AGAIN;
        if (errno == EINTR)
            continue;
        die("request-%u: cannot read the answer: %s", index, strerror(errno));
    }
}

/* The server closed the connection, so s holds all it will ever send.
 * Anything but "HTTP/1.x 200 ...", a blank line and a body means we are not
 * talking to a delay server; say so rather than print a puzzle. */
static void print_response(const struct stream *s, unsigned index, bool full)
{
    if (s->length == 0)
        die("request-%u: the server closed the connection without answering", index);

    const char *status_end = memmem(s->response, s->length, "\r\n", 2);
    const char *head_end = memmem(s->response, s->length, "\r\n\r\n", 4);
    int status_length = status_end ? (int) (status_end - s->response) : 0;
    if (head_end == NULL || status_length < 12 || memcmp(s->response, "HTTP/1.", 7) != 0)
        die("request-%u: the answer is not an HTTP response", index);
    if (memcmp(s->response + 8, " 200", 4) != 0 || (status_length > 12 && s->response[12] != ' '))
        die("request-%u: the server answered '%.*s', not 200 OK", index, status_length,
            s->response);

    if (!full) {
        response_print_line(stdout, s->response, s->length, now_ns() - s->start_ns);
        return;
    }
    /* As received: the lines of the head end in \r\n, the body in nothing. */
    fwrite(s->response, 1, s->length, stdout);
    if (s->response[s->length - 1] != '\n')
        putchar('\n');
    puts("------");
}

/* Handle one event; returns 1 if it completed a response, else 0. */
static int handle_event(const struct epoll_event *event, struct stream *streams, unsigned requests,
                        const struct poll_registry *registry, const struct options *options)
{
    uint64_t token = poll_event_token(event);
    char names[128];

    printf("RECEIVED: events=%s token=%llu\n",
           poll_mask_names(poll_event_mask(event), names, sizeof names),
           (unsigned long long) token);
    assert(token < requests); /* we registered every fd with its index */
    unsigned index = (unsigned) token;
    struct stream *s = &streams[index];

    /* The kernel may report a stream again after we have read its end: the
     * server's close can arrive while we are still reading, and its wake-up
     * is then already queued. Counting that event would end the loop before
     * every response is in. */
#ifndef BUG_NO_DONE_FLAG /* exercise 3 */
    if (s->done) {
        printf("IGNORED: token=%u finished already\n", index);
        return 0;
    }
#endif
    if (drain(s, index) == DRAIN_AGAIN)
        return 0; /* part of an answer, or none yet: wait for the next event */

    s->done = true;
    print_response(s, index, options->full);
    if (options->rearm) {
        /* Re-registering re-checks readiness; the socket is still "readable"
         * (read would return 0 again), so the kernel queues a new event. */
        int err = poll_reregister(registry, s->fd, token, EPOLLIN | EPOLLRDHUP | EDGE_TRIGGERED);
        if (err < 0)
            die("epoll_ctl(EPOLL_CTL_MOD): %s", strerror(-err));
    }
    return 1;
}

/* ===== The deadline ===== */

/* How long poll_wait may sleep: until the deadline of the oldest request
 * still waiting for its answer. Requests start in index order, so that is
 * the first one not done; *oldest only moves forward. Returns 0 once that
 * deadline has passed. */
static int wait_ms(const struct stream *streams, unsigned *oldest, long timeout_ms)
{
    while (streams[*oldest].done)
        (*oldest)++; /* the caller only asks while some stream is not done */
    uint64_t deadline = streams[*oldest].start_ns + (uint64_t) timeout_ms * 1000000u;
    uint64_t now = now_ns();
    if (now >= deadline)
        return 0;
    return (int) ((deadline - now + 999999u) / 1000000u); /* round up: never wake early */
}

/* ===== The program ===== */

int main(int argc, char **argv)
{
    struct options options = parse_options(argc, argv);
    struct server_addr server;
    long timeout_ms = server_timeout_ms();
    if (server_addr_from_env(&server) < 0 || timeout_ms < 0)
        return 1; /* the line saying why is printed */
    unsigned n = options.requests;

    ensure_fd_limit(n);
    struct poll poll;
    struct poll_events events;
    int err = poll_open(&poll);
    if (err < 0)
        die("epoll_create1: %s", strerror(-err));
    if (poll_events_init(&events, EVENTS_PER_WAIT) < 0)
        die("out of memory (%d events)", EVENTS_PER_WAIT);
    const struct poll_registry *registry = poll_registry(&poll);
    struct stream *streams = xcalloc(n, sizeof *streams);

    uint64_t start_ns = now_ns();

    /* Send every request first. None of these calls waits for an answer. */
    for (unsigned i = 0; i < n; i++) {
        char request[256];
        long delay = delay_ms(i, n);
        int length = snprintf(request, sizeof request,
                              "GET /%ld/request-%u HTTP/1.1\r\n"
                              "Host: %s\r\n"
                              "Connection: close\r\n"
                              "\r\n",
                              delay, i, server.text);
        assert(length > 0 && (size_t) length < sizeof request); /* server.text is short */

        streams[i].start_ns = now_ns();
        streams[i].fd = connect_to(&server, timeout_ms);
        send_all(streams[i].fd, request, (size_t) length, server.text);
        set_nonblocking(streams[i].fd);
        /* Token i brings events for this socket back to streams[i].
         * EPOLLRDHUP makes the server's close show up in the event mask. */
        err = poll_register(registry, streams[i].fd, (uint64_t) i,
                            EPOLLIN | EPOLLRDHUP | EDGE_TRIGGERED);
        if (err < 0)
            die("epoll_ctl(EPOLL_CTL_ADD): %s", strerror(-err));
        printf("SENT: GET /%ld/request-%u token=%u\n", delay, i, i);
    }

    /* Then wait. Every pass sleeps until the kernel has news for us, or
     * until the oldest unanswered request has waited timeout_ms. */
    /* LESSON event-loop: Wait for events and handle them until every response is in.
     * hint: Loop while fewer than n are finished: poll_wait for at most
     *   wait_ms(), wait again on -EINTR, give up (die) when wait_ms() says the
     *   oldest request's deadline passed, and add up handle_event() of each event.
     * stub:
     *   (void) handle_event, (void) wait_ms, (void) timeout_ms;
     *   lesson_missing("event-loop"); */
    unsigned finished = 0, oldest = 0;
    while (finished < n) {
#ifdef EXERCISE_2 /* README.md: say TIMEOUT after every 500 ms without news */
        int wait = wait_ms(streams, &oldest, timeout_ms);
        int count = poll_wait(&poll, &events, wait < 500 ? wait : 500);
        if (count == 0 && wait_ms(streams, &oldest, timeout_ms) > 0) {
            printf("TIMEOUT\n");
            continue;
        }
#else
        int count = poll_wait(&poll, &events, wait_ms(streams, &oldest, timeout_ms));
#endif
        /* Interrupted? That happens even without signal handlers: press
         * Ctrl-Z and then fg, and epoll_wait returns EINTR. Nothing is lost;
         * wait again for the time that is left. */
        if (count == -EINTR)
            continue;
        if (count < 0)
            die("epoll_wait: %s", strerror(-count));
        if (count == 0 && wait_ms(streams, &oldest, timeout_ms) == 0) /* a deadline passed? */
            die("gave up after %g s: %u of %u responses never came", (double) timeout_ms / 1000,
                n - finished, n);
        for (int i = 0; i < events.count; i++)
            finished += handle_event(&events.items[i], streams, n, registry, &options);
    }
    /* END LESSON event-loop */
    printf("FINISHED\n");
    printf("ELAPSED TIME: %.3f s\n", (double) (now_ns() - start_ns) / 1e9);

    /* Tear down in the opposite order. Closing a socket would also drop its
     * registration; deregistering first says what we mean. */
    for (unsigned i = 0; i < n; i++) {
        err = poll_deregister(registry, streams[i].fd);
        if (err < 0)
            die("epoll_ctl(EPOLL_CTL_DEL): %s", strerror(-err));
        close(streams[i].fd);
        free(streams[i].response);
    }
    free(streams);
    poll_events_free(&events);
    poll_close(&poll);
    return 0;
}
