/* runtime.h: the smallest runtime that does not spin: one event queue for
 * the whole program (chapter 2's struct poll, here called the registry) and
 * a block_on that sleeps in it between polls. Introduced in ch05-runtime
 * step a.
 *
 * The rule every leaf future follows, and the whole lesson of this step:
 * before it returns POLL_PENDING because it waits for a file descriptor, it
 * has registered that fd (runtime_register), so that block_on's sleep ends
 * when the fd is ready; and if it gives up at some time (a deadline), it has
 * said so during this poll (runtime_wake_by), so that the sleep ends then at
 * the latest. A future that breaks the rule is never polled again.
 *
 * block_on does not know which future an event belongs to: any event just
 * means "something happened, poll the top-level future again", and the
 * future finds out for itself what can make progress.
 *
 * Registrations are edge-triggered (EPOLLET is always added): the kernel
 * reports an fd when it *becomes* ready, once, so a future must read (or
 * write) until the call fails with EAGAIN before it returns POLL_PENDING.
 *
 * Single-threaded: every function must be called from the thread that called
 * runtime_init(). Functions that wrap system calls return 0 or -errno. */
#ifndef RUNTIME_H
#define RUNTIME_H

#include <stdint.h>

#include "future.h"
#include "poll.h"

/* Create the registry (poll_open) and room for its events. 0 or -errno. */
int runtime_init(void);

/* Close the registry. Every fd should have been deregistered by now. */
void runtime_close(void);

/* Ask to be woken when fd has one of `events` (EPOLLIN, EPOLLOUT, ...;
 * EPOLLET is added). The fd stays the caller's: deregister before closing. */
int runtime_register(int fd, uint32_t events);

/* Stop watching fd. */
int runtime_deregister(int fd);

/* Called during a poll that returns POLL_PENDING: poll again no later than
 * `deadline_ns` (a now_ns() time), even if no event comes. block_on forgets
 * it after that poll: a future that still has a deadline says so again. */
void runtime_wake_by(uint64_t deadline_ns);

/* Poll `future` until it is ready, sleeping in poll_wait whenever it is not
 * and printing "Schedule other tasks" each time. Writes the result to
 * *output (when not NULL), then drops the future. Returns the number of
 * times it slept, or -errno if poll_wait failed (the future is dropped
 * unfinished then). */
int block_on(struct future *future, void *output);

#endif
