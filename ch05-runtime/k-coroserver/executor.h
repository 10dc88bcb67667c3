/* executor.h: runs tasks on the calling thread, polling a task only when its
 * waker said it can make progress; spawning returns a join handle through
 * which the task's result comes back. Introduced in ch05-runtime step b;
 * step f adds join handles, spawning onto another thread's executor, and a
 * task state kept in one atomic word; step j aborting a task through its
 * handle, a cooperative yield, and a thread pool for blocking calls.
 *
 * An executor drives its tasks on one thread at a time, the thread that
 * calls executor_run() (or executor_block_on()). While it runs it is found
 * through thread-local storage, so code deep inside a task can call
 * executor_spawn() without being handed the executor. Other threads spawn
 * onto it with executor_spawn_on(). Tasks never move between executors.
 *
 * A task is a spawned future plus what a waker and a join handle need to
 * find it again: one atomic word holding its state flags and its reference
 * count, a link in the ready queue, a slot for the waker of whoever awaits
 * it, and room for its result. Wakers and join handles hold references, not
 * raw pointers, so either may outlive the task's end or its executor's. */
#ifndef EXECUTOR_H
#define EXECUTOR_H

#include <stdbool.h>
#include <stddef.h>

#include "future.h"

struct executor;

/* ===== Executors ===== */

/* A new executor with no tasks, not running yet. `name` is copied (at most
 * 31 bytes are kept); in a trace it names the thread that runs it. The
 * caller owns the returned reference: hand it to executor_free() once
 * executor_run() has returned. */
struct executor *executor_new(const char *name);

/* Drive `ex` on the calling thread: poll its ready tasks, sleep on a
 * condition variable while none is ready, and return once
 * executor_shutdown() has been called and every task has finished. Each
 * future is dropped as soon as it returns POLL_READY. One thread at a time;
 * not reentrant (assert). */
void executor_run(struct executor *ex);

/* From now on executor_run(ex) returns as soon as it has no task left.
 * Callable from any thread. After it only `ex`'s own tasks may spawn onto
 * it (assert): a task arriving after run returned would never be polled. */
void executor_shutdown(struct executor *ex);

/* Give back the reference executor_new() returned, after executor_run(ex)
 * has returned. Task structs still held by wakers or join handles keep the
 * memory alive until they let go too. */
void executor_free(struct executor *ex);

/* new + spawn `main` (detached, its result discarded) + shutdown + run +
 * free: run `main` and everything it spawns here on this thread, and
 * return when all of them have finished. Takes ownership of `main`, which
 * a trace calls `name` too. */
void executor_block_on(const char *name, struct future *main);

/* The name of the calling thread's executor; only valid inside a task
 * (assert). */
const char *executor_name(void);

/* How many task structs are allocated right now, in the whole program.
 * For tests and the curious: 0 once every executor has finished and every
 * handle and waker has been dropped, or something leaked. */
size_t executor_live_tasks(void);

/* ===== Spawning and join handles =====
 *
 * executor_spawn() hands `future` to the calling thread's executor (only
 * valid inside a task, assert); executor_spawn_on() to `ex` from any thread
 * (inside one of ex's tasks, or before executor_shutdown(ex)). Either way
 * the executor owns the future from now on and polls it soon, with an
 * output buffer of `output_size` bytes (aligned for any type) that the
 * future writes its result into. Pass sizeof(T) for a future producing a T,
 * 0 for one producing nothing. `name`, printf-style, is what a trace calls
 * the task (common/trace.h), as in executor_spawn(f(i), sizeof(T), "f %d",
 * i); NULL calls it "task <n>". It is formatted only while a trace is
 * being written.
 *
 * Both return a JOIN HANDLE, itself a future (waker flavour) whose output is
 * that result: awaiting it as `T x = executor_spawn(f(), sizeof(T), "f").wait;`
 * copies the T into x once the task has finished, whichever thread ran it.
 * A handle is polled from one task at a time, and must not be polled again
 * after POLL_READY (as any future).
 *
 * Dropping the handle (handle->drop(handle), or join_detach(handle))
 * DETACHES the task: it still runs to completion, and its result is thrown
 * away. The result is copied bytes: a result that owns memory (a malloc'd
 * string) leaks if nobody awaits it. */
struct future *executor_spawn(struct future *future, size_t output_size, const char *name, ...)
    __attribute__((format(printf, 3, 4)));
struct future *executor_spawn_on(struct executor *ex, struct future *future, size_t output_size,
                                 const char *name, ...) __attribute__((format(printf, 4, 5)));

/* Has the task behind this join handle finished (its result is there, and
 * awaiting the handle will not wait)? Callable from any thread. */
bool join_is_finished(struct future *handle);

/* Drop a join handle without awaiting it: the task runs on, detached. */
void join_detach(struct future *handle);

/* ===== Aborting =====
 *
 * join_abort() asks the task behind `handle` to stop, from any thread, and
 * returns at once. Unless the task has finished already (then nothing
 * changes, and its result stands), its executor drops its future at the
 * task's next turn instead of polling it: everything the future owns is
 * released then (a socket closed, a timer cancelled, a registration gone),
 * on the executor's thread, as drop always is. The handle stays the
 * caller's: awaiting it completes once the future has been dropped, with
 * zero bytes as the result (0, NULL, false). An abort that arrives while
 * the task is in the poll that finishes it comes too late. A blocking call
 * (below) can only be stopped before a thread has started it. Aborting
 * twice is allowed; aborting after dropping the handle is not possible. */
void join_abort(struct future *handle);

/* Did the task end because it was aborted (its future dropped unfinished)?
 * False while it is still running, and for a task that finished first. */
bool join_is_aborted(struct future *handle);

/* ===== Yielding =====
 *
 * A future that lets every other ready task of this executor run before
 * the awaiting task goes on: `yield_now().wait;` in a long loop keeps one
 * task from holding the executor's thread for the whole loop. Its output
 * is nothing. */
struct future *yield_now(void);

/* ===== Blocking calls =====
 *
 * spawn_blocking() runs fn(arg, output) on a thread of a small pool (up to
 * BLOCKING_THREADS, started when needed), never on an executor's thread, and
 * returns a join handle like executor_spawn()'s: awaiting it gives the
 * output_size bytes fn wrote to `output` (NULL when output_size is 0), and
 * the awaiting task sleeps meanwhile, so its executor runs other tasks.
 * For work that blocks its thread: a blocking system call, a library that
 * has no non-blocking interface, a long computation. `arg` must stay valid
 * until fn has returned, even if the handle is dropped (the call then
 * still runs) or aborted (a call already running runs to its end). Callable
 * from any thread, until blocking_pool_shutdown(). `name` is the call's
 * name in a trace, as executor_spawn()'s, where each pool thread has a
 * track of its own ("blocking 1", ...) and the call's run is a poll. */
#ifdef BUG_ONE_BLOCKING_THREAD /* exercise 2 (README.md) */
#define BLOCKING_THREADS 1
#else
#define BLOCKING_THREADS 4 /* the most threads the pool starts */
#endif

typedef void blocking_fn(void *arg, void *output);
struct future *spawn_blocking(blocking_fn *fn, void *arg, size_t output_size, const char *name, ...)
    __attribute__((format(printf, 4, 5)));

/* Let the pool run every call still queued, then stop its threads and wait
 * for them. After it, spawn_blocking() is a programming error (assert). */
void blocking_pool_shutdown(void);

#endif
