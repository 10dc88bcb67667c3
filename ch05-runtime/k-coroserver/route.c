/* delayserver/route.c: the delay server's protocol, GET /{delay_ms}/{message}
 * (route.h is the contract). The checks run in the order a reader would
 * ask: is it a whole head, is it HTTP/1, is it GET or HEAD, does it name
 * one host, has it no body, is the path the right shape, is the delay a
 * number in range, does the message decode.
 * Sections: Verdicts, Checks, Taking a request, Answers.
 */
#include "route.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define REASON_MAX 128 /* longest reason line, newline included */

/* ===== Verdicts ===== */

/* Fill in an error verdict on a zeroed *route: `format` makes one line of
 * text, which becomes the body with a newline at its end. Returns 0 or
 * -ENOMEM. */
__attribute__((format(printf, 3, 4))) static int reject(struct route *route, int status,
                                                        const char *format, ...)
{
    char reason[REASON_MAX];
    va_list args;
    va_start(args, format);
    int n = vsnprintf(reason, sizeof reason - 1, format, args);
    va_end(args);
    assert(n > 0 && (size_t) n < sizeof reason - 1); /* every reason below fits */
    reason[n++] = '\n';

    route->body = malloc((size_t) n);
    if (route->body == NULL)
        return -ENOMEM;
    memcpy(route->body, reason, (size_t) n);
    route->body_len = (size_t) n;
    route->status = status;
    route->delay_ms = 0;
    route->keep_alive = false;
    return 0;
}

void route_free(struct route *route)
{
    free(route->body);
    route->body = NULL;
    route->body_len = 0;
}

/* ===== Checks ===== */

/* Did the client ask with HEAD? This looks at the first word only, for a
 * head that cannot be parsed (too long, malformed, unfinished): a client
 * that sent HEAD reads no body, whatever else was wrong. Only proper empty
 * lines are skipped before it, as the parser skips them: then "HEAD " has
 * always arrived before the parser can refuse anything, and the answer
 * does not depend on how the client's bytes were split. */
static bool starts_with_head(const char *buf, size_t len)
{
    size_t i = 0;
    while (i < len && (buf[i] == '\n' || (buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n')))
        i += buf[i] == '\r' ? 2 : 1;
    return len - i >= 5 && memcmp(buf + i, "HEAD ", 5) == 0;
}

static bool method_is(const struct http_request *req, const char *method)
{
    return req->method_len == strlen(method) && memcmp(req->method, method, req->method_len) == 0;
}

/* GET and HEAD have no body; a request that announces one would leave its
 * bytes to be read as the next request, so it is refused instead. */
static bool announces_body(const struct http_request *req)
{
    for (size_t i = 0; i < req->num_headers; i++) {
        const struct http_header *h = &req->headers[i];
        if (http_header_is(h, "transfer-encoding"))
            return true;
        if (http_header_is(h, "content-length")) {
            if (h->value_len == 0)
                return true; /* not a number: refuse rather than guess */
            for (size_t j = 0; j < h->value_len; j++)
                if (h->value[j] != '0')
                    return true;
        }
    }
    return false;
}

/* What is wrong with the request's Host header, if anything (RFC 9112,
 * section 3.2: a server must refuse with 400 an HTTP/1.1 request without
 * one, and any request with several or with an invalid one). The value is
 * a host and an optional port (uri-host [":" port]): it may be empty, and
 * it can only hold the characters of a host name, an IP address in
 * brackets, a percent-escape and a port. Returns the reason, or NULL. */
static const char *host_problem(const struct http_request *req)
{
    const struct http_header *host = NULL;
    for (size_t i = 0; i < req->num_headers; i++) {
        if (!http_header_is(&req->headers[i], "host"))
            continue;
        if (host != NULL)
            return "a request must have one Host header, not several";
        host = &req->headers[i];
    }
    if (host == NULL)
        return req->minor >= 1 ? "an HTTP/1.1 request must have a Host header" : NULL;
    for (size_t i = 0; i < host->value_len; i++) {
        char c = host->value[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  (c != '\0' && strchr("-._~%!$&'()*+,;=:[]", c) != NULL);
        if (!ok)
            return "the Host header must be a host name or address, with an optional port";
    }
    return NULL;
}

/* Parse the delay segment: one or more digits, at most max_ms. Returns 0,
 * -1 if it is not a number, or -2 if it is above max_ms. */
static int parse_delay(const char *s, size_t len, uint64_t max_ms, uint64_t *delay_ms)
{
    if (len == 0)
        return -1;
    uint64_t value = 0;
    bool too_big = false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        if (!too_big)
            value = value * 10 + (uint64_t) (s[i] - '0');
        if (value > max_ms)
            too_big = true; /* keep checking the digits, but stop before overflow */
    }
    if (too_big)
        return -2;
    *delay_ms = value;
    return 0;
}

/* Is s[0..len) well-formed UTF-8 (no overlong forms, no surrogates, nothing
 * above U+10FFFF)? The body is sent as text/plain; charset=utf-8. */
static bool valid_utf8(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t extra;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            extra = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            extra = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            extra = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false; /* a continuation byte, or 0xf8 and up */
        }
        if (len - i <= extra)
            return false;
        for (size_t k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += extra + 1;
    }
    return true;
}

/* ===== Taking a request ===== */

int route_request(const struct http_request *req, uint64_t max_delay_ms, struct route *route)
{
    memset(route, 0, sizeof *route);
    route->http10 = req->major == 1 && req->minor == 0;
    route->head_only =
        method_is(req, "HEAD"); /* errors too: a HEAD is never answered with a body */

    if (req->major != 1)
        return reject(route, 505, "only HTTP/1.0 and HTTP/1.1 are supported");
    if (!method_is(req, "GET") && !route->head_only)
        return reject(route, 405, "only GET and HEAD are supported");
    const char *problem = host_problem(req);
    if (problem != NULL)
        return reject(route, 400, "%s", problem);
    if (announces_body(req))
        return reject(route, 400, "a GET or HEAD request must not have a body");

    /* The path is the target up to any query string, which is ignored. */
    const char *path = req->target;
    if (req->target_len == 0 || path[0] != '/')
        return reject(route, 400, "the request target must be a path such as /1000/hello");
    const char *query = memchr(path, '?', req->target_len);
    const char *path_end = query ? query : path + req->target_len;

    /* Exactly two segments: /{delay_ms}/{message}. */
    const char *slash = memchr(path + 1, '/', (size_t) (path_end - path - 1));
    if (slash == NULL || memchr(slash + 1, '/', (size_t) (path_end - slash - 1)) != NULL)
        return reject(route, 404,
                      "no such path: ask for /{delay_ms}/{message}, such as /1000/hello");

    int rc = parse_delay(path + 1, (size_t) (slash - path - 1), max_delay_ms, &route->delay_ms);
    if (rc == -1)
        return reject(route, 400,
                      "the delay must be a whole number of milliseconds, such as /1000/hello");
    if (rc == -2)
        return reject(route, 400, "the delay must be at most %llu ms (--max-delay)",
                      (unsigned long long) max_delay_ms);

    const char *encoded = slash + 1;
    size_t encoded_len = (size_t) (path_end - encoded);
    char *message = malloc(encoded_len + 1); /* + 1: never malloc(0) */
    if (message == NULL)
        return -ENOMEM;
    ssize_t len = http_percent_decode(encoded, encoded_len, message);
    if (len < 0) {
        free(message);
        return reject(route, 400,
                      "bad percent-escape in the message: write %%XX with two hex digits");
    }
    if (!valid_utf8((const unsigned char *) message, (size_t) len)) {
        free(message);
        return reject(route, 400, "the message is not valid UTF-8 once percent-decoded");
    }

    route->status = 200;
    route->body = message;
    route->body_len = (size_t) len;
    /* HTTP/1.1 keeps a connection open unless told to close it; HTTP/1.0
     * closes it unless told to keep it. "close" wins either way. */
    bool keep = route->http10 ? http_has_token(req, "connection", "keep-alive") : true;
    route->keep_alive = keep && !http_has_token(req, "connection", "close");
    return 0;
}

ssize_t route_next(const char *buf, size_t len, uint64_t max_delay_ms, struct http_header *headers,
                   struct route *route)
{
    struct http_request req = {.headers = headers, .max_headers = ROUTE_MAX_HEADERS};
    ssize_t n = http_parse_request(buf, len, &req);
    if (n == HTTP_NEED_MORE && len < ROUTE_HEAD_MAX)
        return 0;

    memset(route, 0, sizeof *route);
    route->head_only = starts_with_head(buf, len);
    int rc;
    if (n == HTTP_NEED_MORE)
        rc = reject(route, 431, "the request head is longer than %d bytes", ROUTE_HEAD_MAX);
    else if (n == HTTP_MALFORMED)
        rc = reject(route, 400, "malformed request: expected GET /{delay_ms}/{message} HTTP/1.1");
    else
        return route_request(&req, max_delay_ms, route) < 0 ? -ENOMEM : n;
    return rc < 0 ? rc : (ssize_t) len;
}

int route_timeout(const char *buf, size_t len, uint64_t idle_timeout_ms, struct route *route)
{
    memset(route, 0, sizeof *route);
    route->head_only = starts_with_head(buf, len);
    return reject(route, 408, "no complete request within %" PRIu64 " ms", idle_timeout_ms);
}

/* ===== Answers ===== */

size_t route_answer_head(const struct route *route, const char *date,
                         char out[ROUTE_ANSWER_HEAD_SIZE])
{
    const char *connection = !route->keep_alive ? "connection: close\r\n"
                             : route->http10    ? "connection: keep-alive\r\n"
                                                : ""; /* HTTP/1.1 keeps it open by default */
    int n = snprintf(out, ROUTE_ANSWER_HEAD_SIZE,
                     "HTTP/1.1 %d %s\r\n"
                     "content-type: text/plain; charset=utf-8\r\n"
                     "content-length: %zu\r\n"
                     "%s%s"
                     "date: %s\r\n"
                     "\r\n",
                     route->status, http_status_text(route->status), route->body_len, connection,
                     route->status == 405 ? "allow: GET, HEAD\r\n" : "", date);
    assert(n > 0 && n < ROUTE_ANSWER_HEAD_SIZE);
    return (size_t) n;
}

void route_log(FILE *out, uint64_t n, const struct route *route)
{
    fprintf(out, "#%" PRIu64 " - %" PRIu64 "ms: ", n, route->delay_ms);
    for (size_t i = 0; i < route->body_len; i++) {
        unsigned char ch = (unsigned char) route->body[i];
        if (ch < 0x20 || ch == 0x7f)
            fprintf(out, "\\x%02x", ch);
        else
            putc(ch, out);
    }
    putc('\n', out);
}
