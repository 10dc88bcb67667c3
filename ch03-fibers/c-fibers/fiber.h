/*
 * ch03-fibers/c-fibers/fiber.h: a tiny runtime of stackful coroutines
 * ("fibers") that take turns on one thread. Introduced in step c of chapter 3.
 *
 * The thread that uses the runtime is fiber 0, the main fiber, on its own
 * stack; every other fiber runs on a stack of its own. A fiber runs until it
 * calls fiber_yield, which hands the CPU to the next ready fiber in table
 * order; nothing ever preempts it. One runtime per process, used from one
 * thread. The first fiber_spawn also installs a SIGSEGV handler (on an
 * alternate signal stack) that reports a fiber overflowing its stack.
 * Run a program with ASYNC_TRACE=run.json (or =-) to see the fibers take
 * turns: ../../common/trace.h, and "Tracing" in fiber.c.
 */
#ifndef FIBER_H
#define FIBER_H

#include <stdbool.h>
#include <stddef.h>

/* Table slots, including the main fiber 0. A program that needs more fibers
 * builds fiber.c with -DFIBER_MAX=<n> (bench/models does). */
#ifndef FIBER_MAX
#define FIBER_MAX 8
#endif

#ifdef BUG_SMALL_STACK
#define FIBER_STACK_SIZE 4096 /* exercise 4 (README.md) */
#else
#define FIBER_STACK_SIZE (64 * 1024) /* usable bytes of each fiber's stack */
#endif

/* The body of a fiber. When it returns, the fiber is finished and its slot
 * (and stack) can be reused by the next fiber_spawn. */
typedef void (*fiber_fn)(void *data);

/* Start a fiber that will call fn(data) when its turn comes; it does not run
 * before the caller yields. The caller owns `data` and must keep it valid
 * until fn is done with it. Returns the new fiber's id (1 .. FIBER_MAX-1),
 * -EAGAIN when every slot is taken, or another -errno when a stack or the
 * overflow handler could not be set up (-ENOMEM, typically). On an error
 * nothing was spawned and fn is never called. May be called from the main
 * fiber or from any running fiber. */
int fiber_spawn(fiber_fn fn, void *data);

/* Let the next ready fiber run; returns when the caller's turn comes again.
 * Returns true if another fiber ran, false (at once) if no other fiber was
 * ready, which in the main fiber means every spawned fiber has finished. */
bool fiber_yield(void);

/* Called from the main fiber: yield until every spawned fiber has finished,
 * then release their stacks. Fibers may spawn more fibers meanwhile. */
void fiber_run(void);

/* The id of the running fiber: 0 for the main fiber. */
int fiber_self(void);

#endif /* FIBER_H */
