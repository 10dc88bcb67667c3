/* runtime.c: the registry (one epoll instance for the whole program) and a
 * block_on that sleeps until the kernel reports an event, instead of
 * polling in a loop. Introduced in ch05-runtime step a. */
#include "runtime.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <unistd.h>

#define MAX_EVENTS 16           /* events taken from the kernel per epoll_wait */

static int registry = -1;       /* the epoll fd; -1 before runtime_init() */

int runtime_init(void)
{
    assert(registry == -1 && "runtime_init() called twice");
    registry = epoll_create1(EPOLL_CLOEXEC);
    return registry < 0 ? -errno : 0;
}

void runtime_close(void)
{
    if (registry >= 0)
        close(registry);
    registry = -1;
}

int runtime_register(int fd, uint32_t events)
{
    struct epoll_event ev = { .events = events | EPOLLET, .data.fd = fd };
    return epoll_ctl(registry, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int runtime_deregister(int fd)
{
    return epoll_ctl(registry, EPOLL_CTL_DEL, fd, NULL) < 0 ? -errno : 0;
}

int block_on(struct future *future, void *output)
{
    struct epoll_event events[MAX_EVENTS];
    int sleeps = 0;
    while (future->poll(future, output) == POLL_PENDING) {
        /* Not ready: the future has registered what it waits for. There is
           nothing else to run in this step, so sleep until the kernel says
           one of the registered fds is ready. Which one does not matter:
           the only thing to do is poll the future again. */
        printf("Schedule other tasks\n");
        sleeps++;
        int n;
        while ((n = epoll_wait(registry, events, MAX_EVENTS, -1)) < 0 && errno == EINTR)
            ;                   /* a signal is not an event: sleep again */
        if (n < 0) {
            int err = -errno;
            future->drop(future);
            return err;
        }
    }
    future->drop(future);
    return sleeps;
}
