/* parse.c: finds the `coroutine` functions in a token stream and parses each
 * body into statements (struct stmt, corofy.h). Only what corofy must
 * understand is parsed: statements, declarations and the four shapes a
 * `.wait` may take; expressions stay token ranges. Everything the dialect
 * does not allow is rejected here, with the reason and a way out.
 * Part of corofy/ (issue 6). */
#include <string.h>

#include "corofy.h"

/* Statements nested deeper than this are refused (bounded recursion). */
#define MAX_STATEMENT_DEPTH 1000

struct parser {
    struct unit *u;
    struct coroutine *co;
    int loops;       /* loops around the current statement */
    int switches;    /* the student's switch statements around it */
    int depth;       /* nesting, to bound the recursion */
    int first_goto;  /* the first `goto` token, or -1 */
};

static const char larger_expression[] =
    "'.wait' must end a statement of its own: `EXPR.wait;`, `x = EXPR.wait;`, "
    "`T x = EXPR.wait;` or `return EXPR.wait;`; here it is part of a larger expression "
    "(wait into a variable first, then use the variable)";

/* ===== Token helpers ===== */

static bool is_opener(const struct unit *u, int i)
{
    return u->toks[i].kind == TOK_PUNCT && u->toks[i].match > i;
}

/* The first `p` at bracket depth 0 in [lo, hi), or -1. */
static int find_punct(const struct unit *u, int lo, int hi, const char *p)
{
    for (int i = lo; i < hi; i++) {
        if (tok_punct(u, i, p))
            return i;
        if (is_opener(u, i))
            i = u->toks[i].match;
    }
    return -1;
}

/* The first wait point in [lo, hi), at any depth, or -1. */
static int find_wait(const struct unit *u, int lo, int hi)
{
    for (int i = lo; i + 1 < hi; i++)
        if (tok_is_wait(u, i))
            return i;
    return -1;
}

static bool is_ident(const struct unit *u, int i)
{
    return u->toks[i].kind == TOK_IDENT && !tok_keyword(u, i);
}

static bool tok_in(const struct unit *u, int i, const char *const *words)
{
    for (; *words != NULL; words++)
        if (tok_is(u, i, *words))
            return true;
    return false;
}

static const char *const type_keywords[] = {
    "void", "char", "short", "int", "long", "float", "double", "signed", "unsigned", "_Bool",
    "_Complex", "_Imaginary", NULL,
};
static const char *const qualifier_keywords[] = {
    "const", "volatile", "restrict", "_Atomic", "__restrict", "__restrict__", "__const",
    "__volatile__", NULL,
};
static const char *const storage_keywords[] = {
    "static", "extern", "auto", "register", "_Thread_local", "typedef", "inline", "_Noreturn",
    "__inline", "__inline__", NULL,
};
static const char *const group_keywords[] = {  /* followed by a parenthesised group */
    "__attribute__", "__attribute", "_Alignas", "__asm__", "asm", NULL,
};
static const char *const typeof_keywords[] = {"typeof", "__typeof__", "__typeof", NULL};
static const char *const tag_keywords[] = {"struct", "union", "enum", NULL};

/* Names the generated poll function and constructor declare for themselves.
 * The file may not declare them at file scope: -Wshadow would object. */
static const char *const reserved_names[] = {"self", "frame", "output", "waker", "result", NULL};

/* Type names every C programmer uses without declaring them in the file. */
static const char *const builtin_typedefs[] = {
    "size_t", "ssize_t", "ptrdiff_t", "intptr_t", "uintptr_t", "intmax_t", "uintmax_t",
    "int8_t", "int16_t", "int32_t", "int64_t", "uint8_t", "uint16_t", "uint32_t", "uint64_t",
    "wchar_t", "FILE", "bool", "off_t", "pid_t", "time_t", "clock_t", "va_list",
    "sig_atomic_t", "socklen_t", "max_align_t", NULL,
};

bool is_typedef_name(const struct unit *u, int i)
{
    if (!is_ident(u, i))
        return false;
    if (tok_in(u, i, builtin_typedefs))
        return true;
    const struct token *t = &u->toks[i];
    for (int k = 0; k < u->ntypedefs; k++)
        if (u->typedef_lens[k] == t->len && memcmp(u->typedef_names[k], u->text + t->start, (size_t) t->len) == 0)
            return true;
    return false;
}

/* Step over the declaration specifiers starting at i (`static const struct
 * point`, `unsigned long`, `size_t`); returns the first declarator token. */
int skip_specifiers(const struct unit *u, int i, int hi)
{
    bool have_type = false;
    while (i < hi && u->toks[i].kind == TOK_IDENT) {
        if (tok_in(u, i, tag_keywords)) {
            i++;
            if (i < hi && is_ident(u, i))
                i++;
            if (i < hi && tok_punct(u, i, "{"))
                i = u->toks[i].match + 1;
            have_type = true;
        } else if (tok_in(u, i, group_keywords) || tok_in(u, i, typeof_keywords) ||
                   (tok_is(u, i, "_Atomic") && tok_punct(u, i + 1, "("))) {
            if (tok_in(u, i, typeof_keywords) || tok_is(u, i, "_Atomic"))
                have_type = true;
            i++;
            if (i < hi && tok_punct(u, i, "("))
                i = u->toks[i].match + 1;
        } else if (tok_in(u, i, type_keywords)) {
            have_type = true;
            i++;
        } else if (tok_in(u, i, qualifier_keywords) || tok_in(u, i, storage_keywords)) {
            i++;
        } else if (!have_type && !tok_keyword(u, i)) {
            have_type = true;  /* a typedef name */
            i++;
        } else {
            break;
        }
    }
    return i;
}

/* The identifier a declarator declares (`*const name[3]`, `(*name)(int)`), or -1. */
static int declarator_name(const struct unit *u, int lo, int hi)
{
    for (int i = lo; i < hi; i++) {
        if (u->toks[i].kind == TOK_IDENT) {
            if (tok_in(u, i, group_keywords) && tok_punct(u, i + 1, "("))
                i = u->toks[i + 1].match;
            else if (!tok_keyword(u, i))
                return i;
        } else if (tok_punct(u, i, "(")) {
            /* A parameter list follows a name or a closing bracket; its
             * parameter names are not ours. A grouping paren we step into. */
            if (i > lo && (is_ident(u, i - 1) || tok_punct(u, i - 1, ")") ||
                           tok_punct(u, i - 1, "]")))
                i = u->toks[i].match;
        } else if (tok_punct(u, i, "[")) {
            i = u->toks[i].match;
        }
    }
    return -1;
}

/* Is [lo, hi) a postfix expression: a name or a parenthesised expression
 * followed by calls, subscripts and member accesses? `.wait` applies to
 * exactly that, so `a + f().wait` waits inside a larger expression. */
static bool is_postfix_expr(const struct unit *u, int lo, int hi)
{
    int i = lo;
    if (lo >= hi)
        return false;
    if (is_ident(u, i))
        i++;
    else if (tok_punct(u, i, "("))
        i = u->toks[i].match + 1;
    else
        return false;
    while (i < hi) {
        if (tok_punct(u, i, "(") || tok_punct(u, i, "["))
            i = u->toks[i].match + 1;
        else if ((tok_punct(u, i, ".") || tok_punct(u, i, "->")) && i + 1 < hi && is_ident(u, i + 1))
            i += 2;
        else
            return false;
    }
    return true;
}

/* Is the parenthesised group at `open` a type name, as in a cast `(int *)`? */
bool is_type_name_group(const struct unit *u, int open)
{
    int close = u->toks[open].match;
    if (close == open + 1)
        return false;
    for (int i = open + 1; i < close; i++) {
        if (tok_punct(u, i, "*") || tok_in(u, i, type_keywords) || tok_in(u, i, qualifier_keywords) ||
            tok_in(u, i, tag_keywords) || is_typedef_name(u, i))
            continue;
        if (is_ident(u, i) && i > open + 1 && tok_in(u, i - 1, tag_keywords))
            continue;
        return false;
    }
    return true;
}

/* ===== Typedef names ===== */

static void add_typedef(struct unit *u, int tok)
{
    if (u->ntypedefs % 16 == 0) {
        size_t n = (size_t) u->ntypedefs;
        u->typedef_names = arena_grow(u, u->typedef_names, n * sizeof(char *), (n + 16) * sizeof(char *));
        u->typedef_lens = arena_grow(u, u->typedef_lens, n * sizeof(int), (n + 16) * sizeof(int));
    }
    u->typedef_names[u->ntypedefs] = u->text + u->toks[tok].start;
    u->typedef_lens[u->ntypedefs] = u->toks[tok].len;
    u->ntypedefs++;
}

/* `typedef T a, *b;` anywhere in the file: a and b name types, which tells
 * `a *x;` (a declaration) from `x * y;` (an expression) in coroutine bodies. */
static void collect_typedefs(struct unit *u)
{
    int eof = u->ntoks - 1;
    for (int i = 0; i < eof; i++) {
        if (!tok_is(u, i, "typedef") || u->toks[i].kind != TOK_IDENT)
            continue;
        int end = find_punct(u, i + 1, eof, ";");
        if (end < 0)
            return;
        int a = skip_specifiers(u, i + 1, end);
        while (a < end) {
            int b = find_punct(u, a, end, ",");
            if (b < 0)
                b = end;
            int name = declarator_name(u, a, b);
            if (name >= 0)
                add_typedef(u, name);
            a = b + 1;
        }
    }
}

/* ===== Statements ===== */

static struct stmt *parse_stmt(struct parser *p, int *i, int hi, const char *context);

static struct stmt *new_stmt(struct parser *p, enum stmt_kind kind, int lo)
{
    struct stmt *s = arena_alloc(p->u, sizeof *s);
    s->kind = kind;
    s->lo = lo;
    s->head = s->else_tok = s->dest = -1;
    return s;
}

static void no_wait_in(struct parser *p, int lo, int hi, const char *where, const char *hint)
{
    int w = find_wait(p->u, lo, hi);
    if (w >= 0)
        fail(p->u, w, "a wait cannot be part of %s: %s", where, hint);
}

/* corofy rewrites declarations and coroutine headers onto single lines,
 * where a preprocessor line could not stand. */
static void no_directive_in(struct unit *u, int lo, int hi, const char *where)
{
    for (int i = lo; i < hi; i++)
        if (u->toks[i].kind == TOK_DIRECTIVE)
            fail(u, i, "a preprocessor line inside %s is not supported by corofy", where);
}

/* A declaration's type and names hold only words, '*', parentheses, commas,
 * '...' and [dimensions]: corofy rewrites them with its own spacing, which
 * is only safe for those. */
static void check_declaration_tokens(struct unit *u, int lo, int hi)
{
    for (int i = lo; i < hi; i++) {
        const struct token *t = &u->toks[i];
        if (t->kind == TOK_IDENT && tok_punct(u, i + 1, "(") &&
            (tok_in(u, i, group_keywords) || tok_in(u, i, typeof_keywords) || tok_is(u, i, "_Atomic"))) {
            i = u->toks[i + 1].match;
        } else if (tok_punct(u, i, "[")) {
            i = t->match;
        } else if (t->kind != TOK_IDENT && !tok_punct(u, i, "*") && !tok_punct(u, i, "(") &&
                   !tok_punct(u, i, ")") && !tok_punct(u, i, ",") && !tok_punct(u, i, "...")) {
            fail(u, i, "unexpected '%.*s' in a declaration", t->len > 40 ? 40 : t->len,
                 u->text + t->start);
        }
    }
}

/* The '(' that must follow the keyword at `keyword`. */
static int expect_paren(struct parser *p, int keyword)
{
    const struct token *k = &p->u->toks[keyword];
    if (!tok_punct(p->u, keyword + 1, "("))
        fail(p->u, keyword + 1, "expected '(' after '%.*s'", k->len, p->u->text + k->start);
    return keyword + 1;
}

static int expect_semicolon(struct parser *p, int lo, int hi)
{
    int semi = find_punct(p->u, lo, hi, ";");
    if (semi < 0)
        fail(p->u, lo, "expected ';' at the end of this statement");
    return semi;
}

/* A statement up to its ';' that holds no wait: break, continue, goto, ... */
static struct stmt *simple_stmt(struct parser *p, int lo, int hi)
{
    struct stmt *s = new_stmt(p, STMT_SIMPLE, lo);
    int semi = expect_semicolon(p, lo, hi);
    int w = find_wait(p->u, lo, semi);
    if (w >= 0)
        fail(p->u, w, larger_expression);
    s->hi = semi + 1;
    return s;
}

/* A wait point whose future is [expr_lo, dot), in a statement [stmt_lo, stmt_hi). */
static struct wait_point *new_wait(struct parser *p, int expr_lo, int dot, int stmt_lo, int stmt_hi)
{
    struct unit *u = p->u;
    if (p->switches > 0)
        fail(u, dot, "a wait inside a 'switch' statement is not supported: its case labels "
                     "would mix with those of the switch corofy generates (use if/else instead)");
    if (expr_lo == dot)
        fail(u, dot, "expected an expression (the future to wait for) before '.wait'");
    if (!is_postfix_expr(u, expr_lo, dot))
        fail(u, dot, larger_expression);
    struct wait_point *w = arena_alloc(u, sizeof *w);
    w->number = ++p->co->nwaits;
    w->expr_lo = expr_lo;
    w->expr_hi = dot;
    w->stmt_lo = stmt_lo;
    w->stmt_hi = stmt_hi;
    return w;
}

static const char *const declaration_keywords[] = {
    "void", "char", "short", "int", "long", "float", "double", "signed", "unsigned", "_Bool",
    "_Complex", "_Imaginary", "struct", "union", "enum", "const", "volatile", "restrict",
    "_Atomic", "static", "extern", "auto", "register", "_Thread_local", "typedef", "inline",
    "_Noreturn", "__inline", "__inline__", "_Alignas", "__attribute__", "__attribute",
    "typeof", "__typeof__", "__typeof", "__restrict", "__const", "__volatile__", NULL,
};

/* Does the statement at lo declare something? C cannot be parsed without
 * knowing which names are types; corofy knows the file's typedefs and the
 * usual library ones, and takes `a b`, `a *b =`, `a *b;` and `a *b[` as
 * declarations, since as expressions they would be errors or useless. */
static bool looks_like_declaration(const struct unit *u, int lo, int hi)
{
    if (lo >= hi || u->toks[lo].kind != TOK_IDENT)
        return false;
    if (tok_keyword(u, lo))
        return tok_in(u, lo, declaration_keywords);
    int next = lo + 1;
    if (next >= hi)
        return false;
    if (is_typedef_name(u, lo) &&
        (is_ident(u, next) || tok_punct(u, next, "*") || tok_punct(u, next, "(") ||
         tok_in(u, next, qualifier_keywords)))
        return true;
    if (is_ident(u, next) || tok_in(u, next, qualifier_keywords))
        return true;
    int j = next, stars = 0;
    while (j < hi && (tok_punct(u, j, "*") || tok_in(u, j, qualifier_keywords)))
        stars += tok_punct(u, j++, "*");
    if (stars == 0 || j >= hi || !is_ident(u, j))
        return false;
    return j + 1 == hi || tok_punct(u, j + 1, "=") || tok_punct(u, j + 1, ";") ||
           tok_punct(u, j + 1, ",") || tok_punct(u, j + 1, "[");
}

/* A one-line comment right after token `tok` on its line (the student's
 * note on a declaration or a wait): its offset (and *end), or -1. */
int trailing_comment(const struct unit *u, int tok, int *end)
{
    int k = u->toks[tok].start + u->toks[tok].len, stop = u->toks[tok + 1].start;
    while (k < stop && (u->text[k] == ' ' || u->text[k] == '\t'))
        k++;
    if (k + 1 >= stop || u->text[k] != '/')
        return -1;
    int c = k + 2;
    if (u->text[k + 1] == '*') {
        while (c + 1 < stop && !(u->text[c] == '*' && u->text[c + 1] == '/') && u->text[c] != '\n')
            c++;
        if (c + 1 >= stop || u->text[c] == '\n')
            return -1;
        c += 2;
    } else if (u->text[k + 1] == '/') {
        while (c < stop && u->text[c] != '\n' && u->text[c] != '\\')
            c++;
        if (c < stop && u->text[c] == '\\')
            return -1;
    } else {
        return -1;
    }
    *end = c;
    return k;
}

/* A declaration [lo, end), `end` being its ';' (or the first ';' of a for header). */
static struct decl *parse_decl(struct parser *p, int lo, int end)
{
    struct unit *u = p->u;
    struct decl *d = arena_alloc(u, sizeof *d);
    int spec_end = skip_specifiers(u, lo, end);

    d->trailing_comment = -1;
    for (int i = lo; i < spec_end; i++) {
        if (tok_is(u, i, "typedef"))
            fail(u, i, "a typedef inside a coroutine is not supported: the frame struct is "
                       "declared outside the function, so move the typedef to file scope");
        if (tok_is(u, i, "static") || tok_is(u, i, "extern") || tok_is(u, i, "_Thread_local"))
            d->is_static = true;
        if (tok_in(u, i, tag_keywords)) {
            int t = i + 1 < spec_end && is_ident(u, i + 1) ? i + 2 : i + 1;
            if (t < spec_end && tok_punct(u, t, "{"))
                fail(u, i, "a %.*s definition inside a coroutine is not supported: the frame "
                           "struct is declared outside the function, so move it to file scope",
                     u->toks[i].len, u->text + u->toks[i].start);
        }
    }
    d->spec_lo = lo;
    d->spec_hi = spec_end;
    no_directive_in(u, lo, spec_end, "a declaration in a coroutine");
    check_declaration_tokens(u, lo, spec_end);
    if (find_wait(u, lo, spec_end) >= 0)
        fail(u, find_wait(u, lo, spec_end), larger_expression);

    int a = spec_end, cap = 0;
    while (a < end) {
        int b = find_punct(u, a, end, ",");
        if (b < 0)
            b = end;
        if (d->count == cap) {
            cap = cap ? cap * 2 : 4;
            d->items = arena_grow(u, d->items, sizeof *d->items * (size_t) d->count,
                                  sizeof *d->items * (size_t) cap);
        }
        struct declarator *dl = &d->items[d->count++];
        int eq = find_punct(u, a, b, "=");
        dl->lo = a;
        dl->hi = eq < 0 ? b : eq;
        dl->init_lo = eq < 0 ? b : eq + 1;
        dl->init_hi = b;
        dl->name = declarator_name(u, dl->lo, dl->hi);
        if (dl->name < 0)
            fail(u, a, "expected a name in this declaration");
        dl->is_array = tok_punct(u, dl->name + 1, "[") && dl->name + 1 < dl->hi;
        dl->is_function = tok_punct(u, dl->name + 1, "(") && dl->name + 1 < dl->hi;
        if (eq >= 0 && dl->init_lo == dl->init_hi)
            fail(u, eq, "expected an initialiser after '='");
        if (eq >= 0 && dl->is_function)
            fail(u, eq, "a function declaration cannot have an initialiser");
        no_directive_in(u, a, dl->hi, "a declaration in a coroutine");
        check_declaration_tokens(u, a, dl->hi);
        int stray = find_wait(u, a, dl->hi);
        if (stray >= 0)
            fail(u, stray, larger_expression);
        int w = find_wait(u, dl->init_lo, dl->init_hi);
        if (w >= 0) {
            if (w != dl->init_hi - 2)
                fail(u, w, larger_expression);
            if (d->is_static)
                fail(u, w, "a static local cannot be initialised by a wait (its initialiser "
                           "must be a constant)");
            dl->wait = new_wait(p, dl->init_lo, w, lo, end + 1);
        }
        a = b + 1;
    }
    return d;
}

static struct stmt *parse_block(struct parser *p, int lbrace)
{
    struct unit *u = p->u;
    struct stmt *s = new_stmt(p, STMT_BLOCK, lbrace);
    int rbrace = u->toks[lbrace].match, cap = 0, i = lbrace + 1;

    s->hi = rbrace + 1;
    while (i < rbrace) {
        struct stmt *item;
        if (u->toks[i].kind == TOK_DIRECTIVE) {
            item = new_stmt(p, STMT_DIRECTIVE, i);
            item->hi = ++i;
        } else if (looks_like_declaration(u, i, rbrace)) {
            int semi = expect_semicolon(p, i, rbrace);
            item = new_stmt(p, STMT_DECL, i);
            item->decl = parse_decl(p, i, semi);
            item->has_wait = false;
            for (int k = 0; k < item->decl->count; k++)
                item->has_wait |= item->decl->items[k].wait != NULL;
            item->decl->trailing_comment =
                trailing_comment(u, semi, &item->decl->trailing_comment_end);
            item->hi = i = semi + 1;
        } else {
            item = parse_stmt(p, &i, rbrace, NULL);
        }
        if (s->count == cap) {
            cap = cap ? cap * 2 : 8;
            s->items = arena_grow(u, s->items, sizeof *s->items * (size_t) s->count,
                                  sizeof *s->items * (size_t) cap);
        }
        s->items[s->count++] = item;
        s->has_wait |= item->has_wait;
    }
    return s;
}

/* An expression statement [lo, semi]: plain, or one of the two wait shapes. */
static struct stmt *parse_expression(struct parser *p, int lo, int semi)
{
    struct unit *u = p->u;
    int w = find_wait(u, lo, semi);
    struct stmt *s = new_stmt(p, STMT_SIMPLE, lo);

    s->hi = semi + 1;
    if (w < 0)
        return s;
    if (w != semi - 2)
        fail(u, w, larger_expression);
    int expr_lo = lo;
    if (is_ident(u, lo) && tok_punct(u, lo + 1, "=")) {
        s->dest = lo;
        expr_lo = lo + 2;
    } else {
        static const char *const assignments[] = {
            "=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=", NULL,
        };
        for (int i = lo; i < w; i++) {
            if (u->toks[i].kind == TOK_PUNCT && tok_in(u, i, assignments)) {
                if (tok_punct(u, i, "="))
                    fail(u, lo, "the left side of '= EXPR.wait' must be a plain variable "
                                "name; wait into a variable first, then store it");
                fail(u, w, larger_expression);
            }
            if (is_opener(u, i))
                i = u->toks[i].match;
        }
    }
    s->kind = STMT_WAIT;
    s->wait = new_wait(p, expr_lo, w, lo, semi + 1);
    s->has_wait = true;
    return s;
}

static struct stmt *parse_return(struct parser *p, int lo, int hi)
{
    struct unit *u = p->u;
    struct coroutine *co = p->co;
    int semi = expect_semicolon(p, lo + 1, hi);
    struct stmt *s = new_stmt(p, STMT_RETURN, lo);
    int w = find_wait(u, lo + 1, semi);
    const struct token *name = &u->toks[co->name];

    s->hi = semi + 1;
    s->expr_lo = lo + 1;
    s->expr_hi = semi;
    if (w >= 0) {
        if (w != semi - 2)
            fail(u, w, larger_expression);
        s->wait = new_wait(p, lo + 1, w, lo, semi + 1);
        s->has_wait = true;
    } else if (co->returns_void && semi > lo + 1) {
        fail(u, lo, "'return' with a value in coroutine '%.*s', which produces nothing (void)",
             name->len, u->text + name->start);
    } else if (!co->returns_void && semi == lo + 1) {
        fail(u, lo, "'return' without a value in coroutine '%.*s', which produces a value",
             name->len, u->text + name->start);
    }
    return s;
}

/* A header `keyword (...)`: checks it holds no wait and returns its '('. */
static int parse_head(struct parser *p, int keyword, const char *where, const char *hint)
{
    int head = expect_paren(p, keyword);
    no_wait_in(p, head, p->u->toks[head].match, where, hint);
    return head;
}

static struct stmt *parse_for(struct parser *p, int lo, int *i, int hi)
{
    struct unit *u = p->u;
    struct stmt *s = new_stmt(p, STMT_FOR, lo);
    int head = expect_paren(p, lo), rparen = u->toks[head].match;
    int semi1 = find_punct(u, head + 1, rparen, ";");
    int semi2 = semi1 < 0 ? -1 : find_punct(u, semi1 + 1, rparen, ";");

    if (semi2 < 0)
        fail(u, head, "expected 'for (init; condition; step)'");
    no_wait_in(p, head, rparen, "a 'for' header",
               "wait before the loop, or at the start or end of its body");
    s->head = head;
    s->init_lo = head + 1;
    s->init_hi = semi1;
    s->cond_lo = semi1 + 1;
    s->cond_hi = semi2;
    s->step_lo = semi2 + 1;
    s->step_hi = rparen;
    if (looks_like_declaration(u, s->init_lo, s->init_hi))
        s->decl = parse_decl(p, s->init_lo, s->init_hi);
    *i = rparen + 1;
    p->loops++;
    s->body = parse_stmt(p, i, hi, "'for'");
    p->loops--;
    return s;
}

/* A statement in a place that takes exactly one (a body, or a block item
 * that is not a declaration). `context` names the construct whose body it
 * is, or is NULL for a block item. */
static struct stmt *parse_stmt(struct parser *p, int *i, int hi, const char *context)
{
    struct unit *u = p->u;
    int lo = *i;
    struct stmt *s;

    if (lo >= hi)
        fail(u, lo, "expected a statement before '%.*s'", u->toks[lo].len,
             u->text + u->toks[lo].start);
    if (context != NULL && u->toks[lo].kind == TOK_DIRECTIVE)
        fail(u, lo, "a preprocessor line cannot be the body of %s in a coroutine: put the "
                    "body in braces", context);
    if (context != NULL && looks_like_declaration(u, lo, hi))
        fail(u, lo, "a declaration cannot be the body of %s: put the body in braces", context);
    if (++p->depth > MAX_STATEMENT_DEPTH)
        fail(u, lo, "statements nested more than %d deep; corofy does not go deeper",
             MAX_STATEMENT_DEPTH);

    if (tok_punct(u, lo, "{")) {
        s = parse_block(p, lo);
        *i = s->hi;
    } else if (tok_punct(u, lo, ";")) {
        s = new_stmt(p, STMT_SIMPLE, lo);
        *i = s->hi = lo + 1;
    } else if (u->toks[lo].kind != TOK_IDENT) {
        int semi = expect_semicolon(p, lo, hi);
        s = parse_expression(p, lo, semi);
        *i = s->hi;
    } else if (tok_is(u, lo, "if")) {
        s = new_stmt(p, STMT_IF, lo);
        s->head = parse_head(p, lo, "an 'if' condition",
                             "wait first (`T ok = EXPR.wait;`), then test the variable");
        *i = u->toks[s->head].match + 1;
        s->body = parse_stmt(p, i, hi, "'if'");
        s->has_wait = s->body->has_wait;
        if (*i < hi && tok_is(u, *i, "else")) {
            s->else_tok = (*i)++;
            s->else_body = parse_stmt(p, i, hi, "'else'");
            s->has_wait |= s->else_body->has_wait;
        }
    } else if (tok_is(u, lo, "while")) {
        s = new_stmt(p, STMT_WHILE, lo);
        s->head = parse_head(p, lo, "a loop condition",
                             "wait in the loop body (before the test, or at the end of the body)");
        *i = u->toks[s->head].match + 1;
        p->loops++;
        s->body = parse_stmt(p, i, hi, "'while'");
        p->loops--;
        s->has_wait = s->body->has_wait;
    } else if (tok_is(u, lo, "do")) {
        s = new_stmt(p, STMT_DO, lo);
        *i = lo + 1;
        p->loops++;
        s->body = parse_stmt(p, i, hi, "'do'");
        p->loops--;
        if (*i >= hi || !tok_is(u, *i, "while"))
            fail(u, *i, "expected 'while' after the body of 'do'");
        s->else_tok = *i;
        s->head = parse_head(p, *i, "a loop condition",
                             "wait at the end of the loop body, into a variable the condition tests");
        *i = u->toks[s->head].match + 1;
        if (*i >= hi || !tok_punct(u, *i, ";"))
            fail(u, *i, "expected ';' after 'do ... while (...)'");
        (*i)++;
        s->has_wait = s->body->has_wait;
    } else if (tok_is(u, lo, "for")) {
        s = parse_for(p, lo, i, hi);
        s->has_wait = s->body->has_wait;
    } else if (tok_is(u, lo, "switch")) {
        s = new_stmt(p, STMT_SWITCH, lo);
        s->head = parse_head(p, lo, "a 'switch' expression", "wait first, into a variable");
        *i = u->toks[s->head].match + 1;
        p->switches++;
        s->body = parse_stmt(p, i, hi, "'switch'");
        p->switches--;
    } else if (tok_is(u, lo, "case") || tok_is(u, lo, "default")) {
        if (p->switches == 0)
            fail(u, lo, "'%s' outside a switch statement: in a coroutine it would become a "
                        "label of corofy's own switch",
                 tok_is(u, lo, "case") ? "case" : "default");
        int colon = find_punct(u, lo + 1, hi, ":");
        if (colon < 0 || (tok_is(u, lo, "default") && colon != lo + 1))
            fail(u, lo, "expected ':' after this label");
        no_wait_in(p, lo, colon, "a 'case' label", "a label must be a constant");
        s = new_stmt(p, STMT_LABEL, lo);
        s->label_hi = *i = colon + 1;
        if (*i < hi) {
            s->body = parse_stmt(p, i, hi, NULL);
            s->has_wait = s->body->has_wait;
        }
    } else if (is_ident(u, lo) && tok_punct(u, lo + 1, ":")) {
        s = new_stmt(p, STMT_LABEL, lo);
        s->label_hi = *i = lo + 2;
        if (*i < hi) {
            s->body = parse_stmt(p, i, hi, NULL);
            s->has_wait = s->body->has_wait;
        }
    } else if (tok_is(u, lo, "return")) {
        s = parse_return(p, lo, hi);
        *i = s->hi;
    } else if (tok_is(u, lo, "break") || tok_is(u, lo, "continue")) {
        bool is_break = tok_is(u, lo, "break");
        if (p->loops == 0 && (!is_break || p->switches == 0))
            fail(u, lo, "'%s' outside a loop%s: in a coroutine it would leave corofy's own switch",
                 is_break ? "break" : "continue", is_break ? " or switch" : "");
        s = simple_stmt(p, lo, hi);
        *i = s->hi;
    } else if (tok_is(u, lo, "goto")) {
        if (p->first_goto < 0)
            p->first_goto = lo;
        s = simple_stmt(p, lo, hi);
        *i = s->hi;
    } else if (tok_is(u, lo, "else")) {
        fail(u, lo, "'else' without an 'if' before it");
    } else if (tok_is(u, lo, "_Static_assert")) {
        s = simple_stmt(p, lo, hi);
        s->is_declaration_like = true;
        *i = s->hi;
    } else {
        int semi = expect_semicolon(p, lo, hi);
        s = parse_expression(p, lo, semi);
        *i = s->hi;
    }
    p->depth--;
    return s;
}

/* ===== Coroutines ===== */

static const char *const function_storage[] = {
    "static", "extern", "inline", "_Noreturn", "__inline", "__inline__", NULL,
};

static void parse_params(struct unit *u, struct coroutine *co)
{
    int lo = co->lparen + 1, hi = co->rparen;
    const struct token *name = &u->toks[co->name];

    if (lo == hi || (hi == lo + 1 && tok_is(u, lo, "void")))
        return;
    int a = lo, cap = 0;
    while (a <= hi) {
        int b = find_punct(u, a, hi, ",");
        if (b < 0)
            b = hi;
        if (a == b)
            fail(u, a, "expected a parameter");
        if (tok_punct(u, a, "..."))
            fail(u, a, "coroutine '%.*s' cannot take a variable number of arguments: its "
                       "frame needs one field per parameter", name->len, u->text + name->start);
        int pname = declarator_name(u, skip_specifiers(u, a, b), b);
        if (pname < 0)
            fail(u, a, "parameter %d of coroutine '%.*s' needs a name: its frame keeps a copy",
                 co->nparams + 1, name->len, u->text + name->start);
        if (tok_is(u, pname, "frame"))
            fail(u, pname, "the name 'frame' is used by the code corofy generates; "
                           "rename this parameter");
        if (co->nparams == cap) {
            cap = cap ? cap * 2 : 4;
            co->params = arena_grow(u, co->params, sizeof *co->params * (size_t) co->nparams,
                                    sizeof *co->params * (size_t) cap);
        }
        co->params[co->nparams].lo = a;
        co->params[co->nparams].hi = b;
        co->params[co->nparams].name = pname;
        co->nparams++;
        a = b + 1;
    }
}

/* `coroutine` at `keyword`, at file scope: returns the coroutine's last token. */
static int parse_coroutine(struct unit *u, int keyword)
{
    struct coroutine *co = arena_alloc(u, sizeof *co);
    int first = keyword, i = keyword + 1;

    co->keyword = keyword;
    while (first > 0 && u->toks[first - 1].kind == TOK_IDENT &&
           tok_in(u, first - 1, function_storage))
        first--;
    co->first = first;
    while (u->toks[i].kind == TOK_IDENT && tok_in(u, i, function_storage))
        i++;
    for (int k = first; k < i; k++)
        co->is_static |= tok_is(u, k, "static");
    co->type_lo = i;
    while (u->toks[i].kind == TOK_IDENT || tok_punct(u, i, "*"))
        i++;
    if (!tok_punct(u, i, "(") || i - 1 <= co->type_lo || !is_ident(u, i - 1))
        fail(u, keyword, "expected a function after 'coroutine': `coroutine T name(parameters) "
                         "{ ... }`, where T is a type name (a typedef for anything fancier)");
    co->name = i - 1;
    if (tok_is(u, co->name, "coroutine"))
        fail(u, co->name, "a coroutine cannot be named 'coroutine'");
    if (tok_in(u, co->name, reserved_names))
        fail(u, co->name, "the name '%.*s' is used by the code corofy generates; "
                          "rename this coroutine", u->toks[co->name].len, u->text + u->toks[co->name].start);
    co->type_hi = co->name;
    for (int k = co->type_lo; k < co->type_hi; k++)
        if (tok_in(u, k, storage_keywords))
            fail(u, k, "put '%.*s' before the return type", u->toks[k].len,
                 u->text + u->toks[k].start);
    co->returns_void = co->type_hi == co->type_lo + 1 && tok_is(u, co->type_lo, "void");
    co->lparen = i;
    co->rparen = u->toks[i].match;
    no_directive_in(u, co->first, co->rparen, "the header of a coroutine");
    check_declaration_tokens(u, co->lparen + 1, co->rparen);
    parse_params(u, co);

    const struct token *name = &u->toks[co->name];
    int after = co->rparen + 1;
    if (tok_punct(u, after, ";")) {
        co->last = after;
    } else if (tok_punct(u, after, "{")) {
        struct parser p = {.u = u, .co = co, .first_goto = -1};
        co->is_definition = true;
        co->last = u->toks[after].match;
        co->body = parse_block(&p, after);
        if (p.first_goto >= 0 && co->nwaits > 0)
            fail(u, p.first_goto, "'goto' in a coroutine with wait points is not supported: "
                                  "a jump could enter or leave a wait point behind corofy's "
                                  "back (use loops, if/else, break or return)");
    } else {
        fail(u, after, "expected '{' or ';' after the parameters of coroutine '%.*s'",
             name->len, u->text + name->start);
    }

    if (u->coroutines == NULL) {
        u->coroutines = co;
    } else {
        struct coroutine *last = u->coroutines;
        while (last->next != NULL)
            last = last->next;
        last->next = co;
    }
    u->ncoroutines++;
    return co->last;
}

/* A struct/union/enum tag (`struct waker`) or a member reached through `.`
 * or `->` lives in its own name space: generated code cannot shadow it. */
static bool is_tag_or_member(const struct unit *u, int i)
{
    return i > 0 && (tok_is(u, i - 1, "struct") || tok_is(u, i - 1, "union") ||
                     tok_is(u, i - 1, "enum") || tok_is(u, i - 1, ".") || tok_is(u, i - 1, "->"));
}

void parse(struct unit *u)
{
    int eof = u->ntoks - 1, reserved = -1;

    collect_typedefs(u);
    for (int i = 0; i < eof; i++) {
        if (u->toks[i].kind == TOK_IDENT && tok_is(u, i, "coroutine"))
            i = parse_coroutine(u, i);
        else if (is_opener(u, i))
            i = u->toks[i].match;
        else if (reserved < 0 && u->toks[i].kind == TOK_IDENT && tok_in(u, i, reserved_names) &&
                 !is_tag_or_member(u, i))
            reserved = i;
    }

    /* Every wait must be inside a coroutine's body. */
    const struct coroutine *co = u->coroutines;
    for (int i = 0; i < eof; i++) {
        while (co != NULL && co->last < i)
            co = co->next;
        bool in_body = co != NULL && co->is_definition && i > co->rparen && i < co->last;
        if (!in_body && tok_is_wait(u, i))
            fail(u, i, "'.wait' outside a coroutine: only a function marked `coroutine` can "
                       "wait (a struct member named 'wait' must be reached through '->')");
    }
    if (reserved >= 0 && u->ncoroutines > 0)
        fail(u, reserved, "the name '%.*s' is used by the code corofy generates; a file-scope "
                          "declaration of it would be shadowed there (rename it)",
             u->toks[reserved].len, u->text + u->toks[reserved].start);
}
