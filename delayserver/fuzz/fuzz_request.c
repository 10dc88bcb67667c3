/* delayserver/fuzz/fuzz_request.c: the libFuzzer target for the delay
 * server's request parser (http.c) and protocol (route.c). Each input is
 * one client's byte stream. It is fed to a model of a server's input
 * buffer (ROUTE_HEAD_MAX bytes, pipelined requests taken one at a time by
 * route_next(), as server.c does) three ways: as one write, in random
 * chunks, and one byte at a time. Neither file keeps state between calls,
 * so every split must give the same verdicts; each parse, each verdict,
 * each answer head and each log line is also checked against its contract
 * in http.h and route.h.
 * Build and run: make -C delayserver fuzz-run (see delayserver/GOING-DEEPER.md).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../http.h"
#include "../route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_VERDICTS 256    /* requests judged per stream; the rest are ignored */
#define BYTEWISE_LIMIT 1024 /* longer inputs are not also fed one byte at a time */

/* Stop with a message: libFuzzer then saves the input as a crash. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_request: %s:%d: broken promise: %s\n", __FILE__, __LINE__,       \
                    #cond);                                                                        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* ===== Small helpers ===== */

static uint64_t fnv1a(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* splitmix64: the chunk sizes come from the input's own hash, so a crash
 * replays with the same splits. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static bool is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool inside(const char *p, size_t len, const char *buf, size_t buf_len)
{
    return p >= buf && p + len <= buf + buf_len;
}

/* ===== Checking one parse against http.h ===== */

static struct http_header headers[ROUTE_MAX_HEADERS];
static struct http_header more_headers[ROUTE_HEAD_MAX]; /* as many as any head could have */

/* What a complete head must look like: every field points into it and has
 * the right characters, and it has one line per field plus the request
 * line and the blank line. */
static void check_complete_head(const char *buf, size_t n, const struct http_request *req)
{
    CHECK(n > 0 && buf[n - 1] == '\n');
    CHECK(req->method_len > 0 && inside(req->method, req->method_len, buf, n));
    for (size_t i = 0; i < req->method_len; i++)
        CHECK(is_tchar((unsigned char) req->method[i]));
    CHECK(req->target_len > 0 && inside(req->target, req->target_len, buf, n));
    for (size_t i = 0; i < req->target_len; i++)
        CHECK(req->target[i] > 0x20 && req->target[i] < 0x7f);
    CHECK(req->major >= 0 && req->major <= 9 && req->minor >= 0 && req->minor <= 9);
    CHECK(req->num_headers <= req->max_headers);

    for (size_t i = 0; i < req->num_headers; i++) {
        const struct http_header *h = &req->headers[i];
        CHECK(h->name_len > 0 && inside(h->name, h->name_len, buf, n) &&
              h->name[h->name_len] == ':');
        for (size_t k = 0; k < h->name_len; k++)
            CHECK(is_tchar((unsigned char) h->name[k]));
        CHECK(inside(h->value, h->value_len, buf, n));
        for (size_t k = 0; k < h->value_len; k++) {
            unsigned char c = (unsigned char) h->value[k];
            CHECK(c == '\t' || (c >= 0x20 && c != 0x7f));
        }
        if (h->value_len > 0) { /* trimmed */
            CHECK(h->value[0] != ' ' && h->value[0] != '\t');
            CHECK(h->value[h->value_len - 1] != ' ' && h->value[h->value_len - 1] != '\t');
        }
    }

    size_t start = (size_t) (req->method - buf), lines = 0; /* after any leading empty lines */
    for (size_t i = start; i < n; i++)
        lines += buf[i] == '\n';
    CHECK(lines == req->num_headers + 2);
}

/* Parse like the server does, and check the result against the contract:
 * the parse is repeatable, the server's ROUTE_MAX_HEADERS slots never run out
 * (server.c relies on that), a smaller max_headers refuses exactly the
 * heads with more fields, and a complete head is incomplete one byte
 * shorter. */
static ssize_t parse_checked(const char *buf, size_t len, struct http_request *req)
{
    *req = (struct http_request){.headers = headers, .max_headers = ROUTE_MAX_HEADERS};
    ssize_t n = http_parse_request(buf, len, req);
    CHECK(n == HTTP_NEED_MORE || n == HTTP_MALFORMED || (n > 0 && (size_t) n <= len));

    struct http_request again = {.headers = more_headers, .max_headers = ROUTE_HEAD_MAX};
    CHECK(http_parse_request(buf, len, &again) == n);

    if (n < 0)
        return n;
    check_complete_head(buf, (size_t) n, req);
    CHECK(again.num_headers == req->num_headers);
    struct http_request shorter = {.headers = more_headers, .max_headers = ROUTE_HEAD_MAX};
    CHECK(http_parse_request(buf, (size_t) n - 1, &shorter) == HTTP_NEED_MORE);
    if (req->num_headers > 0) {
        struct http_request fewer = {.headers = more_headers, .max_headers = req->num_headers - 1};
        CHECK(http_parse_request(buf, len, &fewer) == HTTP_MALFORMED);
    }
    return n;
}

/* ===== Checking one verdict against route.h ===== */

static char log_line[4 * ROUTE_HEAD_MAX + 64]; /* room for any log line: a byte may become \xHH */

/* The answer head is one head with the promised status and length, and the
 * log line of a 200 is one line. */
static void check_answer(const struct route *r)
{
    char head[ROUTE_ANSWER_HEAD_SIZE], expected[64];
    size_t len = route_answer_head(r, "Thu, 01 Jan 1970 00:00:00 GMT", head);
    CHECK(len < sizeof head && strlen(head) == len);
    snprintf(expected, sizeof expected, "HTTP/1.1 %d ", r->status);
    CHECK(strncmp(head, expected, strlen(expected)) == 0);
    snprintf(expected, sizeof expected, "\r\ncontent-length: %zu\r\n", r->body_len);
    CHECK(strstr(head, expected) != NULL);
    CHECK(strstr(head, "\r\n\r\n") == head + len - 4);
    CHECK(route_body_to_send(r) == (r->head_only ? 0 : r->body_len));
    if (r->status != 200)
        return;

    FILE *out = fmemopen(log_line, sizeof log_line, "w");
    CHECK(out != NULL);
    route_log(out, 1, r);
    long n = ftell(out);
    fclose(out);
    CHECK(n > 0 && memchr(log_line, '\n', (size_t) n) == log_line + n - 1);
}

/* An error verdict: a one-line reason, and the connection ends. */
static void check_error(const struct route *r)
{
    CHECK(r->delay_ms == 0 && !r->keep_alive);
    CHECK(r->body_len > 1 && r->body[r->body_len - 1] == '\n');
    for (size_t i = 0; i + 1 < r->body_len; i++)
        CHECK((unsigned char) r->body[i] >= 0x20 && r->body[i] != 0x7f);
}

static bool method_is(const struct http_request *req, const char *method)
{
    return req->method_len == strlen(method) && memcmp(req->method, method, req->method_len) == 0;
}

/* How many Host header fields the request has. */
static size_t hosts(const struct http_request *req)
{
    size_t count = 0;
    for (size_t i = 0; i < req->num_headers; i++)
        count += http_header_is(&req->headers[i], "host");
    return count;
}

/* Does the stream at buf start with the method HEAD, after any empty lines? */
static bool sent_head(const char *buf, size_t len)
{
    size_t i = 0;
    while (i < len && (buf[i] == '\n' || (buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n')))
        i += buf[i] == '\r' ? 2 : 1;
    return len - i >= 5 && memcmp(buf + i, "HEAD ", 5) == 0;
}

/* route_next() returned n > 0 for buf[0..avail), which http_parse_request()
 * had parsed into `parsed` (and, when it is a head length, into req). */
static void check_verdict(const char *buf, const struct http_request *req, ssize_t parsed,
                          size_t avail, ssize_t n, uint64_t max_delay, const struct route *r)
{
    if (parsed == HTTP_NEED_MORE)
        CHECK(avail >= ROUTE_HEAD_MAX && r->status == 431 && (size_t) n == avail);
    else if (parsed == HTTP_MALFORMED)
        CHECK(r->status == 400 && (size_t) n == avail);
    else
        CHECK(n == parsed && r->http10 == (req->major == 1 && req->minor == 0));
    CHECK(r->body != NULL);
    CHECK(r->head_only == (parsed > 0 ? method_is(req, "HEAD") : sent_head(buf, avail)));

    switch (r->status) {
    case 200:
        CHECK(parsed > 0);
        CHECK(r->delay_ms <= max_delay);
        CHECK(r->body_len <= req->target_len);
        CHECK(req->major == 1 && (method_is(req, "GET") || method_is(req, "HEAD")));
        CHECK(hosts(req) == 1 || (hosts(req) == 0 && req->minor == 0));
        break;
    case 400:
    case 404:
    case 405:
    case 431:
    case 505:
        check_error(r);
        break;
    default:
        CHECK(!"a status route.h does not promise");
    }
    check_answer(r);
}

/* ===== A model of one connection's input ===== */

/* The verdict on one request, in a form two runs can compare. */
struct verdict {
    int status; /* 200, a route error, 400 for malformed, 431 for too long */
    size_t end; /* stream offset just after the request (where it starts, if refused unparsed) */
    uint64_t delay_ms;
    uint64_t body_hash; /* of the decoded message, or of the reason */
    size_t body_len;
    bool keep_alive;
    bool head_only;
};

/* The server's input buffer: at most ROUTE_HEAD_MAX bytes not taken yet, as in
 * server.c's conn_read and conn_take_request. */
struct session {
    uint64_t max_delay;
    char buf[ROUTE_HEAD_MAX];
    size_t start, len; /* buf[start..len) is not taken yet */
    size_t offset;     /* stream offset of buf[0] */
    bool finished;     /* the connection would close: later bytes are ignored */
    size_t count;
    struct verdict verdicts[MAX_VERDICTS];
};

static void add_verdict(struct session *s, struct verdict v)
{
    s->verdicts[s->count++] = v;
    if (s->count == MAX_VERDICTS)
        s->finished = true;
}

static struct http_header route_headers[ROUTE_MAX_HEADERS]; /* route_next()'s scratch */

/* Take every whole request in the buffer, as the server does, and stop at
 * the first that ends the connection. */
static void take_requests(struct session *s)
{
    while (!s->finished && s->start < s->len) {
        size_t avail = s->len - s->start;
        const char *head = s->buf + s->start;
        struct http_request req;
        ssize_t parsed = parse_checked(head, avail, &req);
        struct route r;
        ssize_t n = route_next(head, avail, s->max_delay, route_headers, &r);
        if (n == 0) {
            CHECK(parsed == HTTP_NEED_MORE && avail < ROUTE_HEAD_MAX);
            return;
        }
        check_verdict(head, &req, parsed, avail, n, s->max_delay, &r);

        /* A head refused unparsed ends where it starts: how much of the
         * stream had arrived by then depends on the split. */
        size_t taken = parsed > 0 ? (size_t) n : 0;
        struct verdict v;
        memset(&v, 0, sizeof v); /* check_same() compares them whole, padding too */
        v.end = s->offset + s->start + taken;
        v.status = r.status;
        v.delay_ms = r.delay_ms;
        v.body_hash = fnv1a(r.body, r.body_len);
        v.body_len = r.body_len;
        v.keep_alive = r.keep_alive;
        v.head_only = r.head_only;
        s->start += taken;
        route_free(&r);
        add_verdict(s, v);
        if (v.status != 200 || !v.keep_alive)
            s->finished = true;
    }
}

/* Bytes arrive: fill the buffer, dropping what was taken, and take requests. */
static void receive(struct session *s, const uint8_t *data, size_t size)
{
    while (size > 0 && !s->finished) {
        if (s->start > 0) {
            memmove(s->buf, s->buf + s->start, s->len - s->start);
            s->offset += s->start;
            s->len -= s->start;
            s->start = 0;
        }
        size_t take = size < ROUTE_HEAD_MAX - s->len ? size : ROUTE_HEAD_MAX - s->len;
        CHECK(take > 0); /* a full buffer was either taken or refused with 431 */
        memcpy(s->buf + s->len, data, take);
        s->len += take;
        data += take;
        size -= take;
        take_requests(s);
    }
}

/* Two sessions saw the same stream: they must agree on everything. */
static void check_same(const struct session *a, const struct session *b, const char *how)
{
    bool same = a->count == b->count && a->finished == b->finished &&
                memcmp(a->verdicts, b->verdicts, a->count * sizeof a->verdicts[0]) == 0 &&
                (a->finished || (a->offset + a->start == b->offset + b->start &&
                                 a->len - a->start == b->len - b->start));
    if (!same) {
        fprintf(stderr, "fuzz_request: fed %s, the stream gave other verdicts than in one piece\n",
                how);
        abort();
    }
}

/* ===== The entry point ===== */

static struct session whole, chunked, bytewise;

static void start_session(struct session *s, uint64_t max_delay)
{
    s->max_delay = max_delay;
    s->start = s->len = s->offset = s->count = 0;
    s->finished = false;
    memset(s->verdicts, 0, sizeof s->verdicts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t random = fnv1a(data, size);
    /* The default limit mostly; sometimes the largest --max-delay allows. */
    uint64_t max_delay = random % 8 == 0 ? UINT32_MAX : 60000;

    start_session(&whole, max_delay);
    receive(&whole, data, size);
    if (!whole.finished && whole.start < whole.len) { /* half a request, then silence */
        struct route r;
        CHECK(route_timeout(whole.buf + whole.start, whole.len - whole.start, 10000, &r) == 0);
        CHECK(r.status == 408 &&
              r.head_only == sent_head(whole.buf + whole.start, whole.len - whole.start));
        check_error(&r);
        check_answer(&r);
        route_free(&r);
    }

    start_session(&chunked, max_delay);
    for (size_t at = 0; at < size;) {
        uint64_t r = next_random(&random);
        size_t chunk = r % 4 == 0 ? 1 + (size_t) (r >> 8) % (size - at) /* sometimes big */
                                  : 1 + (size_t) (r >> 8) % 16;
        if (chunk > size - at)
            chunk = size - at;
        receive(&chunked, data + at, chunk);
        at += chunk;
    }
    check_same(&whole, &chunked, "in random chunks");

    if (size <= BYTEWISE_LIMIT) {
        start_session(&bytewise, max_delay);
        for (size_t at = 0; at < size; at++)
            receive(&bytewise, data + at, 1);
        check_same(&whole, &bytewise, "one byte at a time");
    }
    return 0;
}
