/* delayserver/fuzz/fuzz_request.c: the libFuzzer target for the delay
 * server's request parser (http.c) and protocol (route.c), added for issue
 * 11. Each input is one client's byte stream. It is fed to a model of the
 * server's input buffer (8 KiB, pipelined requests taken one at a time)
 * three ways: as one write, in random chunks, and one byte at a time. The
 * parser is incremental and keeps no state, so every split must give the
 * same verdicts; each parse and each route is also checked against its
 * contract in http.h and route.h.
 * Build and run: make -C delayserver fuzz-run (see delayserver/README.md).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../http.h"
#include "../route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The server's limits (server.c); tests/test_delayserver_abuse.py checks
 * that the two files agree. */
#define HEAD_MAX 8192
#define MAX_HEADERS (HEAD_MAX / 3)

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

static struct http_header headers[MAX_HEADERS];
static struct http_header more_headers[HEAD_MAX]; /* as many as any head could have */

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
 * the parse is repeatable, the server's MAX_HEADERS slots never run out
 * (server.c relies on that), a smaller max_headers refuses exactly the
 * heads with more fields, and a complete head is incomplete one byte
 * shorter. */
static ssize_t parse_checked(const char *buf, size_t len, struct http_request *req)
{
    *req = (struct http_request){.headers = headers, .max_headers = MAX_HEADERS};
    ssize_t n = http_parse_request(buf, len, req);
    CHECK(n == HTTP_NEED_MORE || n == HTTP_MALFORMED || (n > 0 && (size_t) n <= len));

    struct http_request again = {.headers = more_headers, .max_headers = HEAD_MAX};
    CHECK(http_parse_request(buf, len, &again) == n);

    if (n < 0)
        return n;
    check_complete_head(buf, (size_t) n, req);
    CHECK(again.num_headers == req->num_headers);
    struct http_request shorter = {.headers = more_headers, .max_headers = HEAD_MAX};
    CHECK(http_parse_request(buf, (size_t) n - 1, &shorter) == HTTP_NEED_MORE);
    if (req->num_headers > 0) {
        struct http_request fewer = {.headers = more_headers, .max_headers = req->num_headers - 1};
        CHECK(http_parse_request(buf, len, &fewer) == HTTP_MALFORMED);
    }
    return n;
}

/* ===== Checking one route against route.h ===== */

static void check_route(const struct http_request *req, uint64_t max_delay, const struct route *r)
{
    switch (r->status) {
    case 200:
        CHECK(r->message != NULL && r->reason[0] == '\0');
        CHECK(r->delay_ms <= max_delay);
        CHECK(r->message_len <= req->target_len);
        CHECK(req->major == 1 && req->method_len == 3 && memcmp(req->method, "GET", 3) == 0);
        break;
    case 400:
    case 404:
    case 405:
    case 505:
        CHECK(r->message == NULL);
        CHECK(r->reason[0] != '\0');
        for (const char *p = r->reason; *p != '\0'; p++) /* one line of text */
            CHECK((unsigned char) *p >= 0x20 && *p != 0x7f);
        break;
    default:
        CHECK(!"a status route.h does not promise");
    }
    CHECK(r->http10 == (req->major == 1 && req->minor == 0));
}

/* ===== A model of one connection's input ===== */

/* The verdict on one request, in a form two runs can compare. */
struct verdict {
    int status; /* 200, a route error, 400 for malformed, 431 for too long */
    size_t end; /* stream offset just after the request (where it starts, if refused unparsed) */
    uint64_t delay_ms;
    uint64_t message_hash; /* of the decoded message, or of the reason */
    size_t message_len;
    bool keep_alive;
};

/* The server's input buffer: at most HEAD_MAX bytes not taken yet, as in
 * server.c's conn_read and conn_take_request. */
struct session {
    uint64_t max_delay;
    char buf[HEAD_MAX];
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

/* Take every whole request in the buffer, as the server does, and stop at
 * the first that ends the connection. */
static void take_requests(struct session *s)
{
    while (!s->finished && s->start < s->len) {
        size_t avail = s->len - s->start;
        const char *head = s->buf + s->start;
        struct http_request req;
        ssize_t n = parse_checked(head, avail, &req);
        struct verdict v = {.end = s->offset + s->start};
        if (n == HTTP_NEED_MORE) {
            if (avail < HEAD_MAX)
                return;
            v.status = 431;
            add_verdict(s, v);
            s->finished = true;
            return;
        }
        if (n == HTTP_MALFORMED) {
            v.status = 400;
            add_verdict(s, v);
            s->finished = true;
            return;
        }

        struct route r;
        CHECK(route_request(&req, s->max_delay, &r) == 0);
        check_route(&req, s->max_delay, &r);
        s->start += (size_t) n;
        v.end = s->offset + s->start;
        v.status = r.status;
        v.delay_ms = r.delay_ms;
        v.keep_alive = r.keep_alive;
        if (r.status == 200) {
            v.message_hash = fnv1a(r.message, r.message_len);
            v.message_len = r.message_len;
        } else {
            v.message_hash = fnv1a(r.reason, strlen(r.reason));
        }
        free(r.message);
        add_verdict(s, v);
        if (r.status != 200 || !r.keep_alive)
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
        size_t take = size < HEAD_MAX - s->len ? size : HEAD_MAX - s->len;
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
