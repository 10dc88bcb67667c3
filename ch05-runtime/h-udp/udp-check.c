/* udp-check.c: a test driver for ch05-runtime step h: the edges of the UDP
 * futures (truncation at exactly the buffer's size, empty datagrams, a
 * refused peer, addresses off the loopback, waiting and waking). Polls the
 * futures by hand with a waker that counts, over the real reactor. Prints
 * one line per check that passed; the first that fails prints FAILED and
 * exits 1. Every address it uses is in 127.0.0.0/8, or is refused before
 * a packet could leave. */
#include <arpa/inet.h>
#include <errno.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "future.h"
#include "reactor.h"
#include "udp.h"

static void check(bool ok, const char *what)
{
    if (!ok) {
        printf("FAILED: %s\n", what);
        exit(1);
    }
}

/* ===== A waker that counts and posts a semaphore =====
 *
 * It lives for the whole program, so clone and drop need no count. */

static atomic_int wakes;
static sem_t woken;

static const struct waker_vtable counting_vtable;

static struct waker counting_clone(void *data)
{
    return (struct waker){data, &counting_vtable};
}

static void counting_drop(void *data)
{
    (void) data;
}

static void counting_wake_by_ref(void *data)
{
    (void) data;
    atomic_fetch_add(&wakes, 1);
    sem_post(&woken);
}

static void counting_wake(void *data)
{
    counting_wake_by_ref(data);
}

static const struct waker_vtable counting_vtable = {
    .clone = counting_clone,
    .wake = counting_wake,
    .wake_by_ref = counting_wake_by_ref,
    .drop = counting_drop,
};
static struct waker test_waker = {.data = NULL, .vtable = &counting_vtable};

/* Wait up to two seconds for a wake-up. */
static bool wait_for_wake(void)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 2;
    while (sem_timedwait(&woken, &until) < 0)
        if (errno != EINTR)
            return false;
    return true;
}

/* Wait up to two seconds for a wake-up counted after `seen` (a value of
 * `wakes` read earlier). A token left by a stray wake-up of an earlier future
 * is taken and ignored instead of being mistaken for the one awaited. */
static bool wait_for_wake_after(int seen)
{
    while (atomic_load(&wakes) <= seen)
        if (!wait_for_wake())
            return false;
    return true;
}

/* Poll f to completion, sleeping until woken after each PENDING, and drop
 * it. Returns how many times it said PENDING. */
static int run(struct future *f, void *output)
{
    int not_ready = 0;
    while (f->poll(f, &test_waker, output) == POLL_PENDING) {
        not_ready++;
        check(wait_for_wake(), "a future said PENDING and was never woken");
    }
    f->drop(f);
    return not_ready;
}

/* ===== Sockets for the checks ===== */

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t) port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    return a;
}

static struct udp_socket *open_loopback(void)
{
    struct sockaddr_in any = loopback(0);
    struct udp_socket *sock;
    check(udp_open(&any, &sock) == 0, "udp_open on 127.0.0.1:0");
    return sock;
}

static int send_to(struct udp_socket *from, const void *buf, size_t len, struct udp_socket *to)
{
    struct sockaddr_in addr = udp_local_address(to);
    int err = -1;
    run(udp_send_to(from, buf, len, &addr), &err);
    return err;
}

static struct udp_received receive(struct udp_socket *sock, void *buf, size_t cap)
{
    struct udp_received got;
    run(udp_recv_from(sock, buf, cap), &got);
    return got;
}

/* ===== The checks ===== */

static void truncation(void)
{
    struct udp_socket *a = open_loopback(), *b = open_loopback();
    char buf[8];
    check(send_to(a, "12345678", 8, b) == 0, "send 8 bytes");
    struct udp_received got = receive(b, buf, sizeof buf);
    check(got.error == 0 && got.len == 8 && got.datagram_len == 8 && !got.truncated,
          "8 bytes into an 8-byte buffer arrive whole");
    check(send_to(a, "123456789", 9, b) == 0, "send 9 bytes");
    got = receive(b, buf, sizeof buf);
    check(got.error == 0 && got.len == 8 && got.datagram_len == 9 && got.truncated &&
              memcmp(buf, "12345678", 8) == 0,
          "9 bytes into an 8-byte buffer: 8 kept, truncated, real size 9");
    struct sockaddr_in from_a = udp_local_address(a);
    check(got.from.sin_port == from_a.sin_port &&
              got.from.sin_addr.s_addr == from_a.sin_addr.s_addr,
          "the sender's address comes with the datagram");
    udp_close(a);
    udp_close(b);
    printf("a datagram of exactly the buffer's size arrives whole; one byte more is reported "
           "truncated\n");
}

static void empty_datagrams(void)
{
    struct udp_socket *a = open_loopback(), *b = open_loopback();
    char buf[8];
    check(send_to(a, "", 0, b) == 0 && send_to(a, "hello", 5, b) == 0 &&
              send_to(a, "next", 4, b) == 0,
          "send three datagrams");
    struct udp_received got = receive(b, buf, sizeof buf);
    check(got.error == 0 && got.len == 0 && got.datagram_len == 0 && !got.truncated,
          "an empty datagram arrives as 0 bytes, not as an error or an end");
    got = receive(b, NULL, 0);
    check(got.error == 0 && got.len == 0 && got.datagram_len == 5 && got.truncated,
          "a zero-size buffer consumes a datagram and reports its size");
    got = receive(b, buf, sizeof buf);
    check(got.error == 0 && got.len == 4 && memcmp(buf, "next", 4) == 0,
          "the datagram after it is the next one");
    udp_close(a);
    udp_close(b);
    printf("an empty datagram is 0 bytes; a zero-size buffer consumes one and reports its size\n");
}

static void waiting(void)
{
    struct udp_socket *a = open_loopback(), *b = open_loopback();
    char buf[8];
    struct udp_received got;

    /* A receive with nothing there waits; dropping it while it waits frees
       the socket for the next future, which the reactor then wakes. */
    struct future *first = udp_recv_from(b, buf, sizeof buf);
    check(first->poll(first, &test_waker, &got) == POLL_PENDING, "nothing there: PENDING");
    first->drop(first);
    struct future *second = udp_recv_from(b, buf, sizeof buf);
    check(second->poll(second, &test_waker, &got) == POLL_PENDING, "still nothing: PENDING");
    /* A wake-up meant for the first future may still arrive at any moment
       (the reactor thread may be delivering it now). Make one arrive here,
       every run: only a wake-up counted after `before` answers the send. */
    waker_wake_by_ref(&test_waker);
    int before = atomic_load(&wakes);
    check(send_to(a, "wake", 4, b) == 0, "send 4 bytes");
    check(wait_for_wake_after(before), "the reactor never woke the waiting receive");
    while (second->poll(second, &test_waker, &got) ==
           POLL_PENDING) /* a wake may be a spurious one */
        check(wait_for_wake(), "woken, but the datagram never came");
    second->drop(second);
    check(got.error == 0 && got.len == 4 && memcmp(buf, "wake", 4) == 0,
          "the datagram that woke it");
    udp_close(a);
    udp_close(b);
    printf(
        "a receive waits (PENDING) until the reactor wakes it; a dropped one frees the socket\n");
}

static void refused(void)
{
    struct udp_socket *gone = open_loopback();
    struct sockaddr_in nobody = udp_local_address(gone);
    udp_close(gone); /* now nobody listens there */
    struct udp_socket *a = open_loopback();
    check(udp_connect(a, &nobody) == 0, "connect to a loopback port");
    int err = -1;
    run(udp_send_to(a, "anyone?", 7, NULL), &err);
    check(err == 0, "the first send succeeds: the refusal comes back later");
    char buf[8];
    struct udp_received got = receive(a, buf, sizeof buf);
    check(got.error == -ECONNREFUSED, "the receive after it reports ECONNREFUSED");
    udp_close(a);
    printf("a connected socket whose peer is gone: the receive completes with ECONNREFUSED\n");
}

static void bad_calls(void)
{
    struct sockaddr_in outside, any;
    check(udp_parse_address("192.0.2.1:0", &outside) == 0, "parse 192.0.2.1:0");
    check(udp_parse_address("0.0.0.0:0", &any) == 0, "parse 0.0.0.0:0");
    struct udp_socket *sock;
    check(udp_open(&any, &sock) == -EADDRNOTAVAIL, "udp_open refuses 0.0.0.0");
    sock = open_loopback();
    check(udp_connect(sock, &outside) == -EADDRNOTAVAIL, "udp_connect refuses 192.0.2.1");
    /* Port 0 as well: even without the loopback check, Linux would refuse
       to send there (EINVAL), so this check never lets a packet out. */
    int err = 0;
    run(udp_send_to(sock, "x", 1, &outside), &err);
    check(err == -EADDRNOTAVAIL, "udp_send_to refuses 192.0.2.1");
    run(udp_send_to(sock, "x", 1, NULL), &err);
    check(err == -EDESTADDRREQ, "no address on an unconnected socket: EDESTADDRREQ");
    static char big[UDP_MAX_PAYLOAD + 1];
    struct sockaddr_in self = udp_local_address(sock);
    run(udp_send_to(sock, big, sizeof big, &self), &err);
    check(err == -EMSGSIZE, "one byte over the largest datagram: EMSGSIZE");
    run(udp_send_to(sock, big, UDP_MAX_PAYLOAD, &self), &err);
    check(err == 0, "the largest datagram goes");
    struct udp_received got = receive(sock, big, sizeof big);
    check(got.error == 0 && got.len == UDP_MAX_PAYLOAD && !got.truncated, "and arrives whole");
    udp_close(sock);
    static const char *const malformed[] = {"127.0.0.1",    "127.0.0.1:",   "127.0.0.1:65536",
                                            "127.0.0.1:-1", "localhost:80", ":80",
                                            "127.0.0.1:8x"};
    for (size_t i = 0; i < sizeof malformed / sizeof *malformed; i++)
        check(udp_parse_address(malformed[i], &any) == -EINVAL, malformed[i]);
    printf("addresses off the loopback, oversized datagrams and missing addresses are errors\n");
}

int main(int argc, char **argv)
{
    /* The checks take no arguments: a stray one gets one line, not a run. */
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        printf("usage: udp-check\n"
               "Checks the UDP futures' edges: truncation, empty datagrams, waiting,\n"
               "a refused peer, and malformed addresses.\n");
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "udp-check: unknown argument '%s' (try --help)\n", argv[argc - 1]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    check(sem_init(&woken, 0, 0) == 0, "sem_init");
    check(reactor_start() == 0, "reactor_start");
    truncation();
    empty_datagrams();
    waiting();
    refused();
    bad_calls();
    reactor_stop();
    sem_destroy(&woken);
    printf("all checks passed\n");
    return 0;
}
