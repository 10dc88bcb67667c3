/* tokenize.c: cuts a C file into tokens for corofy (see unit.h), notes where
 * its lines and comments are, reads the `corofy:` option lines, and pairs
 * every bracket with its partner. Line splices are undone as the compiler
 * does it; trigraphs, which only some compiler modes read, are refused.
 * Part of corofy/, the coroutine preprocessor of ch04 and ch05. */
#include <stdlib.h>
#include <string.h>

#include "unit.h"

/* Deeper bracket nesting than this is refused: it keeps the parser's
 * recursion (and the fuzz target's stack) bounded. */
#define MAX_NESTING 200

struct lexer {
    struct unit *u;
    const char *s;
    int len;
    int pos;             /* the next byte to read */
    bool line_has_token; /* a '#' starts a directive only as a line's first token */
    int tokens_cap, spellings_cap, comments_cap, removed_cap;
};

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

/* ===== Lines ===== */

/* Where each line starts, whether lines end in \r\n, and the visual column
 * at every 1024th byte (for visual_col). Lines are physical lines: the
 * numbers a compiler reports. */
static void find_lines(struct unit *u)
{
    int cap = 1024, col = 0;
    u->line_starts = malloc(sizeof(int) * (size_t) cap);
    u->tab_columns = malloc(sizeof(int) * (size_t) (u->len / 1024 + 1));
    if (u->line_starts == NULL || u->tab_columns == NULL)
        out_of_memory();
    u->line_starts[u->nlines++] = 0;
    for (int k = 0; k < u->len; k++) {
        if (k % 1024 == 0)
            u->tab_columns[k / 1024] = col;
        char c = u->text[k];
        if (c != '\n') {
            col = c == '\t' ? (col / 8 + 1) * 8 : col + 1;
            continue;
        }
        if (u->nlines == 1)
            u->crlf = k > 0 && u->text[k - 1] == '\r';
        if (u->nlines == cap) {
            cap *= 2;
            int *more = realloc(u->line_starts, sizeof(int) * (size_t) cap);
            if (more == NULL)
                out_of_memory();
            u->line_starts = more;
        }
        u->line_starts[u->nlines++] = k + 1;
        col = 0;
    }
}

/* ===== Reading characters through line splices =====
 *
 * A backslash at the end of a line joins it to the next one, before
 * anything else happens: `ret\` + newline + `urn` is the keyword return.
 * Like gcc and clang, blanks between the backslash and the newline are
 * allowed (both warn about them). */

static int after_splice(const struct lexer *lx, int at)
{
    if (at >= lx->len || lx->s[at] != '\\')
        return at;
    int k = at + 1;
    while (k < lx->len && (lx->s[k] == ' ' || lx->s[k] == '\t' || lx->s[k] == '\f' ||
                           lx->s[k] == '\v' || lx->s[k] == '\r'))
        k++;
    return k < lx->len && lx->s[k] == '\n' ? k + 1 : at;
}

static int skip_splices(const struct lexer *lx, int at)
{
    for (int next; (next = after_splice(lx, at)) != at;)
        at = next;
    return at;
}

/* The offset of the character `ahead` characters past pos, splices skipped. */
static int char_offset(const struct lexer *lx, int ahead)
{
    int at = skip_splices(lx, lx->pos);
    while (ahead-- > 0 && at < lx->len)
        at = skip_splices(lx, at + 1);
    return at;
}

static int peek(const struct lexer *lx, int ahead)
{
    int at = char_offset(lx, ahead);
    return at < lx->len ? (unsigned char) lx->s[at] : -1;
}

/* Step over n characters (and the splices before them, not after). */
static void advance(struct lexer *lx, int n)
{
    lx->pos = char_offset(lx, n - 1) + 1;
}

static int line_of(const struct lexer *lx, int offset)
{
    return line_of_offset(lx->u, offset);
}

static int col_of(const struct lexer *lx, int offset)
{
    return offset - lx->u->line_starts[line_of(lx, offset) - 1] + 1;
}

/* `??` followed by one of =(/)'<!>- is a trigraph in strict C modes
 * (-std=c11) and plain text in GNU ones: corofy cannot know which the file
 * is compiled in, so it refuses them. In a comment only `??/` at the end of
 * a line matters (it would continue the comment). */
static void check_trigraph(const struct lexer *lx, bool in_comment)
{
    if (peek(lx, 0) != '?' || peek(lx, 1) != '?')
        return;
    int third = peek(lx, 2);
    if (in_comment) {
        if (third != '/')
            return;
        int k = char_offset(lx, 3);
        while (k < lx->len && is_space((unsigned char) lx->s[k]))
            k++;
        if (k < lx->len && lx->s[k] != '\n')
            return;
    } else if (third < 0 || strchr("=(/)'<!>-", third) == NULL) {
        return;
    }
    int at = char_offset(lx, 0);
    fail_at(lx->u, line_of(lx, at), col_of(lx, at),
            "the trigraph '?\?%c': some compiler modes read it as another character and some "
            "do not, so corofy cannot tell what the file means (write the character itself)",
            third);
}

/* ===== Comments and option lines ===== */

static void add_span(struct unit *u, struct span **v, int *n, int *cap, int start, int end)
{
    if (*n == *cap) {
        int more = *cap ? 2 * *cap : 64;
        *v = arena_grow(u, *v, sizeof **v * (size_t) *cap, sizeof **v * (size_t) more);
        *cap = more;
    }
    (*v)[*n].start = start;
    (*v)[*n].end = end;
    (*n)++;
}

/* `/ * corofy: OPTION * /` alone on its line chooses what corofy generates;
 * the output leaves that line out. An unknown option is an error, so a typo
 * cannot silently change the output. */
static void option_comment(struct lexer *lx, int start, int end)
{
    static const char prefix[] = "/* corofy:";
    struct unit *u = lx->u;
    int line = line_of(lx, start), column = col_of(lx, start);

    if (end - start < (int) sizeof prefix - 1 + 2 ||
        memcmp(lx->s + start, prefix, sizeof prefix - 1) != 0)
        return;
    int v = start + (int) sizeof prefix - 1, v_end = end - 2;
    while (v < v_end && is_space((unsigned char) lx->s[v]))
        v++;
    while (v_end > v && is_space((unsigned char) lx->s[v_end - 1]))
        v_end--;
    bool waker = v_end - v == 5 && memcmp(lx->s + v, "waker", 5) == 0;
    bool init = v_end - v == 4 && memcmp(lx->s + v, "init", 4) == 0;
    if (!waker && !init)
        fail_at(u, line, column,
                "unknown corofy option '%.*s': there are two, /* corofy: waker */ (futures "
                "whose poll takes a waker) and /* corofy: init */ (frames in the caller's "
                "storage)",
                v_end - v > 60 ? 60 : v_end - v, lx->s + v);

    int before = start, after = end;
    while (before > 0 && is_space((unsigned char) lx->s[before - 1]))
        before--;
    while (after < lx->len && is_space((unsigned char) lx->s[after]))
        after++;
    if ((before > 0 && lx->s[before - 1] != '\n') || (after < lx->len && lx->s[after] != '\n'))
        fail_at(u, line, column, "/* corofy: %s */ must be on a line of its own",
                waker ? "waker" : "init");
    add_span(u, &u->removed, &u->nremoved, &lx->removed_cap, before,
             after < lx->len ? after + 1 : after); /* with its '\n' */
    u->waker |= waker;
    u->init |= init;
}

/* At the '/' of a '/ *' comment: step over the whole comment. */
static void skip_block_comment(struct lexer *lx, bool record)
{
    int start = char_offset(lx, 0);

    advance(lx, 2);
    for (;;) {
        int c = peek(lx, 0);
        if (c < 0)
            fail_at(lx->u, line_of(lx, start), col_of(lx, start),
                    "unterminated comment: this /* has no closing */");
        check_trigraph(lx, true);
        if (c == '*' && peek(lx, 1) == '/') {
            advance(lx, 2);
            break;
        }
        advance(lx, 1);
    }
    if (record)
        add_span(lx->u, &lx->u->comments, &lx->u->ncomments, &lx->comments_cap, start, lx->pos);
    option_comment(lx, start, lx->pos);
}

/* At the first '/' of a line comment: step to (not over) the newline that
 * ends it. A backslash at the end of a line continues the comment. */
static void skip_line_comment(struct lexer *lx, bool record)
{
    int start = char_offset(lx, 0);
    for (;;) {
        int c = peek(lx, 0);
        if (c < 0 || c == '\n')
            break;
        check_trigraph(lx, true);
        advance(lx, 1);
    }
    if (record)
        add_span(lx->u, &lx->u->comments, &lx->u->ncomments, &lx->comments_cap, start, lx->pos);
}

/* ===== Tokens ===== */

/* At an opening quote: step over the literal. In a directive (`#error don't`)
 * an unterminated literal just ends at the end of the line. */
static void skip_literal(struct lexer *lx, bool in_directive)
{
    int start = char_offset(lx, 0), quote = peek(lx, 0);

    advance(lx, 1);
    for (;;) {
        int c = peek(lx, 0);
        if (c < 0 || c == '\n') {
            if (in_directive)
                return;
            fail_at(lx->u, line_of(lx, start), col_of(lx, start),
                    "unterminated %s: the closing %c is missing on this line",
                    quote == '"' ? "string" : "character constant", quote);
        }
        check_trigraph(lx, false);
        if (c == '\\') {
            int next = peek(lx, 1);
            advance(lx, next == '\n' || next < 0 ? 1 : 2);
            continue;
        }
        advance(lx, 1);
        if (c == quote)
            return;
    }
}

/* At '#', the first token of a line: step to the end of the logical line. */
static void skip_directive(struct lexer *lx)
{
    for (;;) {
        int c = peek(lx, 0);
        if (c < 0 || c == '\n')
            return;
        check_trigraph(lx, true); /* only a ??/ that would continue the line matters here */
        if (c == '/' && peek(lx, 1) == '*')
            skip_block_comment(lx, false);
        else if (c == '/' && peek(lx, 1) == '/')
            skip_line_comment(lx, false);
        else if (c == '"' || c == '\'')
            skip_literal(lx, true);
        else
            advance(lx, 1);
    }
}

/* Punctuators of more than one character, longest first where one is the
 * start of another; the digraphs with the character they stand for. */
static const struct {
    const char *text, *means;
} punctuators[] = {
    {"%:%:", "##"}, {"...", "..."}, {"<<=", "<<="}, {">>=", ">>="}, {"->", "->"}, {"++", "++"},
    {"--", "--"},   {"<<", "<<"},   {">>", ">>"},   {"<=", "<="},   {">=", ">="}, {"==", "=="},
    {"!=", "!="},   {"&&", "&&"},   {"||", "||"},   {"*=", "*="},   {"/=", "/="}, {"%=", "%="},
    {"+=", "+="},   {"-=", "-="},   {"&=", "&="},   {"^=", "^="},   {"|=", "|="}, {"##", "##"},
    {"<:", "["},    {":>", "]"},    {"<%", "{"},    {"%>", "}"},    {"%:", "#"},
};

/* The punctuator at pos: how many characters it has, and what it means. */
static int punctuator(const struct lexer *lx, const char **means)
{
    for (size_t k = 0; k < sizeof punctuators / sizeof punctuators[0]; k++) {
        const char *p = punctuators[k].text;
        int n = (int) strlen(p), i = 0;
        while (i < n && peek(lx, i) == (unsigned char) p[i])
            i++;
        if (i == n) {
            *means = punctuators[k].means;
            return n;
        }
    }
    *means = NULL;
    return 1;
}

/* An identifier followed directly by a quote is a literal's prefix: u8"x", L'y'. */
static bool is_literal_prefix(const char *spelling, int n)
{
    return (n == 1 && (*spelling == 'L' || *spelling == 'u' || *spelling == 'U')) ||
           (n == 2 && memcmp(spelling, "u8", 2) == 0);
}

/* The characters of [start, end) without the line splices among them. */
static const char *unspliced(struct lexer *lx, int start, int end, int *len)
{
    char *text = arena_alloc(lx->u, (size_t) (end - start) + 1);
    int n = 0;
    for (int k = skip_splices(lx, start); k < end; k = skip_splices(lx, k + 1))
        text[n++] = lx->s[k];
    *len = n;
    return text;
}

static void add_spelling(struct lexer *lx, const char *text, int len)
{
    struct unit *u = lx->u;
    if (u->nspellings == lx->spellings_cap) {
        int cap = lx->spellings_cap ? 2 * lx->spellings_cap : 16;
        u->spellings = arena_grow(u, u->spellings, sizeof *u->spellings * (size_t) u->nspellings,
                                  sizeof *u->spellings * (size_t) cap);
        lx->spellings_cap = cap;
    }
    u->spellings[u->nspellings++] = (struct spelling){u->ntoks, text, len};
    u->toks[u->ntoks].respelled = true;
}

static void add_token(struct lexer *lx, enum token_kind kind, int start)
{
    struct unit *u = lx->u;
    if (u->ntoks == lx->tokens_cap) {
        lx->tokens_cap = lx->tokens_cap ? 2 * lx->tokens_cap : 1024;
        struct token *more = realloc(u->toks, sizeof *u->toks * (size_t) lx->tokens_cap);
        if (more == NULL)
            out_of_memory();
        u->toks = more;
    }
    u->toks[u->ntoks] =
        (struct token){.kind = (unsigned char) kind, .start = start, .end = lx->pos, .match = -1};
}

/* Trivia: whitespace and comments, up to the next token. */
static void skip_trivia(struct lexer *lx)
{
    for (;;) {
        int c = peek(lx, 0);
        if (c == '\n') {
            advance(lx, 1);
            lx->line_has_token = false;
        } else if (is_space(c)) {
            advance(lx, 1);
        } else if (c == '/' && peek(lx, 1) == '*') {
            skip_block_comment(lx, true);
        } else if (c == '/' && peek(lx, 1) == '/') {
            skip_line_comment(lx, true);
        } else {
            return;
        }
    }
}

/* One preprocessing number: a digit (or '.' and a digit), then digits,
 * letters, '.', and a sign after an exponent letter. */
static void skip_number(struct lexer *lx)
{
    int last = peek(lx, 0);
    advance(lx, 1);
    for (;;) {
        int d = peek(lx, 0);
        if (!((d == '+' || d == '-') && last >= 0 && strchr("eEpP", last) != NULL) &&
            !is_ident_char(d) && d != '.')
            return;
        last = d;
        advance(lx, 1);
    }
}

/* The token at pos (after its trivia); returns false at the end of the file. */
static bool next_token(struct lexer *lx)
{
    int c = peek(lx, 0), start = char_offset(lx, 0);
    const char *means = NULL;
    enum token_kind kind;

    lx->pos = start;
    check_trigraph(lx, false);
    if (c < 0) {
        add_token(lx, TOK_EOF, start);
        lx->u->ntoks++;
        return false;
    }
    if ((c == '#' || (c == '%' && peek(lx, 1) == ':')) && !lx->line_has_token) {
        skip_directive(lx);
        kind = TOK_DIRECTIVE;
    } else if (is_ident_start(c)) {
        while (is_ident_char(peek(lx, 0)))
            advance(lx, 1);
        kind = TOK_IDENT;
        int next = peek(lx, 0), len = 0;
        const char *prefix = next == '"' || next == '\'' ? unspliced(lx, start, lx->pos, &len) : "";
        if (is_literal_prefix(prefix, len)) {
            kind = next == '"' ? TOK_STRING : TOK_CHAR;
            skip_literal(lx, false);
        }
    } else if ((c >= '0' && c <= '9') || (c == '.' && peek(lx, 1) >= '0' && peek(lx, 1) <= '9')) {
        skip_number(lx);
        kind = TOK_NUMBER;
    } else if (c == '"' || c == '\'') {
        kind = c == '"' ? TOK_STRING : TOK_CHAR;
        skip_literal(lx, false);
    } else {
        advance(lx, punctuator(lx, &means));
        kind = TOK_PUNCT;
    }
    add_token(lx, kind, start);
    size_t n = (size_t) (lx->pos - start);
    bool spliced = kind != TOK_DIRECTIVE && kind != TOK_STRING && kind != TOK_CHAR &&
                   memchr(lx->s + start, '\\', n) != NULL;
    if (means != NULL && (strlen(means) != n || memcmp(means, lx->s + start, n) != 0)) {
        add_spelling(lx, means, (int) strlen(means)); /* a digraph, or spliced */
    } else if (spliced) {
        int len;
        const char *text = unspliced(lx, start, lx->pos, &len);
        add_spelling(lx, text, len);
    }
    lx->u->ntoks++;
    lx->line_has_token = true;
    return true;
}

/* ===== Brackets ===== */

static char bracket_char(const struct unit *u, int i)
{
    int len;
    const char *s = tok_text(u, i, &len);
    return u->toks[i].kind == TOK_PUNCT && len == 1 ? *s : '\0';
}

/* Pairs every ( [ { with its ) ] } (token.match), using `stack` for the
 * brackets still open. Fails at the first one without a partner. */
static void match_brackets(struct unit *u)
{
    int stack[MAX_NESTING], depth = 0;

    for (int i = 0; i < u->ntoks; i++) {
        char c = bracket_char(u, i);
        if (c == '(' || c == '[' || c == '{') {
            if (depth == MAX_NESTING)
                fail(u, i, "brackets nested more than %d deep; corofy does not go deeper",
                     MAX_NESTING);
            stack[depth++] = i;
        } else if (c == ')' || c == ']' || c == '}') {
            char want = c == ')' ? '(' : c == ']' ? '[' : '{';
            if (depth == 0)
                fail(u, i, "unbalanced '%c': there is no '%c' before it to close", c, want);
            int open = stack[--depth];
            char have = bracket_char(u, open);
            if (have != want)
                fail(u, i, "unbalanced '%c': the innermost open bracket is the '%c' on line %d", c,
                     have, tok_line(u, open));
            u->toks[open].match = i;
            u->toks[i].match = open;
        }
    }
    if (depth > 0)
        fail(u, stack[depth - 1], "unbalanced '%c': it is never closed (the file ends first)",
             bracket_char(u, stack[depth - 1]));
}

/* ===== The tokenizer ===== */

static void refuse_nul_bytes(struct unit *u)
{
    const char *nul = memchr(u->text, '\0', (size_t) u->len);
    if (nul != NULL) {
        int at = (int) (nul - u->text), line = line_of_offset(u, at);
        fail_at(u, line, at - u->line_starts[line - 1] + 1,
                "a NUL byte: corofy reads C source text, and this is not");
    }
}

/* A carriage return that does not end a line (classic Mac line endings):
 * compilers read it as a line break, so a // comment or a directive would
 * end there for them and not for corofy. */
static void refuse_lone_carriage_returns(struct unit *u)
{
    for (const char *p = u->text; (p = memchr(p, '\r', (size_t) (u->text + u->len - p))) != NULL;
         p++) {
        if (p + 1 < u->text + u->len && p[1] == '\n')
            continue;
        int at = (int) (p - u->text), line = line_of_offset(u, at);
        fail_at(u, line, at - u->line_starts[line - 1] + 1,
                "a carriage return (\\r) that does not end a line: compilers read it as a line "
                "break, corofy does not; save the file with \\n or \\r\\n line endings");
    }
}

void tokenize(struct unit *u)
{
    struct lexer lx = {.u = u, .s = u->text, .len = u->len};

    find_lines(u);
    refuse_nul_bytes(u);
    refuse_lone_carriage_returns(u);
    do
        skip_trivia(&lx);
    while (next_token(&lx));
    struct token *exact = realloc(u->toks, sizeof *u->toks * (size_t) u->ntoks);
    if (exact != NULL) /* give back the room it grew by */
        u->toks = exact;
    mark_keywords(u);
    match_brackets(u);
}
