/* ring.h: io_uring from its system calls, with no library in between: two
 * queues in memory shared with the kernel. Introduced in ch06-io-uring/a-rings.
 *
 * The shape in one picture (README, "How it works", draws it in full):
 *
 *     submission queue (SQ)   we fill entries (SQEs) and move the tail;
 *                             the kernel takes them and moves the head
 *     completion queue (CQ)   the kernel fills entries (CQEs) and moves the
 *                             tail; we read them and move the head
 *
 * An SQE describes a whole operation: "connect this socket to that address",
 * "send these bytes", "receive into this buffer". A CQE says that one has
 * finished and how: `res` is what the system call would have returned (a
 * byte count, 0, or -errno), and `user_data` is the 64-bit value the SQE
 * carried, untouched, so the program knows which operation it was.
 *
 * The memory-ordering rule, stated once and applied to every index (the
 * kernel states its side of it at the top of io_uring/io_uring.c):
 *   1. Each head and each tail has exactly one writer: the SQ tail and the
 *      CQ head are ours, the SQ head and the CQ tail are the kernel's.
 *   2. A writer fills or empties the entries first, then publishes the index
 *      with a release store, so whoever sees the new index sees the entries.
 *   3. A reader loads the other side's index with an acquire load before it
 *      touches the entries that index covers.
 * The kernel pairs its own acquire loads and release stores with ours.
 *
 * Every function that wraps a system call returns 0 (or a count) on success
 * and -errno on failure. Nothing here prints or exits. */
#ifndef CH06_RING_H
#define CH06_RING_H

#include <linux/io_uring.h>
#include <stdbool.h>
#include <stddef.h>

/* Options for ring_open(). RING_NO_SINGLE_MMAP: map the CQ ring on its own
 * even where the kernel offers one mapping for both rings (before Linux 5.4
 * it offered none, and every program had to). */
#define RING_NO_SINGLE_MMAP (1u << 0)

struct ring {
    int fd; /* from io_uring_setup; -1 once closed */

    /* The submission queue: we produce, the kernel consumes. */
    _Atomic unsigned *sq_head; /* the kernel's: SQEs it has taken (we load-acquire) */
    _Atomic unsigned *sq_tail; /* ours: SQEs we have published (we store-release) */
    unsigned *sq_array;        /* SQ slot -> SQE index; filled once, identity (ring.c) */
    unsigned sq_mask;          /* sq_entries - 1: a slot is index & sq_mask */
    unsigned sq_entries;       /* a power of two, chosen by the kernel */
    unsigned sq_filled;        /* our private tail: SQEs handed out, maybe not published */
    struct io_uring_sqe *sqes; /* the SQE array, sq_entries long */

    /* The completion queue: the kernel produces, we consume. */
    _Atomic unsigned *cq_head; /* ours: CQEs we have finished with (we store-release) */
    _Atomic unsigned *cq_tail; /* the kernel's: CQEs it has posted (we load-acquire) */
    unsigned cq_mask;          /* cq_entries - 1 */
    unsigned cq_entries;       /* twice sq_entries unless asked otherwise */
    unsigned cq_seen;          /* our private head */
    struct io_uring_cqe *cqes; /* the CQE array, inside the CQ ring's mapping */

    /* The three regions, for ring_close(). */
    void *sq_map; /* the SQ ring (and the CQ ring, if single_mmap) */
    size_t sq_map_size;
    void *cq_map; /* the CQ ring: sq_map again if single_mmap */
    size_t cq_map_size;
    void *sqes_map; /* the SQE array */
    size_t sqes_map_size;
    bool single_mmap;  /* the SQ and CQ rings share one mapping */
    unsigned features; /* IORING_FEAT_* bits the kernel reported */
};

/* ===== The ring ===== */

/* Create a ring with room for at least `entries` SQEs (1 to 32768; the
 * kernel rounds up to a power of two) and map its three regions. options
 * is 0 or RING_NO_SINGLE_MMAP. On success the caller owns *ring and must
 * call ring_close(). On failure *ring is left closed (ring_close() on it is
 * a harmless no-op); -ENOSYS (no io_uring in this kernel, or a seccomp
 * filter that pretends so) and -EPERM (kernel.io_uring_disabled, or a
 * seccomp profile that forbids it) mean io_uring is not available here. */
int ring_open(struct ring *ring, unsigned entries, unsigned options);

/* Unmap the regions and close the ring. Operations still in flight are
 * cancelled by the kernel; their buffers must stay valid until they are (an
 * operation's buffer belongs to the kernel until its completion arrives).
 * Safe to call twice. */
void ring_close(struct ring *ring);

/* ===== Submitting ===== */

/* The next free SQE, zeroed, or NULL if every slot holds an SQE the kernel
 * has not taken yet. The caller fills it in; it goes to the kernel with the
 * next ring_submit_and_wait(). */
struct io_uring_sqe *ring_get_sqe(struct ring *ring);

/* Publish the SQEs handed out since the last call and, with one
 * io_uring_enter, submit them all and wait until at least `wait_for`
 * completions are ready (0: do not wait). Returns how many SQEs the kernel
 * took, or -errno. -EINTR (a signal arrived while waiting, before anything
 * was submitted) leaves the SQEs published: calling again submits them. */
int ring_submit_and_wait(struct ring *ring, unsigned wait_for);

/* ===== Completions ===== */

/* How many CQEs are waiting to be read. */
unsigned ring_completions_ready(const struct ring *ring);

/* Copy the oldest waiting CQE into *cqe and give its slot back to the
 * kernel. Returns false (and leaves *cqe alone) if none is waiting. */
bool ring_pop_completion(struct ring *ring, struct io_uring_cqe *cqe);

#endif
