/* requests.c: bench/uring, the requests workload on a chapter's runtime: N
 * concurrent `GET /<delay>/m` to the delay server, each a task on one
 * executor awaiting the chapter's http_get(). The same source is built
 * twice: against ch05-runtime/b-executor (the executor asleep in the epoll
 * reactor) and against ch06-io-uring/b-proactor (the same executor on the
 * io_uring reactor). Both steps offer the same executor.h, http.h and
 * reactor_open()/reactor_close(), which is the point of step b.
 *
 *     requests N DELAY_MS
 *
 * prints one line, `ok=<200 answers> elapsed_ns=<first poll to the end>
 * peak_rss=<VmHWM, bytes>`, on its standard output; the executor's own progress lines go to
 * /dev/null. Exits 77 where io_uring is not available. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "executor.h"
#include "future.h"
#include "http.h"
#include "reactor.h"

static int delay_ms;  /* asked of the server, before its speedup */
static int ok_count;  /* answers that said 200 OK */
static FILE *results; /* the real stdout */

/* The tasks are written by hand, in the shape corofy gives the chapters'
 * main.c: what it would make of
 *
 *     coroutine void request(void)
 *     {
 *         char *text = http_get("/%d/m", delay_ms).wait;
 *         ok_count += text != NULL && strncmp(text, "HTTP/1.1 200", 12) == 0;
 *         free(text);
 *     }
 *     coroutine void spawn_all(int n)
 *     {
 *         for (int i = 0; i < n; i++)
 *             executor_spawn(request(), "request %d", i);
 *     }
 */

struct request_frame {
    struct future base;
    struct future *awaited; /* the http_get; NULL before the first poll and after */
};

static enum poll_status request_poll(struct future *self, const struct waker *waker, void *output)
{
    struct request_frame *frame = (struct request_frame *) self;
    char *text = NULL;
    (void) output;
    if (frame->awaited == NULL)
        frame->awaited = http_get("/%d/m", delay_ms);
    if (frame->awaited->poll(frame->awaited, waker, &text) == POLL_PENDING)
        return POLL_PENDING;
    frame->awaited->drop(frame->awaited);
    frame->awaited = NULL;
    ok_count += text != NULL && strncmp(text, "HTTP/1.1 200", 12) == 0;
    free(text);
    return POLL_READY;
}

static void request_drop(struct future *self)
{
    struct request_frame *frame = (struct request_frame *) self;
    if (frame->awaited != NULL)
        frame->awaited->drop(frame->awaited);
    free(frame);
}

struct spawn_all_frame {
    struct future base;
    int n;
};

static enum poll_status spawn_all_poll(struct future *self, const struct waker *waker, void *output)
{
    (void) waker, (void) output;
    for (int i = 0; i < ((struct spawn_all_frame *) self)->n; i++) {
        struct request_frame *frame = calloc(1, sizeof *frame);
        if (frame == NULL)
            abort();
        frame->base = (struct future){.poll = request_poll, .drop = request_drop};
        executor_spawn(&frame->base, "request %d", i);
    }
    return POLL_READY;
}

static void spawn_all_drop(struct future *self)
{
    free(self);
}

/* VmHWM in bytes: the peak resident set of this process so far. */
static long long peak_rss(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long long kib = -1;
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmHWM: %lld kB", &kib) == 1)
            break;
    if (f != NULL)
        fclose(f);
    return kib < 0 ? -1 : kib * 1024;
}

static unsigned long long now_ns_here(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long) ts.tv_sec * 1000000000ull + (unsigned long long) ts.tv_nsec;
}

int main(int argc, char **argv)
{
    int n = argc == 3 ? atoi(argv[1]) : 0;
    delay_ms = argc == 3 ? atoi(argv[2]) : -1;
    if (n <= 0 || delay_ms < 0) {
        fprintf(stderr, "usage: %s N DELAY_MS\n", argv[0]);
        return 2;
    }
    struct rlimit limit; /* a socket per request */
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
    int fd = dup(1);
    if (fd < 0 || (results = fdopen(fd, "w")) == NULL || !freopen("/dev/null", "w", stdout))
        return 1;
    if (http_init(false) < 0)
        return 1;
    int err = reactor_open();
    if (err == -ENOSYS || err == -EPERM) {
        fprintf(stderr, "%s: io_uring is not available here: %s\n", argv[0], strerror(-err));
        return 77;
    }
    if (err < 0) {
        fprintf(stderr, "%s: cannot open the reactor: %s\n", argv[0], strerror(-err));
        return 1;
    }
    struct spawn_all_frame *first = calloc(1, sizeof *first);
    if (first == NULL)
        return 1;
    first->base = (struct future){.poll = spawn_all_poll, .drop = spawn_all_drop};
    first->n = n;
    unsigned long long start = now_ns_here();
    executor_block_on("main", &first->base);
    unsigned long long elapsed = now_ns_here() - start;
    reactor_close();
    fprintf(results, "ok=%d elapsed_ns=%llu peak_rss=%lld\n", ok_count, elapsed, peak_rss());
    return http_failed() ? 1 : 0;
}
