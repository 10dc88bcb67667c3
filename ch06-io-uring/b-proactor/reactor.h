/* reactor.h: the reactor of ch06-io-uring step b: chapter 5's interface to
 * the executor (open, wait, notify, close), so that executor.c is chapter
 * 5's file unchanged, with an io_uring (step a's ring.h) where chapter 2's
 * registry was. Introduced in ch06-io-uring step b.
 *
 * What changes is what a leaf future hears. Chapter 5's reactor said "fd 5
 * is readable now", and the future did the read itself, until EAGAIN. This
 * one says "the recv you started on fd 5 has finished: 144 bytes are in your
 * buffer". A reactor that reports finished operations rather than readiness
 * is often called a proactor; the file keeps chapter 5's name.
 *
 * A leaf future does its I/O through a struct operation it owns:
 *
 *     to start:    fill an SQE (opcode, fd, addr, len, ...) and call
 *                  reactor_start(&op, &sqe, waker, deadline); POLL_PENDING
 *     every poll:  while op.in_flight: reactor_set_waker(&op, waker); POLL_PENDING
 *     then:        op.result is what the system call would have returned
 *
 * The operations started between two sleeps of the executor reach the kernel
 * together, in the one io_uring_enter that reactor_wait() makes.
 *
 * Ownership, the rule the completion model adds: from reactor_start() until
 * its completion arrives, the kernel holds the address of the operation
 * (the SQE's user_data) and of every buffer the SQE names (the bytes a send
 * reads, the room a recv fills). Until op.in_flight is false, none of them
 * may be freed, moved or reused, so a future with an operation in flight
 * must not be dropped. The executor drops a future only after POLL_READY,
 * and the futures here say POLL_READY only once nothing of theirs is in
 * flight; what to do when a future must go earlier is step c's subject.
 *
 * Threads: every function but reactor_notify() must be called from the one
 * thread that opened the reactor (the executor's); reactor_notify() may be
 * called from any thread. Functions that wrap system calls return 0 or
 * -errno. */
#ifndef REACTOR_H
#define REACTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "future.h"
#include "ring.h"

#define REACTOR_NO_DEADLINE UINT64_MAX

/* One operation: an SQE on its way to the kernel or in the kernel's hands,
 * until its completion. The future owns the struct (it is usually a member
 * of the future); the reactor fills it in. */
struct operation {
    bool in_flight; /* started, and its completion has not arrived yet */
    int result;     /* once !in_flight: the completion's res (a count, 0 or -errno);
                       -ECANCELED when its deadline passed first */
    /* The reactor's, while in flight: */
    uint8_t opcode;                /* the SQE's opcode and fd, */
    int fd;                        /* what a trace calls it by */
    struct waker waker;            /* woken by the completion: a clone the reactor owns */
    uint64_t deadline_ns;          /* cancel it once now_ns() passes this */
    struct operation *prev, *next; /* in the reactor's list of operations in flight */
};

/* Set up the ring (ring_open) and the eventfd that reactor_notify() writes.
 * 0 or -errno; -ENOSYS and -EPERM mean that io_uring is not available here
 * (ring.h says when). */
int reactor_open(void);

/* Close the ring. No operation of a future may be in flight (assert). */
void reactor_close(void);

/* Submit every operation started since the last call, in one io_uring_enter,
 * and sleep in it until a completion arrives (or a deadline passes, or
 * reactor_notify() is called); then wake the waker of every operation that
 * completed. Returns how many wakers it woke, or -errno if io_uring_enter
 * failed. A signal does not end the sleep. */
int reactor_wait(void);

/* Make the current reactor_wait() return, or the next one if none is
 * sleeping right now. Any thread. */
void reactor_notify(void);

/* Start the operation `sqe` describes (every field but user_data and flags,
 * which are the reactor's); its completion will set op->result and wake a
 * clone of `waker`. If `deadline_ns` (a now_ns() time, or
 * REACTOR_NO_DEADLINE) passes first, the reactor cancels the operation, and
 * it completes with -ECANCELED. 0, or -errno if the ring has no room even
 * after handing the kernel what it holds: then nothing was started. */
int reactor_start(struct operation *op, const struct io_uring_sqe *sqe, const struct waker *waker,
                  uint64_t deadline_ns);

/* From now on wake `waker` (a clone of it) when the operation completes; the
 * clone held so far is dropped, unless it wakes the same task anyway. */
void reactor_set_waker(struct operation *op, const struct waker *waker);

#endif
