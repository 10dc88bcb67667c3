/* writer.c: the line writer behind corofy's output (see generate.h): the
 * current indentation, lines ended lazily, the file's own line endings, and
 * the #line directives of --line. Part of corofy/, the coroutine
 * preprocessor of ch04-coroutines and ch05-runtime. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "generate.h"

static void put(struct writer *w, const char *s, size_t n)
{
    if (w->out != NULL)
        buf_put(w->out, s, n);
}

static void put_quoted(struct writer *w, const char *name)
{
    put(w, "\"", 1);
    for (const char *p = name; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            put(w, "\\", 1);
        put(w, p, 1);
    }
    put(w, "\"", 1);
}

/* Before the first byte of a line: the #line directive it needs, if any. */
static void map_line(struct writer *w)
{
    if (!w->directives || w->origin < 0)
        return;
    char number[32];
    if (w->origin > 0) {
        if (w->presumed_src && w->presumed == w->origin)
            return;
        snprintf(number, sizeof number, "#line %d ", w->origin);
        put(w, number, strlen(number));
        put_quoted(w, w->src_name);
        w->presumed = w->origin;
        w->presumed_src = true;
    } else {
        if (!w->presumed_src && w->presumed == w->out_line)
            return;
        snprintf(number, sizeof number, "#line %d ", w->out_line + 1);
        put(w, number, strlen(number));
        put_quoted(w, w->out_name);
        w->presumed = w->out_line + 1;
        w->presumed_src = false;
    }
    put(w, w->eol, strlen(w->eol));
    w->out_line++;
}

static void end_line(struct writer *w)
{
    put(w, w->eol, strlen(w->eol));
    w->blank = w->col == 0;
    w->col = 0;
    w->code = w->code && w->last == '\\'; /* a spliced line goes on */
    w->last = '\0';
    w->line_comment = false;
    w->out_line++;
    w->presumed++;
    if (w->origin > 0 && !w->fixed)
        w->origin++;
}

void w_raw(struct writer *w, const char *s, size_t n)
{
    while (n > 0) {
        if (*s == '\n') {
            w->pending_cr = false; /* the line ending is the writer's business */
            end_line(w);
            s++;
            n--;
            continue;
        }
        if (w->pending_cr) { /* a \r that turned out not to end a line */
            w->pending_cr = false;
            if (w->col == 0)
                map_line(w);
            put(w, "\r", 1);
            w->col++;
        }
        const char *nl = memchr(s, '\n', n);
        size_t k = nl ? (size_t) (nl - s) : n, text = k;
        if (text > 0 && s[text - 1] == '\r') {
            text--;
            w->pending_cr = nl == NULL; /* it may end the line the next text ends */
        }
        if (w->col == 0 && text > 0)
            map_line(w);
        put(w, s, text);
        w->col += (int) text;
        if (text > 0)
            w->last = s[text - 1];
        for (size_t i = 0; i < text && !w->trivia && !w->code; i++)
            w->code = s[i] != ' ' && s[i] != '\t';
        s += k;
        n -= k;
    }
}

void w_text(struct writer *w, const char *s)
{
    w_raw(w, s, strlen(s));
}

void w_vprintf(struct writer *w, const char *fmt, va_list ap)
{
    struct buf text = {0};
    buf_vprintf(&text, fmt, ap);
    w_raw(w, text.data ? text.data : "", text.len);
    buf_free(&text);
}

void w_printf(struct writer *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    w_vprintf(w, fmt, ap);
    va_end(ap);
}

void w_spaces(struct writer *w, int n)
{
    static const char spaces[] = "                                ";
    while (n > 0) {
        int k = n < 32 ? n : 32;
        w_raw(w, spaces, (size_t) k);
        n -= k;
    }
}

void w_start(struct writer *w, int origin)
{
    if (w->col > 0)
        w_raw(w, "\n", 1);
    w->origin = origin;
    w->fixed = false;
    w_spaces(w, w->indent);
}

void w_join(struct writer *w, const char *s)
{
    if (w->line_comment) {
        w_start(w, w->origin);
        s += *s == ' ';
    }
    w_text(w, s);
}

void w_blank_line(struct writer *w)
{
    if (w->col > 0)
        w_raw(w, "\n", 1);
    if (!w->blank)
        w_raw(w, "\n", 1);
}
