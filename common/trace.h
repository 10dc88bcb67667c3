/* trace.h: see what a runtime does, as a picture or as a log. Not a lesson:
 * the runtimes of the workbook call these functions at the moments that
 * matter (a task is polled, a thread parks, a waker fires), and the
 * environment decides what becomes of them:
 *
 *     ASYNC_TRACE unset or empty   nothing: each call is one branch, not taken
 *     ASYNC_TRACE=run.json         a Chrome trace-event file: open it in
 *                                  https://ui.perfetto.dev or chrome://tracing,
 *                                  or draw it with scripts/timeline
 *     ASYNC_TRACE=-                one short line per event on stderr:
 *                                      1042 us  [executor 1]  poll     task 3 fetch 2
 *     ASYNC_TRACE=run.json,-       both, from the same run
 *
 * A path that cannot be opened for writing stops the program before main()
 * with one line, "<program>: ASYNC_TRACE=<value>: <why>", and exit status 1:
 * whoever asked for a trace wants this run traced, not a run that quietly
 * writes nothing.
 *
 * The picture has one TRACK per thread (name it with trace_thread()). On a
 * track, SPANS have a beginning and an end and nest: a poll of a task, a park
 * (the thread sleeps in epoll_wait or on a condition variable). INSTANTS mark
 * a moment: a task spawned, an interest registered, a timer expired, a task
 * done or aborted. A WAKE is an instant too, and it draws an arrow (a
 * "flow") to the next poll of the task it woke, on whatever thread that
 * poll runs.
 *
 * Contracts:
 *  1. Every function may be called from any thread at any time, under any
 *     lock of the runtime: the library's own lock is held only inside these
 *     calls, which never call back into the runtime.
 *  2. Spans nest per track. trace_poll_end() closes the innermost span of the
 *     calling thread's track, which must be the poll of that same task, and
 *     trace_park_end() the innermost park (both assert it): a span is closed
 *     on the thread that opened it.
 *  3. Task ids are the runtime's: any number that names one task for the
 *     whole run (trace_next_task_id() hands out fresh ones). Names and
 *     formatted strings are copied during the call; pointers need not
 *     outlive it.
 *  4. A wake belongs to the next trace_poll_begin() of its task, whichever
 *     thread calls it. A wake that no poll follows (the task finished in the
 *     poll that was running when it came) draws no arrow.
 *  5. trace_close() writes what is left and closes the file; it runs by
 *     itself at exit if nobody called it. Spans still open then (a reactor
 *     parked forever in a detached thread) are closed at that moment. Events
 *     after trace_close() are dropped: call it once the threads that trace
 *     have finished, or parked for good.
 *  6. The JSON file is written as the run goes, and flushed at the end of
 *     each call, so a run that crashes leaves every event up to the crash
 *     (only the final "]}" is missing; scripts/timeline draws it anyway).
 *
 * Link it by naming it and what it uses in the step Makefile:
 * COMMON := ... trace clock errors. */
#ifndef COMMON_TRACE_H
#define COMMON_TRACE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* ===== Is tracing on? =====
 *
 * Set before main() runs (from ASYNC_TRACE), cleared by trace_close(). Each
 * call below reads it with one relaxed load (a plain mov on x86) and one
 * branch that __builtin_expect marks as not taken, so a runtime built with
 * tracing calls and run without ASYNC_TRACE pays next to nothing
 * (bench/trace measures it). */
extern atomic_bool trace_on;

#ifndef TRACE_COMPILED_OUT
static inline bool trace_enabled(void)
{
    return __builtin_expect(atomic_load_explicit(&trace_on, memory_order_relaxed), 0);
}
#else
/* Built with -DTRACE_COMPILED_OUT, every call below is the constant false
 * and compiles to nothing at all: the yardstick for what the branch costs
 * (bench/runtime runs a runtime built both ways). ASYNC_TRACE then does
 * nothing. */
static inline bool trace_enabled(void)
{
    return false;
}
#endif

/* The out-of-line halves: call the inline functions and macros below, not
 * these. */
void trace_do_thread(const char *format, ...) __attribute__((format(printf, 1, 2)));
int trace_do_track_new(const char *format, ...) __attribute__((format(printf, 1, 2)));
void trace_do_track_switch(int track);
void trace_do_spawn(uint64_t task, const char *name);
void trace_do_poll_begin(uint64_t task, const char *name);
void trace_do_poll_end(uint64_t task, bool ready);
void trace_do_abort(uint64_t task, const char *name);
void trace_do_wake(uint64_t task, const char *name);
void trace_do_park_begin(const char *what);
void trace_do_park_end(void);
void trace_do_register(const char *format, ...) __attribute__((format(printf, 1, 2)));
void trace_do_timer(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* ===== Tracks =====
 *
 * The formatted ones are macros, so that their arguments are not even
 * evaluated when tracing is off. */

/* Name the calling thread's track, printf-style: trace_thread("executor %d", n).
 * Call it first thing in every thread that traces (main included); a track
 * without a name shows as a bare number. Naming it again renames it. */
#define trace_thread(...)                                                                          \
    do {                                                                                           \
        if (trace_enabled())                                                                       \
            trace_do_thread(__VA_ARGS__);                                                          \
    } while (0)

/* For runtimes that run several flows of control on one thread (fibers): a
 * new named track that belongs to no thread. Returns its number (at least
 * 1), or 0 when tracing is off. */
#define trace_track_new(...) (trace_enabled() ? trace_do_track_new(__VA_ARGS__) : 0)

/* From now on the calling thread's events go to `track` (a number from
 * trace_track_new()), until the next switch; 0 means the thread's own track
 * again. A fiber runtime calls it where it switches stacks. */
static inline void trace_track_switch(int track)
{
    if (trace_enabled())
        trace_do_track_switch(track);
}

/* ===== Tasks ===== */

/* A fresh task id: 1, 2, 3, ... in the order of the calls, whichever the
 * thread. Not a trace call: it counts whether tracing is on or not (one
 * atomic increment), so a runtime can give every task an id for good. */
uint64_t trace_next_task_id(void);

/* Instant: task `task`, called `name`, was spawned (by the calling thread). */
static inline void trace_spawn(uint64_t task, const char *name)
{
    if (trace_enabled())
        trace_do_spawn(task, name);
}

/* Span: the calling thread starts polling task `task`. This is where the
 * arrows of the wakes that came since its last poll end. */
static inline void trace_poll_begin(uint64_t task, const char *name)
{
    if (trace_enabled())
        trace_do_poll_begin(task, name);
}

/* End of that span: the poll returned POLL_READY (ready) or POLL_PENDING.
 * After a ready poll an instant says the task is done. */
static inline void trace_poll_end(uint64_t task, bool ready)
{
    if (trace_enabled())
        trace_do_poll_end(task, ready);
}

/* Instant: task `task` was aborted, and the calling thread dropped its
 * future instead of polling it. Like the done after a ready poll, it ends
 * the task: no poll of it follows, and a wake that came for it since its
 * last poll draws no arrow. */
static inline void trace_abort(uint64_t task, const char *name)
{
    if (trace_enabled())
        trace_do_abort(task, name);
}

/* Instant, with an arrow to the task's next poll: the calling thread woke
 * task `task`. Call it where the wake makes the task runnable (where a
 * runtime queues it, or marks it to be polled again), not for a wake that
 * the runtime ignores (its task is already done). Inside a span the wake is
 * drawn at that point of the span; outside any span (a reactor thread after
 * epoll_wait) it gets a tiny span of its own, for the arrow to start from. */
static inline void trace_wake(uint64_t task, const char *name)
{
    if (trace_enabled())
        trace_do_wake(task, name);
}

/* ===== Parking, registrations, timers ===== */

/* Span: the calling thread is about to sleep until something happens;
 * `what` says where ("epoll_wait", "condvar"). */
static inline void trace_park_begin(const char *what)
{
    if (trace_enabled())
        trace_do_park_begin(what);
}

/* End of that span: the thread woke up. */
static inline void trace_park_end(void)
{
    if (trace_enabled())
        trace_do_park_end();
}

/* Instant, printf-style: an interest was registered with a reactor
 * (trace_register("fd %d readable", fd)). */
#define trace_register(...)                                                                        \
    do {                                                                                           \
        if (trace_enabled())                                                                       \
            trace_do_register(__VA_ARGS__);                                                        \
    } while (0)

/* Instant, printf-style: a timer expired (trace_timer("sleep %u ms", ms)). */
#define trace_timer(...)                                                                           \
    do {                                                                                           \
        if (trace_enabled())                                                                       \
            trace_do_timer(__VA_ARGS__);                                                           \
    } while (0)

/* ===== The end ===== */

/* Close the spans still open, finish and close the file, and turn tracing
 * off. Safe to call more than once, and with tracing off. Runs at exit by
 * itself (atexit) if nobody called it. */
void trace_close(void);

#endif
