/* reactor.h: the reactor of ch05-runtime: chapter 2's event queue (the
 * registry, poll.h) plus a table of wakers, one per registration, so that
 * an event wakes exactly the task that waits for it. Introduced in step b,
 * where the executor's own thread sleeps in it (reactor_wait); step c gives
 * it a thread of its own.
 *
 * Leaf futures (the ones that do real I/O) use it like this:
 *
 *     first poll:   reactor_register(fd, EPOLLIN | EPOLLOUT, waker, &token)
 *     every poll:   reactor_set_waker(token, waker), then try the I/O;
 *                   EAGAIN -> return POLL_PENDING (the reactor will wake us)
 *     when done:    reactor_deregister(fd, token), then close(fd)
 *
 * Registrations are edge-triggered (EPOLLET is always added): the reactor
 * wakes a task when its fd *becomes* ready, once, so a future must keep
 * reading (or writing) until the call fails with EAGAIN before it returns
 * POLL_PENDING. Storing the waker before trying the I/O means no event can
 * slip between "it would block" and "wake me": if data arrives in between,
 * the waker is already there to be woken.
 *
 * A registration may also carry a deadline (reactor_set_deadline): once it
 * passes, the stored waker is woken whether or not the fd became ready, and
 * the future, polled again, sees the time and gives up.
 *
 * Threads: every function but reactor_notify() must be called from the one
 * thread that opened the reactor (the executor's); reactor_notify() may be
 * called from any thread. Functions that wrap system calls return 0 or
 * -errno. */
#ifndef REACTOR_H
#define REACTOR_H

#include <stdint.h>

#include "future.h"
#include "poll.h"

/* Open the registry (poll_open) and the eventfd that reactor_notify()
 * writes. 0 or -errno. */
int reactor_open(void);

/* Close everything. Wakers of registrations still present are dropped (each
 * such registration is a leaf future that forgot to deregister). */
void reactor_close(void);

/* Sleep in poll_wait until a registered fd is ready, a deadline passes or
 * reactor_notify() is called; then wake the waker of every registration
 * that had an event or whose deadline passed. Returns how many wakers it
 * woke (0 after a notify), or -errno if poll_wait failed. A signal does not
 * end the sleep. */
int reactor_wait(void);

/* Make the current reactor_wait() return, or the next one if none is
 * sleeping right now. Any thread. */
void reactor_notify(void);

/* Watch fd for `events` (EPOLLIN, EPOLLOUT, ...; EPOLLET is added) and wake
 * a clone of `waker` whenever one of them happens. On success stores the
 * registration's token in *token and returns 0; on failure returns -errno
 * and keeps nothing. The fd stays the caller's: deregister before closing. */
int reactor_register(int fd, uint32_t events, const struct waker *waker, uint64_t *token);

/* From now on wake `waker` (a clone of it) for this registration; the clone
 * held so far is dropped, unless it wakes the same task anyway. */
void reactor_set_waker(uint64_t token, const struct waker *waker);

/* Wake the registration's waker once `deadline_ns` (a now_ns() time) has
 * passed, even if its fd never becomes ready. */
void reactor_set_deadline(uint64_t token, uint64_t deadline_ns);

/* Stop watching fd and drop the stored waker. 0 or -errno (from epoll_ctl;
 * the registration is forgotten either way). */
int reactor_deregister(int fd, uint64_t token);

#endif
