/* reactor.h: one thread that sleeps in epoll_wait for the whole program and
 * wakes the task waiting on each file descriptor that becomes ready.
 * Introduced in ch05-runtime step b.
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
 * All functions may be called from any thread once reactor_start() has
 * returned 0, until reactor_stop(). Functions that wrap system calls return
 * 0 or -errno. */
#ifndef REACTOR_H
#define REACTOR_H

#include <stdint.h>

#include "future.h"

/* Create the epoll instance and start the reactor thread. 0 or -errno. */
int reactor_start(void);

/* Stop the reactor thread, wait for it, and release everything. Wakers of
 * registrations still present are dropped (each such registration is a leaf
 * future that forgot to deregister). */
void reactor_stop(void);

/* Watch fd for `events` (EPOLLIN, EPOLLOUT, ...; EPOLLET is added) and wake a
 * clone of `waker` whenever one of them happens. On success stores the
 * registration's token in *token and returns 0; on failure returns -errno and
 * keeps nothing. The fd stays the caller's: deregister before closing it. */
int reactor_register(int fd, uint32_t events, const struct waker *waker, uint64_t *token);

/* From now on wake `waker` (a clone of it) for this registration; the clone
 * held so far is dropped, unless it wakes the same task anyway. */
void reactor_set_waker(uint64_t token, const struct waker *waker);

/* Stop watching fd and drop the stored waker. After it the token is dead:
 * events still in flight for it are ignored. 0 or -errno (from epoll_ctl;
 * the registration is forgotten either way). */
int reactor_deregister(int fd, uint64_t token);

#endif
