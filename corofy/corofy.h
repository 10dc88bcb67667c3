/* corofy.h: the parts of corofy, the workbook's coroutine preprocessor, and
 * how they fit together. tokenize.c cuts the input into tokens, parse.c finds
 * the coroutines and parses their bodies into statements, generate.c writes
 * the output; support.c holds memory, buffers, diagnostics and the driver
 * (corofy_translate) that runs the three in order. main.c is the command line.
 * Written for corofy/ (issue 6); ch04-coroutines and ch05-runtime use it. */
#ifndef COROFY_H
#define COROFY_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* ===== The driver: what main.c and the fuzz target call ===== */

struct corofy_options {
    const char *input_name;   /* the input path as given: used in messages and #line */
    const char *output_name;  /* where the output goes: used by #line for corofy's own lines */
    bool line_directives;     /* --line: add #line directives that point at the input */
};

enum corofy_result {
    COROFY_OK,            /* *out holds the translation */
    COROFY_NO_COROUTINE,  /* no coroutine: *out is a byte-for-byte copy, a warning was added */
    COROFY_ERROR,         /* *messages holds the error; *out must not be used */
};

struct buf;

/* Translate `len` bytes of C (with corofy's dialect) into plain C. Appends the
 * output to *out and any diagnostics ("file:line:col: error: ...", one per
 * line) to *messages. Never exits, never touches a file: everything happens in
 * memory, so the fuzz target can call it in a loop. */
enum corofy_result corofy_translate(const char *text, size_t len,
                                    const struct corofy_options *options, struct buf *out,
                                    struct buf *messages);

/* ===== Byte buffers ===== */

struct buf {
    char *data;  /* NUL-terminated once anything was written; NULL before */
    size_t len;  /* bytes in data, without the NUL */
    size_t cap;  /* bytes allocated */
};

void buf_put(struct buf *b, const char *s, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void buf_free(struct buf *b);

/* ===== Tokens (tokenize.c) =====
 *
 * Whitespace and comments are not tokens. Each token remembers where the
 * "trivia" before it begins, so the text between two tokens (and thus any
 * stretch of the file) can be copied byte for byte. A preprocessor directive,
 * with its continuation lines, is a single token: corofy never looks inside. */

enum token_kind {
    TOK_EOF,        /* the end of the file; its trivia is the file's tail */
    TOK_IDENT,      /* identifiers and keywords */
    TOK_NUMBER,     /* preprocessing numbers: 42, 0x1f, 1.5e-3, 10UL */
    TOK_STRING,     /* "...", with any L/u/U/u8 prefix */
    TOK_CHAR,       /* '...', with any prefix */
    TOK_PUNCT,      /* operators and punctuation: ( ) { } ; -> ... */
    TOK_DIRECTIVE,  /* #include, #define, ... to the end of the (logical) line */
};

struct token {
    enum token_kind kind;
    int start;   /* offset of the first byte */
    int len;     /* bytes */
    int trivia;  /* offset where the whitespace and comments before it begin */
    int line;    /* 1-based line of the first byte */
    int col;     /* 1-based byte column of the first byte */
    int match;   /* ( [ { and ) ] }: index of the partner token; -1 for others */
};

/* A stretch of the input that the output leaves out (the flavour line). */
struct span {
    int start, end;
};

/* ===== Statements of a coroutine body (parse.c) ===== */

/* One `.wait`: the statement it ends is `EXPR.wait;`, `name = EXPR.wait;`,
 * `T name = EXPR.wait;` or `return EXPR.wait;`. */
struct wait_point {
    int number;            /* 1, 2, ... in source order: its case label */
    int expr_lo, expr_hi;  /* tokens of EXPR: [expr_lo, expr_hi) */
    int stmt_lo, stmt_hi;  /* the whole statement, ';' included: for the comment */
};

struct declarator {
    int lo, hi;                /* its tokens, [lo, hi), without '=' and the initialiser */
    int name;                  /* the declared identifier */
    int init_lo, init_hi;      /* the initialiser; init_lo == init_hi when there is none */
    bool is_array;             /* the name is followed by '[' */
    bool is_function;          /* the name is followed by '(' */
    struct wait_point *wait;   /* the initialiser is `EXPR.wait` */
};

struct decl {
    int spec_lo, spec_hi;       /* the declaration specifiers: [spec_lo, spec_hi) */
    bool is_static;             /* static, extern or _Thread_local: stays a C local */
    struct declarator *items;
    int count;
    int trailing_comment;       /* offset of a comment on the same line after ';', or -1 */
    int trailing_comment_end;
};

enum stmt_kind {
    STMT_BLOCK,      /* { items } */
    STMT_IF,         /* if (head) body [else else_body] */
    STMT_WHILE,      /* while (head) body */
    STMT_DO,         /* do body while (head); */
    STMT_FOR,        /* for (head) body; decl when the header declares */
    STMT_SWITCH,     /* switch (head) body: the student's own switch (no waits inside) */
    STMT_LABEL,      /* name: / case X: / default: followed by body (NULL at a block's end) */
    STMT_RETURN,     /* return [expr]; or return EXPR.wait; */
    STMT_DECL,       /* a declaration */
    STMT_WAIT,       /* EXPR.wait; or name = EXPR.wait; */
    STMT_DIRECTIVE,  /* a preprocessor line between statements */
    STMT_SIMPLE,     /* anything else, copied with its identifiers rewritten */
};

struct stmt {
    enum stmt_kind kind;
    int lo, hi;                     /* tokens [lo, hi) */
    int head;                       /* '(' of an if/while/do/for/switch header */
    struct stmt *body;              /* if/while/do/for/switch/label */
    struct stmt *else_body;         /* if */
    int else_tok;                   /* if: the 'else' token; do: the 'while' token */
    struct stmt **items;            /* block */
    int count;                      /* block */
    struct decl *decl;              /* declaration; for: a declaration in the header */
    int init_lo, init_hi;           /* for: the three parts of the header */
    int cond_lo, cond_hi;
    int step_lo, step_hi;
    struct wait_point *wait;        /* wait, and return EXPR.wait */
    int dest;                       /* wait: the token of `name` in `name = EXPR.wait;`, or -1 */
    int expr_lo, expr_hi;           /* return: the value (empty for `return;`) */
    int label_hi;                   /* label: one past its ':' */
    bool is_declaration_like;       /* simple: a _Static_assert (a label may not precede it) */
    bool has_wait;                  /* a wait point somewhere inside */
};

struct param {
    int lo, hi;  /* its tokens */
    int name;    /* the parameter's name */
};

/* `coroutine T name(params) { body }`, or a declaration `coroutine T name(params);`. */
struct coroutine {
    int first;             /* its first token: a storage class or `coroutine` */
    int keyword;           /* the `coroutine` token */
    int type_lo, type_hi;  /* the return type: [type_lo, type_hi) */
    bool is_static;        /* declared static (the constructor stays static) */
    bool returns_void;
    int name;              /* the function's name */
    int lparen, rparen;    /* the parameter list */
    int last;              /* its last token: '}' of the body, or ';' of a declaration */
    bool is_definition;
    struct param *params;
    int nparams;
    struct stmt *body;     /* a block; NULL for a declaration */
    int nwaits;
    struct coroutine *next;
};

/* ===== One translation: everything the three stages share ===== */

struct arena_block;

struct unit {
    const struct corofy_options *options;
    const char *text;   /* the input; not NUL-terminated */
    int len;
    const char *base_name;  /* the input's file name without its directories */

    struct token *toks; /* ntoks tokens, the last one TOK_EOF */
    int ntoks;
    int *line_starts;   /* offset of the first byte of each line (index 0: line 1) */
    int nlines;

    struct span *removed;  /* stretches the output leaves out, in order */
    int nremoved;
    bool waker;            /* the file asked for the waker flavour */

    const char **typedef_names;  /* names the file declares with typedef */
    int *typedef_lens;
    int ntypedefs;

    struct coroutine *coroutines;  /* in file order */
    int ncoroutines;

    struct arena_block *arena;  /* everything above is allocated here */
    struct buf *out;
    struct buf *messages;
    struct buf scratch;         /* first generation pass of a poll function */
    jmp_buf failed;             /* fail() jumps here */
};

/* ===== Support (support.c) ===== */

void *arena_alloc(struct unit *u, size_t size);              /* zeroed, never NULL */
void *arena_grow(struct unit *u, void *old, size_t old_size, size_t new_size);
char *arena_strdup(struct unit *u, const char *s, size_t n);
char *arena_printf(struct unit *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Report an error at a token (or a line and column) and abandon the
 * translation: control returns to corofy_translate, which frees everything. */
_Noreturn void fail(struct unit *u, int tok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
_Noreturn void fail_at(struct unit *u, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void warn(struct unit *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

bool tok_is(const struct unit *u, int i, const char *text);  /* exact text */
bool tok_punct(const struct unit *u, int i, const char *p);  /* a TOK_PUNCT with that text */
bool tok_keyword(const struct unit *u, int i);               /* a C keyword (or a GNU one) */
int line_of_offset(const struct unit *u, int offset);        /* 1-based */
bool tok_is_wait(const struct unit *u, int i);  /* '.' of a `.wait` (not a designator) */

/* The first token after the declaration specifiers starting at i (parse.c). */
int skip_specifiers(const struct unit *u, int i, int hi);
bool is_typedef_name(const struct unit *u, int i);      /* a known type name */
bool is_type_name_group(const struct unit *u, int open); /* `(T *)` of a cast */
int trailing_comment(const struct unit *u, int tok, int *end);  /* a comment after tok on its line */

/* ===== The three stages ===== */

void tokenize(struct unit *u);  /* fills toks, line_starts, removed, waker */
void parse(struct unit *u);     /* fills coroutines, typedef_names; checks the dialect */
void generate(struct unit *u);  /* writes the output to u->out */

/* ===== Unified diff (diff.c), for --check ===== */

/* Append to *out a unified diff (3 lines of context) that turns a into b.
 * Returns false when a and b are equal (nothing appended). */
bool unified_diff(const char *a, size_t alen, const char *b, size_t blen,
                  const char *a_label, const char *b_label, struct buf *out);

#endif
