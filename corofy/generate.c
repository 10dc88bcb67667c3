/* generate.c: writes corofy's output. Text outside coroutines is copied byte
 * for byte; each coroutine becomes, in place: the function as written (in a
 * comment), prototypes of its constructors, the frame struct, the poll
 * function, the drop function and the constructors. statements.c writes the
 * body inside the poll function, lower.c the expressions that wait.
 *
 * The poll function is generated twice: a dry first pass finds the frame's
 * fields (every local of the body, every value kept while an expression
 * waits), then the struct is written, then the second pass writes the poll
 * function for real. Part of corofy/, the coroutine preprocessor of ch04
 * and ch05. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generate.h"

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
    struct unit *u;
    struct buf b;
    int prev; /* 0: nothing yet, 1: a word, 2: a comma, 3: other */
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
    struct unit *u = tw->u;
    int kind = wordy(u, i) ? 1 : tok_punct(u, i, ",") ? 2 : 3, len;
    const char *s = tok_text(u, i, &len);
    tw_piece(tw, s, (size_t) len, kind, tok_punct(u, i, "*") || tok_punct(u, i, "("));
}

/* A bracketed group [i, match] on one line, spaced as written. */
static void tw_group(struct type_writer *tw, int i, int kind)
{
    const char *text = collapsed_text(tw->u, i, tw->u->toks[i].match + 1);
    tw_piece(tw, text, strlen(text), kind, false);
}

static bool is_storage(const struct unit *u, int i)
{
    static const char *const words[] = {
        "static",    "extern",   "auto",       "register", "_Thread_local", "typedef", "inline",
        "_Noreturn", "__inline", "__inline__", NULL,
    };
    return tok_in(u, i, words);
}

/* The name of an array or function parameter, as the pointer C makes of it. */
static int tw_adjusted_name(struct type_writer *tw, int name, int dhi, const char *name_as)
{
    struct unit *u = tw->u;
    if (tok_punct(u, name + 1, "[")) {
        int after = u->toks[name + 1].match + 1;
        bool more = after < dhi && tok_punct(u, after, "[");
        tw_piece(tw, more ? "(*" : "*", more ? 2 : 1, 3, true);
        if (name_as != NULL)
            tw_piece(tw, name_as, strlen(name_as), 3, false);
        if (more)
            tw_piece(tw, ")", 1, 3, false);
        return after - 1;
    }
    tw_piece(tw, "(*", 2, 3, true);
    if (name_as != NULL)
        tw_piece(tw, name_as, strlen(name_as), 3, false);
    tw_piece(tw, ")", 1, 3, false);
    return name;
}

/* The text of a declaration: specifiers [spec_lo, spec_hi), declarator
 * [dlo, dhi) declaring `name` (-1: none), written as `name_as` (NULL: left
 * out, for a type name). With adjust_array, an array or function parameter
 * becomes the pointer C makes of it. */
const char *type_text(struct unit *u, int spec_lo, int spec_hi, int dlo, int dhi, int name,
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
        if (tok_punct(u, i, "(") ||
            tok_punct(u, i, "[")) { /* __attribute__((...)), _Alignas(...) */
            tw_group(&tw, i, 1);    /* spaced like a word */
            i = u->toks[i].match;
            continue;
        }
        tw_token(&tw, i);
    }
    for (int i = dlo; i < dhi; i++) {
        if (!adjusted && last_star >= 0 && i > last_star && i < stop && tok_is(u, i, "const"))
            continue;
        if (i == name) {
            if (adjusted)
                i = tw_adjusted_name(&tw, name, dhi, name_as);
            else if (name_as != NULL)
                tw_piece(&tw, name_as, strlen(name_as), 1, false);
            continue;
        }
        if (tok_punct(u, i, "[")) { /* dimensions keep the student's spacing */
            tw_group(&tw, i, 3);
            i = u->toks[i].match;
            continue;
        }
        tw_token(&tw, i);
    }
    const char *text = arena_strdup(u, tw.b.data ? tw.b.data : "", tw.b.len);
    buf_free(&tw.b);
    return text;
}

/* "int" -> "int @", "char *" -> "char *@": a type with a place for a name. */
const char *key_of_type(struct unit *u, const char *type)
{
    size_t n = strlen(type);
    return arena_printf(u, "%s%s@", type, n > 0 && type[n - 1] == '*' ? "" : " ");
}

/* A key with the name put in: "int @[3]" and "x" -> "int x[3]". */
static const char *key_with(struct unit *u, const char *key, const char *name)
{
    const char *at = strchr(key, '@');
    return arena_printf(u, "%.*s%s%s", (int) (at - key), key, name, at + 1);
}

/* ===== Frame fields ===== */

static bool field_name_taken(struct gen *g, const char *name)
{
    return strcmp(name, "base") == 0 || strcmp(name, "state") == 0 ||
           strcmp(name, "awaited") == 0 ||
           table_get(&g->field_names, name, (int) strlen(name)) >= 0;
}

/* A new field named after `orig` (len bytes): x, or x_2, x_3 when taken.
 * The second pass over a body makes the same fields in the same order as
 * the first: it keeps the first pass's strings. */
static int new_field(struct gen *g, enum field_kind kind, const char *orig, int len, int line)
{
    struct unit *u = g->u;
    int f = g->nfields;

    if (f < g->fields_made && g->fields[f].kind == kind && g->fields[f].orig_len == len &&
        memcmp(g->fields[f].orig, orig, (size_t) len) == 0) {
        struct field *old = &g->fields[f];
        old->in_use = false;
        old->lines[0] = line;
        old->nlines = 1;
        old->same_orig = -1;
        table_set(u, &g->field_names, old->name, (int) strlen(old->name), f);
        return g->nfields++;
    }
    const char *copy = arena_strdup(u, orig, (size_t) len), *name = copy;
    for (int n = 2; field_name_taken(g, name); n++)
        name = arena_printf(u, "%.*s_%d", len, orig, n);
    if (g->nfields == g->fields_cap) {
        int cap = g->fields_cap ? g->fields_cap * 2 : 16;
        g->fields = arena_grow(u, g->fields, sizeof *g->fields * (size_t) g->fields_cap,
                               sizeof *g->fields * (size_t) cap);
        g->fields_cap = cap;
    }
    g->fields[f] = (struct field){.kind = kind,
                                  .name = name,
                                  .orig = kind == FIELD_TEMP ? copy : orig, /* source text */
                                  .orig_len = len,
                                  .lines = {line},
                                  .nlines = 1,
                                  .same_orig = -1};
    table_set(u, &g->field_names, name, (int) strlen(name), f);
    if (f == g->fields_made)
        g->fields_made++;
    return g->nfields++;
}

/* The field's type (`key`, '@' for the name) and so its declaration. */
void set_field_decl(struct gen *g, int f, const char *key)
{
    if (g->fields[f].key != NULL && strcmp(g->fields[f].key, key) == 0)
        return; /* the second pass: the same as the first */
    g->fields[f].key = key;
    g->fields[f].decl = key_with(g->u, key, g->fields[f].name);
}

/* A field for a value corofy keeps while an expression waits, named after
 * where it comes from: wait_12_9 for the wait on line 12, column 9. Its
 * type (`key`, or NULL for the caller to set) and the comment `fmt` says
 * are only worked out once: the second pass finds them made. */
int new_temp(struct gen *g, const char *prefix, int tok, const char *key, const char *fmt, ...)
{
    char orig[64];
    snprintf(orig, sizeof orig, "%s_%d_%d", prefix, tok_line(g->u, tok), tok_col(g->u, tok));
    int f = new_field(g, FIELD_TEMP, orig, (int) strlen(orig), tok_line(g->u, tok));
    if (g->fields[f].comment == NULL) {
        struct buf b = {0};
        va_list ap;
        va_start(ap, fmt);
        buf_vprintf(&b, fmt, ap);
        va_end(ap);
        g->fields[f].comment = arena_strdup(g->u, b.data ? b.data : "", b.len);
        buf_free(&b);
    }
    if (key != NULL)
        set_field_decl(g, f, key);
    return f;
}

/* A label of corofy's own in the poll function, named after a token's
 * position; the body's own labels must leave it free. */
const char *label_name(struct gen *g, const char *prefix, int tok)
{
    const char *name =
        arena_printf(g->u, "%s_%d_%d", prefix, tok_line(g->u, tok), tok_col(g->u, tok));
    if (table_get(&g->labels, name, (int) strlen(name)) >= 0)
        fail(g->u, tok,
             "corofy needs the label '%s' here, and the coroutine has a label of that "
             "name: rename yours",
             name);
    return name;
}

/* ===== Names in scope =====
 *
 * A stack of bindings, and a table from each name to its innermost binding;
 * each binding remembers the one it hides. Leaving a block pops the
 * bindings it made. */

struct binding *lookup(struct gen *g, const char *name, int len)
{
    int b = table_get(&g->innermost, name, len);
    return b < 0 ? NULL : &g->scope[b];
}

/* The binding of identifier token i, or NULL. */
struct binding *lookup_tok(struct gen *g, int i)
{
    int len;
    const char *name = tok_text(g->u, i, &len);
    return lookup(g, name, len);
}

static void bind(struct gen *g, int tok, int field, const char *key, bool is_array)
{
    struct unit *u = g->u;
    int len;
    const char *name = tok_text(u, tok, &len);
    if (g->nscope == g->scope_cap) {
        int cap = g->scope_cap ? g->scope_cap * 2 : 32;
        g->scope = arena_grow(u, g->scope, sizeof *g->scope * (size_t) g->scope_cap,
                              sizeof *g->scope * (size_t) cap);
        g->scope_cap = cap;
    }
    g->scope[g->nscope] = (struct binding){
        name, len, field, key, is_array, table_get(&g->innermost, name, len), g->block};
    table_set(u, &g->innermost, name, len, g->nscope);
    g->nscope++;
    if (field >= 0)
        g->fields[field].in_use = true;
}

void unbind_to(struct gen *g, int mark)
{
    while (g->nscope > mark) {
        struct binding *b = &g->scope[--g->nscope];
        table_set(g->u, &g->innermost, b->name, b->len, b->hidden);
        if (b->field >= 0)
            g->fields[b->field].in_use = false;
    }
}

/* Bind `tok` as a real C local of the poll function (a static, say). */
void bind_c_local(struct gen *g, int tok, const char *key, bool is_array)
{
    bind(g, tok, -1, key, is_array);
}

/* The field a lifted local lives in, and binds its name to it: a new one,
 * or the field of a variable with the same name and type whose scope has
 * ended (two `for (int i ...)` loops share frame->i). A second declaration
 * of a name in the same block, which only preprocessor branches allow
 * (`#if A int v; #else int v; #endif`), must be the same variable:
 * whichever branch is compiled, the rest of the block means one of them. */
int local_field(struct gen *g, const struct decl *d, const struct declarator *dl)
{
    struct unit *u = g->u;
    int len;
    const char *name = tok_text(u, dl->name, &len);
    if (dl->key == NULL)
        ((struct declarator *) dl)->key =
            type_text(u, d->spec_lo, d->spec_hi, dl->lo, dl->hi, dl->name, "@", false);
    const char *key = dl->key;
    struct binding *same_block = lookup(g, name, len);

    if (same_block != NULL && same_block->block == g->block) {
        if (same_block->field < 0 || strcmp(g->fields[same_block->field].key, key) != 0)
            fail(u, dl->name,
                 "'%.*s' is declared twice in one block, with different types "
                 "(in preprocessor branches?): corofy does not run the "
                 "preprocessor, so it cannot tell which one the rest of the block "
                 "means; give both the same type, or different names",
                 len, name);
        struct field *f = &g->fields[same_block->field];
        if (f->nlines < 4)
            f->lines[f->nlines] = tok_line(u, dl->name);
        f->nlines++;
        return same_block->field;
    }
    int f = table_get(&g->last_orig, name, len);
    for (; f >= 0; f = g->fields[f].same_orig)
        if (!g->fields[f].in_use && g->fields[f].kind == FIELD_LOCAL &&
            strcmp(g->fields[f].key, key) == 0)
            break;
    if (f >= 0) {
        if (g->fields[f].nlines < 4)
            g->fields[f].lines[g->fields[f].nlines] = tok_line(u, dl->name);
        g->fields[f].nlines++;
    } else {
        f = new_field(g, FIELD_LOCAL, name, len, tok_line(u, dl->name));
        set_field_decl(g, f, key);
        g->fields[f].same_orig = table_get(&g->last_orig, name, len);
        table_set(u, &g->last_orig, name, len, f);
        if (d->trailing_comment >= 0) {
            const struct span *c = &u->comments[d->trailing_comment];
            g->fields[f].comment =
                arena_strdup(u, u->text + c->start, (size_t) (c->end - c->start));
        }
    }
    bind(g, dl->name, f, key, dl->is_array);
    return f;
}

/* Names the body uses as `&name` or `name.member` (their address may be
 * kept somewhere, or a member array may decay to a pointer into them): a
 * wait may let other code change them, so their values are never assumed
 * to stay put across one (see lower.c). */
static void find_exposed(struct gen *g)
{
    struct unit *u = g->u;
    int lo = g->co->body->lo, hi = g->co->body->hi, len;
    for (int i = lo; i < hi; i++) {
        if (!tok_is_ident(u, i))
            continue;
        bool address = i > 0 && tok_punct(u, i - 1, "&");
        bool paren_address = i > 1 && tok_punct(u, i - 1, "(") && tok_punct(u, i - 2, "&");
        bool member = tok_punct(u, i + 1, ".") && !tok_is_wait(u, i + 1);
        if (address || paren_address || member) {
            const char *name = tok_text(u, i, &len);
            table_set(u, &g->exposed, name, len, 1);
        }
    }
}

/* The labels of the body, so corofy's own labels can keep clear of them. */
static void find_labels(struct gen *g)
{
    struct unit *u = g->u;
    int len;
    for (int i = g->co->body->lo + 1; i < g->co->body->hi; i++)
        if (tok_is_ident(u, i) && tok_punct(u, i + 1, ":") &&
            (tok_punct(u, i - 1, ";") || tok_punct(u, i - 1, "{") || tok_punct(u, i - 1, "}") ||
             tok_punct(u, i - 1, ":"))) {
            const char *name = tok_text(u, i, &len);
            table_set(u, &g->labels, name, len, 1);
        }
}

static void add_param_fields(struct gen *g)
{
    struct unit *u = g->u;
    struct coroutine *co = g->co;
    for (int k = 0; k < co->nparams; k++) {
        struct param *p = &co->params[k];
        int spec_end = skip_specifiers(u, p->lo, p->hi), len;
        const char *name = tok_text(u, p->name, &len);
        int f = new_field(g, FIELD_PARAM, name, len, tok_line(u, p->name));
        if (p->key == NULL)
            p->key = type_text(u, p->lo, spec_end, spec_end, p->hi, p->name, "@", true);
        set_field_decl(g, f, p->key);
    }
}

/* Before each pass over the body: the parameters and nothing else. */
static void reset_frame(struct gen *g)
{
    g->nfields = g->nscope = g->consumed = g->block = 0;
    table_clear(&g->field_names);
    table_clear(&g->last_orig);
    table_clear(&g->innermost);
    add_param_fields(g);
    for (int k = 0; k < g->co->nparams; k++)
        bind(g, g->co->params[k].name, k, g->fields[k].key, false);
}

/* ===== The pieces of one coroutine ===== */

static const char *name_of(struct unit *u, const struct coroutine *co)
{
    int len;
    const char *s = tok_text(u, co->name, &len);
    return arena_printf(u, "%.*s", len, s);
}

/* NAME_FRAME_SIZE for coroutine NAME. */
static const char *size_name(struct unit *u, const char *name)
{
    char *upper = arena_printf(u, "%s_FRAME_SIZE", name);
    for (char *c = upper; *c != '\0'; c++)
        if (*c >= 'a' && *c <= 'z')
            *c = (char) (*c - 'a' + 'A');
    return upper;
}

/* The function as written, in // comments (a // comment cannot be ended
 * early by anything in the code, unlike a block comment). A line that ends
 * in a backslash gets words after it, so it does not swallow the next. */
static void gen_source_comment(struct gen *g)
{
    struct unit *u = g->u;
    struct writer *w = g->w;
    const struct coroutine *co = g->co;
    const char *s = u->text;
    int k = u->toks[co->first].start, end = u->toks[co->last].end;

    w_start(w, 0);
    w_printf(w, "// ===== coroutine %s (%s:%d), as you wrote it =====", g->name, u->base_name,
             tok_line(u, co->first));
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
        if (stop > k && s[stop - 1] == '\\')
            w_text(w, " (the line continues)");
        k = nl + 1;
    }
    gen_line(g, "//");
    if (u->init) {
        gen_line(g, "// corofy turned it into the pieces below: struct %s_frame (the state, the",
                 g->name);
        gen_line(g, "// parameters and the locals, kept from one poll to the next), %s_poll (runs",
                 g->name);
        gen_line(g, "// the body from one wait point to the next), %s_release and %s_drop, the",
                 g->name, g->name);
        gen_line(g, "// constructor %s_init(), which makes the frame in storage you provide, and",
                 g->name);
        gen_line(g, "// %s(), which allocates it; neither runs any of the body.", g->name);
        return;
    }
    gen_line(g, "// corofy turned it into the four pieces below: struct %s_frame (the state,",
             g->name);
    gen_line(g, "// the parameters and the locals, kept from one poll to the next), %s_poll",
             g->name);
    gen_line(g, "// (runs the body from one wait point to the next), %s_drop, and the", g->name);
    gen_line(g, "// constructor %s(), which makes the frame without running any of the body.",
             g->name);
}

static const char *param_list(struct gen *g)
{
    const struct coroutine *co = g->co;
    if (co->rparen == co->lparen + 1)
        return "(void)";
    return collapsed_text(g->u, co->lparen, co->rparen + 1);
}

/* The parameter list of NAME_init: (void *storage, params...). */
static const char *init_param_list(struct gen *g)
{
    const struct coroutine *co = g->co;
    if (co->rparen == co->lparen + 1 ||
        (co->rparen == co->lparen + 2 && tok_is(g->u, co->lparen + 1, "void")))
        return "(void *storage)";
    return arena_printf(g->u, "(void *storage, %s",
                        collapsed_text(g->u, co->lparen + 1, co->rparen + 1));
}

/* The arguments that pass the parameters on: "(a, b)". */
static const char *argument_list(struct gen *g)
{
    struct buf b = {0};
    buf_puts(&b, "(");
    for (int k = 0; k < g->co->nparams; k++) {
        int len;
        const char *s = tok_text(g->u, g->co->params[k].name, &len);
        buf_printf(&b, "%s%.*s", k > 0 ? ", " : "", len, s);
    }
    buf_puts(&b, ")");
    const char *text = arena_strdup(g->u, b.data, b.len);
    buf_free(&b);
    return text;
}

/* "line 12", "lines 12 and 30", "lines 12, 30, 41, ..." */
static const char *lines_text(struct gen *g, const struct field *f)
{
    struct buf b = {0};
    buf_printf(&b, "%s %d", f->nlines > 1 ? "lines" : "line", f->lines[0]);
    for (int j = 1; j < f->nlines && j < 4; j++)
        buf_printf(&b, "%s%d", j == f->nlines - 1 ? " and " : ", ", f->lines[j]);
    if (f->nlines > 4)
        buf_puts(&b, ", ...");
    const char *text = arena_strdup(g->u, b.data, b.len);
    buf_free(&b);
    return text;
}

/* The comment on a field of the frame struct. */
static const char *field_comment(struct gen *g, const struct field *f)
{
    if (f->kind == FIELD_PARAM)
        return "/* parameter */";
    if (f->comment != NULL)
        return f->kind == FIELD_TEMP ? arena_printf(g->u, "/* %s */", f->comment) : f->comment;
    bool renamed = strlen(f->name) != (size_t) f->orig_len ||
                   memcmp(f->name, f->orig, (size_t) f->orig_len) != 0;
    return arena_printf(g->u, "/* local%s%.*s, %s */", renamed ? " " : "",
                        renamed ? (f->orig_len > 200 ? 200 : f->orig_len) : 0, f->orig,
                        lines_text(g, f));
}

static void gen_frame_struct(struct gen *g)
{
    const struct coroutine *co = g->co;
    int width = (int) strlen("struct future *awaited;");
    const char *state;

    for (int k = 0; k < g->nfields; k++) {
        int n = (int) strlen(g->fields[k].decl) + 1;
        if (n > width && n <= 40) /* longer ones do not push every comment right */
            width = n;
    }
    if (co->nwaits == 0)
        state = "/* 0: not started, -1: finished */";
    else if (co->nwaits == 1)
        state = "/* 0: not started, 1: at the wait point, -1: finished */";
    else
        state = arena_printf(g->u, "/* 0: not started, 1-%d: at that wait point, -1: finished */",
                             co->nwaits);

    gen_line(g, "struct %s_frame {", g->name);
    gen_line(g, "    %-*s %s", width, "struct future base;", "/* first: a frame is a future */");
    gen_line(g, "    %-*s %s", width, "int state;", state);
    for (int k = 0; k < g->nfields; k++) {
        const struct field *f = &g->fields[k];
        const char *decl = arena_printf(g->u, "%s;", f->decl);
        gen_line(g, "    %-*s %s", width, decl, field_comment(g, f));
    }
    gen_line(g, "    %-*s %s", width, "struct future *awaited;",
             "/* the future being waited for, or NULL */");
    gen_line(g, "};");
    if (g->u->init)
        gen_line(g, "enum { %s = sizeof(struct %s_frame) };", size_name(g->u, g->name), g->name);
}

/* Print "corofy: MESSAGE" and abort, after what the program printed so far. */
static void gen_abort(struct gen *g, const char *indent, const char *message)
{
    gen_line(g, "%sfflush(stdout); /* keep what was printed before */", indent);
    gen_line(g, "%sfprintf(stderr, \"corofy: %s\\n\");", indent, message);
    gen_line(g, "%sabort();", indent);
}

static void gen_poll(struct gen *g)
{
    struct writer *w = g->w;
    const struct coroutine *co = g->co;
    int last = co->body->count - 1;

    gen_line(g, "static enum poll_status %s_poll(struct future *self, %svoid *output)", g->name,
             g->u->waker ? "const struct waker *waker, " : "");
    gen_line(g, "{");
    gen_line(g, "    struct %s_frame *frame = (struct %s_frame *) self;", g->name, g->name);
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
    for (int k = 0; k < g->ntrampolines; k++)
        gen_line(g,
                 "    case %d: /* wait point %d is inside a switch of yours */\n"
                 "        goto wait_point_%d;",
                 g->trampolines[k], g->trampolines[k], g->trampolines[k]);
    gen_line(g, "    case 0:");
    gen_line(g, "        /* ---- your code, its locals moved into the frame ---- */");

    w->indent = 8;
    g->after_label = true;
    g->no_trailing = true;
    gen_items(g, co->body);
    w->indent = 0;

    gen_line(g, "        /* ---- end of your code ---- */");
    if (last < 0 || co->body->items[last]->kind != STMT_RETURN) {
        if (co->returns_void) {
            gen_line(g, "        frame->state = -1;");
            gen_line(g, "        return POLL_READY;");
        } else {
            gen_abort(g, "        ",
                      arena_printf(g->u, "%s ended without returning a value", g->name));
        }
    }
    gen_line(g, "    default:");
    gen_abort(g, "        ", arena_printf(g->u, "%s polled after it completed", g->name));
    gen_line(g, "    }");
    gen_line(g, "}");
}

/* The drop function (and with init, the release function it builds on). */
static void gen_drop(struct gen *g)
{
    const char *end_name = g->u->init ? "release" : "drop";
    if (g->u->init)
        gen_line(g, "/* Ends a frame made by %s_init: drops what it waits for, frees nothing. */",
                 g->name);
    gen_line(g, "static void %s_%s(struct future *self)", g->name, end_name);
    gen_line(g, "{");
    gen_line(g, "    struct %s_frame *frame = (struct %s_frame *) self;", g->name, g->name);
    w_blank_line(g->w);
    gen_line(g, "    if (frame->awaited != NULL) /* dropped while waiting */");
    gen_line(g, "        frame->awaited->drop(frame->awaited);");
    if (!g->u->init) {
        gen_line(g, "    free(frame);");
        gen_line(g, "}");
        return;
    }
    gen_line(g, "}");
    w_blank_line(g->w);
    gen_line(g, "/* Ends a frame made by %s(): the same, then frees it. */", g->name);
    gen_line(g, "static void %s_drop(struct future *self)", g->name);
    gen_line(g, "{");
    gen_line(g, "    %s_release(self);", g->name);
    gen_line(g, "    free(self);");
    gen_line(g, "}");
}

/* The lines that fill in a frame: poll, drop, state, parameters. */
static void gen_frame_setup(struct gen *g, const char *drop)
{
    struct unit *u = g->u;
    const struct coroutine *co = g->co;
    gen_line(g, "    frame->base.poll = %s_poll;", g->name);
    gen_line(g, "    frame->base.drop = %s_%s;", g->name, drop);
    gen_line(g, "    frame->state = 0;");
    for (int k = 0; k < co->nparams; k++) {
        int len;
        const char *s = tok_text(u, co->params[k].name, &len);
        gen_line(g, "    frame->%s = %.*s;", g->fields[k].name, len, s);
    }
    gen_line(g, "    frame->awaited = NULL;");
}

static void gen_constructor(struct gen *g, const char *params)
{
    const char *storage = g->co->is_static ? "static " : "";

    if (g->u->init) {
        gen_line(g, "%sstruct future *%s_init%s", storage, g->name, init_param_list(g));
        gen_line(g, "{");
        gen_line(g, "    struct %s_frame *frame = storage; /* %s bytes, aligned for any type */",
                 g->name, size_name(g->u, g->name));
        w_blank_line(g->w);
        gen_frame_setup(g, "release");
        gen_line(g, "    return &frame->base; /* lazy: none of the body has run yet */");
        gen_line(g, "}");
        w_blank_line(g->w);
    }
    gen_line(g, "%sstruct future *%s%s", storage, g->name, params);
    gen_line(g, "{");
    gen_line(g, "    struct %s_frame *frame = malloc(sizeof *frame);", g->name);
    w_blank_line(g->w);
    gen_line(g, "    if (frame == NULL) {");
    gen_abort(g, "        ", arena_printf(g->u, "out of memory creating %s", g->name));
    gen_line(g, "    }");
    if (g->u->init) {
        gen_line(g, "    %s_init%s%s;", g->name, g->co->nparams > 0 ? "(frame, " : "(frame",
                 g->co->nparams > 0 ? argument_list(g) + 1 : ")");
        gen_line(g, "    frame->base.drop = %s_drop; /* this one frees the frame too */", g->name);
    } else {
        gen_frame_setup(g, "drop");
    }
    gen_line(g, "    return &frame->base; /* lazy: none of the body has run yet */");
    gen_line(g, "}");
}

static void gen_prototypes(struct gen *g, const char *params)
{
    const char *storage = g->co->is_static ? "static " : "";
    gen_line(g, "%sstruct future *%s%s;", storage, g->name, params);
    if (g->u->init)
        gen_line(g, "%sstruct future *%s_init%s;", storage, g->name, init_param_list(g));
}

/* The return type, and the cast that stores a value through `output`. */
static void return_type(struct gen *g)
{
    struct unit *u = g->u;
    const struct coroutine *co = g->co;
    int star = co->type_lo;
    while (star < co->type_hi && !tok_punct(u, star, "*"))
        star++;
    g->return_type = type_text(u, co->type_lo, star, star, co->type_hi, -1, NULL, false);
    size_t n = strlen(g->return_type);
    g->output_cast = arena_printf(u, "(%s%s)", g->return_type,
                                  n > 0 && g->return_type[n - 1] == '*' ? "*" : " *");
    g->return_key = key_of_type(u, g->return_type);
}

static void gen_definition(struct unit *u, struct writer *out, struct coroutine *co)
{
    struct gen g = {.u = u, .co = co, .w = out, .name = name_of(u, co)};
    const char *params = param_list(&g);

    return_type(&g);
    find_exposed(&g);
    find_labels(&g);

    /* First pass, dry: find the fields, whether `result` and `output` are
     * used, and the wait points inside switches of the body's own. */
    struct writer dry = {.eol = "\n"};
    reset_frame(&g);
    g.w = &dry;
    gen_poll(&g);
    g.w = out;

    gen_source_comment(&g);
    w_blank_line(g.w);
    gen_prototypes(&g, params);
    w_blank_line(g.w);
    gen_frame_struct(&g);
    w_blank_line(g.w);

    /* Second pass: the same walk, so the same fields, written for real. */
    reset_frame(&g);
    gen_poll(&g);
    w_blank_line(g.w);
    gen_drop(&g);
    w_blank_line(g.w);
    gen_constructor(&g, params);
    w_raw(out, "\n", 1);
}

/* `coroutine T name(params);` declares the constructor(s). */
static void gen_declaration(struct unit *u, struct writer *w, struct coroutine *co)
{
    struct gen g = {.u = u, .co = co, .w = w, .name = name_of(u, co)};
    const char *original = collapsed_text(u, co->first, co->last + 1);

    w_start(w, 0);
    w_text(w, "// corofy: ");
    w_text(w, comment_safe(u, original, strlen(original)));
    gen_prototypes(&g, param_list(&g));
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

/* The first lines of every generated file. */
static void gen_banner(struct unit *u, struct writer *w)
{
    w->origin = 0;
    w_printf(w, "/* Generated by corofy from %s: do not edit this file.\n", u->base_name);
    w_printf(w, " * Edit %s and run make (corofy runs again). */\n", u->base_name);
}

/* Where copying resumes after coroutine co: the rest of its last line,
 * when that holds nothing but blanks, goes with it. */
static int after_coroutine(const struct unit *u, const struct coroutine *co)
{
    int pos = u->toks[co->last].end, k = pos;
    while (k < u->len && (u->text[k] == ' ' || u->text[k] == '\t' || u->text[k] == '\r'))
        k++;
    if (k == u->len)
        return k;
    return u->text[k] == '\n' ? k + 1 : pos;
}

void generate(struct unit *u)
{
    struct writer w = {
        .out = u->out,
        .eol = u->crlf ? "\r\n" : "\n",
        .out_line = 1,
        .presumed = 1,
        .directives = u->options->line_directives,
        .src_name = u->options->input_name,
        .out_name = u->options->output_name,
    };
    int pos = 0;

    gen_banner(u, &w);
    for (struct coroutine *co = u->coroutines; co != NULL; co = co->next) {
        copy_source(u, &w, pos, u->toks[co->first].start);
        if (co->is_definition)
            gen_definition(u, &w, co);
        else
            gen_declaration(u, &w, co);
        pos = after_coroutine(u, co);
    }
    copy_source(u, &w, pos, u->len);
    if (w.pending_cr)
        buf_put(u->out, "\r", 1);
}
