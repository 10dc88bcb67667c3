/* reactor.c: an io_uring (ring.h), the operations in flight, and
 * reactor_wait(), which submits what the tasks started, sleeps until
 * something completes and wakes the tasks the completions belong to.
 * Introduced in ch06-io-uring step b; step c adds abandoned operations and
 * linked timeouts. */
#include "reactor.h"

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../../common/errors.h"
#include "../../common/trace.h"

/* ===== Data =====
 *
 * An SQE's user_data comes back in its CQE. For an operation of a future it
 * is the operation's address; the reactor's own operations carry one of the
 * small numbers below, which no struct operation can have as its address. */

#define NOP_USER_DATA 0          /* a slot left empty (see reactor_start) */
#define NOTIFY_USER_DATA 1       /* the read of the eventfd that reactor_notify() writes */
#define LINK_TIMEOUT_USER_DATA 2 /* the deadline linked to an operation */
#define CANCEL_USER_DATA 3       /* a cancel of an abandoned operation */
#define RING_ENTRIES 1024        /* SQEs; a full ring is handed to the kernel (get_sqe) */
_Static_assert(_Alignof(struct operation) > CANCEL_USER_DATA, "no operation's address is reserved");

static struct {
    struct ring ring;
    int notify_fd;         /* eventfd written by reactor_notify() */
    uint64_t notify_count; /* where the kernel puts what the eventfd read returns */
    size_t in_flight;      /* operations of futures started and not completed */
} reactor = {.ring = {.fd = -1}, .notify_fd = -1};

/* ===== Tracing =====
 *
 * A trace (common/trace.h) shows each operation a future starts where
 * chapter 5's showed a registration, and calls it by its opcode and fd. */

/* What a trace calls an opcode. */
static const char *opcode_name(uint8_t opcode)
{
    switch (opcode) {
    case IORING_OP_CONNECT:
        return "connect";
    case IORING_OP_SEND:
        return "send";
    case IORING_OP_RECV:
        return "recv";
    case IORING_OP_READ:
        return "read";
    case IORING_OP_TIMEOUT:
        return "timeout";
    default:
        return "operation";
    }
}

/* What a trace calls an operation: name_of(op).text, "recv fd 5", or
 * "timeout" for one without an fd (with_timeout's timer). */
struct op_name {
    char text[24];
};

static struct op_name name_of(const struct operation *op)
{
    struct op_name name;
    if (op->fd < 0)
        snprintf(name.text, sizeof name.text, "%s", opcode_name(op->opcode));
    else
        snprintf(name.text, sizeof name.text, "%s fd %d", opcode_name(op->opcode), op->fd);
    return name;
}

/* ===== Submitting ===== */

/* A free SQE, zeroed. When every slot is taken, hand the kernel what they
 * hold (without waiting) and take one of the slots that frees. NULL, with
 * *err set, if the kernel takes none. */
static struct io_uring_sqe *get_sqe(int *err)
{
    struct io_uring_sqe *sqe;
    while ((sqe = ring_get_sqe(&reactor.ring)) == NULL) {
        int n = ring_submit_and_wait(&reactor.ring, 0);
        if (n == -EINTR)
            continue;
        if (n <= 0) {
            *err = n < 0 ? n : -EBUSY;
            return NULL;
        }
    }
    return sqe;
}

/* Read the eventfd through the ring: its completion is the notification. */
static int queue_notify_read(void)
{
    int err;
    struct io_uring_sqe *sqe = get_sqe(&err);
    if (sqe == NULL)
        return err;
    sqe->opcode = IORING_OP_READ;
    sqe->fd = reactor.notify_fd;
    sqe->addr = (uintptr_t) &reactor.notify_count;
    sqe->len = sizeof reactor.notify_count;
    sqe->user_data = NOTIFY_USER_DATA;
    return 0;
}

/* The deadline as an operation of its own, linked to the one before it in
 * the ring: IORING_OP_LINK_TIMEOUT. If the deadline passes first, the kernel
 * cancels that operation (which completes with -ECANCELED) and this one
 * completes with -ETIME; if the operation completes first, this one
 * completes with -ECANCELED. Either way the reactor ignores this one's
 * completion: the operation's own says everything. */
static void link_deadline(struct operation *op, struct io_uring_sqe *sqe, uint64_t deadline_ns)
{
    op->deadline.tv_sec = (long long) (deadline_ns / 1000000000u);
    op->deadline.tv_nsec = (long long) (deadline_ns % 1000000000u);
    sqe->opcode = IORING_OP_LINK_TIMEOUT;
    sqe->fd = -1;
    sqe->addr = (uintptr_t) &op->deadline;
    sqe->len = 1;                            /* one timespec */
    sqe->timeout_flags = IORING_TIMEOUT_ABS; /* at that time on the monotonic clock, now_ns()'s */
    sqe->user_data = LINK_TIMEOUT_USER_DATA;
}

int reactor_start(struct operation *op, const struct io_uring_sqe *sqe, const struct waker *waker,
                  uint64_t deadline_ns)
{
    assert(!op->in_flight && "an operation may be in flight only once");
    int err;
    struct io_uring_sqe *slot, *timeout = NULL;
    for (;;) {
        if ((slot = get_sqe(&err)) == NULL)
            return err;
        if (deadline_ns == REACTOR_NO_DEADLINE || (timeout = ring_get_sqe(&reactor.ring)) != NULL)
            break;
        /* A link must not be cut at the end of a submission: the operation
           and its timeout go to the kernel in the same io_uring_enter. The
           ring had one slot, not two: leave that one empty (a zeroed SQE is
           IORING_OP_NOP), and get_sqe hands the kernel the full ring. */
        slot->user_data = NOP_USER_DATA;
    }
    *slot = *sqe;
    slot->flags = 0;
    slot->user_data = (uintptr_t) op;
    if (timeout != NULL) {
        slot->flags = IOSQE_IO_LINK; /* the next SQE, the timeout, belongs to this one */
        link_deadline(op, timeout, deadline_ns);
    }

    op->in_flight = true;
    op->result = 0;
    op->opcode = sqe->opcode;
    op->fd = sqe->fd;
    op->waker = waker_clone(waker);
    op->release = NULL;
    op->release_data = NULL;
    reactor.in_flight++;
    trace_register("%s", name_of(op).text);
    return 0;
}

void reactor_set_waker(struct operation *op, const struct waker *waker)
{
    assert(op->in_flight && op->release == NULL);
    if (!waker_will_wake(&op->waker, waker)) {
        waker_drop(&op->waker);
        op->waker = waker_clone(waker);
    }
}

/* ===== Abandoned operations =====
 *
 * A future dropped while its operation is in flight cannot wait for the
 * completion: drop returns nothing and must not block (the executor's thread
 * would stop for every task). It cannot free the operation either: the
 * kernel would write into that memory later. So the reactor takes the
 * operation over, asks the kernel to cancel it so that the completion comes
 * soon, and frees what the future owned when it has. */

void reactor_abandon(struct operation *op, void (*release)(void *data), void *data)
{
    assert(op->in_flight && op->release == NULL && release != NULL);
    waker_drop(&op->waker); /* nobody waits for this completion now */
    op->release = release;
    op->release_data = data;
#ifdef BUG_NO_ASYNC_CANCEL /* exercise 2 (README.md) */
    return;
#endif
    /* IORING_OP_ASYNC_CANCEL names its target by user_data: the address.
       Without a free slot there is no cancel; then the operation ends when
       it would have (at its deadline at the latest), and is freed then. */
    int err;
    struct io_uring_sqe *sqe = get_sqe(&err);
    if (sqe == NULL)
        return;
    sqe->opcode = IORING_OP_ASYNC_CANCEL;
    sqe->fd = -1;
    sqe->addr = (uintptr_t) op;
    sqe->user_data = CANCEL_USER_DATA;
    trace_register("cancel %s", name_of(op).text);
}

/* ===== Waiting ===== */

/* The operation has completed: record its result and wake its task (which
 * may start the next operation with the same struct), or, if its future is
 * gone, free what the future left behind. Returns how many tasks it woke. */
static int complete(struct operation *op, int result)
{
    assert(op->in_flight);
    op->in_flight = false;
    reactor.in_flight--;
    if (op->release != NULL) {
        op->release(op->release_data); /* op itself is gone after this */
        return 0;
    }
    op->result = result;
    if (result == -ECANCELED) /* only its linked timeout cancels an operation not abandoned */
        trace_timer("deadline of %s", name_of(op).text);
    else if (result == -ETIME) /* only a timer completes with -ETIME */
        trace_timer("%s expired", name_of(op).text);
    waker_wake(&op->waker); /* consumes the reactor's clone */
    return 1;
}

/* Submit what is queued, sleep until at least one completion, and handle
 * every completion there is. Returns how many tasks it woke, or -errno. */
static int submit_and_complete(void)
{
    int err;
    trace_park_begin("io_uring_enter");
    while ((err = ring_submit_and_wait(&reactor.ring, 1)) == -EINTR)
        ; /* a signal is not an event: what is queued stays queued; sleep again */
    trace_park_end();
    if (err < 0 && err != -EBUSY) /* EBUSY: completions wait to be read first */
        return err;

    /* LESSON completions: Take every completion off the ring and act on its user_data.
     * hint: As in step b, without the alarm: NOTIFY_USER_DATA queues the
     *   notify read again; the NOP, linked-timeout and cancel completions need
     *   nothing; anything else is an operation: add what complete() woke.
     * stub:
     *   (void) complete, (void) queue_notify_read;
     *   lesson_missing("completions"); */
    /* Waking a task only puts it on its ready queue: no task runs before
       this loop ends, so no operation is started or reused under it. */
    int woken = 0;
    struct io_uring_cqe cqe;
    while (ring_pop_completion(&reactor.ring, &cqe)) {
        switch (cqe.user_data) {
        case NOTIFY_USER_DATA: /* read again, for the next notify */
            if ((err = queue_notify_read()) < 0)
                return err;
            break;
        case NOP_USER_DATA:
        case LINK_TIMEOUT_USER_DATA: /* the operation's own completion says what happened */
        case CANCEL_USER_DATA:       /* likewise */
            break;
        default:
            woken += complete((struct operation *) (uintptr_t) cqe.user_data, cqe.res);
        }
    }
    return woken;
    /* END LESSON completions */
}

int reactor_wait(void)
{
    return submit_and_complete();
}

void reactor_notify(void)
{
    uint64_t one = 1;
    while (write(reactor.notify_fd, &one, sizeof one) < 0 && errno == EINTR)
        ;
}

/* ===== Opening and closing ===== */

int reactor_open(void)
{
    assert(reactor.notify_fd == -1 && "reactor_open() called twice");
    int err = ring_open(&reactor.ring, RING_ENTRIES, 0);
    if (err < 0)
        return err;
    reactor.notify_fd = eventfd(0, EFD_CLOEXEC);
    if (reactor.notify_fd < 0) {
        err = -errno;
        goto fail;
    }
    if ((err = queue_notify_read()) < 0)
        goto fail;
    reactor.in_flight = 0;
    return 0;
fail:
    if (reactor.notify_fd >= 0)
        close(reactor.notify_fd);
    reactor.notify_fd = -1;
    ring_close(&reactor.ring);
    return err;
}

void reactor_close(void)
{
    /* Every task has finished, so an operation still in flight belongs to a
       future that is gone: abandoned and cancelled, or (a bug) simply left
       behind, in which case it ends at its deadline at the latest. Either
       way, wait for it. */
    while (reactor.in_flight > 0)
        if (submit_and_complete() < 0) /* cannot wait: leave the memory to the kernel */
            return;
    /* Still in flight now: only the eventfd read, into memory that outlives
       the ring. Closing the ring cancels it. */
    ring_close(&reactor.ring);
    close(reactor.notify_fd);
    reactor.notify_fd = -1;
}
