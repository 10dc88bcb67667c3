/* udp.h: non-blocking UDP sockets whose receive and send are futures that
 * wait through the reactor. Introduced in ch05-runtime step h.
 *
 * A socket registers with the reactor once, on the first poll of the first
 * future that uses it, and stays registered until udp_close(). Every poll of
 * every future hands the reactor that poll's waker before trying the system
 * call, so the reactor always holds the waker of the task that waits now:
 *
 *     poll:  first use? reactor_register(fd, IN|OUT, waker) : reactor_set_waker
 *            recvmsg / sendto
 *            EAGAIN   -> POLL_PENDING (the reactor wakes us on the next edge)
 *            anything else (a datagram, an error) -> POLL_READY
 *
 * The reactor keeps ONE waker per registration, so at most one future may be
 * waiting on a socket at a time: one task uses a socket, receiving and
 * sending in turn. A second future that finds the socket taken by a waiting
 * one is a programming error (assert), not a silent lost wake-up.
 *
 * Errors are results, not messages: every function and every future reports
 * 0 or -errno, and the caller decides what to print.
 *
 * Loopback only. This workbook never sends a packet off the machine, and
 * these sockets enforce it: udp_open(), udp_connect() and udp_send_to()
 * refuse any address outside 127.0.0.0/8 with -EADDRNOTAVAIL. */
#ifndef UDP_H
#define UDP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "future.h"

#define UDP_MAX_PAYLOAD 65507 /* the largest datagram IPv4 can carry */

struct udp_socket;

/* What a udp_recv_from() future produces. */
struct udp_received {
    int error;               /* 0, or -errno (-ECONNREFUSED, ...): then nothing else is set */
    size_t len;              /* bytes stored in the caller's buffer */
    size_t datagram_len;     /* the datagram's real size: more than len when truncated */
    bool truncated;          /* the datagram did not fit; its tail is lost for good */
    struct sockaddr_in from; /* who sent it */
};

/* Parse "a.b.c.d:port" (an IPv4 literal and a port, 0..65535) into *addr.
 * 0, or -EINVAL when it is not that shape. */
int udp_parse_address(const char *text, struct sockaddr_in *addr);

/* Format addr as "a.b.c.d:port" into text (at least 22 bytes); returns text. */
char *udp_format_address(const struct sockaddr_in *addr, char *text);

/* Open a non-blocking UDP socket bound to `local` (port 0: the kernel picks
 * one; udp_local_address() tells which). On success stores the socket in
 * *out and returns 0; the caller owns it and must udp_close() it. On failure
 * returns -errno and stores nothing. No reactor is needed yet. */
int udp_open(const struct sockaddr_in *local, struct udp_socket **out);

/* Connect the socket to `peer`: from now on it only receives from `peer`,
 * udp_send_to(sock, ..., NULL) sends there, and an ICMP "port unreachable"
 * coming back (nobody listens at peer) makes the next receive or send
 * complete with -ECONNREFUSED. Without connect() Linux drops that ICMP
 * message silently. 0 or -errno. */
int udp_connect(struct udp_socket *sock, const struct sockaddr_in *peer);

/* The address the socket is bound to (with the port the kernel picked). */
struct sockaddr_in udp_local_address(const struct udp_socket *sock);

/* Deregister from the reactor, close and free. No future may use the socket
 * any more: drop its futures first (assert). After it `sock` is invalid. */
void udp_close(struct udp_socket *sock);

/* A future that receives one datagram into buf (cap bytes; 0 is allowed:
 * the datagram is then consumed and only its size reported). Its output is
 * a struct udp_received. A datagram longer than cap is truncated by the
 * kernel (MSG_TRUNC); the result says so and gives the real size. A
 * zero-length datagram is a datagram (len 0), not an end of file: UDP has
 * none. `sock` and `buf` must stay valid until the future is dropped. */
struct future *udp_recv_from(struct udp_socket *sock, void *buf, size_t cap);

/* A future that sends buf[0..len) as one datagram to `to` (copied), or to
 * the connected peer when `to` is NULL. Its output is an int: 0 once the
 * whole datagram is handed to the kernel (UDP never sends part of one), or
 * -errno: -EMSGSIZE above UDP_MAX_PAYLOAD, -ECONNREFUSED on a connected
 * socket whose peer is not there, -EDESTADDRREQ for NULL on an unconnected
 * socket, -EADDRNOTAVAIL outside 127.0.0.0/8. `sock` and `buf` must stay
 * valid until the future is dropped. */
struct future *udp_send_to(struct udp_socket *sock, const void *buf, size_t len,
                           const struct sockaddr_in *to);

#endif
