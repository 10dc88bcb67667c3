/* runtime.c: the registry (chapter 2's event queue, one for the whole
 * program) and a block_on that sleeps until the kernel reports an event or
 * a deadline passes, instead of polling in a loop. Introduced in
 * ch05-runtime step a. */
#include "runtime.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>

#include "../../common/clock.h"
#include "../../common/errors.h"
#include "../../common/trace.h"

#define MAX_EVENTS 16 /* events taken from the kernel per poll_wait */
#define NO_DEADLINE UINT64_MAX

static struct poll queue = {.registry = {.epfd = -1}};
static struct poll_events events;
static uint64_t wake_by = NO_DEADLINE; /* the earliest deadline of the current poll */

int runtime_init(void)
{
    assert(queue.registry.epfd == -1 && "runtime_init() called twice");
    int err = poll_open(&queue);
    if (err == 0 && (err = poll_events_init(&events, MAX_EVENTS)) < 0)
        poll_close(&queue);
    trace_thread("main"); /* the runtime's one thread, in a trace */
    return err;
}

void runtime_close(void)
{
    poll_events_free(&events);
    poll_close(&queue);
}

int runtime_register(int fd, uint32_t interest)
{
    /* The token is unused: any event means "poll the future again". */
    int err = poll_register(poll_registry(&queue), fd, (uint64_t) fd, interest | EPOLLET);
    if (err == 0)
        trace_register("fd %d%s%s", fd, interest & EPOLLIN ? " readable" : "",
                       interest & EPOLLOUT ? " writable" : "");
    return err;
}

int runtime_deregister(int fd)
{
    return poll_deregister(poll_registry(&queue), fd);
}

void runtime_wake_by(uint64_t deadline_ns)
{
    if (deadline_ns < wake_by)
        wake_by = deadline_ns;
}

/* How long poll_wait may sleep: until the deadline, in whole milliseconds
 * rounded up (never wake a little early and find nothing to do), or
 * POLL_FOREVER when there is none. */
static int timeout_ms(uint64_t deadline_ns)
{
    if (deadline_ns == NO_DEADLINE)
        return POLL_FOREVER;
    uint64_t now = now_ns();
    if (deadline_ns <= now)
        return 0;
    uint64_t ms = (deadline_ns - now + 999999) / 1000000;
    return ms > INT_MAX ? INT_MAX : (int) ms;
}

int block_on(struct future *future, void *output)
{
    /* In a trace (common/trace.h) the future is one task, "main". */
    uint64_t task = trace_enabled() ? trace_next_task_id() : 0;
    trace_spawn(task, "main");
    int sleeps = 0;
    for (;;) {
        wake_by = NO_DEADLINE; /* the poll says again what it waits for */
        trace_poll_begin(task, "main");
        enum poll_status status = future->poll(future, output);
        trace_poll_end(task, status == POLL_READY);
        if (status == POLL_READY)
            break;
        /* Not ready: the future has registered what it waits for. There is
           nothing else to run in this step, so sleep until the kernel says
           one of the registered fds is ready, or the deadline passes. Which
           one does not matter: the only thing to do is poll again. */
        printf("Schedule other tasks\n");
        sleeps++;
        /* LESSON sleep: Sleep in the registry until an event or wake_by; give up on an error.
         * hint: poll_wait(&queue, &events, timeout_ms(wake_by)) again while it
         *   says -EINTR, between trace_park_begin("epoll_wait") and trace_park_end();
         *   below 0, drop the future and return that error; 0 means the deadline
         *   passed (trace_timer("deadline")).
         * stub:
         *   (void) timeout_ms;
         *   lesson_missing("sleep"); */
        int n;
        trace_park_begin("epoll_wait");
        while ((n = poll_wait(&queue, &events, timeout_ms(wake_by))) == -EINTR)
            ; /* a signal is not an event: sleep again, for what is left */
        trace_park_end();
        if (n < 0) {
            future->drop(future);
            return n;
        }
        if (n == 0)
            trace_timer("deadline");
        /* END LESSON sleep */
        trace_wake(task, "main"); /* an event or the deadline: poll again */
    }
    future->drop(future);
    return sleeps;
}
