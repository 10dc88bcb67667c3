/*
 * bench/switch-and-poll/stub_http.h: a stand-in for ch04's http_get that
 * never touches a socket, so the benchmark measures the state machines that
 * wait on it, not the network. stub_http.c defines http_get and http_print
 * (declared in ch04-coroutines/a-coroutine/http.h); the linker picks them
 * instead of http.c.
 */
#ifndef STUB_HTTP_H
#define STUB_HTTP_H

/* Every leaf http_get makes from now on answers POLL_PENDING to its first
 * `not_ready` polls and POLL_READY to the next one. */
void stub_http_set_not_ready(long not_ready);

#endif
