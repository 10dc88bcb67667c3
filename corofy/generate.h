/* generate.h: what the three files that write corofy's output share:
 * writer.c (lines, indentation, #line), generate.c (the frame, the
 * statements, the pieces of each coroutine) and lower.c (expressions that
 * wait). Part of corofy/, the coroutine preprocessor of ch04 and ch05. */
#ifndef COROFY_GENERATE_H
#define COROFY_GENERATE_H

#include "unit.h"

/* ===== The writer (writer.c) =====
 *
 * Writes lines with the current indentation and keeps the line numbers that
 * --line needs: each output line comes from a source line (origin > 0) or is
 * corofy's own (origin 0), and a #line directive is written whenever what
 * the compiler would assume differs from that. A line ends lazily, when the
 * next one starts, so a comment can still be appended to it. Every '\n'
 * written becomes the file's own line ending (\r\n in a \r\n file). */

struct writer {
    struct buf *out;   /* NULL: a dry run, which writes nothing but counts all the same */
    const char *eol;   /* "\n" or "\r\n" */
    int indent;        /* spaces at the start of a new line */
    int col;           /* bytes on the current line so far */
    bool line_comment; /* the current line ends in a // comment */
    bool blank;        /* the last finished line was empty */
    bool pending_cr;   /* a \r was held back: it may be part of a line ending */
    bool trivia;       /* what is written now is blanks and comments, not code */
    bool code;         /* the current line holds code: a '#' here starts no directive */
    char last;         /* the last byte written on the current line */
    int out_line;      /* 1-based number of the current output line */
    int origin;        /* its source line, 0 for corofy's own lines, -1: any (no #line) */
    bool fixed;        /* the origin stays put on the next lines (a wait point's lines) */
    bool directives;   /* --line */
    const char *src_name, *out_name;
    int presumed;      /* the line number the compiler gives the current line */
    bool presumed_src; /* ... and whether it thinks it is in the source file */
};

void w_raw(struct writer *w, const char *s, size_t n); /* text, possibly several lines */
void w_text(struct writer *w, const char *s);
void w_printf(struct writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void w_vprintf(struct writer *w, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void w_spaces(struct writer *w, int n);
void w_start(struct writer *w, int origin);   /* a new line from source line origin (0: ours) */
void w_join(struct writer *w, const char *s); /* continue the line, unless a // comment ends it */
void w_blank_line(struct writer *w);

/* ===== The frame and the names in scope (generate.c) ===== */

enum field_kind {
    FIELD_PARAM, /* a parameter of the coroutine */
    FIELD_LOCAL, /* a local of its body */
    FIELD_TEMP,  /* a value corofy keeps while an expression waits */
};

struct field {
    enum field_kind kind;
    const char *name; /* the member's name */
    const char *decl; /* its declaration, without ';' */
    const char *key;  /* its type, with '@' where the name goes */
    const char *orig; /* the variable's name in the source */
    int orig_len;
    const char *comment; /* for the frame struct: the student's, or corofy's, or NULL */
    bool in_use;         /* a variable in scope lives in it */
    int lines[4];        /* where it was declared (the first few) */
    int nlines;
    int same_orig; /* the field made before it for the same source name, or -1 */
};

/* A name in scope: the field it lives in, or -1 for a real C local of the
 * poll function (a static, or a variable-length array no wait follows). */
struct binding {
    const char *name;
    int len;
    int field;
    const char *key; /* its type, '@' for the name (for __typeof__ witnesses) */
    bool is_array;
    int hidden; /* the binding of the same name it hides, or -1 */
    int block;  /* the nesting of the block that declared it */
};

struct gen {
    struct unit *u;
    struct coroutine *co;
    struct writer *w;
    const char *name; /* the coroutine's name */

    struct field *fields;
    int nfields, fields_cap;
    int fields_made;          /* by any pass so far */
    struct table field_names; /* member name -> field */
    struct table last_orig;   /* source name -> the last field made for it */

    struct binding *scope;
    int nscope, scope_cap;
    struct table innermost; /* name -> its innermost binding in scope */
    int block;              /* how many blocks deep the current statement is */
    struct table exposed;   /* names used as `&name` or `name.member`: not private */
    struct table labels;    /* the labels of the body */

    const char *return_type; /* with top-level const removed */
    const char *output_cast; /* "(T *)" */
    const char *return_key;  /* "T @" */
    bool needs_result;       /* some return needs the `result` temporary */
    bool uses_output;        /* some return writes *output */
    int waits_to_come;       /* statements with a wait from the current one to its block's end */
    bool after_label;        /* the last thing written was a label */
    bool join;               /* the next statement continues the current line (else if) */
    bool no_trailing;        /* the next comment goes on its own line */
    int consumed;            /* comments before this offset moved into the frame struct */

    bool witness;          /* emit_ident writes type witnesses (inside __typeof__) */
    bool one_line;         /* the student's line breaks become spaces */
    int base;              /* the visual column the statement being written starts at */
    int expr_lo, expr_hi;  /* the full expression being lowered */
    struct table modified; /* the names it changes (++, --, assignments) ... */
    bool modified_known;   /* ... once worked out */
    int *trampolines;      /* wait points inside a switch of the body's own (pass 1) */
    int ntrampolines, trampolines_cap;
};

const char *type_text(struct unit *u, int spec_lo, int spec_hi, int dlo, int dhi, int name,
                      const char *name_as, bool adjust_array);
const char *key_of_type(struct unit *u, const char *type); /* "int" -> "int @" */
struct binding *lookup(struct gen *g, const char *name, int len);
struct binding *lookup_tok(struct gen *g, int i);
int local_field(struct gen *g, const struct decl *d, const struct declarator *dl);
void bind_c_local(struct gen *g, int tok, const char *key, bool is_array);
void unbind_to(struct gen *g, int mark);
int new_temp(struct gen *g, const char *prefix, int tok, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void set_field_decl(struct gen *g, int f, const char *key);
const char *label_name(struct gen *g, const char *prefix, int tok);

/* ===== Writing the student's code (generate.c) ===== */

void begin_line(struct gen *g, int tok);
void gen_line(struct gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void gen_line_at(struct gen *g, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void emit_tokens(struct gen *g, int lo, int hi, bool lead);
void emit_trivia_between(struct gen *g, int a, int b, int next);
void emit_leading(struct gen *g, int tok, bool allow_blank, bool final_blank);
void gen_items(struct gen *g, const struct stmt *block);
const char *collapsed_text(struct unit *u, int lo, int hi); /* one line, for comments */
const char *comment_safe(struct unit *u, const char *s, size_t n);
void gen_wait(struct gen *g, const struct expr *wait, const char *dest, const char *name);

/* ===== Expressions that wait (lower.c) ===== */

/* Writes, as statements, everything that must happen before e's value can
 * be used: its wait points and the parts hoisted around them, in the order
 * C would evaluate them left to right. Afterwards emit_expr writes e as a C
 * expression without a wait. `need`: e's value is used. */
void lower(struct gen *g, struct expr *e, bool need);
void emit_expr(struct gen *g, const struct expr *e, bool lead);
bool has_effect(struct gen *g, const struct expr *e); /* after lower: is e worth a statement? */
const char *expr_text(struct gen *g, const struct expr *e); /* emit_expr into a string */
const struct expr *strip_parens(const struct expr *e);
void lower_top(struct gen *g, struct expr *e, bool need); /* lower() for a full expression */
bool lower_direct(struct gen *g, struct expr *value, const char *dest_key, const char *dest,
                  const char *name);
bool lower_assignment_direct(struct gen *g, struct expr *assign);

#endif
