/* http.h: a lazy HTTP GET to the delay server, as a future.
 * Introduced in ch04-coroutines step a; later steps carry an identical copy. */
#ifndef HTTP_H
#define HTTP_H

#include "future.h"

/* Return a future that GETs `path` (for example "/600/HelloAsyncAwait") from
 * the delay server at DELAYSERVER_ADDR ("host:port", default 127.0.0.1:8080).
 *
 * The future is lazy: creating it does nothing at all. Its first poll
 * connects, sends the request, prints "FIRST POLL - START OPERATION" and
 * returns POLL_PENDING. Every later poll reads whatever has arrived without
 * waiting for more, and returns POLL_READY once the server has closed the
 * connection. The output is then the whole response (status line, headers,
 * blank line, body) as a NUL-terminated `char *` from malloc: the caller owns
 * it and frees it. With a NULL output the response is discarded.
 *
 * `path` must start with '/' and contain no space, CR or LF; it is copied, so
 * the caller may reuse its buffer at once. This chapter's futures have no way
 * to report an error, so a problem with the server (a bad DELAYSERVER_ADDR, a
 * refused connection, an answer that is not HTTP) ends the program with a
 * one-line message on stderr and exit status 1. */
struct future *http_get(const char *path);

#endif
