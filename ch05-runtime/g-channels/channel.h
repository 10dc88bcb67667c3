/* channel.h: a multi-producer, single-consumer channel between tasks, whose
 * recv (and, when the channel is bounded, send) is a future that sleeps until
 * the other side acts. Introduced in ch05-runtime step g.
 *
 * A channel has two ends. The receiving end is one `struct receiver`; the
 * sending end is any number of `struct sender` handles, made by cloning the
 * first one. Both ends may live on different tasks, executors and threads.
 *
 *     struct channel_ends ends = channel_new(sizeof(int), 4, NULL);
 *     int n = 42;
 *     enum channel_status st = channel_send(ends.tx, &n).wait;  // in one task
 *     enum channel_status st = channel_recv(ends.rx, &n).wait;  // in another
 *
 * Messages are values of a fixed size, copied in by send and out by recv, so
 * any type goes through: an int, a struct, a pointer to something bigger.
 * channel_send() and channel_recv() are macros that pass the size of what
 * their pointer points to, and the channel asserts it is the size it was
 * made for: sending a `long` into an `int` channel stops at once.
 *
 * Closing is done by dropping ends, never by a special message:
 *  - when the last sender is dropped, recv still hands out everything that
 *    was queued, then completes with CHANNEL_CLOSED (and keeps doing so);
 *  - when the receiver is dropped, every send (waiting or new) completes
 *    with CHANNEL_CLOSED, and the messages still queued are discarded
 *    (passed to the channel's drop_message function, if it has one).
 *
 * Ownership: a send or recv future *borrows* its handle, as a call would:
 * drop the future (await it, and corofy's code drops it for you) before you
 * drop the handle; dropping a handle while one of its futures is alive is a
 * programming error (assert). A receiver has one recv future at a time (it
 * is the single consumer; asserted). Several sends may be in flight at once,
 * from one sender or many; a bounded channel serves the ones that had to
 * wait in the order they started waiting.
 * All functions may be called from any thread. Running out of memory ends
 * the program with one line (common/alloc.h). */
#ifndef CHANNEL_H
#define CHANNEL_H

#include <stddef.h>

#include "future.h"

#define CHANNEL_UNBOUNDED 0 /* capacity of a channel whose send never waits */

/* What a send or recv future writes to its output when it completes. */
enum channel_status {
    CHANNEL_OK = 0,     /* the message went through */
    CHANNEL_CLOSED = 1, /* the other side is gone (see "Closing" above) */
};

struct sender;   /* one handle of the sending end */
struct receiver; /* the one handle of the receiving end */

struct channel_ends {
    struct sender *tx;   /* the first sender; clone it for more */
    struct receiver *rx; /* the receiver */
};

/* Counters kept under the channel's lock; they show what waited and why. */
struct channel_stats {
    size_t sent;       /* messages the channel accepted */
    size_t received;   /* messages the receiver took out */
    size_t send_waits; /* sends that found the channel full and waited */
    size_t recv_waits; /* times recv found it empty and went to sleep */
    size_t max_queued; /* the most messages queued at one time */
};

/* Make a channel for messages of `message_size` bytes (> 0) that queues at
 * most `capacity` of them, or any number with CHANNEL_UNBOUNDED. When the
 * receiver is dropped, each message still queued is passed to
 * `drop_message` (if not NULL), so messages that own memory can free it. The
 * caller owns both ends and must drop each one exactly once. */
struct channel_ends channel_new(size_t message_size, size_t capacity,
                                void (*drop_message)(void *message));

/* A new handle to the same sending end. The channel stays open for the
 * receiver until every handle has been dropped. */
struct sender *channel_sender_clone(const struct sender *tx);

/* Give a sender handle back. Dropping the last one wakes a waiting receiver,
 * which then drains the queue and sees CHANNEL_CLOSED. */
void channel_sender_drop(struct sender *tx);

/* Give the receiver back: sends fail from now on, waiting ones included, and
 * what was queued is discarded. */
void channel_receiver_drop(struct receiver *rx);

/* A future that puts a copy of *message in the channel. Its output is an
 * `enum channel_status`: CHANNEL_OK once the message is queued, or
 * CHANNEL_CLOSED if the receiver is gone, in which case the message was not
 * taken (whatever it owns is still the caller's). On a full bounded channel
 * it waits until the receiver makes room. The message is copied when the
 * future is made, so *message may change or go away afterwards. */
#define channel_send(tx, message) channel_send_bytes((tx), (message), sizeof *(message))
struct future *channel_send_bytes(struct sender *tx, const void *message, size_t size);

/* A future that takes the oldest message out of the channel and copies it
 * to *into. Its output is an `enum channel_status`: CHANNEL_OK with *into
 * written, or CHANNEL_CLOSED (*into untouched) when every sender is gone and
 * nothing is left. While the channel is empty it waits for a send or for the
 * last sender to go. `into` must stay valid until the future completes. */
#define channel_recv(rx, into) channel_recv_bytes((rx), (into), sizeof *(into))
struct future *channel_recv_bytes(struct receiver *rx, void *into, size_t size);

/* The channel's counters, as of now. */
struct channel_stats channel_stats(const struct receiver *rx);

#endif
