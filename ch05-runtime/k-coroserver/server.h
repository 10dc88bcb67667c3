/* delayserver/server.h: between the command line (main.c) and a server.
 *
 * main.c reads the options and calls server_run(); server.c implements it
 * as one epoll loop with a timer heap. A server written in another model
 * of concurrency implements the same function and takes main.c, route.c
 * and http.c along: only how the waiting is done differs.
 */
#ifndef DELAYSERVER_SERVER_H
#define DELAYSERVER_SERVER_H

#include <stdbool.h>
#include <stdint.h>

/* What the command line chose (main.c checks the ranges). */
struct server_options {
    const char *host;         /* IPv4 or IPv6 literal to listen on */
    unsigned port;            /* TCP port; 0 lets the kernel pick a free one */
    unsigned speedup;         /* every delay is divided by this (at least 1) */
    uint64_t max_delay_ms;    /* longest delay a request may ask for */
    uint64_t idle_timeout_ms; /* how long a client may take to send a whole request (at least 1) */
    bool quiet;               /* no "#n - delay: message" log lines */
};

/* Listen, print "delayserver listening on <host>:<port>" on stdout (an
 * IPv6 host in brackets), and serve until SIGINT or SIGTERM. Returns the
 * exit status: 0 after a signal (every connection closed and all memory
 * freed), 1 if the server could not start (the reason is printed on stderr
 * first). */
int server_run(const struct server_options *options);

#endif
