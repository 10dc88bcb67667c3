/* trace-check.c: a toy runtime that makes every call of trace.h, from
 * several threads, so the tracing library is tested before a chapter's
 * runtime adopts it (tests/test_common_trace.py reads what it writes).
 *
 * Two executor threads poll tasks from ready queues and park on a
 * condition variable when there is none; a reactor thread parks in
 * epoll_wait on the tasks' timerfds and wakes the task whose timer expired;
 * the main thread spawns the tasks, parks until they are done, then plays
 * two fibers taking turns on its own thread. The tasks:
 *   sleeper k   sleeps k * ms twice (a timer, registered with the reactor)
 *   yielder     wakes itself in three polls out of four, as a task that yields
 *   waiter      waits until every sleeper is done; the last one wakes it
 * One lock guards the whole runtime: it is a test driver, not a lesson. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "args.h"
#include "errors.h"
#include "trace.h"

#define EXECUTORS 2
#define MAX_SLEEPERS 1000

enum kind { SLEEPER, YIELDER, WAITER };

struct task {
    uint64_t id; /* from trace_next_task_id() */
    char name[24];
    enum kind kind;
    int executor;      /* the index of the executor that runs it */
    int polls;         /* polls so far (its executor's thread only) */
    unsigned sleep_ms; /* a sleeper's sleep */
    int timer_fd;      /* a sleeper's timerfd, registered with the reactor */
    /* Guarded by rt.lock: */
    bool queued;       /* on its executor's ready queue */
    bool running;      /* its executor is polling it */
    bool again;        /* woken while running: queue it again when the poll ends */
    bool done;         /* returned ready: never polled again */
    struct task *next; /* link in the ready queue */
};

struct executor {
    pthread_t thread;
    int number;               /* 1, 2: its track is "executor <number>" */
    pthread_cond_t wakeup;    /* a task was queued, or all are done */
    struct task *head, *tail; /* the ready queue (rt.lock) */
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t all_done; /* main waits on it */
    struct executor executors[EXECUTORS];
    struct task *tasks;
    int task_count;
    int left;          /* tasks not done */
    int sleepers_left; /* sleepers not done: the waiter waits for 0 */
    struct task *waiter;
    int epfd, stop_fd; /* the reactor's epoll and its stop signal */
} rt = {.lock = PTHREAD_MUTEX_INITIALIZER, .all_done = PTHREAD_COND_INITIALIZER};

/* ===== Scheduling ===== */

static void push_ready(struct task *t)
{
    struct executor *ex = &rt.executors[t->executor];
    t->queued = true;
    t->next = NULL;
    if (ex->tail != NULL)
        ex->tail->next = t;
    else
        ex->head = t;
    ex->tail = t;
    pthread_cond_signal(&ex->wakeup);
}

/* Make t runnable; the caller holds rt.lock. A wake of a finished task
 * does nothing, and is not traced: no poll will follow it. */
static void wake_locked(struct task *t)
{
    if (t->done)
        return;
    trace_wake(t->id, t->name);
    if (t->running)
        t->again = true;
    else if (!t->queued)
        push_ready(t);
}

/* ===== The tasks ===== */

static void arm_timer(struct task *t)
{
    struct itimerspec when = {
        .it_value = {t->sleep_ms / 1000, (long) (t->sleep_ms % 1000) * 1000000}};
    if (timerfd_settime(t->timer_fd, 0, &when, NULL) < 0)
        die("timerfd_settime: %s", strerror(errno));
    struct epoll_event interest = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = t};
    int op = t->polls == 1 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    if (epoll_ctl(rt.epfd, op, t->timer_fd, &interest) < 0)
        die("epoll_ctl: %s", strerror(errno));
    trace_register("fd %d readable", t->timer_fd);
}

/* One poll of t, on its executor's thread: true when it is done. */
static bool poll_task(struct task *t)
{
    t->polls++;
    switch (t->kind) {
    case SLEEPER:
        if (t->polls <= 2) {
            arm_timer(t); /* first and second poll: sleep */
            return false;
        }
        pthread_mutex_lock(&rt.lock);
        if (--rt.sleepers_left == 0)
            wake_locked(rt.waiter); /* a wake inside a poll, to another thread */
        pthread_mutex_unlock(&rt.lock);
        return true;
    case YIELDER:
        if (t->polls <= 3) {
            pthread_mutex_lock(&rt.lock);
            wake_locked(t); /* yield: wake itself, inside its own poll */
            pthread_mutex_unlock(&rt.lock);
            return false;
        }
        return true;
    case WAITER:
        pthread_mutex_lock(&rt.lock);
        bool ready = rt.sleepers_left == 0;
        pthread_mutex_unlock(&rt.lock);
        return ready;
    }
    abort();
}

/* ===== The threads ===== */

static void *executor_main(void *arg)
{
    struct executor *ex = arg;
    trace_thread("executor %d", ex->number);
    pthread_mutex_lock(&rt.lock);
    for (;;) {
        while (ex->head == NULL && rt.left > 0) {
            trace_park_begin("condvar");
            pthread_cond_wait(&ex->wakeup, &rt.lock);
            trace_park_end();
        }
        if (ex->head == NULL)
            break; /* every task is done */
        struct task *t = ex->head;
        ex->head = t->next;
        if (ex->head == NULL)
            ex->tail = NULL;
        t->queued = false;
        t->running = true;
        pthread_mutex_unlock(&rt.lock);

        trace_poll_begin(t->id, t->name);
        bool ready = poll_task(t);
        trace_poll_end(t->id, ready);

        pthread_mutex_lock(&rt.lock);
        t->running = false;
        if (ready) {
            t->done = true;
            if (--rt.left == 0) {
                for (int i = 0; i < EXECUTORS; i++)
                    pthread_cond_signal(&rt.executors[i].wakeup);
                pthread_cond_signal(&rt.all_done);
            }
        } else if (t->again) {
            t->again = false;
            push_ready(t);
        }
    }
    pthread_mutex_unlock(&rt.lock);
    return NULL;
}

static void *reactor_main(void *unused)
{
    (void) unused;
    trace_thread("reactor");
    for (;;) {
        struct epoll_event events[8];
        trace_park_begin("epoll_wait");
        int n = epoll_wait(rt.epfd, events, 8, -1);
        trace_park_end();
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("epoll_wait: %s", strerror(errno));
        for (int i = 0; i < n; i++) {
            struct task *t = events[i].data.ptr;
            if (t == NULL)
                return NULL; /* the stop signal */
            uint64_t expirations;
            if (read(t->timer_fd, &expirations, sizeof expirations) < 0)
                die("read timerfd: %s", strerror(errno));
            trace_timer("%s: %u ms", t->name, t->sleep_ms);
            pthread_mutex_lock(&rt.lock);
            wake_locked(t); /* a wake outside any span */
            pthread_mutex_unlock(&rt.lock);
        }
    }
}

/* ===== Fibers =====
 *
 * Two flows of control taking turns on the main thread, as ch03's fibers
 * do: each turn is a "poll" on a track of its own, and each hands the
 * next turn to the other with a wake. */
static void take_turns(void)
{
    int tracks[2] = {trace_track_new("fiber 1"), trace_track_new("fiber 2")};
    uint64_t ids[2] = {trace_next_task_id(), trace_next_task_id()};
    const char *names[2] = {"fiber 1", "fiber 2"};
    trace_spawn(ids[0], names[0]);
    trace_spawn(ids[1], names[1]);
    for (int turn = 0; turn < 4; turn++) {
        int me = turn % 2, other = 1 - me;
        trace_track_switch(tracks[me]);
        trace_poll_begin(ids[me], names[me]);
        if (turn < 3)
            trace_wake(ids[other], names[other]);
        trace_poll_end(ids[me], turn >= 2);
    }
    trace_track_switch(0);
}

/* ===== Main ===== */

static void usage(FILE *to)
{
    fprintf(to, "usage: trace-check [--sleepers N] [--ms N] [--no-close]\n"
                "A toy runtime (two executors, a reactor, N sleeping tasks, one that\n"
                "yields and one that waits for the sleepers) that makes every call of\n"
                "common/trace.h. Run it with ASYNC_TRACE=FILE.json or ASYNC_TRACE=-.\n"
                "  --sleepers N  tasks that sleep twice (1 to 1000, default 3)\n"
                "  --ms N        sleeper k sleeps k * N ms each time (1 to 1000, default 20)\n"
                "  --no-close    leave the trace to the exit handler, not trace_close()\n");
}

static unsigned long long option_value(int argc, char **argv, int *i)
{
    unsigned long long value;
    if (*i + 1 >= argc) {
        fprintf(stderr, "trace-check: %s needs a value (try --help)\n", argv[*i]);
        exit(2);
    }
    if (parse_count(argv[*i + 1], 1, 1000, &value) < 0) {
        fprintf(stderr, "trace-check: %s '%s': expected 1 to 1000 (try --help)\n", argv[*i],
                argv[*i + 1]);
        exit(2);
    }
    (*i)++;
    return value;
}

static void spawn(struct task *t, enum kind kind, const char *name, int executor)
{
    t->id = trace_next_task_id();
    t->kind = kind;
    snprintf(t->name, sizeof t->name, "%s", name);
    t->executor = executor;
    t->timer_fd = -1;
    trace_spawn(t->id, t->name);
    push_ready(t);
}

int main(int argc, char **argv)
{
    unsigned long long sleepers = 3, ms = 20;
    bool close_it = true;
    trace_thread("main");
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--sleepers") == 0) {
            sleepers = option_value(argc, argv, &i);
        } else if (strcmp(argv[i], "--ms") == 0) {
            ms = option_value(argc, argv, &i);
        } else if (strcmp(argv[i], "--no-close") == 0) {
            close_it = false;
        } else {
            fprintf(stderr, "trace-check: unexpected argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }

    rt.epfd = epoll_create1(EPOLL_CLOEXEC);
    rt.stop_fd = eventfd(0, EFD_CLOEXEC);
    if (rt.epfd < 0 || rt.stop_fd < 0)
        die("epoll_create1 or eventfd: %s", strerror(errno));
    struct epoll_event stop = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(rt.epfd, EPOLL_CTL_ADD, rt.stop_fd, &stop) < 0)
        die("epoll_ctl: %s", strerror(errno));
    for (int i = 0; i < EXECUTORS; i++) {
        rt.executors[i].number = i + 1;
        check_pthread(pthread_cond_init(&rt.executors[i].wakeup, NULL), "pthread_cond_init");
    }

    /* Every task is made before the threads start, so they see it whole. */
    rt.task_count = (int) sleepers + 2;
    rt.tasks = calloc((size_t) rt.task_count, sizeof *rt.tasks);
    if (rt.tasks == NULL)
        die("out of memory");
    rt.left = rt.task_count;
    rt.sleepers_left = (int) sleepers;
    for (int k = 1; k <= (int) sleepers; k++) {
        struct task *t = &rt.tasks[k - 1];
        char name[24];
        snprintf(name, sizeof name, "sleeper %d", k);
        spawn(t, SLEEPER, name, (k - 1) % EXECUTORS);
        t->sleep_ms = (unsigned) (k * ms);
        t->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
        if (t->timer_fd < 0)
            die("timerfd_create: %s", strerror(errno));
    }
    spawn(&rt.tasks[sleepers], YIELDER, "yielder", 1);
    /* The last sleeper wakes the waiter: from the other executor's thread. */
    rt.waiter = &rt.tasks[sleepers + 1];
    spawn(rt.waiter, WAITER, "waiter", (int) sleepers % EXECUTORS);

    pthread_t reactor;
    check_pthread(pthread_create(&reactor, NULL, reactor_main, NULL), "pthread_create");
    for (int i = 0; i < EXECUTORS; i++)
        check_pthread(
            pthread_create(&rt.executors[i].thread, NULL, executor_main, &rt.executors[i]),
            "pthread_create");

    pthread_mutex_lock(&rt.lock);
    while (rt.left > 0) {
        trace_park_begin("join");
        pthread_cond_wait(&rt.all_done, &rt.lock);
        trace_park_end();
    }
    pthread_mutex_unlock(&rt.lock);
    for (int i = 0; i < EXECUTORS; i++)
        check_pthread(pthread_join(rt.executors[i].thread, NULL), "pthread_join");
    uint64_t one = 1;
    if (write(rt.stop_fd, &one, sizeof one) < 0)
        die("write eventfd: %s", strerror(errno));
    check_pthread(pthread_join(reactor, NULL), "pthread_join");

    take_turns();
    printf("trace-check: %d tasks done on %d executors, then 2 fibers took turns\n", rt.task_count,
           EXECUTORS);

    for (int i = 0; i < rt.task_count; i++)
        if (rt.tasks[i].timer_fd >= 0)
            close(rt.tasks[i].timer_fd);
    for (int i = 0; i < EXECUTORS; i++)
        pthread_cond_destroy(&rt.executors[i].wakeup);
    close(rt.epfd);
    close(rt.stop_fd);
    free(rt.tasks);
    if (close_it)
        trace_close();
    return 0;
}
