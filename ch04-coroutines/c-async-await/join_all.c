/* join_all.c: a hand-written future that polls many futures until all are
 * ready (ch04-coroutines step c). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/alloc.h"
#include "../../common/errors.h"
#include "join_all.h"

struct join_all {
    struct future base;       /* first, so the struct future * we hand out points here */
    size_t count;             /* slots in futures */
    size_t pending;           /* futures not ready yet */
    bool done;                /* join_all itself returned POLL_READY */
    struct future *futures[]; /* owned; a slot is NULL once its future was ready and dropped */
};

static enum poll_status join_all_poll(struct future *self, void *output)
{
    struct join_all *join = (struct join_all *) self;

    (void) output; /* nothing to write: see join_all.h */
    if (join->done) {
        fprintf(stderr, "join_all polled after it completed\n");
        abort();
    }
    /* LESSON join-all: Poll every future not finished yet; drop each one that is ready.
     * hint: A NULL slot is a future already done; when one says POLL_READY, drop
     *   it, clear its slot and count one fewer pending. POLL_PENDING while any is.
     * stub:
     *   lesson_missing("join-all"); */
    for (size_t i = 0; i < join->count; i++) {
        struct future *future = join->futures[i];
        if (future != NULL && future->poll(future, NULL) == POLL_READY) {
            future->drop(future);
            join->futures[i] = NULL;
            join->pending--;
        }
    }
    if (join->pending > 0)
        return POLL_PENDING;
    /* END LESSON join-all */
    join->done = true;
    return POLL_READY;
}

static void join_all_drop(struct future *self)
{
    struct join_all *join = (struct join_all *) self;

    for (size_t i = 0; i < join->count; i++)
        if (join->futures[i] != NULL)
            join->futures[i]->drop(join->futures[i]);
    free(join);
}

struct future *join_all(struct future **futures, size_t count)
{
    struct join_all *join = xmalloc(sizeof *join + count * sizeof futures[0]);

    join->base.poll = join_all_poll;
    join->base.drop = join_all_drop;
    join->count = count;
    join->pending = count;
    join->done = false;
    if (count > 0)
        memcpy(join->futures, futures, count * sizeof futures[0]);
    return &join->base;
}
