/* channel.c: the multi-producer, single-consumer channel: a ring of
 * messages, the receiver's waker, and a line of senders waiting for room,
 * all under one lock. Introduced in ch05-runtime step g. */
#include "channel.h"

#include <assert.h>
#include <pthread.h>
#ifdef BUG_UNLOCK_BEFORE_WAIT
#include <sched.h>
#endif
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/alloc.h"
#include "../../common/errors.h"

/* ===== Data =====
 *
 * Every decision (is there a message? is there room? is anybody left on the
 * other side?) is taken under `lock`, and so is every change that could
 * alter it, including storing the waker of whoever is about to sleep. That
 * is the whole argument against lost wake-ups: a side that finds nothing to
 * do leaves its waker before it lets go of the lock, and the other side can
 * only change the answer after taking the lock, so it finds that waker.
 * Wakers are woken after the lock is released (waking takes the executor's
 * lock, and may free a task): whoever takes a waker out of the channel owns
 * that clone and may wake it later, wherever the channel is by then.
 *
 * A bounded channel keeps this invariant: if a send is waiting, the queue is
 * full. The receiver keeps it by refilling the slot it just emptied with the
 * message of the oldest waiting send, on that send's behalf. A woken sender
 * therefore finds its message already delivered; it never has to race a
 * newcomer for the slot, and a waiting send that is dropped instead of polled
 * again loses nobody else's wake-up.
 *
 * The channel struct is freed by whoever drops the last of its ends (the
 * receiver and every sender). Futures borrow their handle, and a handle
 * refuses to be dropped while one of its futures is alive (assert), so a
 * future never outlives the channel. */

#define FIRST_RING_SLOTS 16 /* an unbounded channel's ring starts this big */

struct send_future;

/* Messages in a circular array: `queued` of them, the oldest in slot `head`. */
struct ring {
    unsigned char *bytes; /* slots * message_size bytes */
    size_t slots;
    size_t head;
    size_t queued;
};

struct channel {
    pthread_mutex_t lock;         /* guards every field below but the first three */
    size_t message_size;          /* bytes per message; never changes */
    size_t capacity;              /* most messages queued; 0: unbounded; never changes */
    void (*drop_message)(void *); /* for messages discarded unread, or NULL; never changes */
    struct ring ring;             /* the queued messages */
    size_t senders;               /* sender handles not yet dropped */
    bool receiver_alive;          /* the receiver has not been dropped */
    bool receiving;               /* a recv future exists (there may be one) */
    struct waker receiver_waker;  /* the sleeping receiver; vtable NULL when none */
    struct send_future *waiting_head, *waiting_tail; /* sends waiting for room, oldest first */
    struct channel_stats stats;
};

struct sender {
    struct channel *channel;
    atomic_size_t futures; /* send futures made from it, not yet dropped */
};

struct receiver {
    struct channel *channel;
};

/* Move a waker out of *from, leaving it empty. */
static struct waker take_waker(struct waker *from)
{
    struct waker w = *from;
    *from = (struct waker){NULL, NULL};
    return w;
}

/* Keep a clone of `waker` in *slot, unless what is there wakes the same task.
 * Returns the waker it replaced, for the caller to drop after unlocking. */
static struct waker store_waker(struct waker *slot, const struct waker *waker)
{
    if (slot->vtable != NULL && waker_will_wake(slot, waker))
        return (struct waker){NULL, NULL};
    struct waker old = *slot;
    *slot = waker_clone(waker);
    return old;
}

/* A send or recv is over: hand its status to whoever awaits it. */
static enum poll_status complete(void *output, enum channel_status status)
{
    if (output != NULL)
        *(enum channel_status *) output = status;
    return POLL_READY;
}

static void wake_if_any(struct waker *w)
{
    if (w->vtable != NULL)
        waker_wake(w);
}

static void drop_if_any(struct waker *w)
{
    if (w->vtable != NULL)
        waker_drop(w);
}

/* ===== The ring (all with the lock held) ===== */

/* Where the i-th oldest message is. */
static unsigned char *ring_slot(const struct ring *r, size_t message_size, size_t i)
{
    return r->bytes + (r->head + i) % r->slots * message_size;
}

static bool has_room(const struct channel *c)
{
    return c->capacity == CHANNEL_UNBOUNDED || c->ring.queued < c->capacity;
}

/* Double an unbounded channel's ring, unwrapping it so the oldest message
 * lands in slot 0. */
static void grow_ring(struct ring *r, size_t message_size)
{
    size_t slots = 2 * r->slots;
    if (slots / 2 != r->slots || slots > SIZE_MAX / message_size)
        die("too many messages queued in a channel");
    unsigned char *bytes = xmalloc(slots * message_size);
    for (size_t i = 0; i < r->queued; i++)
        memcpy(bytes + i * message_size, ring_slot(r, message_size, i), message_size);
    free(r->bytes);
    *r = (struct ring){.bytes = bytes, .slots = slots, .head = 0, .queued = r->queued};
}

static void push(struct channel *c, const void *message)
{
    struct ring *r = &c->ring;
    assert(has_room(c));
    if (r->queued == r->slots)
        grow_ring(r, c->message_size);
    memcpy(ring_slot(r, c->message_size, r->queued), message, c->message_size);
    r->queued++;
    c->stats.sent++;
    if (r->queued > c->stats.max_queued)
        c->stats.max_queued = r->queued;
}

static void pop(struct channel *c, void *into)
{
    struct ring *r = &c->ring;
    assert(r->queued > 0);
    memcpy(into, ring_slot(r, c->message_size, 0), c->message_size);
    r->head = (r->head + 1) % r->slots;
    r->queued--;
    c->stats.received++;
}

/* ===== Making and dropping the ends ===== */

struct channel_ends channel_new(size_t message_size, size_t capacity,
                                void (*drop_message)(void *message))
{
    assert(message_size > 0);
    size_t slots = capacity == CHANNEL_UNBOUNDED ? FIRST_RING_SLOTS : capacity;
    if (slots > SIZE_MAX / message_size)
        die("a channel of %zu messages is too big", capacity);
    struct channel *c = xmalloc(sizeof *c);
    check_pthread(pthread_mutex_init(&c->lock, NULL), "pthread_mutex_init");
    c->message_size = message_size;
    c->capacity = capacity;
    c->drop_message = drop_message;
    c->ring = (struct ring){.bytes = xmalloc(slots * message_size), .slots = slots};
    c->senders = 1;
    c->receiver_alive = true;
    c->receiving = false;
    c->receiver_waker = (struct waker){NULL, NULL};
    c->waiting_head = c->waiting_tail = NULL;
    c->stats = (struct channel_stats){0};

    struct channel_ends ends = {xmalloc(sizeof *ends.tx), xmalloc(sizeof *ends.rx)};
    ends.tx->channel = ends.rx->channel = c;
    atomic_init(&ends.tx->futures, 0);
    return ends;
}

/* Called by whoever dropped the last end: nobody else can reach c. */
static void channel_free(struct channel *c)
{
    assert(c->receiver_waker.vtable == NULL && c->waiting_head == NULL);
    pthread_mutex_destroy(&c->lock);
    free(c->ring.bytes);
    free(c);
}

struct sender *channel_sender_clone(const struct sender *tx)
{
    struct channel *c = tx->channel;
    struct sender *copy = xmalloc(sizeof *copy);
    copy->channel = c;
    atomic_init(&copy->futures, 0);
    pthread_mutex_lock(&c->lock);
    assert(c->senders > 0); /* tx itself is one of them */
    c->senders++;
    pthread_mutex_unlock(&c->lock);
    return copy;
}

void channel_sender_drop(struct sender *tx)
{
    struct channel *c = tx->channel;
    assert(atomic_load(&tx->futures) == 0 && "a sender dropped while one of its sends is alive");
    free(tx);
    struct waker receiver = {NULL, NULL};
    pthread_mutex_lock(&c->lock);
    assert(c->senders > 0);
    bool last_sender = --c->senders == 0;
    if (last_sender) /* a sleeping receiver must come and see it */
        receiver = take_waker(&c->receiver_waker);
    bool last_end = last_sender && !c->receiver_alive;
    pthread_mutex_unlock(&c->lock);
    wake_if_any(&receiver);
    if (last_end)
        channel_free(c);
}

/* ===== Sending ===== */

enum send_state {
    SEND_START,     /* not polled yet */
    SEND_WAITING,   /* in the waiting line, message still here */
    SEND_DELIVERED, /* the receiver moved the message into the ring */
    SEND_REFUSED,   /* the receiver was dropped while we waited */
    SEND_DONE,      /* completed: polling again is a programming error */
};

struct send_future {
    struct future base;
    struct sender *sender;           /* borrowed: it counts us in `futures` */
    struct channel *channel;         /* the sender's */
    bool polled;                     /* the owner's own: has poll ever run? */
    enum send_state state;           /* under the lock (the receiver changes it too) */
    struct send_future *prev, *next; /* links in the waiting line (lock) */
    struct waker waker;              /* while SEND_WAITING (lock) */
    unsigned char message[];         /* channel->message_size bytes */
};

/* Link s at the tail of the waiting line, or unlink it. Need the lock. */
/* LESSON wait-list: The senders' waiting line: a doubly linked list, FIFO.
 * hint: line_up appends s at c->waiting_tail; leave_line unlinks s from
 *   anywhere in the line (head, middle, tail) and clears its links.
 * stub:
 *   static void line_up(struct channel *c, struct send_future *s)
 *   {
 *       (void) c, (void) s;
 *       lesson_missing("wait-list");
 *   }
 *
 *   static void leave_line(struct channel *c, struct send_future *s)
 *   {
 *       (void) c, (void) s;
 *       lesson_missing("wait-list");
 *   } */
static void line_up(struct channel *c, struct send_future *s)
{
    s->next = NULL;
    s->prev = c->waiting_tail;
    if (c->waiting_tail != NULL)
        c->waiting_tail->next = s;
    else
        c->waiting_head = s;
    c->waiting_tail = s;
}

static void leave_line(struct channel *c, struct send_future *s)
{
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        c->waiting_head = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    else
        c->waiting_tail = s->prev;
    s->prev = s->next = NULL;
}
/* END LESSON wait-list */

static enum poll_status send_poll(struct future *self, const struct waker *waker, void *output)
{
    struct send_future *s = (struct send_future *) self;
    struct channel *c = s->channel;
    struct waker to_wake = {NULL, NULL}, old = {NULL, NULL};
    enum channel_status status;

    s->polled = true;
    pthread_mutex_lock(&c->lock);
    switch (s->state) {
    case SEND_START:
        if (!c->receiver_alive) { /* nobody will ever read it */
            status = CHANNEL_CLOSED;
            break;
        }
        if (has_room(c)) {
            assert(c->waiting_head == NULL); /* someone waiting means full */
            push(c, s->message);
            to_wake = take_waker(&c->receiver_waker);
            status = CHANNEL_OK;
            break;
        }
        /* Full: wait in line. The receiver delivers our message when a slot
           frees up (or refuses it when it goes away) and wakes this waker. */
        line_up(c, s);
        s->waker = waker_clone(waker);
        s->state = SEND_WAITING;
        c->stats.send_waits++;
        pthread_mutex_unlock(&c->lock);
        return POLL_PENDING;
    case SEND_WAITING: /* polled again before our turn came */
        old = store_waker(&s->waker, waker);
        pthread_mutex_unlock(&c->lock);
        drop_if_any(&old);
        return POLL_PENDING;
    case SEND_DELIVERED:
        status = CHANNEL_OK;
        break;
    case SEND_REFUSED:
        status = CHANNEL_CLOSED;
        break;
    case SEND_DONE:
    default:
        assert(!"a send future polled after it completed");
        abort();
    }
    s->state = SEND_DONE;
    pthread_mutex_unlock(&c->lock);
    wake_if_any(&to_wake);
    return complete(output, status);
}

static void send_drop(struct future *self)
{
    struct send_future *s = (struct send_future *) self;
    struct waker old = {NULL, NULL};
    if (s->polled) { /* else nobody else knows about s */
        pthread_mutex_lock(&s->channel->lock);
        if (s->state == SEND_WAITING) { /* cancelled while waiting */
            leave_line(s->channel, s);
            old = take_waker(&s->waker);
        }
        pthread_mutex_unlock(&s->channel->lock);
    }
    drop_if_any(&old);
    atomic_fetch_sub(&s->sender->futures, 1);
    free(s);
}

struct future *channel_send_bytes(struct sender *tx, const void *message, size_t size)
{
    struct channel *c = tx->channel;
    assert(size == c->message_size && "message of the wrong size for this channel");
    struct send_future *s = xmalloc(sizeof *s + size);
    s->base.poll = send_poll;
    s->base.drop = send_drop;
    s->sender = tx;
    atomic_fetch_add(&tx->futures, 1);
    s->channel = c;
    s->polled = false;
    s->state = SEND_START;
    s->prev = s->next = NULL;
    s->waker = (struct waker){NULL, NULL};
    memcpy(s->message, message, size);
    return &s->base;
}

/* ===== Receiving ===== */

struct recv_future {
    struct future base;
    struct channel *channel; /* borrowed through the receiver handle */
    void *into;              /* where the message goes */
    bool done;               /* completed: polling again is a programming error */
};

static enum poll_status recv_poll(struct future *self, const struct waker *waker, void *output)
{
    struct recv_future *r = (struct recv_future *) self;
    struct channel *c = r->channel;
    struct waker to_wake = {NULL, NULL}, old = {NULL, NULL};
    enum channel_status status;

    assert(!r->done && "a recv future polled after it completed");
    pthread_mutex_lock(&c->lock);
    if (c->ring.queued > 0) {
        pop(c, r->into);
        struct send_future *next = c->waiting_head;
        if (next != NULL) { /* refill the slot on the oldest waiter's behalf */
            leave_line(c, next);
            push(c, next->message);
            next->state = SEND_DELIVERED;
            to_wake = take_waker(&next->waker);
        }
        status = CHANNEL_OK;
    } else if (c->senders == 0) { /* empty, and nobody left to fill it */
        status = CHANNEL_CLOSED;
    } else {
#ifdef BUG_UNLOCK_BEFORE_WAIT /* exercise 1 (README.md) */
        pthread_mutex_unlock(&c->lock);
        sched_yield();
        pthread_mutex_lock(&c->lock);
#endif
        old = store_waker(&c->receiver_waker, waker);
        c->stats.recv_waits++;
        pthread_mutex_unlock(&c->lock);
        drop_if_any(&old);
        return POLL_PENDING;
    }
    /* A clone left by an earlier PENDING that no sender used (we were
       polled for another reason) would only cause a needless wake-up. */
    old = take_waker(&c->receiver_waker);
    pthread_mutex_unlock(&c->lock);
    r->done = true;
    wake_if_any(&to_wake);
    drop_if_any(&old);
    return complete(output, status);
}

static void recv_drop(struct future *self)
{
    struct recv_future *r = (struct recv_future *) self;
    /* If it was dropped while waiting, the receiver's waker is its own. */
    pthread_mutex_lock(&r->channel->lock);
    r->channel->receiving = false;
    struct waker old = take_waker(&r->channel->receiver_waker);
    pthread_mutex_unlock(&r->channel->lock);
    drop_if_any(&old);
    free(r);
}

struct future *channel_recv_bytes(struct receiver *rx, void *into, size_t size)
{
    struct channel *c = rx->channel;
    assert(size == c->message_size && "message of the wrong size for this channel");
    struct recv_future *r = xmalloc(sizeof *r);
    r->base.poll = recv_poll;
    r->base.drop = recv_drop;
    r->channel = c;
    r->into = into;
    r->done = false;
    pthread_mutex_lock(&c->lock);
    assert(!c->receiving && "a second recv future on one receiver");
    c->receiving = true;
    pthread_mutex_unlock(&c->lock);
    return &r->base;
}

/* ===== Dropping the receiver ===== */

void channel_receiver_drop(struct receiver *rx)
{
    struct channel *c = rx->channel;
    free(rx);

    pthread_mutex_lock(&c->lock);
    assert(!c->receiving && "the receiver dropped while its recv future is alive");
    c->receiver_alive = false;
    /* Refuse every waiting send. Their futures may be dropped on other
       threads the moment we unlock, so their wakers are moved out now. */
    size_t waiting = 0;
    for (struct send_future *s = c->waiting_head; s != NULL; s = s->next)
        waiting++;
    struct waker *wakers = waiting ? xmalloc(waiting * sizeof *wakers) : NULL;
    for (size_t i = 0; i < waiting; i++) {
        struct send_future *s = c->waiting_head;
        leave_line(c, s);
        s->state = SEND_REFUSED;
        wakers[i] = take_waker(&s->waker);
    }
    /* Take the queued messages with us: once we unlock, the last sender may
       free the channel while we are still discarding them. */
    struct ring unread = c->ring;
    c->ring = (struct ring){NULL, 0, 0, 0};
    void (*drop_message)(void *) = c->drop_message;
    size_t message_size = c->message_size;
    bool last_end = c->senders == 0;
    pthread_mutex_unlock(&c->lock);

    if (drop_message != NULL)
        for (size_t i = 0; i < unread.queued; i++)
            drop_message(ring_slot(&unread, message_size, i));
    free(unread.bytes);
    for (size_t i = 0; i < waiting; i++)
        waker_wake(&wakers[i]);
    free(wakers);
    if (last_end)
        channel_free(c);
}

struct channel_stats channel_stats(const struct receiver *rx)
{
    struct channel *c = rx->channel;
    pthread_mutex_lock(&c->lock);
    struct channel_stats stats = c->stats;
    pthread_mutex_unlock(&c->lock);
    return stats;
}
