/* timer.c: the two backends behind sleep_until(): a timerfd per sleep, and one
 * heap of deadlines armed through a single shared timerfd.
 * Introduced in ch05-runtime step d. */
#include "timer.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "reactor.h"

#define NS_PER_MS 1000000ull
#define NS_PER_S  1000000000ull

static enum timer_backend backend = TIMER_FD;  /* written by timer_start() only */
static atomic_bool failed;

/* ===== Shared by both backends ===== */

uint64_t timer_now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * NS_PER_S + (uint64_t)now.tv_nsec;
}

bool timer_failed(void)
{
    return atomic_load(&failed);
}

/* Report a failed sleep; only the first one in the program prints. */
static void report(const char *what, int err)
{
    if (!atomic_exchange(&failed, true))
        fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what, strerror(err));
}

static struct timespec to_timespec(uint64_t ns)
{
    return (struct timespec){ .tv_sec = (time_t)(ns / NS_PER_S), .tv_nsec = (long)(ns % NS_PER_S) };
}

static void *xmalloc(size_t size)
{
    void *p = malloc(size);
    if (p == NULL) {
        fprintf(stderr, "%s: out of memory\n", program_invocation_short_name);
        abort();
    }
    return p;
}

/* Complete a sleep: hand its result to whoever asked. */
static enum poll_status finish(void *output, int result)
{
    if (output != NULL)
        *(int *)output = result;
    return POLL_READY;
}

/* ===== Backend 1: one timerfd per sleep =====
 *
 * The kernel does all the timekeeping: timerfd_create() makes a file that
 * becomes readable when its timer expires, and the reactor watches it like
 * any socket. System calls per sleep: timerfd_create, timerfd_settime,
 * epoll_ctl(ADD), read (EAGAIN on the first poll), read (the expiry count),
 * epoll_ctl(DEL), close. */

struct fd_sleep {
    struct future base;         /* first member: a struct future * points here */
    uint64_t deadline;          /* when to complete, CLOCK_MONOTONIC ns */
    bool started;               /* the first poll has happened */
    int fd;                     /* the timerfd; -1 when none */
    uint64_t token;             /* its registration with the reactor (fd >= 0) */
};

static void fd_sleep_close(struct fd_sleep *s)
{
    if (s->fd < 0)
        return;
    reactor_deregister(s->fd, s->token);    /* before close: see http.c */
    close(s->fd);
    s->fd = -1;
}

/* Create the timerfd, start its countdown, and register it. 0 or -errno. */
static int fd_sleep_start(struct fd_sleep *s, struct waker *waker)
{
    s->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (s->fd < 0)
        return -errno;
    /* An absolute time. If it passes before the registration below,
       EPOLL_CTL_ADD still reports it: epoll looks at the current state of
       an fd when it is added. */
    struct itimerspec when = { .it_value = to_timespec(s->deadline) };
    int err = 0;
    if (timerfd_settime(s->fd, TFD_TIMER_ABSTIME, &when, NULL) < 0)
        err = -errno;
    else
        err = reactor_register(s->fd, EPOLLIN, waker, &s->token);
    if (err < 0) {
        close(s->fd);
        s->fd = -1;
    }
    return err;
}

static enum poll_status fd_sleep_poll(struct future *self, struct waker *waker, void *output)
{
    struct fd_sleep *s = (struct fd_sleep *)self;
    int err;

    /* As in http.c: hand the reactor this poll's waker, then look. */
    if (!s->started) {
        s->started = true;
        if (s->deadline <= timer_now_ns())    /* due already: no timer needed */
            return finish(output, 0);
        if ((err = fd_sleep_start(s, waker)) < 0) {
            report("cannot set up a timerfd", -err);
            return finish(output, err);
        }
    } else {
        reactor_set_waker(s->token, waker);
    }

    uint64_t expirations;
    if (read(s->fd, &expirations, sizeof expirations) == sizeof expirations) {
        fd_sleep_close(s);      /* expired: the fd has done its job */
        return finish(output, 0);
    }
    if (errno == EAGAIN)        /* not yet: the reactor will wake us */
        return POLL_PENDING;
    err = -errno;
    report("cannot read a timerfd", -err);
    fd_sleep_close(s);
    return finish(output, err);
}

static void fd_sleep_drop(struct future *self)
{
    struct fd_sleep *s = (struct fd_sleep *)self;
    fd_sleep_close(s);          /* a pending sleep is cancelled */
    free(s);
}

static struct future *fd_sleep(uint64_t deadline)
{
    struct fd_sleep *s = xmalloc(sizeof *s);
    *s = (struct fd_sleep){ .base = { fd_sleep_poll, fd_sleep_drop },
                            .deadline = deadline, .fd = -1 };
    return &s->base;
}

/* ===== Backend 2: one heap, one timerfd =====
 *
 * Every pending sleep is an entry in a binary min-heap ordered by deadline;
 * the entry is the sleep future itself, which remembers its position so a
 * cancelled sleep can be taken out in O(log n). One timerfd, registered with
 * the reactor once, is armed (absolute time) for the earliest deadline. When
 * it fires, the reactor thread wakes a waker that is not a task's: its wake
 * function is fire_expired(), which pops every sleep whose deadline has
 * passed, wakes their tasks, and arms the timerfd for the next deadline.
 * A sleep costs a heap slot and no system call, except when it becomes the
 * earliest deadline (one timerfd_settime); the timerfd fires at most once a
 * millisecond, however many sleeps are due.
 *
 * Locking: heap.lock guards the heap and, in every sleep, index, fired and
 * waker. Wakers are woken and dropped outside the lock (waking takes an
 * executor's lock; dropping may free a task). */

#define NOT_QUEUED SIZE_MAX     /* heap_sleep.index when not in the heap */
#define FIRE_BATCH 64           /* sleeps woken per trip out of the lock */
#define TICK_NS NS_PER_MS       /* deadlines in the same millisecond fire together */

struct heap_sleep {
    struct future base;         /* first member: a struct future * points here */
    uint64_t deadline;          /* when to complete, CLOCK_MONOTONIC ns */
    size_t index;               /* position in heap.items, or NOT_QUEUED (lock) */
    struct waker waker;         /* clone of the latest poll's waker while queued (lock) */
    bool started;               /* the first poll has happened (lock) */
    bool fired;                 /* the deadline passed; the heap let go (lock) */
};

static struct {
    pthread_mutex_t lock;       /* guards everything below but token */
    struct heap_sleep **items;  /* items[0] has the earliest deadline */
    size_t len, cap;
    uint64_t armed;             /* the deadline the timerfd is set for; 0: none */
    int fd;                     /* the shared timerfd; -1 unless TIMER_HEAP */
    uint64_t token;             /* its registration with the reactor (not locked:
                                   written before the reactor knows the fd) */
} heap = { .lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1 };

static void place(size_t i, struct heap_sleep *s)
{
    heap.items[i] = s;
    s->index = i;
}

/* Move items[i] up until its parent is not later. */
static void sift_up(size_t i)
{
    struct heap_sleep *s = heap.items[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (heap.items[parent]->deadline <= s->deadline)
            break;
        place(i, heap.items[parent]);
        i = parent;
    }
    place(i, s);
}

/* Move items[i] down until neither child is earlier. */
static void sift_down(size_t i)
{
    struct heap_sleep *s = heap.items[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= heap.len)
            break;
        if (child + 1 < heap.len && heap.items[child + 1]->deadline < heap.items[child]->deadline)
            child++;
        if (s->deadline <= heap.items[child]->deadline)
            break;
        place(i, heap.items[child]);
        i = child;
    }
    place(i, s);
}

/* 0, or -ENOMEM when the heap cannot grow. */
static int heap_push(struct heap_sleep *s)
{
    if (heap.len == heap.cap) {
        size_t cap = heap.cap ? 2 * heap.cap : 64;
        struct heap_sleep **items = realloc(heap.items, cap * sizeof *items);
        if (items == NULL)
            return -ENOMEM;
        heap.items = items;
        heap.cap = cap;
    }
    place(heap.len++, s);
    sift_up(s->index);
    return 0;
}

static void heap_remove(struct heap_sleep *s)
{
    size_t i = s->index;
    struct heap_sleep *last = heap.items[--heap.len];
    s->index = NOT_QUEUED;
    if (last != s) {            /* fill the hole with the last entry */
        place(i, last);
        sift_up(i);
        sift_down(last->index);
    }
}

/* Make the timerfd fire at the earliest deadline, rounded up to the next
 * TICK_NS: every sleep due within the same tick is then woken by one expiry,
 * at the price of waking up to a tick late (never early). When the earliest
 * sleep was cancelled the timerfd may fire for nothing; that is harmless
 * (fire_expired finds nothing due and arms it again). */
static void arm(void)
{
    if (heap.len == 0)
        return;
    uint64_t first = heap.items[0]->deadline;
    first = (first + TICK_NS - 1) / TICK_NS * TICK_NS;     /* round up */
    if (heap.armed != 0 && heap.armed <= first)
        return;                 /* it fires in time already */
    struct itimerspec when = { .it_value = to_timespec(first) };
    if (timerfd_settime(heap.fd, TFD_TIMER_ABSTIME, &when, NULL) < 0) {
        perror("timer: timerfd_settime");
        abort();                /* only possible if heap.fd is broken */
    }
    heap.armed = first;
}

/* Runs on the reactor thread when the shared timerfd fires. */
static void fire_expired(void)
{
    bool first_batch = true, done = false;
    while (!done) {
        struct waker due[FIRE_BATCH];
        size_t n = 0;
        pthread_mutex_lock(&heap.lock);
        if (heap.fd < 0) {      /* timer_stop() won the race with this event */
            pthread_mutex_unlock(&heap.lock);
            return;
        }
        if (first_batch) {
            /* Drain the timerfd, so its next expiry is a new edge, and
               note that it is no longer armed. */
            uint64_t expirations;
            if (read(heap.fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN) {
                perror("timer: read");
                abort();        /* only possible if heap.fd is broken */
            }
            heap.armed = 0;
            first_batch = false;
        }
        uint64_t now = timer_now_ns();
        while (n < FIRE_BATCH && heap.len > 0 && heap.items[0]->deadline <= now) {
            struct heap_sleep *s = heap.items[0];
            heap_remove(s);
            s->fired = true;
            due[n++] = s->waker;    /* move the clone out: s may be freed once we unlock */
            s->waker = (struct waker){ NULL, NULL };
        }
        if (n < FIRE_BATCH) {   /* nothing more is due: arm for the next one */
            arm();
            done = true;
        }
        pthread_mutex_unlock(&heap.lock);
        for (size_t i = 0; i < n; i++)
            waker_wake(&due[i]);
    }
}

/* The waker the reactor holds for the shared timerfd. It points at no task
 * and counts no references: waking it runs fire_expired() on the spot. */
static struct waker fire_clone(const struct waker *w)
{
    return *w;
}

static void fire_wake_by_ref(const struct waker *w)
{
    (void)w;
    fire_expired();
}

static void fire_wake(struct waker *w)
{
    fire_wake_by_ref(w);
}

static void fire_drop(struct waker *w)
{
    (void)w;
}

static const struct waker_vtable fire_vtable = {
    .clone = fire_clone,
    .wake = fire_wake,
    .wake_by_ref = fire_wake_by_ref,
    .drop = fire_drop,
};

static enum poll_status heap_sleep_poll(struct future *self, struct waker *waker, void *output)
{
    struct heap_sleep *s = (struct heap_sleep *)self;
    struct waker old = { NULL, NULL };
    int err = 0;

    pthread_mutex_lock(&heap.lock);
    if (!s->started) {
        s->started = true;
        if (s->deadline <= timer_now_ns()) {    /* due already */
            s->fired = true;
        } else if ((err = heap_push(s)) == 0) {
            s->waker = waker_clone(waker);
            arm();
        }
    } else if (!s->fired && !waker_will_wake(&s->waker, waker)) {
        old = s->waker;         /* polled by a different task: wake that one now */
        s->waker = waker_clone(waker);
    }
    bool ready = s->fired || err < 0;
    pthread_mutex_unlock(&heap.lock);

    if (old.vtable != NULL)
        waker_drop(&old);
    if (!ready)
        return POLL_PENDING;
    if (err < 0)
        report("cannot queue a timer", -err);
    return finish(output, err);
}

static void heap_sleep_drop(struct future *self)
{
    struct heap_sleep *s = (struct heap_sleep *)self;
    pthread_mutex_lock(&heap.lock);
    if (s->index != NOT_QUEUED)     /* a pending sleep is cancelled */
        heap_remove(s);
    struct waker old = s->waker;
    s->waker = (struct waker){ NULL, NULL };
    pthread_mutex_unlock(&heap.lock);
    if (old.vtable != NULL)
        waker_drop(&old);
    free(s);
}

static struct future *heap_sleep(uint64_t deadline)
{
    struct heap_sleep *s = xmalloc(sizeof *s);
    *s = (struct heap_sleep){ .base = { heap_sleep_poll, heap_sleep_drop },
                              .deadline = deadline, .index = NOT_QUEUED };
    return &s->base;
}

/* ===== The interface ===== */

int timer_start(enum timer_backend which)
{
    assert(heap.fd < 0 && "timer_start() called twice");
    backend = which;
    if (which == TIMER_FD)
        return 0;
    heap.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (heap.fd < 0)
        return -errno;
    struct waker fire = { .vtable = &fire_vtable, .data = NULL };
    int err = reactor_register(heap.fd, EPOLLIN, &fire, &heap.token);
    if (err < 0) {
        close(heap.fd);
        heap.fd = -1;
    }
    return err;
}

void timer_stop(void)
{
    if (heap.fd < 0)
        return;
    /* After this no new event reaches fire_expired(); one already on its
       way may still run, and finds heap.fd closed under the lock. */
    reactor_deregister(heap.fd, heap.token);
    pthread_mutex_lock(&heap.lock);
    assert(heap.len == 0 && "timer_stop() with sleeps still pending");
    close(heap.fd);
    heap.fd = -1;
    free(heap.items);
    heap.items = NULL;
    heap.cap = 0;
    heap.armed = 0;
    pthread_mutex_unlock(&heap.lock);
}

const char *timer_backend_name(void)
{
    return backend == TIMER_FD ? "timerfd" : "heap";
}

struct future *sleep_until(uint64_t deadline_ns)
{
    return backend == TIMER_FD ? fd_sleep(deadline_ns) : heap_sleep(deadline_ns);
}

struct future *sleep_ms(unsigned ms)
{
    return sleep_until(timer_now_ns() + ms * NS_PER_MS);
}
