/* generate.c: writes corofy's output. Text outside coroutines is copied byte
 * for byte; each coroutine becomes, in place: the function as written (in a
 * comment), a prototype of its constructor, the frame struct, the poll
 * function, the drop function and the constructor. Part of corofy/ (issue 6).
 *
 * The poll function is generated twice: a first pass into a scratch buffer
 * finds the frame's fields (every local of the body), then the struct is
 * written, then the second pass writes the poll function for real. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corofy.h"

/* ===== The writer =====
 *
 * Writes lines with the current indentation and keeps the line numbers that
 * --line needs: each output line comes from a source line (origin > 0) or is
 * corofy's own (origin 0), and a #line directive is written whenever what
 * the compiler would assume differs from that. A line ends lazily, when the
 * next one starts, so a comment can still be appended to it. */

struct writer {
    struct buf *out;
    int indent;         /* spaces at the start of a new line */
    int col;            /* bytes on the current line so far */
    bool line_comment;  /* the current line ends in a // comment */
    bool blank;         /* the last finished line was empty */
    int out_line;       /* 1-based number of the current output line */
    int origin;         /* its source line, 0 for corofy's own lines, -1: any (no #line) */
    bool fixed;         /* the origin stays put on the next lines (a wait point's lines) */
    bool directives;    /* --line */
    const char *src_name, *out_name;
    int presumed;       /* the line number the compiler gives the current line */
    bool presumed_src;  /* ... and whether it thinks it is in the source file */
};

static void w_quoted(struct writer *w, const char *name)
{
    buf_puts(w->out, "\"");
    for (const char *p = name; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            buf_puts(w->out, "\\");
        buf_put(w->out, p, 1);
    }
    buf_puts(w->out, "\"");
}

/* Before the first byte of a line: the #line directive it needs, if any. */
static void w_map(struct writer *w)
{
    if (!w->directives || w->origin < 0)
        return;
    if (w->origin > 0) {
        if (w->presumed_src && w->presumed == w->origin)
            return;
        buf_printf(w->out, "#line %d ", w->origin);
        w_quoted(w, w->src_name);
        w->presumed = w->origin;
        w->presumed_src = true;
    } else {
        if (!w->presumed_src && w->presumed == w->out_line)
            return;
        buf_printf(w->out, "#line %d ", w->out_line + 1);
        w_quoted(w, w->out_name);
        w->presumed = w->out_line + 1;
        w->presumed_src = false;
    }
    buf_puts(w->out, "\n");
    w->out_line++;
}

/* Raw text, possibly several lines. */
static void w_raw(struct writer *w, const char *s, size_t n)
{
    while (n > 0) {
        if (*s == '\n') {
            buf_puts(w->out, "\n");
            w->blank = w->col == 0;
            w->col = 0;
            w->line_comment = false;
            w->out_line++;
            w->presumed++;
            if (w->origin > 0 && !w->fixed)
                w->origin++;
            s++;
            n--;
            continue;
        }
        const char *nl = memchr(s, '\n', n);
        size_t k = nl ? (size_t) (nl - s) : n;
        if (w->col == 0)
            w_map(w);
        buf_put(w->out, s, k);
        w->col += (int) k;
        s += k;
        n -= k;
    }
}

static void w_text(struct writer *w, const char *s)
{
    w_raw(w, s, strlen(s));
}

static void w_vprintf(struct writer *w, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void w_vprintf(struct writer *w, const char *fmt, va_list ap)
{
    struct buf text = {0};
    buf_vprintf(&text, fmt, ap);
    w_raw(w, text.data, text.len);
    buf_free(&text);
}

static void w_printf(struct writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void w_printf(struct writer *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    w_vprintf(w, fmt, ap);
    va_end(ap);
}

static void w_spaces(struct writer *w, int n)
{
    static const char spaces[] = "                                ";
    while (n > 0) {
        int k = n < 32 ? n : 32;
        w_raw(w, spaces, (size_t) k);
        n -= k;
    }
}

/* Start a new line, coming from source line `origin` (0: corofy's own). */
static void w_start(struct writer *w, int origin)
{
    if (w->col > 0)
        w_raw(w, "\n", 1);
    w->origin = origin;
    w->fixed = false;
    w_spaces(w, w->indent);
}

/* Continue the current line, unless a // comment ends it. */
static void w_join(struct writer *w, const char *s)
{
    if (w->line_comment) {
        w_start(w, w->origin);
        s += *s == ' ';
    }
    w_text(w, s);
}

static void w_blank_line(struct writer *w)
{
    if (w->col > 0)
        w_raw(w, "\n", 1);
    if (!w->blank)
        w_raw(w, "\n", 1);
}

/* ===== Text helpers ===== */

/* The visual column (0-based, tabs every 8) of `offset` in its line. */
static int visual_col(const struct unit *u, int offset)
{
    int start = u->line_starts[line_of_offset(u, offset) - 1], col = 0;
    for (int k = start; k < offset; k++)
        col = u->text[k] == '\t' ? (col / 8 + 1) * 8 : col + 1;
    return col;
}

/* Tokens [lo, hi) on one line: any whitespace or comment between two
 * tokens becomes one space. For comments and messages. */
static void collapsed(const struct unit *u, int lo, int hi, struct buf *b)
{
    for (int i = lo; i < hi; i++) {
        const struct token *t = &u->toks[i];
        if (i > lo && t->trivia < t->start)
            buf_puts(b, " ");
        buf_put(b, u->text + t->start, (size_t) t->len);
    }
}

/* Text that goes inside a C comment must not end it, nor open another
 * (which -Wcomment reports); nor contain a newline. */
static const char *comment_safe(struct unit *u, const char *s, size_t n)
{
    struct buf b = {0};
    for (size_t k = 0; k < n; k++) {
        if (s[k] == '*' && k + 1 < n && s[k + 1] == '/') {
            buf_puts(&b, "* ");
        } else if (s[k] == '/' && k + 1 < n && s[k + 1] == '*') {
            buf_puts(&b, "/ ");
        } else if (s[k] == '\n' || s[k] == '\r') {
            buf_puts(&b, " ");
        } else if (s[k] == '\\' && k + 1 < n && (s[k + 1] == '\n' || s[k + 1] == '\r')) {
            continue;
        } else {
            buf_put(&b, s + k, 1);
        }
    }
    const char *result = arena_strdup(u, b.data ? b.data : "", b.len);
    buf_free(&b);
    return result;
}

static bool is_removed_start(const struct unit *u, int offset, int *end)
{
    for (int r = 0; r < u->nremoved; r++)
        if (u->removed[r].start == offset) {
            *end = u->removed[r].end;
            return true;
        }
    return false;
}

/* ===== Types as text =====
 *
 * A frame field is declared from the local's specifiers and declarator,
 * with the name replaced and top-level `const` removed (the body assigns
 * the field, so it must not be const). Tokens are joined with canonical
 * spacing: `const char *const *p`, `int (*f)(int, char *)`, `char buf[64]`. */

static bool wordy(const struct unit *u, int i)
{
    enum token_kind k = u->toks[i].kind;
    return k == TOK_IDENT || k == TOK_NUMBER || k == TOK_STRING || k == TOK_CHAR;
}

struct type_writer {
    const struct unit *u;
    struct buf b;
    int prev;  /* 0: nothing yet, 1: a word, 2: a comma, 3: other */
};

static void tw_piece(struct type_writer *tw, const char *s, size_t n, int kind, bool star_or_paren)
{
    if ((tw->prev == 1 && (kind == 1 || star_or_paren)) || tw->prev == 2)
        buf_puts(&tw->b, " ");
    buf_put(&tw->b, s, n);
    tw->prev = kind;
}

static void tw_token(struct type_writer *tw, int i)
{
    const struct unit *u = tw->u;
    const struct token *t = &u->toks[i];
    int kind = wordy(u, i) ? 1 : tok_punct(u, i, ",") ? 2 : 3;
    tw_piece(tw, u->text + t->start, (size_t) t->len, kind,
             tok_punct(u, i, "*") || tok_punct(u, i, "("));
}

static bool is_storage(const struct unit *u, int i)
{
    static const char *const words[] = {
        "static", "extern", "auto", "register", "_Thread_local", "typedef", "inline",
        "_Noreturn", "__inline", "__inline__",
    };
    for (size_t k = 0; k < sizeof words / sizeof words[0]; k++)
        if (tok_is(u, i, words[k]))
            return true;
    return false;
}

/* The text of a declaration: specifiers [spec_lo, spec_hi), declarator
 * [dlo, dhi) declaring `name` (-1: none), written as `name_as` (NULL: left
 * out, for a type name). With adjust_array, an array or function parameter
 * becomes the pointer C makes of it. */
static const char *type_text(struct unit *u, int spec_lo, int spec_hi, int dlo, int dhi, int name,
                             const char *name_as, bool adjust_array)
{
    struct type_writer tw = {.u = u};
    int last_star = -1, stop = name >= 0 ? name : dhi;
    bool adjusted = adjust_array && name >= 0 && name + 1 < dhi &&
                    (tok_punct(u, name + 1, "[") || tok_punct(u, name + 1, "("));

    for (int k = dlo; k < stop; k++)
        if (tok_punct(u, k, "*"))
            last_star = k;
    for (int i = spec_lo; i < spec_hi; i++) {
        if (is_storage(u, i) || (last_star < 0 && !adjusted && tok_is(u, i, "const")))
            continue;
        if (tok_punct(u, i, "(") || tok_punct(u, i, "[")) {  /* __attribute__((...)), _Alignas(...) */
            struct buf group = {0};
            collapsed(u, i, u->toks[i].match + 1, &group);
            tw_piece(&tw, group.data, group.len, 1, false);  /* spaced like a word */
            buf_free(&group);
            i = u->toks[i].match;
            continue;
        }
        tw_token(&tw, i);
    }
    for (int i = dlo; i < dhi; i++) {
        if (!adjusted && last_star >= 0 && i > last_star && i < stop && tok_is(u, i, "const"))
            continue;
        if (i == name) {
            if (adjusted && tok_punct(u, name + 1, "[")) {
                int after = u->toks[name + 1].match + 1;
                bool more = after < dhi && tok_punct(u, after, "[");
                tw_piece(&tw, more ? "(*" : "*", more ? 2 : 1, 3, true);
                if (name_as != NULL)
                    tw_piece(&tw, name_as, strlen(name_as), 3, false);
                if (more)
                    tw_piece(&tw, ")", 1, 3, false);
                i = after - 1;
            } else if (adjusted) {
                tw_piece(&tw, "(*", 2, 3, true);
                if (name_as != NULL)
                    tw_piece(&tw, name_as, strlen(name_as), 3, false);
                tw_piece(&tw, ")", 1, 3, false);
            } else if (name_as != NULL) {
                tw_piece(&tw, name_as, strlen(name_as), 1, false);
            }
            continue;
        }
        if (tok_punct(u, i, "[")) {  /* dimensions keep the student's spacing */
            struct buf dims = {0};
            collapsed(u, i, u->toks[i].match + 1, &dims);
            tw_piece(&tw, dims.data, dims.len, 3, false);
            buf_free(&dims);
            i = u->toks[i].match;
            continue;
        }
        tw_token(&tw, i);
    }
    const char *text = arena_strdup(u, tw.b.data ? tw.b.data : "", tw.b.len);
    buf_free(&tw.b);
    return text;
}

/* ===== Frame fields and scopes ===== */

struct field {
    const char *name;     /* the member's name */
    const char *decl;     /* its declaration, without ';' */
    const char *decl_semi;  /* the same with ';' */
    const char *key;      /* the declaration with the name left out */
    const char *orig;     /* the variable's name in the source */
    int orig_len;
    const char *comment;  /* the student's comment on the declaration, or NULL */
    bool is_param;
    bool in_use;          /* a variable in scope lives in it */
    int lines[4];         /* where it was declared (the first few) */
    int nlines;
};

/* A name in scope: the field it lives in, or -1 for a real C local (a
 * static, or a variable-length array that no wait follows). */
struct binding {
    const char *name;
    int len;
    int field;
};

struct gen {
    struct unit *u;
    struct coroutine *co;
    struct writer *w;
    struct field *fields;
    int nfields, fields_cap;
    struct binding *scope;
    int nscope, scope_cap;
    const char *return_type;  /* with top-level const removed */
    const char *output_cast;  /* "(T *)" */
    bool needs_result;        /* some return needs the `result` temporary */
    bool uses_output;         /* some return writes *output */
    bool wait_after;          /* a wait point follows in the block of the current statement */
    bool after_label;         /* the last thing written was a label */
    bool join;                /* the next statement continues the current line (else if) */
    bool no_trailing;         /* the next comment goes on its own line */
    int consumed;             /* comments before this offset moved into the frame struct */
};

static const char *const reserved_names[] = {"self", "frame", "output", "waker", "result", NULL};

static bool same_name(const char *a, int alen, const char *b, int blen)
{
    return alen == blen && memcmp(a, b, (size_t) alen) == 0;
}

static struct binding *lookup(struct gen *g, const char *name, int len)
{
    for (int k = g->nscope - 1; k >= 0; k--)
        if (same_name(g->scope[k].name, g->scope[k].len, name, len))
            return &g->scope[k];
    return NULL;
}

static void bind(struct gen *g, int tok, int field)
{
    struct unit *u = g->u;
    if (g->nscope == g->scope_cap) {
        int cap = g->scope_cap ? g->scope_cap * 2 : 32;
        g->scope = arena_grow(u, g->scope, sizeof *g->scope * (size_t) g->scope_cap,
                              sizeof *g->scope * (size_t) cap);
        g->scope_cap = cap;
    }
    g->scope[g->nscope].name = u->text + u->toks[tok].start;
    g->scope[g->nscope].len = u->toks[tok].len;
    g->scope[g->nscope].field = field;
    g->nscope++;
    if (field >= 0)
        g->fields[field].in_use = true;
}

static void unbind_to(struct gen *g, int mark)
{
    while (g->nscope > mark) {
        g->nscope--;
        if (g->scope[g->nscope].field >= 0)
            g->fields[g->scope[g->nscope].field].in_use = false;
    }
}

static bool field_name_taken(struct gen *g, const char *name)
{
    if (strcmp(name, "base") == 0 || strcmp(name, "state") == 0 || strcmp(name, "awaited") == 0)
        return true;
    for (int k = 0; k < g->nfields; k++)
        if (strcmp(g->fields[k].name, name) == 0)
            return true;
    return false;
}

/* A new field for the variable declared at `tok` (with `key` its type);
 * shadowed names get a suffix: x, x_2, x_3. */
static int new_field(struct gen *g, int tok, const char *key, bool is_param)
{
    struct unit *u = g->u;
    const struct token *t = &u->toks[tok];
    const char *name = arena_printf(u, "%.*s", t->len, u->text + t->start);

    for (int n = 2; field_name_taken(g, name); n++)
        name = arena_printf(u, "%.*s_%d", t->len, u->text + t->start, n);
    if (g->nfields == g->fields_cap) {
        int cap = g->fields_cap ? g->fields_cap * 2 : 16;
        g->fields = arena_grow(u, g->fields, sizeof *g->fields * (size_t) g->fields_cap,
                               sizeof *g->fields * (size_t) cap);
        g->fields_cap = cap;
    }
    struct field *f = &g->fields[g->nfields];
    memset(f, 0, sizeof *f);
    f->name = name;
    f->key = key;
    f->orig = u->text + t->start;
    f->orig_len = t->len;
    f->is_param = is_param;
    f->lines[0] = t->line;
    f->nlines = 1;
    return g->nfields++;
}

/* The field a lifted local lives in: a new one, or the field of a variable
 * with the same name and type whose scope has ended (two `for (int i ...)`
 * loops share frame->i). */
static int local_field(struct gen *g, const struct decl *d, const struct declarator *dl)
{
    struct unit *u = g->u;
    const struct token *t = &u->toks[dl->name];
    const char *key = type_text(u, d->spec_lo, d->spec_hi, dl->lo, dl->hi, dl->name, "@", false);
    int f;

    for (f = 0; f < g->nfields; f++) {
        struct field *old = &g->fields[f];
        if (!old->is_param && !old->in_use && strcmp(old->key, key) == 0 &&
            same_name(old->orig, old->orig_len, u->text + t->start, t->len)) {
            if (old->nlines < 4)
                old->lines[old->nlines] = t->line;
            old->nlines++;
            break;
        }
    }
    if (f == g->nfields) {
        f = new_field(g, dl->name, key, false);
        g->fields[f].decl = type_text(u, d->spec_lo, d->spec_hi, dl->lo, dl->hi, dl->name,
                                      g->fields[f].name, false);
        if (d->trailing_comment >= 0 && d->count == 1)
            g->fields[f].comment = arena_strdup(u, u->text + d->trailing_comment,
                                                (size_t) (d->trailing_comment_end - d->trailing_comment));
    }
    bind(g, dl->name, f);
    return f;
}

/* ===== Writing the student's code ===== */

static void begin_line(struct gen *g, int tok)
{
    if (g->join) {
        g->join = false;
        return;
    }
    w_start(g->w, tok >= 0 ? g->u->toks[tok].line : 0);
}

/* One of corofy's own lines. */
static void gen_line(struct gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void gen_line(struct gen *g, const char *fmt, ...)
{
    va_list ap;
    w_start(g->w, g->w->fixed ? g->w->origin : 0);
    va_start(ap, fmt);
    w_vprintf(g->w, fmt, ap);
    va_end(ap);
}

/* A line of corofy's that stands for source line `line` (for --line). */
static void gen_line_at(struct gen *g, int line, const char *text)
{
    struct writer *w = g->w;
    if (w->col > 0)
        w_raw(w, "\n", 1);
    w->origin = line;
    w->fixed = true;
    w_spaces(w, w->indent);
    w_text(w, text);
}

/* Whitespace and comments between two tokens of one statement, as written,
 * with each new line moved to the statement's new indentation. */
static void emit_trivia(struct gen *g, int a, int b, int base, int next)
{
    const struct unit *u = g->u;
    const char *s = u->text;
    int k = a;
    bool line_start = false;

    for (;;) {
        if (line_start) {
            int end;
            while (is_removed_start(u, k, &end) && end <= b)
                k = end;
            int ws = 0;
            while (k < b && (s[k] == ' ' || s[k] == '\t')) {
                ws = s[k] == '\t' ? (ws / 8 + 1) * 8 : ws + 1;
                k++;
            }
            bool empty = k < b && s[k] == '\n';
            bool directive = k == b && u->toks[next].kind == TOK_DIRECTIVE;
            if (!empty && !directive)
                w_spaces(g->w, g->w->indent + (ws > base ? ws - base : 0));
            line_start = false;
        }
        if (k >= b)
            break;
        int nl = k;
        while (nl < b && s[nl] != '\n')
            nl++;
        w_raw(g->w, s + k, (size_t) (nl - k));
        if (nl >= b)
            break;
        w_raw(g->w, "\n", 1);
        k = nl + 1;
        line_start = true;
    }
}

static void emit_ident(struct gen *g, int i)
{
    struct unit *u = g->u;
    const struct token *t = &u->toks[i];
    bool member = i > 0 && (tok_punct(u, i - 1, ".") || tok_punct(u, i - 1, "->") ||
                            tok_is(u, i - 1, "struct") || tok_is(u, i - 1, "union") ||
                            tok_is(u, i - 1, "enum") || tok_is(u, i - 1, "goto"));
    if (!member && !tok_keyword(u, i)) {
        struct binding *b = lookup(g, u->text + t->start, t->len);
        if (b != NULL && b->field >= 0) {
            w_printf(g->w, "frame->%s", g->fields[b->field].name);
            return;
        }
        for (int k = 0; b == NULL && reserved_names[k] != NULL; k++)
            if (same_name(reserved_names[k], (int) strlen(reserved_names[k]), u->text + t->start, t->len))
                fail(u, i, "'%s' is a name the code corofy generates uses for itself, so it "
                           "cannot be used here; rename it", reserved_names[k]);
    }
    w_raw(g->w, u->text + t->start, (size_t) t->len);
}

/* Tokens [lo, hi) with the whitespace between them; locals become frame
 * fields. `base` is the visual column the statement started at. */
static void emit_tokens(struct gen *g, int lo, int hi, int base)
{
    struct unit *u = g->u;
    struct writer *w = g->w;
    for (int i = lo; i < hi; i++) {
        if (i > lo)
            emit_trivia(g, u->toks[i].trivia, u->toks[i].start, base, i);
        if (u->toks[i].kind == TOK_IDENT) {
            emit_ident(g, i);
        } else if (u->toks[i].kind == TOK_DIRECTIVE) {
            /* A preprocessor line needs a line of its own, before and after. */
            if (w->col > 0)
                w_raw(w, "\n", 1);
            w->origin = u->toks[i].line;
            w->fixed = false;
            w_raw(w, u->text + u->toks[i].start, (size_t) u->toks[i].len);
            if (i + 1 == hi)
                w_start(w, 0);
        } else {
            w_raw(w, u->text + u->toks[i].start, (size_t) u->toks[i].len);
        }
    }
}

static int stmt_base(struct gen *g, int tok)
{
    return visual_col(g->u, g->u->toks[tok].start);
}

/* A comment from the source on a line of its own (continuation lines keep
 * their position relative to the first). */
static void emit_comment(struct gen *g, int a, int b)
{
    const char *s = g->u->text;
    int base = visual_col(g->u, a);
    int k = a;
    while (k < b) {
        int nl = k;
        while (nl < b && s[nl] != '\n')
            nl++;
        w_raw(g->w, s + k, (size_t) (nl - k));
        if (nl >= b)
            break;
        w_raw(g->w, "\n", 1);
        k = nl + 1;
        int ws = 0;
        while (k < b && (s[k] == ' ' || s[k] == '\t')) {
            ws = s[k] == '\t' ? (ws / 8 + 1) * 8 : ws + 1;
            k++;
        }
        if (k < b && s[k] != '\n')
            w_spaces(g->w, g->w->indent + (ws > base ? ws - base : 0));
    }
    if (b - a >= 2 && s[a + 1] == '/')
        g->w->line_comment = true;
}

/* The comments before token `tok`, where a statement starts or a block
 * ends: each on a line of its own, except one that shared a line with the
 * token before, which stays at the end of that line. Blank lines are kept
 * (one for several) where allow_blank says, but not right before `tok`
 * unless final_blank says so (a block's '}' never follows a blank line). */
static void emit_leading(struct gen *g, int tok, bool allow_blank, bool final_blank)
{
    const struct unit *u = g->u;
    const char *s = u->text;
    int k = u->toks[tok].trivia, end = u->toks[tok].start, newlines = 0;

    while (k < end) {
        int skip_to;
        if (s[k] == '\n') {
            newlines++;
            k++;
            continue;
        }
        if ((k == 0 || s[k - 1] == '\n') && is_removed_start(u, k, &skip_to)) {
            k = skip_to;
            continue;
        }
        if (s[k] != '/' || k + 1 >= end || (s[k + 1] != '*' && s[k + 1] != '/')) {
            k++;
            continue;
        }
        int e = k + 2;
        if (s[k + 1] == '*') {
            while (e + 1 < end && !(s[e] == '*' && s[e + 1] == '/'))
                e++;
            e += 2;
        } else {
            while (e < end && s[e] != '\n')
                e++;
        }
        if (k < g->consumed) {
            k = e;
            continue;
        }
        if (newlines == 0 && !g->no_trailing && g->w->col > 0 && !g->w->line_comment) {
            w_raw(g->w, " ", 1);
        } else {
            if (newlines >= 2 && allow_blank)
                w_blank_line(g->w);
            w_start(g->w, line_of_offset(u, k));
        }
        emit_comment(g, k, e);
        g->no_trailing = false;
        allow_blank = true;
        newlines = 0;
        k = e;
    }
    g->no_trailing = false;
    if (newlines >= 2 && allow_blank && final_blank)
        w_blank_line(g->w);
}

/* ===== Statements ===== */

static void gen_stmt(struct gen *g, const struct stmt *s);

static void gen_items(struct gen *g, const struct stmt *block)
{
    int mark = g->nscope;
    bool saved = g->wait_after;

    for (int k = 0; k < block->count; k++) {
        const struct stmt *item = block->items[k];
        emit_leading(g, item->lo, k > 0, true);
        g->wait_after = false;
        for (int j = k; j < block->count; j++)
            g->wait_after |= block->items[j]->has_wait;
        gen_stmt(g, item);
    }
    emit_leading(g, block->hi - 1, true, false);
    g->wait_after = saved;
    unbind_to(g, mark);
}

/* A wait point: store the future, poll it (the case label lets the next
 * poll come straight back here), and continue once it is ready. */
static void gen_wait(struct gen *g, const struct wait_point *wp, const char *dest)
{
    struct unit *u = g->u;
    struct writer *w = g->w;
    int line = u->toks[wp->stmt_lo].line;
    struct buf text = {0};

    collapsed(u, wp->stmt_lo, wp->stmt_hi, &text);
    gen_line(g, "/* ---- wait point %d: %s ---- */", wp->number,
             comment_safe(u, text.data, text.len));
    buf_free(&text);
    gen_line_at(g, line, "frame->awaited = ");
    emit_tokens(g, wp->expr_lo, wp->expr_hi, stmt_base(g, wp->stmt_lo));
    w_text(w, ";");
    int comment_end, comment = trailing_comment(u, wp->stmt_hi - 1, &comment_end);
    if (comment >= 0 && comment >= g->consumed) {
        /* the student's note on this line goes with the future it is about */
        w_raw(w, " ", 1);
        emit_comment(g, comment, comment_end);
        g->consumed = comment_end;
    }
    gen_line_at(g, line, arena_printf(u, "frame->state = %d;", wp->number));
    gen_line_at(g, line, "/* fall through */");
    /* No #line may come between the comment and the label, or gcc no longer
     * sees the comment (-Wimplicit-fallthrough); a label has no code anyway. */
    int indent = w->indent;
    w->indent = 4;
    gen_line_at(g, -1, arena_printf(u, "case %d:", wp->number));
    w->indent = indent;
    gen_line_at(g, line, arena_printf(u, "if (frame->awaited->poll(frame->awaited, %s%s) == "
                                         "POLL_PENDING)", u->waker ? "waker, " : "", dest));
    w->indent += 4;
    gen_line_at(g, line, "return POLL_PENDING;");
    w->indent -= 4;
    gen_line_at(g, line, "frame->awaited->drop(frame->awaited);");
    gen_line_at(g, line, "frame->awaited = NULL;");
    w->fixed = false;
    gen_line(g, "/* ---- end of wait point %d ---- */", wp->number);
}

/* Could evaluating [lo, hi) have side effects (a call, ++, an assignment)? */
static bool has_side_effects(const struct unit *u, int lo, int hi)
{
    static const char *const ops[] = {
        "++", "--", "=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=",
    };
    for (int i = lo; i < hi; i++) {
        bool after_cast = i > lo && tok_punct(u, i - 1, ")") &&
                          is_type_name_group(u, u->toks[i - 1].match);
        if (tok_punct(u, i, "(") && i > lo && !after_cast &&
            ((u->toks[i - 1].kind == TOK_IDENT && !tok_keyword(u, i - 1)) ||
             tok_punct(u, i - 1, ")") || tok_punct(u, i - 1, "]")))
            return true;
        for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
            if (tok_punct(u, i, ops[k]))
                return true;
    }
    return false;
}

/* `return [v];` finishes the coroutine: v goes to *output (if the caller
 * wants it), and the frame is marked finished. */
static void gen_return(struct gen *g, const struct stmt *s)
{
    struct unit *u = g->u;
    struct writer *w = g->w;
    const struct coroutine *co = g->co;
    int line = u->toks[s->lo].line;
    const char *store = arena_printf(u, "*%s output = result;", g->output_cast);

    if (s->wait != NULL) {
        gen_wait(g, s->wait, co->returns_void ? "NULL" : "&result");
        if (!co->returns_void) {
            g->needs_result = g->uses_output = true;
            gen_line_at(g, line, "if (output != NULL)");
            w->indent += 4;
            gen_line_at(g, line, store);
            w->indent -= 4;
        }
    } else if (s->expr_lo < s->expr_hi) {
        int base = stmt_base(g, s->lo);
        g->uses_output = true;
        if (has_side_effects(u, s->expr_lo, s->expr_hi)) {
            /* evaluated even when the caller discards the value */
            g->needs_result = true;
            begin_line(g, s->expr_lo);
            w_text(w, "result = ");
            emit_tokens(g, s->expr_lo, s->expr_hi, base);
            w_text(w, ";");
            gen_line_at(g, line, "if (output != NULL)");
            w->indent += 4;
            gen_line_at(g, line, store);
            w->indent -= 4;
        } else {
            gen_line_at(g, line, "if (output != NULL)");
            w->indent += 4;
            w_start(w, u->toks[s->expr_lo].line);
            w_printf(w, "*%s output = ", g->output_cast);
            emit_tokens(g, s->expr_lo, s->expr_hi, base);
            w_text(w, ";");
            w->indent -= 4;
        }
    }
    gen_line_at(g, line, "frame->state = -1;");
    gen_line_at(g, line, "return POLL_READY;");
    w->fixed = false;
}

/* Is this declarator's type variably modified (an array sized by a variable)? */
static bool variably_modified(struct gen *g, const struct declarator *dl)
{
    struct unit *u = g->u;
    for (int i = dl->lo; i < dl->hi; i++) {
        if (!tok_punct(u, i, "["))
            continue;
        int close = u->toks[i].match;
        if (close == i + 2 && tok_punct(u, i + 1, "*"))
            return true;
        for (int k = i + 1; k < close; k++)
            if (u->toks[k].kind == TOK_IDENT && !tok_keyword(u, k) &&
                !(k > 0 && (tok_punct(u, k - 1, ".") || tok_punct(u, k - 1, "->"))) &&
                lookup(g, u->text + u->toks[k].start, u->toks[k].len) != NULL)
                return true;
        i = close;
    }
    return false;
}

/* A declaration. Its variables are lifted into the frame: `int i = 0;`
 * becomes `frame->i = 0;`, and no line at all without an initialiser.
 * Statics, function declarations and variable-length arrays that no wait
 * follows stay as they are. In a for header (in_for) the assignments are
 * joined with commas. */
static void gen_decl(struct gen *g, const struct decl *d, int lo, int hi, bool in_for)
{
    struct unit *u = g->u;
    struct writer *w = g->w;
    int base = stmt_base(g, lo), functions = 0, vla = -1;

    for (int k = 0; k < d->count; k++) {
        functions += d->items[k].is_function;
        if (vla < 0 && variably_modified(g, &d->items[k]))
            vla = k;
    }
    if (functions > 0 && functions < d->count && !d->is_static)
        fail(u, lo, "a declaration that mixes functions and variables is not supported in a "
                    "coroutine; split it in two");
    if (vla >= 0 && g->wait_after)
        fail(u, d->items[vla].name, "variable-length array '%.*s' lives across a wait point, "
                                    "but a frame has a fixed size: give it a constant size, "
                                    "or allocate it with malloc",
             u->toks[d->items[vla].name].len, u->text + u->toks[d->items[vla].name].start);
    if (d->count == 0 || d->is_static || functions > 0 || vla >= 0) {
        /* a C local of the poll function, exactly as written */
        for (int k = 0; k < d->count; k++)
            if (d->items[k].wait != NULL)
                fail(u, d->items[k].name, "this declaration stays a local of the poll "
                                          "function, so it cannot be initialised by a wait");
        if (in_for) {
            emit_tokens(g, lo, hi, base);
        } else {
            if (g->after_label)
                gen_line(g, ";  /* a label cannot be followed by a declaration */");
            begin_line(g, lo);
            emit_tokens(g, lo, hi, base);
        }
        for (int k = 0; k < d->count; k++) {
            const struct token *t = &u->toks[d->items[k].name];
            for (int r = 0; reserved_names[r] != NULL; r++)
                if (same_name(reserved_names[r], (int) strlen(reserved_names[r]),
                              u->text + t->start, t->len))
                    fail(u, d->items[k].name, "'%s' is a name the code corofy generates uses "
                                              "for itself, and this declaration stays a local "
                                              "of the poll function; rename it", reserved_names[r]);
            bind(g, d->items[k].name, -1);
        }
        return;
    }

    bool first = true, emitted = false;
    for (int k = 0; k < d->count; k++) {
        const struct declarator *dl = &d->items[k];
        const struct token *name = &u->toks[dl->name];
        if (dl->is_array && u->toks[dl->name + 1].match == dl->name + 2)
            fail(u, dl->name, "array '%.*s' needs an explicit size to live in the frame "
                              "(write the number between the brackets)",
                 name->len, u->text + name->start);
        int f = local_field(g, d, dl);
        const char *field = g->fields[f].name;
        if (dl->wait != NULL) {
            gen_wait(g, dl->wait, arena_printf(u, "&frame->%s", field));
            emitted = true;
            continue;
        }
        if (dl->init_lo == dl->init_hi)
            continue;
        bool braced = tok_punct(u, dl->init_lo, "{");
        const char *type = braced || dl->is_array
                               ? type_text(u, d->spec_lo, d->spec_hi, dl->lo, dl->hi, dl->name, NULL, false)
                               : NULL;
        if (in_for) {
            if (dl->is_array)
                fail(u, dl->name, "an initialised array cannot be declared in a 'for' header of "
                                  "a coroutine; declare it before the loop");
            if (!first)
                w_text(w, ", ");
            first = false;
        } else {
            begin_line(g, dl->name);
        }
        if (dl->is_array) {
            w_printf(w, "memcpy(frame->%s, (%s)%s", field, type, braced ? "" : "{");
            emit_tokens(g, dl->init_lo, dl->init_hi, base);
            w_printf(w, "%s, sizeof frame->%s)", braced ? "" : "}", field);
        } else {
            w_printf(w, "frame->%s = ", field);
            if (braced)
                w_printf(w, "(%s)", type);
            emit_tokens(g, dl->init_lo, dl->init_hi, base);
        }
        if (!in_for)
            w_text(w, ";");
        emitted = true;
    }
    if (!emitted && !in_for && d->trailing_comment >= 0 && d->count == 1)
        g->consumed = d->trailing_comment_end;  /* it labels the field instead */
}

static bool needs_braces(const struct stmt *body)
{
    return body->has_wait || body->kind == STMT_RETURN || body->kind == STMT_LABEL;
}

/* The body of if/else/while/for/do/switch. Returns whether it ends with a
 * closing brace on the current line (for `} else` and `} while`). */
static bool gen_body(struct gen *g, const struct stmt *body)
{
    struct writer *w = g->w;

    if (body->kind == STMT_BLOCK) {
        emit_leading(g, body->lo, false, false);
        w_join(w, " {");
        w->indent += 4;
        gen_items(g, body);
        w->indent -= 4;
        begin_line(g, body->hi - 1);
        w_text(w, "}");
        return true;
    }
    if (needs_braces(body)) {
        w_join(w, " {");
        w->indent += 4;
        emit_leading(g, body->lo, false, false);
        gen_stmt(g, body);
        w->indent -= 4;
        begin_line(g, -1);
        w_text(w, "}");
        return true;
    }
    w->indent += 4;
    emit_leading(g, body->lo, false, false);
    gen_stmt(g, body);
    w->indent -= 4;
    return false;
}

static void emit_head(struct gen *g, const struct stmt *s, const char *keyword)
{
    w_text(g->w, keyword);
    w_text(g->w, " ");
    emit_tokens(g, s->head, g->u->toks[s->head].match + 1, stmt_base(g, s->lo));
}

static void gen_for(struct gen *g, const struct stmt *s)
{
    struct writer *w = g->w;
    int base = stmt_base(g, s->lo), mark = g->nscope;

    begin_line(g, s->lo);
    if (s->decl == NULL) {
        emit_head(g, s, "for");
    } else {
        bool saved = g->wait_after;
        w_text(w, "for (");
        g->wait_after = s->has_wait;
        gen_decl(g, s->decl, s->init_lo, s->init_hi, true);
        g->wait_after = saved;
        w_text(w, ";");
        if (s->cond_lo < s->cond_hi) {
            if (g->u->toks[s->cond_lo].kind != TOK_DIRECTIVE)
                w_text(w, " ");
            emit_tokens(g, s->cond_lo, s->cond_hi, base);
        }
        w_text(w, ";");
        if (s->step_lo < s->step_hi) {
            if (g->u->toks[s->step_lo].kind != TOK_DIRECTIVE)
                w_text(w, " ");
            emit_tokens(g, s->step_lo, s->step_hi, base);
        }
        w_text(w, ")");
    }
    gen_body(g, s->body);
    unbind_to(g, mark);
}

static void gen_stmt(struct gen *g, const struct stmt *s)
{
    struct unit *u = g->u;
    struct writer *w = g->w;
    bool after_label = g->after_label;
    const char *dest = "NULL";

    g->after_label = false;
    switch (s->kind) {
    case STMT_BLOCK:
        begin_line(g, s->lo);
        w_text(w, "{");
        w->indent += 4;
        gen_items(g, s);
        w->indent -= 4;
        begin_line(g, s->hi - 1);
        w_text(w, "}");
        break;
    case STMT_IF: {
        begin_line(g, s->lo);
        emit_head(g, s, "if");
        bool braced = gen_body(g, s->body);
        if (s->else_body != NULL) {
            emit_leading(g, s->else_tok, false, false);
            if (braced) {
                w_join(w, " else");
            } else {
                begin_line(g, s->else_tok);
                w_text(w, "else");
            }
            if (s->else_body->kind == STMT_IF) {
                emit_leading(g, s->else_body->lo, false, false);
                w_join(w, " ");
                g->join = true;
                gen_stmt(g, s->else_body);
            } else {
                gen_body(g, s->else_body);
            }
        }
        break;
    }
    case STMT_WHILE:
        begin_line(g, s->lo);
        emit_head(g, s, "while");
        gen_body(g, s->body);
        break;
    case STMT_SWITCH:
        begin_line(g, s->lo);
        emit_head(g, s, "switch");
        gen_body(g, s->body);
        break;
    case STMT_DO: {
        begin_line(g, s->lo);
        w_text(w, "do");
        bool braced = gen_body(g, s->body);
        emit_leading(g, s->else_tok, false, false);
        if (braced) {
            w_join(w, " ");
        } else {
            begin_line(g, s->else_tok);
        }
        emit_head(g, s, "while");
        w_text(w, ";");
        break;
    }
    case STMT_FOR:
        gen_for(g, s);
        break;
    case STMT_LABEL: {
        int indent = w->indent;
        w->indent = indent >= 4 ? indent - 4 : 0;
        begin_line(g, s->lo);
        if (tok_is(u, s->lo, "case") || tok_is(u, s->lo, "default")) {
            emit_tokens(g, s->lo, s->label_hi, stmt_base(g, s->lo));
        } else {
            w_raw(w, u->text + u->toks[s->lo].start, (size_t) u->toks[s->lo].len);
            w_text(w, ":");
        }
        w->indent = indent;
        g->after_label = true;
        if (s->body != NULL) {
            emit_leading(g, s->body->lo, false, false);
            gen_stmt(g, s->body);
        } else {
            gen_line(g, ";");
        }
        break;
    }
    case STMT_RETURN:
        gen_return(g, s);
        break;
    case STMT_DECL:
        g->after_label = after_label;
        gen_decl(g, s->decl, s->lo, s->hi, false);
        g->after_label = false;
        break;
    case STMT_WAIT:
        if (s->dest >= 0) {
            const struct token *t = &u->toks[s->dest];
            struct binding *b = lookup(g, u->text + t->start, t->len);
            if (b != NULL && b->field >= 0) {
                dest = arena_printf(u, "&frame->%s", g->fields[b->field].name);
            } else {
                for (int k = 0; b == NULL && reserved_names[k] != NULL; k++)
                    if (same_name(reserved_names[k], (int) strlen(reserved_names[k]),
                                  u->text + t->start, t->len))
                        fail(u, s->dest, "'%s' is a name the code corofy generates uses for "
                                         "itself, so it cannot be used here; rename it",
                             reserved_names[k]);
                dest = arena_printf(u, "&%.*s", t->len, u->text + t->start);
            }
        }
        gen_wait(g, s->wait, dest);
        break;
    case STMT_DIRECTIVE: {
        int indent = w->indent;
        w->indent = 0;
        begin_line(g, s->lo);
        w_raw(w, u->text + u->toks[s->lo].start, (size_t) u->toks[s->lo].len);
        w->indent = indent;
        break;
    }
    case STMT_SIMPLE:
        if (s->is_declaration_like && after_label)
            gen_line(g, ";  /* a label cannot be followed by a declaration */");
        begin_line(g, s->lo);
        emit_tokens(g, s->lo, s->hi, stmt_base(g, s->lo));
        break;
    }
}

/* ===== One coroutine ===== */

static const char *name_of(struct unit *u, const struct coroutine *co)
{
    const struct token *t = &u->toks[co->name];
    return arena_printf(u, "%.*s", t->len, u->text + t->start);
}

/* The function as written, in // comments (a // comment cannot be ended
 * early by anything in the code, unlike a block comment). */
static void gen_source_comment(struct gen *g, const char *name)
{
    struct unit *u = g->u;
    struct writer *w = g->w;
    const struct coroutine *co = g->co;
    const char *s = u->text;
    int k = u->toks[co->first].start, end = u->toks[co->last].start + u->toks[co->last].len;

    w_start(w, 0);
    w_printf(w, "// ===== coroutine %s (%s:%d), as you wrote it =====", name, u->base_name,
             u->toks[co->first].line);
    gen_line(g, "//");
    while (k < end) {
        int nl = k, skip;
        while (nl < end && s[nl] != '\n')
            nl++;
        int stop = nl;
        while (stop > k && (s[stop - 1] == ' ' || s[stop - 1] == '\t' || s[stop - 1] == '\r'))
            stop--;
        if ((k == 0 || s[k - 1] == '\n') && is_removed_start(u, k, &skip)) {
            k = nl + 1;
            continue;
        }
        w_start(w, 0);
        w_text(w, stop > k ? "//     " : "//");
        w_raw(w, s + k, (size_t) (stop - k));
        if (stop > k && (s[stop - 1] == '\\' || (stop - k >= 3 && memcmp(s + stop - 3, "?\?/", 3) == 0)))
            w_text(w, " (the line continues)");
        k = nl + 1;
    }
    gen_line(g, "//");
    gen_line(g, "// corofy turned it into the four pieces below: struct %s_frame (the state,", name);
    gen_line(g, "// the parameters and the locals, kept from one poll to the next), %s_poll", name);
    gen_line(g, "// (runs the body from one wait point to the next), %s_drop, and the", name);
    gen_line(g, "// constructor %s(), which makes the frame without running any of the body.", name);
}

static const char *param_list(struct gen *g)
{
    const struct coroutine *co = g->co;
    struct buf b = {0};
    if (co->rparen == co->lparen + 1)
        buf_puts(&b, "(void)");
    else
        collapsed(g->u, co->lparen, co->rparen + 1, &b);
    const char *text = arena_strdup(g->u, b.data, b.len);
    buf_free(&b);
    return text;
}

static void gen_frame_struct(struct gen *g, const char *name)
{
    struct unit *u = g->u;
    const struct coroutine *co = g->co;
    int width = (int) strlen("struct future *awaited;");
    char state[200], lines[120];

    for (int k = 0; k < g->nfields; k++) {
        struct field *f = &g->fields[k];
        size_t n = strlen(f->decl);
        char *decl = arena_alloc(u, n + 2);
        memcpy(decl, f->decl, n);
        decl[n] = ';';
        f->decl_semi = decl;
        if ((int) n + 1 > width)
            width = (int) n + 1;
    }
    if (co->nwaits == 0)
        snprintf(state, sizeof state, "/* 0: not started, -1: finished */");
    else if (co->nwaits == 1)
        snprintf(state, sizeof state, "/* 0: not started, 1: at the wait point, -1: finished */");
    else
        snprintf(state, sizeof state, "/* 0: not started, 1-%d: at that wait point, -1: finished */",
                 co->nwaits);

    gen_line(g, "struct %s_frame {", name);
    gen_line(g, "    %-*s %s", width, "struct future base;", "/* first: a frame is a future */");
    gen_line(g, "    %-*s %s", width, "int state;", state);
    for (int k = 0; k < g->nfields; k++) {
        const struct field *f = &g->fields[k];
        const char *decl = f->decl_semi;
        if (f->is_param) {
            gen_line(g, "    %-*s /* parameter */", width, decl);
        } else if (f->comment != NULL) {
            gen_line(g, "    %-*s %s", width, decl, f->comment);
        } else {
            int n = snprintf(lines, sizeof lines, "%s %d", f->nlines > 1 ? "lines" : "line", f->lines[0]);
            for (int j = 1; j < f->nlines && j < 4 && n < 100; j++)
                n += snprintf(lines + n, sizeof lines - (size_t) n, "%s%d",
                              j == f->nlines - 1 ? " and " : ", ", f->lines[j]);
            if (f->nlines > 4 && n < 100)
                snprintf(lines + n, sizeof lines - (size_t) n, ", ...");
            bool renamed = !same_name(f->name, (int) strlen(f->name), f->orig, f->orig_len);
            gen_line(g, "    %-*s /* local%s%.*s, %s */", width, decl, renamed ? " " : "",
                     renamed ? (f->orig_len > 200 ? 200 : f->orig_len) : 0, f->orig, lines);
        }
    }
    gen_line(g, "    %-*s %s", width, "struct future *awaited;", "/* the future being waited for, or NULL */");
    gen_line(g, "};");
}

static void gen_poll(struct gen *g, const char *name)
{
    struct writer *w = g->w;
    const struct coroutine *co = g->co;
    int last = co->body->count - 1;

    gen_line(g, "static enum poll_status %s_poll(struct future *self, %svoid *output)", name,
             g->u->waker ? "const struct waker *waker, " : "");
    gen_line(g, "{");
    gen_line(g, "    struct %s_frame *frame = (struct %s_frame *) self;", name, name);
    if (g->needs_result)
        gen_line(g, "    %s%sresult; /* the value of a return statement */", g->return_type,
                 g->return_type[strlen(g->return_type) - 1] == '*' ? "" : " ");
    w_blank_line(g->w);
    if (!g->uses_output)
        gen_line(g, "    (void) output; /* %s */",
                 co->returns_void ? "a void coroutine produces nothing" : "it never returns");
    if (g->u->waker && co->nwaits == 0)
        gen_line(g, "    (void) waker;  /* no wait point to hand it to */");
    gen_line(g, "    switch (frame->state) {");
    gen_line(g, "    case 0:");
    gen_line(g, "        /* ---- your code, its locals moved into the frame ---- */");

    w->indent = 8;
    g->after_label = true;
    g->no_trailing = true;
    for (int k = 0; k < co->nparams; k++)
        bind(g, co->params[k].name, k);
    gen_items(g, co->body);
    w->indent = 0;

    gen_line(g, "        /* ---- end of your code ---- */");
    if (last < 0 || co->body->items[last]->kind != STMT_RETURN) {
        if (co->returns_void) {
            gen_line(g, "        frame->state = -1;");
            gen_line(g, "        return POLL_READY;");
        } else {
            gen_line(g, "        fprintf(stderr, \"corofy: %s ended without returning a value\\n\");", name);
            gen_line(g, "        abort();");
        }
    }
    gen_line(g, "    default:");
    gen_line(g, "        fprintf(stderr, \"corofy: %s polled after it completed\\n\");", name);
    gen_line(g, "        abort();");
    gen_line(g, "    }");
    gen_line(g, "}");
}

static void gen_drop(struct gen *g, const char *name)
{
    gen_line(g, "static void %s_drop(struct future *self)", name);
    gen_line(g, "{");
    gen_line(g, "    struct %s_frame *frame = (struct %s_frame *) self;", name, name);
    w_blank_line(g->w);
    gen_line(g, "    if (frame->awaited != NULL) /* dropped while waiting */");
    gen_line(g, "        frame->awaited->drop(frame->awaited);");
    gen_line(g, "    free(frame);");
    gen_line(g, "}");
}

static void gen_constructor(struct gen *g, const char *name, const char *params)
{
    struct unit *u = g->u;
    const struct coroutine *co = g->co;

    gen_line(g, "%sstruct future *%s%s", co->is_static ? "static " : "", name, params);
    gen_line(g, "{");
    gen_line(g, "    struct %s_frame *frame = malloc(sizeof *frame);", name);
    w_blank_line(g->w);
    gen_line(g, "    if (frame == NULL) {");
    gen_line(g, "        fprintf(stderr, \"corofy: out of memory creating %s\\n\");", name);
    gen_line(g, "        abort();");
    gen_line(g, "    }");
    gen_line(g, "    frame->base.poll = %s_poll;", name);
    gen_line(g, "    frame->base.drop = %s_drop;", name);
    gen_line(g, "    frame->state = 0;");
    for (int k = 0; k < co->nparams; k++) {
        const struct token *t = &u->toks[co->params[k].name];
        gen_line(g, "    frame->%s = %.*s;", g->fields[k].name, t->len, u->text + t->start);
    }
    gen_line(g, "    frame->awaited = NULL;");
    gen_line(g, "    return &frame->base; /* lazy: none of the body has run yet */");
    gen_line(g, "}");
}

static void add_param_fields(struct gen *g)
{
    struct unit *u = g->u;
    const struct coroutine *co = g->co;
    for (int k = 0; k < co->nparams; k++) {
        const struct param *p = &co->params[k];
        int spec_end = skip_specifiers(u, p->lo, p->hi);
        int f = new_field(g, p->name, "", true);
        g->fields[f].decl = type_text(u, p->lo, spec_end, spec_end, p->hi, p->name,
                                      g->fields[f].name, true);
    }
}

static void reset_frame(struct gen *g)
{
    g->nfields = 0;
    g->nscope = 0;
    g->consumed = 0;
    add_param_fields(g);
}

static void gen_definition(struct unit *u, struct writer *out, struct coroutine *co)
{
    struct gen g = {.u = u, .co = co, .w = out};
    const char *name = name_of(u, co);
    const char *params = param_list(&g);
    int star = co->type_lo;
    while (star < co->type_hi && !tok_punct(u, star, "*"))
        star++;
    g.return_type = type_text(u, co->type_lo, star, star, co->type_hi, -1, NULL, false);
    size_t n = strlen(g.return_type);
    char *cast = arena_alloc(u, n + 5);
    snprintf(cast, n + 5, "(%s%s)", g.return_type,
             n > 0 && g.return_type[n - 1] == '*' ? "*" : " *");
    g.output_cast = cast;

    /* First pass: find the fields, and whether `result` and `output` are used. */
    struct writer scratch = {.out = &u->scratch};
    reset_frame(&g);
    g.w = &scratch;
    gen_poll(&g, name);
    u->scratch.len = 0;
    g.w = out;

    gen_source_comment(&g, name);
    w_blank_line(g.w);
    gen_line(&g, "%sstruct future *%s%s;", co->is_static ? "static " : "", name, params);
    w_blank_line(g.w);
    gen_frame_struct(&g, name);
    w_blank_line(g.w);

    /* Second pass: the same walk, so the same fields, written for real. */
    reset_frame(&g);
    gen_poll(&g, name);
    w_blank_line(g.w);
    gen_drop(&g, name);
    w_blank_line(g.w);
    gen_constructor(&g, name, params);
    w_raw(out, "\n", 1);
}

/* `coroutine T name(params);` declares the constructor. */
static void gen_declaration(struct unit *u, struct writer *w, struct coroutine *co)
{
    struct gen g = {.u = u, .co = co, .w = w};
    struct buf original = {0};

    collapsed(u, co->first, co->last + 1, &original);
    w_start(w, 0);
    w_text(w, "// corofy: ");
    w_text(w, comment_safe(u, original.data, original.len));
    buf_free(&original);
    gen_line(&g, "%sstruct future *%s%s;", co->is_static ? "static " : "", name_of(u, co),
             param_list(&g));
    w_raw(w, "\n", 1);
}

/* ===== The whole file ===== */

/* Source bytes [from, to), minus the removed stretches, as they are. */
static void copy_source(struct unit *u, struct writer *w, int from, int to)
{
    int k = from;
    for (int r = 0; r < u->nremoved && k < to; r++) {
        const struct span *sp = &u->removed[r];
        if (sp->end <= k || sp->start >= to)
            continue;
        if (sp->start > k) {
            w->origin = line_of_offset(u, k);
            w->fixed = false;
            w_raw(w, u->text + k, (size_t) (sp->start - k));
        }
        k = sp->end;
    }
    if (k < to) {
        w->origin = line_of_offset(u, k);
        w->fixed = false;
        w_raw(w, u->text + k, (size_t) (to - k));
    }
}

void generate(struct unit *u)
{
    struct writer w = {
        .out = u->out,
        .out_line = 1,
        .presumed = 1,
        .directives = u->options->line_directives,
        .src_name = u->options->input_name,
        .out_name = u->options->output_name,
    };
    int pos = 0;

    for (struct coroutine *co = u->coroutines; co != NULL; co = co->next) {
        copy_source(u, &w, pos, u->toks[co->first].start);
        if (co->is_definition)
            gen_definition(u, &w, co);
        else
            gen_declaration(u, &w, co);
        /* the rest of the last line, when it holds nothing */
        pos = u->toks[co->last].start + u->toks[co->last].len;
        int k = pos;
        while (k < u->len && (u->text[k] == ' ' || u->text[k] == '\t' || u->text[k] == '\r'))
            k++;
        if (k == u->len)
            pos = k;
        else if (u->text[k] == '\n')
            pos = k + 1;
    }
    copy_source(u, &w, pos, u->len);
}
