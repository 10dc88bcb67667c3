/* executor.h: runs tasks on the calling thread, polling a task only when its
 * waker said it can make progress, and sleeping in the reactor when no task
 * can. Introduced in ch05-runtime step b.
 *
 * One executor lives on a thread for the duration of executor_block_on() and
 * is found through thread-local storage, so code deep inside a task can call
 * executor_spawn() without being handed the executor.
 *
 * A task is a spawned future plus the bookkeeping that lets a waker find it
 * again: a reference count, a link in the ready queue, and a counted pointer
 * to the executor's shared part (the ready queue and its lock). Wakers hold
 * references, not raw pointers, so a waker that outlives its task or its
 * executor stays safe to wake and drop, from any thread (waker.h). */
#ifndef EXECUTOR_H
#define EXECUTOR_H

#include "future.h"

/* Run `main` as the first task on this thread's new executor, then every
 * task spawned while it runs, until all of them have finished. Takes
 * ownership of `main` (and of everything spawned): each future is dropped as
 * soon as it returns POLL_READY; tasks' results are discarded. When the
 * ready queue is empty the thread sleeps in reactor_wait() (reactor.h),
 * whose events and deadlines wake tasks, printing
 *     <name>: <n> pending tasks. Sleep until notified.
 * and, at the end,
 *     <name>: All tasks are finished
 * The reactor must be open. `name` is copied (at most 31 bytes are kept);
 * in a trace it names this thread and the task `main`.
 * Not reentrant: calling it from inside a task is a programming error
 * (assert). */
void executor_block_on(const char *name, struct future *main);

/* Hand `future` to the executor of the calling thread, which owns it from
 * now on and polls it soon. Only valid inside executor_block_on() (assert).
 * `name`, printf-style, is what a trace calls the task (common/trace.h):
 * executor_spawn(request(i), "request %d", i); NULL calls it "task <n>".
 * It is formatted only while a trace is being written. */
void executor_spawn(struct future *future, const char *name, ...)
    __attribute__((format(printf, 2, 3)));

/* The name of the calling thread's executor; only valid inside
 * executor_block_on() (assert). */
const char *executor_name(void);

#endif
