/* reactor.c: the epoll instance, a table from token to waker, and the thread
 * that waits for events and wakes the tasks they belong to.
 * Introduced in ch05-runtime step b. */
#include "reactor.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* ===== Data =====
 *
 * The table is an array of slots reused through a free list. A token is
 * (generation << 32) | index: the generation of a slot goes up each time it
 * is freed, so a token from an earlier use of the slot no longer matches. */

#define STOP_TOKEN UINT64_MAX   /* the eventfd that tells the thread to stop */
#define NO_SLOT UINT32_MAX      /* end of the free list */
#define MAX_EVENTS 64           /* events taken from the kernel per epoll_wait */

struct slot {
    uint32_t generation;        /* part of the token; bumped on each free */
    bool in_use;                /* a registration owns this slot */
    uint32_t next_free;         /* free list link when !in_use */
    struct waker waker;         /* who to wake; vtable NULL when none */
};

static struct {
    int epfd;                   /* the epoll instance; -1 when stopped */
    int stop_fd;                /* eventfd written by reactor_stop() */
    pthread_t thread;
    pthread_mutex_t lock;       /* guards the table below */
    struct slot *slots;
    uint32_t capacity;
    uint32_t free_head;         /* first free slot, or NO_SLOT */
} reactor = { .epfd = -1, .stop_fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER };

static uint64_t make_token(uint32_t index, uint32_t generation)
{
    return (uint64_t)generation << 32 | index;
}

/* The slot a token names, or NULL if the token is stale. Needs the lock. */
static struct slot *lookup(uint64_t token)
{
    uint32_t index = (uint32_t)token;
    if (index >= reactor.capacity)
        return NULL;
    struct slot *s = &reactor.slots[index];
    if (!s->in_use || s->generation != (uint32_t)(token >> 32))
        return NULL;
    return s;
}

/* ===== The thread ===== */

/* Wait for events forever; for each one, wake the task registered for it.
 * The waker is cloned under the lock and woken outside it, so a slow wake
 * never holds up registrations from other threads. */
static void *reactor_main(void *unused)
{
    (void)unused;
    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(reactor.epfd, events, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR)     /* a signal: nothing happened, wait again */
                continue;
            perror("reactor: epoll_wait");
            abort();                /* only possible if epfd is broken */
        }
        for (int i = 0; i < n; i++) {
            uint64_t token = events[i].data.u64;
            if (token == STOP_TOKEN)
                return NULL;
            struct waker waker = { NULL, NULL };
            pthread_mutex_lock(&reactor.lock);
            struct slot *s = lookup(token);
            if (s != NULL && s->waker.vtable != NULL)
                waker = waker_clone(&s->waker);
            pthread_mutex_unlock(&reactor.lock);
            if (waker.vtable != NULL)   /* NULL: deregistered while in flight */
                waker_wake(&waker);
        }
    }
}

int reactor_start(void)
{
    assert(reactor.epfd == -1 && "reactor_start() called twice");
    reactor.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (reactor.epfd < 0)
        return -errno;
    reactor.stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    int err = 0;
    if (reactor.stop_fd < 0) {
        err = -errno;
        goto fail;
    }
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = STOP_TOKEN };
    if (epoll_ctl(reactor.epfd, EPOLL_CTL_ADD, reactor.stop_fd, &ev) < 0) {
        err = -errno;
        goto fail;
    }
    reactor.slots = NULL;
    reactor.capacity = 0;
    reactor.free_head = NO_SLOT;
    err = -pthread_create(&reactor.thread, NULL, reactor_main, NULL);
    if (err == 0)
        return 0;
fail:
    if (reactor.stop_fd >= 0)
        close(reactor.stop_fd);
    close(reactor.epfd);
    reactor.stop_fd = reactor.epfd = -1;
    return err;
}

void reactor_stop(void)
{
    assert(reactor.epfd >= 0 && "reactor_stop() without reactor_start()");
    uint64_t one = 1;
    while (write(reactor.stop_fd, &one, sizeof one) < 0 && errno == EINTR)
        ;
    pthread_join(reactor.thread, NULL);
    for (uint32_t i = 0; i < reactor.capacity; i++)
        if (reactor.slots[i].in_use && reactor.slots[i].waker.vtable != NULL)
            waker_drop(&reactor.slots[i].waker);
    free(reactor.slots);
    reactor.slots = NULL;
    reactor.capacity = 0;
    close(reactor.stop_fd);
    close(reactor.epfd);
    reactor.stop_fd = reactor.epfd = -1;
}

/* ===== Registrations ===== */

/* Take a free slot, growing the table when there is none. Needs the lock.
 * Returns its index, or NO_SLOT when out of memory. */
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
            slots[i] = (struct slot){ .generation = 0, .in_use = false,
                                      .next_free = i + 1 < grown ? i + 1 : NO_SLOT };
        reactor.slots = slots;
        reactor.capacity = grown;
        reactor.free_head = old;
    }
    uint32_t index = reactor.free_head;
    reactor.free_head = reactor.slots[index].next_free;
    reactor.slots[index].in_use = true;
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
    uint64_t t = make_token(index, s->generation);
    /* Add to epoll under the lock: an event may fire at once, and the
       reactor must then find the slot filled in. */
    struct epoll_event ev = { .events = events | EPOLLET, .data.u64 = t };
    if (epoll_ctl(reactor.epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int err = -errno;
        waker_drop(&s->waker);
        free_slot(index);
        pthread_mutex_unlock(&reactor.lock);
        return err;
    }
    pthread_mutex_unlock(&reactor.lock);
    *token = t;
    return 0;
}

void reactor_set_waker(uint64_t token, const struct waker *waker)
{
    struct waker old = { NULL, NULL };
    pthread_mutex_lock(&reactor.lock);
    struct slot *s = lookup(token);
    assert(s != NULL && "reactor_set_waker() with a dead token");
    if (s->waker.vtable == NULL || !waker_will_wake(&s->waker, waker)) {
        old = s->waker;
        s->waker = waker_clone(waker);
    }
    pthread_mutex_unlock(&reactor.lock);
    if (old.vtable != NULL)         /* dropping may free a task: not under our lock */
        waker_drop(&old);
}

int reactor_deregister(int fd, uint64_t token)
{
    int err = 0;
    if (epoll_ctl(reactor.epfd, EPOLL_CTL_DEL, fd, NULL) < 0)
        err = -errno;
    pthread_mutex_lock(&reactor.lock);
    struct slot *s = lookup(token);
    assert(s != NULL && "reactor_deregister() with a dead token");
    struct waker old = s->waker;
    s->waker = (struct waker){ NULL, NULL };
    free_slot((uint32_t)token);
    pthread_mutex_unlock(&reactor.lock);
    if (old.vtable != NULL)
        waker_drop(&old);
    return err;
}
