/* parse.c: finds the `coroutine` functions in a token stream and parses each
 * body into statements (struct stmt, unit.h). Only what corofy must
 * understand is parsed: statements, declarations, and the expressions that
 * hold a `.wait` (expr.c parses those); every other expression stays a range
 * of tokens. What the dialect cannot express is refused here, with the
 * reason and a way out. Part of corofy/, the coroutine preprocessor of
 * ch04-coroutines and ch05-runtime. */
#include <stddef.h>
#include <string.h>

#include "unit.h"

/* Statements nested deeper than this are refused (bounded recursion). */
#define MAX_STATEMENT_DEPTH 1000

struct parser {
    struct unit *u;
    struct coroutine *co;
    struct loop *loop; /* the innermost loop around the current statement, or NULL */
    int switches;      /* the coroutine's own switch statements around it */
    int depth;         /* nesting, to bound the recursion */
};

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

static const char *const type_keywords[] = {
    "void",   "char",     "short", "int",      "long",       "float", "double",
    "signed", "unsigned", "_Bool", "_Complex", "_Imaginary", NULL,
};
static const char *const qualifier_keywords[] = {
    "const",        "volatile", "restrict",     "_Atomic", "__restrict",
    "__restrict__", "__const",  "__volatile__", NULL,
};
static const char *const storage_keywords[] = {
    "static",    "extern",   "auto",       "register", "_Thread_local", "typedef", "inline",
    "_Noreturn", "__inline", "__inline__", NULL,
};
static const char *const group_keywords[] = {/* followed by a parenthesised group */
                                             "__attribute__", "__attribute", "_Alignas",
                                             "__asm__",       "asm",         NULL};
static const char *const typeof_keywords[] = {"typeof", "__typeof__", "__typeof", NULL};
static const char *const tag_keywords[] = {"struct", "union", "enum", NULL};

/* Type names every C programmer uses without declaring them in the file. */
static const char *const builtin_typedefs[] = {
    "size_t",   "ssize_t", "ptrdiff_t",    "intptr_t",  "uintptr_t",   "intmax_t", "uintmax_t",
    "int8_t",   "int16_t", "int32_t",      "int64_t",   "uint8_t",     "uint16_t", "uint32_t",
    "uint64_t", "wchar_t", "FILE",         "bool",      "off_t",       "pid_t",    "time_t",
    "clock_t",  "va_list", "sig_atomic_t", "socklen_t", "max_align_t", NULL,
};

bool is_typedef_name(const struct unit *u, int i)
{
    if (!tok_is_ident(u, i))
        return false;
    if (tok_in(u, i, builtin_typedefs))
        return true;
    int len;
    const char *s = tok_text(u, i, &len);
    return table_get(&u->typedefs, s, len) >= 0;
}

/* Step over the declaration specifiers starting at i (`static const struct
 * point`, `unsigned long`, `size_t`); returns the first declarator token. */
int skip_specifiers(const struct unit *u, int i, int hi)
{
    bool have_type = false;
    while (i < hi && u->toks[i].kind == TOK_IDENT) {
        if (tok_in(u, i, tag_keywords)) {
            i++;
            if (i < hi && tok_is_ident(u, i))
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
            have_type = true; /* a typedef name */
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
            if (i > lo &&
                (tok_is_ident(u, i - 1) || tok_punct(u, i - 1, ")") || tok_punct(u, i - 1, "]")))
                i = u->toks[i].match;
        } else if (tok_punct(u, i, "[")) {
            i = u->toks[i].match;
        }
    }
    return -1;
}

/* Is the parenthesised group at `open` a type name, as in a cast `(int *)`? */
bool is_type_name_group(const struct unit *u, int open)
{
    int close = u->toks[open].match;
    if (close == open + 1)
        return false;
    for (int i = open + 1; i < close; i++) {
        if (tok_punct(u, i, "*") || tok_in(u, i, type_keywords) ||
            tok_in(u, i, qualifier_keywords) || tok_in(u, i, tag_keywords) || is_typedef_name(u, i))
            continue;
        if (tok_is_ident(u, i) && i > open + 1 && tok_in(u, i - 1, tag_keywords))
            continue;
        return false;
    }
    return true;
}

/* ===== Typedef names ===== */

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
            int name = declarator_name(u, a, b), len;
            if (name >= 0) {
                const char *s = tok_text(u, name, &len);
                table_set(u, &u->typedefs, s, len, 1);
            }
            a = b + 1;
        }
        i = end;
    }
}

/* ===== Checks shared by the statements ===== */

static struct stmt *new_stmt(struct parser *p, enum stmt_kind kind, int lo)
{
    bool small = stmt_is_small(kind);
    struct stmt *s = arena_alloc(p->u, small ? offsetof(struct stmt, head) : sizeof *s);
    s->kind = (unsigned char) kind;
    s->lo = lo;
    if (!small)
        s->head = s->else_tok = -1;
    return s;
}

static void no_wait_in(struct unit *u, int lo, int hi, const char *where, const char *why)
{
    int w = find_wait(u, lo, hi);
    if (w >= 0)
        fail(u, w, "a wait cannot be part of %s: %s", where, why);
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
        int len;
        const char *s = tok_text(u, i, &len);
        if (u->toks[i].kind == TOK_IDENT && tok_punct(u, i + 1, "(") &&
            (tok_in(u, i, group_keywords) || tok_in(u, i, typeof_keywords) ||
             tok_is(u, i, "_Atomic"))) {
            i = u->toks[i + 1].match;
        } else if (tok_punct(u, i, "[")) {
            i = u->toks[i].match;
        } else if (u->toks[i].kind != TOK_IDENT && !tok_punct(u, i, "*") && !tok_punct(u, i, "(") &&
                   !tok_punct(u, i, ")") && !tok_punct(u, i, ",") && !tok_punct(u, i, "...")) {
            fail(u, i, "unexpected '%.*s' in a declaration", len > 40 ? 40 : len, s);
        }
    }
}

/* The '(' that must follow the keyword at `keyword`. */
static int expect_paren(struct parser *p, int keyword)
{
    int len;
    const char *s = tok_text(p->u, keyword, &len);
    if (!tok_punct(p->u, keyword + 1, "("))
        fail(p->u, keyword + 1, "expected '(' after '%.*s'", len, s);
    return keyword + 1;
}

static int expect_semicolon(struct parser *p, int lo, int hi)
{
    int semi = find_punct(p->u, lo, hi, ";");
    if (semi < 0)
        fail(p->u, lo, "expected ';' at the end of this statement");
    return semi;
}

/* The expression [lo, hi), if a wait is inside (else NULL): its tree is
 * parsed to check it, and to add its wait points to the coroutine's, with
 * the statement's text [show_lo, show_hi) for their comments. */
static struct wexpr *wait_expression(struct parser *p, int lo, int hi, int show_lo, int show_hi,
                                     bool initializer)
{
    if (find_wait(p->u, lo, hi) < 0)
        return NULL;
    struct wexpr *w = arena_alloc(p->u, sizeof *w);
    struct wait_point where = {
        .stmt_lo = show_lo, .stmt_hi = show_hi, .in_switch = p->switches > 0};
    struct arena_mark mark = scratch_mark(p->u);
    *w = (struct wexpr){lo, hi, initializer};
    wait_tree(p->u, p->co, w, &where);
    scratch_release(p->u, mark);
    return w;
}

/* A statement (or header) whose text holds one wait, the last one parsed
 * since there were `before`: its comment can show the statement itself. */
static void mark_alone(struct parser *p, int before)
{
    if (p->co->nwaits == before + 1)
        p->co->waits[before].alone = true;
}

/* ===== Declarations ===== */

static const char *const declaration_keywords[] = {
    "void",          "char",         "short",     "int",        "long",       "float",
    "double",        "signed",       "unsigned",  "_Bool",      "_Complex",   "_Imaginary",
    "struct",        "union",        "enum",      "const",      "volatile",   "restrict",
    "_Atomic",       "static",       "extern",    "auto",       "register",   "_Thread_local",
    "typedef",       "inline",       "_Noreturn", "__inline",   "__inline__", "_Alignas",
    "__attribute__", "__attribute",  "typeof",    "__typeof__", "__typeof",   "__restrict",
    "__const",       "__volatile__", NULL,
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
    if (is_typedef_name(u, lo) && (tok_is_ident(u, next) || tok_punct(u, next, "*") ||
                                   tok_punct(u, next, "(") || tok_in(u, next, qualifier_keywords)))
        return true;
    if (tok_is_ident(u, next) || tok_in(u, next, qualifier_keywords))
        return true;
    int j = next, stars = 0;
    while (j < hi && (tok_punct(u, j, "*") || tok_in(u, j, qualifier_keywords)))
        stars += tok_punct(u, j++, "*");
    if (stars == 0 || j >= hi || !tok_is_ident(u, j))
        return false;
    return j + 1 == hi || tok_punct(u, j + 1, "=") || tok_punct(u, j + 1, ";") ||
           tok_punct(u, j + 1, ",") || tok_punct(u, j + 1, "[");
}

/* The student's note right after token `tok`, on the same line (a comment
 * on a declaration or a wait): the comment's index, or -1. A // comment
 * that continues onto the next line (a backslash at its end) is no note. */
int trailing_comment(const struct unit *u, int tok)
{
    int after = u->toks[tok].end, c = first_comment_at(u, after);
    if (c >= u->ncomments || u->comments[c].start >= u->toks[tok + 1].start)
        return -1;
    const struct span *sp = &u->comments[c];
    for (int k = after; k < sp->end; k++)
        if (u->text[k] == '\n')
            return -1;
    for (int k = after; k < sp->start; k++)
        if (u->text[k] != ' ' && u->text[k] != '\t')
            return -1;
    return c;
}

/* The specifiers of a declaration at [lo, spec_end): what they may not hold. */
static void check_specifiers(struct unit *u, struct decl *d, int lo, int spec_end)
{
    for (int i = lo; i < spec_end; i++) {
        if (tok_is(u, i, "typedef"))
            fail(u, i,
                 "a typedef inside a coroutine is not supported: the frame struct is "
                 "declared outside the function, so move the typedef to file scope");
        if (tok_is(u, i, "static") || tok_is(u, i, "extern") || tok_is(u, i, "_Thread_local"))
            d->is_static = true;
        if (tok_in(u, i, tag_keywords)) {
            int t = i + 1 < spec_end && tok_is_ident(u, i + 1) ? i + 2 : i + 1, len;
            const char *s = tok_text(u, i, &len);
            if (t < spec_end && tok_punct(u, t, "{"))
                fail(u, i,
                     "a %.*s definition inside a coroutine is not supported: the frame "
                     "struct is declared outside the function, so move it to file scope",
                     len, s);
        }
    }
    no_directive_in(u, lo, spec_end, "a declaration in a coroutine");
    check_declaration_tokens(u, lo, spec_end);
    no_wait_in(u, lo, spec_end, "a type",
               "a type is not evaluated, so there is nothing to wait for");
}

/* One declarator [a, b) of declaration d: `name`, `*name[3] = {...}`. */
static void parse_declarator(struct parser *p, struct decl *d, struct declarator *dl, int a, int b,
                             int lo, int end)
{
    struct unit *u = p->u;
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
    no_wait_in(p->u, a, dl->hi, "a declarator (the size of an array, say)",
               "a frame field needs a size known before the coroutine starts");
    if (find_wait(u, dl->init_lo, dl->init_hi) >= 0) {
        if (d->is_static)
            fail(u, find_wait(u, dl->init_lo, dl->init_hi),
                 "a static local cannot be initialised by a wait (its initialiser must be a "
                 "constant)");
        dl->init = wait_expression(p, dl->init_lo, dl->init_hi, lo, end + 1, true);
    }
}

/* A declaration [lo, end), `end` being its ';' (or the first ';' of a for header). */
static struct decl *parse_decl(struct parser *p, int lo, int end)
{
    struct unit *u = p->u;
    struct decl *d = arena_alloc(u, sizeof *d);
    int spec_end = skip_specifiers(u, lo, end), count = 1;

    d->trailing_comment = -1;
    d->spec_lo = lo;
    d->spec_hi = spec_end;
    check_specifiers(u, d, lo, spec_end);
    for (int a = spec_end; (a = find_punct(u, a, end, ",")) >= 0; a++)
        count++;
    d->items = arena_alloc(u, sizeof *d->items * (size_t) count);
    for (int a = spec_end; a < end;) {
        int b = find_punct(u, a, end, ",");
        if (b < 0)
            b = end;
        parse_declarator(p, d, &d->items[d->count++], a, b, lo, end);
        a = b + 1;
    }
    return d;
}

static bool decl_has_wait(const struct decl *d)
{
    for (int k = 0; k < d->count; k++)
        if (d->items[k].init != NULL)
            return true;
    return false;
}

/* ===== Statements ===== */

static struct stmt *parse_stmt(struct parser *p, int *i, int hi, const char *context);

/* A block `{ items }` whose '{' is at lbrace. */
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
        } else if (tok_punct(u, i, ";")) { /* empty statements: one item for a run of them */
            item = new_stmt(p, STMT_SIMPLE, i);
            while (i < rbrace && tok_punct(u, i, ";"))
                i++;
            item->hi = i;
        } else if (looks_like_declaration(u, i, rbrace)) {
            int semi = expect_semicolon(p, i, rbrace), before = p->co->nwaits;
            item = new_stmt(p, STMT_DECL, i);
            item->decl = parse_decl(p, i, semi);
            mark_alone(p, before);
            item->has_wait = decl_has_wait(item->decl);
            item->decl->trailing_comment = trailing_comment(u, semi);
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

/* An expression statement [lo, semi]; one without a wait is copied as it is. */
static struct stmt *parse_expression_stmt(struct parser *p, int lo, int semi)
{
    struct stmt *s = new_stmt(p, find_wait(p->u, lo, semi) < 0 ? STMT_SIMPLE : STMT_EXPR, lo);
    int before = p->co->nwaits;
    if (s->kind == STMT_SIMPLE) {
        s->hi = semi + 1;
        return s;
    }
    s->hi = semi + 1;
    s->expr = wait_expression(p, lo, semi, lo, semi + 1, false);
    mark_alone(p, before);
    s->has_wait = s->expr != NULL;
    return s;
}

/* `return [expression];` */
static struct stmt *parse_return(struct parser *p, int lo, int hi)
{
    struct unit *u = p->u;
    struct coroutine *co = p->co;
    int semi = expect_semicolon(p, lo + 1, hi), len, before = co->nwaits;
    struct stmt *s = new_stmt(p, STMT_RETURN, lo);
    const char *name = tok_text(u, co->name, &len);

    s->hi = semi + 1;
    if (co->returns_void && semi > lo + 1 && find_wait(u, lo + 1, semi) < 0)
        fail(u, lo, "'return' with a value in coroutine '%.*s', which produces nothing (void)", len,
             name);
    if (!co->returns_void && semi == lo + 1)
        fail(u, lo, "'return' without a value in coroutine '%.*s', which produces a value", len,
             name);
    s->expr = wait_expression(p, lo + 1, semi, lo, semi + 1, false);
    s->has_wait = s->expr != NULL;
    mark_alone(p, before);
    return s;
}

/* The header `keyword (...)` of an if, while, do-while or switch: its '('
 * goes to s->head and its expression, when it waits, to s->expr. */
static void parse_head(struct parser *p, struct stmt *s, int keyword)
{
    int head = expect_paren(p, keyword), close = p->u->toks[head].match, before = p->co->nwaits;
    if (close == head + 1)
        fail(p->u, close, "expected an expression before ')'");
    s->head = head;
    s->expr = wait_expression(p, head + 1, close, keyword, close + 1, false);
    s->has_wait = s->expr != NULL;
    mark_alone(p, before);
}

/* The body of loop statement s, parsed with s as the innermost loop. */
static struct stmt *parse_loop_body(struct parser *p, struct stmt *s, int *i, int hi,
                                    const char *context)
{
    struct loop *outer = p->loop;
    if (s->loop == NULL)
        s->loop = arena_alloc(p->u, sizeof *s->loop);
    s->loop->keyword = s->lo;
    p->loop = s->loop;
    struct stmt *body = parse_stmt(p, i, hi, context);
    p->loop = outer;
    s->has_wait |= body->has_wait;
    return body;
}

static struct stmt *parse_if(struct parser *p, int lo, int *i, int hi)
{
    struct unit *u = p->u;
    struct stmt *s = new_stmt(p, STMT_IF, lo);

    parse_head(p, s, lo);
    *i = u->toks[s->head].match + 1;
    s->body = parse_stmt(p, i, hi, "'if'");
    s->has_wait |= s->body->has_wait;
    if (*i < hi && tok_is(u, *i, "else")) {
        s->else_tok = (*i)++;
        s->else_body = parse_stmt(p, i, hi, "'else'");
        s->has_wait |= s->else_body->has_wait;
    }
    return s;
}

static struct stmt *parse_while(struct parser *p, int lo, int *i, int hi)
{
    struct stmt *s = new_stmt(p, STMT_WHILE, lo);
    parse_head(p, s, lo);
    *i = p->u->toks[s->head].match + 1;
    s->body = parse_loop_body(p, s, i, hi, "'while'");
    return s;
}

static struct stmt *parse_do(struct parser *p, int lo, int *i, int hi)
{
    struct unit *u = p->u;
    struct stmt *s = new_stmt(p, STMT_DO, lo);

    *i = lo + 1;
    s->body = parse_loop_body(p, s, i, hi, "'do'");
    if (*i >= hi || !tok_is(u, *i, "while"))
        fail(u, *i, "expected 'while' after the body of 'do'");
    s->else_tok = *i;
    bool body_waits = s->has_wait;
    parse_head(p, s, *i);
    s->has_wait |= body_waits;
    *i = u->toks[s->head].match + 1;
    if (*i >= hi || !tok_punct(u, *i, ";"))
        fail(u, *i, "expected ';' after 'do ... while (...)'");
    (*i)++;
    /* A continue must reach the condition, which now comes after a label. */
    s->loop->continue_label = s->expr != NULL;
    return s;
}

/* `for (init; cond; step) body`. The init part may declare; each part may wait. */
static struct stmt *parse_for(struct parser *p, int lo, int *i, int hi)
{
    struct unit *u = p->u;
    struct stmt *s = new_stmt(p, STMT_FOR, lo);
    int head = expect_paren(p, lo), rparen = u->toks[head].match;
    int semi1 = find_punct(u, head + 1, rparen, ";");
    int semi2 = semi1 < 0 ? -1 : find_punct(u, semi1 + 1, rparen, ";"), before = p->co->nwaits;
    struct loop *l = s->loop = arena_alloc(u, sizeof *l);

    if (semi2 < 0)
        fail(u, head, "expected 'for (init; condition; step)'");
    s->head = head;
    *l = (struct loop){.keyword = lo,
                       .init_lo = head + 1,
                       .init_hi = semi1,
                       .cond_lo = semi1 + 1,
                       .cond_hi = semi2,
                       .step_lo = semi2 + 1,
                       .step_hi = rparen};
    if (looks_like_declaration(u, l->init_lo, l->init_hi))
        s->decl = parse_decl(p, l->init_lo, l->init_hi);
    else
        l->init = wait_expression(p, l->init_lo, l->init_hi, lo, rparen + 1, false);
    s->expr = wait_expression(p, l->cond_lo, l->cond_hi, lo, rparen + 1, false);
    l->step = wait_expression(p, l->step_lo, l->step_hi, lo, rparen + 1, false);
    s->has_wait = l->init != NULL || s->expr != NULL || l->step != NULL ||
                  (s->decl != NULL && decl_has_wait(s->decl));
    mark_alone(p, before);
    l->continue_label = l->step != NULL; /* continue must reach the step, after a label */
    *i = rparen + 1;
    s->body = parse_loop_body(p, s, i, hi, "'for'");
    return s;
}

static struct stmt *parse_switch(struct parser *p, int lo, int *i, int hi)
{
    struct stmt *s = new_stmt(p, STMT_SWITCH, lo);
    parse_head(p, s, lo);
    *i = p->u->toks[s->head].match + 1;
    p->switches++;
    s->body = parse_stmt(p, i, hi, "'switch'");
    p->switches--;
    s->has_wait |= s->body->has_wait;
    return s;
}

/* `case X:` or `default:`, or a label `name:`; then the statement it labels. */
static struct stmt *parse_label(struct parser *p, int lo, int *i, int hi)
{
    struct unit *u = p->u;
    struct stmt *s = new_stmt(p, STMT_LABEL, lo);
    int colon = lo + 1;

    if (tok_is(u, lo, "case") || tok_is(u, lo, "default")) {
        if (p->switches == 0)
            fail(u, lo,
                 "'%s' outside a switch statement: in a coroutine it would become a "
                 "label of corofy's own switch",
                 tok_is(u, lo, "case") ? "case" : "default");
        colon = find_punct(u, lo + 1, hi, ":");
        if (colon < 0 || (tok_is(u, lo, "default") && colon != lo + 1))
            fail(u, lo, "expected ':' after this label");
        no_wait_in(p->u, lo, colon, "a 'case' label", "a label must be a constant");
    }
    s->else_tok = *i = colon + 1;
    if (*i < hi) {
        s->body = parse_stmt(p, i, hi, NULL);
        s->has_wait = s->body->has_wait;
    }
    return s;
}

/* break, continue, goto, _Static_assert, ';': up to the ';', no wait inside. */
static struct stmt *parse_simple(struct parser *p, int lo, int hi)
{
    struct unit *u = p->u;
    bool is_break = tok_is(u, lo, "break"), is_continue = tok_is(u, lo, "continue");
    struct stmt *s = new_stmt(p, is_continue ? STMT_CONTINUE : STMT_SIMPLE, lo);
    int semi = expect_semicolon(p, lo, hi);

    if ((is_break || is_continue) && p->loop == NULL && (!is_break || p->switches == 0))
        fail(u, lo, "'%s' outside a loop%s: in a coroutine it would leave corofy's own switch",
             is_break ? "break" : "continue", is_break ? " or switch" : "");
    no_wait_in(p->u, lo, semi,
               tok_is(u, lo, "_Static_assert") ? "a _Static_assert" : "this statement",
               "it is not evaluated when the coroutine runs");
    if (is_continue) { /* only a continue has the field (a small statement has not) */
        s->loop = p->loop;
        p->loop->has_continue = true;
    }
    s->declaration_like = tok_is(u, lo, "_Static_assert");
    s->hi = semi + 1;
    return s;
}

/* Refuse what cannot start a statement in a place that takes exactly one. */
static void check_statement_start(struct parser *p, int lo, int hi, const char *context)
{
    struct unit *u = p->u;
    int len;
    const char *s = tok_text(u, lo, &len);

    if (lo >= hi)
        fail(u, lo, "expected a statement before '%.*s'", len, s);
    if (context != NULL && u->toks[lo].kind == TOK_DIRECTIVE)
        fail(u, lo,
             "a preprocessor line cannot be the body of %s in a coroutine: put the body in braces",
             context);
    if (context != NULL && looks_like_declaration(u, lo, hi))
        fail(u, lo, "a declaration cannot be the body of %s: put the body in braces", context);
    if (tok_is(u, lo, "else"))
        fail(u, lo, "'else' without an 'if' before it");
}

/* A statement in a place that takes exactly one (a body, or a block item
 * that is not a declaration), starting at *i; *i ends up after it.
 * `context` names the construct whose body it is, or is NULL for a block
 * item. */
static struct stmt *parse_stmt(struct parser *p, int *i, int hi, const char *context)
{
    struct unit *u = p->u;
    int lo = *i;
    struct stmt *s;

    check_statement_start(p, lo, hi, context);
    if (++p->depth > MAX_STATEMENT_DEPTH)
        fail(u, lo, "statements nested more than %d deep; corofy does not go deeper",
             MAX_STATEMENT_DEPTH);
    if (tok_punct(u, lo, "{")) {
        s = parse_block(p, lo);
        *i = s->hi;
    } else if (tok_is(u, lo, "if")) {
        s = parse_if(p, lo, i, hi);
    } else if (tok_is(u, lo, "while")) {
        s = parse_while(p, lo, i, hi);
    } else if (tok_is(u, lo, "do")) {
        s = parse_do(p, lo, i, hi);
    } else if (tok_is(u, lo, "for")) {
        s = parse_for(p, lo, i, hi);
    } else if (tok_is(u, lo, "switch")) {
        s = parse_switch(p, lo, i, hi);
    } else if (tok_is(u, lo, "case") || tok_is(u, lo, "default") ||
               (tok_is_ident(u, lo) && tok_punct(u, lo + 1, ":"))) {
        s = parse_label(p, lo, i, hi);
    } else if (tok_is(u, lo, "return")) {
        s = parse_return(p, lo, hi);
        *i = s->hi;
    } else if (tok_punct(u, lo, ";") || tok_is(u, lo, "break") || tok_is(u, lo, "continue") ||
               tok_is(u, lo, "goto") || tok_is(u, lo, "_Static_assert")) {
        s = parse_simple(p, lo, hi);
        *i = s->hi;
    } else {
        s = parse_expression_stmt(p, lo, expect_semicolon(p, lo, hi));
        *i = s->hi;
    }
    p->depth--;
    return s;
}

/* ===== Coroutines ===== */

static const char *const function_storage[] = {
    "static", "extern", "inline", "_Noreturn", "__inline", "__inline__", NULL,
};

static void add_param(struct unit *u, struct coroutine *co, int *cap, int a, int b, int pname)
{
    if (co->nparams == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        co->params = arena_grow(u, co->params, sizeof *co->params * (size_t) co->nparams,
                                sizeof *co->params * (size_t) *cap);
    }
    co->params[co->nparams++] = (struct param){.lo = a, .hi = b, .name = pname};
}

static void parse_params(struct unit *u, struct coroutine *co)
{
    int lo = co->lparen + 1, hi = co->rparen, len, cap = 0;
    const char *name = tok_text(u, co->name, &len);

    if (lo == hi || (hi == lo + 1 && tok_is(u, lo, "void")))
        return;
    for (int a = lo; a <= hi;) {
        int b = find_punct(u, a, hi, ",");
        if (b < 0)
            b = hi;
        if (a == b)
            fail(u, a, "expected a parameter");
        if (tok_punct(u, a, "..."))
            fail(u, a,
                 "coroutine '%.*s' cannot take a variable number of arguments: its "
                 "frame needs one field per parameter",
                 len, name);
        int pname = declarator_name(u, skip_specifiers(u, a, b), b);
        if (pname < 0)
            fail(u, a, "parameter %d of coroutine '%.*s' needs a name: its frame keeps a copy",
                 co->nparams + 1, len, name);
        if (tok_is(u, pname, "frame") || (u->init && tok_is(u, pname, "storage")))
            fail(u, pname,
                 "the name '%s' is used by the code corofy generates; "
                 "rename this parameter",
                 tok_is(u, pname, "frame") ? "frame" : "storage");
        add_param(u, co, &cap, a, b, pname);
        a = b + 1;
    }
}

/* The header `[static] coroutine T name(params)` at `keyword`: fills co
 * up to its parameters. */
static void parse_header(struct unit *u, struct coroutine *co, int keyword)
{
    int first = keyword, i = keyword + 1, len;

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
    if (!tok_punct(u, i, "(") || i - 1 <= co->type_lo || !tok_is_ident(u, i - 1))
        fail(u, keyword,
             "expected a function after 'coroutine': `coroutine T name(parameters) "
             "{ ... }`, where T is a type name (a typedef for anything fancier)");
    co->name = i - 1;
    const char *name = tok_text(u, co->name, &len);
    if (tok_is(u, co->name, "coroutine"))
        fail(u, co->name, "a coroutine cannot be named 'coroutine'");
    if (tok_in(u, co->name, reserved_names))
        fail(u, co->name,
             "the name '%.*s' is used by the code corofy generates; rename this "
             "coroutine",
             len, name);
    co->type_hi = co->name;
    for (int k = co->type_lo; k < co->type_hi; k++)
        if (tok_in(u, k, storage_keywords))
            fail(u, k, "put '%.*s' before the return type", u->toks[k].end - u->toks[k].start,
                 u->text + u->toks[k].start);
    co->returns_void = co->type_hi == co->type_lo + 1 && tok_is(u, co->type_lo, "void");
    co->lparen = i;
    co->rparen = u->toks[i].match;
    no_directive_in(u, co->first, co->rparen, "the header of a coroutine");
    check_declaration_tokens(u, co->lparen + 1, co->rparen);
    parse_params(u, co);
}

static void append_coroutine(struct unit *u, struct coroutine *co)
{
    int len;
    const char *name = tok_text(u, co->name, &len);
    if (u->ncoroutines == u->by_index_cap) {
        int cap = u->by_index_cap ? 2 * u->by_index_cap : 16;
        u->by_index = arena_grow(u, u->by_index, sizeof *u->by_index * (size_t) u->ncoroutines,
                                 sizeof *u->by_index * (size_t) cap);
        u->by_index_cap = cap;
    }
    if (u->ncoroutines > 0)
        u->by_index[u->ncoroutines - 1]->next = co;
    else
        u->coroutines = co;
    u->by_index[u->ncoroutines] = co;
    if (table_get(&u->coroutine_names, name, len) < 0)
        table_set(u, &u->coroutine_names, name, len, u->ncoroutines);
    u->ncoroutines++;
}

/* `coroutine` at `keyword`, at file scope: returns the coroutine's last token. */
static int parse_coroutine(struct unit *u, int keyword)
{
    struct coroutine *co = arena_alloc(u, sizeof *co);
    int len;

    parse_header(u, co, keyword);
    const char *name = tok_text(u, co->name, &len);
    int after = co->rparen + 1;
    if (tok_punct(u, after, ";")) {
        co->last = after;
    } else if (tok_punct(u, after, "{")) {
        struct parser p = {.u = u, .co = co};
        co->is_definition = true;
        co->last = u->toks[after].match;
        co->body = parse_block(&p, after);
    } else {
        fail(u, after, "expected '{' or ';' after the parameters of coroutine '%.*s'", len, name);
    }
    append_coroutine(u, co);
    return co->last;
}

/* ===== Names the file may not use ===== */

/* A struct/union/enum tag (`struct waker`) or a member reached through `.`
 * or `->` lives in its own name space: generated code cannot shadow it. */
static bool is_tag_or_member(const struct unit *u, int i)
{
    return i > 0 && (tok_is(u, i - 1, "struct") || tok_is(u, i - 1, "union") ||
                     tok_is(u, i - 1, "enum") || tok_is(u, i - 1, ".") || tok_is(u, i - 1, "->"));
}

/* The names the generated code gives each coroutine NAME: NAME_poll,
 * NAME_drop and struct NAME_frame, and with the init option NAME_init,
 * NAME_release and NAME_FRAME_SIZE. */
static void generated_names(struct unit *u, struct table *names)
{
    int index = 0;
    for (const struct coroutine *co = u->coroutines; co != NULL; co = co->next, index++) {
        int len;
        const char *name = tok_text(u, co->name, &len);
        const char *suffixes[] = {"_poll", "_drop", "_frame", "_init", "_release", NULL};
        for (int k = 0; suffixes[k] != NULL && (k < 3 || u->init); k++) {
            const char *full = arena_printf(u, "%.*s%s", len, name, suffixes[k]);
            table_set(u, names, full, (int) strlen(full), index);
        }
        if (u->init) {
            char *upper = arena_printf(u, "%.*s_FRAME_SIZE", len, name);
            for (char *c = upper; *c != '\0'; c++)
                if (*c >= 'a' && *c <= 'z')
                    *c = (char) (*c - 'a' + 'A');
            table_set(u, names, upper, (int) strlen(upper), index);
        }
    }
}

/* Is a generated name one only the generated code may use (NAME_poll,
 * NAME_drop, NAME_release), unlike NAME_init, struct NAME_frame and
 * NAME_FRAME_SIZE, which are there for the file to use? */
static bool generated_only(const char *name, int len)
{
    const char *suffixes[] = {"_poll", "_drop", "_release"};
    for (size_t k = 0; k < sizeof suffixes / sizeof suffixes[0]; k++) {
        int n = (int) strlen(suffixes[k]);
        if (len > n && memcmp(name + len - n, suffixes[k], (size_t) n) == 0)
            return true;
    }
    return false;
}

/* Does token i declare its name: `int x`, `*x`, `struct x {`? */
static bool declares(const struct unit *u, int i)
{
    if (i == 0)
        return false;
    if (tok_in(u, i - 1, tag_keywords))
        return tok_punct(u, i + 1, "{");
    return (u->toks[i - 1].kind == TOK_IDENT && !tok_is(u, i - 1, "return")) ||
           tok_punct(u, i - 1, "*");
}

/* At file scope (outside every bracket), the file may not declare a name
 * the generated code declares: a reserved one (self, frame, ...), or one
 * made from a coroutine's name (job_poll next to `coroutine int job`). */
static void check_names(struct unit *u)
{
    struct table generated = {0};
    int eof = u->ntoks - 1, len, co_len;

    generated_names(u, &generated);
    for (int i = 0; i < eof; i++) {
        if (is_opener(u, i))
            i = u->toks[i].match;
        if (u->toks[i].kind != TOK_IDENT || is_tag_or_member(u, i))
            continue;
        const char *name = tok_text(u, i, &len);
        int owner = table_get(&generated, name, len);
        if (owner >= 0 && declares(u, i)) {
            const char *co_name = tok_text(u, u->by_index[owner]->name, &co_len);
            fail(u, i,
                 "the name '%.*s' belongs to the code corofy generates for coroutine "
                 "'%.*s'; rename this one",
                 len, name, co_len, co_name);
        }
        if (tok_in(u, i, reserved_names) && (!tok_is(u, i, "storage") || u->init))
            fail(u, i,
                 "the name '%.*s' is used by the code corofy generates; a file-scope "
                 "declaration of it would be shadowed there (rename it)",
                 len, name);
    }
    /* Anywhere, even undeclared (C would take it for an implicitly declared
       function), a name of a function only the generated code calls would
       reach the generated one. */
    for (int i = 0; i < eof; i++) {
        if (u->toks[i].kind != TOK_IDENT || is_tag_or_member(u, i))
            continue;
        const char *name = tok_text(u, i, &len);
        int owner = table_get(&generated, name, len);
        if (owner >= 0 && generated_only(name, len)) {
            const char *co_name = tok_text(u, u->by_index[owner]->name, &co_len);
            fail(u, i,
                 "'%.*s' is a function corofy generates for coroutine '%.*s', for the "
                 "generated code alone; rename this one",
                 len, name, co_len, co_name);
        }
    }
}

void parse(struct unit *u)
{
    int eof = u->ntoks - 1;

    collect_typedefs(u);
    for (int i = 0; i < eof; i++) {
        if (u->toks[i].kind == TOK_IDENT && tok_is(u, i, "coroutine"))
            i = parse_coroutine(u, i);
        else if (is_opener(u, i))
            i = u->toks[i].match;
    }

    /* Every wait must be inside a coroutine's body. */
    const struct coroutine *co = u->coroutines;
    for (int i = 0; i < eof; i++) {
        while (co != NULL && co->last < i)
            co = co->next;
        bool in_body = co != NULL && co->is_definition && i > co->rparen && i < co->last;
        if (!in_body && tok_is_wait(u, i))
            fail(u, i,
                 "'.wait' outside a coroutine: only a function marked `coroutine` can "
                 "wait (a struct member named 'wait' must be reached through '->')");
    }
    if (u->ncoroutines > 0)
        check_names(u);
}
