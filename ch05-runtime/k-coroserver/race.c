/* race.c: race() and timeout_at(), the one built on the other (race.h is
 * the contract). Introduced in ch05-runtime step k. */
#include "race.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/types.h>

#include "../../common/alloc.h"
#include "../../common/clock.h"
#include "../../common/trace.h"
#include "timer.h"

/* ===== race ===== */

struct race {
    struct future base;      /* first: a race is a future */
    struct future *sides[2]; /* a and b; both NULL once the race is decided */
    void *outputs[2];        /* where the winner's output goes (the caller's) */
};

/* Drop both sides (the winner is done, the loser is cancelled). */
static void drop_sides(struct race *r)
{
    for (int i = 0; i < 2; i++) {
        if (r->sides[i] != NULL)
            r->sides[i]->drop(r->sides[i]);
        r->sides[i] = NULL;
    }
}

static enum poll_status race_poll(struct future *self, const struct waker *waker, void *output)
{
    struct race *r = (struct race *) self;
    assert(r->sides[0] != NULL && "a race polled after it was decided");
    for (int i = 0; i < 2; i++) {
        struct future *side = r->sides[i];
        if (side->poll(side, waker, r->outputs[i]) == POLL_READY) {
            drop_sides(r);
            if (output != NULL)
                *(int *) output = i;
            return POLL_READY;
        }
    }
    return POLL_PENDING; /* each side arranged its own wake-up, with our waker */
}

static void race_drop(struct future *self)
{
    struct race *r = (struct race *) self;
    drop_sides(r);
    free(r);
}

struct future *race(struct future *a, void *a_out, struct future *b, void *b_out)
{
    assert(a != NULL && b != NULL);
    struct race *r = xmalloc(sizeof *r);
    *r = (struct race){.base = {race_poll, race_drop}, .sides = {a, b}, .outputs = {a_out, b_out}};
    return &r->base;
}

/* ===== timeout_at =====
 *
 * race(inner, sleep) with one difference: the timer is only set up when
 * inner has to wait. Most of a server's writes complete at their first
 * poll, and a timer set and cancelled for each of them would be work for
 * nothing. So the first poll polls inner alone; only if it is pending is
 * the sleep made and polled, and from then on both are, inner first. */

struct timeout {
    struct future base;   /* first: a timeout is a future */
    struct future *inner; /* NULL once done */
    struct future *sleep; /* NULL until inner has said PENDING once */
    uint64_t deadline_ns;
};

/* Finish with `value`: drop both futures (the loser is cancelled). */
static enum poll_status timeout_finish(struct timeout *t, ssize_t value, void *output)
{
    t->inner->drop(t->inner);
    t->inner = NULL;
    if (t->sleep != NULL)
        t->sleep->drop(t->sleep);
    t->sleep = NULL;
    if (output != NULL)
        *(ssize_t *) output = value;
    return POLL_READY;
}

static enum poll_status timeout_poll(struct future *self, const struct waker *waker, void *output)
{
    struct timeout *t = (struct timeout *) self;
    assert(t->inner != NULL && "a timeout polled after it completed");
    ssize_t value;
    if (t->inner->poll(t->inner, waker, &value) == POLL_READY)
        return timeout_finish(t, value, output);
    if (t->sleep == NULL) {
        t->sleep = timer_sleep_until(t->deadline_ns);
        trace_register("timeout in %lld ms", (long long) (t->deadline_ns - now_ns()) / 1000000);
    }
    if (t->sleep->poll(t->sleep, waker, NULL) == POLL_READY) {
        trace_timer("timeout expired");
        return timeout_finish(t, -ETIMEDOUT, output);
    }
    return POLL_PENDING; /* both arranged their own wake-up, with our waker */
}

static void timeout_drop(struct future *self)
{
    struct timeout *t = (struct timeout *) self;
    if (t->inner != NULL)
        t->inner->drop(t->inner);
    if (t->sleep != NULL)
        t->sleep->drop(t->sleep);
    free(t);
}

struct future *timeout_at(struct future *inner, uint64_t deadline_ns)
{
    assert(inner != NULL);
    struct timeout *t = xmalloc(sizeof *t);
    *t = (struct timeout){.base = {timeout_poll, timeout_drop},
                          .inner = inner,
                          .sleep = NULL,
                          .deadline_ns = deadline_ns};
    return &t->base;
}
