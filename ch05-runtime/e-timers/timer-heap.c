/* timer-heap.c: the second backend of timer.h, one heap of deadlines and
 * one timerfd for all sleeps. Introduced in ch05-runtime step e.
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

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "../../common/alloc.h"
#include "../../common/clock.h"
#include "../../common/errors.h"
#include "../../common/trace.h"
#include "reactor.h"
#include "timer-backend.h"

#define NOT_QUEUED SIZE_MAX /* heap_sleep.index when not in the heap */
#define FIRE_BATCH 64       /* sleeps woken per trip out of the lock */
#ifdef BUG_TICK_1NS         /* exercise 2 (README.md): no coalescing */
#define TICK_NS 1
#else
#define TICK_NS NS_PER_MS /* deadlines in the same millisecond fire together */
#endif

struct heap_sleep {
    struct future base; /* first member: a struct future * points here */
    uint64_t deadline;  /* when to complete, CLOCK_MONOTONIC ns */
    size_t index;       /* position in heap.items, or NOT_QUEUED (lock) */
    struct waker waker; /* clone of the latest poll's waker while queued (lock) */
    bool started;       /* the first poll has happened (lock) */
    bool fired;         /* the deadline passed; the heap let go (lock) */
};

static struct {
    pthread_mutex_t lock;      /* guards everything below but token */
    struct heap_sleep **items; /* items[0] has the earliest deadline */
    size_t len, cap;
    uint64_t armed; /* the deadline the timerfd is set for; 0: none */
    int fd;         /* the shared timerfd; -1 unless TIMER_HEAP */
    uint64_t token; /* its registration with the reactor (not locked:
                       written before the reactor knows the fd) */
} heap = {.lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1};

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
    if (last != s) { /* fill the hole with the last entry */
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
    first = (first + TICK_NS - 1) / TICK_NS * TICK_NS; /* round up */
    if (heap.armed != 0 && heap.armed <= first)
        return; /* it fires in time already */
    struct itimerspec when = {.it_value = timer_timespec(first)};
    if (timerfd_settime(heap.fd, TFD_TIMER_ABSTIME, &when, NULL) < 0)
        die("timerfd_settime: %s", strerror(errno)); /* only if heap.fd is broken */
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
        if (heap.fd < 0) { /* timer_stop() won the race with this event */
            pthread_mutex_unlock(&heap.lock);
            return;
        }
        if (first_batch) {
            /* Drain the timerfd, so its next expiry is a new edge, and
               note that it is no longer armed. */
            uint64_t expirations;
            if (read(heap.fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
                die("reading the timerfd: %s", strerror(errno)); /* only if it is broken */
            heap.armed = 0;
            first_batch = false;
        }
        /* LESSON heap-expiry: Take every sleep now due off the heap (up to FIRE_BATCH).
         * hint: While the earliest (heap.items[0]) is due: heap_remove it, mark it
         *   fired, and move its waker into due[n++] (it may be freed once unlocked).
         * stub:
         *   lesson_missing("heap-expiry"); */
        uint64_t now = now_ns();
        while (n < FIRE_BATCH && heap.len > 0 && heap.items[0]->deadline <= now) {
            struct heap_sleep *s = heap.items[0];
            heap_remove(s);
            s->fired = true;
            due[n++] = s->waker; /* move the clone out: s may be freed once we unlock */
            s->waker = (struct waker){NULL, NULL};
        }
        /* END LESSON heap-expiry */
        if (n < FIRE_BATCH) { /* nothing more is due: arm for the next one */
            arm();
            done = true;
        }
        pthread_mutex_unlock(&heap.lock);
        if (n > 0)
            trace_timer("heap: %zu due", n);
        for (size_t i = 0; i < n; i++)
            waker_wake(&due[i]);
    }
}

/* The waker the reactor holds for the shared timerfd. It points at no task
 * and counts no references: waking it runs fire_expired() on the spot. */
static const struct waker_vtable fire_vtable;

static struct waker fire_clone(void *data)
{
    return (struct waker){data, &fire_vtable};
}

static void fire_wake_by_ref(void *data)
{
    (void) data;
    fire_expired();
}

static void fire_wake(void *data)
{
    fire_wake_by_ref(data);
}

static void fire_drop(void *data)
{
    (void) data;
}

static const struct waker_vtable fire_vtable = {
    .clone = fire_clone,
    .wake = fire_wake,
    .wake_by_ref = fire_wake_by_ref,
    .drop = fire_drop,
};

static enum poll_status heap_sleep_poll(struct future *self, const struct waker *waker,
                                        void *output)
{
    struct heap_sleep *s = (struct heap_sleep *) self;
    struct waker old = {NULL, NULL};
    int err = 0;

    pthread_mutex_lock(&heap.lock);
    if (!s->started) {
        s->started = true;
        if (s->deadline <= now_ns()) { /* due already */
            s->fired = true;
        } else if ((err = heap_push(s)) == 0) {
            s->waker = waker_clone(waker);
            arm();
        }
    } else if (!s->fired && !waker_will_wake(&s->waker, waker)) {
        old = s->waker; /* polled by a different task: wake that one now */
        s->waker = waker_clone(waker);
    }
    bool ready = s->fired || err < 0;
    pthread_mutex_unlock(&heap.lock);

    if (old.vtable != NULL)
        waker_drop(&old);
    if (!ready)
        return POLL_PENDING;
    if (err < 0)
        timer_report("cannot queue a timer", -err);
    return timer_finish(output, err);
}

static void heap_sleep_drop(struct future *self)
{
    struct heap_sleep *s = (struct heap_sleep *) self;
    pthread_mutex_lock(&heap.lock);
    if (s->index != NOT_QUEUED) /* a pending sleep is cancelled */
        heap_remove(s);
    struct waker old = s->waker;
    s->waker = (struct waker){NULL, NULL};
    pthread_mutex_unlock(&heap.lock);
    if (old.vtable != NULL)
        waker_drop(&old);
    free(s);
}

struct future *timer_heap_sleep(uint64_t deadline)
{
    struct heap_sleep *s = xmalloc(sizeof *s);
    *s = (struct heap_sleep){
        .base = {heap_sleep_poll, heap_sleep_drop}, .deadline = deadline, .index = NOT_QUEUED};
    return &s->base;
}

/* ===== Starting and stopping ===== */

int timer_heap_start(void)
{
    assert(heap.fd < 0 && "timer_heap_start() called twice");
    heap.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (heap.fd < 0)
        return -errno;
    struct waker fire = {.data = NULL, .vtable = &fire_vtable};
    int err = reactor_register(heap.fd, EPOLLIN, &fire, &heap.token);
    if (err < 0) {
        close(heap.fd);
        heap.fd = -1;
    }
    return err;
}

void timer_heap_stop(void)
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
