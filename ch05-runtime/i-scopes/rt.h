/* rt.h: a single-threaded runtime whose reactor keeps intrusive lists of
 * registration nodes that live inside the futures' own frames, so waiting
 * for a timer or a socket allocates nothing. Introduced in ch05-runtime
 * step i.
 *
 * One thread does everything: rt_block_on() polls the root future, and when
 * it has nothing to poll it sleeps in poll_wait() itself, with the earliest
 * timer as the timeout. There is no reactor thread, so no lock and no wake
 * can be "in flight" on another thread while a frame dies: when a future is
 * dropped and unlinks its node, nobody can be holding a pointer to it.
 *
 * The discipline this runtime relies on (nothing in C enforces it; asserts
 * catch what they can):
 *
 *  1. A future does not move once it has been polled: the reactor points at
 *     its registration node (this is what Rust's Pin promises). Leaf futures
 *     remember their address at the first poll and assert it on every poll.
 *  2. Every future is either polled to POLL_READY or dropped before its
 *     storage goes away, and drop unlinks every node it has linked. Leaving
 *     a block without dropping a started future is C's mem::forget.
 *  3. A waker here is *borrowed*: it points into the frame of whoever polled
 *     (a scope's child slot, or rt_block_on's stack). It stays valid while
 *     the registration that holds it is linked, because that registration
 *     lives inside the same frame, deeper down. Cloning copies it; dropping
 *     does nothing.
 *  4. Waking only sets flags (child slots, the root's "woken"): nothing is
 *     polled while the reactor walks its lists, so no node can be unlinked
 *     under its feet. */
#ifndef RT_H
#define RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "future.h"

/* ===== Intrusive lists =====
 *
 * A circular doubly-linked list with a sentinel head: a node knows its
 * neighbours, so unlinking is O(1) and needs nothing but the node. An
 * unlinked node points at itself. */
struct rt_link {
    struct rt_link *prev;
    struct rt_link *next;
};

/* ===== Registrations =====
 *
 * One thing a leaf future waits for: a deadline or an fd's readiness. The
 * node lives inside the leaf, which lives inside its parent's frame (or on
 * rt_block_on's caller's stack); the reactor only links it. */
struct rt_registration {
    struct rt_link link;  /* in the reactor's timer list or fd list */
    struct waker waker;   /* who to wake (borrowed, see rule 3) */
    bool linked;          /* on one of the reactor's lists right now */
    bool fired;           /* the event happened since it was linked */
    uint64_t deadline_ns; /* timers: CLOCK_MONOTONIC deadline */
    int fd;               /* fds: the descriptor; -1 for a timer */
};

/* ===== Leaf futures (caller-provided storage) ===== */

/* Completes `ms` milliseconds after its first poll. Output: none. */
struct rt_sleep {
    struct future base;
    unsigned ms;                /* how long, from the first poll */
    const void *pinned_at;      /* its own address from the first poll on */
    struct rt_registration reg; /* a node on the reactor's timer list */
};

/* Completes when one read() of fd returns data, end of file or an error.
 * Output (ssize_t, may be NULL): bytes read, 0 at end of file, or -errno.
 * The fd must be non-blocking and stays the caller's; at most one rt_read
 * may wait on a given fd at a time. */
struct rt_read {
    struct future base;
    int fd;
    void *buf; /* where the bytes go (the caller's) */
    size_t len;
    const void *pinned_at;
    struct rt_registration reg; /* a node on the fd list, and epoll's data.ptr */
};

/* Fill in *s / *r; nothing is linked until the first poll, and dropping
 * unlinks whatever is. Neither allocates. */
void rt_sleep_init(struct rt_sleep *s, unsigned ms);
void rt_read_init(struct rt_read *r, int fd, void *buf, size_t len);

/* ===== The runtime ===== */

/* Create the epoll instance. 0 or -errno. */
int rt_init(void);

/* Close it. Every registration must be unlinked by now (assert). */
void rt_shutdown(void);

/* Poll `root` until it is ready, sleeping in epoll_wait whenever it is not
 * woken; then drop it (dropping an embedded future releases what it holds,
 * it frees nothing). Its result goes to *output (when not NULL). Asserts
 * that the root left no registration linked. Not reentrant. */
void rt_block_on(struct future *root, void *output);

/* How many registrations are linked right now (timers + fds). */
size_t rt_registrations(void);

/* Milliseconds since rt_init(), for messages. */
unsigned rt_elapsed_ms(void);

/* For the demonstration of what goes wrong (see README, "Forget to
 * unlink"): when true, dropping a leaf leaves its node linked. Never set it
 * outside that demonstration. */
extern bool rt_forget_to_unlink;

#endif
