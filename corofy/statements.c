/* statements.c: writes the body of a coroutine inside its poll function:
 * the student's own text (with its spacing and comments, its locals become
 * frame fields), the wait points, and each kind of statement, including the
 * ones whose conditions wait (a loop whose condition waits becomes a
 * `for (;;)` that waits, then tests). Part of corofy/, the coroutine
 * preprocessor of ch04-coroutines and ch05-runtime. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "generate.h"

/* ===== Text helpers ===== */

/* Tokens [lo, hi) on one line: any whitespace or comment between two
 * tokens becomes one space. For comments, messages and types. */
const char *collapsed_text(struct unit *u, int lo, int hi)
{
    struct buf b = {0};
    for (int i = lo; i < hi; i++) {
        int len;
        const char *s = tok_text(u, i, &len);
        if (i > lo && tok_trivia(u, i) < u->toks[i].start)
            buf_puts(&b, " ");
        buf_put(&b, s, (size_t) len);
    }
    const char *text = arena_strdup(u, b.data ? b.data : "", b.len);
    buf_free(&b);
    return text;
}

/* Text that goes inside a C comment must not end it, nor open another
 * (which -Wcomment reports); nor span lines. Character c of such text, after
 * `last`: written as `out` (a space for a line break or a backslash), with
 * a space before it when it would make a comment's end or start. */
static bool comment_char(char last, char c, char *out)
{
    *out = c == '\n' || c == '\r' || c == '\\' ? ' ' : c;
    return (last == '*' && *out == '/') || (last == '/' && *out == '*');
}

const char *comment_safe(struct unit *u, const char *s, size_t n)
{
    struct buf b = {0};
    char last = ' ';
    for (size_t k = 0; k < n; k++) {
        if (comment_char(last, s[k], &last))
            buf_puts(&b, " ");
        buf_put(&b, &last, 1);
    }
    const char *result = arena_strdup(u, b.data ? b.data : "", b.len);
    buf_free(&b);
    return result;
}

/* ===== Lines ===== */

void begin_line(struct gen *g, int tok)
{
    if (g->join) {
        g->join = false;
        return;
    }
    w_start(g->w, tok >= 0 ? tok_line(g->u, tok) : 0);
}

/* One of corofy's own lines. */
void gen_line(struct gen *g, const char *fmt, ...)
{
    va_list ap;
    w_start(g->w, g->w->fixed ? g->w->origin : 0);
    va_start(ap, fmt);
    w_vprintf(g->w, fmt, ap);
    va_end(ap);
}

/* A line of corofy's that stands for source line `line` (for --line). */
void gen_line_at(struct gen *g, int line, const char *fmt, ...)
{
    struct writer *w = g->w;
    va_list ap;
    if (w->col > 0)
        w_raw(w, "\n", 1);
    w->origin = line;
    w->fixed = true;
    w_spaces(w, w->indent);
    va_start(ap, fmt);
    w_vprintf(w, fmt, ap);
    va_end(ap);
}

/* ===== The student's text ===== */

/* Whitespace and comments [a, b) between two tokens of one statement, as
 * written, each new line moved to the statement's new indentation (g->base
 * is the visual column the statement started at); `next` is the token
 * after them. In a witness (inside __typeof__) they are one space. */
void emit_trivia_between(struct gen *g, int a, int b, int next)
{
    const struct unit *u = g->u;
    const char *s = u->text;
    int k = a;
    bool line_start = false;

    if (g->witness) {
        if (a < b)
            w_raw(g->w, " ", 1);
        return;
    }
    g->w->trivia = true;
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
            bool empty = k < b && (s[k] == '\n' || s[k] == '\r');
            bool directive = k == b && u->toks[next].kind == TOK_DIRECTIVE;
            if (!empty && !directive)
                w_spaces(g->w, g->w->indent + (ws > g->base ? ws - g->base : 0));
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
    g->w->trivia = false;
}

/* Token i is the member named in offsetof(T, member.sub[2]): not a local. */
static bool is_offsetof_member(const struct unit *u, int i)
{
    int k = i;
    while (k > 0 && (tok_punct(u, k - 1, ".") || tok_punct(u, k - 1, "]"))) {
        k = tok_punct(u, k - 1, "]") ? u->toks[k - 1].match : k - 2;
        if (k < 0 || !tok_is_ident(u, k))
            return false;
    }
    if (k < 2 || !tok_punct(u, k - 1, ","))
        return false;
    for (int j = k - 2; j > 0; j--) { /* back to the '(' of offsetof */
        if (u->toks[j].match >= 0 && u->toks[j].match < j) {
            j = u->toks[j].match;
            continue;
        }
        if (tok_punct(u, j, "("))
            return tok_is(u, j - 1, "offsetof") || tok_is(u, j - 1, "__builtin_offsetof");
        if (tok_punct(u, j, ",") || tok_punct(u, j, ";") || tok_punct(u, j, "{"))
            return false;
    }
    return false;
}

/* A witness for a variable inside __typeof__: `(*(int *) 0)`, an
 * expression of its type that mentions no local (the frame struct, where
 * __typeof__ is used, is outside the function). */
static void emit_witness(struct gen *g, const char *key)
{
    const char *at = strchr(key, '@');
    bool last = at[1] == '\0';
    w_printf(g->w, "(*(%.*s%s%s) 0)", (int) (at - key), key, last ? "*" : "(*)", at + 1);
}

/* An identifier of the body: a local becomes its frame field (or its
 * witness); a name the generated code uses itself is refused. */
static void emit_ident(struct gen *g, int i)
{
    struct unit *u = g->u;
    int len;
    const char *s = tok_text(u, i, &len);
    bool member = i > 0 && (tok_punct(u, i - 1, ".") || tok_punct(u, i - 1, "->") ||
                            tok_is(u, i - 1, "struct") || tok_is(u, i - 1, "union") ||
                            tok_is(u, i - 1, "enum") || tok_is(u, i - 1, "goto"));
    if (!member && !tok_keyword(u, i) && !is_offsetof_member(u, i)) {
        struct binding *b = lookup(g, s, len);
        if (b != NULL && g->witness && b->key != NULL) {
            emit_witness(g, b->key);
            return;
        }
        if (b != NULL && b->field >= 0) {
            w_printf(g->w, "frame->%s", g->fields[b->field].name);
            return;
        }
        if (b == NULL && tok_in(u, i, reserved_names) && (!tok_is(u, i, "storage") || u->init))
            fail(u, i,
                 "'%.*s' is a name the code corofy generates uses for itself, so it "
                 "cannot be used here; rename it",
                 len, s);
    }
    w_raw(g->w, u->text + u->toks[i].start, (size_t) (u->toks[i].end - u->toks[i].start));
}

/* A '#' (or '%:') that is no preprocessor line's first is not C outside a
 * macro's arguments; where corofy's output puts it first on a line, the
 * compiler would read a preprocessor line there. */
static void refuse_stray_hash(struct gen *g, int i)
{
    const char *s = g->u->text + g->u->toks[i].start;
    int len = g->u->toks[i].end - g->u->toks[i].start;
    if (!g->w->code && (*s == '#' || (len >= 2 && s[0] == '%' && s[1] == ':')))
        fail(g->u, i,
             "'%.*s' outside a preprocessor line: corofy puts it first on a line of its output, "
             "where it would start one",
             len, s);
}

/* Tokens [lo, hi) with the trivia between them (and before lo, with
 * `lead`); locals become frame fields. */
void emit_tokens(struct gen *g, int lo, int hi, bool lead)
{
    struct unit *u = g->u;
    struct writer *w = g->w;
    for (int i = lo; i < hi; i++) {
        if (i > lo || lead)
            emit_trivia_between(g, tok_trivia(u, i), u->toks[i].start, i);
        if (u->toks[i].kind == TOK_IDENT) {
            emit_ident(g, i);
        } else if (u->toks[i].kind == TOK_DIRECTIVE) {
            /* A preprocessor line needs a line of its own, before and after. */
            if (w->col > 0)
                w_raw(w, "\n", 1);
            w->origin = tok_line(u, i);
            w->fixed = false;
            w_raw(w, u->text + u->toks[i].start, (size_t) (u->toks[i].end - u->toks[i].start));
            if (i + 1 == hi)
                w_start(w, 0);
        } else {
            refuse_stray_hash(g, i);
            w_raw(w, u->text + u->toks[i].start, (size_t) (u->toks[i].end - u->toks[i].start));
        }
    }
}

/* ===== Comments ===== */

/* A comment [a, b) from the source on a line of its own (continuation
 * lines keep their position relative to the first). */
static void emit_comment(struct gen *g, int a, int b)
{
    const char *s = g->u->text;
    int base = visual_col(g->u, a);
    int k = a;
    g->w->trivia = true;
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
    g->w->trivia = false;
    if (b - a >= 2 && s[a + 1] == '/')
        g->w->line_comment = true;
}

/* Newlines in [a, b), not counting the option lines the output leaves out. */
static int newlines_between(const struct unit *u, int a, int b)
{
    int n = 0;
    for (int k = a; k < b; k++) {
        int end;
        if ((k == 0 || u->text[k - 1] == '\n') && is_removed_start(u, k, &end) && end <= b) {
            k = end - 1;
            continue;
        }
        n += u->text[k] == '\n';
    }
    return n;
}

/* The comments before token `tok`, where a statement starts or a block
 * ends: each on a line of its own, except one that shared a line with the
 * token before, which stays at the end of that line. Blank lines are kept
 * (one for several) where allow_blank says, but not right before `tok`
 * unless final_blank says so (a block's '}' never follows a blank line). */
void emit_leading(struct gen *g, int tok, bool allow_blank, bool final_blank)
{
    const struct unit *u = g->u;
    int k = tok_trivia(u, tok), end = u->toks[tok].start;

    for (int c = first_comment_at(u, k); c < u->ncomments && u->comments[c].start < end; c++) {
        const struct span *sp = &u->comments[c];
        int newlines = newlines_between(u, k, sp->start);
        k = sp->end;
        if (sp->start < g->consumed)
            continue;
        if (newlines == 0 && !g->no_trailing && g->w->col > 0 && !g->w->line_comment) {
            w_raw(g->w, " ", 1);
        } else {
            if (newlines >= 2 && allow_blank)
                w_blank_line(g->w);
            w_start(g->w, line_of_offset(u, sp->start));
        }
        emit_comment(g, sp->start, sp->end);
        g->no_trailing = false;
        allow_blank = true;
    }
    g->no_trailing = false;
    if (newlines_between(u, k, end) >= 2 && allow_blank && final_blank)
        w_blank_line(g->w);
}

/* ===== Wait points ===== */

/* Tokens [lo, hi) on one line, as text inside a comment (see comment_safe;
 * a '*' and a '/' are kept apart also when they are two tokens): at most
 * `limit` bytes, then " ...". Written straight out, to keep no copy. */
static void w_tokens_in_comment(struct gen *g, int lo, int hi, int limit)
{
    struct unit *u = g->u;
    int written = 0;
    char last = ' ';
    for (int i = lo; i < hi && written <= limit; i++) {
        int len;
        const char *s = tok_text(u, i, &len);
        if (i > lo && tok_trivia(u, i) < u->toks[i].start) {
            w_raw(g->w, " ", 1);
            written++;
            last = ' ';
        }
        for (int k = 0; k < len && written <= limit; k++, written++) {
            if (comment_char(last, s[k], &last))
                w_raw(g->w, " ", 1);
            w_raw(g->w, &last, 1);
        }
    }
    if (written > limit)
        w_text(g->w, " ...");
}

/* The comment that opens a wait point: the statement when it is its only
 * wait, else the wait itself and its line. */
static void gen_wait_comment(struct gen *g, const struct expr *wait)
{
    const struct wait_point *wp = &g->co->waits[wait->wait - 1];
    gen_line(g, "/* ---- wait point %d: ", wait->wait);
    if (wp->alone) {
        w_tokens_in_comment(g, wp->stmt_lo, wp->stmt_hi, 100);
    } else {
        w_tokens_in_comment(g, wait->lo, wait->hi, 100);
        w_printf(g->w, " (line %d)", tok_line(g->u, wp->dot));
    }
    w_text(g->w, " ---- */");
}

/* A wait point: store the future, poll it (the case label lets the next
 * poll come straight back here), and continue once it is ready, its value
 * written to `dest` followed by `name` (unless NULL): "&frame->" "x", or
 * "NULL" when the value is not wanted. Inside a switch of the body's
 * own, the label is a goto target instead, reached from a case at the top
 * of the poll function (a case label here would belong to that switch). */
void gen_wait(struct gen *g, const struct expr *wait, const char *dest, const char *name)
{
    struct unit *u = g->u;
    struct writer *w = g->w;
    const struct wait_point *wp = &g->co->waits[wait->wait - 1];
    int number = wait->wait, line = tok_line(u, wp->stmt_lo);

    gen_wait_comment(g, wait);
    gen_line_at(g, line, "frame->awaited = ");
    emit_expr(g, wait->kids[0], false);
    w_text(w, ";");
    int comment = wp->alone ? trailing_comment(u, wp->stmt_hi - 1) : -1;
    if (comment >= 0 && u->comments[comment].start >= g->consumed) {
        /* the student's note on this line goes with the future it is about */
        w_raw(w, " ", 1);
        emit_comment(g, u->comments[comment].start, u->comments[comment].end);
        g->consumed = u->comments[comment].end;
    }
    gen_line_at(g, line, "frame->state = %d;", number);
    gen_line_at(g, line, "/* fall through */");
    /* No #line may come between the comment and the label, or gcc no longer
     * sees the comment (-Wimplicit-fallthrough); a label has no code anyway. */
    int indent = w->indent;
    w->indent = 4;
    if (wp->in_switch) {
        char label[32];
        snprintf(label, sizeof label, "wait_point_%d", number);
        if (table_get(&g->labels, label, (int) strlen(label)) >= 0)
            fail(u, wp->dot,
                 "corofy needs the label '%s' here, and the coroutine has a label of "
                 "that name: rename yours",
                 label);
        gen_line_at(g, -1, "%s:", label);
        if (w->out == NULL) { /* the dry pass collects them for the top of the poll function */
            if (g->ntrampolines == g->trampolines_cap) {
                int cap = g->trampolines_cap ? 2 * g->trampolines_cap : 8;
                g->trampolines =
                    arena_grow(u, g->trampolines, sizeof(int) * (size_t) g->ntrampolines,
                               sizeof(int) * (size_t) cap);
                g->trampolines_cap = cap;
            }
            g->trampolines[g->ntrampolines++] = number;
        }
    } else {
        gen_line_at(g, -1, "case %d:", number);
    }
    w->indent = indent;
    gen_line_at(g, line, "if (frame->awaited->poll(frame->awaited, %s%s%s) == POLL_PENDING)",
                u->waker ? "waker, " : "", dest, name ? name : "");
    w->indent += 4;
    gen_line_at(g, line, "return POLL_PENDING;");
    w->indent -= 4;
    gen_line_at(g, line, "frame->awaited->drop(frame->awaited);");
    gen_line_at(g, line, "frame->awaited = NULL;");
    w->fixed = false;
    gen_line(g, "/* ---- end of wait point %d ---- */", number);
}

/* ===== Statements ===== */

/* The tree of an expression that waits (NULL for none), for the statement
 * being written: in the scratch arena, so the caller releases it with
 * scratch_release once the statement is out. */
static struct expr *tree(struct gen *g, const struct wexpr *w)
{
    return w == NULL ? NULL : wait_tree(g->u, g->co, w, NULL);
}

static void gen_stmt(struct gen *g, const struct stmt *s);

/* Every statement of a block, with the comments between them. */
void gen_items(struct gen *g, const struct stmt *block)
{
    int mark = g->nscope, saved = g->waits_to_come, waits = 0;

    for (int k = 0; k < block->count; k++)
        waits += block->items[k]->has_wait;
    g->block++;
    for (int k = 0; k < block->count; k++) {
        const struct stmt *item = block->items[k];
        emit_leading(g, item->lo, k > 0, true);
        g->waits_to_come = waits;
        gen_stmt(g, item);
        waits -= item->has_wait;
    }
    emit_leading(g, block->hi - 1, true, false);
    g->block--;
    g->waits_to_come = saved;
    unbind_to(g, mark);
}

/* Could evaluating [lo, hi) have side effects (a call, ++, an assignment)? */
static bool has_side_effects(const struct unit *u, int lo, int hi)
{
    static const char *const ops[] = {
        "++", "--", "=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=", NULL,
    };
    for (int i = lo; i < hi; i++) {
        bool after_cast =
            i > lo && tok_punct(u, i - 1, ")") && is_type_name_group(u, u->toks[i - 1].match);
        if (tok_punct(u, i, "(") && i > lo && !after_cast &&
            (tok_is_ident(u, i - 1) || tok_punct(u, i - 1, ")") || tok_punct(u, i - 1, "]")))
            return true;
        if (u->toks[i].kind == TOK_PUNCT && tok_in(u, i, ops))
            return true;
    }
    return false;
}

/* if (output != NULL) *(T *) output = VALUE; where `value` writes VALUE. */
static void gen_store_output(struct gen *g, int line, const char *value, const struct expr *e)
{
    struct writer *w = g->w;
    gen_line_at(g, line, "if (output != NULL)");
    w->indent += 4;
    if (value != NULL) {
        gen_line_at(g, line, "*%s output = %s;", g->output_cast, value);
    } else {
        gen_line_at(g, line, "*%s output = ", g->output_cast);
        emit_expr(g, e, false);
        w_text(w, ";");
    }
    w->indent -= 4;
}

/* `return [v];` finishes the coroutine: v goes to *output (if the caller
 * wants it), and the frame is marked finished. */
static void gen_return(struct gen *g, const struct stmt *s)
{
    struct unit *u = g->u;
    const struct coroutine *co = g->co;
    int line = tok_line(u, s->lo);
    int lo = s->lo + 1, hi = s->hi - 1; /* the value */
    struct arena_mark mark = scratch_mark(u);
    struct expr *e = tree(g, s->expr);

    if (e != NULL && co->returns_void) {
        const struct expr *w = strip_parens(e);
        if (w->kind != EXPR_WAIT)
            fail(u, s->lo,
                 "'return' with a value in coroutine '%s', which produces nothing "
                 "(void)",
                 g->name);
        lower_top(g, (struct expr *) w, false);
    } else if (e != NULL) {
        g->uses_output = true;
        if (lower_direct(g, e, g->return_key, "&result", NULL)) {
            g->needs_result = true;
            gen_store_output(g, line, "result", NULL);
        } else {
            lower_top(g, e, true);
            g->needs_result = true;
            begin_line(g, lo);
            w_text(g->w, "result = ");
            emit_expr(g, e, false);
            w_text(g->w, ";");
            gen_store_output(g, line, "result", NULL);
        }
    } else if (lo < hi) {
        g->uses_output = true;
        if (has_side_effects(u, lo, hi)) {
            /* evaluated even when the caller discards the value */
            g->needs_result = true;
            begin_line(g, lo);
            w_text(g->w, "result = ");
            emit_tokens(g, lo, hi, false);
            w_text(g->w, ";");
            gen_store_output(g, line, "result", NULL);
        } else {
            gen_line_at(g, line, "if (output != NULL)");
            g->w->indent += 4;
            w_start(g->w, tok_line(u, lo));
            w_printf(g->w, "*%s output = ", g->output_cast);
            emit_tokens(g, lo, hi, false);
            w_text(g->w, ";");
            g->w->indent -= 4;
        }
    }
    gen_line_at(g, line, "frame->state = -1;");
    gen_line_at(g, line, "return POLL_READY;");
    g->w->fixed = false;
    scratch_release(u, mark);
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
            if (tok_is_ident(u, k) &&
                !(k > 0 && (tok_punct(u, k - 1, ".") || tok_punct(u, k - 1, "->"))) &&
                lookup_tok(g, k) != NULL)
                return true;
        i = close;
    }
    return false;
}

/* A declaration that stays a C local of the poll function, exactly as
 * written: statics, function declarations, and variable-length arrays that
 * no wait follows. */
static void gen_c_local(struct gen *g, const struct decl *d, int lo, int hi, bool in_for)
{
    struct unit *u = g->u;
    for (int k = 0; k < d->count; k++)
        if (d->items[k].init != NULL)
            fail(u, d->items[k].name,
                 "this declaration stays a local of the poll function, so "
                 "it cannot be initialised by a wait");
    if (!in_for) {
        if (g->after_label)
            gen_line(g, ";  /* a label cannot be followed by a declaration */");
        begin_line(g, lo);
    }
    emit_tokens(g, lo, hi, false);
    for (int k = 0; k < d->count; k++) {
        const struct declarator *dl = &d->items[k];
        int len;
        const char *name = tok_text(u, dl->name, &len);
        if (tok_in(u, dl->name, reserved_names) && (!tok_is(u, dl->name, "storage") || u->init))
            fail(u, dl->name,
                 "'%.*s' is a name the code corofy generates uses for itself, and "
                 "this declaration stays a local of the poll function; rename it",
                 len, name);
        bind_c_local(g, dl->name,
                     dl->is_function ? NULL
                                     : type_text(u, d->spec_lo, d->spec_hi, dl->lo, dl->hi,
                                                 dl->name, "@", false),
                     dl->is_array);
    }
}

/* One declarator's initialisation, as a statement (or, in a for header, a
 * comma expression): `frame->x = v`, an array through memcpy, a struct
 * through a compound literal. Returns false when there is nothing to do. */
static bool gen_initialiser(struct gen *g, const struct decl *d, const struct declarator *dl,
                            const struct expr *init, const char *field, bool in_for, bool first)
{
    struct unit *u = g->u;
    struct writer *w = g->w;
    bool braced = tok_punct(u, dl->init_lo, "{");
    const char *type = braced || dl->is_array ? type_text(u, d->spec_lo, d->spec_hi, dl->lo, dl->hi,
                                                          dl->name, NULL, false)
                                              : NULL;
    if (in_for) {
        if (dl->is_array)
            fail(u, dl->name,
                 "an initialised array cannot be declared in a 'for' header of a "
                 "coroutine; declare it before the loop");
        if (!first)
            w_text(w, ", ");
    } else {
        begin_line(g, dl->name);
    }
    if (dl->is_array) {
        w_printf(w, "memcpy(frame->%s, (%s)%s", field, type, braced ? "" : "{");
        init ? emit_expr(g, init, false) : emit_tokens(g, dl->init_lo, dl->init_hi, false);
        w_printf(w, "%s, sizeof frame->%s)", braced ? "" : "}", field);
    } else {
        w_printf(w, "frame->%s = ", field);
        if (braced)
            w_printf(w, "(%s)", type);
        init ? emit_expr(g, init, false) : emit_tokens(g, dl->init_lo, dl->init_hi, false);
    }
    if (!in_for)
        w_text(w, ";");
    return true;
}

/* A declaration. Its variables are lifted into the frame: `int i = 0;`
 * becomes `frame->i = 0;`, and no line at all without an initialiser. In a
 * for header (in_for) the assignments are joined with commas. */
static void gen_decl(struct gen *g, const struct decl *d, int lo, int hi, bool in_for)
{
    struct unit *u = g->u;
    int functions = 0, vla = -1, len;
    bool first = true, emitted = false;

    for (int k = 0; k < d->count; k++) {
        functions += d->items[k].is_function;
        if (vla < 0 && variably_modified(g, &d->items[k]))
            vla = k;
    }
    if (functions > 0 && functions < d->count && !d->is_static)
        fail(u, lo,
             "a declaration that mixes functions and variables is not supported in a "
             "coroutine; split it in two");
    if (vla >= 0 && g->waits_to_come > 0) {
        const char *name = tok_text(u, d->items[vla].name, &len);
        fail(u, d->items[vla].name,
             "variable-length array '%.*s' lives across a wait point, but "
             "a frame has a fixed size: give it a constant size, or "
             "allocate it with malloc",
             len, name);
    }
    if (d->count == 0 || d->is_static || functions > 0 || vla >= 0) {
        gen_c_local(g, d, lo, hi, in_for);
        return;
    }
    for (int k = 0; k < d->count; k++) {
        struct declarator *dl = &d->items[k];
        if (dl->is_array && u->toks[dl->name + 1].match == dl->name + 2) {
            const char *name = tok_text(u, dl->name, &len);
            fail(u, dl->name,
                 "array '%.*s' needs an explicit size to live in the frame (write "
                 "the number between the brackets)",
                 len, name);
        }
        int f = local_field(g, d, dl);
        struct arena_mark mark = scratch_mark(u);
        struct expr *init = tree(g, dl->init);
        if (init != NULL && !dl->is_array && !in_for &&
            lower_direct(g, init, g->fields[f].key, "&frame->", g->fields[f].name)) {
            emitted = true;
        } else if (dl->init_lo < dl->init_hi) {
            if (init != NULL)
                lower_top(g, init, true);
            emitted |= gen_initialiser(g, d, dl, init, g->fields[f].name, in_for, first);
            first = false;
        }
        scratch_release(u, mark);
    }
    if (!emitted && !in_for && d->trailing_comment >= 0)
        g->consumed = u->comments[d->trailing_comment].end; /* it labels the field instead */
}

/* An expression statement: its waits, then what is left of it, if that
 * still does something. */
static void gen_expr_stmt(struct gen *g, const struct stmt *s)
{
    struct arena_mark mark = scratch_mark(g->u);
    struct expr *e = tree(g, s->expr);
    const struct expr *top = strip_parens(e);
    bool direct = top->kind == EXPR_ASSIGN && tok_punct(g->u, top->op, "=") &&
                  lower_assignment_direct(g, (struct expr *) top);
    if (!direct) {
        lower_top(g, e, false);
        if (has_effect(g, e)) {
            begin_line(g, s->lo);
            emit_expr(g, e, false);
            w_text(g->w, ";");
        }
    }
    scratch_release(g->u, mark);
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

/* `keyword (head)`: the header as written, or with its waits done before. */
static void gen_head(struct gen *g, const struct stmt *s, const char *keyword, const struct expr *e)
{
    int close = g->u->toks[s->head].match;
    g->base = visual_col(g->u, g->u->toks[s->lo].start);
    w_text(g->w, keyword);
    w_text(g->w, " ");
    if (e == NULL) {
        emit_tokens(g, s->head, close + 1, false);
        return;
    }
    emit_tokens(g, s->head, s->head + 1, false);
    emit_expr(g, e, true);
    emit_tokens(g, close, close + 1, true);
}

/* The waits of a header's expression, written before the statement; its
 * tree, or NULL when it does not wait. */
static struct expr *lower_head(struct gen *g, const struct stmt *s)
{
    struct expr *e = tree(g, s->expr);
    if (e == NULL)
        return NULL;
    g->base = visual_col(g->u, g->u->toks[s->lo].start);
    lower_top(g, e, true);
    return e;
}

/* A statement's header [lo, hi), on one line and cut if long: for a comment. */
static const char *header_comment(struct gen *g, int lo, int hi)
{
    const char *text = collapsed_text(g->u, lo, hi);
    if (strlen(text) > 70)
        text = arena_printf(g->u, "%.60s ...", text);
    return comment_safe(g->u, text, strlen(text));
}

static void gen_if(struct gen *g, const struct stmt *s)
{
    struct writer *w = g->w;
    struct arena_mark mark = scratch_mark(g->u);
    struct expr *e = lower_head(g, s);
    begin_line(g, s->lo);
    gen_head(g, s, "if", e);
    scratch_release(g->u, mark);
    bool braced = gen_body(g, s->body);
    if (s->else_body == NULL)
        return;
    emit_leading(g, s->else_tok, false, false);
    if (braced) {
        w_join(w, " else");
    } else {
        begin_line(g, s->else_tok);
        w_text(w, "else");
    }
    if (s->else_body->kind == STMT_IF && s->else_body->expr == NULL) {
        emit_leading(g, s->else_body->lo, false, false);
        w_join(w, " ");
        g->join = true;
        gen_stmt(g, s->else_body);
    } else {
        gen_body(g, s->else_body); /* an `else if` that waits first gets braces */
    }
}

/* `if (!(COND)) break;`, after the waits of COND: the test of a loop whose
 * condition waits. */
static void gen_loop_test(struct gen *g, const struct stmt *s)
{
    struct arena_mark mark = scratch_mark(g->u);
    struct expr *e = lower_head(g, s);
    begin_line(g, s->head);
    w_text(g->w, "if (!(");
    emit_expr(g, e, false);
    w_text(g->w, "))");
    g->w->indent += 4;
    gen_line(g, "break;");
    g->w->indent -= 4;
    scratch_release(g->u, mark);
}

/* The body of a lowered loop, inside the braces of its `for (;;)`. */
static void gen_loop_body(struct gen *g, const struct stmt *body)
{
    emit_leading(g, body->lo, false, false);
    if (body->kind == STMT_BLOCK) {
        gen_items(g, body);
        emit_leading(g, body->hi - 1, false, false);
    } else {
        gen_stmt(g, body);
    }
}

/* `while (COND) body` where COND waits: `for (;;) { COND's waits; if
 * (!(COND)) break; body }`; a continue still reaches the waits. */
static void gen_while(struct gen *g, const struct stmt *s)
{
    struct writer *w = g->w;
    int close = g->u->toks[s->head].match;
    begin_line(g, s->lo);
    if (s->expr == NULL) {
        gen_head(g, s, "while", NULL);
        gen_body(g, s->body);
        return;
    }
    w_printf(w, "for (;;) { /* %s: its waits, then the test */",
             header_comment(g, s->lo, close + 1));
    w->indent += 4;
    gen_loop_test(g, s);
    gen_loop_body(g, s->body);
    w->indent -= 4;
    gen_line(g, "}");
}

/* `do body while (COND);` where COND waits: `for (;;) { body
 * continue_L_C: COND's waits; if (!(COND)) break; }`, where each continue
 * of the body jumps to the label. */
static void gen_do(struct gen *g, const struct stmt *s)
{
    struct writer *w = g->w;
    begin_line(g, s->lo);
    if (s->expr == NULL) {
        w_text(w, "do");
        bool braced = gen_body(g, s->body);
        emit_leading(g, s->else_tok, false, false);
        if (braced)
            w_join(w, " ");
        else
            begin_line(g, s->else_tok);
        gen_head(g, s, "while", NULL);
        w_text(w, ";");
        return;
    }
    w_text(w, "for (;;) { /* do ... while, its condition waits */");
    w->indent += 4;
    gen_loop_body(g, s->body);
    w->indent -= 4;
    if (s->loop->has_continue)
        gen_line(g, "%s: /* what a continue goes to */", label_name(g, "continue", s->lo));
    w->indent += 4;
    gen_loop_test(g, s);
    w->indent -= 4;
    gen_line(g, "}");
}

/* The statement `e;` for an expression that waits and whose value is not
 * used (a part of a for header), after its waits; none if nothing is left
 * to do. */
static void gen_effect_statement(struct gen *g, const struct wexpr *w)
{
    struct arena_mark mark = scratch_mark(g->u);
    struct expr *e = tree(g, w);
    lower_top(g, e, false);
    if (has_effect(g, e)) {
        begin_line(g, e->lo);
        emit_expr(g, e, false);
        w_text(g->w, ";");
    }
    scratch_release(g->u, mark);
}

/* The init part of a for header, in place or as statements before it. */
static void gen_for_init(struct gen *g, const struct stmt *s, bool in_header)
{
    struct loop *l = s->loop;
    if (s->decl != NULL) {
        int saved = g->waits_to_come;
        g->waits_to_come = s->has_wait;
        gen_decl(g, s->decl, l->init_lo, l->init_hi, in_header);
        g->waits_to_come = saved;
    } else if (l->init != NULL) {
        gen_effect_statement(g, l->init);
    } else if (l->init_lo < l->init_hi) {
        if (!in_header)
            begin_line(g, l->init_lo);
        emit_tokens(g, l->init_lo, l->init_hi, false);
        if (!in_header)
            w_text(g->w, ";");
    }
}

/* A part of a for header [lo, hi) as written, after "; " */
static void gen_for_part(struct gen *g, int lo, int hi)
{
    if (lo < hi) {
        if (g->u->toks[lo].kind != TOK_DIRECTIVE)
            w_text(g->w, " ");
        emit_tokens(g, lo, hi, false);
    }
}

/* A for statement none of whose header parts waits (its body may). */
static void gen_plain_for(struct gen *g, const struct stmt *s)
{
    struct loop *l = s->loop;
    begin_line(g, s->lo);
    if (s->decl == NULL) {
        gen_head(g, s, "for", NULL);
    } else {
        w_text(g->w, "for (");
        gen_for_init(g, s, true);
        w_text(g->w, ";");
        gen_for_part(g, l->cond_lo, l->cond_hi);
        w_text(g->w, ";");
        gen_for_part(g, l->step_lo, l->step_hi);
        w_text(g->w, ")");
    }
    gen_body(g, s->body);
}

/* A for statement whose header waits: the init part first, then
 * `for (;; step) { COND's waits; if (!(COND)) break; body }`, where a step
 * that waits moves to the end of the braces, after a label each continue
 * of the body jumps to. */
static void gen_lowered_for(struct gen *g, const struct stmt *s)
{
    struct writer *w = g->w;
    struct loop *l = s->loop;
    int close = g->u->toks[s->head].match;

    gen_for_init(g, s, false);
    begin_line(g, s->lo);
    w_text(w, "for (;;");
    if (l->step == NULL)
        gen_for_part(g, l->step_lo, l->step_hi);
    w_printf(w, ") { /* %s */", header_comment(g, s->lo, close + 1));
    w->indent += 4;
    if (s->expr != NULL) {
        struct stmt test = *s; /* the condition, as a header of its own */
        test.head = l->cond_lo - 1;
        gen_loop_test(g, &test);
    } else if (l->cond_lo < l->cond_hi) {
        begin_line(g, l->cond_lo);
        w_text(w, "if (!(");
        emit_tokens(g, l->cond_lo, l->cond_hi, false);
        w_text(w, "))");
        w->indent += 4;
        gen_line(g, "break;");
        w->indent -= 4;
    }
    gen_loop_body(g, s->body);
    if (l->step != NULL) {
        w->indent -= 4;
        if (l->has_continue)
            gen_line(g, "%s: /* what a continue goes to */", label_name(g, "continue", s->lo));
        w->indent += 4;
        g->base = visual_col(g->u, g->u->toks[s->lo].start);
        gen_effect_statement(g, l->step);
    }
    w->indent -= 4;
    gen_line(g, "}");
}

/* Does any part of the for header wait? */
static bool header_waits(const struct stmt *s)
{
    if (s->expr != NULL || s->loop->init != NULL || s->loop->step != NULL)
        return true;
    for (int k = 0; s->decl != NULL && k < s->decl->count; k++)
        if (s->decl->items[k].init != NULL)
            return true;
    return false;
}

/* A for statement; what its header declares is in scope in it only. */
static void gen_for(struct gen *g, const struct stmt *s)
{
    int mark = g->nscope;
    g->block++;
    if (header_waits(s))
        gen_lowered_for(g, s);
    else
        gen_plain_for(g, s);
    g->block--;
    unbind_to(g, mark);
}

static void gen_switch(struct gen *g, const struct stmt *s)
{
    struct arena_mark mark = scratch_mark(g->u);
    struct expr *e = lower_head(g, s);
    begin_line(g, s->lo);
    gen_head(g, s, "switch", e);
    scratch_release(g->u, mark);
    gen_body(g, s->body);
}

static void gen_label(struct gen *g, const struct stmt *s)
{
    struct unit *u = g->u;
    struct writer *w = g->w;
    int indent = w->indent;

    w->indent = indent >= 4 ? indent - 4 : 0;
    begin_line(g, s->lo);
    if (tok_is(u, s->lo, "case") || tok_is(u, s->lo, "default"))
        emit_tokens(g, s->lo, s->else_tok, false);
    else
        w_printf(w, "%.*s:", u->toks[s->lo].end - u->toks[s->lo].start,
                 u->text + u->toks[s->lo].start);
    w->indent = indent;
    g->after_label = true;
    if (s->body != NULL) {
        emit_leading(g, s->body->lo, false, false);
        gen_stmt(g, s->body);
    } else {
        gen_line(g, ";");
    }
}

/* `continue;` of a loop whose continue goes to a label of corofy's. */
static void gen_continue(struct gen *g, const struct stmt *s)
{
    begin_line(g, s->lo);
    if (s->loop == NULL || !s->loop->continue_label) {
        emit_tokens(g, s->lo, s->hi, false);
        return;
    }
    /* the loop's keyword is where its label is named from */
    w_printf(g->w, "goto %s; /* continue */", label_name(g, "continue", s->loop->keyword));
}

static void gen_directive(struct gen *g, const struct stmt *s)
{
    struct writer *w = g->w;
    int indent = w->indent;
    w->indent = 0;
    begin_line(g, s->lo);
    w_raw(w, g->u->text + g->u->toks[s->lo].start,
          (size_t) (g->u->toks[s->lo].end - g->u->toks[s->lo].start));
    w->indent = indent;
}

static void gen_simple(struct gen *g, const struct stmt *s, bool after_label)
{
    if (s->declaration_like && after_label)
        gen_line(g, ";  /* a label cannot be followed by a declaration */");
    begin_line(g, s->lo);
    emit_tokens(g, s->lo, s->hi, false);
}

/* One statement, of any kind. */
static void gen_stmt(struct gen *g, const struct stmt *s)
{
    struct writer *w = g->w;
    bool after_label = g->after_label;

    g->after_label = false;
    g->base = visual_col(g->u, g->u->toks[s->lo].start);
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
    case STMT_IF:
        gen_if(g, s);
        break;
    case STMT_WHILE:
        gen_while(g, s);
        break;
    case STMT_DO:
        gen_do(g, s);
        break;
    case STMT_FOR:
        gen_for(g, s);
        break;
    case STMT_SWITCH:
        gen_switch(g, s);
        break;
    case STMT_LABEL:
        gen_label(g, s);
        break;
    case STMT_RETURN:
        gen_return(g, s);
        break;
    case STMT_DECL:
        g->after_label = after_label;
        gen_decl(g, s->decl, s->lo, s->hi, false);
        g->after_label = false;
        break;
    case STMT_EXPR:
        gen_expr_stmt(g, s);
        break;
    case STMT_CONTINUE:
        gen_continue(g, s);
        break;
    case STMT_DIRECTIVE:
        gen_directive(g, s);
        break;
    case STMT_SIMPLE:
        gen_simple(g, s, after_label);
        break;
    }
}
