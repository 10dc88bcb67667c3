/* bench/delayserver/client.c: the timing-accuracy client of
 * bench/delayserver/run. It opens COUNT connections to a delay server, sends
 * GET /{delay_ms}/t on each (all at once, or evenly over SPREAD seconds), and
 * measures how late each answer is:
 *
 *     lateness = when the answer could be read - when its request was sent - delay
 *
 *   client HOST:PORT COUNT DELAY_MS SPREAD_S
 *
 * prints one line, e.g.
 *     answered=10000 sent_ms=41.2 p50_ms=0.19 p99_ms=2.52 max_ms=4.47
 * (sent_ms: how long sending all the requests took). A C client, because the
 * Python one spent longer reading 10,000 answers than the server took to
 * write them: in the all-at-once case it measured itself.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 1024
#define CONNECTING_MAX 512 /* connects in flight at once: keeps under the listen backlog */
#define GIVE_UP_S 30       /* wait at most this long past the delay for answers */

struct request {
    int fd;
    int state;      /* CONNECTING, WAITING (sent), READING (first bytes seen), DONE */
    int ok;         /* the answer starts with "HTTP/1.1 200" */
    double sent_at; /* seconds, CLOCK_MONOTONIC */
};

enum { CONNECTING, CONNECTED, WAITING, READING, DONE };

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "client: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

/* The same percentile as the Python side: the value at index n*p/100. */
static double percentile(const double *sorted, size_t n, int p)
{
    size_t i = n * (size_t) p / 100;
    return sorted[i < n ? i : n - 1];
}

static int parse_addr(const char *text, struct sockaddr_in *addr)
{
    char host[64];
    const char *colon = strrchr(text, ':');
    if (!colon || (size_t) (colon - text) >= sizeof host)
        return -1;
    memcpy(host, text, (size_t) (colon - text));
    host[colon - text] = '\0';
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_port = htons((uint16_t) atoi(colon + 1));
    return inet_pton(AF_INET, host, &addr->sin_addr) == 1 ? 0 : -1;
}

/* ===== Connecting ===== */

/* Open every connection, at most CONNECTING_MAX in flight, so that sending
 * is later one quick burst of send() calls and nothing else. */
static void connect_all(int ep, struct request *reqs, size_t count, const struct sockaddr_in *addr)
{
    struct epoll_event events[MAX_EVENTS];
    size_t started = 0, connected = 0, in_flight = 0;
    double give_up = now_s() + GIVE_UP_S;

    while (connected < count) {
        while (started < count && in_flight < CONNECTING_MAX) {
            struct request *r = &reqs[started];
            r->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            if (r->fd < 0)
                die("socket");
            if (connect(r->fd, (const struct sockaddr *) addr, sizeof *addr) < 0 &&
                errno != EINPROGRESS)
                die("connect");
            struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = r};
            if (epoll_ctl(ep, EPOLL_CTL_ADD, r->fd, &ev) < 0)
                die("epoll_ctl");
            r->state = CONNECTING;
            started++, in_flight++;
        }
        if (now_s() > give_up) {
            fprintf(stderr, "client: only %zu of %zu connections were accepted within %d s\n",
                    connected, count, GIVE_UP_S);
            exit(1);
        }
        int n = epoll_wait(ep, events, MAX_EVENTS, 1000);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        for (int i = 0; i < n; i++) {
            struct request *r = events[i].data.ptr;
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err) {
                errno = err;
                die("connect");
            }
            /* From now on only the answer matters: wait for input. */
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = r};
            if (epoll_ctl(ep, EPOLL_CTL_MOD, r->fd, &ev) < 0)
                die("epoll_ctl");
            r->state = CONNECTED;
            connected++, in_flight--;
        }
    }
}

/* ===== Sending and receiving ===== */

static void send_all(struct request *reqs, size_t count, const char *request, double spread)
{
    size_t len = strlen(request);
    double start = now_s();
    for (size_t i = 0; i < count; i++) {
        double ahead = start + spread * (double) i / (double) count - now_s();
        if (ahead > 0.0005) { /* sleeping less than that is not worth a wake-up */
            struct timespec ts = {(time_t) ahead, (long) ((ahead - (double) (time_t) ahead) * 1e9)};
            nanosleep(&ts, NULL);
        }
        if (send(reqs[i].fd, request, len, MSG_NOSIGNAL) != (ssize_t) len)
            die("send"); /* an idle connected socket takes a short request whole */
        reqs[i].sent_at = now_s();
        reqs[i].state = WAITING;
    }
}

/* Read answers until every connection is closed by the server (the request
 * asked for "connection: close"). Fills late[] with one lateness in ms per
 * answer and returns how many there are. */
static size_t receive_all(int ep, size_t count, double delay_s, double *late, size_t *answered)
{
    struct epoll_event events[MAX_EVENTS];
    char buf[4096];
    size_t open = count, n_late = 0;
    double give_up = now_s() + delay_s + GIVE_UP_S;

    while (open > 0 && now_s() < give_up) {
        int n = epoll_wait(ep, events, MAX_EVENTS, 1000);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        double seen = now_s(); /* every answer of this batch was readable by now */
        for (int i = 0; i < n; i++) {
            struct request *r = events[i].data.ptr;
            ssize_t got = recv(r->fd, buf, sizeof buf, 0);
            if (got < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (r->state == WAITING) { /* the first bytes of the answer: this is when it came */
                late[n_late++] = (seen - r->sent_at - delay_s) * 1e3;
                r->ok = got >= 12 && memcmp(buf, "HTTP/1.1 200", 12) == 0;
                r->state = READING;
            }
            if (got <= 0) { /* the server closed (or reset): this answer is complete */
                *answered += (size_t) r->ok;
                close(r->fd); /* closing removes it from the epoll set */
                r->state = DONE;
                open--;
            }
        }
    }
    return n_late;
}

int main(int argc, char **argv)
{
    struct sockaddr_in addr;
    if (argc != 5 || parse_addr(argv[1], &addr) < 0) {
        fprintf(stderr, "usage: client HOST:PORT COUNT DELAY_MS SPREAD_S\n");
        return 2;
    }
    size_t count = (size_t) strtoul(argv[2], NULL, 10);
    long delay_ms = atol(argv[3]);
    double spread = atof(argv[4]);
    if (count == 0 || delay_ms < 0 || spread < 0) {
        fprintf(stderr, "client: COUNT must be positive, DELAY_MS and SPREAD_S not negative\n");
        return 2;
    }

    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
        lim.rlim_cur = lim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &lim);
        if (lim.rlim_cur < count + 16) {
            fprintf(stderr, "client: the descriptor limit (%lu) is below %zu connections\n",
                    (unsigned long) lim.rlim_cur, count);
            return 1;
        }
    }

    struct request *reqs = calloc(count, sizeof *reqs);
    double *late = calloc(count, sizeof *late);
    if (!reqs || !late)
        die("calloc");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1");

    char request[128];
    snprintf(request, sizeof request,
             "GET /%ld/t HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", delay_ms);

    connect_all(ep, reqs, count, &addr);
    /* connect() completes when the kernel has queued the connection, not when
     * the server has accepted it: give the server time to accept them all,
     * so that its accepting is not counted as lateness. */
    struct timespec settle = {1, 0};
    nanosleep(&settle, NULL);
    double start = now_s();
    send_all(reqs, count, request, spread);
    double sent_ms = (now_s() - start) * 1e3;
    size_t answered = 0;
    size_t n_late = receive_all(ep, count, (double) delay_ms / 1e3, late, &answered);

    printf("answered=%zu sent_ms=%.1f", answered, sent_ms);
    if (n_late > 0) {
        qsort(late, n_late, sizeof *late, compare_doubles);
        printf(" p50_ms=%.2f p99_ms=%.2f max_ms=%.2f", percentile(late, n_late, 50),
               percentile(late, n_late, 99), late[n_late - 1]);
    }
    printf("\n");
    for (size_t i = 0; i < count; i++)
        if (reqs[i].state != DONE)
            close(reqs[i].fd);
    close(ep);
    free(reqs);
    free(late);
    return 0;
}
