/* signals.h: stop signals as a future. SIGINT and SIGTERM arrive through a
 * signalfd, which the reactor watches like a socket, so a task can await
 * "the next stop signal" while every other task goes on. Introduced in
 * ch05-runtime step k (delayserver/server.c reads the same kind of fd in
 * its loop).
 *
 * A signal reaches a signalfd only while no thread would take it the old
 * way: block the signals in the first thread before it starts any other
 * (threads inherit the mask), then open the watch. Functions that wrap
 * system calls return 0 or -errno. */
#ifndef SIGNALS_H
#define SIGNALS_H

#include <signal.h>

#include "future.h"

struct signals;

/* Block `set` in the calling thread, and in every thread it starts from
 * now on. 0 or -errno. */
int signals_block(const sigset_t *set);

/* A watch on the blocked signals of `set`. On success stores it in *out and
 * returns 0; the caller owns it and must signals_close() it. */
int signals_open(const sigset_t *set, struct signals **out);

/* A future that completes when one of the watched signals arrives (or has
 * arrived since the watch was opened). Its output is an int: the signal's
 * number, or -errno. `watch` must outlive the future; one future at a
 * time. */
struct future *signals_next(struct signals *watch);

/* Deregister, close and free the watch; its future must be gone. */
void signals_close(struct signals *watch);

#endif
