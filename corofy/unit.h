/* unit.h: corofy's insides, shared by its stages. One translation is a
 * `struct unit`: tokenize.c cuts the input into tokens, parse.c finds the
 * coroutines and parses their bodies into statements (and, where a wait
 * sits inside one, expressions: expr.c), generate.c writes the output with
 * the help of lower.c (expressions that wait) and writer.c (lines and
 * #line). support.c holds what they all use; driver.c runs them in order.
 * Nothing here is seen by main.c, which only knows corofy.h. */
#ifndef COROFY_UNIT_H
#define COROFY_UNIT_H

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>

#include "corofy.h"

/* ===== Tokens (tokenize.c) =====
 *
 * Whitespace and comments are not tokens: they are the "trivia" between two
 * tokens, which is copied byte for byte wherever corofy keeps the text. A
 * preprocessor directive, with its continuation lines, is one token: corofy
 * never looks inside. Line splices (a backslash at the end of a line) are
 * undone as C does, so a token may be spelled differently from its bytes. */

enum token_kind {
    TOK_EOF,       /* the end of the file; the trivia before it is the file's tail */
    TOK_IDENT,     /* identifiers and keywords */
    TOK_NUMBER,    /* preprocessing numbers: 42, 0x1f, 1.5e-3, 10UL */
    TOK_STRING,    /* "...", with any L/u/U/u8 prefix */
    TOK_CHAR,      /* '...', with any prefix */
    TOK_PUNCT,     /* operators and punctuation: ( ) { } ; -> ... */
    TOK_DIRECTIVE, /* #include, #define, ... to the end of the (logical) line */
};

/* Kept small: a big input has millions. Its line, column and trivia are
 * worked out when needed (tok_line, tok_col, tok_trivia). */
struct token {
    unsigned char kind; /* enum token_kind */
    bool respelled;     /* spelled differently from its bytes (a splice inside, a digraph) */
    bool keyword;       /* a C keyword (or a GNU one): set once tokens are known */
    int start, end;     /* its bytes: [start, end) of the input */
    int match;          /* ( [ { and ) ] }: the index of its partner; -1 for others */
};

/* A stretch of the input: a comment, or a line the output leaves out. */
struct span {
    int start, end;
};

/* ===== Expressions that wait (expr.c) =====
 *
 * An expression with a `.wait` inside is parsed into a tree when its
 * statement is written (and once before, to check it), and only as finely
 * as the lowering needs: a part without a wait is one EXPR_PLAIN node,
 * copied as it was written. The kids of a node are in source order, which
 * is the order corofy evaluates them in (left to right). Trees live in the
 * unit's scratch arena and die with the statement, so a big file never
 * holds them all at once. */

enum expr_kind {
    EXPR_PLAIN,  /* holds no wait */
    EXPR_WAIT,   /* kids[0].wait */
    EXPR_AND,    /* kids[0] && kids[1] */
    EXPR_OR,     /* kids[0] || kids[1] */
    EXPR_COND,   /* kids[0] ? kids[1] : kids[2] */
    EXPR_COMMA,  /* kids[0], kids[1] */
    EXPR_ASSIGN, /* kids[0] op kids[1], for = and every compound assignment */
    EXPR_CALL,   /* kids[0](kids[1], ...) */
    EXPR_PAREN,  /* (kids[0]) */
    EXPR_OTHER,  /* any other operator, subscript, member access, cast, initialiser list */
};

struct expr {
    unsigned char kind; /* enum expr_kind */
    bool has_wait;      /* a wait somewhere inside */
    /* Set by the lowering (lower.c) while it writes the statement: */
    bool hoisted;   /* its value is now in frame field `field` ... */
    bool deref;     /* ... or the field points to it (a place found early) */
    bool discarded; /* its value was not wanted, and nothing is left of it */
    int lo, hi;     /* its tokens: [lo, hi) */
    int op;         /* the operator token: && || ? , = += ...; the '.' of a wait */
    int wait;       /* EXPR_WAIT: its number (see struct coroutine) */
    int nkids;
    int field;
    struct expr **kids;
    const struct expr *same; /* it now reads as this kid (a comma's right side) */
};

/* An expression of a statement that waits: its tokens, and whether it is an
 * initialiser (which may be a braced list). */
struct wexpr {
    int lo, hi;
    bool initializer;
};

/* ===== Statements of a coroutine body (parse.c) ===== */

/* One `.wait`: a place where the coroutine can stop and be resumed. */
struct wait_point {
    int dot;              /* the '.' of `.wait` */
    int stmt_lo, stmt_hi; /* the statement it is in, for the comment */
    bool alone;           /* the statement's only wait: its comment shows the statement */
    bool in_switch;       /* inside a switch of the coroutine's own */
};

struct declarator {
    int lo, hi;           /* its tokens, [lo, hi), without '=' and the initialiser */
    int name;             /* the declared identifier */
    int init_lo, init_hi; /* the initialiser; init_lo == init_hi when there is none */
    bool is_array;        /* the name is followed by '[' */
    const char *key;      /* its type with '@' for the name, once generate.c needs it */
    bool is_function;     /* the name is followed by '(' */
    struct wexpr *init;   /* the initialiser, when a wait is inside */
};

struct decl {
    int spec_lo, spec_hi; /* the declaration specifiers: [spec_lo, spec_hi) */
    bool is_static;       /* static, extern or _Thread_local: stays a C local */
    struct declarator *items;
    int count;
    int trailing_comment; /* index of a comment on the same line after ';', or -1 */
};

enum stmt_kind {
    STMT_BLOCK,     /* { items } */
    STMT_IF,        /* if (head) body [else else_body] */
    STMT_WHILE,     /* while (head) body */
    STMT_DO,        /* do body while (head); */
    STMT_FOR,       /* for (head) body; decl when the header declares */
    STMT_SWITCH,    /* switch (head) body */
    STMT_LABEL,     /* name: / case X: / default: followed by body (NULL at a block's end) */
    STMT_RETURN,    /* return [expression]; */
    STMT_DECL,      /* a declaration */
    STMT_EXPR,      /* an expression statement */
    STMT_CONTINUE,  /* continue; */
    STMT_DIRECTIVE, /* a preprocessor line between statements */
    STMT_SIMPLE,    /* anything else (break, goto, ';', _Static_assert): copied as it is */
};

/* What only loops and for statements need. */
struct loop {
    int keyword;          /* the first token of the loop statement */
    int init_lo, init_hi; /* for: the three parts of the header */
    int cond_lo, cond_hi;
    int step_lo, step_hi;
    struct wexpr *init, *step; /* ... when a wait is inside */
    bool continue_label;       /* its `continue`s jump to a label corofy writes ... */
    bool has_continue;         /* ... if it has any */
};

/* A big input can hold millions of statements, so a small one (STMT_SIMPLE
 * and STMT_DIRECTIVE: stmt_is_small) is allocated without the fields after
 * `hi`, which the other kinds need. */
struct stmt {
    unsigned char kind;    /* enum stmt_kind */
    bool has_wait;         /* a wait point somewhere inside */
    bool declaration_like; /* simple: a _Static_assert (a label may not precede it) */
    int lo, hi;            /* tokens [lo, hi) */
    /* ---- not in a small statement ---- */
    int head;               /* '(' of an if/while/do/for/switch header; -1 otherwise */
    int else_tok;           /* if: the 'else' token; do: the 'while' token; label: one past ':' */
    struct wexpr *expr;     /* the expression (statement, return value, header), when it waits */
    struct stmt *body;      /* if/while/do/for/switch/label */
    struct stmt *else_body; /* if */
    struct stmt **items;    /* block */
    int count;              /* block */
    struct decl *decl;      /* declaration; for: a declaration in the header */
    struct loop *loop;      /* while/do/for; continue: the loop it continues */
};

struct param {
    int lo, hi;      /* its tokens */
    int name;        /* the parameter's name */
    const char *key; /* its type with '@' for the name, once generate.c needs it */
};

/* `coroutine T name(params) { body }`, or a declaration `coroutine T name(params);`. */
struct coroutine {
    int first;            /* its first token: a storage class or `coroutine` */
    int keyword;          /* the `coroutine` token */
    int type_lo, type_hi; /* the return type: [type_lo, type_hi) */
    bool is_static;       /* declared static (the constructors stay static) */
    bool returns_void;
    int name;           /* the function's name */
    int lparen, rparen; /* the parameter list */
    int last;           /* its last token: '}' of the body, or ';' of a declaration */
    bool is_definition;
    struct param *params;
    int nparams;
    struct stmt *body;        /* a block; NULL for a declaration */
    struct wait_point *waits; /* its wait points, in source order: wait point N is waits[N - 1] */
    int nwaits, waits_cap;
    const char *type_key; /* its return type with '@' for a name, once needed */
    struct coroutine *next;
};

static inline bool stmt_is_small(enum stmt_kind kind)
{
    return kind == STMT_SIMPLE || kind == STMT_DIRECTIVE;
}

/* ===== Names to numbers (support.c) =====
 *
 * A small hash table, so that looking a name up stays cheap in a coroutine
 * with thousands of locals. Entries live in the unit's arena. */

struct table_slot {
    const char *name;
    int len;
    int value;
};

struct table {
    struct table_slot *slots;
    int cap, count;
};

/* ===== One translation: everything the stages share ===== */

struct arena_block;

struct arena_mark {
    struct arena_block *block;
    size_t used;
};

struct unit {
    const struct corofy_options *options;
    const char *text; /* the input; not NUL-terminated */
    int len;
    const char *base_name; /* the input's file name without its directories */
    bool crlf;             /* the file's lines end in \r\n: the output's will too */

    struct token *toks; /* ntoks tokens, the last one TOK_EOF (malloc'd: see driver.c) */
    int ntoks;
    struct spelling *spellings; /* of the respelled tokens, by token index */
    int nspellings;
    int *line_starts; /* offset of the first byte of each line (index 0: line 1) */
    int nlines;
    int *tab_columns;      /* visual column at every 1024th byte (see visual_col) */
    struct span *comments; /* every comment, in order */
    int ncomments;

    struct span *removed; /* stretches the output leaves out (option lines), in order */
    int nremoved;
    bool waker; /* the file asked for the waker flavour */
    bool init;  /* ... for constructors that take the caller's storage */

    struct table typedefs;        /* names the file declares with typedef */
    struct table coroutine_names; /* name -> index in coroutines */

    struct coroutine *coroutines; /* in file order */
    struct coroutine **by_index;  /* the same, as an array (see coroutine_names) */
    int ncoroutines, by_index_cap;

    struct arena_block *arena;   /* everything above is allocated here (but toks) */
    struct arena_block *scratch; /* what lives only while one statement is written */
    struct buf *out;
    struct buf *messages;
    jmp_buf failed; /* fail() jumps here */
};

struct spelling {
    int tok;
    const char *text;
    int len;
};

/* ===== Support (support.c) ===== */

void *arena_alloc(struct unit *u, size_t size); /* zeroed, never NULL */
void *arena_grow(struct unit *u, void *old, size_t old_size, size_t new_size);
char *arena_strdup(struct unit *u, const char *s, size_t n);
char *arena_printf(struct unit *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void arena_free(struct unit *u);
void *scratch_alloc(struct unit *u, size_t size); /* zeroed, never NULL */
struct arena_mark scratch_mark(const struct unit *u);
void scratch_release(struct unit *u, struct arena_mark mark); /* all allocated since mark */
_Noreturn void out_of_memory(void);

int table_get(const struct table *t, const char *name, int len); /* its value, or -1 */
void table_set(struct unit *u, struct table *t, const char *name, int len, int value);
void table_clear(struct table *t); /* empty, keeping the room */

/* Report an error at a token (or a line and column) and abandon the
 * translation: control returns to corofy_translate, which frees everything. */
_Noreturn void fail(struct unit *u, int tok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
_Noreturn void fail_at(struct unit *u, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void warn(struct unit *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

const char *tok_text(const struct unit *u, int i, int *len); /* its spelling */
bool tok_is(const struct unit *u, int i, const char *text);  /* exact spelling */
bool tok_punct(const struct unit *u, int i, const char *p);  /* a TOK_PUNCT spelled p */
bool tok_keyword(const struct unit *u, int i);               /* a C keyword (or a GNU one) */
void mark_keywords(struct unit *u); /* after tokenizing: sets token.keyword */
bool tok_in(const struct unit *u, int i, const char *const *words); /* NULL-terminated */
bool tok_is_wait(const struct unit *u, int i);          /* '.' of a `.wait` (not a designator) */
bool tok_is_ident(const struct unit *u, int i);         /* an identifier that is not a keyword */
int tok_line(const struct unit *u, int i);              /* 1-based line of its first byte */
int tok_col(const struct unit *u, int i);               /* 1-based byte column of its first byte */
int tok_trivia(const struct unit *u, int i);            /* where the trivia before it begins */
int line_of_offset(const struct unit *u, int offset);   /* 1-based */
int visual_col(const struct unit *u, int offset);       /* 0-based, tabs every 8 */
int first_comment_at(const struct unit *u, int offset); /* index of the first comment at or after */
bool is_removed_start(const struct unit *u, int offset, int *end);

/* Words the stages agree on (support.c). */
extern const char *const reserved_names[]; /* names the generated code declares itself */

/* ===== The stages ===== */

void tokenize(struct unit *u); /* fills toks, lines, comments, removed, options */
void parse(struct unit *u);    /* fills coroutines, typedefs; checks the dialect */
void generate(struct unit *u); /* writes the output to u->out */

/* parse.c, also used by generate.c */
int skip_specifiers(const struct unit *u, int i, int hi);
bool is_typedef_name(const struct unit *u, int i);
bool is_type_name_group(const struct unit *u, int open); /* `(T *)` of a cast */
int trailing_comment(const struct unit *u, int tok);     /* comment after tok on its line, or -1 */

/* expr.c: the tree of an expression that waits, in the scratch arena.
 * While parsing (`w` non-NULL) it also adds its wait points to co->waits,
 * with w as their statement's text and place; afterwards it finds them
 * there. */
struct expr *wait_tree(struct unit *u, struct coroutine *co, const struct wexpr *e,
                       const struct wait_point *w);

#endif
