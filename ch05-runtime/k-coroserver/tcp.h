/* tcp.h: TCP listeners and connected streams whose accept, read and write
 * are futures that wait through the reactor. Introduced in ch05-runtime
 * step k; they follow h-udp's sockets.
 *
 * A socket registers with the reactor once, on the first poll of the first
 * future that uses it, and stays registered until it is closed. Every poll
 * of every future hands the reactor that poll's waker before it tries the
 * system call, so the reactor always holds the waker of the task that
 * waits now:
 *
 *     poll:  first use? reactor_register(fd, events, waker)
 *                     : reactor_take_events(token, waker)
 *            accept4 / read / sendmsg, if the events say it can succeed
 *            EAGAIN   -> POLL_PENDING (the reactor wakes us on the next edge)
 *            anything else (bytes, a socket, an error) -> POLL_READY
 *
 * The reactor keeps ONE waker per registration, so at most one future may
 * wait on a socket at a time: the task that owns a stream reads, waits and
 * writes in turn. A second future that finds the socket taken by a waiting
 * one is a programming error (assert), not a silent lost wake-up.
 *
 * Errors are results, not messages: every function and every future
 * reports -errno, and the caller decides what to do. Dropping a future
 * cancels it: whatever it had not done is not done, and the socket stays
 * open and registered for the next future. */
#ifndef TCP_H
#define TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "future.h"

#define TCP_WRITE_IOV_MAX 4 /* pieces a tcp_write() gathers into one send */

struct tcp_listener;
struct tcp_stream;

/* ===== Listening ===== */

/* Listen on host:port (an IPv4 or IPv6 literal; port 0: the kernel picks
 * one), with TCP_NODELAY set for every accepted stream. On success stores
 * the listener in *out and returns 0; the caller owns it and must
 * tcp_listener_close() it. On failure returns -errno and stores nothing
 * (-EINVAL for a host that is not an address). */
int tcp_listen(const char *host, unsigned port, struct tcp_listener **out);

/* The address the listener is bound to, as "127.0.0.1:8080" or
 * "[::1]:8080", in text (room for `size` bytes). 0 or -errno. */
int tcp_listener_address(const struct tcp_listener *listener, char *text, size_t size);

/* A future that accepts the next connection. Its output is an int: the new
 * socket (non-blocking, close-on-exec; the caller owns it: tcp_stream_new()
 * or close()), or -errno: -EMFILE and -ENFILE when the process or the
 * system is out of descriptors (the client stays in the kernel's queue),
 * -ENOBUFS or -ENOMEM, or an error that belongs to that one client
 * (-ECONNABORTED, ...). `listener` must outlive the future. */
struct future *tcp_accept(struct tcp_listener *listener);

/* Deregister, close and free. No future may use the listener any more. */
void tcp_listener_close(struct tcp_listener *listener);

/* ===== Streams ===== */

/* Take over a connected non-blocking socket (from tcp_accept). NULL when
 * out of memory; the socket is then still the caller's. */
struct tcp_stream *tcp_stream_new(int fd);

/* Deregister, close and free. No future may use the stream any more (drop
 * them first, assert). After it `stream` is invalid. */
void tcp_stream_close(struct tcp_stream *stream);

/* A future that reads what has arrived, up to cap bytes, into buf. Its
 * output is a ssize_t: the number of bytes (at least 1), 0 once the peer
 * has closed its side, or -errno (-ECONNRESET, ...). `stream` and `buf`
 * must outlive the future. */
struct future *tcp_read(struct tcp_stream *stream, void *buf, size_t cap);

/* A future that sends every byte of the `count` pieces in iov (at most
 * TCP_WRITE_IOV_MAX; the array is copied, the bytes are not), waiting
 * whenever the socket's buffer is full. Its output is a ssize_t: the total
 * sent, or -errno (-EPIPE, -ECONNRESET: the peer is gone). Never raises
 * SIGPIPE. The bytes must outlive the future. */
struct future *tcp_write(struct tcp_stream *stream, const struct iovec *iov, int count);

/* A future that completes when the peer hangs up: it shut its sending
 * side, closed the connection or reset it. Bytes that arrive meanwhile stay
 * unread. Its output is a ssize_t: 0. */
struct future *tcp_hangup(struct tcp_stream *stream);

/* Has the peer sent nothing that has not been read, or only its own close?
 * One look, without waiting. */
bool tcp_nothing_unread(struct tcp_stream *stream);

/* Shut our sending side: the peer reads the end of the stream after what
 * was sent. 0 or -errno. */
int tcp_shutdown_write(struct tcp_stream *stream);

#endif
