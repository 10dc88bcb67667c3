/* common.h: what both bench drivers of bench/runtime share: a clock, the
 * peak RSS, percentiles, and one line of results on the real stdout.
 * Part of bench/runtime. Header-only: each driver is one
 * translation unit plus the code it measures. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_MS 1000000ull

/* Timer workload (the one d-timers' --many uses): sleep i lasts
 * 200 + (37 i mod 100) ms, so neighbours have different deadlines. */
#define SLEEP_BASE_MS 200u
#define SLEEP_SPREAD_MS 100u
#define SLEEP_MS(i) (SLEEP_BASE_MS + (unsigned) ((37ull * (i)) % SLEEP_SPREAD_MS))

#define ECHO_MSG 64     /* bytes in one echo ping */
#define WAKE_WARMUP 100 /* first wakes not counted (threads starting) */

static FILE *results; /* the real stdout; stdout itself goes to /dev/null */

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static inline void die(const char *what)
{
    fprintf(stderr, "bench: %s\n", what);
    exit(1);
}

static inline void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (p == NULL)
        die("out of memory");
    return p;
}

/* The executors print progress lines on stdout; results go to a copy of the
 * original stdout, and stdout itself to /dev/null (fully buffered, so the
 * runtime's printf stays as cheap as it is in a program piped to a file). */
static inline void results_open(void)
{
    int fd = dup(1);
    if (fd < 0 || (results = fdopen(fd, "w")) == NULL)
        die("cannot dup stdout");
    if (freopen("/dev/null", "w", stdout) == NULL)
        die("cannot open /dev/null");
}

/* VmHWM in bytes: the peak resident set of this process so far. Not
 * getrusage's ru_maxrss, which also counts the parent's image before exec. */
static inline long long peak_rss(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long long kib = -1;
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmHWM: %lld kB", &kib) == 1)
            break;
    fclose(f);
    return kib < 0 ? -1 : kib * 1024;
}

static inline double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double) ru.ru_utime.tv_sec + (double) ru.ru_utime.tv_usec / 1e6 +
           (double) ru.ru_stime.tv_sec + (double) ru.ru_stime.tv_usec / 1e6;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return (x > y) - (x < y);
}

/* Sorts v. The q-quantile by the nearest-rank rule. */
static inline uint64_t quantile(uint64_t *v, size_t n, double q)
{
    qsort(v, n, sizeof *v, cmp_u64);
    size_t rank = (size_t) (q * (double) n + 0.999999);
    return v[rank == 0 ? 0 : rank - 1];
}

/* One workload's start and end, and the report both drivers print. */
struct span {
    uint64_t t0;
    double cpu0;
    long long rss0;
};

static inline struct span span_begin(void)
{
    struct span s = {.rss0 = peak_rss(), .cpu0 = cpu_seconds()};
    s.t0 = now_ns();
    return s;
}

/* Prints "ns_per_item=.. cpu_ns_per_item=.. bytes_per_item=.. peak_rss=..
 * elapsed_ns=.." on the results stream (the caller ends the line). */
static inline void span_report(const struct span *s, size_t items)
{
    uint64_t elapsed = now_ns() - s->t0;
    double cpu = cpu_seconds() - s->cpu0;
    long long rss = peak_rss();
    fprintf(results,
            "elapsed_ns=%llu ns_per_item=%.2f cpu_ns_per_item=%.2f "
            "bytes_per_item=%.1f peak_rss=%lld",
            (unsigned long long) elapsed, (double) elapsed / (double) items,
            cpu * 1e9 / (double) items, (double) (rss - s->rss0) / (double) items, rss);
}

/* Latencies of one wake experiment: p50, p99, max, and mean (RTT / 2). */
static inline void latency_report(uint64_t *lat, size_t n, uint64_t elapsed)
{
    fprintf(results, "hops=%zu half_rtt_ns=%.0f", n, (double) elapsed / (double) n);
    fprintf(results, " max_ns=%llu", (unsigned long long) quantile(lat, n, 1.0));
    fprintf(results, " p50_ns=%llu", (unsigned long long) quantile(lat, n, 0.50));
    fprintf(results, " p99_ns=%llu", (unsigned long long) quantile(lat, n, 0.99));
}

/* A connected pair of loopback TCP sockets, non-blocking, no Nagle. */
static inline void tcp_pair(int fds[2])
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    int one = 1;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *) &addr, sizeof addr) < 0 || listen(lfd, 1) < 0 ||
        getsockname(lfd, (struct sockaddr *) &addr, &len) < 0)
        die("cannot listen on 127.0.0.1");
    fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fds[0] < 0 || connect(fds[0], (struct sockaddr *) &addr, sizeof addr) < 0)
        die("cannot connect to 127.0.0.1");
    fds[1] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fds[1] < 0)
        die("accept failed");
    close(lfd);
    for (int i = 0; i < 2; i++) {
        setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK) < 0)
            die("cannot make a socket non-blocking");
    }
}

#endif
