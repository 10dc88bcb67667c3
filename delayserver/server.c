/* delayserver/server.c: the delay server's event loop (server.h is the
 * contract). One thread waits in epoll for sockets and for the earliest
 * deadline in a timer heap, then moves each connection's state machine.
 * Sections: Limits, Connections, Answers, Reading, Writing and lingering,
 * Events and timers, Accepting, Memory, The loop, Setup and teardown.
 */
#include "server.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "route.h"
#include "timer.h"

/* ===== Limits ===== */

#define IN_FIRST 1024       /* first size of an input buffer; it doubles up to ROUTE_HEAD_MAX */
#define MAX_EVENTS 256      /* epoll events taken per turn of the loop */
#define ACCEPT_BATCH 64     /* connections accepted per turn, so a flood cannot starve the others */
#define ACCEPT_RETRY_MS 100 /* out of descriptors: how long to stop accepting */
#define TRIM_BURST 256      /* give memory back once this many have closed since the peak */

#define NS_PER_MS 1000000ull
#define NS_PER_SEC 1000000000ull

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * NS_PER_SEC + (uint64_t) ts.tv_nsec;
}

/* ===== Connections ===== */

/* A connection is always in one of these states, and always has exactly one
 * deadline armed: the one its state names. */
enum conn_state {
    CONN_READING,   /* waiting for a whole request head; deadline: the idle timeout */
    CONN_WAITING,   /* a request is in; deadline: when its answer is due */
    CONN_WRITING,   /* sending an answer; deadline: the idle timeout, again */
    CONN_LINGERING, /* last answer sent, our side shut; reading until the client
                       closes; deadline: the idle timeout, again */
};

struct conn {
    struct timer timer; /* the state's deadline; armed from conn_open to conn_close */
    int fd;             /* the client's socket, non-blocking */
    enum conn_state state;
    uint32_t watching;   /* the epoll events registered for fd */
    char *in;            /* bytes received (malloc'd at the first read) */
    size_t in_start;     /* in[in_start..in_len) is not parsed yet */
    size_t in_len;       /* bytes in `in` */
    size_t in_cap;       /* its size: IN_FIRST, doubling up to ROUTE_HEAD_MAX */
    struct route answer; /* WAITING, WRITING: the verdict being answered (its body is ours) */
    char head[ROUTE_ANSWER_HEAD_SIZE]; /* its status line and headers, built when it is sent */
    size_t head_len;
    size_t sent;              /* bytes of head, then body, written so far */
    struct conn *prev, *next; /* in server.conns */
};

struct server {
    const struct server_options *options;
    int epoll_fd;
    int listen_fd;
    int signal_fd;               /* SIGINT and SIGTERM arrive here */
    struct timer_heap timers;    /* every connection's deadline, and accept_timer */
    struct timer accept_timer;   /* armed while accepting is paused for want of descriptors */
    bool accept_paused;          /* the listener is out of the epoll set for now */
    bool have_pwait2;            /* epoll_pwait2 (Linux 5.11) works: sleep to the nanosecond */
    bool stopping;               /* a signal came: leave the loop */
    struct conn *conns;          /* every open connection, newest first */
    size_t conn_count;           /* how many there are */
    size_t conn_peak;            /* the most there were since memory was last given back */
    uint64_t requests;           /* valid requests so far: the n of "#n" in the log */
    struct http_header *headers; /* ROUTE_MAX_HEADERS slots, shared: one parse at a time */
    time_t date_time;            /* the second that `date` shows */
    char date[HTTP_DATE_SIZE];   /* the Date header, formatted once a second */
    char scratch[4096];          /* where a lingering connection's input is dropped */
};

/* What one step of a connection's state machine did. */
enum step {
    STEP_MOVED,   /* changed state: take the next step now */
    STEP_BLOCKED, /* waits for its socket or its deadline */
    STEP_CLOSED,  /* closed the connection, which is freed: do not touch it */
};

static void resume_accepting(struct server *s);

static struct conn *conn_of_timer(struct timer *timer)
{
    return (struct conn *) ((char *) timer - offsetof(struct conn, timer));
}

static uint64_t idle_deadline(const struct server *s)
{
    return now_ns() + s->options->idle_timeout_ms * NS_PER_MS;
}

/* Move c's deadline. c->timer is armed for the connection's whole life
 * except between run_timers() popping it and the handler calling this; the
 * popped slot is still free then. So arming only moves a timer or reuses a
 * free slot, needs no memory, and cannot fail. */
static void conn_set_deadline(struct server *s, struct conn *c, uint64_t when)
{
    int rc = timer_arm(&s->timers, &c->timer, when);
    assert(rc == 0);
    (void) rc;
}

/* Ask epoll for exactly `events` on c's socket. Returns 0 or -errno. */
static int conn_watch(struct server *s, struct conn *c, uint32_t events)
{
    if (c->watching == events)
        return 0;
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(s->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        return -errno;
    c->watching = events;
    return 0;
}

/* A new client: wait for its request. On any failure the socket is closed
 * and the client sees the connection end without an answer. */
static void conn_open(struct server *s, int fd)
{
    struct conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        close(fd);
        return;
    }
    c->fd = fd;
    c->state = CONN_READING;
    timer_init(&c->timer);

    /* EPOLLRDHUP tells a client that hung up from one that merely has
     * nothing to say; it matters while an answer is being delayed. */
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    if (timer_arm(&s->timers, &c->timer, idle_deadline(s)) < 0 ||
        epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        timer_disarm(&s->timers, &c->timer);
        close(fd);
        free(c);
        return;
    }
    c->watching = ev.events;
    c->next = s->conns;
    if (s->conns != NULL)
        s->conns->prev = c;
    s->conns = c;
    if (++s->conn_count > s->conn_peak)
        s->conn_peak = s->conn_count;
}

/* Forget c: its deadline, its socket (closing it also takes it out of the
 * epoll set) and its memory. */
static void conn_close(struct server *s, struct conn *c)
{
    timer_disarm(&s->timers, &c->timer);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    s->conn_count--;
    close(c->fd);
    free(c->in);
    route_free(&c->answer);
    free(c);
    if (s->accept_paused) /* a descriptor just came free */
        resume_accepting(s);
}

/* ===== Answers ===== */

/* The Date header's value, formatted again only when the second changes. */
static const char *date_now(struct server *s)
{
    time_t t = time(NULL);
    if (t != s->date_time) {
        http_format_date(t, s->date);
        s->date_time = t;
    }
    return s->date;
}

/* Start sending c->answer: build its head with the current date and
 * switch to WRITING. */
static void conn_start_answer(struct server *s, struct conn *c)
{
    c->head_len = route_answer_head(&c->answer, date_now(s), c->head);
    c->sent = 0;
    c->state = CONN_WRITING;
    conn_set_deadline(s, c, idle_deadline(s));
}

/* ===== Reading ===== */

/* READING: take the next request out of the input buffer, if it is all
 * there, and either start its delay or answer it at once. */
static enum step conn_take_request(struct server *s, struct conn *c)
{
    ssize_t n = route_next(c->in + c->in_start, c->in_len - c->in_start, s->options->max_delay_ms,
                           s->headers, &c->answer);
    if (n == 0)
        return STEP_BLOCKED;
    if (n < 0) {
        conn_close(s, c);
        return STEP_CLOSED;
    }
    c->in_start += (size_t) n; /* the answer's body is a copy: the request's bytes are done with */
    if (c->answer.status != 200) {
        conn_start_answer(s, c);
        return STEP_MOVED;
    }

    s->requests++;
    if (!s->options->quiet)
        route_log(stdout, s->requests, &c->answer);
    uint64_t now = now_ns();
    uint64_t due = now + c->answer.delay_ms * NS_PER_MS / s->options->speedup;
    if (due == now) { /* no delay: answer right away */
        conn_start_answer(s, c);
        return STEP_MOVED;
    }
    c->state = CONN_WAITING;
    conn_set_deadline(s, c, due);
    return STEP_BLOCKED;
}

static enum step conn_write(struct server *s, struct conn *c);

/* Take c as far as it can go without waiting: answer requests that are due
 * at once and write answers until the socket is full. The loop is bounded:
 * it only consumes requests already in c->in, at most ROUTE_HEAD_MAX bytes. */
static void conn_advance(struct server *s, struct conn *c)
{
    enum step step = STEP_MOVED;
    while (step == STEP_MOVED) {
        switch (c->state) {
        case CONN_READING:
            step = conn_take_request(s, c);
            break;
        case CONN_WRITING:
            step = conn_write(s, c);
            break;
        case CONN_WAITING:   /* moves on at its deadline */
        case CONN_LINGERING: /* moves on when the client closes */
            step = STEP_BLOCKED;
            break;
        }
    }
}

/* READING, and the socket is readable: one read() per readiness report,
 * so a client that keeps sending cannot keep the loop to itself. */
static void conn_read(struct server *s, struct conn *c)
{
    if (c->in_start > 0) { /* drop the requests already taken */
        memmove(c->in, c->in + c->in_start, c->in_len - c->in_start);
        c->in_len -= c->in_start;
        c->in_start = 0;
    }
    if (c->in_len == c->in_cap) {
        /* While READING, fewer than ROUTE_HEAD_MAX bytes wait to be parsed (a full
         * buffer is answered with 431), so growing always makes room. */
        size_t cap = c->in_cap == 0 ? IN_FIRST : 2 * c->in_cap;
        if (cap > ROUTE_HEAD_MAX)
            cap = ROUTE_HEAD_MAX;
        assert(cap > c->in_len);
        char *in = realloc(c->in, cap);
        if (in == NULL) {
            conn_close(s, c);
            return;
        }
        c->in = in;
        c->in_cap = cap;
    }
    ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
    if (n > 0) {
        c->in_len += (size_t) n;
        conn_advance(s, c);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return; /* a false alarm: wait for the next report */
    } else {
        conn_close(s, c); /* end of stream or a reset: a half-sent request gets no answer */
    }
}

/* ===== Writing and lingering ===== */

/* Has the client sent nothing that we have not read? One peek at the
 * socket, without waiting. */
static bool nothing_unread(struct conn *c)
{
    if (c->in_start < c->in_len)
        return false;
    char byte;
    ssize_t n = recv(c->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno == EAGAIN); /* the client's own close, or nothing at all */
}

/* The last answer is out and the connection ends. Closing a socket that
 * still has unread input makes the kernel send a reset, and a reset can
 * destroy an answer the client has not read yet. So if the client has sent
 * nothing more, close at once; otherwise shut our sending side, so the
 * client sees the answer end, and keep reading (LINGERING) until the client
 * closes too. Errors always linger: their client may still be sending. */
static enum step conn_finish(struct server *s, struct conn *c)
{
    if (c->answer.status == 200 && nothing_unread(c)) {
        conn_close(s, c);
        return STEP_CLOSED;
    }
    free(c->in);
    c->in = NULL;
    c->in_start = c->in_len = c->in_cap = 0;
    if (shutdown(c->fd, SHUT_WR) < 0 || conn_watch(s, c, EPOLLIN | EPOLLRDHUP) < 0) {
        conn_close(s, c);
        return STEP_CLOSED;
    }
    c->state = CONN_LINGERING;
    conn_set_deadline(s, c, idle_deadline(s));
    return STEP_BLOCKED;
}

/* WRITING: send what is left of the answer, head and body in one call. */
static enum step conn_write(struct server *s, struct conn *c)
{
    size_t body_len = route_body_to_send(&c->answer);
    while (c->sent < c->head_len + body_len) {
        struct iovec iov[2];
        size_t count = 0;
        if (c->sent < c->head_len)
            iov[count++] = (struct iovec){c->head + c->sent, c->head_len - c->sent};
        size_t body_sent = c->sent > c->head_len ? c->sent - c->head_len : 0;
        if (body_sent < body_len)
            iov[count++] = (struct iovec){c->answer.body + body_sent, body_len - body_sent};
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = count};

        ssize_t n = sendmsg(c->fd, &msg, MSG_NOSIGNAL); /* no SIGPIPE if the client left */
        if (n >= 0) {
            c->sent += (size_t) n;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN) { /* the socket buffer is full: wait until the client reads */
            if (conn_watch(s, c, EPOLLOUT) < 0)
                break;
            return STEP_BLOCKED;
        } else {
            break; /* EPIPE, ECONNRESET: the client is gone */
        }
    }
    if (c->sent < c->head_len + body_len) {
        conn_close(s, c);
        return STEP_CLOSED;
    }

    route_free(&c->answer); /* its status and keep_alive stay for what follows */
    if (!c->answer.keep_alive)
        return conn_finish(s, c);
    c->state = CONN_READING;
    conn_set_deadline(s, c, idle_deadline(s));
    if (conn_watch(s, c, EPOLLIN | EPOLLRDHUP) < 0) {
        conn_close(s, c);
        return STEP_CLOSED;
    }
    return STEP_MOVED; /* a pipelined request may already be in c->in */
}

/* LINGERING, and the socket is readable: drop what the client sent, and
 * close once it has closed its side. */
static void conn_drain(struct server *s, struct conn *c)
{
    ssize_t n = read(c->fd, s->scratch, sizeof s->scratch);
    if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
        return;
    conn_close(s, c); /* end of stream: the client has its answer */
}

/* ===== Events and timers ===== */

/* epoll reported `events` on c's socket. The socket is level-triggered:
 * whatever is left unread is reported again on the next turn. */
static void conn_on_event(struct server *s, struct conn *c, uint32_t events)
{
    if (events & (EPOLLERR | EPOLLHUP)) { /* reset, or closed both ways: nothing more to say */
        conn_close(s, c);
        return;
    }
    switch (c->state) {
    case CONN_READING:
        if (events & EPOLLIN)
            conn_read(s, c);
        break;
    case CONN_WAITING:
        if (events & EPOLLRDHUP) {
            conn_close(s, c); /* the client hung up before its answer was due */
        } else if (events & EPOLLIN) {
            /* A pipelined request. Leave it in the kernel until this answer
             * is out, and stop asking about it, or the level-triggered
             * report would repeat on every turn. */
            if (conn_watch(s, c, EPOLLRDHUP) < 0)
                conn_close(s, c);
        }
        break;
    case CONN_WRITING:
        if (events & EPOLLOUT)
            conn_advance(s, c);
        break;
    case CONN_LINGERING:
        if (events & (EPOLLIN | EPOLLRDHUP))
            conn_drain(s, c);
        break;
    }
}

/* c's deadline has come; run_timers() has already popped its timer. */
static void conn_on_timer(struct server *s, struct conn *c)
{
    switch (c->state) {
    case CONN_READING: /* no complete request within the idle timeout */
        if (c->in_len == c->in_start) {
            conn_close(s, c); /* it said nothing (or nothing more): just hang up */
        } else if (route_timeout(c->in + c->in_start, c->in_len - c->in_start,
                                 s->options->idle_timeout_ms, &c->answer) < 0) {
            conn_close(s, c);
        } else {
            conn_start_answer(s, c);
            conn_advance(s, c);
        }
        break;
    case CONN_WAITING: /* the answer is due */
        conn_start_answer(s, c);
        conn_advance(s, c);
        break;
    case CONN_WRITING:   /* the client stopped reading its answer */
    case CONN_LINGERING: /* the client never closed */
        conn_close(s, c);
        break;
    }
}

/* Fire every timer that is due. */
static void run_timers(struct server *s)
{
    uint64_t now = now_ns();
    struct timer *timer;
    while ((timer = timer_heap_pop_due(&s->timers, now)) != NULL) {
        if (timer == &s->accept_timer)
            resume_accepting(s);
        else
            conn_on_timer(s, conn_of_timer(timer));
    }
}

/* ===== Accepting ===== */

/* Out of descriptors (or memory): the waiting client stays in the kernel's
 * queue, and the listener would be reported ready again at once, spinning
 * the loop. So stop watching it until a connection closes or, failing
 * that, for ACCEPT_RETRY_MS. */
static void pause_accepting(struct server *s)
{
    struct epoll_event ev = {.events = 0, .data.ptr = &s->listen_fd};
    if (timer_arm(&s->timers, &s->accept_timer, now_ns() + ACCEPT_RETRY_MS * NS_PER_MS) < 0)
        return; /* without a timer nothing would resume it: keep trying instead */
    if (epoll_ctl(s->epoll_fd, EPOLL_CTL_MOD, s->listen_fd, &ev) < 0) {
        timer_disarm(&s->timers, &s->accept_timer);
        return;
    }
    s->accept_paused = true;
}

static void resume_accepting(struct server *s)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &s->listen_fd};
    if (epoll_ctl(s->epoll_fd, EPOLL_CTL_MOD, s->listen_fd, &ev) < 0) {
        /* Try again later; the timer's slot is free, as in conn_set_deadline. */
        timer_arm(&s->timers, &s->accept_timer, now_ns() + ACCEPT_RETRY_MS * NS_PER_MS);
        return;
    }
    timer_disarm(&s->timers, &s->accept_timer);
    s->accept_paused = false;
}

static void accept_clients(struct server *s)
{
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            conn_open(s, fd);
            continue;
        }
        switch (errno) {
        case EAGAIN: /* nobody else is waiting */
            return;
        case EMFILE:
        case ENFILE:
        case ENOBUFS:
        case ENOMEM:
            pause_accepting(s);
            return;
        case EINTR:
        case ECONNABORTED: /* that client gave up already */
        case EPROTO:       /* accept(2): network errors belong to that client: try the next */
        case EPERM:
        case ENETDOWN:
        case ENOPROTOOPT:
        case EHOSTDOWN:
        case ENONET:
        case EHOSTUNREACH:
        case EOPNOTSUPP:
        case ENETUNREACH:
            continue;
        default:
            fprintf(stderr, "%s: accept: %s\n", program_invocation_short_name, strerror(errno));
            pause_accepting(s);
            return;
        }
    }
}

/* ===== Memory ===== */

/* When a burst of connections has drained, free() alone would keep their
 * memory: glibc shrinks the heap only from its top, and a block that lives
 * on above the freed ones (the timer heap, grown during the burst) pins
 * them all, so the server would stay at its peak size for good.
 * malloc_trim() hands the free pages in the middle back to the kernel too.
 * It walks the whole heap, so it runs only after a real drain: at least
 * TRIM_BURST connections gone and at most half of the peak left. */
static void give_back_memory(struct server *s)
{
    if (s->conn_peak - s->conn_count < TRIM_BURST || s->conn_count > s->conn_peak / 2)
        return;
    malloc_trim(0);
    s->conn_peak = s->conn_count;
}

/* ===== The loop ===== */

/* Wait for events, but no longer than until the earliest deadline. */
static int wait_for_events(struct server *s, struct epoll_event *events, int max)
{
    struct timer *first = timer_heap_first(&s->timers);
    struct timespec timeout;
    uint64_t wait = 0;
    if (first != NULL) {
        uint64_t now = now_ns();
        wait = first->when > now ? first->when - now : 0;
        timeout.tv_sec = (time_t) (wait / NS_PER_SEC);
        timeout.tv_nsec = (long) (wait % NS_PER_SEC);
    }
    if (s->have_pwait2) {
        int n = epoll_pwait2(s->epoll_fd, events, max, first != NULL ? &timeout : NULL, NULL);
        if (n >= 0 || errno != ENOSYS)
            return n;
        s->have_pwait2 = false; /* Linux older than 5.11: whole milliseconds from now on */
    }
    /* Round up: waking early would only cost an empty turn of the loop. */
    uint64_t ms = wait / NS_PER_MS + (wait % NS_PER_MS != 0);
    return epoll_wait(s->epoll_fd, events, max,
                      first == NULL  ? -1
                      : ms > INT_MAX ? INT_MAX
                                     : (int) ms);
}

static void on_signal(struct server *s)
{
    struct signalfd_siginfo info;
    if (read(s->signal_fd, &info, sizeof info) == (ssize_t) sizeof info)
        s->stopping = true;
}

/* Serve until a signal. Returns 0, or 1 if epoll itself fails. */
static int serve(struct server *s)
{
    struct epoll_event events[MAX_EVENTS];
    while (!s->stopping) {
        int n = wait_for_events(s, events, MAX_EVENTS);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "%s: epoll_wait: %s\n", program_invocation_short_name, strerror(errno));
            return 1;
        }
        /* epoll reports each socket at most once per batch, and only a
         * connection's own event or its own timer frees it. Timers run after
         * the batch, so no event below can refer to a freed connection. */
        for (int i = 0; i < n; i++) {
            void *tag = events[i].data.ptr;
            if (tag == &s->listen_fd)
                accept_clients(s);
            else if (tag == &s->signal_fd)
                on_signal(s);
            else
                conn_on_event(s, tag, events[i].events);
        }
        run_timers(s);
        give_back_memory(s);
    }
    return 0;
}

/* ===== Setup and teardown ===== */

/* Print "cannot listen on <host>:<port>: <error>" and return -1. */
static int listen_error(const struct server_options *o, const char *error)
{
    fprintf(stderr, "%s: cannot listen on %s:%u: %s\n", program_invocation_short_name, o->host,
            o->port, error);
    return -1;
}

/* Open, bind and announce the listening socket. Returns 0 or -1. */
static int open_listener(struct server *s)
{
    const struct server_options *o = s->options;
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE};
    struct addrinfo *addr;
    char port[16];
    snprintf(port, sizeof port, "%u", o->port);
    int rc = getaddrinfo(o->host, port, &hints, &addr);
    if (rc != 0)
        return listen_error(o, gai_strerror(rc));

    /* TCP_NODELAY, which accepted sockets inherit: each answer leaves in
     * one write, and Nagle's algorithm would hold back the answer to a
     * pipelined request until the client acknowledged the one before,
     * which a client may delay by 40 ms. */
    s->listen_fd = socket(addr->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (s->listen_fd < 0 ||
        setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(s->listen_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0 ||
        bind(s->listen_fd, addr->ai_addr, addr->ai_addrlen) < 0 ||
        listen(s->listen_fd, 65535) < 0) { /* the kernel caps the queue at net.core.somaxconn */
        freeaddrinfo(addr);
        return listen_error(o, strerror(errno));
    }
    freeaddrinfo(addr);

    /* With --port 0 only the kernel knows the port: ask it. */
    struct sockaddr_storage bound;
    socklen_t len = sizeof bound;
    char host[NI_MAXHOST], service[NI_MAXSERV];
    if (getsockname(s->listen_fd, (struct sockaddr *) &bound, &len) < 0)
        return listen_error(o, strerror(errno));
    rc = getnameinfo((struct sockaddr *) &bound, len, host, sizeof host, service, sizeof service,
                     NI_NUMERICHOST | NI_NUMERICSERV);
    if (rc != 0)
        return listen_error(o, gai_strerror(rc));
    if (bound.ss_family == AF_INET6)
        printf("delayserver listening on [%s]:%s\n", host, service);
    else
        printf("delayserver listening on %s:%s\n", host, service);
    fflush(stdout);
    return 0;
}

/* Add fd to the epoll set, reporting readability with data.ptr = tag. */
static int watch_fd(struct server *s, int fd, void *tag)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};
    return epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

static int setup(struct server *s)
{
    /* SIGINT and SIGTERM become readable events on signal_fd, so the loop
     * stops between two turns and can free everything on the way out. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &stop_signals, NULL) < 0 ||
        (s->signal_fd = signalfd(-1, &stop_signals, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        fprintf(stderr, "%s: signalfd: %s\n", program_invocation_short_name, strerror(errno));
        return -1;
    }
    /* Answers are sent with MSG_NOSIGNAL, but the log is written to stdout:
     * if its reader goes away, that write should fail, not kill us. */
    signal(SIGPIPE, SIG_IGN);

    s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (s->epoll_fd < 0) {
        fprintf(stderr, "%s: epoll_create1: %s\n", program_invocation_short_name, strerror(errno));
        return -1;
    }
    if (open_listener(s) < 0)
        return -1;
    if (watch_fd(s, s->listen_fd, &s->listen_fd) < 0 ||
        watch_fd(s, s->signal_fd, &s->signal_fd) < 0) {
        fprintf(stderr, "%s: epoll_ctl: %s\n", program_invocation_short_name, strerror(errno));
        return -1;
    }
    return 0;
}

static void teardown(struct server *s)
{
    timer_disarm(&s->timers, &s->accept_timer);
    s->accept_paused = false;
    while (s->conns != NULL)
        conn_close(s, s->conns);
    timer_heap_free(&s->timers);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->signal_fd >= 0)
        close(s->signal_fd);
    if (s->epoll_fd >= 0)
        close(s->epoll_fd);
    free(s->headers);
}

int server_run(const struct server_options *options)
{
    struct server *s = calloc(1, sizeof *s);
    struct http_header *headers = calloc(ROUTE_MAX_HEADERS, sizeof *headers);
    if (s == NULL || headers == NULL) {
        fprintf(stderr, "%s: out of memory\n", program_invocation_short_name);
        free(s);
        free(headers);
        return 1;
    }
    s->options = options;
    s->epoll_fd = s->listen_fd = s->signal_fd = -1;
    s->headers = headers;
    s->have_pwait2 = true;
    timer_heap_init(&s->timers);
    timer_init(&s->accept_timer);

    int status = setup(s) == 0 ? serve(s) : 1;
    teardown(s);
    free(s);
    return status;
}
