/* runtime.c: bench/models, model 4: the ch05 runtime (step
 * c-reactor-thread): N stackless tasks on one executor, each awaiting
 * ch05's http_get leaf future, which hands its waker to the reactor thread.
 *
 * The two tasks are written by hand in the shape corofy generates for the
 * chapter's main.c (a frame struct, a poll that resumes at its wait point,
 * a drop): what corofy would make of
 *
 *     coroutine void request(int delay_ms)
 *     {
 *         char *text = http_get("/%d/m", delay_ms).wait;
 *         ok += text != NULL && starts with "HTTP/1.1 200";
 *         free(text);
 *     }
 *     coroutine void spawn_all(int n, int delay_ms)
 *     {
 *         for (int i = 0; i < n; i++)
 *             executor_spawn(request(delay_ms), "request %d", i);
 *     }
 */
#include "executor.h"
#include "future.h"
#include "http.h"
#include "reactor.h"

#include "common.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Executor thread only. */
static int ok_count;               /* answers that said 200 OK */
static int task_count;             /* how many request tasks the run spawns */
static int waiting_count;          /* request tasks that have returned PENDING once */
static long heap_before;           /* heap bytes in use before spawning */
static long heap_spawned = -1;     /* ... when every task is spawned, none polled yet */
static long heap_all_waiting = -1; /* ... when the last task first returned PENDING */

/* Bytes the program has taken from malloc and not freed (all arenas). */
static long heap_in_use(void)
{
    struct mallinfo2 info = mallinfo2();
    return (long) (info.uordblks + info.hblkhd);
}

/* ===== request: one GET, one wait point ===== */

struct request_frame {
    struct future base;     /* first: a frame is a future */
    int delay_ms;           /* parameter */
    struct future *awaited; /* the http_get being waited for; NULL before and after */
    bool counted;           /* in waiting_count (measurement only, not corofy's) */
};

static enum poll_status request_poll(struct future *self, const struct waker *waker, void *output)
{
    struct request_frame *frame = (struct request_frame *) self;
    char *text = NULL;

    (void) output;
    if (frame->awaited == NULL) /* first poll: start the GET */
        frame->awaited = http_get("/%d/m", frame->delay_ms);
    if (frame->awaited->poll(frame->awaited, waker, &text) == POLL_PENDING) {
        if (!frame->counted) {
            frame->counted = true;
            if (++waiting_count == task_count)
                heap_all_waiting = heap_in_use();
        }
        return POLL_PENDING;
    }
    frame->awaited->drop(frame->awaited);
    frame->awaited = NULL;
    if (text != NULL) {
        ok_count += bench_is_ok(text, strlen(text));
        free(text);
    }
    return POLL_READY;
}

static void request_drop(struct future *self)
{
    struct request_frame *frame = (struct request_frame *) self;
    if (frame->awaited != NULL)
        frame->awaited->drop(frame->awaited);
    free(frame);
}

static struct future *request(int delay_ms)
{
    struct request_frame *frame = malloc(sizeof *frame);
    if (frame == NULL)
        bench_die("out of memory");
    *frame = (struct request_frame){
        .base = {.poll = request_poll, .drop = request_drop},
        .delay_ms = delay_ms,
    };
    return &frame->base;
}

/* ===== spawn_all: the first task, which spawns the others ===== */

struct spawn_all_frame {
    struct future base;
    int n, delay_ms;
};

static enum poll_status spawn_all_poll(struct future *self, const struct waker *waker, void *output)
{
    struct spawn_all_frame *frame = (struct spawn_all_frame *) self;
    (void) waker;
    (void) output;
    for (int i = 0; i < frame->n; i++)
        executor_spawn(request(frame->delay_ms), "request %d", i);
    heap_spawned = heap_in_use();
    return POLL_READY;
}

static void spawn_all_drop(struct future *self)
{
    free(self);
}

static struct future *spawn_all(int n, int delay_ms)
{
    struct spawn_all_frame *frame = malloc(sizeof *frame);
    if (frame == NULL)
        bench_die("out of memory");
    *frame = (struct spawn_all_frame){
        .base = {.poll = spawn_all_poll, .drop = spawn_all_drop},
        .n = n,
        .delay_ms = delay_ms,
    };
    return &frame->base;
}

int main(int argc, char **argv)
{
    struct bench_job job; /* ch05's http.c makes its own request: only the options are used */
    bench_start(argc, argv,
                "The executor's own lines (\"main: <n> pending tasks...\") come first.\n", false,
                &job);
    if (http_init(false) < 0)
        return 1;
    int err = reactor_start();
    if (err < 0)
        bench_die("cannot start the reactor: %s", strerror(-err));

    task_count = job.options.requests;
    struct future *first = spawn_all(job.options.requests, job.options.delay_ms);
    heap_before = heap_in_use();
    double start = bench_now();
    executor_block_on("main", first);
    double wall = bench_now() - start;
    reactor_stop();
    char extra[96];
    snprintf(extra, sizeof extra, " heap_spawned_bytes=%ld heap_waiting_bytes=%ld",
             heap_spawned - heap_before,
             heap_all_waiting < 0 ? -1 : heap_all_waiting - heap_before);
    bench_report("runtime", job.options.requests, ok_count, wall, extra);
    return 0;
}
