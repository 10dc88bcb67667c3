/* poll.c: the event queue of poll.h, one thin function per epoll call.
 * Introduced in ch02-epoll; the contract (ownership, errors) is in poll.h. */
#include "poll.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* On x86-64 the kernel packs struct epoll_event so that 64-bit and 32-bit
 * programs share one layout: 4 bytes of events, then 8 bytes of data with no
 * padding between them (12 bytes). Everywhere else the struct has its natural
 * C layout: data aligned like any uint64_t, so 16 bytes on aarch64 or
 * riscv64. The C library's header mirrors the kernel's choice; these checks
 * make sure the copy we compile against does. */
struct natural_epoll_event {
    uint32_t events;
    uint64_t data;
};
#if defined(__x86_64__)
_Static_assert(sizeof(struct epoll_event) == 12 && offsetof(struct epoll_event, data) == 4,
               "struct epoll_event is packed on x86-64");
#else
_Static_assert(sizeof(struct epoll_event) == sizeof(struct natural_epoll_event),
               "struct epoll_event has its natural layout off x86-64");
#endif

/* ===== The queue ===== */

int poll_open(struct poll *p)
{
    p->registry.epfd = epoll_create1(EPOLL_CLOEXEC);
    return p->registry.epfd < 0 ? -errno : 0;
}

void poll_close(struct poll *p)
{
    if (p->registry.epfd >= 0) {
        close(p->registry.epfd);
        p->registry.epfd = -1;
    }
}

struct poll_registry *poll_registry(struct poll *p)
{
    return &p->registry;
}

int poll_wait(struct poll *p, struct poll_events *events, int timeout_ms)
{
    if (timeout_ms < 0)
        timeout_ms = -1; /* epoll_wait's own spelling of "forever" */
    int n = epoll_wait(p->registry.epfd, events->items, events->capacity, timeout_ms);
    if (n < 0) {
        events->count = 0;
        return -errno; /* -EINTR included: see the caller's loop */
    }
    events->count = n;
    return n;
}

/* ===== Registrations ===== */

/* epoll_ctl with the token stored in the data field. The kernel copies the
 * struct, so a local one is enough. */
static int control(const struct poll_registry *r, int op, int fd, uint64_t token, uint32_t interest)
{
    /* LESSON register: Tell the kernel which events of fd to report, and with which token.
     * hint: Fill a struct epoll_event (events = interest, data.u64 = token)
     *   and pass it to epoll_ctl(r->epfd, op, fd, ...); return -errno on failure.
     * stub:
     *   (void) r, (void) op, (void) fd, (void) token, (void) interest;
     *   return -ENOSYS; */
    struct epoll_event event = {.events = interest, .data.u64 = token};
    return epoll_ctl(r->epfd, op, fd, &event) < 0 ? -errno : 0;
    /* END LESSON register */
}

int poll_register(const struct poll_registry *r, int fd, uint64_t token, uint32_t interest)
{
    return control(r, EPOLL_CTL_ADD, fd, token, interest);
}

int poll_reregister(const struct poll_registry *r, int fd, uint64_t token, uint32_t interest)
{
    return control(r, EPOLL_CTL_MOD, fd, token, interest);
}

int poll_deregister(const struct poll_registry *r, int fd)
{
    /* Linux before 2.6.9 wanted a non-NULL event even here; passing one
     * costs nothing. */
    return control(r, EPOLL_CTL_DEL, fd, 0, 0);
}

/* ===== Events ===== */

int poll_events_init(struct poll_events *events, int capacity)
{
    assert(capacity >= 1);
    events->items = calloc((size_t) capacity, sizeof *events->items);
    events->capacity = events->items ? capacity : 0;
    events->count = 0;
    return events->items ? 0 : -ENOMEM;
}

void poll_events_free(struct poll_events *events)
{
    free(events->items);
    events->items = NULL;
    events->capacity = events->count = 0;
}

/* The event may be packed, so read its fields by value: a pointer to
 * event->data.u64 could be misaligned (gcc warns if you take one). */
uint64_t poll_event_token(const struct epoll_event *event)
{
    return event->data.u64;
}

uint32_t poll_event_mask(const struct epoll_event *event)
{
    return event->events;
}

/* Append text to the string in buf (size >= 1 bytes, used of them taken),
 * cutting it short rather than overflowing. Returns the new length. */
static size_t append(char *buf, size_t size, size_t used, const char *text)
{
    while (*text != '\0' && used + 1 < size)
        buf[used++] = *text++;
    buf[used] = '\0';
    return used;
}

const char *poll_mask_names(uint32_t mask, char *buf, size_t size)
{
    static const struct {
        uint32_t bit;
        const char *name;
    } names[] = {
        {EPOLLIN, "EPOLLIN"},         {EPOLLPRI, "EPOLLPRI"},       {EPOLLOUT, "EPOLLOUT"},
        {EPOLLERR, "EPOLLERR"},       {EPOLLHUP, "EPOLLHUP"},       {EPOLLRDNORM, "EPOLLRDNORM"},
        {EPOLLRDBAND, "EPOLLRDBAND"}, {EPOLLWRNORM, "EPOLLWRNORM"}, {EPOLLWRBAND, "EPOLLWRBAND"},
        {EPOLLMSG, "EPOLLMSG"},       {EPOLLRDHUP, "EPOLLRDHUP"},
    };
    size_t used = 0;
    int named = 0;

    assert(size >= 1);
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (mask & names[i].bit) {
            used = append(buf, size, used, named++ ? "|" : "");
            used = append(buf, size, used, names[i].name);
            mask &= ~names[i].bit;
        }
    }
    if (mask != 0 || named == 0) { /* bits we have no name for, or none at all */
        char hex[16];
        snprintf(hex, sizeof hex, "%#x", (unsigned) mask);
        used = append(buf, size, used, named ? "|" : "");
        append(buf, size, used, hex);
    }
    return buf;
}
