/* delayserver/main.c: the delay server's command line. Every chapter of the
 * workbook sends its requests here; server_run() (server.h) does the
 * serving. Messages start with the program's own name, so a server that
 * links this file under another name speaks for itself.
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

#include "../common/args.h"
#include "server.h"

/* The usage text; its first two lines name the program. */
static void print_usage(void)
{
    const char *name = program_invocation_short_name;
    printf("usage: %s [--host ADDR] [--port N] [--speedup N] [--max-delay MS]\n"
           "       %*s [--idle-timeout MS] [--quiet] [--help]\n",
           name, (int) strlen(name), "");
    fputs("\n"
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
          "then one line per request: \"#<n> - <delay_ms>ms: <message>\".\n",
          stdout);
}

/* A bad command line: one line on stderr, exit status 2. */
__attribute__((format(printf, 1, 2), noreturn)) static void bad_usage(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fprintf(stderr, "%s: ", program_invocation_short_name);
    vfprintf(stderr, format, args);
    fputs(" (try --help)\n", stderr);
    va_end(args);
    exit(2);
}

/* Read a decimal number from min to max, or exit with a usage error. */
static unsigned long long number(const char *flag, const char *text, unsigned long long min,
                                 unsigned long long max)
{
    unsigned long long value;
    if (parse_count(text, min, max, &value) < 0)
        bad_usage("%s wants a whole number from %llu to %llu, not '%s'", flag, min, max, text);
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
    bool help = false;
    for (int i = 1; i < argc; i++) {
        const char *value;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            help = true;
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
    if (help && argc > 2)
        bad_usage("--help takes no other arguments");
    if (help) {
        print_usage();
        return 0;
    }

    /* The log must reach a reader (a test, a pipe) line by line, not in
     * 4 KiB lumps when the buffer happens to fill. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    raise_fd_limit();
    return server_run(&options);
}
