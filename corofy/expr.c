/* expr.c: parses a C expression that holds a `.wait` into a tree (struct
 * expr, unit.h) for the lowering in lower.c: a precedence-climbing parser
 * over a range of tokens whose brackets the tokenizer already paired. A
 * part of the expression without a wait becomes one EXPR_PLAIN node, so the
 * tree is only as fine as the lowering needs. What C would not evaluate (the
 * operand of sizeof, the branches of _Generic) may not wait, and the value
 * of a wait is not an object (no &, no assignment to it): both are refused
 * here. Part of corofy/, the coroutine preprocessor of ch04 and ch05. */
#include <stdio.h>
#include <string.h>

#include "unit.h"

/* Expressions nested deeper than this are refused (bounded recursion). */
#define MAX_EXPRESSION_DEPTH 1000

struct eparser {
    struct unit *u;
    struct coroutine *co;
    int pos, hi;                     /* the next token, and the end of the range */
    const struct wait_point *adding; /* while parsing: the wait points' statement; else NULL */
    int depth;
    struct expr **spare; /* plain nodes no longer used, for plain() to take again */
    int nspare;
};

/* Room for spare nodes, shared by the parsers of one expression. */
#define MAX_SPARE 32

static struct expr *parse_comma(struct eparser *ep);
static struct expr *parse_assign(struct eparser *ep);
static struct expr *parse_cast(struct eparser *ep);
static struct expr *parse_braced(struct eparser *ep);

/* ===== Nodes ===== */

/* A node over [lo, hi). A node without a wait is plain: its kids are not
 * needed, and the left kid, plain itself, is reused for it. */
static struct expr *make(struct eparser *ep, enum expr_kind kind, int lo, int hi, int op,
                         struct expr **kids, int nkids)
{
    bool has_wait = kind == EXPR_WAIT;
    for (int k = 0; k < nkids; k++)
        has_wait |= kids[k]->has_wait;
    struct expr *e;
    if (!has_wait && nkids > 0 && kids[0]->kind == EXPR_PLAIN) {
        e = kids[0];
    } else {
        e = scratch_alloc(ep->u, sizeof *e);
        if (has_wait && nkids > 0) {
            e->kids = scratch_alloc(ep->u, sizeof *e->kids * (size_t) nkids);
            memcpy(e->kids, kids, sizeof *kids * (size_t) nkids);
            e->nkids = nkids;
        }
    }
    e->kind = (unsigned char) (has_wait ? kind : EXPR_PLAIN);
    e->lo = lo;
    e->hi = hi;
    e->op = op;
    e->has_wait = has_wait;
    if (!has_wait) {
        e->kids = NULL;
        e->nkids = 0;
        for (int k = 1; k < nkids && ep->nspare < MAX_SPARE; k++)
            if (kids[k] != e) /* merged into e: plain() may take it again */
                ep->spare[ep->nspare++] = kids[k];
    }
    return e;
}

static struct expr *plain(struct eparser *ep, int lo, int hi)
{
    if (ep->nspare > 0) {
        struct expr *e = ep->spare[--ep->nspare];
        *e = (struct expr){.kind = EXPR_PLAIN, .lo = lo, .hi = hi, .op = -1};
        return e;
    }
    return make(ep, EXPR_PLAIN, lo, hi, -1, NULL, 0);
}

/* ===== Tokens ===== */

/* Preprocessor lines are stepped over as if they were not there (see
 * check_directives for where they may be). */
static void skip_directives(struct eparser *ep)
{
    while (ep->pos < ep->hi && ep->u->toks[ep->pos].kind == TOK_DIRECTIVE)
        ep->pos++;
}

static bool at(struct eparser *ep, const char *p)
{
    skip_directives(ep);
    return ep->pos < ep->hi && tok_punct(ep->u, ep->pos, p);
}

static bool at_word(struct eparser *ep, const char *w)
{
    skip_directives(ep);
    return ep->pos < ep->hi && ep->u->toks[ep->pos].kind == TOK_IDENT && tok_is(ep->u, ep->pos, w);
}

static bool has_wait_in(const struct unit *u, int lo, int hi)
{
    for (int i = lo; i + 1 < hi; i++)
        if (tok_is_wait(u, i))
            return true;
    return false;
}

/* "before 'x'", or "at the end" when the range is used up. */
static _Noreturn void expected(struct eparser *ep, const char *what)
{
    skip_directives(ep);
    int len, tok = ep->pos < ep->hi ? ep->pos : ep->hi;
    const char *s = tok_text(ep->u, tok, &len);
    if (ep->u->toks[tok].kind == TOK_EOF)
        fail(ep->u, tok, "expected %s at the end of the file", what);
    fail(ep->u, tok, "expected %s before '%.*s'", what, len > 40 ? 40 : len, s);
}

/* [lo, hi) must hold no wait: `why` says what C does not evaluate there. */
static void refuse_wait(struct eparser *ep, int lo, int hi, const char *why)
{
    for (int i = lo; i + 1 < hi; i++)
        if (tok_is_wait(ep->u, i))
            fail(ep->u, i, "a wait inside %s", why);
}

static void enter(struct eparser *ep)
{
    if (++ep->depth > MAX_EXPRESSION_DEPTH)
        fail(ep->u, ep->pos < ep->hi ? ep->pos : ep->hi,
             "an expression nested more than %d deep; corofy does not go deeper",
             MAX_EXPRESSION_DEPTH);
}

/* The tree of [lo, hi) by `rule`, which must use up the whole range. */
static struct expr *sub(struct eparser *ep, int lo, int hi, struct expr *(*rule)(struct eparser *) )
{
    struct eparser inner = *ep;
    inner.pos = lo;
    inner.hi = hi;
    if (lo == hi)
        expected(&inner, "an expression");
    struct expr *e = rule(&inner);
    skip_directives(&inner);
    if (inner.pos < hi)
        expected(&inner, "')' or an operator");
    ep->nspare = inner.nspare; /* they share the spare nodes */
    return e;
}

/* ===== Waits ===== */

/* The value of a wait is not an object: it cannot be assigned to,
 * incremented, or have its address taken. */
static void refuse_wait_as_object(struct eparser *ep, const struct expr *e, const char *what)
{
    while (e->kind == EXPR_PAREN)
        e = e->kids[0];
    if (e->kind == EXPR_WAIT)
        fail(ep->u, e->op,
             "%s the value of a wait, which is not a variable (wait into a "
             "variable first)",
             what);
}

/* The number of the wait point whose '.' is token dot. While parsing,
 * it is a new one, added to co->waits; afterwards it is found there. */
static int wait_number(struct eparser *ep, int dot)
{
    struct unit *u = ep->u;
    struct coroutine *co = ep->co;
    if (ep->adding != NULL) {
        if (co->nwaits == co->waits_cap) {
            int cap = co->waits_cap ? 2 * co->waits_cap : 8;
            co->waits = arena_grow(u, co->waits, sizeof *co->waits * (size_t) co->nwaits,
                                   sizeof *co->waits * (size_t) cap);
            co->waits_cap = cap;
        }
        co->waits[co->nwaits] = *ep->adding;
        co->waits[co->nwaits].dot = dot;
        return ++co->nwaits;
    }
    int lo = 0, hi = co->nwaits; /* wait points are in source order */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (co->waits[mid].dot < dot)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == co->nwaits || co->waits[lo].dot != dot)
        fail(u, dot, "corofy lost track of this wait point (a bug in corofy)");
    return lo + 1;
}

/* `base.wait` at ep->pos (the '.'): a wait point. */
static struct expr *wait_point(struct eparser *ep, struct expr *base)
{
    int dot = ep->pos, number = wait_number(ep, dot);
    ep->pos += 2;
    struct expr *e = make(ep, EXPR_WAIT, base->lo, ep->pos, dot, &base, 1);
    e->wait = number;
    return e;
}

/* A list of kids with twice the room. */
static struct expr **more_kids(struct unit *u, struct expr **kids, int *cap)
{
    struct expr **more = scratch_alloc(u, sizeof *kids * (size_t) *cap * 2);
    memcpy(more, kids, sizeof *kids * (size_t) *cap);
    *cap *= 2;
    return more;
}

/* ===== Primary and postfix expressions ===== */

/* `f(args)` at ep->pos (the '('): when an argument waits, each argument
 * is a kid; else the arguments are just text after the function. */
static struct expr *call(struct eparser *ep, struct expr *callee)
{
    struct unit *u = ep->u;
    int open = ep->pos, close = u->toks[open].match, n = 1, cap = 8;

    if (!has_wait_in(u, open, close)) {
        ep->pos = close + 1;
        return make(ep, EXPR_CALL, callee->lo, ep->pos, open, &callee, 1);
    }
    struct expr **kids = scratch_alloc(u, sizeof *kids * (size_t) cap);

    kids[0] = callee;
    for (int a = open + 1; a < close;) {
        int b = a;
        while (b < close && !tok_punct(u, b, ","))
            b = u->toks[b].match > b ? u->toks[b].match + 1 : b + 1;
        if (n == cap)
            kids = more_kids(u, kids, &cap);
        /* An argument without a wait is not parsed: it may be a type, as in
         * va_arg(ap, int) or offsetof(struct s, m). */
        kids[n++] = has_wait_in(u, a, b) ? sub(ep, a, b, parse_assign) : plain(ep, a, b);
        a = b + 1;
    }
    ep->pos = close + 1;
    return make(ep, EXPR_CALL, callee->lo, ep->pos, open, kids, n);
}

/* The operators that may follow a primary expression. */
static struct expr *postfix(struct eparser *ep, struct expr *e)
{
    struct unit *u = ep->u;
    for (;;) {
        if (at(ep, "[")) {
            int open = ep->pos, close = u->toks[open].match;
            struct expr *kids[2] = {e, NULL};
            bool index_waits = has_wait_in(u, open, close);
            if (index_waits)
                kids[1] = sub(ep, open + 1, close, parse_comma);
            ep->pos = close + 1;
            e = make(ep, EXPR_OTHER, e->lo, ep->pos, open, kids, index_waits ? 2 : 1);
        } else if (at(ep, "(")) {
            e = call(ep, e);
        } else if (skip_directives(ep), ep->pos < ep->hi && tok_is_wait(u, ep->pos)) {
            e = wait_point(ep, e);
        } else if ((at(ep, ".") || at(ep, "->")) && ep->pos + 1 < ep->hi &&
                   u->toks[ep->pos + 1].kind == TOK_IDENT) {
            int op = ep->pos;
            ep->pos += 2;
            e = make(ep, EXPR_OTHER, e->lo, ep->pos, op, &e, 1);
        } else if (at(ep, "++") || at(ep, "--")) {
            refuse_wait_as_object(ep, e, at(ep, "++") ? "'++' changes" : "'--' changes");
            int op = ep->pos++;
            e = make(ep, EXPR_OTHER, e->lo, ep->pos, op, &e, 1);
        } else {
            return e;
        }
    }
}

/* `(T){ ... }` at ep->pos (the '('): a compound literal. */
static struct expr *compound_literal(struct eparser *ep)
{
    int open = ep->pos;
    ep->pos = ep->u->toks[open].match + 1;
    struct expr *list = parse_braced(ep);
    return make(ep, EXPR_OTHER, open, ep->pos, open, &list, 1);
}

static struct expr *primary(struct eparser *ep)
{
    struct unit *u = ep->u;
    skip_directives(ep);
    int lo = ep->pos;

    if (lo >= ep->hi)
        expected(ep, "an expression");
    if (tok_is_wait(u, lo))
        fail(u, lo, "expected an expression (the future to wait for) before '.wait'");
    enum token_kind kind = u->toks[lo].kind;
    if (kind == TOK_IDENT && !tok_keyword(u, lo)) {
        ep->pos++;
        return plain(ep, lo, ep->pos);
    }
    if (kind == TOK_NUMBER || kind == TOK_CHAR) {
        ep->pos++;
        return plain(ep, lo, ep->pos);
    }
    if (kind == TOK_STRING) {
        while (ep->pos < ep->hi && u->toks[ep->pos].kind == TOK_STRING)
            ep->pos++; /* "adjacent" "strings" */
        return plain(ep, lo, ep->pos);
    }
    if (at(ep, "(") && tok_punct(u, lo + 1, "{")) {
        ep->pos = u->toks[lo].match + 1;
        refuse_wait(ep, lo, ep->pos, "a statement expression ({ ... }) is not supported");
        return plain(ep, lo, ep->pos);
    }
    if (at(ep, "(")) {
        int close = u->toks[lo].match;
        struct expr *inner = sub(ep, lo + 1, close, parse_comma);
        ep->pos = close + 1;
        return make(ep, EXPR_PAREN, lo, ep->pos, lo, &inner, 1);
    }
    if (at_word(ep, "_Generic") && tok_punct(u, lo + 1, "(")) {
        ep->pos = u->toks[lo + 1].match + 1;
        refuse_wait(ep, lo, ep->pos,
                    "_Generic: only one of its branches is evaluated, and corofy cannot tell "
                    "which (wait before it, into a variable)");
        return plain(ep, lo, ep->pos);
    }
    if ((at_word(ep, "__builtin_va_arg") || at_word(ep, "__builtin_offsetof")) &&
        tok_punct(u, lo + 1, "(")) {
        ep->pos = u->toks[lo + 1].match + 1;
        refuse_wait(ep, lo, ep->pos, "a builtin that takes a type");
        return plain(ep, lo, ep->pos);
    }
    expected(ep, "an expression");
}

/* ===== Unary expressions and casts ===== */

/* `sizeof x`, `sizeof (T)`, `_Alignof (T)`: not evaluated, so no wait. */
static struct expr *size_or_alignment(struct eparser *ep)
{
    struct unit *u = ep->u;
    int lo = ep->pos++;
    const char *why = "sizeof or _Alignof, which does not evaluate its operand";

    if (at(ep, "(") && is_type_name_group(u, ep->pos) &&
        !tok_punct(u, u->toks[ep->pos].match + 1, "{")) {
        ep->pos = u->toks[ep->pos].match + 1;
        refuse_wait(ep, lo, ep->pos, why);
        return plain(ep, lo, ep->pos);
    }
    struct expr *operand = parse_cast(ep);
    refuse_wait(ep, lo, ep->pos, why);
    (void) operand;
    return plain(ep, lo, ep->pos);
}

static struct expr *parse_unary(struct eparser *ep)
{
    static const char *const prefix[] = {"++", "--", "&", "*", "+", "-", "~", "!", NULL};
    struct unit *u = ep->u;
    skip_directives(ep);
    int lo = ep->pos;

    if (lo < ep->hi && u->toks[lo].kind == TOK_PUNCT && tok_in(u, lo, prefix)) {
        enter(ep);
        ep->pos++;
        bool changes = at(ep, "++") || at(ep, "--");
        struct expr *operand =
            tok_punct(u, lo, "++") || tok_punct(u, lo, "--") ? parse_unary(ep) : parse_cast(ep);
        if (tok_punct(u, lo, "&"))
            refuse_wait_as_object(ep, operand, "'&' takes the address of");
        if (tok_punct(u, lo, "++") || tok_punct(u, lo, "--"))
            refuse_wait_as_object(ep, operand, "'++' or '--' changes");
        (void) changes;
        ep->depth--;
        return make(ep, EXPR_OTHER, lo, ep->pos, lo, &operand, 1);
    }
    if (at_word(ep, "sizeof") || at_word(ep, "_Alignof") || at_word(ep, "__alignof__"))
        return size_or_alignment(ep);
    if (at_word(ep, "__extension__")) {
        ep->pos++;
        struct expr *operand = parse_cast(ep);
        return make(ep, EXPR_OTHER, lo, ep->pos, lo, &operand, 1);
    }
    return postfix(ep, primary(ep));
}

/* Is `( name )` at open a cast to a type corofy does not know (a typedef
 * from a header)? Only when an operand follows: `(T) x`, `(T) 3`, `(T) "s"`;
 * `(x) - y` and `(f)(y)` stay expressions. */
static bool is_unknown_cast(const struct eparser *ep, int open)
{
    const struct unit *u = ep->u;
    int close = u->toks[open].match, next = close + 1;
    if (close != open + 2 || !tok_is_ident(u, open + 1) || next >= ep->hi)
        return false;
    enum token_kind kind = u->toks[next].kind;
    return (kind == TOK_IDENT && !tok_keyword(u, next)) || kind == TOK_NUMBER ||
           kind == TOK_STRING || kind == TOK_CHAR;
}

static struct expr *parse_cast(struct eparser *ep)
{
    struct unit *u = ep->u;
    skip_directives(ep);
    int lo = ep->pos;

    if (at(ep, "(") && (is_type_name_group(u, lo) || is_unknown_cast(ep, lo))) {
        int close = u->toks[lo].match;
        if (close + 1 < ep->hi && tok_punct(u, close + 1, "{"))
            return postfix(ep, compound_literal(ep));
        enter(ep);
        ep->pos = close + 1;
        struct expr *operand = parse_cast(ep);
        ep->depth--;
        return make(ep, EXPR_OTHER, lo, ep->pos, lo, &operand, 1);
    }
    return parse_unary(ep);
}

/* ===== Binary, conditional, assignment and comma expressions ===== */

static int precedence(struct eparser *ep)
{
    static const struct {
        const char *op;
        int level;
    } table[] = {
        {"||", 1}, {"&&", 2}, {"|", 3}, {"^", 4},  {"&", 5},  {"==", 6},
        {"!=", 6}, {"<", 7},  {">", 7}, {"<=", 7}, {">=", 7}, {"<<", 8},
        {">>", 8}, {"+", 9},  {"-", 9}, {"*", 10}, {"/", 10}, {"%", 10},
    };
    skip_directives(ep);
    if (ep->pos >= ep->hi || ep->u->toks[ep->pos].kind != TOK_PUNCT)
        return 0;
    for (size_t k = 0; k < sizeof table / sizeof table[0]; k++)
        if (tok_is(ep->u, ep->pos, table[k].op))
            return table[k].level;
    return 0;
}

/* Operators of `level` or tighter, left-associative. */
static struct expr *parse_binary(struct eparser *ep, int level)
{
    struct expr *left = parse_cast(ep);
    for (int p; (p = precedence(ep)) >= level;) {
        int op = ep->pos++;
        enter(ep);
        struct expr *right = parse_binary(ep, p + 1);
        ep->depth--;
        enum expr_kind kind = tok_is(ep->u, op, "&&")   ? EXPR_AND
                              : tok_is(ep->u, op, "||") ? EXPR_OR
                                                        : EXPR_OTHER;
        struct expr *kids[2] = {left, right};
        left = make(ep, kind, left->lo, ep->pos, op, kids, 2);
    }
    return left;
}

static struct expr *parse_conditional(struct eparser *ep)
{
    struct expr *c = parse_binary(ep, 1);
    if (!at(ep, "?"))
        return c;
    int op = ep->pos++;
    if (at(ep, ":"))
        refuse_wait(ep, c->lo, ep->pos + 1, "the GNU form `a ?: b` (write `a ? a : b`)");
    enter(ep);
    struct expr *kids[3] = {c, at(ep, ":") ? plain(ep, ep->pos, ep->pos) : parse_comma(ep)};
    if (!at(ep, ":"))
        expected(ep, "':'");
    ep->pos++;
    kids[2] = parse_conditional(ep);
    ep->depth--;
    return make(ep, EXPR_COND, c->lo, ep->pos, op, kids, 3);
}

static struct expr *parse_assign(struct eparser *ep)
{
    static const char *const assignments[] = {
        "=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=", NULL,
    };
    struct expr *left = parse_conditional(ep);
    skip_directives(ep);
    if (ep->pos >= ep->hi || ep->u->toks[ep->pos].kind != TOK_PUNCT ||
        !tok_in(ep->u, ep->pos, assignments))
        return left;
    refuse_wait_as_object(ep, left, "an assignment changes");
    int op = ep->pos++;
    enter(ep);
    struct expr *kids[2] = {left, parse_assign(ep)};
    ep->depth--;
    return make(ep, EXPR_ASSIGN, left->lo, ep->pos, op, kids, 2);
}

static struct expr *parse_comma(struct eparser *ep)
{
    struct expr *left = parse_assign(ep);
    while (at(ep, ",")) {
        int op = ep->pos++;
        struct expr *kids[2] = {left, parse_assign(ep)};
        left = make(ep, EXPR_COMMA, left->lo, ep->pos, op, kids, 2);
    }
    return left;
}

/* ===== Initialisers ===== */

/* One element of an initialiser list, after its designator if it has one
 * (`.x = `, `[2] = `): a list itself, or an expression. */
static struct expr *element(struct eparser *ep)
{
    struct unit *u = ep->u;
    int designator = ep->pos;
    while (at(ep, "[") || (at(ep, ".") && ep->pos + 1 < ep->hi &&
                           u->toks[ep->pos + 1].kind == TOK_IDENT && !tok_is_wait(u, ep->pos)))
        ep->pos = at(ep, "[") ? u->toks[ep->pos].match + 1 : ep->pos + 2;
    if (ep->pos > designator) {
        refuse_wait(ep, designator, ep->pos, "a designator, which must be a constant");
        if (!at(ep, "="))
            expected(ep, "'='");
        ep->pos++;
    }
    return at(ep, "{") ? parse_braced(ep) : parse_assign(ep);
}

/* `{ a, .b = c, { d } }` at ep->pos: its elements are its kids. */
static struct expr *parse_braced(struct eparser *ep)
{
    struct unit *u = ep->u;
    int open = ep->pos, close = u->toks[open].match, n = 0, cap = 8;
    struct expr **kids = scratch_alloc(u, sizeof *kids * (size_t) cap);
    struct eparser inner = *ep;

    if (!at(ep, "{"))
        expected(ep, "'{'");
    enter(ep);
    inner.pos = open + 1;
    inner.hi = close;
    inner.depth = ep->depth;
    while (skip_directives(&inner), inner.pos < close) {
        if (n == cap)
            kids = more_kids(u, kids, &cap);
        kids[n++] = element(&inner);
        if (inner.pos < close && !at(&inner, ","))
            expected(&inner, "',' or '}'");
        if (inner.pos < close)
            inner.pos++;
    }
    ep->depth--;
    ep->pos = close + 1;
    ep->nspare = inner.nspare; /* they share the spare nodes */
    return make(ep, EXPR_OTHER, open, ep->pos, open, kids, n);
}

/* ===== Preprocessor lines ===== */

/* The lowering moves the parts of an expression that waits, so a
 * preprocessor line may only sit where text is not moved apart: inside the
 * future of a wait, which is copied whole to where it is made, unless that
 * future waits itself (its parts are then moved apart like any other's).
 * Checks [lo, hi) of e, `inside` such a future or not. */
static void check_directives(struct eparser *ep, const struct expr *e, bool inside)
{
    struct unit *u = ep->u;
    if (inside)
        return;
    if (e->kind == EXPR_WAIT) {
        check_directives(ep, e->kids[0], !e->kids[0]->has_wait);
        return;
    }
    int pos = e->lo;
    for (int k = 0; k <= e->nkids; k++) {
        int end = k < e->nkids ? e->kids[k]->lo : e->hi;
        for (int i = pos; i < end; i++)
            if (u->toks[i].kind == TOK_DIRECTIVE)
                fail(u, i,
                     "a preprocessor line inside an expression that waits is only "
                     "supported inside the future it waits for, and only if that future "
                     "waits for nothing itself (corofy moves the other parts of such an "
                     "expression apart)");
        if (k < e->nkids) {
            check_directives(ep, e->kids[k], false);
            pos = e->kids[k]->hi;
        }
    }
}

/* ===== Entry points ===== */

/* The whole range must be one expression; what is left means a ';' (or the
 * ')' of a header) is missing. */
static void expect_end(struct eparser *ep)
{
    skip_directives(ep);
    if (ep->pos < ep->hi) {
        int len;
        const char *s = tok_text(ep->u, ep->hi, &len);
        char what[48];
        snprintf(what, sizeof what, "'%.*s'", len > 40 ? 40 : len, s);
        expected(ep, ep->u->toks[ep->hi].kind == TOK_EOF ? "';'" : what);
    }
}

struct expr *wait_tree(struct unit *u, struct coroutine *co, const struct wexpr *w,
                       const struct wait_point *adding)
{
    struct expr *spare[MAX_SPARE];
    struct eparser ep = {
        .u = u, .co = co, .pos = w->lo, .hi = w->hi, .adding = adding, .spare = spare};
    struct expr *e = !w->initializer ? parse_comma(&ep)
                     : at(&ep, "{")  ? parse_braced(&ep)
                                     : parse_assign(&ep);
    expect_end(&ep);
    check_directives(&ep, e, false);
    return e;
}
