/* reactor.c: an io_uring (ring.h), the operations in flight, and
 * reactor_wait(), which submits what the tasks started, sleeps until
 * something completes and wakes the tasks the completions belong to.
 * Introduced in ch06-io-uring step b. */
#include "reactor.h"

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../../common/clock.h"
#include "../../common/errors.h"
#include "../../common/trace.h"

/* ===== Data =====
 *
 * An SQE's user_data comes back in its CQE. For an operation of a future it
 * is the operation's address; the reactor's own operations carry one of the
 * small numbers below, which no struct operation can have as its address. */

#define NOTIFY_USER_DATA 1 /* the read of the eventfd that reactor_notify() writes */
#define ALARM_USER_DATA 2  /* the timer that ends a sleep at the earliest deadline */
#define CANCEL_USER_DATA 3 /* a cancel of an operation whose deadline passed */
#define RING_ENTRIES 1024  /* SQEs; a full ring is handed to the kernel (get_sqe) */
_Static_assert(_Alignof(struct operation) > CANCEL_USER_DATA, "no operation's address is reserved");

static struct {
    struct ring ring;
    int notify_fd;           /* eventfd written by reactor_notify() */
    uint64_t notify_count;   /* where the kernel puts what the eventfd read returns */
    struct operation *first; /* the operations of futures in flight, newest first */
    uint64_t next_deadline;  /* no deadline in that list is earlier than this */
    uint64_t alarm_ns;       /* when the armed alarm fires; REACTOR_NO_DEADLINE: none armed */
    struct __kernel_timespec alarm; /* its time, for the SQE (the kernel copies it) */
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
    default:
        return "operation";
    }
}

/* What a trace calls an operation: name_of(op).text, "recv fd 5". */
struct op_name {
    char text[24];
};

static struct op_name name_of(const struct operation *op)
{
    struct op_name name;
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

int reactor_start(struct operation *op, const struct io_uring_sqe *sqe, const struct waker *waker,
                  uint64_t deadline_ns)
{
    assert(!op->in_flight && "an operation may be in flight only once");
    int err;
    struct io_uring_sqe *slot = get_sqe(&err);
    if (slot == NULL)
        return err;
    *slot = *sqe;
    slot->flags = 0;
    slot->user_data = (uintptr_t) op;

    op->in_flight = true;
    op->result = 0;
    op->opcode = sqe->opcode;
    op->fd = sqe->fd;
    op->waker = waker_clone(waker);
    op->deadline_ns = deadline_ns;
    op->prev = NULL;
    op->next = reactor.first;
    if (reactor.first != NULL)
        reactor.first->prev = op;
    reactor.first = op;
    if (deadline_ns < reactor.next_deadline)
        reactor.next_deadline = deadline_ns;
    trace_register("%s", name_of(op).text);
    return 0;
}

void reactor_set_waker(struct operation *op, const struct waker *waker)
{
    assert(op->in_flight);
    if (!waker_will_wake(&op->waker, waker)) {
        waker_drop(&op->waker);
        op->waker = waker_clone(waker);
    }
}

/* ===== Deadlines =====
 *
 * The ring is the only place the thread sleeps, so the earliest deadline is
 * a timer operation in it: the alarm, an IORING_OP_TIMEOUT at an absolute
 * time on the monotonic clock (the clock of now_ns()). When it fires, every
 * operation whose deadline has passed is cancelled with
 * IORING_OP_ASYNC_CANCEL, which names its target by user_data; the target
 * then completes with -ECANCELED, and its future learns of the deadline from
 * its own completion, like any other result. */

/* Arm the alarm for the earliest deadline, unless one is armed at or before
 * it. An alarm armed for a later time stays armed: it fires for nothing, and
 * costs one more wake-up, rarer than any bookkeeping that would prevent it. */
static int arm_alarm(void)
{
    if (reactor.next_deadline >= reactor.alarm_ns)
        return 0;
    int err;
    struct io_uring_sqe *sqe = get_sqe(&err);
    if (sqe == NULL)
        return err;
    reactor.alarm.tv_sec = (long long) (reactor.next_deadline / 1000000000u);
    reactor.alarm.tv_nsec = (long long) (reactor.next_deadline % 1000000000u);
    sqe->opcode = IORING_OP_TIMEOUT;
    sqe->fd = -1;
    sqe->addr = (uintptr_t) &reactor.alarm;
    sqe->len = 1;                            /* one timespec */
    sqe->timeout_flags = IORING_TIMEOUT_ABS; /* at that time, not after that long */
    sqe->user_data = ALARM_USER_DATA;
    reactor.alarm_ns = reactor.next_deadline;
    return 0;
}

/* Cancel every operation whose deadline has passed, once, and find the next
 * deadline. A scan of the list: it runs only when the alarm fires, which is
 * rare (see the README's limits). Called only once every completion the
 * kernel has posted is handled, so each operation cancelled here is still in
 * flight and stays so until the cancel has been submitted. */
static void cancel_expired(void)
{
    uint64_t now = now_ns(), next = REACTOR_NO_DEADLINE;
    for (struct operation *op = reactor.first; op != NULL; op = op->next) {
        if (op->deadline_ns <= now) {
            int err;
            struct io_uring_sqe *sqe = get_sqe(&err);
            if (sqe == NULL) { /* no room: try again at the next sleep */
                next = now;
                break;
            }
            sqe->opcode = IORING_OP_ASYNC_CANCEL;
            sqe->fd = -1;
            sqe->addr = (uintptr_t) op; /* the user_data of the operation to cancel */
            sqe->user_data = CANCEL_USER_DATA;
            op->deadline_ns = REACTOR_NO_DEADLINE; /* cancelled once */
            trace_timer("deadline of %s", name_of(op).text);
        } else if (op->deadline_ns < next) {
            next = op->deadline_ns;
        }
    }
    reactor.next_deadline = next;
}

/* ===== Waiting ===== */

/* The operation has completed: record its result, take it off the list,
 * wake its task (which may start the next operation with the same struct). */
static void complete(struct operation *op, int result)
{
    assert(op->in_flight);
    op->result = result;
    op->in_flight = false;
    if (op->prev != NULL)
        op->prev->next = op->next;
    else
        reactor.first = op->next;
    if (op->next != NULL)
        op->next->prev = op->prev;
    waker_wake(&op->waker); /* consumes the reactor's clone */
}

int reactor_wait(void)
{
    int err = arm_alarm();
    if (err < 0)
        return err;
    /* Submit everything queued and sleep until at least one completion. */
    trace_park_begin("io_uring_enter");
    while ((err = ring_submit_and_wait(&reactor.ring, 1)) == -EINTR)
        ; /* a signal is not an event: what is queued stays queued; sleep again */
    trace_park_end();
    if (err < 0 && err != -EBUSY) /* EBUSY: completions wait to be read first */
        return err;

    /* LESSON completions: Take every completion off the ring and act on its user_data.
     * hint: ring_pop_completion until none is left. NOTIFY_USER_DATA: queue
     *   the notify read again; ALARM_USER_DATA: note that the alarm rang (then
     *   cancel_expired() after the loop); CANCEL_USER_DATA: nothing; anything
     *   else is an operation: complete() it with cqe.res. Return how many woke.
     * stub:
     *   (void) complete, (void) queue_notify_read, (void) cancel_expired;
     *   lesson_missing("completions"); */
    /* Waking a task only puts it on its ready queue: no task runs before
       this loop ends, so no operation is started or reused under it. */
    int woken = 0;
    bool alarm_rang = false;
    struct io_uring_cqe cqe;
    while (ring_pop_completion(&reactor.ring, &cqe)) {
        switch (cqe.user_data) {
        case NOTIFY_USER_DATA: /* read again, for the next notify */
            if ((err = queue_notify_read()) < 0)
                return err;
            break;
        case ALARM_USER_DATA:
            reactor.alarm_ns = REACTOR_NO_DEADLINE;
            alarm_rang = true;
            break;
        case CANCEL_USER_DATA: /* its target's own completion is what counts */
            break;
        default:
            complete((struct operation *) (uintptr_t) cqe.user_data, cqe.res);
            woken++;
        }
    }
    if (alarm_rang)
        cancel_expired();
    return woken;
    /* END LESSON completions */
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
    reactor.first = NULL;
    reactor.next_deadline = REACTOR_NO_DEADLINE;
    reactor.alarm_ns = REACTOR_NO_DEADLINE;
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
    /* Still in flight: the eventfd read and perhaps an alarm, both the
       reactor's, into memory that outlives the ring. Closing the ring
       cancels them. */
    assert(reactor.first == NULL && "a future was dropped with an operation in flight");
    ring_close(&reactor.ring);
    close(reactor.notify_fd);
    reactor.notify_fd = -1;
}
