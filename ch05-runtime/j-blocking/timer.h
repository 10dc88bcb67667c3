/* timer.h: timer_sleep_ms(), a leaf future that completes after a delay,
 * built two ways on the reactor of step c. Introduced in ch05-runtime step e
 * (ch01's sleep_blocking_ms() blocks the thread; this one lets the thread
 * run other tasks while it waits).
 *
 *   TIMER_FD    one timerfd per sleep (timer-fd.c): the kernel keeps the
 *               timer, the fd is registered with the reactor like a socket,
 *               and the sleep is woken when it becomes readable. Simple, but
 *               every sleep costs a file descriptor, kernel memory and about
 *               seven system calls.
 *   TIMER_HEAP  one min-heap of deadlines for the whole program, and a single
 *               timerfd armed for the earliest one (timer-heap.c). A sleep is
 *               a heap entry: no file descriptor of its own, and a system
 *               call only when it becomes the earliest deadline.
 *
 * Both backends share the rules of every leaf future: the waker of the latest
 * poll is the one woken; a sleep never completes before its deadline, an
 * absolute time on CLOCK_MONOTONIC (common/clock.h's now_ns(), so changing
 * the wall clock does not matter); dropping a pending sleep cancels it. All
 * functions may be called from any thread between timer_start() and
 * timer_stop(). */
#ifndef TIMER_H
#define TIMER_H

#include <stdbool.h>
#include <stdint.h>

#include "future.h"

enum timer_backend {
    TIMER_FD,   /* one timerfd per sleep */
    TIMER_HEAP, /* one heap and one timerfd for all sleeps */
};

/* Choose the backend for every later sleep. For TIMER_HEAP this creates the
 * shared timerfd and registers it with the reactor, so the reactor must be
 * running. 0 or -errno. */
int timer_start(enum timer_backend backend);

/* Release the shared timerfd (if any). Every sleep must have completed or
 * been dropped (assert); call before reactor_stop(). */
void timer_stop(void);

/* The backend chosen by timer_start(), as a word for messages: "timerfd" or
 * "heap". */
const char *timer_backend_name(void);

/* A future that completes once now_ns() reaches `deadline_ns`; at its first
 * poll if that time has passed already. Its output is an `int`: 0, or
 * -errno if the timer could not be set up (e.g. -EMFILE when the process is
 * out of file descriptors). A failure is reported once per program on
 * stderr, and the sleep then completes at once. Futures are lazy: nothing
 * is set up before the first poll. */
struct future *timer_sleep_until(uint64_t deadline_ns);

/* timer_sleep_until(now + ms milliseconds). The deadline is fixed when the
 * future is created (as tokio's sleep() does), so it does not drift however
 * late the first poll comes; a coroutine creates it where it waits anyway. */
struct future *timer_sleep_ms(unsigned ms);

/* Has any sleep failed so far? */
bool timer_failed(void);

#endif
