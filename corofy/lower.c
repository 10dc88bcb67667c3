/* lower.c: expressions that wait. A wait stops the coroutine in the middle
 * of an expression, and C cannot stop halfway through one, so each wait is
 * hoisted out in front of its statement: the future is made, waited for,
 * and its value put in a frame field named after where the wait is
 * (wait_12_9: line 12, column 9); the expression then reads the field.
 *
 * The rest of the expression keeps its meaning:
 * - Order: the parts of an expression are evaluated left to right. A part
 *   left of a wait that could give another value after the wait (a call, an
 *   assignment, a read through a pointer, a variable whose address was
 *   taken) is evaluated first, into a field of its own (tmp_12_5, typed by
 *   __typeof__). Names that are not the coroutine's own (globals, enum
 *   constants, functions) count as constants.
 * - Short circuits: in `a && E.wait`, `a || E.wait` and `c ? E.wait : F`,
 *   the wait happens only when C would evaluate E (and_, or_, cond_ fields).
 * - Assignments: the destination is located first (through a pointer field
 *   ptr_12_5 unless its place cannot change), then the right side is
 *   evaluated and waited for, then the value is stored (for `x += E.wait`,
 *   added to what x holds when the wait is over).
 * A wait's value needs a type, which C does not give a future: corofy knows
 * it for a coroutine of the file (or one declared `coroutine T f(...);`),
 * and when the wait is written straight into a variable. Part of corofy/,
 * the coroutine preprocessor of ch04-coroutines and ch05-runtime. */
#include <stdio.h>
#include <string.h>

#include "generate.h"

const char *type_text(struct unit *u, int spec_lo, int spec_hi, int dlo, int dhi, int name,
                      const char *name_as, bool adjust_array); /* generate.c */

/* ===== The expression being lowered ===== */

/* A full expression (a statement's, or one part of a for header) is about
 * to be lowered: what it changes is worked out when first asked. */
static void begin_expression(struct gen *g, const struct expr *e)
{
    g->expr_lo = e->lo;
    g->expr_hi = e->hi;
    g->modified_known = false;
}

/* Does the expression change `name` (name++, --name, name = ..., name += ...)?
 * `*p = v` changes what p points to, not p. */
static bool is_modified(struct gen *g, const char *name, int len)
{
    static const char *const changes[] = {
        "++", "--", "=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=", NULL,
    };
    struct unit *u = g->u;
    if (!g->modified_known) {
        g->modified = (struct table){0};
        for (int i = g->expr_lo; i < g->expr_hi; i++) {
            if (!tok_is_ident(u, i) ||
                (i > 0 && (tok_punct(u, i - 1, ".") || tok_punct(u, i - 1, "->"))))
                continue;
            bool after = u->toks[i + 1].kind == TOK_PUNCT && tok_in(u, i + 1, changes) &&
                         !(i > 0 && tok_punct(u, i - 1, "*") && !tok_punct(u, i + 1, "++") &&
                           !tok_punct(u, i + 1, "--"));
            bool before = i > 0 && (tok_punct(u, i - 1, "++") || tok_punct(u, i - 1, "--"));
            if (after || before) {
                int n;
                const char *s = tok_text(u, i, &n);
                table_set(u, &g->modified, s, n, 1);
            }
        }
        g->modified_known = true;
    }
    return table_get(&g->modified, name, len) >= 0;
}

const struct expr *strip_parens(const struct expr *e)
{
    while (e->kind == EXPR_PAREN && !e->hoisted)
        e = e->kids[0];
    return e;
}

/* ===== Rendering ===== */

/* e as it reads after its lowering: its hoisted parts replaced by their
 * fields. `lead`: with the whitespace before it. */
void emit_expr(struct gen *g, const struct expr *e, bool lead)
{
    struct unit *u = g->u;
    if (e->hoisted) {
        if (lead)
            emit_trivia_between(g, tok_trivia(u, e->lo), u->toks[e->lo].start, e->lo);
        const struct field *f = &g->fields[e->field];
        if (g->witness) {
            const char *at = strchr(f->key, '@');
            w_printf(g->w, "%s(*(%.*s%s%s) 0)%s", e->deref ? "(*" : "", (int) (at - f->key), f->key,
                     at[1] == '\0' ? "*" : "(*)", at + 1, e->deref ? ")" : "");
        } else {
            w_printf(g->w, e->deref ? "(*frame->%s)" : "frame->%s", f->name);
        }
        return;
    }
    if (e->same != NULL) {
        if (lead)
            emit_trivia_between(g, tok_trivia(u, e->lo), u->toks[e->lo].start, e->lo);
        emit_expr(g, e->same, false);
        return;
    }
    if (e->discarded)
        return;
    int pos = e->lo;
    for (int k = 0; k < e->nkids; k++) {
        const struct expr *kid = e->kids[k];
        if (pos < kid->lo) {
            emit_tokens(g, pos, kid->lo, lead);
            lead = true;
        }
        emit_expr(g, kid, lead);
        lead = true;
        pos = kid->hi;
    }
    if (pos < e->hi)
        emit_tokens(g, pos, e->hi, lead);
}

/* emit_expr into a string, on one line; as a witness (for __typeof__: no
 * local named, see statements.c) or as code. */
static const char *render(struct gen *g, const struct expr *e, bool witness)
{
    struct buf b = {0};
    struct writer w = {.out = &b, .eol = "\n", .origin = -1, .code = true}; /* goes mid-line */
    struct writer *saved = g->w;
    bool saved_witness = g->witness, saved_one_line = g->one_line;

    g->w = &w;
    g->witness = witness;
    g->one_line = true;
    emit_expr(g, e, false);
    g->w = saved;
    g->witness = saved_witness;
    g->one_line = saved_one_line;
    const char *text = arena_strdup(g->u, b.data ? b.data : "", b.len);
    buf_free(&b);
    return text;
}

const char *expr_text(struct gen *g, const struct expr *e)
{
    return render(g, e, false);
}

/* "f(x) (line 12)", cut when long: what a temporary's comment shows. */
static const char *short_text(struct gen *g, const struct expr *e)
{
    const char *text = collapsed_text(g->u, e->lo, e->hi);
    if (strlen(text) > 60)
        text = arena_printf(g->u, "%.50s ...", text);
    return comment_safe(g->u, text, strlen(text));
}

/* ===== Which parts can wait for the wait =====
 *
 * A part left of a wait must be evaluated before it unless its value
 * cannot change meanwhile: a constant, a field corofy made, or a variable
 * of the coroutine that no pointer can reach (its address is never taken)
 * and that the statement itself does not change. */

/* Does token i end an operand (so a '*' or '(' after it is binary, or a call)? */
static bool ends_operand(const struct unit *u, int i)
{
    enum token_kind k = u->toks[i].kind;
    if (tok_punct(u, i, ")"))
        return !is_type_name_group(u, u->toks[i].match); /* not a cast */
    return (k == TOK_IDENT && !tok_keyword(u, i)) || k == TOK_NUMBER || k == TOK_STRING ||
           k == TOK_CHAR || tok_punct(u, i, "]");
}

static bool is_call_paren(const struct unit *u, int i)
{
    return tok_punct(u, i, "(") && i > 0 && ends_operand(u, i - 1) &&
           u->toks[i - 1].kind != TOK_NUMBER && u->toks[i - 1].kind != TOK_STRING &&
           u->toks[i - 1].kind != TOK_CHAR;
}

static bool changes_something(const struct unit *u, int i)
{
    static const char *const ops[] = {
        "++", "--", "=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=", NULL,
    };
    return u->toks[i].kind == TOK_PUNCT && tok_in(u, i, ops);
}

/* A read through a pointer: p->x, a[i], *p. */
static bool is_deref(const struct unit *u, int i)
{
    if (tok_punct(u, i, "->") || tok_punct(u, i, "["))
        return true;
    return tok_punct(u, i, "*") && (i == 0 || !ends_operand(u, i - 1));
}

/* Identifier i (not a member name) keeps its value across a wait. */
static bool stable_name(struct gen *g, int i)
{
    int len;
    const char *name = tok_text(g->u, i, &len);
    struct binding *b = lookup(g, name, len);
    if (b == NULL || b->is_array) /* not ours (see above), or an array: its address */
        return true;
    return table_get(&g->exposed, name, len) < 0 && !is_modified(g, name, len);
}

static bool is_member_name(const struct unit *u, int i)
{
    return i > 0 && (tok_punct(u, i - 1, ".") || tok_punct(u, i - 1, "->"));
}

/* Tokens [lo, hi) keep their value across a wait. `callee`: they are the
 * function of a call, whose name is a constant. */
static bool tokens_stable(struct gen *g, int lo, int hi, bool callee)
{
    struct unit *u = g->u;
    if (callee && hi == lo + 1 && tok_is_ident(u, lo))
        return true;
    for (int i = lo; i < hi; i++) {
        if (tok_is_ident(u, i) && !is_member_name(u, i) && !stable_name(g, i))
            return false;
        if (is_call_paren(u, i) || changes_something(u, i) || is_deref(u, i))
            return false;
    }
    return true;
}

static bool is_stable(struct gen *g, const struct expr *e, bool callee)
{
    if (e->hoisted)
        return !e->deref;
    if (e->same != NULL)
        return is_stable(g, e->same, callee);
    if (e->discarded)
        return true;
    switch (e->kind) {
    case EXPR_PLAIN:
        return tokens_stable(g, e->lo, e->hi, callee);
    case EXPR_PAREN:
        return is_stable(g, e->kids[0], callee);
    case EXPR_CALL:
    case EXPR_ASSIGN:
    case EXPR_WAIT:
        return false;
    default:
        break;
    }
    int pos = e->lo;
    for (int k = 0; k < e->nkids; k++) {
        if (!tokens_stable(g, pos, e->kids[k]->lo, false) || !is_stable(g, e->kids[k], false))
            return false;
        pos = e->kids[k]->hi;
    }
    return tokens_stable(g, pos, e->hi, false);
}

/* Token i, `[`, subscripts an array of the coroutine (no pointer read). */
static bool subscripts_local_array(struct gen *g, int i)
{
    struct unit *u = g->u;
    if (!tok_punct(u, i, "[") || !tok_is_ident(u, i - 1) || is_member_name(u, i - 1))
        return false;
    struct binding *b = lookup_tok(g, i - 1);
    return b != NULL && b->is_array;
}

/* Identifier i of [lo, hi) is used for its place, not its value: the whole
 * of it, a struct with a member taken, an array with an element taken. */
static bool names_place(struct gen *g, int i, int lo, int hi)
{
    return (i == lo && hi == lo + 1) || tok_punct(g->u, i + 1, ".") ||
           subscripts_local_array(g, i + 1);
}

/* A place that waits itself: a[E.wait], E.wait->x, *E.wait. Stable when
 * it is one step from a local array or from values that stay put. */
static bool place_stable_parts(struct gen *g, const struct expr *e)
{
    struct unit *u = g->u;
    if (e->kind != EXPR_OTHER)
        return false;
    const struct expr *base = e->kids[0];
    if (tok_punct(u, e->op, "[") && e->nkids == 2) {
        struct binding *b =
            base->kind == EXPR_PLAIN && base->hi == base->lo + 1 && tok_is_ident(u, base->lo)
                ? lookup_tok(g, base->lo)
                : NULL;
        bool array = b != NULL && b->is_array;
        return (array || is_stable(g, base, false)) && is_stable(g, e->kids[1], false);
    }
    if (tok_punct(u, e->op, "->") || (tok_punct(u, e->op, "*") && e->op == e->lo))
        return e->nkids == 1 && is_stable(g, base, false);
    return false;
}

/* The place an assignment writes to cannot move during a wait: a
 * variable, a member of one, an element of a local array, or one step
 * through a pointer that keeps its value (p->x, *p, p[i]). */
static bool place_stable(struct gen *g, const struct expr *e)
{
    struct unit *u = g->u;
    int derefs = 0;

    e = strip_parens(e);
    if (e->hoisted)
        return true;
    if (e->kind != EXPR_PLAIN)
        return place_stable_parts(g, e);
    for (int i = e->lo; i < e->hi; i++) {
        if (is_call_paren(u, i) || changes_something(u, i))
            return false;
        if (is_deref(u, i) && !subscripts_local_array(g, i))
            derefs++;
        if (tok_is_ident(u, i) && !is_member_name(u, i) && !names_place(g, i, e->lo, e->hi) &&
            !stable_name(g, i))
            return false;
    }
    return derefs <= 1;
}

/* ===== Fields for values ===== */

/* "__typeof__(((void) 0, WITNESS)) @": the type of e's value (an array
 * decays, a qualifier goes), worked out by the compiler. */
static const char *typeof_key(struct gen *g, const struct expr *e)
{
    return arena_printf(g->u, "__typeof__(((void) 0, %s)) @", render(g, e, true));
}

/* Evaluate e now, into a field: frame->tmp_L_C = e; */
static void spill(struct gen *g, struct expr *e, const char *why)
{
    int f = new_temp(g, "tmp", e->lo, NULL, "%s, line %d: %s", short_text(g, e),
                     tok_line(g->u, e->lo), why);
    if (g->fields[f].key == NULL)
        set_field_decl(g, f, typeof_key(g, e));
    begin_line(g, e->lo);
    w_printf(g->w, "frame->%s = ", g->fields[f].name);
    emit_expr(g, e, false);
    w_text(g->w, ";");
    e->hoisted = true;
    e->field = f;
}

/* Locate the place e names now, into a pointer field: frame->ptr_L_C = &(e); */
static void spill_place(struct gen *g, struct expr *e)
{
    int f = new_temp(g, "ptr", e->lo, NULL, "where %s is, line %d", short_text(g, e),
                     tok_line(g->u, e->lo));
    if (g->fields[f].key == NULL)
        set_field_decl(g, f, arena_printf(g->u, "__typeof__(%s) *@", render(g, e, true)));
    begin_line(g, e->lo);
    w_printf(g->w, "frame->%s = &(", g->fields[f].name);
    emit_expr(g, e, false);
    w_text(g->w, ");");
    e->hoisted = true;
    e->deref = true;
    e->field = f;
}

/* ===== The type of a wait's value ===== */

/* The coroutine e calls, if e is `name(...)` and name is one of the file's. */
static const struct coroutine *called_coroutine(struct gen *g, const struct expr *e)
{
    struct unit *u = g->u;
    int len;
    e = strip_parens(e);
    int name = e->lo;
    if (!tok_is_ident(u, name) || !tok_punct(u, name + 1, "(") ||
        u->toks[name + 1].match != e->hi - 1)
        return NULL;
    const char *s = tok_text(u, name, &len);
    int index = table_get(&u->coroutine_names, s, len);
    if (index < 0 && u->init && len > 5 && memcmp(s + len - 5, "_init", 5) == 0)
        index = table_get(&u->coroutine_names, s, len - 5); /* NAME_init: NAME's type */
    return index < 0 ? NULL : u->by_index[index];
}

/* The key ("int @") of the value of the wait, or NULL when unknown. */
static const char *wait_key(struct gen *g, const struct expr *wait)
{
    struct coroutine *co = (struct coroutine *) called_coroutine(g, wait->kids[0]);
    if (co == NULL)
        return NULL;
    if (co->type_key == NULL) {
        int star = co->type_lo;
        while (star < co->type_hi && !tok_punct(g->u, star, "*"))
            star++;
        co->type_key = key_of_type(
            g->u, type_text(g->u, co->type_lo, star, star, co->type_hi, -1, NULL, false));
    }
    return co->type_key;
}

/* The key of the wait's value, or a clear refusal. */
static const char *needed_type(struct gen *g, const struct expr *wait)
{
    struct unit *u = g->u;
    const char *type = wait_key(g, wait);
    const struct expr *future = strip_parens(wait->kids[0]);
    int len;

    if (type == NULL && tok_is_ident(u, future->lo) && tok_punct(u, future->lo + 1, "(")) {
        const char *name = tok_text(u, future->lo, &len);
        fail(u, wait->op,
             "corofy must keep the value of this wait until the expression is "
             "done, and cannot tell its type: '%.*s' is not a coroutine of this "
             "file. Declare its type (`coroutine T %.*s(...);` says it gives a "
             "future of T), or wait into a variable first (`T v = ... .wait;`)",
             len, name, len, name);
    }
    if (type == NULL)
        fail(u, wait->op,
             "corofy must keep the value of this wait until the expression is "
             "done, and cannot tell its type (a future does not say): wait into a "
             "variable first (`T v = ... .wait;`), or wait for a call of a "
             "coroutine declared `coroutine T name(...);`");
    if (strcmp(type, "void @") == 0)
        fail(u, wait->op,
             "this wait gives no value (its coroutine is void), but its value is "
             "used");
    return type;
}

/* ===== Lowering ===== */

static void lower_wait(struct gen *g, struct expr *e, bool need)
{
    lower(g, e->kids[0], true);
    if (!need) {
        gen_wait(g, e, "NULL", NULL);
        e->discarded = true;
        return;
    }
    const char *key = needed_type(g, e);
    int f = new_temp(g, "wait", e->op, key, "the value of wait point %d", e->wait);
    gen_wait(g, e, "&frame->", g->fields[f].name);
    e->hoisted = true;
    e->field = f;
}

/* The statement `e;` for a part whose value nobody uses, if it does something. */
static void gen_effect(struct gen *g, const struct expr *e)
{
    if (!has_effect(g, e))
        return;
    begin_line(g, e->lo);
    emit_expr(g, e, false);
    w_text(g->w, ";");
}

/* `a && b` and `a || b` where b waits: b's waits happen only when C would
 * evaluate b. The result (0 or 1) goes to a field and_L_C / or_L_C. */
static void lower_logical(struct gen *g, struct expr *e, bool need)
{
    struct writer *w = g->w;
    struct expr *a = e->kids[0], *b = e->kids[1];
    bool and = e->kind == EXPR_AND;
    int f = -1;

    lower(g, a, true);
    if (!b->has_wait)
        return;
    if (need) {
        f = new_temp(g, and? "and" : "or", e->op, "int @", "the value of the '%s' on line %d",
                     and? "&&" : "||", tok_line(g->u, e->op));
        gen_line(g, "frame->%s = %d;", g->fields[f].name, and? 0 : 1);
    }
    begin_line(g, e->op);
    w_text(w, and? "if (" : "if (!(");
    emit_expr(g, a, false);
    w_text(w, and? ") {" : ")) {");
    w->indent += 4;
    lower(g, b, need);
    if (need) {
        begin_line(g, b->lo);
        w_printf(w, "frame->%s = (", g->fields[f].name);
        emit_expr(g, b, false);
        w_text(w, ") != 0;");
    } else {
        gen_effect(g, b);
    }
    w->indent -= 4;
    gen_line(g, "}");
    if (need) {
        e->hoisted = true;
        e->field = f;
    } else {
        e->discarded = true;
    }
}

/* One branch of `c ? x : y` that waits: its waits, then its value. */
static void lower_branch(struct gen *g, struct expr *x, int f)
{
    g->w->indent += 4;
    lower(g, x, f >= 0);
    if (f >= 0) {
        begin_line(g, x->lo);
        w_printf(g->w, "frame->%s = ", g->fields[f].name);
        emit_expr(g, x, false);
        w_text(g->w, ";");
    } else {
        gen_effect(g, x);
    }
    g->w->indent -= 4;
}

/* `c ? x : y` where x or y waits: only the branch C would evaluate waits;
 * the value goes to a field cond_L_C. */
static void lower_conditional(struct gen *g, struct expr *e, bool need)
{
    struct expr *c = e->kids[0], *x = e->kids[1], *y = e->kids[2];
    int f = -1;

    lower(g, c, true);
    if (!x->has_wait && !y->has_wait)
        return;
    if (need) /* its type is worked out once both branches are lowered */
        f = new_temp(g, "cond", e->op, NULL, "the value of the '?:' on line %d",
                     tok_line(g->u, e->op));
    begin_line(g, e->op);
    w_text(g->w, "if (");
    emit_expr(g, c, false);
    w_text(g->w, ") {");
    lower_branch(g, x, f);
    gen_line(g, "} else {");
    lower_branch(g, y, f);
    gen_line(g, "}");
    if (need) {
        if (g->fields[f].key == NULL)
            set_field_decl(g, f,
                           arena_printf(g->u, "__typeof__(1 ? %s : %s) @", render(g, x, true),
                                        render(g, y, true)));
        e->hoisted = true;
        e->field = f;
    } else {
        e->discarded = true;
    }
}

/* `a, b`: a is done as a statement of its own, and the comma reads as b. */
static void lower_comma(struct gen *g, struct expr *e, bool need)
{
    lower(g, e->kids[0], false);
    gen_effect(g, e->kids[0]);
    lower(g, e->kids[1], need);
    e->same = e->kids[1];
}

/* `place op= value` where value waits: the place is found first. */
static void lower_assign(struct gen *g, struct expr *e)
{
    struct expr *place = e->kids[0], *value = e->kids[1];
    lower(g, place, true);
    if (value->has_wait && !place_stable(g, place))
        spill_place(g, place);
    lower(g, value, true);
}

/* Any other node: its kids in order, each one evaluated into a field
 * first when a wait comes after it and its value could change meanwhile. */
static void lower_operands(struct gen *g, struct expr *e)
{
    int waiting = 0;
    for (int k = 0; k < e->nkids; k++)
        waiting += e->kids[k]->has_wait;
    for (int k = 0; k < e->nkids; k++) {
        struct expr *kid = e->kids[k];
        waiting -= kid->has_wait;
        lower(g, kid, true);
        if (waiting > 0 && !is_stable(g, kid, e->kind == EXPR_CALL && k == 0))
            spill(g, kid, "evaluated before the wait after it");
    }
}

/* `(void) e`: e's value is not wanted. */
static bool is_void_cast(const struct unit *u, const struct expr *e)
{
    return e->kind == EXPR_OTHER && e->nkids == 1 && tok_punct(u, e->lo, "(") &&
           u->toks[e->lo].match == e->lo + 2 && tok_is(u, e->lo + 1, "void");
}

void lower(struct gen *g, struct expr *e, bool need)
{
    e->hoisted = e->deref = e->discarded = false; /* from the other pass */
    e->same = NULL;
    switch (e->kind) {
    case EXPR_PLAIN:
        return;
    case EXPR_PAREN:
        lower(g, e->kids[0], need);
        return;
    case EXPR_WAIT:
        lower_wait(g, e, need);
        return;
    case EXPR_AND:
    case EXPR_OR:
        lower_logical(g, e, need);
        return;
    case EXPR_COND:
        lower_conditional(g, e, need);
        return;
    case EXPR_COMMA:
        lower_comma(g, e, need);
        return;
    case EXPR_ASSIGN:
        lower_assign(g, e);
        return;
    case EXPR_CALL:
    case EXPR_OTHER:
        if (is_void_cast(g->u, e)) {
            lower(g, e->kids[0], false);
            e->discarded = e->kids[0]->discarded;
            return;
        }
        lower_operands(g, e);
        return;
    }
}

bool has_effect(struct gen *g, const struct expr *e)
{
    static const char *const ops[] = {
        "++", "--", "=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=", NULL,
    };
    struct unit *u = g->u;
    if (e->hoisted || e->discarded)
        return false;
    if (e->same != NULL)
        return has_effect(g, e->same);
    if (e->kind == EXPR_CALL || e->kind == EXPR_ASSIGN)
        return true;
    int pos = e->lo;
    for (int k = 0; k <= e->nkids; k++) {
        int end = k < e->nkids ? e->kids[k]->lo : e->hi;
        for (int i = pos; i < end; i++)
            if (is_call_paren(u, i) || (u->toks[i].kind == TOK_PUNCT && tok_in(u, i, ops)))
                return true;
        if (k < e->nkids && has_effect(g, e->kids[k]))
            return true;
        pos = k < e->nkids ? e->kids[k]->hi : pos;
    }
    return false;
}

/* ===== Waits written straight into their destination ===== */

/* `T x = E.wait;`, `return E.wait;`: when value is a wait whose type is
 * unknown or `dest_key`, the future writes straight into dest (as the
 * dialect promises: the future produces a value of the destination's
 * type). Returns false, doing nothing, for any other value. */
void lower_top(struct gen *g, struct expr *e, bool need)
{
    begin_expression(g, e);
    lower(g, e, need);
}

bool lower_direct(struct gen *g, struct expr *value, const char *dest_key, const char *dest,
                  const char *name)
{
    struct expr *wait = (struct expr *) strip_parens(value);
    if (wait->kind != EXPR_WAIT)
        return false;
    begin_expression(g, value);
    const char *key = wait_key(g, wait);
    if (key != NULL && strcmp(key, dest_key) != 0)
        return false; /* a different type: a field, and C's conversion */
    for (struct expr *e = value; e != wait; e = e->kids[0]) {
        e->hoisted = e->deref = e->discarded = false;
        e->same = NULL;
    }
    lower(g, wait->kids[0], true);
    gen_wait(g, wait, dest, name);
    return true;
}

/* The statement `place = E.wait;`: the future writes straight into the
 * place, which is located first if it could move. */
bool lower_assignment_direct(struct gen *g, struct expr *assign)
{
    struct unit *u = g->u;
    struct expr *place = assign->kids[0], *wait = (struct expr *) strip_parens(assign->kids[1]);
    if (wait->kind != EXPR_WAIT)
        return false;
    begin_expression(g, assign);
    const char *key = wait_key(g, wait);
    const struct expr *name = strip_parens(place);
    struct binding *b = NULL;
    if (name->kind == EXPR_PLAIN && name->hi == name->lo + 1 && tok_is_ident(u, name->lo))
        b = lookup_tok(g, name->lo);
    if (key != NULL && (b == NULL || b->key == NULL || strcmp(key, b->key) != 0))
        return false; /* a different (or unknown) type: a field, and C's conversion */
    lower(g, place, true);
    if (!place_stable(g, place))
        spill_place(g, place);
    lower(g, wait->kids[0], true);
    if (b != NULL && b->field >= 0 && !place->hoisted)
        gen_wait(g, wait, "&frame->", g->fields[b->field].name);
    else if (b != NULL && !place->hoisted)
        gen_wait(g, wait, "&", expr_text(g, place));
    else
        gen_wait(g, wait, arena_printf(u, "&(%s)", expr_text(g, place)), NULL);
    return true;
}
