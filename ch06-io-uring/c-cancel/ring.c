/* ring.c: io_uring from its system calls; see ring.h for the contract and
 * the memory-ordering rule. Introduced in ch06-io-uring/a-rings. glibc has
 * no wrappers for io_uring_setup and io_uring_enter, so they go through
 * syscall(2); liburing does the same, with more options. */
#include "ring.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../common/errors.h"

/* The indexes live in memory the kernel shares with us as plain 32-bit
 * words; we access them through _Atomic unsigned, which must therefore have
 * the same size and be lock-free (a lock the kernel knows nothing about
 * would protect nothing). */
_Static_assert(sizeof(_Atomic unsigned) == sizeof(__u32), "ring indexes are 32 bits");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "ring indexes need lock-free atomics");

static int io_uring_setup(unsigned entries, struct io_uring_params *params)
{
    long fd = syscall(__NR_io_uring_setup, entries, params);
    return fd < 0 ? -errno : (int) fd;
}

static int io_uring_enter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags)
{
    /* The last two arguments are a signal mask to wait under, and its size. */
    long n = syscall(__NR_io_uring_enter, fd, to_submit, min_complete, flags, NULL, 0);
    return n < 0 ? -errno : (int) n;
}

/* Map one region of the ring's file; the offset says which (IORING_OFF_*).
 * MAP_POPULATE faults the pages in now rather than on first touch. */
static void *map_region(int fd, size_t size, off_t which)
{
    void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, which);
    return map == MAP_FAILED ? NULL : map;
}

/* A field of a ring, `offset` bytes into its mapping (the kernel says
 * where, in io_uring_params, so the layout can change without breaking us). */
static void *at(void *map, __u32 offset)
{
    return (char *) map + offset;
}

/* ===== The ring ===== */

int ring_open(struct ring *ring, unsigned entries, unsigned options)
{
    struct io_uring_params params;
    int err;
    memset(ring, 0, sizeof *ring);
    memset(&params, 0, sizeof params); /* flags 0: no SQ thread, default CQ size */
    ring->fd = io_uring_setup(entries, &params);
    if (ring->fd < 0)
        return ring->fd;
    ring->features = params.features;

    /* The three regions. Each ring is its header (head, tail, mask...)
     * followed by its array; the SQ ring's array holds SQE indexes, the CQ
     * ring's holds the CQEs themselves. Since Linux 5.4
     * (IORING_FEAT_SINGLE_MMAP) both rings live in one region: map it once,
     * big enough for either. The SQEs always have a region of their own. */
    ring->sq_map_size = params.sq_off.array + params.sq_entries * sizeof(__u32);
    ring->cq_map_size = params.cq_off.cqes + params.cq_entries * sizeof(struct io_uring_cqe);
    ring->single_mmap =
        (params.features & IORING_FEAT_SINGLE_MMAP) && !(options & RING_NO_SINGLE_MMAP);
    if (ring->single_mmap) {
        if (ring->cq_map_size > ring->sq_map_size)
            ring->sq_map_size = ring->cq_map_size;
        ring->cq_map_size = ring->sq_map_size;
    }
    ring->sq_map = map_region(ring->fd, ring->sq_map_size, IORING_OFF_SQ_RING);
    if (ring->sq_map == NULL)
        goto failed;
    ring->cq_map = ring->single_mmap ? ring->sq_map
                                     : map_region(ring->fd, ring->cq_map_size, IORING_OFF_CQ_RING);
    if (ring->cq_map == NULL)
        goto failed;
    ring->sqes_map_size = params.sq_entries * sizeof(struct io_uring_sqe);
    ring->sqes_map = map_region(ring->fd, ring->sqes_map_size, IORING_OFF_SQES);
    if (ring->sqes_map == NULL)
        goto failed;

    ring->sq_head = at(ring->sq_map, params.sq_off.head);
    ring->sq_tail = at(ring->sq_map, params.sq_off.tail);
    ring->sq_array = at(ring->sq_map, params.sq_off.array);
    ring->sq_mask = *(__u32 *) at(ring->sq_map, params.sq_off.ring_mask);
    ring->sq_entries = params.sq_entries;
    ring->sqes = ring->sqes_map;
    ring->cq_head = at(ring->cq_map, params.cq_off.head);
    ring->cq_tail = at(ring->cq_map, params.cq_off.tail);
    ring->cq_mask = *(__u32 *) at(ring->cq_map, params.cq_off.ring_mask);
    ring->cq_entries = params.cq_entries;
    ring->cqes = at(ring->cq_map, params.cq_off.cqes);

    /* Nobody else writes our indexes, so private copies start where the
     * shared ones are (0 on a new ring, but the kernel says so, not us). */
    ring->sq_filled = atomic_load_explicit(ring->sq_tail, memory_order_relaxed);
    ring->cq_seen = atomic_load_explicit(ring->cq_head, memory_order_relaxed);

    /* The SQ ring holds indexes into the SQE array rather than SQEs, so a
     * program may fill SQEs in any order. We use SQE i for slot i, always,
     * so the array is the identity and is written once, here. The first
     * release store of the tail (rule 2) publishes it with the first SQEs. */
    for (unsigned i = 0; i < ring->sq_entries; i++)
        ring->sq_array[i] = i;
    return 0;

failed:
    err = -errno;
    ring_close(ring);
    return err;
}

void ring_close(struct ring *ring)
{
    if (ring->sqes_map != NULL)
        munmap(ring->sqes_map, ring->sqes_map_size);
    if (ring->cq_map != NULL && ring->cq_map != ring->sq_map)
        munmap(ring->cq_map, ring->cq_map_size);
    if (ring->sq_map != NULL)
        munmap(ring->sq_map, ring->sq_map_size);
    if (ring->fd >= 0)
        close(ring->fd);
    ring->sqes_map = ring->cq_map = ring->sq_map = NULL;
    ring->fd = -1;
}

/* ===== Submitting ===== */

struct io_uring_sqe *ring_get_sqe(struct ring *ring)
{
    /* Rule 3: acquire the kernel's head before writing the slot it frees.
     * The kernel reads an SQE before it moves the head past it (with a
     * release store); without the acquire, our memset below could be moved
     * before this load, over an SQE the kernel is still reading. Here the
     * kernel takes SQEs only inside io_uring_enter, which orders everything
     * anyway; with an SQ polling thread (IORING_SETUP_SQPOLL) it takes them
     * while we write, and this acquire is what keeps us apart. */
    unsigned head = atomic_load_explicit(ring->sq_head, memory_order_acquire);
    if (ring->sq_filled - head == ring->sq_entries) /* unsigned: right across wrap-around */
        return NULL;
    struct io_uring_sqe *sqe = &ring->sqes[ring->sq_filled & ring->sq_mask];
    ring->sq_filled++;
    memset(sqe, 0, sizeof *sqe);
    return sqe;
}

int ring_submit_and_wait(struct ring *ring, unsigned wait_for)
{
    /* LESSON submit: Publish the filled SQEs to the kernel, then enter it to submit (and wait).
     * hint: A release store of sq_filled into *ring->sq_tail publishes them; submit
     *   what is published but not yet taken (sq_filled minus an acquire load of
     *   *ring->sq_head), and ask for IORING_ENTER_GETEVENTS only if wait_for > 0.
     * stub:
     *   (void) ring;
     *   (void) wait_for;
     *   (void) io_uring_enter;
     *   lesson_missing("submit"); */
    /* Rule 2: the SQEs are filled; publish them with a release store, so
     * the kernel, which loads the tail with acquire, sees every byte. */
    atomic_store_explicit(ring->sq_tail, ring->sq_filled, memory_order_release);
    /* Not yet taken: published minus consumed. After an interrupted call
     * some may have been taken already, which the head tells. */
    unsigned to_submit =
        ring->sq_filled - atomic_load_explicit(ring->sq_head, memory_order_acquire);
    return io_uring_enter(ring->fd, to_submit, wait_for, wait_for > 0 ? IORING_ENTER_GETEVENTS : 0);
    /* END LESSON submit */
}

/* ===== Completions ===== */

unsigned ring_completions_ready(const struct ring *ring)
{
    return atomic_load_explicit(ring->cq_tail, memory_order_acquire) - ring->cq_seen;
}

bool ring_pop_completion(struct ring *ring, struct io_uring_cqe *cqe)
{
    /* LESSON reap: Copy out the oldest completion not yet seen, then hand its slot back.
     * hint: Acquire-load *ring->cq_tail; nothing new if cq_seen equals it. Else copy
     *   cqes[cq_seen & cq_mask] into *cqe, count it seen, and release-store cq_seen
     *   into *ring->cq_head so the kernel may reuse the slot.
     * stub:
     *   (void) ring;
     *   (void) cqe;
     *   lesson_missing("reap"); */
    /* Rule 3: the kernel writes a CQE, then moves the tail with a release
     * store; our acquire load of the tail makes the CQE's bytes visible.
     * Completions are posted from other CPUs too (by the kernel's worker
     * threads, for one), so this matters in every mode. On x86-64 an
     * acquire load is an ordinary load that the compiler may not move; on
     * arm64 it is an instruction of its own (ldar). */
#ifdef BUG_RELAXED_TAIL /* exercise 3 of a-rings/README.md */
    unsigned tail = atomic_load_explicit(ring->cq_tail, memory_order_relaxed);
#else
    unsigned tail = atomic_load_explicit(ring->cq_tail, memory_order_acquire);
#endif
    if (ring->cq_seen == tail)
        return false;
    *cqe = ring->cqes[ring->cq_seen & ring->cq_mask];
    ring->cq_seen++;
    /* Rule 2, our side: we are done reading the slot; the release store
     * keeps that read before the head moves, so the kernel cannot reuse the
     * slot while we still copy it. */
    atomic_store_explicit(ring->cq_head, ring->cq_seen, memory_order_release);
    return true;
    /* END LESSON reap */
}
