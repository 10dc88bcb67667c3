/* support.c: what corofy's stages share: byte buffers, an arena that frees a
 * whole translation at once, diagnostics, small token predicates, and
 * corofy_translate, which runs tokenize, parse and generate in order.
 * Part of corofy/ (issue 6). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corofy.h"

static void out_of_memory(void)
{
    fputs("corofy: out of memory\n", stderr);
    abort();
}

/* ===== Byte buffers ===== */

static void buf_reserve(struct buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *data = realloc(b->data, cap);
    if (data == NULL)
        out_of_memory();
    b->data = data;
    b->cap = cap;
}

void buf_put(struct buf *b, const char *s, size_t n)
{
    buf_reserve(b, n);
    if (n > 0)
        memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void buf_puts(struct buf *b, const char *s)
{
    buf_put(b, s, strlen(s));
}

void buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, again);
    va_end(again);
    if (n < 0)
        return;
    buf_reserve(b, (size_t) n);
    vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
    b->len += (size_t) n;
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void buf_free(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* ===== The arena =====
 *
 * Tokens, statements and strings of one translation all live here and die
 * together, so an error can simply jump out (fail) without leaking. */

struct arena_block {
    struct arena_block *next;
    size_t used, size;
    max_align_t data[];
};

void *arena_alloc(struct unit *u, size_t size)
{
    size = (size + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    struct arena_block *b = u->arena;
    if (b == NULL || b->size - b->used < size) {
        size_t block = size > 60000 ? size : 60000;
        b = malloc(sizeof *b + block);
        if (b == NULL)
            out_of_memory();
        b->used = 0;
        b->size = block;
        b->next = u->arena;
        u->arena = b;
    }
    void *p = (char *) b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

/* Arrays in the arena grow by moving: the old copy is simply abandoned. */
void *arena_grow(struct unit *u, void *old, size_t old_size, size_t new_size)
{
    void *p = arena_alloc(u, new_size);
    if (old_size > 0)
        memcpy(p, old, old_size);
    return p;
}

char *arena_strdup(struct unit *u, const char *s, size_t n)
{
    char *p = arena_alloc(u, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_printf(struct unit *u, const char *fmt, ...)
{
    struct buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    char *s = arena_strdup(u, b.data ? b.data : "", b.len);
    buf_free(&b);
    return s;
}

static void arena_free(struct unit *u)
{
    while (u->arena != NULL) {
        struct arena_block *next = u->arena->next;
        free(u->arena);
        u->arena = next;
    }
}

/* ===== Diagnostics ===== */

void fail_at(struct unit *u, int line, int col, const char *fmt, ...)
{
    va_list ap;
    buf_printf(u->messages, "%s:%d:%d: error: ", u->options->input_name, line, col);
    va_start(ap, fmt);
    buf_vprintf(u->messages, fmt, ap);
    va_end(ap);
    buf_puts(u->messages, "\n");
    longjmp(u->failed, 1);
}

void fail(struct unit *u, int tok, const char *fmt, ...)
{
    va_list ap;
    const struct token *t = &u->toks[tok];
    buf_printf(u->messages, "%s:%d:%d: error: ", u->options->input_name, t->line, t->col);
    va_start(ap, fmt);
    buf_vprintf(u->messages, fmt, ap);
    va_end(ap);
    buf_puts(u->messages, "\n");
    longjmp(u->failed, 1);
}

void warn(struct unit *u, const char *fmt, ...)
{
    va_list ap;
    buf_printf(u->messages, "%s: warning: ", u->options->input_name);
    va_start(ap, fmt);
    buf_vprintf(u->messages, fmt, ap);
    va_end(ap);
    buf_puts(u->messages, "\n");
}

/* ===== Token predicates ===== */

bool tok_is(const struct unit *u, int i, const char *text)
{
    const struct token *t = &u->toks[i];
    size_t n = strlen(text);
    return t->kind != TOK_EOF && (size_t) t->len == n && memcmp(u->text + t->start, text, n) == 0;
}

bool tok_punct(const struct unit *u, int i, const char *p)
{
    return u->toks[i].kind == TOK_PUNCT && tok_is(u, i, p);
}

static const char *const keywords[] = {
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else",
    "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long", "register",
    "restrict", "return", "short", "signed", "sizeof", "static", "struct", "switch", "typedef",
    "union", "unsigned", "void", "volatile", "while", "_Alignas", "_Alignof", "_Atomic",
    "_Bool", "_Complex", "_Generic", "_Imaginary", "_Noreturn", "_Static_assert",
    "_Thread_local", "__attribute__", "__attribute", "__extension__", "__inline",
    "__inline__", "__restrict", "__restrict__", "__typeof__", "__typeof", "typeof",
    "__volatile__", "__const", "__asm__", "asm", "__alignof__", "__builtin_va_arg",
    "__builtin_offsetof",
};

bool tok_keyword(const struct unit *u, int i)
{
    if (u->toks[i].kind != TOK_IDENT)
        return false;
    for (size_t k = 0; k < sizeof keywords / sizeof keywords[0]; k++)
        if (tok_is(u, i, keywords[k]))
            return true;
    return false;
}

int line_of_offset(const struct unit *u, int offset)
{
    int lo = 0, hi = u->nlines - 1;  /* the answer is in [lo, hi] */
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (u->line_starts[mid] <= offset)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo + 1;
}

/* `.wait` is a wait point, except as a designator in an initialiser
 * (`{ .wait = 3 }`), where it names a struct member. */
bool tok_is_wait(const struct unit *u, int i)
{
    if (!tok_punct(u, i, ".") || u->toks[i + 1].kind != TOK_IDENT || !tok_is(u, i + 1, "wait"))
        return false;
    bool designator = i > 0 && (tok_punct(u, i - 1, "{") || tok_punct(u, i - 1, ",")) &&
                      tok_punct(u, i + 2, "=");
    return !designator;
}

/* ===== The driver ===== */

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

enum corofy_result corofy_translate(const char *text, size_t len,
                                    const struct corofy_options *options, struct buf *out,
                                    struct buf *messages)
{
    /* volatile: read after longjmp returns to setjmp below */
    struct unit *volatile u = calloc(1, sizeof *u);
    volatile enum corofy_result result = COROFY_ERROR;

    if (u == NULL)
        out_of_memory();
    u->options = options;
    u->text = text;
    u->base_name = base_name(options->input_name);
    u->out = out;
    u->messages = messages;
    if (len > (size_t) INT32_MAX / 4) {
        buf_printf(messages, "%s: error: the file is too large for corofy\n",
                   options->input_name);
    } else if (setjmp(u->failed) == 0) {
        u->len = (int) len;
        tokenize(u);
        parse(u);
        if (u->ncoroutines == 0) {
            warn(u, "no coroutine in this file; the output is an unchanged copy");
            buf_put(out, text, len);
            result = COROFY_NO_COROUTINE;
        } else {
            generate(u);
            result = COROFY_OK;
        }
    }
    buf_free(&u->scratch);
    arena_free(u);
    free(u);
    return result;
}
