/* common.h: what the four drivers of bench/models share:
 * the command line, the server's address, the request text, the clock, the
 * file-descriptor limit, and the one result line each driver prints.
 *
 * Every driver runs the same job: N concurrent `GET /<delay>/m` requests to
 * the delay server, each on its own connection, all in flight at once, and
 * counts the answers that start with "HTTP/1.1 200". The run script starts
 * one driver process per measurement and reads its result line.
 */
#ifndef MODELS_COMMON_H
#define MODELS_COMMON_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

/* What every driver is told on its command line. */
struct bench_options {
    int requests;  /* -n: how many requests are in flight together */
    int delay_ms;  /* --delay: the delay asked of the server, before its speedup */
    int stack_kib; /* --stack: thread stack size (threads driver only; 0 = default) */
};

/* What a driver needs before it starts: its options, the server, the request. */
struct bench_job {
    struct bench_options options;
    struct sockaddr_in server; /* from DELAYSERVER_ADDR */
    const char *request;       /* `GET /<delay>/m` with Connection: close; static */
    size_t request_length;
};

/* Every driver's first call. Parses `-n N --delay MS [--stack KIB]` (only
 * the threads driver accepts --stack: pass allow_stack; usage_extra is added
 * to --help), which prints usage on --help and exits 0, or one line and exit
 * 2 on a bad argument. Then raises the soft RLIMIT_NOFILE to the hard limit
 * (exit 1 if even that is too few for the sockets), and reads the server's
 * IPv4 address from DELAYSERVER_ADDR (default 127.0.0.1:8080; a numeric
 * host only: the bench always uses a loopback literal; exit 1 with one line
 * when it is malformed). */
void bench_start(int argc, char **argv, const char *usage_extra, bool allow_stack,
                 struct bench_job *job);

/* Does this start of a response (at least 12 bytes, or fewer when the
 * connection ended early) say 200 OK? */
bool bench_is_ok(const char *head, size_t length);

/* Seconds on CLOCK_MONOTONIC. */
double bench_now(void);

/* Print the result line the run script reads, on stdout:
 *   models: model=<name> n=<N> ok=<answers with 200> wall_s=<s> vmhwm_kib=<k>
 *           vmpeak_kib=<k> rssfile_kib=<k> rssshmem_kib=<k><extra>
 * (one line). VmHWM (peak resident set) and VmPeak (peak address space) are
 * read from /proc/self/status now, at the end of the run: both are
 * high-water marks. RssFile and RssShmem are the resident file-backed and
 * shared pages now: the run script subtracts them from VmHWM to get the peak
 * of the program's own memory without the run-to-run jitter of how many
 * library pages happen to be mapped.
 * `extra` is appended as it is (" key=value" pairs, or ""). */
void bench_report(const char *model, int requests, int ok, double wall_s, const char *extra);

/* A "<key>: <n> kB" value of /proc/meminfo (system-wide), or -1. */
long bench_meminfo_kib(const char *key);

/* "<program>: <message>" on stderr, then exit(1). */
void bench_die(const char *format, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
