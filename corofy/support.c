/* support.c: what corofy's stages share: byte buffers, an arena that frees a
 * whole translation at once, a small hash table, diagnostics, and questions
 * about tokens and positions. It calls none of the stages. Part of corofy/,
 * the coroutine preprocessor of ch04-coroutines and ch05-runtime. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

void out_of_memory(void)
{
    fputs("corofy: out of memory\n", stderr);
    abort();
}

/* ===== Byte buffers ===== */

void buf_reserve(struct buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap = cap < 1 << 20 ? cap * 2 : cap + cap / 4; /* big ones grow by a quarter */
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
 * Statements, expressions and strings of one translation all live here and
 * die together, so an error can simply jump out (fail) without leaking. */

struct arena_block {
    struct arena_block *next;
    size_t used, size;
    void *data[]; /* aligned for pointers: nothing here needs more */
};

/* `size` bytes from the list of blocks at *list. */
static void *block_alloc(struct arena_block **list, size_t size)
{
    size = (size + sizeof(void *) - 1) / sizeof(void *) * sizeof(void *);
    struct arena_block *b = *list;
    if (b == NULL || b->size - b->used < size) {
        size_t block = size > 60000 ? size : 60000;
        b = malloc(sizeof *b + block);
        if (b == NULL)
            out_of_memory();
        b->used = 0;
        b->size = block;
        b->next = *list;
        *list = b;
    }
    void *p = (char *) b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

void *arena_alloc(struct unit *u, size_t size)
{
    return block_alloc(&u->arena, size);
}

/* ===== The scratch arena =====
 *
 * The same, for what lives only while one statement is written (the trees
 * of expressions that wait): scratch_release gives back everything
 * allocated since the mark, and keeps the block it started in. */

void *scratch_alloc(struct unit *u, size_t size)
{
    return block_alloc(&u->scratch, size);
}

struct arena_mark scratch_mark(const struct unit *u)
{
    return (struct arena_mark){u->scratch, u->scratch ? u->scratch->used : 0};
}

void scratch_release(struct unit *u, struct arena_mark mark)
{
    while (u->scratch != mark.block) {
        struct arena_block *next = u->scratch->next;
        free(u->scratch);
        u->scratch = next;
    }
    if (u->scratch != NULL)
        u->scratch->used = mark.used;
}

/* Arrays in the arena grow by moving: the old copy is simply abandoned
 * (callers grow by doubling, so the abandoned copies add up to less than
 * the final one). */
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

static void blocks_free(struct arena_block **list)
{
    while (*list != NULL) {
        struct arena_block *next = (*list)->next;
        free(*list);
        *list = next;
    }
}

void arena_free(struct unit *u)
{
    blocks_free(&u->arena);
    blocks_free(&u->scratch);
}

/* ===== Names to numbers =====
 * * Open addressing with linear probing; the table is kept at most 3/4 full.
 * A name is set again by overwriting its value. */

static unsigned hash(const char *name, int len)
{
    unsigned h = 2166136261u; /* FNV-1a */
    for (int k = 0; k < len; k++)
        h = (h ^ (unsigned char) name[k]) * 16777619u;
    return h;
}

static struct table_slot *table_find(const struct table *t, const char *name, int len)
{
    unsigned mask = (unsigned) t->cap - 1;
    for (unsigned k = hash(name, len) & mask;; k = (k + 1) & mask) {
        struct table_slot *s = &t->slots[k];
        if (s->name == NULL || (s->len == len && memcmp(s->name, name, (size_t) len) == 0))
            return s;
    }
}

int table_get(const struct table *t, const char *name, int len)
{
    if (t->cap == 0)
        return -1;
    const struct table_slot *s = table_find(t, name, len);
    return s->name == NULL ? -1 : s->value;
}

/* Empties the table, keeping its room. */
void table_clear(struct table *t)
{
    if (t->cap > 0)
        memset(t->slots, 0, sizeof *t->slots * (size_t) t->cap);
    t->count = 0;
}

void table_set(struct unit *u, struct table *t, const char *name, int len, int value)
{
    if (4 * (t->count + 1) > 3 * t->cap) {
        struct table old = *t;
        t->cap = t->cap ? 2 * t->cap : 8;
        t->count = 0;
        t->slots = arena_alloc(u, sizeof *t->slots * (size_t) t->cap);
        for (int k = 0; k < old.cap; k++)
            if (old.slots[k].name != NULL)
                table_set(u, t, old.slots[k].name, old.slots[k].len, old.slots[k].value);
    }
    struct table_slot *s = table_find(t, name, len);
    if (s->name == NULL) {
        s->name = name;
        s->len = len;
        t->count++;
    }
    s->value = value;
}

/* ===== Diagnostics ===== */

static _Noreturn void vfail_at(struct unit *u, int line, int col, const char *fmt, va_list ap)
{
    buf_printf(u->messages, "%s:%d:%d: error: ", u->options->input_name, line, col);
    buf_vprintf(u->messages, fmt, ap);
    buf_puts(u->messages, "\n");
    longjmp(u->failed, 1);
}

void fail_at(struct unit *u, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail_at(u, line, col, fmt, ap);
}

void fail(struct unit *u, int tok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail_at(u, tok_line(u, tok), tok_col(u, tok), fmt, ap);
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

/* ===== Tokens ===== */

const char *tok_text(const struct unit *u, int i, int *len)
{
    const struct token *t = &u->toks[i];
    if (!t->respelled) {
        *len = t->end - t->start;
        return u->text + t->start;
    }
    int lo = 0, hi = u->nspellings - 1; /* spellings are in token order */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (u->spellings[mid].tok < i)
            lo = mid + 1;
        else
            hi = mid;
    }
    *len = u->spellings[lo].len;
    return u->spellings[lo].text;
}

bool tok_is(const struct unit *u, int i, const char *text)
{
    int len;
    const char *s = tok_text(u, i, &len);
    size_t n = strlen(text);
    return u->toks[i].kind != TOK_EOF && (size_t) len == n && memcmp(s, text, n) == 0;
}

bool tok_punct(const struct unit *u, int i, const char *p)
{
    return u->toks[i].kind == TOK_PUNCT && tok_is(u, i, p);
}

bool tok_in(const struct unit *u, int i, const char *const *words)
{
    for (; *words != NULL; words++)
        if (tok_is(u, i, *words))
            return true;
    return false;
}

static const char *const keywords[] = {
    "auto",
    "break",
    "case",
    "char",
    "const",
    "continue",
    "default",
    "do",
    "double",
    "else",
    "enum",
    "extern",
    "float",
    "for",
    "goto",
    "if",
    "inline",
    "int",
    "long",
    "register",
    "restrict",
    "return",
    "short",
    "signed",
    "sizeof",
    "static",
    "struct",
    "switch",
    "typedef",
    "union",
    "unsigned",
    "void",
    "volatile",
    "while",
    "_Alignas",
    "_Alignof",
    "_Atomic",
    "_Bool",
    "_Complex",
    "_Generic",
    "_Imaginary",
    "_Noreturn",
    "_Static_assert",
    "_Thread_local",
    "__attribute__",
    "__attribute",
    "__extension__",
    "__inline",
    "__inline__",
    "__restrict",
    "__restrict__",
    "__typeof__",
    "__typeof",
    "typeof",
    "__volatile__",
    "__const",
    "__asm__",
    "asm",
    "__alignof__",
    "__builtin_va_arg",
    "__builtin_offsetof",
    NULL,
};

bool tok_keyword(const struct unit *u, int i)
{
    return u->toks[i].keyword;
}

void mark_keywords(struct unit *u)
{
    for (int i = 0; i < u->ntoks; i++)
        u->toks[i].keyword = u->toks[i].kind == TOK_IDENT && tok_in(u, i, keywords);
}

bool tok_is_ident(const struct unit *u, int i)
{
    return u->toks[i].kind == TOK_IDENT && !tok_keyword(u, i);
}

/* `.wait` is a wait point, except as a designator in an initialiser
 * (`{ .wait = 3 }`), where it names a struct member. */
bool tok_is_wait(const struct unit *u, int i)
{
    if (!tok_punct(u, i, ".") || u->toks[i + 1].kind != TOK_IDENT || !tok_is(u, i + 1, "wait"))
        return false;
    bool designator =
        i > 0 && (tok_punct(u, i - 1, "{") || tok_punct(u, i - 1, ",")) && tok_punct(u, i + 2, "=");
    return !designator;
}

/* The names the generated poll function and constructors declare for
 * themselves: the file may not use them for anything of its own. */
const char *const reserved_names[] = {"self",   "frame",   "output", "waker",
                                      "result", "storage", NULL};

/* ===== Positions ===== */

int line_of_offset(const struct unit *u, int offset)
{
    int lo = 0, hi = u->nlines - 1; /* the answer is in [lo, hi] */
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (u->line_starts[mid] <= offset)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo + 1;
}

int tok_line(const struct unit *u, int i)
{
    return line_of_offset(u, u->toks[i].start);
}

int tok_col(const struct unit *u, int i)
{
    int start = u->toks[i].start;
    return start - u->line_starts[line_of_offset(u, start) - 1] + 1;
}

int tok_trivia(const struct unit *u, int i)
{
    return i > 0 ? u->toks[i - 1].end : 0;
}

/* The visual column (0-based, tabs every 8) of `offset` in its line. The
 * tokenizer noted the column at every 1024th byte, so this never scans more
 * than 1024 bytes, however long the line. */
int visual_col(const struct unit *u, int offset)
{
    int line_start = u->line_starts[line_of_offset(u, offset) - 1];
    int k = offset / 1024 * 1024, col = 0;
    if (k > line_start) {
        col = u->tab_columns[offset / 1024];
    } else {
        k = line_start;
    }
    for (; k < offset; k++)
        col = u->text[k] == '\t' ? (col / 8 + 1) * 8 : col + 1;
    return col;
}

int first_comment_at(const struct unit *u, int offset)
{
    int lo = 0, hi = u->ncomments; /* the answer is in [lo, hi] */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (u->comments[mid].start < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Does a stretch the output leaves out start at `offset`? */
bool is_removed_start(const struct unit *u, int offset, int *end)
{
    for (int r = 0; r < u->nremoved; r++)
        if (u->removed[r].start == offset) {
            *end = u->removed[r].end;
            return true;
        }
    return false;
}
