/* delayserver/http.h: the small part of HTTP/1.x the delay server speaks.
 *
 * http_parse_request() is an incremental parser in the style of
 * picohttpparser: hand it everything received so far and it either finds a
 * complete request head or says it needs more bytes; it copies nothing and
 * keeps no state between calls, so it can be fuzzed on its own. The other
 * helpers read header values, decode percent-escapes and format dates.
 */
#ifndef DELAYSERVER_HTTP_H
#define DELAYSERVER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#define HTTP_NEED_MORE (-2) /* the head is not complete yet: call again with more bytes */
#define HTTP_MALFORMED (-1) /* the bytes so far can never become a valid head */

/* One header field. Both strings point into the parsed buffer and are not
 * NUL-terminated; the value has its surrounding spaces and tabs trimmed. */
struct http_header {
    const char *name; /* field name, e.g. "Connection" (any case) */
    size_t name_len;
    const char *value; /* field value, e.g. "close" */
    size_t value_len;
};

/* A parsed request head. The caller fills in `headers` and `max_headers`;
 * the parser fills in everything else. Every pointer points into the
 * buffer given to http_parse_request(), so it is valid only as long as that
 * buffer is unchanged. */
struct http_request {
    const char *method; /* e.g. "GET"; a token, case-sensitive */
    size_t method_len;
    const char *target; /* request target as sent, e.g. "/1000/hello%20world" */
    size_t target_len;
    int major; /* HTTP version: HTTP/major.minor, one digit each */
    int minor;
    struct http_header *headers; /* in: the caller's array for header fields */
    size_t max_headers;          /* in: its length */
    size_t num_headers;          /* out: how many fields the head has */
};

/* Parse the request head at the start of buf[0..len).
 *
 * Returns the length of the head in bytes (the request line, the header
 * fields and the blank line that ends them; the next request, if the client
 * pipelined one, starts right after), HTTP_NEED_MORE if buf is a valid but
 * unfinished head, or HTTP_MALFORMED if it can never become a valid one,
 * including a head with more than req->max_headers fields. Lines may end
 * in CRLF or a bare LF, and empty lines before the request line are
 * skipped (RFC 9112, section 2.2). Malformed input is reported as soon as
 * the offending byte arrives, not when the head ends. */
ssize_t http_parse_request(const char *buf, size_t len, struct http_request *req);

/* Does `header` have this name? Field names compare case-insensitively. */
bool http_header_is(const struct http_header *header, const char *name);

/* Does any field called `name` list `token` in its comma-separated value?
 * Case-insensitive, e.g. http_has_token(req, "connection", "close") is true
 * for "Connection: Keep-Alive, CLOSE". */
bool http_has_token(const struct http_request *req, const char *name, const char *token);

/* Decode the percent-escapes of src[0..len) into dst, which must have room
 * for len bytes (decoding never makes a string longer). Every '%' must be
 * followed by two hex digits; other bytes are copied as they are ('+' stays
 * '+': it means space only in HTML forms). Returns the decoded length, or
 * -1 on a bad escape (dst then holds garbage). */
ssize_t http_percent_decode(const char *src, size_t len, char *dst);

#define HTTP_DATE_SIZE 30 /* "Sun, 06 Nov 1994 08:49:37 GMT" plus the NUL */

/* Format `t` as an IMF-fixdate (RFC 9110, section 5.6.7), the one format
 * of the Date header, whatever the locale. */
void http_format_date(time_t t, char out[HTTP_DATE_SIZE]);

/* The reason phrase for a status code this server sends, e.g. "Not Found". */
const char *http_status_text(int status);

#endif
