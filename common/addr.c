/* addr.c: the one parser of DELAYSERVER_ADDR, shared by every program of the
 * workbook; see addr.h. */
#include "addr.h"

#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"

/* Is `text` a port number, 1 to 65535, in decimal digits only? */
static bool is_port(const char *text)
{
    long port = 0;
    if (*text == '\0')
        return false;
    for (const char *c = text; *c != '\0'; c++) {
        if (*c < '0' || *c > '9' || c - text >= 5)
            return false;
        port = port * 10 + (*c - '0');
    }
    return port >= 1 && port <= 65535;
}

static int reject(const char *text, const char *why)
{
    fprintf(stderr, "%s: DELAYSERVER_ADDR='%s': %s\n", program_invocation_short_name, text, why);
    return -1;
}

int server_addr_parse(const char *text, struct server_addr *out)
{
    const char *colon = strrchr(text, ':');
    if (strlen(text) >= sizeof out->text)
        return reject(text, "too long");
    if (colon == NULL || !is_port(colon + 1))
        return reject(text, "expected host:port, for example " SERVER_ADDR_DEFAULT);

    const char *host = text;
    size_t host_len = (size_t) (colon - text);
    if (host_len >= 2 && host[0] == '[' && host[host_len - 1] == ']') {
        host++; /* an IPv6 literal: drop the brackets */
        host_len -= 2;
    } else if (memchr(host, ':', host_len) != NULL) {
        return reject(text, "an IPv6 address goes in brackets, as in [::1]:8080");
    }
    if (host_len == 0)
        return reject(text, "expected host:port, for example " SERVER_ADDR_DEFAULT);

    char name[sizeof out->text];
    snprintf(name, sizeof name, "%.*s", (int) host_len, host);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *found;
    int err = getaddrinfo(name, colon + 1, &hints, &found);
    if (err != 0)
        return reject(text, err == EAI_SYSTEM ? strerror(errno) : gai_strerror(err));
    memcpy(&out->sockaddr, found->ai_addr, found->ai_addrlen);
    out->len = found->ai_addrlen;
    freeaddrinfo(found);
    snprintf(out->text, sizeof out->text, "%s", text);
    return 0;
}

int server_addr_from_env(struct server_addr *out)
{
    const char *text = getenv("DELAYSERVER_ADDR");
    return server_addr_parse(text != NULL && *text != '\0' ? text : SERVER_ADDR_DEFAULT, out);
}

long server_timeout_ms(void)
{
    const char *text = getenv("DELAYSERVER_TIMEOUT_MS");
    unsigned long long ms;
    if (text == NULL || *text == '\0')
        return SERVER_TIMEOUT_MS_DEFAULT;
    if (parse_count(text, 1, SERVER_TIMEOUT_MS_MAX, &ms) < 0) {
        fprintf(stderr, "%s: DELAYSERVER_TIMEOUT_MS='%s': expected 1 to %d (milliseconds)\n",
                program_invocation_short_name, text, SERVER_TIMEOUT_MS_MAX);
        return -1;
    }
    return (long) ms;
}
