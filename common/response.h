/* response.h: the one line a program prints for a delay server response.
 * Not a lesson: programs that fetch responses print one line each by
 * default,
 *
 *     200 OK  HelloWorld1  (1002 ms)
 *
 * (status code and reason, the body, the time since the request started),
 * and the whole response only when asked (a --full option), so that what a
 * chapter teaches (the order and the timing of the answers) is what you see.
 * The format is fixed: tests and README blocks match it, with a placeholder
 * for the milliseconds. */
#ifndef COMMON_RESPONSE_H
#define COMMON_RESPONSE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Write the one-line summary of `response` (len bytes: a status line,
 * headers, a blank line and a body; lines may end in "\r\n" or "\n") to out,
 * with `elapsed_ns` shown in whole milliseconds. A response without a status
 * line or a blank line is shown as "(not an HTTP response)" with its first
 * bytes. Control characters in the body show as '?', an empty body as
 * "(empty body)". */
void response_print_line(FILE *out, const char *response, size_t len, uint64_t elapsed_ns);

#endif
