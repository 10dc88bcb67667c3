/* locals.c: ch04-coroutines step d, written in corofy's dialect.
 * A coroutine whose locals live across wait points: a counter, a buffer, and
 * a pointer into that buffer. corofy moves them into the coroutine's frame on
 * the heap (see struct collect_frame in locals_corofied.c, which is what gets
 * compiled). Run with --copy-frame to see why a frame must stay where it is
 * once it has been polled. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/alloc.h"
#include "../../common/clock.h"
#include "../../common/errors.h"
#include "future.h"
#include "http.h"

#define POLL_EVERY_MS 1 /* no waker yet: main looks again after this long */

/* Three messages that make a sentence when put together. */
#define MESSAGES 3
#define BUFFER_SIZE 64
static const char *const paths[MESSAGES] = {"/200/Locals", "/200/live%20in", "/200/the%20frame"};

/* Copy `text` to `cursor`, a place in `buffer` (BUFFER_SIZE bytes), as much
 * of it as fits with a NUL after it, and return where the next text goes. */
static char *append(char *buffer, char *cursor, const char *text)
{
    size_t length = strnlen(text, (size_t) (buffer + BUFFER_SIZE - 1 - cursor));
    memcpy(cursor, text, length);
    cursor[length] = '\0';
    return cursor + length;
}

/* Is `p` within [start, start + size]? The addresses are compared as
 * integers because comparing pointers into two different objects with < is
 * undefined behaviour in C, and after --copy-frame that is just the case. */
static bool points_into(const char *p, const char *start, size_t size)
{
    uintptr_t at = (uintptr_t) p, first = (uintptr_t) start;
    return at >= first && at <= first + size;
}

static void __attribute__((noreturn)) stale_pointer(const char *cursor, const char *buffer)
{
    die("cursor points to %p, outside this frame's buffer at %p: the frame moved after cursor "
        "was set",
        (const void *) cursor, (const void *) buffer);
}

/* Fetch the messages one after another and collect their bodies, separated
 * by spaces, in `buffer`. Produces the number of bytes collected. All three
 * locals are needed again after a wait, so all three live in the frame. */
// ===== coroutine collect (locals.c:55), as you wrote it =====
//
//     static coroutine int collect(void)
//     {
//         char buffer[BUFFER_SIZE]; /* the bodies so far, NUL-terminated */
//         char *cursor = buffer;    /* where the next body goes: a pointer INTO the frame */
//         int count = 0;            /* messages received so far */
//
//         buffer[0] = '\0';
//         printf("buffer is at %p\n", (void *) buffer);
//         while (count < MESSAGES) {
//             char *response = http_get("%s", paths[count]).wait;
//             /* cursor was set before the wait; is it still inside our buffer? */
//             if (!points_into(cursor, buffer, sizeof buffer))
//                 stale_pointer(cursor, buffer);
//             if (count > 0)
//                 cursor = append(buffer, cursor, " ");
//             cursor = append(buffer, cursor, http_body(response));
//             free(response);
//             count++;
//             printf("after wait %d: buffer = \"%s\", cursor = buffer + %d\n", count, buffer,
//                    (int) (cursor - buffer));
//         }
//         return (int) (cursor - buffer);
//     }
//
// corofy turned it into the four pieces below: struct collect_frame (the state,
// the parameters and the locals, kept from one poll to the next), collect_poll
// (runs the body from one wait point to the next), collect_drop, and the
// constructor collect(), which makes the frame without running any of the body.

static struct future *collect(void);

struct collect_frame {
    struct future base;       /* first: a frame is a future */
    int state;                /* 0: not started, 1: at the wait point, -1: finished */
    char buffer[BUFFER_SIZE]; /* the bodies so far, NUL-terminated */
    char *cursor;             /* where the next body goes: a pointer INTO the frame */
    int count;                /* messages received so far */
    char *response;           /* local, line 64 */
    struct future *awaited;   /* the future being waited for, or NULL */
};

static enum poll_status collect_poll(struct future *self, void *output)
{
    struct collect_frame *frame = (struct collect_frame *) self;

    switch (frame->state) {
    case 0:
        /* ---- your code, its locals moved into the frame ---- */
        frame->cursor = frame->buffer; /* where the next body goes: a pointer INTO the frame */
        frame->count = 0; /* messages received so far */

        frame->buffer[0] = '\0';
        printf("buffer is at %p\n", (void *) frame->buffer);
        while (frame->count < MESSAGES) {
            /* ---- wait point 1: char *response = http_get("%s", paths[count]).wait; ---- */
            frame->awaited = http_get("%s", paths[frame->count]);
            frame->state = 1;
            /* fall through */
    case 1:
            if (frame->awaited->poll(frame->awaited, &frame->response) == POLL_PENDING)
                return POLL_PENDING;
            frame->awaited->drop(frame->awaited);
            frame->awaited = NULL;
            /* ---- end of wait point 1 ---- */
            /* cursor was set before the wait; is it still inside our buffer? */
            if (!points_into(frame->cursor, frame->buffer, sizeof frame->buffer))
                stale_pointer(frame->cursor, frame->buffer);
            if (frame->count > 0)
                frame->cursor = append(frame->buffer, frame->cursor, " ");
            frame->cursor = append(frame->buffer, frame->cursor, http_body(frame->response));
            free(frame->response);
            frame->count++;
            printf("after wait %d: buffer = \"%s\", cursor = buffer + %d\n", frame->count, frame->buffer,
                   (int) (frame->cursor - frame->buffer));
        }
        if (output != NULL)
            *(int *) output = (int) (frame->cursor - frame->buffer);
        frame->state = -1;
        return POLL_READY;
        /* ---- end of your code ---- */
    default:
        fprintf(stderr, "corofy: collect polled after it completed\n");
        abort();
    }
}

static void collect_drop(struct future *self)
{
    struct collect_frame *frame = (struct collect_frame *) self;

    if (frame->awaited != NULL) /* dropped while waiting */
        frame->awaited->drop(frame->awaited);
    free(frame);
}

static struct future *collect(void)
{
    struct collect_frame *frame = malloc(sizeof *frame);

    if (frame == NULL) {
        fprintf(stderr, "corofy: out of memory creating collect\n");
        abort();
    }
    frame->base.poll = collect_poll;
    frame->base.drop = collect_drop;
    frame->state = 0;
    frame->awaited = NULL;
    return &frame->base; /* lazy: none of the body has run yet */
}

/* ===== main: poll, maybe move the frame, poll to the end ===== */

static const char usage[] =
    "usage: locals [--copy-frame]\n"
    "Runs a coroutine (generated by corofy) whose locals live across wait points,\n"
    "fetching three messages from the delay server at DELAYSERVER_ADDR (default\n"
    "127.0.0.1:8080). A request that has no complete answer after\n"
    "DELAYSERVER_TIMEOUT_MS (default 15000) is given up.\n"
    "\n"
    "  --copy-frame  copy the coroutine's frame to a new address after the first\n"
    "                poll: the coroutine detects the stale pointer\n"
    "  --help        show this help\n";

int main(int argc, char **argv)
{
    bool copy_frame = false;

    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        if (argc > 2) {
            fprintf(stderr, "locals: unexpected argument '%s' after --help\n", argv[2]);
            return 2;
        }
        fputs(usage, stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--copy-frame") != 0) {
            fprintf(stderr, "locals: unknown argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
        copy_frame = true;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* each line as it happens, even into a pipe */
    if (http_init(false) < 0)
        return 1;

    struct future *future = collect();
    struct future *old_frame = NULL;
    int length = 0;
    enum poll_status status = future->poll(future, &length);

    if (copy_frame && status == POLL_PENDING) {
        /* What a careless executor might do to a task: move it. struct
         * collect_frame is the frame corofy writes for collect(). The old
         * frame stays allocated, so the stale pointer in the copy points at
         * live memory, and the coroutine can notice before it uses it. */
        old_frame = future;
        future = xmalloc(sizeof(struct collect_frame));
        memcpy(future, old_frame, sizeof(struct collect_frame));
        printf("main copied the frame; buffer is now at %p\n",
               (void *) ((struct collect_frame *) future)->buffer);
    }
    while (status == POLL_PENDING) {
        sleep_blocking_ms(POLL_EVERY_MS); /* nothing can tell us when: look again soon */
        status = future->poll(future, &length);
    }
    printf("collect produced %d\n", length);
    future->drop(future);
    free(old_frame); /* only its memory: what it pointed to belonged to the copy */
    return http_failed() ? 1 : 0;
}
