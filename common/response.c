/* response.c: the one-line summary of a delay server response, shared by
 * every program that prints responses; see response.h. */
#include "response.h"

#include <string.h>

#define BODY_SHOWN_MAX 60 /* a longer body is cut, with "..." after it */

/* Where the text after the blank line starts, or NULL if there is none. */
static const char *find_body(const char *text, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (text[i] == '\n' && text[i + 1] == '\n')
            return text + i + 2;
        if (i + 3 < len && memcmp(text + i, "\r\n\r\n", 4) == 0)
            return text + i + 4;
    }
    return NULL;
}

/* Write at most `max` bytes of text, control characters shown as '?'. */
static void put_printable(FILE *out, const char *text, size_t len, size_t max)
{
    for (size_t i = 0; i < len && i < max; i++) {
        unsigned char c = (unsigned char) text[i];
        fputc(c < 0x20 || c == 0x7f ? '?' : c, out);
    }
    if (len > max)
        fputs("...", out);
}

void response_print_line(FILE *out, const char *response, size_t len, uint64_t elapsed_ns)
{
    unsigned long long ms = (unsigned long long) (elapsed_ns / 1000000u);
    const char *space =
        len > 9 && memcmp(response, "HTTP/1.", 7) == 0 ? memchr(response, ' ', len) : NULL;
    const char *body = find_body(response, len);
    if (space == NULL || body == NULL) {
        fputs("(not an HTTP response) ", out);
        put_printable(out, response, len, BODY_SHOWN_MAX);
        fprintf(out, "  (%llu ms)\n", ms);
        return;
    }
    const char *status = space + 1;
    const char *eol = memchr(status, '\n', len - (size_t) (status - response));
    size_t status_len = (size_t) (eol - status);
    if (status_len > 0 && status[status_len - 1] == '\r')
        status_len--;
    put_printable(out, status, status_len, BODY_SHOWN_MAX);
    fputs("  ", out);
    if (body == response + len)
        fputs("(empty body)", out);
    put_printable(out, body, len - (size_t) (body - response), BODY_SHOWN_MAX);
    fprintf(out, "  (%llu ms)\n", ms);
}
