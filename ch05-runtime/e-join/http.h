/* http.h: GET a path from the delay server, as a leaf future that waits for
 * its socket through the reactor. Introduced in ch05-runtime step a (where it
 * waits through a global epoll registry); step b hands wakers to the reactor.
 *
 * Errors are part of the interface: a request that fails (the server is not
 * there, refuses, or answers something that is not HTTP) completes with a
 * NULL response. The first failure in the program prints one line on stderr
 * naming the problem; later ones stay silent, so a hundred requests to a
 * missing server do not print a hundred lines. http_failed() tells main()
 * whether to exit non-zero. */
#ifndef HTTP_H
#define HTTP_H

#include <stdbool.h>

#include "future.h"

/* Read the server's address from DELAYSERVER_ADDR (host:port, default
 * 127.0.0.1:8080). On a malformed value prints one line and returns -1.
 * Call once, before any request and before starting threads. */
int http_init(void);

/* A future for `GET <path>` with `Connection: close`, where the path is
 * formatted like printf. Its output (a `char *`) is the whole response,
 * status line, headers and body, with "\r\n" turned into "\n", as a string
 * the receiver must free(); or NULL if the request failed (see above).
 * Nothing happens until the first poll: it connects then. */
struct future *http_get(const char *path_format, ...)
    __attribute__((format(printf, 1, 2)));

/* The body of a response returned by http_get(): the text after the first
 * blank line (an empty string if there is none). Points into `response`. */
const char *http_body(const char *response);

/* Has any request failed so far? */
bool http_failed(void);

#endif
