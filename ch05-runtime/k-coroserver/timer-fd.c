/* timer-fd.c: the first backend of timer.h, one timerfd per sleep.
 * Introduced in ch05-runtime step e.
 *
 * The kernel does all the timekeeping: timerfd_create() makes a file that
 * becomes readable when its timer expires, and the reactor watches it like
 * any socket. System calls per sleep: timerfd_create, timerfd_settime,
 * epoll_ctl(ADD), read (EAGAIN on the first poll), read (the expiry count),
 * epoll_ctl(DEL), close. */

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "../../common/alloc.h"
#include "../../common/clock.h"
#include "../../common/trace.h"
#include "reactor.h"
#include "timer-backend.h"

struct fd_sleep {
    struct future base; /* first member: a struct future * points here */
    uint64_t deadline;  /* when to complete, CLOCK_MONOTONIC ns */
    bool started;       /* the first poll has happened */
    int fd;             /* the timerfd; -1 when none */
    uint64_t token;     /* its registration with the reactor (fd >= 0) */
};

static void fd_sleep_close(struct fd_sleep *s)
{
    if (s->fd < 0)
        return;
    reactor_deregister(s->fd, s->token); /* before close: see http.c */
    close(s->fd);
    s->fd = -1;
}

/* Create the timerfd, start its countdown, and register it. 0 or -errno. */
static int fd_sleep_start(struct fd_sleep *s, const struct waker *waker)
{
    s->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (s->fd < 0)
        return -errno;
    /* An absolute time. If it passes before the registration below,
       EPOLL_CTL_ADD still reports it: epoll looks at the current state of
       an fd when it is added. */
    struct itimerspec when = {.it_value = timer_timespec(s->deadline)};
    int err = 0;
    if (timerfd_settime(s->fd, TFD_TIMER_ABSTIME, &when, NULL) < 0)
        err = -errno;
    else
        err = reactor_register(s->fd, EPOLLIN, waker, &s->token);
    if (err < 0) {
        close(s->fd);
        s->fd = -1;
    }
    return err;
}

static enum poll_status fd_sleep_poll(struct future *self, const struct waker *waker, void *output)
{
    struct fd_sleep *s = (struct fd_sleep *) self;
    int err;

    /* As in http.c: hand the reactor this poll's waker, then look. */
    if (!s->started) {
        s->started = true;
        if (s->deadline <= now_ns()) /* due already: no timer needed */
            return timer_finish(output, 0);
        if ((err = fd_sleep_start(s, waker)) < 0) {
            timer_report("cannot set up a timerfd", -err);
            return timer_finish(output, err);
        }
    } else {
        reactor_set_waker(s->token, waker);
    }

    uint64_t expirations;
    if (read(s->fd, &expirations, sizeof expirations) == sizeof expirations) {
        trace_timer("timerfd %d expired", s->fd);
        fd_sleep_close(s); /* expired: the fd has done its job */
        return timer_finish(output, 0);
    }
    if (errno == EAGAIN) /* not yet: the reactor will wake us */
        return POLL_PENDING;
    err = -errno;
    timer_report("cannot read a timerfd", -err);
    fd_sleep_close(s);
    return timer_finish(output, err);
}

static void fd_sleep_drop(struct future *self)
{
    struct fd_sleep *s = (struct fd_sleep *) self;
    fd_sleep_close(s); /* a pending sleep is cancelled */
    free(s);
}

struct future *timer_fd_sleep(uint64_t deadline)
{
    struct fd_sleep *s = xmalloc(sizeof *s);
    *s = (struct fd_sleep){.base = {fd_sleep_poll, fd_sleep_drop}, .deadline = deadline, .fd = -1};
    return &s->base;
}
