/* delayserver/route.c: the delay server's protocol, GET /{delay_ms}/{message},
 * applied to one parsed request (route.h is the contract). The checks run
 * in the order a reader would ask: is it HTTP/1, is it GET, is the path the
 * right shape, is the delay a number in range, does the message decode.
 */
#include "route.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fill in an error verdict; `format` makes one line of text. */
__attribute__((format(printf, 3, 4))) static int reject(struct route *route, int status,
                                                        const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(route->reason, sizeof route->reason, format, args);
    va_end(args);
    route->status = status;
    return 0;
}

/* A GET has no body; one that announces a body would leave its bytes to be
 * read as the next request, so it is refused instead. */
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

int route_request(const struct http_request *req, uint64_t max_delay_ms, struct route *route)
{
    memset(route, 0, sizeof *route);
    route->http10 = req->major == 1 && req->minor == 0;

    if (req->major != 1)
        return reject(route, 505, "only HTTP/1.0 and HTTP/1.1 are supported");
    if (req->method_len != 3 || memcmp(req->method, "GET", 3) != 0)
        return reject(route, 405, "only GET is supported");
    if (announces_body(req))
        return reject(route, 400, "a GET request must not have a body");

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
    route->message = message;
    route->message_len = (size_t) len;
    /* HTTP/1.1 keeps a connection open unless told to close it; HTTP/1.0
     * closes it unless told to keep it. "close" wins either way. */
    bool keep = route->http10 ? http_has_token(req, "connection", "keep-alive") : true;
    route->keep_alive = keep && !http_has_token(req, "connection", "close");
    return 0;
}
