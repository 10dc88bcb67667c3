/* reactor.c: the registry (chapter 2's struct poll), a table from token to
 * waker, and reactor_wait(), which sleeps in the registry and wakes the tasks
 * the events belong to. Introduced in ch05-runtime step b. */
#include "reactor.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../../common/clock.h"
#include "../../common/trace.h"

/* ===== Data =====
 *
 * The table is an array of slots reused through a free list; the token of a
 * registration is the index of its slot, and the registry hands it back
 * with every event for the fd. */

#define NOTIFY_TOKEN UINT64_MAX /* the eventfd that reactor_notify() writes */
#define NO_SLOT UINT32_MAX      /* end of the free list */
#define NO_DEADLINE UINT64_MAX
#define MAX_EVENTS 64 /* events taken from the kernel per poll_wait */

struct slot {
    bool in_use;          /* a registration owns this slot */
    uint32_t next_free;   /* free list link when !in_use */
    uint64_t deadline_ns; /* when to wake the waker anyway; NO_DEADLINE: never */
    struct waker waker;   /* who to wake: a clone the slot owns */
    int fd;               /* the registered fd, for a trace */
};

static struct {
    struct poll registry; /* chapter 2's event queue; fd -1 when closed */
    struct poll_events events;
    int notify_fd; /* eventfd written by reactor_notify() */
    struct slot *slots;
    uint32_t capacity;
    uint32_t free_head;     /* first free slot, or NO_SLOT */
    uint64_t next_deadline; /* no deadline in the table is earlier than this */
} reactor = {.registry = {.registry = {.epfd = -1}}, .notify_fd = -1};

/* The slot of a live registration. */
static struct slot *slot_of(uint64_t token)
{
    assert(token < reactor.capacity && reactor.slots[token].in_use && "a dead token");
    return &reactor.slots[token];
}

/* ===== Waiting ===== */

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

/* Wake every registration whose deadline has passed, once, and find the
 * next deadline. A scan of the whole table: it runs only when the earliest
 * deadline has come, which is rare (see the README's limits). */
static int wake_expired(void)
{
    uint64_t now = now_ns(), next = NO_DEADLINE;
    int woken = 0;

    if (now < reactor.next_deadline)
        return 0;
    for (uint32_t i = 0; i < reactor.capacity; i++) {
        struct slot *s = &reactor.slots[i];
        if (!s->in_use || s->deadline_ns == NO_DEADLINE)
            continue;
        if (s->deadline_ns <= now) {
            s->deadline_ns = NO_DEADLINE; /* fires once */
            trace_timer("deadline of fd %d", s->fd);
            waker_wake_by_ref(&s->waker);
            woken++;
        } else if (s->deadline_ns < next) {
            next = s->deadline_ns;
        }
    }
    reactor.next_deadline = next;
    return woken;
}

int reactor_wait(void)
{
    int n;
    trace_park_begin("epoll_wait");
    while ((n = poll_wait(&reactor.registry, &reactor.events, timeout_ms(reactor.next_deadline))) ==
           -EINTR)
        ; /* a signal is not an event: sleep again, for what is left */
    trace_park_end();
    if (n < 0)
        return n;

    /* Waking a task only puts it on its ready queue: no task runs before
       this loop ends, so no registration can go away under it, and every
       token in the batch names a live slot. */
    int woken = 0;
    for (int i = 0; i < n; i++) {
        uint64_t token = poll_event_token(&reactor.events.items[i]);
        if (token == NOTIFY_TOKEN) {
            uint64_t count;
            while (read(reactor.notify_fd, &count, sizeof count) < 0 && errno == EINTR)
                ; /* reset the eventfd; EAGAIN means another read got it */
            continue;
        }
        waker_wake_by_ref(&slot_of(token)->waker);
        woken++;
    }
    return woken + wake_expired();
}

void reactor_notify(void)
{
    uint64_t one = 1;
    while (write(reactor.notify_fd, &one, sizeof one) < 0 && errno == EINTR)
        ;
}

/* ===== Registrations ===== */

/* Take a free slot, growing the table when there is none. Returns its
 * index, or NO_SLOT when out of memory: the runtime reports -ENOMEM to the
 * future instead of stopping the program, so this calls realloc itself. */
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

/* Give a slot back. */
static void free_slot(uint32_t index)
{
    struct slot *s = &reactor.slots[index];
    s->in_use = false;
    s->next_free = reactor.free_head;
    reactor.free_head = index;
}

int reactor_register(int fd, uint32_t events, const struct waker *waker, uint64_t *token)
{
    uint32_t index = take_slot();
    if (index == NO_SLOT)
        return -ENOMEM;
    struct slot *s = &reactor.slots[index];
    s->waker = waker_clone(waker);
    s->fd = fd;
    int err = poll_register(poll_registry(&reactor.registry), fd, index, events | EPOLLET);
    if (err < 0) {
        waker_drop(&s->waker);
        free_slot(index);
        return err;
    }
    trace_register("fd %d%s%s", fd, events & EPOLLIN ? " readable" : "",
                   events & EPOLLOUT ? " writable" : "");
    *token = index;
    return 0;
}

void reactor_set_waker(uint64_t token, const struct waker *waker)
{
    struct slot *s = slot_of(token);
    if (!waker_will_wake(&s->waker, waker)) {
        waker_drop(&s->waker);
        s->waker = waker_clone(waker);
    }
}

void reactor_set_deadline(uint64_t token, uint64_t deadline_ns)
{
    slot_of(token)->deadline_ns = deadline_ns;
    if (deadline_ns < reactor.next_deadline)
        reactor.next_deadline = deadline_ns;
}

int reactor_deregister(int fd, uint64_t token)
{
    int err = poll_deregister(poll_registry(&reactor.registry), fd);
    struct slot *s = slot_of(token);
    waker_drop(&s->waker);
    free_slot((uint32_t) token);
    return err;
}

/* ===== Opening and closing ===== */

int reactor_open(void)
{
    assert(reactor.notify_fd == -1 && "reactor_open() called twice");
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
    reactor.slots = NULL;
    reactor.capacity = 0;
    reactor.free_head = NO_SLOT;
    reactor.next_deadline = NO_DEADLINE;
    return 0;
fail:
    if (reactor.notify_fd >= 0)
        close(reactor.notify_fd);
    reactor.notify_fd = -1;
    poll_events_free(&reactor.events);
    poll_close(&reactor.registry);
    return err;
}

void reactor_close(void)
{
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
