/* delayserver/http.c: an incremental HTTP/1.x request-head parser and a few
 * helpers around it (http.h is the contract). Part of the delay server; it
 * keeps no state between calls, so a fuzzer can drive it directly.
 */
#include "http.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ===== Character classes (RFC 9110, section 5.6.2; RFC 9112, section 3) ===== */

/* tchar: the characters of a token, such as a method or a field name. */
static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A request target is visible ASCII without spaces. */
static bool is_target_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f;
}

/* A field value is visible characters, spaces and tabs; bytes >= 0x80
 * (obs-text) are allowed, control characters are not. */
static bool is_value_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* ===== The parser ===== */

/* Is p at the end of a line? Returns the length of the line ending (2 for
 * CRLF, 1 for a bare LF), 0 if p is not at one, or HTTP_NEED_MORE /
 * HTTP_MALFORMED (a CR must be followed by LF). */
static int line_end(const char *p, const char *end)
{
    if (p == end)
        return HTTP_NEED_MORE;
    if (*p == '\n')
        return 1;
    if (*p != '\r')
        return 0;
    if (p + 1 == end)
        return HTTP_NEED_MORE;
    return p[1] == '\n' ? 2 : HTTP_MALFORMED;
}

/* Read a token of `ok` characters at *p that must be followed by `stop`.
 * On success *token and *len describe it, *p points past `stop`, and the
 * result is 0; otherwise it is HTTP_NEED_MORE or HTTP_MALFORMED (an empty
 * token counts as malformed). */
static int token_until(const char **p, const char *end, bool (*ok)(unsigned char), char stop,
                       const char **token, size_t *len)
{
    const char *start = *p;
    while (*p < end && ok((unsigned char) **p))
        (*p)++;
    if (*p == end)
        return HTTP_NEED_MORE;
    if (*p == start || **p != stop)
        return HTTP_MALFORMED;
    *token = start;
    *len = (size_t) (*p - start);
    (*p)++;
    return 0;
}

/* The line must end at *p, which advances past the line ending. */
static int expect_line_end(const char **p, const char *end)
{
    int eol = line_end(*p, end);
    if (eol == 0)
        return HTTP_MALFORMED;
    if (eol > 0)
        *p += eol;
    return eol < 0 ? eol : 0;
}

/* Match the literal `text` at *p, which advances past it. */
static int expect(const char **p, const char *end, const char *text)
{
    for (; *text != '\0'; text++, (*p)++) {
        if (*p == end)
            return HTTP_NEED_MORE;
        if (**p != *text)
            return HTTP_MALFORMED;
    }
    return 0;
}

/* One decimal digit at *p, which advances past it. */
static int digit(const char **p, const char *end, int *value)
{
    if (*p == end)
        return HTTP_NEED_MORE;
    if (**p < '0' || **p > '9')
        return HTTP_MALFORMED;
    *value = *(*p)++ - '0';
    return 0;
}

/* Each step below returns early with its status when that status is
 * negative (need more, or malformed). */
#define TRY(step)                                                                                  \
    do {                                                                                           \
        ssize_t status_ = (step);                                                                  \
        if (status_ < 0)                                                                           \
            return status_;                                                                        \
    } while (0)

/* request-line = method SP request-target SP HTTP-version line-end */
static ssize_t parse_request_line(const char **p, const char *end, struct http_request *req)
{
    TRY(token_until(p, end, is_tchar, ' ', &req->method, &req->method_len));
    TRY(token_until(p, end, is_target_char, ' ', &req->target, &req->target_len));
    TRY(expect(p, end, "HTTP/"));
    TRY(digit(p, end, &req->major));
    TRY(expect(p, end, "."));
    TRY(digit(p, end, &req->minor));
    return expect_line_end(p, end);
}

/* field-line = field-name ":" OWS field-value OWS line-end. A line that
 * starts with a space (obsolete line folding) fails the field-name test,
 * and a control character in the value fails the line-end test. */
static ssize_t parse_field_line(const char **p, const char *end, struct http_header *header)
{
    TRY(token_until(p, end, is_tchar, ':', &header->name, &header->name_len));
    while (*p < end && (**p == ' ' || **p == '\t'))
        (*p)++;
    const char *value = *p;
    while (*p < end && is_value_char((unsigned char) **p))
        (*p)++;
    const char *value_end = *p;
    while (value_end > value && (value_end[-1] == ' ' || value_end[-1] == '\t'))
        value_end--;
    header->value = value;
    header->value_len = (size_t) (value_end - value);
    return expect_line_end(p, end);
}

ssize_t http_parse_request(const char *buf, size_t len, struct http_request *req)
{
    const char *p = buf, *end = buf + len;
    req->num_headers = 0;

    for (;;) { /* empty lines before the request line */
        int eol = line_end(p, end);
        TRY(eol);
        if (eol == 0)
            break;
        p += eol;
    }
    TRY(parse_request_line(&p, end, req));

    for (;;) {
        int eol = line_end(p, end);
        TRY(eol);
        if (eol > 0) /* the blank line: the head is complete */
            return p + eol - buf;
        struct http_header header;
        TRY(parse_field_line(&p, end, &header));
        if (req->num_headers == req->max_headers)
            return HTTP_MALFORMED;
        req->headers[req->num_headers++] = header;
    }
}

/* ===== Reading header values ===== */

bool http_header_is(const struct http_header *header, const char *name)
{
    return header->name_len == strlen(name) &&
           strncasecmp(header->name, name, header->name_len) == 0;
}

bool http_has_token(const struct http_request *req, const char *name, const char *token)
{
    size_t token_len = strlen(token);
    for (size_t i = 0; i < req->num_headers; i++) {
        const struct http_header *h = &req->headers[i];
        if (!http_header_is(h, name))
            continue;
        const char *p = h->value, *end = h->value + h->value_len;
        while (p < end) { /* one comma-separated element per turn */
            const char *comma = memchr(p, ',', (size_t) (end - p));
            const char *elem_end = comma ? comma : end;
            while (p < elem_end && (*p == ' ' || *p == '\t'))
                p++;
            const char *last = elem_end;
            while (last > p && (last[-1] == ' ' || last[-1] == '\t'))
                last--;
            if ((size_t) (last - p) == token_len && strncasecmp(p, token, token_len) == 0)
                return true;
            p = elem_end + 1;
        }
    }
    return false;
}

/* ===== Percent-decoding ===== */

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

ssize_t http_percent_decode(const char *src, size_t len, char *dst)
{
    size_t out = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] != '%') {
            dst[out++] = src[i];
            continue;
        }
        if (len - i < 3) /* '%' needs two more characters */
            return -1;
        int high = hex_value((unsigned char) src[i + 1]);
        int low = hex_value((unsigned char) src[i + 2]);
        if (high < 0 || low < 0)
            return -1;
        dst[out++] = (char) (high * 16 + low);
        i += 2;
    }
    return (ssize_t) out;
}

/* ===== Dates and status lines ===== */

void http_format_date(time_t t, char out[HTTP_DATE_SIZE])
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    gmtime_r(&t, &tm);
    /* %a and %b of strftime follow the locale; HTTP wants English. The
     * modulos tell the compiler each field fits (years past 9999 wrap). */
    snprintf(out, HTTP_DATE_SIZE, "%s, %02u %s %04u %02u:%02u:%02u GMT", days[tm.tm_wday],
             (unsigned) tm.tm_mday % 100, months[tm.tm_mon], (unsigned) (tm.tm_year + 1900) % 10000,
             (unsigned) tm.tm_hour % 100, (unsigned) tm.tm_min % 100, (unsigned) tm.tm_sec % 100);
}

const char *http_status_text(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 431:
        return "Request Header Fields Too Large";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}
