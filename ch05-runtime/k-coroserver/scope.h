/* scope.h: a scope that owns tasks on executors. Its children come and go
 * while it is open (a server's connections), and closing it aborts every
 * child still there and waits until the last one has been dropped, so no
 * child outlives its scope. Introduced in ch05-runtime step k; step i's
 * scopes had a fixed set of children on a runtime of one thread, these are
 * tasks with join handles (step f) that can be aborted (step j).
 *
 *     struct scope *connections = scope_new();
 *     scope_spawn(connections, ex, serve_connection(c), conn_free, c, "connection %d", n);
 *     scope_close(connections).wait;    every connection aborted and dropped; c freed
 *
 * Each child runs as a task of its own, on the executor it was given. When
 * it finishes, or is aborted, its future is dropped on that executor's
 * thread, then its cleanup runs there: that is where whatever the child's
 * future cannot own is released (a coroutine's locals have no destructors;
 * a socket that the coroutine uses belongs in the cleanup's argument). Then
 * the child leaves the scope. All functions may be called from any thread;
 * a child may spawn into its own scope. */
#ifndef SCOPE_H
#define SCOPE_H

#include <stddef.h>

#include "executor.h"
#include "future.h"

struct scope;

/* An open scope with no children. The caller owns it; scope_close() is the
 * only way to end it. */
struct scope *scope_new(void);

/* Spawn `child` onto `ex` as a child of the open scope (assert), with its
 * output discarded; after its future has been dropped, cleanup(arg) runs
 * (unless cleanup is NULL). Takes ownership of `child`. `name`,
 * printf-style, is the child task's name in a trace (executor.h), and is
 * formatted only while a trace is being written. */
void scope_spawn(struct scope *scope, struct executor *ex, struct future *child,
                 void (*cleanup)(void *arg), void *arg, const char *name, ...)
    __attribute__((format(printf, 6, 7)));

/* How many children are in the scope right now. */
size_t scope_children(struct scope *scope);

/* A future that aborts every child still in the scope (join_abort), waits
 * until the last has left, and then frees the scope. Its output is
 * nothing. It must be awaited to the end (assert): dropping it early would
 * leave children that point at a scope nobody frees. */
struct future *scope_close(struct scope *scope);

#endif
