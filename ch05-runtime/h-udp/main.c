/* main.c: ch05-runtime step h: a UDP echo server and a client, two tasks on
 * one executor, talking over 127.0.0.1. This is corofy's input: `make
 * corofy` turns the `coroutine` functions into state machines in
 * main_corofied.c, and that file is what gets compiled. */
/* corofy: waker */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/args.h"
#include "../../common/errors.h"
#include "executor.h"
#include "future.h"
#include "reactor.h"
#include "udp.h"

#define SERVER_BUFFER 1024 /* the echo server's receive buffer: larger datagrams are truncated */
#define MAX_BURST 64       /* datagrams the client may have in flight */
#define BURST_BUDGET (128 * 1024) /* bytes a burst may occupy in a receive buffer */
#define ADDRESS_TEXT 22           /* "255.255.255.255:65535" and its NUL */
#define PREVIEW_TEXT 24           /* what preview() writes */

struct options {
    int count;    /* datagrams to send */
    int size;     /* pad each one to this many bytes; 0: no padding */
    int burst;    /* datagrams sent before their echoes are awaited */
    bool refused; /* send where nobody listens */
};

/* ===== Helpers that do not wait ===== */

static bool failed; /* something went wrong: exit 1 (executor thread only) */

/* Report a failure on stderr: one line, named after the program. */
static void report(const char *format, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fprintf(stderr, "%s: ", program_invocation_short_name);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    failed = true;
}

/* Datagram #i: "ping i", padded with dots to `size` bytes (when size is
 * larger). Returns its length. buf holds UDP_MAX_PAYLOAD bytes. */
static size_t fill(char *buf, int i, int size)
{
    int n = snprintf(buf, 16, "ping %d", i);
    if (size <= n)
        return (size_t) n;
    memset(buf + n, '.', (size_t) (size - n));
    return (size_t) size;
}

/* A short quoted view of a datagram for the log: at most 16 bytes, then
 * "..."; bytes that are not printable show as '?'. Returns text. */
static char *preview(const char *buf, size_t len, char text[PREVIEW_TEXT])
{
    size_t shown = len < 16 ? len : 16, at = 0;
    text[at++] = '"';
    for (size_t i = 0; i < shown; i++)
        text[at++] = buf[i] >= ' ' && buf[i] <= '~' ? buf[i] : '?';
    text[at++] = '"';
    strcpy(text + at, len > shown ? "..." : "");
    return text;
}

/* How does an echo compare with the datagram that was sent? */
enum echo { ECHO_SAME, ECHO_SHORTER, ECHO_OTHER };

static enum echo compare_echo(const char *sent, size_t sent_len, const char *got, size_t got_len)
{
    if (got_len > sent_len || memcmp(sent, got, got_len) != 0)
        return ECHO_OTHER;
    return got_len == sent_len ? ECHO_SAME : ECHO_SHORTER;
}

/* ===== The server ===== */

/* Echo every datagram back to its sender until one says "bye". Datagrams
 * larger than the buffer arrive cut off (the kernel drops the rest); the
 * server says so and echoes what it got. Owns and closes `sock`. */
coroutine void echo_server(struct udp_socket *sock)
{
    char buf[SERVER_BUFFER];
    char from[ADDRESS_TEXT];
    char text[PREVIEW_TEXT];
    int echoed = 0;
    for (;;) {
        struct udp_received got = udp_recv_from(sock, buf, sizeof buf).wait;
        if (got.error < 0) {
            report("server: receive: %s", strerror(-got.error));
            break;
        }
        udp_format_address(&got.from, from);
        if (got.len == 3 && memcmp(buf, "bye", 3) == 0) {
            printf("server: bye from %s after %d echoes\n", from, echoed);
            break;
        }
        int err = udp_send_to(sock, buf, got.len, &got.from).wait;
        if (err < 0) {
            report("server: echo to %s: %s", from, strerror(-err));
            break;
        }
        echoed++;
        if (got.truncated)
            printf("server: %s arrived truncated, %zu of %zu bytes; echoed %zu to %s\n",
                   preview(buf, got.len, text), got.len, got.datagram_len, got.len, from);
        else
            printf("server: echoed %s (%zu bytes) to %s\n", preview(buf, got.len, text), got.len,
                   from);
    }
    udp_close(sock);
}

/* ===== The client ===== */

/* Send opt.count numbered datagrams over `sock` (connected to the server),
 * opt.burst at a time, and check that each one comes back whole, once, and
 * in order. Then say "bye" so the server stops (unless nobody is there to
 * hear it). Owns and closes `sock`. */
coroutine void echo_client(struct udp_socket *sock, struct sockaddr_in server, struct options opt)
{
    char out[UDP_MAX_PAYLOAD]; /* the datagram being sent, then the one expected back */
    char in[UDP_MAX_PAYLOAD];  /* the echo */
    char me[ADDRESS_TEXT];
    char peer[ADDRESS_TEXT];
    char text[PREVIEW_TEXT];
    struct sockaddr_in local = udp_local_address(sock);
    printf("client: %s sends %d datagrams to %s%s\n", udp_format_address(&local, me), opt.count,
           udp_format_address(&server, peer), opt.refused ? ", where nobody listens" : "");

    int err = 0, echoes = 0, truncated = 0;
    for (int first = 1; first <= opt.count && err == 0; first += opt.burst) {
        int last = first + opt.burst - 1 < opt.count ? first + opt.burst - 1 : opt.count;
        for (int i = first; i <= last; i++) {
            size_t len = fill(out, i, opt.size);
            err = udp_send_to(sock, out, len, NULL).wait;
            if (err < 0) {
                report("client: send #%d to %s: %s", i, peer, strerror(-err));
                break;
            }
            printf("client: sent #%d (%zu bytes)\n", i, len);
        }
        for (int i = first; i <= last && err == 0; i++) {
            struct udp_received got = udp_recv_from(sock, in, sizeof in).wait;
            if (got.error < 0) {
                err = got.error;
                report("client: waiting for echo #%d from %s: %s", i, peer, strerror(-err));
                break;
            }
            size_t len = fill(out, i, opt.size);
            enum echo verdict = compare_echo(out, len, in, got.len);
            if (verdict == ECHO_OTHER || got.truncated) {
                /* Another datagram's echo, a duplicate, or garbage: the
                   exchange is no longer in step, so stop here. */
                err = -EPROTO;
                report("client: expected echo #%d, got %s (%zu bytes)", i,
                       preview(in, got.len, text), got.datagram_len);
                break;
            }
            echoes++;
            if (verdict == ECHO_SHORTER) {
                truncated++;
                printf("client: echo #%d came back truncated, %zu of %zu bytes\n", i, got.len, len);
            } else {
                printf("client: echo #%d ok\n", i);
            }
        }
    }

    if (err == 0) {
        printf("client: %d of %d echoes came back, in order", echoes, opt.count);
        if (truncated > 0)
            printf(", %d of them truncated", truncated);
        printf("\n");
        if (truncated > 0)
            report("client: %d echoes came back shorter than sent: "
                   "the server's buffer holds %d bytes",
                   truncated, SERVER_BUFFER);
    }
    if (err != -ECONNREFUSED) {
        /* Tell the server to stop, even after a failure: it would wait
           for the next datagram forever. (If even this send fails, it
           does: only a timer or a way to cancel a task could help.) A
           refused datagram means there is no server to tell. */
        err = udp_send_to(sock, "bye", 3, NULL).wait;
        if (err < 0)
            report("client: send bye to %s: %s", peer, strerror(-err));
        else
            printf("client: sent bye\n");
    }
    udp_close(sock);
}

/* The first task: start the server (if there is one) and the client. */
coroutine void async_main(struct udp_socket *server_sock, struct udp_socket *client_sock,
                          struct sockaddr_in server, struct options opt)
{
    if (server_sock != NULL)
        executor_spawn(echo_server(server_sock), "server");
    executor_spawn(echo_client(client_sock, server, opt), "client");
}

/* ===== The command line ===== */

static void usage(void)
{
    printf("usage: udp [--count N] [--size BYTES] [--burst N] [--refused]\n"
           "Runs a UDP echo server task and a client task on one executor, over\n"
           "127.0.0.1 only (the kernel picks the ports). The client sends N numbered\n"
           "datagrams and checks that every echo comes back whole and in order.\n"
           "\n"
           "  --count N      datagrams to send (1..1000000; default 5)\n"
           "  --size BYTES   pad each datagram with dots to BYTES (16..%d); above %d\n"
           "                 the server's buffer truncates them\n"
           "  --burst N      send N datagrams before awaiting their echoes (1..%d; default 1)\n"
           "  --refused      send to a port where nobody listens: the connected socket\n"
           "                 reports 'Connection refused'\n",
           UDP_MAX_PAYLOAD, SERVER_BUFFER, MAX_BURST);
}

/* Fill *opt from argv. 0, or an exit status after printing why not. */
static int parse_options(int argc, char **argv, struct options *opt)
{
    *opt = (struct options){.count = 5, .size = 0, .burst = 1, .refused = false};
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        if (argc > 2) {
            fprintf(stderr, "udp: unexpected argument '%s' after --help (try --help)\n", argv[2]);
            return 2;
        }
        usage();
        return -1;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        int *value = NULL, min = 1, max = 0;
        if (strcmp(arg, "--refused") == 0) {
            opt->refused = true;
            continue;
        } else if (strcmp(arg, "--count") == 0) {
            value = &opt->count, max = 1000000;
        } else if (strcmp(arg, "--size") == 0) {
            value = &opt->size, min = 16, max = UDP_MAX_PAYLOAD;
        } else if (strcmp(arg, "--burst") == 0) {
            value = &opt->burst, max = MAX_BURST;
        } else {
            fprintf(stderr, "udp: unknown argument '%s' (try --help)\n", arg);
            return 2;
        }
        unsigned long long number;
        if (i + 1 == argc ||
            parse_count(argv[i + 1], (unsigned) min, (unsigned) max, &number) < 0) {
            fprintf(stderr, "udp: %s needs a number from %d to %d\n", arg, min, max);
            return 2;
        }
        *value = (int) number;
        i++;
    }
    /* A burst waits in the receiving socket's buffer (212992 bytes by
       default on Linux, each datagram costing its size plus about a
       kilobyte of bookkeeping). Overflow it and the kernel drops
       datagrams, and the client would wait forever for their echoes. */
    long burst_bytes = (long) opt->burst * ((opt->size > 16 ? opt->size : 16) + 1024);
#ifdef BUG_NO_BURST_CHECK /* exercise 5 (README.md) */
    burst_bytes = 0;
#endif
    if (burst_bytes > BURST_BUDGET) {
        fprintf(stderr,
                "udp: --burst %d of %d-byte datagrams could overflow a socket's receive "
                "buffer; keep burst x (size + 1024) under %d\n",
                opt->burst, opt->size > 16 ? opt->size : 16, BURST_BUDGET);
        return 2;
    }
    return 0;
}

/* Open both sockets on 127.0.0.1, with ports the kernel picks, before any
 * task runs: the server's (stored in *server_sock, its address in *server)
 * and the client's, connected to it (in *client_sock). With `refused`, the
 * server's socket is closed again at once (*server_sock is NULL), so its
 * address is one where nobody listens. 0, or -errno with nothing open. */
static int open_sockets(bool refused, struct udp_socket **server_sock, struct sockaddr_in *server,
                        struct udp_socket **client_sock)
{
    struct sockaddr_in any_port = {
        .sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int err = udp_open(&any_port, server_sock);
    if (err < 0)
        return err;
    *server = udp_local_address(*server_sock);
    if (refused) {
        udp_close(*server_sock);
        *server_sock = NULL;
    }
    if ((err = udp_open(&any_port, client_sock)) == 0 &&
        (err = udp_connect(*client_sock, server)) < 0)
        udp_close(*client_sock);
    if (err < 0 && *server_sock != NULL)
        udp_close(*server_sock);
    return err;
}

int main(int argc, char **argv)
{
    struct options opt;
    int status = parse_options(argc, argv, &opt);
    if (status != 0)
        return status < 0 ? 0 : status;
    setvbuf(stdout, NULL, _IOLBF, 0); /* each line as it happens, even into a pipe */

    struct udp_socket *server_sock, *client_sock;
    struct sockaddr_in server;
    char text[ADDRESS_TEXT];
    int err = open_sockets(opt.refused, &server_sock, &server, &client_sock);
    if (err < 0)
        die("cannot open a UDP socket on 127.0.0.1: %s", strerror(-err));
    if ((err = reactor_start()) < 0) {
        if (server_sock != NULL)
            udp_close(server_sock);
        udp_close(client_sock);
        die("cannot start the reactor: %s", strerror(-err));
    }
    if (server_sock != NULL)
        printf("server: listening on %s\n", udp_format_address(&server, text));
    executor_block_on("main", async_main(server_sock, client_sock, server, opt));
    reactor_stop();
    return failed ? 1 : 0;
}
