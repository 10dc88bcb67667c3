/* poll.h: a small event queue over Linux epoll, in the shape mio made
 * familiar (Poll, Registry, Events). Introduced in ch02-epoll.
 *
 * The shape in one picture:
 *
 *     struct poll           owns the epoll file descriptor (the queue)
 *       .registry           the part you use to add, change and remove interest
 *     struct poll_events    a buffer that poll_wait() fills with ready events
 *
 * A registration says "tell me when fd becomes readable (or writable), and
 * hand me back this token when you do". The token is a plain uint64_t the
 * kernel stores and returns untouched: here it is the index of a request.
 *
 * Interest masks are the kernel's own EPOLL* flags, passed through as they
 * are, because the point of this chapter is to see raw epoll at work:
 *   EPOLLIN      wake me when there is something to read (or EOF)
 *   EPOLLOUT     wake me when a write would not block
 *   EPOLLRDHUP   also report that the peer closed its sending side
 *   EPOLLET      edge-triggered: report changes, not states (README)
 *   EPOLLONESHOT report once, then stay silent until poll_reregister()
 *
 * Every function that wraps a system call returns 0 (or a count) on success
 * and -errno on failure, so callers can compare against -EINTR, -ENOENT...
 * Nothing here prints or exits: what to do about an error is the caller's
 * decision. This file includes <sys/epoll.h>; note that "poll.h" in quotes
 * finds this file, while <poll.h> still means the C library's poll(2). */
#ifndef CH02_POLL_H
#define CH02_POLL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

/* Pass as timeout_ms to poll_wait() to wait until something happens. */
#define POLL_FOREVER (-1)

/* The registry: the half of the queue that adds, changes and removes
 * interest. It borrows the epoll fd from its struct poll and never closes
 * it. The kernel lets one thread call epoll_ctl while another sleeps in
 * epoll_wait on the same fd, so a registry may be used from any thread
 * (ch05's reactor relies on that). */
struct poll_registry {
    int epfd; /* the epoll fd; owned by the struct poll */
};

/* The queue itself. */
struct poll {
    struct poll_registry registry; /* registry.epfd is the queue's fd; -1 once closed */
};

/* A buffer of ready events, filled by poll_wait(). The items are the
 * kernel's struct epoll_event, which is packed (12 bytes) on x86-64 and
 * naturally aligned (16 bytes) elsewhere; see the README. */
struct poll_events {
    struct epoll_event *items; /* capacity slots, owned by this buffer */
    int capacity;              /* at most this many events per poll_wait() */
    int count;                 /* how many items the last poll_wait() filled */
};

/* ===== The queue ===== */

/* Create a queue (epoll_create1 with EPOLL_CLOEXEC, so a child started by
 * exec does not inherit it). On success the caller owns *p and must call
 * poll_close(). On failure *p is left closed (fd -1), and poll_close() on it
 * is a harmless no-op. */
int poll_open(struct poll *p);

/* Close the queue. Registrations die with it; the registered fds themselves
 * stay open and remain the caller's to close. Safe to call twice. After it,
 * the registry returned by poll_registry() is no longer valid. */
void poll_close(struct poll *p);

/* The queue's registry. The pointer is valid until poll_close(p). */
struct poll_registry *poll_registry(struct poll *p);

/* Wait until at least one registered fd has an event, or until timeout_ms
 * milliseconds pass (POLL_FOREVER: no limit; 0: just look). Fills
 * events->items and sets events->count; returns that count, 0 on timeout.
 * A signal that arrives while waiting makes this return -EINTR with
 * events->count 0: the caller decides whether to wait again, and if it uses
 * a timeout, how much of it is left. */
int poll_wait(struct poll *p, struct poll_events *events, int timeout_ms);

/* ===== Registrations ===== */

/* Start watching fd for the events in interest (EPOLL* flags). Every event
 * for fd carries token. fd stays owned by the caller; it must be
 * deregistered (or closed) before the caller forgets it. If fd is already
 * ready when it is registered, the first poll_wait() reports it at once, even
 * in edge-triggered mode. Fails with -EEXIST if fd is already registered. */
int poll_register(const struct poll_registry *r, int fd, uint64_t token, uint32_t interest);

/* Replace fd's token and interest. In edge-triggered and one-shot mode this
 * also re-arms it: if fd is ready now, the next poll_wait() reports it again.
 * Fails with -ENOENT if fd is not registered. */
int poll_reregister(const struct poll_registry *r, int fd, uint64_t token, uint32_t interest);

/* Stop watching fd. No event for it is reported by a later poll_wait(), but
 * events already copied into a struct poll_events stay there. Closing fd also
 * removes it, provided no other descriptor (from dup or fork) still refers to
 * the same open file. Fails with -ENOENT if fd is not registered. */
int poll_deregister(const struct poll_registry *r, int fd);

/* ===== Events ===== */

/* Give events room for capacity (>= 1) events at a time. Returns 0 or
 * -ENOMEM. On success the caller owns the buffer and frees it with
 * poll_events_free(); after that events->items is no longer valid. */
int poll_events_init(struct poll_events *events, int capacity);
void poll_events_free(struct poll_events *events);

/* The token that was registered with the event's fd. */
uint64_t poll_event_token(const struct epoll_event *event);

/* What happened: the EPOLL* bits the kernel reported. */
uint32_t poll_event_mask(const struct epoll_event *event);

/* Write the names of the bits in mask into buf (size bytes, always
 * NUL-terminated), e.g. "EPOLLIN|EPOLLRDHUP"; unknown bits show as hex and
 * an empty mask as "0". Returns buf so it can go straight into printf. */
const char *poll_mask_names(uint32_t mask, char *buf, size_t size);

#endif
