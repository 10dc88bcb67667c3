/* runtime.h: the smallest runtime that does not spin: one global epoll
 * instance (the registry) and a block_on that sleeps in epoll_wait between
 * polls. Introduced in ch05-runtime step a.
 *
 * Leaf futures (the ones that do real I/O) register their file descriptor
 * before they return POLL_PENDING, and deregister it when they are done.
 * block_on does not know which future an event belongs to: any event just
 * means "something happened, poll the top-level future again", and the
 * future finds out for itself what can make progress.
 *
 * Registrations are edge-triggered (EPOLLET is always added): epoll reports
 * an fd when it *becomes* ready, once, so a future must read (or write)
 * until the call fails with EAGAIN before it returns POLL_PENDING.
 *
 * Single-threaded: every function must be called from the thread that called
 * runtime_init(). Functions that wrap system calls return 0 or -errno. */
#ifndef RUNTIME_H
#define RUNTIME_H

#include <stdint.h>

#include "future.h"

/* Create the registry (the epoll instance). 0 or -errno. */
int runtime_init(void);

/* Close the registry. Every fd should have been deregistered by now. */
void runtime_close(void);

/* Ask to be woken when fd has one of `events` (EPOLLIN, EPOLLOUT, ...;
 * EPOLLET is added). The fd stays the caller's: deregister before closing. */
int runtime_register(int fd, uint32_t events);

/* Stop watching fd. */
int runtime_deregister(int fd);

/* Poll `future` until it is ready, sleeping in epoll_wait whenever it is not
 * and printing "Schedule other tasks" each time. Writes the result to
 * *output (when not NULL), then drops the future. Returns the number of
 * times it slept, or -errno if epoll_wait failed (the future is dropped
 * unfinished then). */
int block_on(struct future *future, void *output);

#endif
