/* reactor.h: the reactor of ch05-runtime: chapter 2's event queue (the
 * registry, poll.h) plus a table of wakers, one per registration, so that
 * an event wakes exactly the task that waits for it. Introduced in step b;
 * from step c on one thread sleeps in it for the whole program, and any
 * number of executors, on any threads, share it.
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
 * A token names one registration. It carries a generation number, so an
 * event that was already on its way when the fd was deregistered (or whose
 * slot has since been reused) is recognised as stale and ignored.
 *
 * A registration may also carry a deadline (reactor_set_deadline): once it
 * passes, the stored waker is woken whether or not the fd became ready, and
 * the future, polled again, sees the time and gives up.
 *
 * All functions may be called from any thread once reactor_start() has
 * returned 0, until reactor_stop(). Functions that wrap system calls return
 * 0 or -errno. */
#ifndef REACTOR_H
#define REACTOR_H

#include <stdint.h>

#include "future.h"
#include "poll.h"

/* Open the registry (poll_open) and start the reactor thread, which sleeps
 * in poll_wait and wakes the waker of every registration that has an event
 * or whose deadline passed. 0 or -errno. */
int reactor_start(void);

/* Stop the reactor thread, wait for it, and release everything. Wakers of
 * registrations still present are dropped (each such registration is a leaf
 * future that forgot to deregister). */
void reactor_stop(void);

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

/* Stop watching fd and drop the stored waker. After it the token is dead:
 * events still in flight for it are ignored. 0 or -errno (from epoll_ctl;
 * the registration is forgotten either way). */
int reactor_deregister(int fd, uint64_t token);

#endif
