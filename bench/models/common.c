/* common.c: the parts of the bench/models drivers that are not the model
 * being measured (see common.h). */
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

void bench_die(const char *format, ...)
{
    va_list args;
    fflush(stdout);
    fprintf(stderr, "%s: ", program_invocation_short_name);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputc('\n', stderr);
    exit(1);
}

/* ===== Command line ===== */

static int parse_count(const char *text, const char *flag, int low, int high)
{
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < low || value > high) {
        fprintf(stderr, "%s: %s wants a number from %d to %d, not '%s'\n",
                program_invocation_short_name, flag, low, high, text);
        exit(2);
    }
    return (int) value;
}

static void parse(int argc, char **argv, const char *usage_extra, bool allow_stack,
                  struct bench_options *options)
{
    *options = (struct bench_options){.requests = 1, .delay_ms = 1000, .stack_kib = 0};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0) {
            printf("usage: %s -n N [--delay MS]%s\n"
                   "Sends N concurrent GET /<MS>/m requests to the delay server at\n"
                   "DELAYSERVER_ADDR (default 127.0.0.1:8080), one connection each, and\n"
                   "prints one 'models:' line with the wall time and peak memory.\n%s",
                   program_invocation_short_name, allow_stack ? " [--stack KIB]" : "", usage_extra);
            exit(0);
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "%s: unexpected argument '%s' (try --help)\n",
                    program_invocation_short_name, arg);
            exit(2);
        }
        if (strcmp(arg, "-n") == 0)
            options->requests = parse_count(argv[++i], "-n", 1, 1000000);
        else if (strcmp(arg, "--delay") == 0)
            options->delay_ms = parse_count(argv[++i], "--delay", 0, 600000);
        else if (allow_stack && strcmp(arg, "--stack") == 0)
            options->stack_kib = parse_count(argv[++i], "--stack", 16, 1 << 20);
        else {
            fprintf(stderr, "%s: unexpected argument '%s' (try --help)\n",
                    program_invocation_short_name, arg);
            exit(2);
        }
    }
}

/* ===== The process and the server ===== */

static void raise_fd_limit(int requests)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
        bench_die("getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0)
        bench_die("setrlimit(RLIMIT_NOFILE): %s", strerror(errno));
    if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < (rlim_t) requests + 16)
        bench_die("%d sockets need more open files than the hard limit (%llu) allows", requests,
                  (unsigned long long) limit.rlim_cur);
}

static void server_address(struct sockaddr_in *server)
{
    const char *addr = getenv("DELAYSERVER_ADDR");
    if (addr == NULL || *addr == '\0')
        addr = "127.0.0.1:8080";
    char host[64];
    const char *colon = strrchr(addr, ':');
    if (colon == NULL || (size_t) (colon - addr) >= sizeof host)
        bench_die("DELAYSERVER_ADDR='%s' is not ipv4:port", addr);
    snprintf(host, sizeof host, "%.*s", (int) (colon - addr), addr);
    *server = (struct sockaddr_in){.sin_family = AF_INET};
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (inet_pton(AF_INET, host, &server->sin_addr) != 1 || *end != '\0' || port < 1 ||
        port > 65535)
        bench_die("DELAYSERVER_ADDR='%s' is not ipv4:port", addr);
    server->sin_port = htons((uint16_t) port);
}

void bench_start(int argc, char **argv, const char *usage_extra, bool allow_stack,
                 struct bench_job *job)
{
    static char request[128];
    parse(argc, argv, usage_extra, allow_stack, &job->options);
    raise_fd_limit(job->options.requests);
    server_address(&job->server);
    int n = snprintf(request, sizeof request,
                     "GET /%d/m HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                     job->options.delay_ms);
    job->request = request;
    job->request_length = (size_t) n;
}

bool bench_is_ok(const char *head, size_t length)
{
    return length >= 12 && memcmp(head, "HTTP/1.1 200", 12) == 0;
}

double bench_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double) now.tv_sec + (double) now.tv_nsec / 1e9;
}

/* ===== The result line ===== */

/* The value of "<key>:  <n> kB" in a /proc file like status or meminfo, or -1. */
static long proc_kib(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    char line[256];
    long value = -1;
    size_t key_length = strlen(key);
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, key, key_length) == 0 && line[key_length] == ':') {
            value = strtol(line + key_length + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return value;
}

long bench_meminfo_kib(const char *key)
{
    return proc_kib("/proc/meminfo", key);
}

void bench_report(const char *model, int requests, int ok, double wall_s, const char *extra)
{
    const char *status = "/proc/self/status";
    printf("models: model=%s n=%d ok=%d wall_s=%.6f vmhwm_kib=%ld vmpeak_kib=%ld "
           "rssfile_kib=%ld rssshmem_kib=%ld%s\n",
           model, requests, ok, wall_s, proc_kib(status, "VmHWM"), proc_kib(status, "VmPeak"),
           proc_kib(status, "RssFile"), proc_kib(status, "RssShmem"), extra);
    fflush(stdout);
}
