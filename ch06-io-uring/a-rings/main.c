/* main.c: ch06-io-uring/a-rings. The N delayed requests of ch02-epoll, made
 * through io_uring (ring.h): each request is three operations (connect, send,
 * receive) handed to the kernel whole, all of them and a deadline timer in
 * one system call; the answers come back as completions that carry their
 * results. Run ./rings --help for the options. */
#include "ring.h"

#ifdef EXERCISE_4
#include <stdatomic.h>
#endif
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../common/addr.h"
#include "../../common/alloc.h"
#include "../../common/args.h"
#include "../../common/clock.h"
#include "../../common/errors.h"
#include "../../common/response.h"

#define DEFAULT_REQUESTS 5
#define MAX_REQUESTS 10000
#define STEP_MS 1000             /* request i waits (N-i) steps... */
#define LONGEST_DELAY_MS 5000    /* ...but no request waits longer than this */
#define OPS_PER_REQUEST 3        /* connect, send, recv: queued together */
#define FIRST_BUFFER 1024        /* a delay server answer is about 150 bytes */
#define MAX_RESPONSE (64 * 1024) /* so a longer one is not from a delay server */
#define EXIT_USAGE 2             /* a bad command line */
#define EXIT_UNAVAILABLE 77      /* io_uring is not available here ("skipped" to test tools) */

/* ===== What the kernel is working on =====
 *
 * Each SQE carries a 64-bit user_data that comes back untouched in its CQE.
 * Here it says which request and which of its operations: the request's
 * index shifted left by OP_BITS, plus the operation. */

enum op { OP_CONNECT, OP_SEND, OP_RECV };
#define OP_BITS 2
#define DEADLINE_USER_DATA UINT64_MAX /* the deadline timer: no request has this index */

static const char *const op_names[] = {"connect", "send", "recv"};

/* One request. While an operation is in flight, the kernel holds a pointer
 * into the request's memory (the text it sends, the buffer it receives
 * into), so neither moves, and neither changes except as its completions
 * say, until the operation has completed. */
struct stream {
    int fd;                /* the socket; every operation of this request uses it */
    char request[256];     /* the GET request; read by the kernel while a send is in flight */
    size_t request_length; /* bytes of request to send */
    size_t sent;           /* bytes the send completions have reported so far */
    char *response;        /* written by the kernel while a recv is in flight */
    size_t length;         /* bytes received so far */
    size_t capacity;       /* bytes allocated for response */
    bool done;             /* the last recv returned 0: nothing of this stream is in flight */
};

struct options {
    int requests;          /* -n */
    bool full;             /* --full: print each whole response */
    unsigned ring_options; /* --no-single-mmap: RING_NO_SINGLE_MMAP */
};

/* Everything the completion handler needs. */
struct client {
    struct ring ring;
    struct stream *streams;            /* requests of them */
    int requests;                      /* -n */
    int finished;                      /* responses complete */
    bool full;                         /* --full */
    struct server_addr server;         /* every connect SQE points at server.sockaddr */
    struct __kernel_timespec deadline; /* the timer SQE points here */
    long timeout_ms;                   /* DELAYSERVER_TIMEOUT_MS */
    uint64_t start_ns;                 /* when the first io_uring_enter began */
    unsigned operations;               /* SQEs queued so far */
    unsigned enters;                   /* calls to io_uring_enter so far */
};

/* ===== Command line ===== */

static void usage(FILE *to)
{
    fprintf(to,
            "usage: rings [-n N] [--full] [--no-single-mmap]\n"
            "\n"
            "Sends N requests to the delay server at DELAYSERVER_ADDR (default %s)\n"
            "through io_uring: each request is a connect, a send and a receive, queued\n"
            "in memory shared with the kernel, and one io_uring_enter submits them all.\n"
            "The kernel reports each finished operation with its result.\n"
            "\n"
            "Request i (counting from 0) is GET /<delay>/request-i with a delay of\n"
            "(N-i)*%d ms, so the first request sent is the last one answered. Above\n"
            "%d requests the delays are squeezed into %d ms, (N-i)*%d/N ms rounded\n"
            "down. A request still unanswered DELAYSERVER_TIMEOUT_MS after the start\n"
            "(default %d) makes the program give up with exit status 1. Where io_uring\n"
            "is not available (an old kernel, a seccomp profile, kernel.io_uring_disabled)\n"
            "it says so in one line and exits with status %d.\n"
            "\n"
            "  -n N              number of requests, 1 to %d (default %d)\n"
            "  --full            print each whole response instead of one line\n"
            "  --no-single-mmap  map the completion ring on its own, as kernels before\n"
            "                    5.4 need, even where one mapping would hold both rings\n"
            "  -h, --help        show this help\n",
            SERVER_ADDR_DEFAULT, STEP_MS, LONGEST_DELAY_MS / STEP_MS, LONGEST_DELAY_MS,
            LONGEST_DELAY_MS, SERVER_TIMEOUT_MS_DEFAULT, EXIT_UNAVAILABLE, MAX_REQUESTS,
            DEFAULT_REQUESTS);
}

/* One line naming the mistake, then exit 2. */
__attribute__((format(printf, 1, 2), noreturn)) static void usage_error(const char *format, ...)
{
    va_list args;
    fprintf(stderr, "%s: ", program_invocation_short_name);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputs(" (try --help)\n", stderr);
    exit(EXIT_USAGE);
}

static struct options parse_options(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"full", no_argument, NULL, 'f'},
        {"no-single-mmap", no_argument, NULL, 'm'},
        {NULL, 0, NULL, 0},
    };
    struct options options = {.requests = DEFAULT_REQUESTS};
    bool help = false;
    unsigned long long n;
    int c;

    opterr = 0; /* we print our own one-line messages */
    while ((c = getopt_long(argc, argv, ":n:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (parse_count(optarg, 1, MAX_REQUESTS, &n) < 0)
                usage_error("-n wants a number from 1 to %d, not '%s'", MAX_REQUESTS, optarg);
            options.requests = (int) n;
            break;
        case 'f':
            options.full = true;
            break;
        case 'm':
            options.ring_options |= RING_NO_SINGLE_MMAP;
            break;
        case 'h':
            help = true;
            break;
        case ':':
            usage_error("%s needs a value", argv[optind - 1]);
        default: /* an unknown short option is optopt; a long one is the word getopt passed */
            if (optopt != 0 && argv[optind - 1][1] != '-')
                usage_error("bad option '-%c'", optopt);
            usage_error("bad option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);
    if (help) {
        usage(stdout);
        exit(0);
    }
    return options;
}

/* The delay request i asks for; see usage(). */
static long delay_ms(int i, int requests)
{
    if (requests * STEP_MS <= LONGEST_DELAY_MS)
        return (long) (requests - i) * STEP_MS;
    return (long) (requests - i) * LONGEST_DELAY_MS / requests;
}

/* "15 s" or, for a deadline that is not whole seconds, "300 ms". */
static const char *duration(long ms, char *buf, size_t size)
{
    if (ms % 1000 == 0)
        snprintf(buf, size, "%ld s", ms / 1000);
    else
        snprintf(buf, size, "%ld ms", ms);
    return buf;
}

/* ===== Setting up ===== */

/* Each request holds one socket until the end, so -n 1000 needs more than
 * the usual soft limit of 1024 descriptors. Raise it as far as needed, if
 * the hard limit allows. */
static void ensure_fd_limit(int requests)
{
    struct rlimit limit;
    rlim_t needed = (rlim_t) requests + 32; /* stdio, the ring, and some slack */

    if (getrlimit(RLIMIT_NOFILE, &limit) < 0)
        die("getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
    if (limit.rlim_cur >= needed)
        return;
    if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < needed)
        die("-n %d needs %llu open files, but the limit is %llu (see ulimit -Hn)", requests,
            (unsigned long long) needed, (unsigned long long) limit.rlim_max);
    limit.rlim_cur = needed;
    if (setrlimit(RLIMIT_NOFILE, &limit) < 0)
        die("cannot raise the open-file limit to %llu: %s", (unsigned long long) needed,
            strerror(errno));
}

/* A ring with a submission slot for every operation of the first batch:
 * three per request and the timer. That is enough for the whole run: a
 * request never has more than three operations queued or in flight (the
 * first three; later a recv, and perhaps the rest of a short send), so no
 * more than 3N+1 slots are ever taken (next_sqe() asserts it). The
 * completion queue is twice as long, so it cannot overflow either. */
static void open_ring(struct ring *ring, int requests, unsigned options)
{
    int err = ring_open(ring, (unsigned) requests * OPS_PER_REQUEST + 1, options);
    if (err == -ENOSYS || err == -EPERM) {
        fflush(stdout);
        fprintf(stderr, "%s: io_uring is not available here: io_uring_setup: %s (%s)\n",
                program_invocation_short_name, strerror(-err),
                err == -ENOSYS ? "a kernel without io_uring, or a seccomp filter that hides it"
                               : "kernel.io_uring_disabled or a seccomp profile forbids it");
        exit(EXIT_UNAVAILABLE);
    }
    if (err < 0)
        die("cannot set up an io_uring: %s", strerror(-err));
    printf("RING: %u SQ entries, %u CQ entries, %s\n", ring->sq_entries, ring->cq_entries,
           ring->single_mmap ? "SQ and CQ rings in one mapping" : "SQ and CQ rings mapped apart");
}

static void prepare_stream(struct client *c, int index)
{
    struct stream *s = &c->streams[index];
    /* Everything but the address takes under 80 bytes (delay and index have 4 digits at most). */
    _Static_assert(sizeof c->server.text + 80 <= sizeof s->request, "room for any address");
    int length = snprintf(s->request, sizeof s->request,
                          "GET /%ld/request-%d HTTP/1.1\r\n"
                          "Host: %s\r\n"
                          "Connection: close\r\n"
                          "\r\n",
                          delay_ms(index, c->requests), index, c->server.text);
    assert(length > 0 && (size_t) length < sizeof s->request);
    s->request_length = (size_t) length;
    /* A plain blocking socket: io_uring never lets an operation block the
     * caller. It tries it without waiting and, if it would wait, has the
     * socket report readiness to the kernel itself and retries then. */
    s->fd = socket(c->server.sockaddr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->fd < 0)
        die("cannot create a socket: %s", strerror(errno));
    /* Zeroed, because valgrind cannot see the kernel write into it. */
    s->capacity = FIRST_BUFFER;
    s->response = xcalloc(1, s->capacity);
}

/* ===== Queueing operations ===== */

static struct io_uring_sqe *next_sqe(struct client *c)
{
    struct io_uring_sqe *sqe = ring_get_sqe(&c->ring);
    assert(sqe != NULL); /* see open_ring() for why there is always a slot */
    c->operations++;
    return sqe;
}

static uint64_t user_data(int index, enum op op)
{
    return (uint64_t) index << OP_BITS | op;
}

/* Send what is left of the request. flags: IOSQE_IO_LINK to make the next
 * SQE wait for this one, or 0. */
static void queue_send(struct client *c, int index, unsigned flags)
{
    struct stream *s = &c->streams[index];
    struct io_uring_sqe *sqe = next_sqe(c);
    sqe->opcode = IORING_OP_SEND;
    sqe->fd = s->fd;
    sqe->addr = (uintptr_t) (s->request + s->sent);
    sqe->len = (unsigned) (s->request_length - s->sent);
    sqe->msg_flags = MSG_NOSIGNAL; /* a closed connection is an error result, not SIGPIPE */
    sqe->flags = (__u8) flags;
    sqe->user_data = user_data(index, OP_SEND);
}

/* Receive into the free part of the response buffer. */
static void queue_recv(struct client *c, int index)
{
    struct stream *s = &c->streams[index];
    struct io_uring_sqe *sqe = next_sqe(c);
    sqe->opcode = IORING_OP_RECV;
    sqe->fd = s->fd;
    sqe->addr = (uintptr_t) (s->response + s->length);
    sqe->len = (unsigned) (s->capacity - s->length);
    sqe->user_data = user_data(index, OP_RECV);
}

/* The whole request as one chain: IOSQE_IO_LINK makes the kernel start the
 * next SQE only when this one has completed, and cancel the rest of the
 * chain (-ECANCELED) if it fails. So the send waits for the connection and
 * the recv for the send, though all three are submitted at once. A send
 * that sends only part of the request still counts as a success for the
 * link (for a file write it would not), so the recv starts either way and
 * the rest goes in a send of its own. */
static void queue_request(struct client *c, int index)
{
    struct stream *s = &c->streams[index];
    struct io_uring_sqe *sqe = next_sqe(c);
    sqe->opcode = IORING_OP_CONNECT;
    sqe->fd = s->fd;
    sqe->addr = (uintptr_t) &c->server.sockaddr;
    sqe->off = c->server.len; /* connect takes the address length in the offset field */
#ifdef BUG_NO_LINK            /* exercise 1 (README.md) */
    sqe->flags = 0;
#else
    sqe->flags = IOSQE_IO_LINK;
#endif
    sqe->user_data = user_data(index, OP_CONNECT);
    queue_send(c, index, IOSQE_IO_LINK);
    queue_recv(c, index);
    printf("QUEUED: request-%d: connect -> send GET /%ld/request-%d -> recv\n", index,
           delay_ms(index, c->requests), index);
}

/* One timer for the whole batch, which starts all at once: when it fires,
 * whatever has not come never will (a deadline per operation, with linked
 * timeouts, is a later step's subject). With a count of 0 (off) it is a
 * plain timer: it completes with -ETIME when the time is up. The kernel
 * copies the timespec when it takes the SQE. */
static void queue_deadline(struct client *c)
{
    char text[32];
    c->deadline.tv_sec = c->timeout_ms / 1000;
    c->deadline.tv_nsec = c->timeout_ms % 1000 * 1000000;
    struct io_uring_sqe *sqe = next_sqe(c);
    sqe->opcode = IORING_OP_TIMEOUT;
    sqe->fd = -1;
    sqe->addr = (uintptr_t) &c->deadline;
    sqe->len = 1; /* one timespec */
    sqe->off = 0; /* complete on time alone, not after a number of other completions */
    sqe->user_data = DEADLINE_USER_DATA;
    printf("QUEUED: timeout: give up after %s\n", duration(c->timeout_ms, text, sizeof text));
}

/* ===== Completions ===== */

/* The whole response is in (the server closed the connection). Anything but
 * "HTTP/1.x 200 ...", a blank line and a body means we are not talking to a
 * delay server; say so rather than print a puzzle. */
static void finish_response(struct client *c, int index)
{
    struct stream *s = &c->streams[index];
    if (s->length == 0)
        die("request-%d: the server closed the connection without answering", index);
    const char *status_end = memmem(s->response, s->length, "\r\n", 2);
    const char *head_end = memmem(s->response, s->length, "\r\n\r\n", 4);
    int status_length = status_end ? (int) (status_end - s->response) : 0;
    if (head_end == NULL || status_length < 12 || memcmp(s->response, "HTTP/1.", 7) != 0)
        die("request-%d: the answer is not an HTTP response", index);
    if (memcmp(s->response + 8, " 200", 4) != 0 || (status_length > 12 && s->response[12] != ' '))
        die("request-%d: the server answered '%.*s', not 200 OK", index, status_length,
            s->response);

    s->done = true;
    c->finished++;
    if (!c->full) {
        response_print_line(stdout, s->response, s->length, now_ns() - c->start_ns);
        return;
    }
    fwrite(s->response, 1, s->length, stdout); /* as received: the head's lines end in \r\n */
    if (s->response[s->length - 1] != '\n')
        putchar('\n');
    puts("------");
}

/* A recv filled the buffer: make it bigger before the next one. realloc may
 * move it, which is safe only because no operation of this stream is in
 * flight now: the kernel holds no pointer into it. */
static void grow_buffer(struct stream *s, int index)
{
    if (s->capacity >= MAX_RESPONSE)
        die("request-%d: the answer is over %d bytes; is that the delay server?", index,
            MAX_RESPONSE);
    s->response = xrealloc(s->response, 2 * s->capacity);
    memset(s->response + s->capacity, 0, s->capacity); /* valgrind: see prepare_stream() */
    s->capacity *= 2;
}

/* COMPLETED: <what> res=<res>, with the error's name when it is one. */
static void print_completion(const char *what, int index, int res, bool end_of_stream)
{
    printf("COMPLETED: ");
    if (index >= 0)
        printf("request-%d ", index);
    printf("%s res=%d", what, res);
    if (res < 0) {
        const char *name = strerrorname_np(-res);
        printf(" (%s)", name ? name : "unknown error");
    }
    puts(end_of_stream ? " (end of stream)" : "");
}

static void handle_deadline(struct client *c, int res)
{
    char text[32];
    print_completion("timeout", -1, res, false);
    if (res != -ETIME)
        die("the deadline timer failed: %s", strerror(-res));
    if (c->finished < c->requests)
        die("gave up after %s: %d of %d responses never came",
            duration(c->timeout_ms, text, sizeof text), c->requests - c->finished, c->requests);
}

/* One completion: an operation has finished, and res is what its system
 * call would have returned. Nothing needs doing "now that it is ready":
 * the bytes are already sent, or already in the buffer. */
static void handle_completion(struct client *c, const struct io_uring_cqe *cqe)
{
    if (cqe->user_data == DEADLINE_USER_DATA) {
        handle_deadline(c, cqe->res);
        return;
    }
    int index = (int) (cqe->user_data >> OP_BITS);
    enum op op = (enum op)(cqe->user_data & ((1u << OP_BITS) - 1));
    assert(index < c->requests && op <= OP_RECV); /* we only ever queue these */
    struct stream *s = &c->streams[index];
    assert(!s->done); /* nothing of a finished stream is in flight */
    print_completion(op_names[op], index, cqe->res, op == OP_RECV && cqe->res == 0);

    /* An earlier operation of the chain failed, so the kernel never started
     * this one. That operation's own completion says why, and ends the run. */
    if (cqe->res == -ECANCELED)
        return;
    switch (op) {
    case OP_CONNECT:
        if (cqe->res < 0)
            die("cannot connect to %s: %s", c->server.text, strerror(-cqe->res));
        break;
    case OP_SEND:
        if (cqe->res < 0)
            die("request-%d: cannot send to %s: %s", index, c->server.text, strerror(-cqe->res));
        s->sent += (size_t) cqe->res;
        if (s->sent < s->request_length) /* a short send: the recv waits anyway */
            queue_send(c, index, 0);
        break;
    case OP_RECV:
        if (cqe->res < 0)
            die("request-%d: cannot read the answer: %s", index, strerror(-cqe->res));
        if (cqe->res == 0) { /* the server closed the connection? */
            /* Before it had all of the request? Then a send may still be
             * in flight, and no answer of a delay server ends this way. */
            if (s->sent < s->request_length)
                die("request-%d: the server closed the connection before it had the request",
                    index);
            finish_response(c, index);
            break;
        }
        s->length += (size_t) cqe->res;
        if (s->length == s->capacity)
            grow_buffer(s, index);
        queue_recv(c, index); /* more may come, or the end */
        break;
    }
}

/* ===== The program ===== */

int main(int argc, char **argv)
{
    struct options options = parse_options(argc, argv);
    struct client client = {.requests = options.requests, .full = options.full};
    struct client *c = &client;

    if (server_addr_from_env(&c->server) < 0)
        exit(1);
    c->timeout_ms = server_timeout_ms();
    if (c->timeout_ms < 0)
        exit(1);
    ensure_fd_limit(c->requests);
    open_ring(&c->ring, c->requests, options.ring_options);
    c->streams = xcalloc((size_t) c->requests, sizeof *c->streams);

    /* Queue every operation of every request, and the timer. Nothing has
     * reached the kernel yet: these are writes to memory. */
    for (int i = 0; i < c->requests; i++) {
        prepare_stream(c, i);
        queue_request(c, i);
    }
    queue_deadline(c);

    /* Then one system call submits them all and sleeps until something
     * completes; every later call submits what the completions queued (a
     * recv for the rest of an answer) and sleeps again. */
    c->start_ns = now_ns();
    while (c->finished < c->requests) {
        c->enters++;
        int submitted = ring_submit_and_wait(&c->ring, 1);
        /* Interrupted? Even without signal handlers: press Ctrl-Z, then fg.
         * Whatever was queued stays queued; wait again. */
        if (submitted == -EINTR) {
            printf("ENTER: interrupted by a signal\n");
            continue;
        }
        if (submitted < 0)
            die("io_uring_enter: %s", strerror(-submitted));
        printf("ENTER: submitted %d, completions ready: %u\n", submitted,
               ring_completions_ready(&c->ring));
#ifdef EXERCISE_4 /* README.md: the four indexes */
        printf("INDEXES: sq head %u tail %u, cq head %u tail %u\n",
               atomic_load_explicit(c->ring.sq_head, memory_order_acquire),
               atomic_load_explicit(c->ring.sq_tail, memory_order_relaxed),
               atomic_load_explicit(c->ring.cq_head, memory_order_relaxed),
               atomic_load_explicit(c->ring.cq_tail, memory_order_acquire));
#endif
        struct io_uring_cqe cqe;
        while (ring_pop_completion(&c->ring, &cqe))
            handle_completion(c, &cqe);
    }
    printf("FINISHED: %d responses, %u operations in %u calls to io_uring_enter\n", c->finished,
           c->operations, c->enters);
    printf("ELAPSED TIME: %.3f s\n", (double) (now_ns() - c->start_ns) / 1e9);

    /* The ring goes first: the timer is still pending, and closing the ring
     * cancels it. Every other operation has completed, so the kernel holds
     * no pointer into a stream, and the buffers can go. */
    ring_close(&c->ring);
    for (int i = 0; i < c->requests; i++) {
        close(c->streams[i].fd);
        free(c->streams[i].response);
    }
    free(c->streams);
    return 0;
}
