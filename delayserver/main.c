/* delayserver/main.c: the delay server's command line. Every chapter of the
 * workbook sends its requests here; server.c does the serving.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "server.h"

static const char usage[] =
    "usage: delayserver [--host ADDR] [--port N] [--speedup N] [--max-delay MS]\n"
    "                   [--idle-timeout MS] [--quiet] [--help]\n"
    "\n"
    "Answers GET /{delay_ms}/{message} with the message, after the delay.\n"
    "\n"
    "  --host ADDR        IPv4 or IPv6 address to listen on (default 127.0.0.1)\n"
    "  --port N           TCP port, 0 for any free one (default 8080)\n"
    "  --speedup N        divide every delay by N (default 1)\n"
    "  --max-delay MS     refuse longer delays with 400 (default 60000)\n"
    "  --idle-timeout MS  close a client that sends no complete request\n"
    "                     within MS milliseconds (default 10000)\n"
    "  --quiet            do not log requests\n"
    "  --help             show this help\n"
    "\n"
    "The first line on stdout is \"delayserver listening on <host>:<port>\";\n"
    "then one line per request: \"#<n> - <delay_ms>ms: <message>\".\n";

/* A bad command line: one line on stderr, exit status 2. */
__attribute__((format(printf, 1, 2), noreturn)) static void bad_usage(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fputs("delayserver: ", stderr);
    vfprintf(stderr, format, args);
    fputs(" (see --help)\n", stderr);
    va_end(args);
    exit(2);
}

/* Parse a decimal number from min to max, or exit with a usage error. */
static uint64_t number(const char *flag, const char *text, uint64_t min, uint64_t max)
{
    uint64_t value = 0;
    bool ok = text[0] != '\0';
    for (const char *p = text; ok && *p != '\0'; p++) {
        ok = *p >= '0' && *p <= '9' && value <= (max - (uint64_t) (*p - '0')) / 10;
        value = value * 10 + (uint64_t) (*p - '0');
    }
    if (!ok || value < min)
        bad_usage("%s wants a whole number from %llu to %llu, not '%s'", flag,
                  (unsigned long long) min, (unsigned long long) max, text);
    return value;
}

/* If argv[*i] is `flag`, as "--flag VALUE" or "--flag=VALUE", return the
 * value (moving *i past it); otherwise NULL. */
static const char *flag_value(int argc, char **argv, int *i, const char *flag)
{
    size_t len = strlen(flag);
    const char *arg = argv[*i];
    if (strncmp(arg, flag, len) != 0)
        return NULL;
    if (arg[len] == '=')
        return arg + len + 1;
    if (arg[len] != '\0')
        return NULL;
    if (*i + 1 >= argc)
        bad_usage("%s needs a value", flag);
    return argv[++*i];
}

/* Many concurrent clients need many descriptors: take all the system allows
 * us. If this fails we simply serve fewer clients at once. */
static void raise_fd_limit(void)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
}

int main(int argc, char **argv)
{
    struct server_options options = {
        .host = "127.0.0.1",
        .port = 8080,
        .speedup = 1,
        .max_delay_ms = 60000,
        .idle_timeout_ms = 10000,
        .quiet = false,
    };
    for (int i = 1; i < argc; i++) {
        const char *value;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(argv[i], "--quiet") == 0) {
            options.quiet = true;
        } else if ((value = flag_value(argc, argv, &i, "--host")) != NULL) {
            unsigned char addr[sizeof(struct in6_addr)];
            if (inet_pton(AF_INET, value, addr) != 1 && inet_pton(AF_INET6, value, addr) != 1)
                bad_usage("--host wants an IP address such as 127.0.0.1 or ::1, not '%s'", value);
            options.host = value;
        } else if ((value = flag_value(argc, argv, &i, "--port")) != NULL) {
            options.port = (unsigned) number("--port", value, 0, 65535);
        } else if ((value = flag_value(argc, argv, &i, "--speedup")) != NULL) {
            options.speedup = (unsigned) number("--speedup", value, 1, 1000000);
        } else if ((value = flag_value(argc, argv, &i, "--max-delay")) != NULL) {
            options.max_delay_ms = number("--max-delay", value, 0, UINT32_MAX);
        } else if ((value = flag_value(argc, argv, &i, "--idle-timeout")) != NULL) {
            options.idle_timeout_ms = number("--idle-timeout", value, 1, UINT32_MAX);
        } else if (argv[i][0] == '-') {
            bad_usage("unknown option '%s'", argv[i]);
        } else {
            bad_usage("unexpected argument '%s'", argv[i]);
        }
    }

    /* The log must reach a reader (a test, a pipe) line by line, not in
     * 4 KiB lumps when the buffer happens to fill. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    raise_fd_limit();
    return server_run(&options);
}
