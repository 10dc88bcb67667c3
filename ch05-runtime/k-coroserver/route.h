/* delayserver/route.h: the delay server's protocol, from the bytes a client
 * sent to the bytes of the answer.
 *
 * route_next() takes the next request out of what a connection has
 * received and gives the verdict: 200 with the percent-decoded message of
 * GET /{delay_ms}/{message} after the delay (HEAD: the same answer without
 * its body), or an error status and a one-line reason at once.
 * route_answer_head() writes the answer's status line and headers,
 * route_log() the server's log line. Nothing here touches a socket, a clock
 * or a timer, and nothing keeps state between calls: a server carries
 * route.c and http.c over unchanged, whatever its model of concurrency (the
 * epoll loop of server.c, or coroutines on a runtime), and a fuzzer drives
 * them without a socket.
 */
#ifndef DELAYSERVER_ROUTE_H
#define DELAYSERVER_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "http.h"

#define ROUTE_HEAD_MAX 8192 /* longest request head accepted; a longer one gets 431 */

/* A header line takes at least three bytes ("a:" and a newline), so a head
 * of ROUTE_HEAD_MAX bytes has fewer than ROUTE_HEAD_MAX / 3 of them: with
 * this many slots the parser never runs out, and "too many headers" is
 * simply "head too large". */
#define ROUTE_MAX_HEADERS (ROUTE_HEAD_MAX / 3)

#define ROUTE_ANSWER_HEAD_SIZE 256 /* room for the longest head route_answer_head() writes */

/* The verdict on one request. */
struct route {
    int status;        /* 200, or the error status to send at once */
    uint64_t delay_ms; /* 200: the delay the client asked for; 0 for errors */
    char *body;        /* 200: the decoded message; errors: the reason, one line ending
                          in '\n'. malloc'd: route_free() frees it */
    size_t body_len;   /* its length in bytes (a message may contain NUL bytes) */
    bool head_only;    /* the client asked with HEAD: send the head alone; its
                          content-length still counts the body */
    bool keep_alive;   /* may another request follow on this connection? Never after an error */
    bool http10;       /* the request was HTTP/1.0: keep-alive must be announced */
};

/* Take the next request from buf[0..len), the bytes a connection has
 * received and not yet taken. `headers` is scratch space of
 * ROUTE_MAX_HEADERS slots (nothing points into it afterwards). Delays above
 * max_delay_ms are refused. Returns
 *   > 0      the request's length in bytes, with *route filled in; a
 *            pipelined request, if any, starts right after it. A head that
 *            can never be valid (400) or that is longer than ROUTE_HEAD_MAX
 *            (431) is a verdict too; the connection ends after an error,
 *            so it counts as all of buf.
 *   0        no whole request head yet, and fewer than ROUTE_HEAD_MAX bytes:
 *            receive more and call again (*route is untouched).
 *   -ENOMEM  out of memory (nothing to free).
 * The caller owns route->body after any verdict. */
ssize_t route_next(const char *buf, size_t len, uint64_t max_delay_ms, struct http_header *headers,
                   struct route *route);

/* The same verdict for a request already parsed: http_parse_request() has
 * returned a head length for `req`. Returns 0 or -ENOMEM. */
int route_request(const struct http_request *req, uint64_t max_delay_ms, struct route *route);

/* The verdict for a client that sent buf[0..len) (len > 0, not a whole
 * request head) and then nothing more for idle_timeout_ms: 408. Returns 0
 * or -ENOMEM. */
int route_timeout(const char *buf, size_t len, uint64_t idle_timeout_ms, struct route *route);

/* Write the answer's status line and headers, up to and including the
 * blank line, into out; `date` is the Date header's value
 * (http_format_date()). Returns their length, less than
 * ROUTE_ANSWER_HEAD_SIZE. The body follows: route_body_to_send() bytes of
 * route->body. */
size_t route_answer_head(const struct route *route, const char *date,
                         char out[ROUTE_ANSWER_HEAD_SIZE]);

/* How much of route->body goes after the head: all of it, or none for HEAD. */
static inline size_t route_body_to_send(const struct route *route)
{
    return route->head_only ? 0 : route->body_len;
}

/* Print the log line of a 200 verdict, request number n (counting from 1):
 * "#<n> - <delay_ms>ms: <message>" and a newline. Control characters are
 * shown as \xHH, so one request is always one line. */
void route_log(FILE *out, uint64_t n, const struct route *route);

/* Free route->body; the verdict is then empty. Safe to call twice. */
void route_free(struct route *route);

#endif
