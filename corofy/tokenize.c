/* tokenize.c: cuts a C file into tokens for corofy (see corofy.h), finds the
 * `/ * corofy: waker * /` flavour line, and pairs every bracket with its
 * partner. Comments and whitespace are trivia, not tokens; a preprocessor
 * directive is one opaque token. Part of corofy/ (issue 6). */
#include <string.h>

#include "corofy.h"

/* Deeper bracket nesting than this is refused: it keeps the parser's
 * recursion (and the fuzz target's stack) bounded. */
#define MAX_NESTING 200

struct lexer {
    struct unit *u;
    const char *s;
    int len;
    int pos;
    int line;
    int line_start;  /* offset of the first byte of the current line */
    int tokens_cap;
    int lines_cap;
};

static int peek(const struct lexer *lx, int ahead)
{
    int p = lx->pos + ahead;
    return p < lx->len ? (unsigned char) lx->s[p] : -1;
}

static int col(const struct lexer *lx, int offset)
{
    return offset - lx->line_start + 1;
}

/* At a '\n': step over it and start a new line. */
static void newline(struct lexer *lx)
{
    lx->pos++;
    lx->line++;
    lx->line_start = lx->pos;
    if (lx->u->nlines == lx->lines_cap) {
        int cap = lx->lines_cap * 2;
        lx->u->line_starts = arena_grow(lx->u, lx->u->line_starts,
                                        sizeof(int) * (size_t) lx->lines_cap,
                                        sizeof(int) * (size_t) cap);
        lx->lines_cap = cap;
    }
    lx->u->line_starts[lx->u->nlines++] = lx->pos;
}

/* A backslash-newline (a line splice) at pos: step over it. */
static bool skip_splice(struct lexer *lx)
{
    if (peek(lx, 0) != '\\')
        return false;
    if (peek(lx, 1) == '\n') {
        lx->pos++;
        newline(lx);
        return true;
    }
    if (peek(lx, 1) == '\r' && peek(lx, 2) == '\n') {
        lx->pos += 2;
        newline(lx);
        return true;
    }
    return false;
}

static bool is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_ident_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$' || c >= 0x80;
}

static bool is_ident_char(int c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

/* ===== Comments ===== */

/* `/ * corofy: VALUE * /` alone on its line selects the flavour; the output
 * leaves that line out. Any other value is an error, so a typo cannot
 * silently produce the wrong flavour. */
static void flavour_comment(struct lexer *lx, int start, int end, int line, int column)
{
    static const char prefix[] = "/* corofy:";
    struct unit *u = lx->u;

    if (end - start < (int) sizeof prefix - 1 + 2 ||
        memcmp(lx->s + start, prefix, sizeof prefix - 1) != 0)
        return;
    int v = start + (int) sizeof prefix - 1, v_end = end - 2;
    while (v < v_end && is_space((unsigned char) lx->s[v]))
        v++;
    while (v_end > v && is_space((unsigned char) lx->s[v_end - 1]))
        v_end--;
    if (v_end - v != 5 || memcmp(lx->s + v, "waker", 5) != 0)
        fail_at(u, line, column,
                "unknown corofy flavour '%.*s': the only one is /* corofy: waker */ "
                "(without it, corofy uses the plain ch04 futures)",
                v_end - v > 60 ? 60 : v_end - v, lx->s + v);

    int before = start, after = end;
    while (before > 0 && is_space((unsigned char) lx->s[before - 1]))
        before--;
    while (after < lx->len && is_space((unsigned char) lx->s[after]))
        after++;
    if ((before > 0 && lx->s[before - 1] != '\n') || (after < lx->len && lx->s[after] != '\n'))
        fail_at(u, line, column, "/* corofy: waker */ must be on a line of its own");

    if (u->nremoved % 8 == 0)
        u->removed = arena_grow(u, u->removed, sizeof(struct span) * (size_t) u->nremoved,
                                sizeof(struct span) * (size_t) (u->nremoved + 8));
    u->removed[u->nremoved].start = before;
    u->removed[u->nremoved].end = after < lx->len ? after + 1 : after;  /* with its '\n' */
    u->nremoved++;
    u->waker = true;
}

/* At the '/' of a '/ *' comment: step over the whole comment. */
static void skip_block_comment(struct lexer *lx)
{
    int start = lx->pos, line = lx->line, column = col(lx, start);

    lx->pos += 2;
    for (;;) {
        int c = peek(lx, 0);
        if (c < 0)
            fail_at(lx->u, line, column, "unterminated comment: this /* has no closing */");
        if (c == '*' && peek(lx, 1) == '/') {
            lx->pos += 2;
            break;
        }
        if (c == '\n')
            newline(lx);
        else
            lx->pos++;
    }
    flavour_comment(lx, start, lx->pos, line, column);
}

/* At the first '/' of a line comment: step to (not over) the newline ending it. */
static void skip_line_comment(struct lexer *lx)
{
    for (;;) {
        int c = peek(lx, 0);
        if (c < 0 || c == '\n')
            return;
        if (!skip_splice(lx))
            lx->pos++;
    }
}

/* ===== Tokens ===== */

/* At an opening quote: step over the literal. In a directive (`#error don't`)
 * an unterminated literal just ends at the end of the line. */
static void skip_literal(struct lexer *lx, bool in_directive)
{
    int quote = peek(lx, 0), line = lx->line, column = col(lx, lx->pos);

    lx->pos++;
    for (;;) {
        int c = peek(lx, 0);
        if (c < 0 || c == '\n') {
            if (in_directive)
                return;
            fail_at(lx->u, line, column, "unterminated %s: the closing %c is missing on this line",
                    quote == '"' ? "string" : "character constant", quote);
        }
        if (c == '\\') {
            if (skip_splice(lx))
                continue;
            lx->pos += peek(lx, 1) == '\n' || peek(lx, 1) < 0 ? 1 : 2;
            continue;
        }
        lx->pos++;
        if (c == quote)
            return;
    }
}

/* At '#', the first token of a line: step to the end of the logical line. */
static void skip_directive(struct lexer *lx)
{
    lx->pos++;
    for (;;) {
        int c = peek(lx, 0);
        if (c < 0 || c == '\n')
            return;
        if (skip_splice(lx))
            continue;
        if (c == '/' && peek(lx, 1) == '*')
            skip_block_comment(lx);
        else if (c == '/' && peek(lx, 1) == '/')
            skip_line_comment(lx);
        else if (c == '"' || c == '\'')
            skip_literal(lx, true);
        else
            lx->pos++;
    }
}

static const char *const punctuators[] = {
    "...", "<<=", ">>=", "->", "++", "--", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||",
    "*=",  "/=",  "%=",  "+=", "-=", "&=", "^=", "|=", "##",
};

static int punct_len(const struct lexer *lx)
{
    for (size_t k = 0; k < sizeof punctuators / sizeof punctuators[0]; k++) {
        size_t n = strlen(punctuators[k]);
        if ((size_t) (lx->len - lx->pos) >= n && memcmp(lx->s + lx->pos, punctuators[k], n) == 0)
            return (int) n;
    }
    return 1;
}

/* An identifier followed directly by a quote is a literal's prefix: u8"x", L'y'. */
static bool is_literal_prefix(const struct lexer *lx, int start, int end)
{
    int n = end - start;
    const char *p = lx->s + start;
    if (end >= lx->len || (lx->s[end] != '"' && lx->s[end] != '\''))
        return false;
    return (n == 1 && (*p == 'L' || *p == 'u' || *p == 'U')) || (n == 2 && memcmp(p, "u8", 2) == 0);
}

static void add_token(struct lexer *lx, enum token_kind kind, int start, int trivia, int line,
                      int column)
{
    struct unit *u = lx->u;
    if (u->ntoks == lx->tokens_cap) {
        int cap = lx->tokens_cap * 2;
        u->toks = arena_grow(u, u->toks, sizeof(struct token) * (size_t) lx->tokens_cap,
                             sizeof(struct token) * (size_t) cap);
        lx->tokens_cap = cap;
    }
    struct token *t = &u->toks[u->ntoks++];
    t->kind = kind;
    t->start = start;
    t->len = lx->pos - start;
    t->trivia = trivia;
    t->line = line;
    t->col = column;
    t->match = -1;
}

/* ===== Brackets ===== */

static void match_brackets(struct unit *u)
{
    int stack[MAX_NESTING], depth = 0;

    for (int i = 0; i < u->ntoks; i++) {
        if (u->toks[i].kind != TOK_PUNCT || u->toks[i].len != 1)
            continue;
        char c = u->text[u->toks[i].start];
        if (c == '(' || c == '[' || c == '{') {
            if (depth == MAX_NESTING)
                fail(u, i, "brackets nested more than %d deep; corofy does not go deeper",
                     MAX_NESTING);
            stack[depth++] = i;
        } else if (c == ')' || c == ']' || c == '}') {
            char want = c == ')' ? '(' : c == ']' ? '[' : '{';
            if (depth == 0)
                fail(u, i, "unbalanced '%c': there is no '%c' before it to close", c, want);
            int open = stack[depth - 1];
            char have = u->text[u->toks[open].start];
            if (have != want)
                fail(u, i, "unbalanced '%c': the innermost open bracket is the '%c' on line %d",
                     c, have, u->toks[open].line);
            depth--;
            u->toks[open].match = i;
            u->toks[i].match = open;
        }
    }
    if (depth > 0) {
        int open = stack[depth - 1];
        char have = u->text[u->toks[open].start];
        fail(u, open, "unbalanced '%c': it is never closed (the file ends first)", have);
    }
}

/* ===== The tokenizer ===== */

void tokenize(struct unit *u)
{
    struct lexer lx = {.u = u, .s = u->text, .len = u->len, .line = 1};

    lx.tokens_cap = 1024;
    u->toks = arena_alloc(u, sizeof(struct token) * (size_t) lx.tokens_cap);
    lx.lines_cap = 1024;
    u->line_starts = arena_alloc(u, sizeof(int) * (size_t) lx.lines_cap);
    u->line_starts[u->nlines++] = 0;

    const char *nul = memchr(u->text, '\0', (size_t) u->len);
    if (nul != NULL) {
        int at = (int) (nul - u->text), line = 1, line_start = 0;
        for (int k = 0; k < at; k++)
            if (u->text[k] == '\n')
                line++, line_start = k + 1;
        fail_at(u, line, at - line_start + 1, "a NUL byte: corofy reads C source text, and this is not");
    }

    bool line_has_token = false;  /* a '#' is a directive only as a line's first token */
    for (;;) {
        int trivia = lx.pos;
        for (;;) {
            int c = peek(&lx, 0);
            if (c == '\n') {
                newline(&lx);
                line_has_token = false;
            } else if (is_space(c)) {
                lx.pos++;
            } else if (c == '\\' && skip_splice(&lx)) {
                continue;
            } else if (c == '/' && peek(&lx, 1) == '*') {
                skip_block_comment(&lx);
            } else if (c == '/' && peek(&lx, 1) == '/') {
                skip_line_comment(&lx);
            } else {
                break;
            }
        }

        int start = lx.pos, line = lx.line, column = col(&lx, start);
        int c = peek(&lx, 0);
        enum token_kind kind;
        if (c < 0) {
            add_token(&lx, TOK_EOF, start, trivia, line, column);
            break;
        } else if (c == '#' && !line_has_token) {
            skip_directive(&lx);
            kind = TOK_DIRECTIVE;
        } else if (is_ident_start(c)) {
            while (is_ident_char(peek(&lx, 0)))
                lx.pos++;
            kind = TOK_IDENT;
            if (is_literal_prefix(&lx, start, lx.pos)) {
                kind = peek(&lx, 0) == '"' ? TOK_STRING : TOK_CHAR;
                skip_literal(&lx, false);
            }
        } else if ((c >= '0' && c <= '9') || (c == '.' && peek(&lx, 1) >= '0' && peek(&lx, 1) <= '9')) {
            lx.pos++;
            for (;;) {
                int d = peek(&lx, 0);
                if ((d == '+' || d == '-') && strchr("eEpP", lx.s[lx.pos - 1]) != NULL)
                    lx.pos++;
                else if (is_ident_char(d) || d == '.')
                    lx.pos++;
                else
                    break;
            }
            kind = TOK_NUMBER;
        } else if (c == '"' || c == '\'') {
            kind = c == '"' ? TOK_STRING : TOK_CHAR;
            skip_literal(&lx, false);
        } else {
            lx.pos += punct_len(&lx);
            kind = TOK_PUNCT;
        }
        add_token(&lx, kind, start, trivia, line, column);
        line_has_token = true;
    }
    match_brackets(u);
}
