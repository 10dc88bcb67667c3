/* coroutine.c: ch04-coroutines step a. The coroutine async_main, written by
 * hand as a state machine. Step b lets corofy write such machines for us;
 * dialect.c is this same coroutine in corofy's dialect, to compare. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../common/alloc.h"
#include "../../common/clock.h"
#include "../../common/errors.h"
#include "coroutine.h"
#include "http.h"

/* ===== The coroutine, written by hand =====
 *
 * This is the function we would like to write (dialect.c has it in corofy's
 * dialect, where `.wait` means "wait here for this future"):
 *
 *     void async_main(void)
 *     {
 *         printf("Program starting\n");
 *         uint64_t start = now_ns();
 *         char *text = http_get("/600/HelloAsyncAwait").wait;
 *         http_print(text, start);
 *         free(text);
 *         start = now_ns();
 *         text = http_get("/400/HelloAsyncAwait").wait;
 *         http_print(text, start);
 *         free(text);
 *     }
 *
 * At each wait the function has to give control back to whoever polls it and
 * later carry on exactly there. A C function cannot do that: returning throws
 * its stack frame away. So we cut the function at its wait points into
 * states, and keep what must outlive a poll in a struct on the heap, the
 * frame. Every poll runs from the current state to the next wait point that
 * is not ready yet, and returns.
 *
 *   START ---> WAIT_1 ---> WAIT_2 ---> RESOLVED
 *           (first GET)  (second GET)
 */

enum async_main_state {
    STATE_START,    /* not polled yet: nothing has run */
    STATE_WAIT_1,   /* waiting for the response to the first GET */
    STATE_WAIT_2,   /* waiting for the response to the second GET */
    STATE_RESOLVED, /* finished: polling again is a bug */
};

struct async_main_frame {
    struct future base;          /* first, so the struct future * we hand out points here */
    enum async_main_state state; /* where the next poll carries on */
    struct future *awaited;      /* the GET we wait for in WAIT_1 and WAIT_2, else NULL */
    uint64_t start;              /* when that GET started: set before the wait, read after */
};

static enum poll_status async_main_poll(struct future *self, void *output)
{
    struct async_main_frame *frame = (struct async_main_frame *) self;
    /* LESSON transitions: Run from the current state up to a wait not ready yet; return.
     * hint: A for (;;) around a switch (frame->state): START starts the first
     *   GET and moves to WAIT_1; a WAIT_n polls frame->awaited, returns
     *   POLL_PENDING while it is, else drops it, prints, and moves on.
     * stub:
     *   (void) frame, (void) output;
     *   lesson_missing("transitions"); */
    char *text; /* used within one poll only, so an ordinary local is enough */

    (void) output; /* this coroutine produces no value */
    for (;;) {
        switch (frame->state) {
        case STATE_START:
            printf("Program starting\n");
            frame->start = now_ns();
            frame->awaited = http_get("/600/HelloAsyncAwait");
            frame->state = STATE_WAIT_1;
            break; /* on to WAIT_1 within this same poll */

        case STATE_WAIT_1:
            if (frame->awaited->poll(frame->awaited, &text) == POLL_PENDING)
                return POLL_PENDING; /* the next poll comes back here */
            frame->awaited->drop(frame->awaited);
            http_print(text, frame->start);
            free(text);
            frame->start = now_ns();
            frame->awaited = http_get("/400/HelloAsyncAwait");
            frame->state = STATE_WAIT_2;
            break;

        case STATE_WAIT_2:
            if (frame->awaited->poll(frame->awaited, &text) == POLL_PENDING)
                return POLL_PENDING;
            frame->awaited->drop(frame->awaited);
            frame->awaited = NULL;
            http_print(text, frame->start);
            free(text);
            frame->state = STATE_RESOLVED;
            return POLL_READY;

        case STATE_RESOLVED:
            fprintf(stderr, "async_main polled after it completed\n");
            abort();
        }
    }
    /* END LESSON transitions */
}

static void async_main_drop(struct future *self)
{
    struct async_main_frame *frame = (struct async_main_frame *) self;

    if (frame->awaited != NULL)
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct future *async_main(void)
{
    struct async_main_frame *frame = xmalloc(sizeof *frame);

    frame->base.poll = async_main_poll;
    frame->base.drop = async_main_drop;
    frame->state = STATE_START;
    frame->awaited = NULL;
    return &frame->base;
}
