/* waker-check.c: a test driver for ch05-runtime (step b), and for
 * ch06-io-uring step b, whose executor is the same on another reactor:
 * wakers kept too long, woken from other threads while the executor sleeps
 * in the reactor (here in io_uring_enter), after their task finished and
 * after their executor ended. Run its -asan and -tsan builds to see that
 * none of that is a use-after-free or a data race. Prints one line per check
 * that passed; the first check that fails prints FAILED and exits 1. Exits
 * 77 where io_uring is not available. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../../common/alloc.h"
#include "../../common/clock.h"
#include "executor.h"
#include "future.h"
#include "reactor.h"

#define WAKING_THREADS 4
#define WAKES_PER_THREAD 2000

static void check(bool ok, const char *what)
{
    if (!ok) {
        printf("FAILED: %s\n", what);
        exit(1);
    }
}

/* A future made of one function and a little state; free()d by drop. */
struct step {
    struct future base;
    enum poll_status (*poll)(struct step *self, const struct waker *waker);
    int polls; /* how often it has been polled */
    int fd;    /* for the reactor check */
};

static enum poll_status step_poll(struct future *self, const struct waker *waker, void *output)
{
    (void) output;
    struct step *s = (struct step *) self;
    s->polls++;
    return s->poll(s, waker);
}

static void step_drop(struct future *self)
{
    free(self);
}

static struct future *make_step(enum poll_status (*poll)(struct step *, const struct waker *))
{
    struct step *s = xcalloc(1, sizeof *s);
    s->base.poll = step_poll;
    s->base.drop = step_drop;
    s->poll = poll;
    s->fd = -1;
    return &s->base;
}

/* ===== 1. A waker kept after its task finished ===== */

static struct waker kept; /* a clone that outlives its task */
static int keeper_polls;

static enum poll_status keeper(struct step *s, const struct waker *waker)
{
    keeper_polls = s->polls;
    kept = waker_clone(waker);
    return POLL_READY; /* finished, but a clone of its waker lives on */
}

static enum poll_status wake_the_finished(struct step *s, const struct waker *waker)
{
    (void) s, (void) waker;
    waker_wake_by_ref(&kept); /* must not poll the finished keeper again */
    struct waker extra = waker_clone(&kept);
    waker_wake(&extra);
    return POLL_READY;
}

/* ===== 2. Woken from another thread while it waits ===== */

static atomic_bool late_flag;

static void *wake_later(void *arg)
{
    struct waker *w = arg;
    sleep_blocking_ms(20);
    atomic_store(&late_flag, true);
    waker_wake(w); /* consumes the clone it was handed */
    free(w);
    return NULL;
}

static pthread_t late_thread;

static enum poll_status woken_by_thread(struct step *s, const struct waker *waker)
{
    if (s->polls == 1) {
        struct waker *w = xmalloc(sizeof *w);
        *w = waker_clone(waker);
        check(pthread_create(&late_thread, NULL, wake_later, w) == 0, "pthread_create");
        return POLL_PENDING;
    }
    return atomic_load(&late_flag) ? POLL_READY : POLL_PENDING;
}

/* ===== 3. Woken thousands of times from several threads at once ===== */

static atomic_int wakes_sent;
static struct waker shared_waker; /* set before the waking threads start */
static pthread_t waking_threads[WAKING_THREADS];

static void *wake_many(void *unused)
{
    (void) unused;
    for (int i = 0; i < WAKES_PER_THREAD; i++) {
        struct waker w = waker_clone(&shared_waker);
        atomic_fetch_add(&wakes_sent, 1); /* before waking: no lost wake-up */
        if (i % 2)
            waker_wake(&w);
        else {
            waker_wake_by_ref(&w);
            waker_drop(&w);
        }
    }
    return NULL;
}

static enum poll_status woken_by_many(struct step *s, const struct waker *waker)
{
    if (s->polls == 1) {
        shared_waker = waker_clone(waker);
        for (int i = 0; i < WAKING_THREADS; i++)
            check(pthread_create(&waking_threads[i], NULL, wake_many, NULL) == 0, "pthread_create");
    }
    return atomic_load(&wakes_sent) == WAKING_THREADS * WAKES_PER_THREAD ? POLL_READY
                                                                         : POLL_PENDING;
}

/* ===== 4. The reactor: a completion ===== */

static void *write_eventfd_later(void *arg)
{
    sleep_blocking_ms(10);
    uint64_t one = 1;
    check(write(*(int *) arg, &one, sizeof one) == sizeof one, "write to the eventfd");
    return NULL;
}

static pthread_t event_thread;
static int event_fd = -1;
static struct operation event_read; /* a read of event_fd, through the ring */
static uint64_t event_value;        /* what it reads: written by the kernel */

static enum poll_status woken_by_reactor(struct step *s, const struct waker *waker)
{
    if (s->polls == 1) {
        s->fd = event_fd = eventfd(0, EFD_CLOEXEC);
        check(s->fd >= 0, "eventfd");
        struct io_uring_sqe sqe = {
            .opcode = IORING_OP_READ,
            .fd = s->fd,
            .addr = (uintptr_t) &event_value,
            .len = sizeof event_value,
        };
        check(reactor_start(&event_read, &sqe, waker, REACTOR_NO_DEADLINE) == 0, "reactor_start");
        check(pthread_create(&event_thread, NULL, write_eventfd_later, &event_fd) == 0,
              "pthread_create");
        return POLL_PENDING; /* the completion will wake us */
    }
    if (event_read.in_flight) {
        reactor_set_waker(&event_read, waker);
        return POLL_PENDING;
    }
    check(event_read.result == sizeof event_value && event_value == 1, "the read's result");
    return POLL_READY;
}

/* ===== The main task and the checks after block_on ===== */

static enum poll_status main_task(struct step *s, const struct waker *waker)
{
    (void) s, (void) waker;
    executor_spawn(make_step(keeper), "keeper");
    executor_spawn(make_step(wake_the_finished),
                   "wake_the_finished"); /* runs after keeper finished */
    executor_spawn(make_step(woken_by_thread), "woken_by_thread");
    executor_spawn(make_step(woken_by_many), "woken_by_many");
    executor_spawn(make_step(woken_by_reactor), "woken_by_reactor");
    return POLL_READY;
}

static void *drop_after_the_end(void *unused)
{
    (void) unused;
    waker_wake_by_ref(&kept); /* the executor has ended: nothing happens */
    struct waker clone = waker_clone(&kept);
    waker_wake(&clone);
    waker_wake(&kept); /* the last reference: frees task and executor */
    return NULL;
}

int main(int argc, char **argv)
{
    /* The checks take no arguments: a stray one gets one line, not a run. */
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        printf("usage: waker-check\n"
               "Checks that wakers stay safe after their task or executor ended.\n");
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "waker-check: unknown argument '%s' (try --help)\n", argv[argc - 1]);
        return 2;
    }
    int err = reactor_open();
    if (err == -ENOSYS || err == -EPERM) {
        printf("SKIPPED: io_uring is not available here: %s\n", strerror(-err));
        return 77;
    }
    check(err == 0, "reactor_open");

    /* Polls of finished tasks are caught inside block_on: a step polled
       after POLL_READY would be a use-after-free, which ASan reports. */
    executor_block_on("check", make_step(main_task));
    check(keeper_polls == 1, "a finished task was polled again");
    printf("a waker kept after its task finished: woken twice, task not polled again\n");

    check(pthread_join(late_thread, NULL) == 0, "pthread_join");
    printf("a waker woken from another thread: the sleeping executor woke up\n");

    for (int i = 0; i < WAKING_THREADS; i++)
        check(pthread_join(waking_threads[i], NULL) == 0, "pthread_join");
    printf("%d wakes from %d threads at once: no wake-up lost\n", WAKING_THREADS * WAKES_PER_THREAD,
           WAKING_THREADS);
    waker_drop(&shared_waker);

    check(pthread_join(event_thread, NULL) == 0, "pthread_join");
    close(event_fd);
    printf("the reactor woke a task when its read of an eventfd completed\n");

    /* The executor is gone now; `kept` still holds its finished task. */
    pthread_t t;
    check(pthread_create(&t, NULL, drop_after_the_end, NULL) == 0, "pthread_create");
    check(pthread_join(t, NULL) == 0, "pthread_join");
    printf("a waker woken and dropped on another thread after its executor ended: no effect\n");

    reactor_close();
    printf("all checks passed\n");
    return 0;
}
