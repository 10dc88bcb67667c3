/*
 * bench/switch-and-poll/stub_http.c: http_get as a trivial leaf future. It
 * keeps the contract of ch04's http.h that the coroutines rely on (lazy;
 * the output is a malloc'd string the caller frees), minus the network.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "stub_http.h"

struct stub_leaf {
    struct future base; /* first: a leaf is a future */
    long not_ready;     /* POLL_PENDING answers still to give */
    int in_use;         /* made by http_get and not dropped yet */
};

/* The coroutines hold one GET at a time (they drop each before making the
 * next), so one leaf, reused, is all they need, and no malloc per GET. */
static struct stub_leaf leaf;
static long not_ready_per_leaf;

void stub_http_set_not_ready(long not_ready)
{
    not_ready_per_leaf = not_ready;
}

static enum poll_status stub_poll(struct future *self, void *output)
{
    struct stub_leaf *stub = (struct stub_leaf *) self;

    if (stub->not_ready > 0) {
        stub->not_ready--;
        return POLL_PENDING;
    }
    if (output != NULL) {
        /* The coroutine frees what it gets, as http.h says, so the
         * "response" is a fresh copy of a fixed string. */
        char *text = strdup("HelloAsyncAwait");
        if (text == NULL) {
            fprintf(stderr, "switch-and-poll: out of memory\n");
            abort();
        }
        *(char **) output = text;
    }
    return POLL_READY;
}

static void stub_drop(struct future *self)
{
    struct stub_leaf *stub = (struct stub_leaf *) self;

    assert(stub->in_use);
    stub->in_use = 0;
}

struct future *http_get(const char *path_format, ...)
{
    (void) path_format; /* every GET answers the same */
    assert(!leaf.in_use);
    leaf.base.poll = stub_poll;
    leaf.base.drop = stub_drop;
    leaf.not_ready = not_ready_per_leaf;
    leaf.in_use = 1;
    return &leaf.base;
}

/* The coroutines print each response; the benchmark measures their state
 * machines, not printf. */
void http_print(const char *response, uint64_t started_ns)
{
    (void) response, (void) started_ns;
}
