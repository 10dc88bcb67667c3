/* threads.c: bench/models, model 1: a thread per request. Each thread runs
 * ch01's block_on on a leaf future that does the whole GET with blocking
 * calls: in this model the thread itself is what waits, parked by the kernel
 * in connect() and read() instead of on block_on's condition variable.
 * Built against ch01-block-on's future.c, block_on.c and util.c. */
#include "block_on.h"
#include "future.h"

#include "common.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ===== The leaf future: one blocking GET ===== */

struct get_future {
    struct future base;               /* first member: a get_future * is a future * */
    const struct sockaddr_in *server; /* shared, read-only */
    const char *request;              /* shared, read-only */
    size_t request_length;
    char head[16]; /* the first bytes of the answer */
    size_t head_length;
    bool ok; /* the output: the answer said 200 OK */
};

/* Connect, send, read until the server closes. Every call may block; when
 * it returns the request is over, so the first poll is also the last. */
static enum poll_status get_poll(struct future *self, struct context *cx)
{
    struct get_future *get = (struct get_future *) self;
    (void) cx; /* never pending: nothing to wake */

    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return POLL_READY;
    if (connect(fd, (const struct sockaddr *) get->server, sizeof *get->server) == 0 &&
        send(fd, get->request, get->request_length, MSG_NOSIGNAL) ==
            (ssize_t) get->request_length) {
        char buffer[1024];
        for (;;) {
            ssize_t n = read(fd, buffer, sizeof buffer);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            size_t keep = sizeof get->head - get->head_length;
            if (keep > (size_t) n)
                keep = (size_t) n;
            memcpy(get->head + get->head_length, buffer, keep);
            get->head_length += keep;
        }
        get->ok = bench_is_ok(get->head, get->head_length);
    }
    close(fd);
    return POLL_READY;
}

/* ===== A thread per request ===== */

static void *request_thread(void *arg)
{
    struct get_future *get = arg;
    block_on(&get->base);
    return NULL;
}

int main(int argc, char **argv)
{
    struct bench_job job;
    bench_start(argc, argv,
                "  --stack KIB  stack size of each request thread (default: glibc's, from\n"
                "               ulimit -s)\n",
                true, &job);
    int n = job.options.requests;
    struct get_future *gets = calloc((size_t) n, sizeof *gets);
    pthread_t *threads = calloc((size_t) n, sizeof *threads);
    if (gets == NULL || threads == NULL)
        bench_die("out of memory for %d requests", n);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    if (job.options.stack_kib > 0) {
        int err = pthread_attr_setstacksize(&attr, (size_t) job.options.stack_kib * 1024);
        if (err != 0)
            bench_die("pthread_attr_setstacksize(%d KiB): %s", job.options.stack_kib,
                      strerror(err));
    }

    long kernel_stack_before = bench_meminfo_kib("KernelStack");
    double start = bench_now();
    int started = 0, create_error = 0;
    for (; started < n; started++) {
        gets[started] = (struct get_future){
            .base = FUTURE_INIT(get_poll, "get"),
            .server = &job.server,
            .request = job.request,
            .request_length = job.request_length,
        };
        create_error = pthread_create(&threads[started], &attr, request_thread, &gets[started]);
        if (create_error != 0)
            break;
    }
    /* Every thread exists now (most are asleep in read): how much more memory
       the kernel holds for thread stacks, system-wide. Other processes add
       noise, 10,000 threads x 16 KiB do not get lost in it. */
    long kernel_stack_delta = bench_meminfo_kib("KernelStack") - kernel_stack_before;
    int ok = 0;
    for (int i = 0; i < started; i++) {
        pthread_join(threads[i], NULL);
        ok += gets[i].ok;
    }
    double wall = bench_now() - start;

    if (create_error != 0) {
        printf("models: model=threads n=%d error=pthread_create failed for thread %d: %s\n", n,
               started + 1, strerror(create_error));
        return 1;
    }
    if (block_on_parkers_alive() != 0)
        bench_die("%ld parkers were never freed", block_on_parkers_alive());
    char extra[64];
    snprintf(extra, sizeof extra, " kernel_stack_kib=%ld", kernel_stack_delta);
    bench_report("threads", n, ok, wall, extra);
    pthread_attr_destroy(&attr);
    free(threads);
    free(gets);
    return 0;
}
