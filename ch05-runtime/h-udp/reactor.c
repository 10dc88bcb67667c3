/* reactor.c: the registry (chapter 2's struct poll), a table from token to
 * waker, and the thread that sleeps in the registry and wakes the tasks the
 * events belong to. Introduced in ch05-runtime step b; step c gives the
 * waiting a thread of its own, and the table a lock and generations. */
#include "reactor.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../../common/clock.h"
#include "../../common/errors.h"
#include "../../common/trace.h"

/* ===== Data =====
 *
 * The table is an array of slots reused through a free list. A token is
 * (generation << 32) | index: the generation of a slot goes up each time it
 * is freed, so a token from an earlier use of the slot no longer matches.
 * Step b needed no generation, because nothing could deregister between
 * poll_wait and the wakes. Here other threads register and deregister while
 * the reactor thread works through a batch of events, so an event for a
 * registration that is gone (its slot perhaps taken by a newcomer) may still
 * be in the batch. */

#define NOTIFY_TOKEN UINT64_MAX /* the eventfd: stop, or look at the deadlines again */
#define NO_SLOT UINT32_MAX      /* end of the free list */
#define NO_DEADLINE UINT64_MAX
#define MAX_EVENTS 64 /* events taken from the kernel per poll_wait */

struct slot {
    uint32_t generation;  /* part of the token; bumped on each free */
    bool in_use;          /* a registration owns this slot */
    uint32_t next_free;   /* free list link when !in_use */
    uint64_t deadline_ns; /* when to wake the waker anyway; NO_DEADLINE: never */
    struct waker waker;   /* who to wake: a clone the slot owns */
    int fd;               /* the registered fd, for a trace */
};

static struct {
    struct poll registry;      /* chapter 2's event queue; fd -1 when stopped */
    struct poll_events events; /* the reactor thread's alone */
    int notify_fd;             /* eventfd written to stop or to look again */
    pthread_t thread;
    pthread_mutex_t lock; /* guards everything below */
    bool stopping;        /* reactor_stop() was called: the thread returns */
    struct slot *slots;
    uint32_t capacity;
    uint32_t free_head;     /* first free slot, or NO_SLOT */
    uint64_t next_deadline; /* no deadline in the table is earlier than this */
} reactor = {
    .registry = {.registry = {.epfd = -1}}, .notify_fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER};

static uint64_t make_token(uint32_t index, uint32_t generation)
{
    return (uint64_t) generation << 32 | index;
}

/* The slot a token names, or NULL if the token is stale. Needs the lock. */
static struct slot *lookup(uint64_t token)
{
    uint32_t index = (uint32_t) token;
    if (index >= reactor.capacity)
        return NULL;
    struct slot *s = &reactor.slots[index];
#ifdef BUG_NO_GENERATION /* exercise 1 of c-reactor-thread/README.md */
    if (!s->in_use)
        return NULL;
#else
    if (!s->in_use || s->generation != (uint32_t) (token >> 32))
        return NULL;
#endif
    return s;
}

/* Make the reactor thread leave poll_wait and look at the table again. */
static void notify(void)
{
    uint64_t one = 1;
    while (write(reactor.notify_fd, &one, sizeof one) < 0 && errno == EINTR)
        ;
}

/* ===== The thread ===== */

/* How long poll_wait may sleep: until the earliest deadline, in whole
 * milliseconds rounded up, or POLL_FOREVER when there is none. */
static int timeout_ms(uint64_t deadline_ns)
{
    if (deadline_ns == NO_DEADLINE)
        return POLL_FOREVER;
    uint64_t now = now_ns();
    if (deadline_ns <= now)
        return 0;
    uint64_t ms = (deadline_ns - now + 999999) / 1000000;
    return ms > INT_MAX ? INT_MAX : (int) ms;
}

/* Find one registration whose deadline has passed, clear its deadline (it
 * fires once) and clone its waker into *out; or, when none is left, note the
 * next deadline and return false. A scan of the whole table: it runs only
 * when the earliest deadline has come. Needs the lock. */
static bool take_expired(uint64_t now, struct waker *out)
{
    uint64_t next = NO_DEADLINE;

    if (now < reactor.next_deadline)
        return false;
    for (uint32_t i = 0; i < reactor.capacity; i++) {
        struct slot *s = &reactor.slots[i];
        if (!s->in_use || s->deadline_ns == NO_DEADLINE)
            continue;
        if (s->deadline_ns <= now) {
            s->deadline_ns = NO_DEADLINE;
            trace_timer("deadline of fd %d", s->fd);
            *out = waker_clone(&s->waker);
            return true;
        }
        if (s->deadline_ns < next)
            next = s->deadline_ns;
    }
    reactor.next_deadline = next;
    return false;
}

/* Wake one task for the event that carried `token`, unless the token is
 * stale. The waker is cloned under the lock and woken outside it, so a slow
 * wake never holds up registrations from other threads, and a wake that
 * drops the last reference to a task never runs under the lock. */
static void wake_token(uint64_t token)
{
    /* LESSON wake-dispatch: Wake the task registered under token, unless it is stale.
     * hint: Under reactor.lock, lookup(token) and waker_clone its waker;
     *   unlock, then waker_wake the clone (a NULL slot: deregistered meanwhile).
     * stub:
     *   (void) token, (void) lookup;
     *   lesson_missing("wake-dispatch"); */
    struct waker waker = {NULL, NULL};
    pthread_mutex_lock(&reactor.lock);
    struct slot *s = lookup(token);
    if (s != NULL)
        waker = waker_clone(&s->waker);
#ifdef BUG_WAKE_UNDER_LOCK /* exercise 2 of c-reactor-thread/README.md */
    if (waker.vtable != NULL)
        waker_wake(&waker);
#endif
    pthread_mutex_unlock(&reactor.lock);
#ifndef BUG_WAKE_UNDER_LOCK
    if (waker.vtable != NULL) /* NULL: deregistered while in flight */
        waker_wake(&waker);
#endif
    /* END LESSON wake-dispatch */
}

/* Sleep until an event or the earliest deadline, wake the tasks concerned,
 * and again, until reactor_stop(). */
static void *reactor_main(void *unused)
{
    (void) unused;
    trace_thread("reactor");
    for (;;) {
        pthread_mutex_lock(&reactor.lock);
        bool stopping = reactor.stopping;
        uint64_t deadline = reactor.next_deadline;
        pthread_mutex_unlock(&reactor.lock);
        if (stopping)
            return NULL;
        trace_park_begin("epoll_wait");
        int n = poll_wait(&reactor.registry, &reactor.events, timeout_ms(deadline));
        trace_park_end();
        if (n == -EINTR) /* a signal is not an event: look again */
            continue;
        if (n < 0)
            die("reactor: epoll_wait: %s", strerror(-n)); /* only if the registry is broken */
        for (int i = 0; i < n; i++) {
            uint64_t token = poll_event_token(&reactor.events.items[i]);
            if (token != NOTIFY_TOKEN) {
                wake_token(token);
                continue;
            }
            uint64_t count;
            while (read(reactor.notify_fd, &count, sizeof count) < 0 && errno == EINTR)
                ; /* reset the eventfd; the loop's top reads the news */
        }
        struct waker waker;
        for (;;) {
            pthread_mutex_lock(&reactor.lock);
            bool expired = take_expired(now_ns(), &waker);
            pthread_mutex_unlock(&reactor.lock);
            if (!expired)
                break;
            waker_wake(&waker);
        }
    }
}

/* ===== Registrations ===== */

/* Take a free slot, growing the table when there is none. Needs the lock.
 * Returns its index, or NO_SLOT when out of memory: the runtime reports
 * -ENOMEM to the future instead of stopping the program, so this calls
 * realloc itself. */
static uint32_t take_slot(void)
{
    if (reactor.free_head == NO_SLOT) {
        uint32_t old = reactor.capacity, grown = old ? 2 * old : 64;
        if (grown >= NO_SLOT)
            return NO_SLOT;
        struct slot *slots = realloc(reactor.slots, grown * sizeof *slots);
        if (slots == NULL)
            return NO_SLOT;
        for (uint32_t i = old; i < grown; i++)
            slots[i] = (struct slot){.next_free = i + 1 < grown ? i + 1 : NO_SLOT};
        reactor.slots = slots;
        reactor.capacity = grown;
        reactor.free_head = old;
    }
    uint32_t index = reactor.free_head;
    reactor.free_head = reactor.slots[index].next_free;
    reactor.slots[index].in_use = true;
    reactor.slots[index].deadline_ns = NO_DEADLINE;
    return index;
}

/* Give a slot back and make every token naming it stale. Needs the lock. */
static void free_slot(uint32_t index)
{
    struct slot *s = &reactor.slots[index];
    s->in_use = false;
    s->generation++;
    s->next_free = reactor.free_head;
    reactor.free_head = index;
}

int reactor_register(int fd, uint32_t events, const struct waker *waker, uint64_t *token)
{
    pthread_mutex_lock(&reactor.lock);
    uint32_t index = take_slot();
    if (index == NO_SLOT) {
        pthread_mutex_unlock(&reactor.lock);
        return -ENOMEM;
    }
    struct slot *s = &reactor.slots[index];
    s->waker = waker_clone(waker);
    s->fd = fd;
    uint64_t t = make_token(index, s->generation);
    /* Register under the lock: an event may fire at once, and the reactor
       thread must then find the slot filled in. */
    int err = poll_register(poll_registry(&reactor.registry), fd, t, events | EPOLLET);
    if (err < 0) {
        waker_drop(&s->waker);
        free_slot(index);
        pthread_mutex_unlock(&reactor.lock);
        return err;
    }
    trace_register("fd %d%s%s", fd, events & EPOLLIN ? " readable" : "",
                   events & EPOLLOUT ? " writable" : "");
    pthread_mutex_unlock(&reactor.lock);
    *token = t;
    return 0;
}

void reactor_set_waker(uint64_t token, const struct waker *waker)
{
    struct waker old = {NULL, NULL};
    pthread_mutex_lock(&reactor.lock);
    struct slot *s = lookup(token);
    assert(s != NULL && "reactor_set_waker() with a dead token");
    if (!waker_will_wake(&s->waker, waker)) {
        old = s->waker;
        s->waker = waker_clone(waker);
    }
    pthread_mutex_unlock(&reactor.lock);
    if (old.vtable != NULL) /* dropping may free a task: not under our lock */
        waker_drop(&old);
}

void reactor_set_deadline(uint64_t token, uint64_t deadline_ns)
{
    pthread_mutex_lock(&reactor.lock);
    struct slot *s = lookup(token);
    assert(s != NULL && "reactor_set_deadline() with a dead token");
    s->deadline_ns = deadline_ns;
    bool sooner = deadline_ns < reactor.next_deadline;
    if (sooner)
        reactor.next_deadline = deadline_ns;
    pthread_mutex_unlock(&reactor.lock);
    if (sooner) /* the thread may be asleep with a longer timeout */
        notify();
}

int reactor_deregister(int fd, uint64_t token)
{
    int err = poll_deregister(poll_registry(&reactor.registry), fd);
    pthread_mutex_lock(&reactor.lock);
    struct slot *s = lookup(token);
    assert(s != NULL && "reactor_deregister() with a dead token");
    struct waker old = s->waker;
    free_slot((uint32_t) token);
    pthread_mutex_unlock(&reactor.lock);
    waker_drop(&old);
    return err;
}

/* ===== Starting and stopping ===== */

int reactor_start(void)
{
    assert(reactor.notify_fd == -1 && "reactor_start() called twice");
    int err = poll_open(&reactor.registry);
    if (err < 0)
        return err;
    if ((err = poll_events_init(&reactor.events, MAX_EVENTS)) < 0)
        goto fail;
    reactor.notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (reactor.notify_fd < 0) {
        err = -errno;
        goto fail;
    }
    err = poll_register(poll_registry(&reactor.registry), reactor.notify_fd, NOTIFY_TOKEN, EPOLLIN);
    if (err < 0)
        goto fail;
    reactor.stopping = false;
    reactor.slots = NULL;
    reactor.capacity = 0;
    reactor.free_head = NO_SLOT;
    reactor.next_deadline = NO_DEADLINE;
    err = -pthread_create(&reactor.thread, NULL, reactor_main, NULL);
    if (err == 0)
        return 0;
fail:
    if (reactor.notify_fd >= 0)
        close(reactor.notify_fd);
    reactor.notify_fd = -1;
    poll_events_free(&reactor.events);
    poll_close(&reactor.registry);
    return err;
}

void reactor_stop(void)
{
    assert(reactor.notify_fd >= 0 && "reactor_stop() without reactor_start()");
    pthread_mutex_lock(&reactor.lock);
    reactor.stopping = true;
    pthread_mutex_unlock(&reactor.lock);
    notify();
    check_pthread(pthread_join(reactor.thread, NULL), "pthread_join");
    for (uint32_t i = 0; i < reactor.capacity; i++)
        if (reactor.slots[i].in_use)
            waker_drop(&reactor.slots[i].waker);
    free(reactor.slots);
    reactor.slots = NULL;
    reactor.capacity = 0;
    close(reactor.notify_fd);
    reactor.notify_fd = -1;
    poll_events_free(&reactor.events);
    poll_close(&reactor.registry);
}
