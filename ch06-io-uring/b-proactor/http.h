/* http.h: a lazy HTTP GET to the delay server, as a future. Introduced in
 * ch04-coroutines step a; every later step of chapters 4 and 5 carries this
 * file over unchanged (only http.c learns to wait without polling).
 *
 * Errors are part of the interface: a request that fails (the server is not
 * there, refuses, answers something that is not HTTP, or has not answered
 * when the deadline passes) completes with a NULL response. The first
 * failure in the program prints one line on stderr naming the problem; later
 * ones stay silent, so a hundred requests to a missing server do not print
 * a hundred lines. At the end, http_failed() says whether to exit 1. */
#ifndef HTTP_H
#define HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "future.h"

/* Read the server's address (DELAYSERVER_ADDR) and how long a request may
 * take (DELAYSERVER_TIMEOUT_MS), both through common/addr.h. With `full`,
 * http_print() shows whole responses (the programs' --full option). On a
 * malformed value prints one line and returns -1. Call once, before any
 * request and before starting threads. */
int http_init(bool full);

/* A future for `GET <path>` with `Connection: close`, where the path is
 * formatted like printf and must start with '/' and hold no space, CR or LF.
 *
 * Lazy: creating it does nothing. Its first poll starts connecting; every
 * poll does what it can without blocking (send the request, read what has
 * arrived) and returns POLL_PENDING when it would have to wait. It is ready
 * once the whole response is there, or once the request failed; a request
 * that is not complete DELAYSERVER_TIMEOUT_MS after its first poll fails.
 *
 * Its output (a `char *`) is the whole response, status line, headers and
 * body, with "\r\n" turned into "\n", as a string the receiver must free();
 * or NULL if the request failed (see above). */
struct future *http_get(const char *path_format, ...) __attribute__((format(printf, 1, 2)));

/* The body of a response returned by http_get(): the text after the first
 * blank line (an empty string if there is none, or if response is NULL).
 * Points into `response`. */
const char *http_body(const char *response);

/* Print a response as every program of the workbook does: one line,
 *     200 OK  HelloWorld1  (1002 ms)
 * with the time since `started_ns` (a now_ns() value taken when the request
 * started), or the whole response if http_init() was asked for `full`. A
 * NULL response (a failed request, reported already) prints nothing. */
void http_print(const char *response, uint64_t started_ns);

/* Call once, at the end: has any request failed? If some requests ran out
 * of time and no failure was reported yet, this first prints the one line
 *     <program>: gave up after 15 s: 2 of 5 responses never came
 * (2 requests timed out, of the 5 that were started). */
bool http_failed(void);

#endif
