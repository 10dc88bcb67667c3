/* addr.h: where the delay server is, and how long to wait for it. Not a
 * lesson: every program that talks to the delay server reads DELAYSERVER_ADDR
 * through this one parser, so they all accept the same spellings and reject
 * the same mistakes:
 *
 *     127.0.0.1:8080      host:port (the default when the variable is unset or empty)
 *     localhost:8080      a name is looked up once, at start-up
 *     [::1]:8080          an IPv6 address goes in brackets
 *
 * The port is 1 to 65535 in decimal digits only (getaddrinfo alone would
 * take 99999 and quietly use 99999 % 65536). */
#ifndef COMMON_ADDR_H
#define COMMON_ADDR_H

#include <sys/socket.h>

#define SERVER_ADDR_DEFAULT "127.0.0.1:8080"
#define SERVER_TIMEOUT_MS_DEFAULT 15000 /* longer than any delay a chapter asks for */
#define SERVER_TIMEOUT_MS_MAX 3600000

struct server_addr {
    struct sockaddr_storage sockaddr; /* the first address the lookup gave */
    socklen_t len;                    /* how much of sockaddr is used */
    char text[128];                   /* the spelling it came from, for messages */
};

/* Parse `text` (one of the spellings above) and look the host up. On
 * success fills *out and returns 0. On failure prints one line,
 *     <program>: DELAYSERVER_ADDR='<text>': <why>
 * and returns -1; *out is then unusable. */
int server_addr_parse(const char *text, struct server_addr *out);

/* server_addr_parse() on $DELAYSERVER_ADDR, or on SERVER_ADDR_DEFAULT when it
 * is unset or empty. */
int server_addr_from_env(struct server_addr *out);

/* How long one request may take, from the start of its connect to the last
 * byte of the answer, before the program gives up on it: $DELAYSERVER_TIMEOUT_MS
 * (1 to SERVER_TIMEOUT_MS_MAX), or SERVER_TIMEOUT_MS_DEFAULT when unset or
 * empty. A server that accepts and never answers, or answers half a
 * response, then costs this long, not forever. On a malformed value prints
 * one line,
 *     <program>: DELAYSERVER_TIMEOUT_MS='<text>': expected 1 to 3600000 (milliseconds)
 * and returns -1. */
long server_timeout_ms(void);

#endif
