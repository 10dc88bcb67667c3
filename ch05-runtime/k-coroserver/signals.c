/* signals.c: a signalfd registered with the reactor, and the future that
 * reads the next signal from it (signals.h is the contract). Introduced in
 * ch05-runtime step k. */
#include "signals.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "../../common/alloc.h"
#include "../../common/trace.h"
#include "reactor.h"

struct signals {
    int fd;          /* the signalfd, non-blocking */
    bool registered; /* the reactor knows fd under `token` */
    uint64_t token;
};

int signals_block(const sigset_t *set)
{
    return -pthread_sigmask(SIG_BLOCK, set, NULL);
}

int signals_open(const sigset_t *set, struct signals **out)
{
    int fd = signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct signals *watch = malloc(sizeof *watch);
    if (watch == NULL) {
        close(fd);
        return -ENOMEM;
    }
    *watch = (struct signals){.fd = fd, .registered = false};
    *out = watch;
    return 0;
}

void signals_close(struct signals *watch)
{
    if (watch->registered)
        reactor_deregister(watch->fd, watch->token); /* before close: see tcp.c */
    close(watch->fd);
    free(watch);
}

/* The signal's number, -EAGAIN when none is waiting, or -errno. */
static int read_signal(int fd)
{
    struct signalfd_siginfo info;
    for (;;) {
        ssize_t n = read(fd, &info, sizeof info);
        if (n == (ssize_t) sizeof info)
            return (int) info.ssi_signo;
        if (n >= 0)
            return -EIO; /* a signalfd hands out whole records only */
        if (errno != EINTR)
            return errno == EAGAIN ? -EAGAIN : -errno;
    }
}

struct next_signal {
    struct future base; /* first: a struct future * points here */
    struct signals *watch;
};

/* As every leaf of this chapter: hand the reactor this poll's waker, then
 * look. */
static enum poll_status next_poll(struct future *self, const struct waker *waker, void *output)
{
    struct signals *watch = ((struct next_signal *) self)->watch;
    int result = 0;
    if (!watch->registered) {
        result = reactor_register(watch->fd, EPOLLIN, waker, &watch->token);
        watch->registered = result == 0;
        trace_register("fd %d is the signalfd", watch->fd);
    } else {
        reactor_set_waker(watch->token, waker);
    }
    if (result == 0)
        result = read_signal(watch->fd);
    if (result == -EAGAIN)
        return POLL_PENDING;
    if (output != NULL)
        *(int *) output = result;
    return POLL_READY;
}

static void next_drop(struct future *self)
{
    free(self);
}

struct future *signals_next(struct signals *watch)
{
    struct next_signal *next = xmalloc(sizeof *next);
    *next = (struct next_signal){.base = {next_poll, next_drop}, .watch = watch};
    return &next->base;
}
