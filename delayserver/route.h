/* delayserver/route.h: what the delay server does with one parsed request.
 *
 * The protocol in one function: GET /{delay_ms}/{message} is answered with
 * 200 and the percent-decoded message after the delay; anything else gets
 * a status and a one-line reason. It does no I/O and keeps no state, so it
 * can be tested and fuzzed without a socket.
 */
#ifndef DELAYSERVER_ROUTE_H
#define DELAYSERVER_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"

#define ROUTE_REASON_SIZE 128 /* room for the longest reason and its NUL */

/* The verdict on one request. */
struct route {
    int status;         /* 200, or the error status to send at once */
    uint64_t delay_ms;  /* 200: the delay the client asked for */
    char *message;      /* 200: the decoded message; malloc'd, the caller frees it */
    size_t message_len; /* its length (it may contain NUL bytes) */
    bool keep_alive;    /* 200: may another request follow on this connection? */
    bool http10;        /* the request was HTTP/1.0 (keep-alive must then be announced) */
    char reason[ROUTE_REASON_SIZE]; /* errors: one line of plain text, without a newline */
};

/* Decide what to do with `req`. Delays above max_delay_ms are refused.
 * Returns 0 with *route filled in, or -ENOMEM (nothing to free then). On
 * 0 with status 200 the caller owns route->message; with any other status
 * route->message is NULL and route->reason says what was wrong. */
int route_request(const struct http_request *req, uint64_t max_delay_ms, struct route *route);

#endif
