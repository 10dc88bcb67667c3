/* rt.c: the single-threaded runtime of ch05-runtime step i: intrusive
 * registration lists, a timer list that drives the registry's timeout
 * (chapter 2's event queue, poll.h), the sleep and read leaf futures, and
 * rt_block_on. */
#include "rt.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/clock.h"
#include "../../common/errors.h"
#include "../../common/trace.h"
#include "poll.h"

#define MAX_EVENTS 64 /* events taken from the kernel per poll_wait */

bool rt_forget_to_unlink = false;

/* ===== Data =====
 *
 * Both lists hold nodes that live in other people's frames. The reactor
 * never allocates a node and never frees one; it only links and unlinks. */
static struct {
    struct poll registry;      /* chapter 2's event queue; fd -1 when not started */
    struct poll_events events; /* what poll_wait reports, MAX_EVENTS at a time */
    struct rt_link timers;     /* sentinel: sleeps, earliest deadline first */
    struct rt_link fds;        /* sentinel: reads waiting for readiness */
    size_t linked;             /* nodes on either list */
    uint64_t start_ns;         /* for rt_elapsed_ms() */
    bool in_block_on;
} rt = {.registry = {.registry = {.epfd = -1}}};

/* ===== Intrusive lists ===== */

static void list_init(struct rt_link *head)
{
    head->prev = head->next = head;
}

static bool list_empty(const struct rt_link *head)
{
    return head->next == head;
}

/* Put `node` just before `at` (before the head = at the tail). */
static void list_insert_before(struct rt_link *at, struct rt_link *node)
{
    node->prev = at->prev;
    node->next = at;
    at->prev->next = node;
    at->prev = node;
}

static void list_remove(struct rt_link *node)
{
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->prev = node->next = node;
}

static struct rt_registration *reg_of(struct rt_link *link)
{
    return (struct rt_registration *) ((char *) link - offsetof(struct rt_registration, link));
}

/* ===== Registrations ===== */

static void reg_init(struct rt_registration *reg, int fd)
{
    list_init(&reg->link);
    reg->waker = (struct waker){NULL, NULL};
    reg->linked = false;
    reg->fired = false;
    reg->deadline_ns = 0;
    reg->fd = fd;
}

/* Link a timer, keeping the list sorted by deadline (ties: first come,
 * first served). O(n) per insert: fine for the handful a scope holds; a
 * heap or a timer wheel would be the next step. */
static void link_timer(struct rt_registration *reg)
{
    struct rt_link *at = rt.timers.next;
    while (at != &rt.timers && reg_of(at)->deadline_ns <= reg->deadline_ns)
        at = at->next;
    list_insert_before(at, &reg->link);
    reg->linked = true;
    rt.linked++;
}

/* Register fd with the node's address as its token: the kernel, too, holds
 * a pointer into the frame until the fd is deregistered. 0 or -errno. */
static int link_fd(struct rt_registration *reg)
{
    int err =
        poll_register(poll_registry(&rt.registry), reg->fd, (uint64_t) (uintptr_t) reg, EPOLLIN);
    if (err < 0)
        return err;
    list_insert_before(&rt.fds, &reg->link);
    reg->linked = true;
    rt.linked++;
    trace_register("fd %d readable", reg->fd);
    return 0;
}

/* Take the node off its list (and out of epoll): afterwards nothing in the
 * runtime or the kernel points at it, and its frame may die. */
static void unlink_reg(struct rt_registration *reg)
{
    if (!reg->linked)
        return;
    int err = reg->fd >= 0 ? poll_deregister(poll_registry(&rt.registry), reg->fd) : 0;
    if (err < 0) /* the fd was closed under us */
        die("rt: deregistering fd %d: %s", reg->fd, strerror(-err));
    list_remove(&reg->link);
    reg->linked = false;
    rt.linked--;
}

/* The event happened: mark it and wake whoever waits. Called only from
 * rt_turn(), and waking only sets flags (rule 4 in rt.h). */
static void fire(struct rt_registration *reg)
{
    reg->fired = true;
    if (reg->waker.vtable != NULL)
        waker_wake_by_ref(&reg->waker);
}

/* ===== The reactor: one turn =====
 *
 * Sleep until the earliest timer or an fd event, then fire what happened.
 * Fired timers are unlinked here (they are done); fd nodes stay linked until
 * their leaf has read and unlinks itself. */
static void rt_turn(void)
{
    int timeout_ms = -1;
    if (!list_empty(&rt.timers)) {
        uint64_t deadline = reg_of(rt.timers.next)->deadline_ns, now = now_ns();
        uint64_t ms = deadline <= now ? 0 : (deadline - now + 999999) / 1000000;
        timeout_ms = ms > INT_MAX ? INT_MAX : (int) ms; /* a 49-day sleep wakes early, then again */
    }
    /* Nothing linked and nothing woken: the root returned PENDING without
       arranging a wake-up, and would sleep forever. */
    assert((timeout_ms >= 0 || !list_empty(&rt.fds)) && "nothing can ever wake the root future");

    trace_park_begin("epoll_wait");
    int n = poll_wait(&rt.registry, &rt.events, timeout_ms);
    trace_park_end();
    if (n == -EINTR) /* a signal: nothing happened; the caller loops */
        return;
    if (n < 0)
        die("rt: epoll_wait: %s", strerror(-n)); /* only if the registry is broken */
    for (int i = 0; i < n; i++)
        fire((struct rt_registration *) (uintptr_t) poll_event_token(&rt.events.items[i]));

    uint64_t now = now_ns();
    while (!list_empty(&rt.timers) && reg_of(rt.timers.next)->deadline_ns <= now) {
        struct rt_registration *reg = reg_of(rt.timers.next);
        unlink_reg(reg);
        trace_timer("a sleep expired");
        fire(reg);
    }
}

/* ===== The root task: a waker on rt_block_on's stack ===== */

struct root {
    bool woken;    /* poll the root future at the next chance */
    uint64_t task; /* its number in a trace (common/trace.h), where it is "root" */
};

static const struct waker_vtable root_vtable;

static struct waker root_clone(void *data)
{
    return (struct waker){data, &root_vtable}; /* borrowed: copying is all a clone is */
}

static void root_wake_by_ref(void *data)
{
    struct root *root = data;
    if (!root->woken)
        trace_wake(root->task, "root");
    root->woken = true;
}

static void root_wake(void *data)
{
    root_wake_by_ref(data);
}

static void root_drop(void *data)
{
    (void) data; /* nothing is counted, nothing to give back */
}

static const struct waker_vtable root_vtable = {
    .clone = root_clone,
    .wake = root_wake,
    .wake_by_ref = root_wake_by_ref,
    .drop = root_drop,
};

void rt_block_on(struct future *root_future, void *output)
{
    assert(rt.registry.registry.epfd >= 0 && "rt_block_on() before rt_init()");
    assert(!rt.in_block_on && "rt_block_on() is not reentrant");
    rt.in_block_on = true;
    size_t linked_before = rt.linked;
    struct root root = {.woken = true, .task = trace_enabled() ? trace_next_task_id() : 0};
    struct waker waker = {.data = &root, .vtable = &root_vtable};
    trace_spawn(root.task, "root");
    for (;;) {
        if (root.woken) {
            root.woken = false;
            trace_poll_begin(root.task, "root");
            enum poll_status status = root_future->poll(root_future, &waker, output);
            trace_poll_end(root.task, status == POLL_READY);
            if (status == POLL_READY)
                break;
        } else {
            rt_turn();
        }
    }
    root_future->drop(root_future);
    /* Everything the root linked lives inside it, and it has finished: if a
       node is still linked, some drop forgot to unlink it, and the reactor
       would follow it into a frame that may be gone when we return. */
    assert((rt.linked == linked_before || rt_forget_to_unlink) &&
           "the root future finished with registrations still linked");
    rt.in_block_on = false;
}

/* ===== Starting and stopping ===== */

int rt_init(void)
{
    assert(rt.registry.registry.epfd < 0 && "rt_init() called twice");
    int err = poll_open(&rt.registry);
    if (err < 0)
        return err;
    if ((err = poll_events_init(&rt.events, MAX_EVENTS)) < 0) {
        poll_close(&rt.registry);
        return err;
    }
    list_init(&rt.timers);
    list_init(&rt.fds);
    rt.linked = 0;
    rt.start_ns = now_ns();
    trace_thread("main"); /* the runtime's one thread, in a trace */
    return 0;
}

void rt_shutdown(void)
{
    assert(rt.registry.registry.epfd >= 0);
    assert(rt.linked == 0 && "a future was forgotten while registered");
    poll_events_free(&rt.events);
    poll_close(&rt.registry);
}

size_t rt_registrations(void)
{
    return rt.linked;
}

unsigned rt_elapsed_ms(void)
{
    return (unsigned) ((now_ns() - rt.start_ns) / 1000000);
}

/* ===== Leaf: sleep ===== */

/* Rule 1 of rt.h: a polled future must not move. */
static void check_pinned(const void **pinned_at, const void *self)
{
    if (*pinned_at == NULL)
        *pinned_at = self;
    assert(*pinned_at == self && "a future moved after its first poll");
}

static enum poll_status sleep_poll(struct future *self, const struct waker *waker, void *output)
{
    struct rt_sleep *s = (struct rt_sleep *) self;
    (void) output;
    check_pinned(&s->pinned_at, s);
    if (s->reg.fired) /* the reactor unlinked it when it expired */
        return POLL_READY;
    s->reg.waker = waker_clone(waker); /* the latest poller's waker */
    if (!s->reg.linked) {              /* first poll: the clock starts now */
        s->reg.deadline_ns = now_ns() + (uint64_t) s->ms * 1000000u;
        link_timer(&s->reg);
    }
    return POLL_PENDING;
}

static void sleep_drop(struct future *self)
{
    struct rt_sleep *s = (struct rt_sleep *) self;
    if (!rt_forget_to_unlink)
        unlink_reg(&s->reg);
}

void rt_sleep_init(struct rt_sleep *s, unsigned ms)
{
    s->base.poll = sleep_poll;
    s->base.drop = sleep_drop;
    s->ms = ms;
    s->pinned_at = NULL;
    reg_init(&s->reg, -1);
}

/* ===== Leaf: read ===== */

static enum poll_status read_poll(struct future *self, const struct waker *waker, void *output)
{
    struct rt_read *r = (struct rt_read *) self;
    check_pinned(&r->pinned_at, r);
    /* Register (and hand over the waker) before trying the read, so data
       arriving in between finds the waker in place (step b's rule). */
    r->reg.waker = waker_clone(waker);
    ssize_t n;
    if (!r->reg.linked && (n = link_fd(&r->reg)) < 0)
        goto done;
    n = read(r->fd, r->buf, r->len);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return POLL_PENDING;
    if (n < 0)
        n = -errno;
    unlink_reg(&r->reg);
done:
    if (output != NULL)
        *(ssize_t *) output = n;
    return POLL_READY;
}

static void read_drop(struct future *self)
{
    struct rt_read *r = (struct rt_read *) self;
    if (!rt_forget_to_unlink)
        unlink_reg(&r->reg);
}

void rt_read_init(struct rt_read *r, int fd, void *buf, size_t len)
{
    r->base.poll = read_poll;
    r->base.drop = read_drop;
    r->fd = fd;
    r->buf = buf;
    r->len = len;
    r->pinned_at = NULL;
    reg_init(&r->reg, fd);
}
