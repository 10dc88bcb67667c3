/* corofy.h: what corofy offers its callers: main.c (the command line) and
 * the fuzz targets. corofy is the workbook's coroutine preprocessor; its
 * stages (tokenize, parse, generate) and what they share are described in
 * unit.h. ch04-coroutines and ch05-runtime compile what it writes. */
#ifndef COROFY_H
#define COROFY_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* ===== Byte buffers ===== */

struct buf {
    char *data; /* NUL-terminated once anything was written; NULL before */
    size_t len; /* bytes in data, without the NUL */
    size_t cap; /* bytes allocated */
};

void buf_reserve(struct buf *b, size_t extra); /* room for `extra` more bytes */
void buf_put(struct buf *b, const char *s, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void buf_free(struct buf *b);

/* ===== One translation ===== */

struct corofy_options {
    const char *input_name;  /* the input path as given: used in messages and #line */
    const char *output_name; /* where the output goes: used by #line for corofy's own lines */
    bool line_directives;    /* --line: add #line directives that point at the input */
};

enum corofy_result {
    COROFY_OK,           /* *out holds the translation */
    COROFY_NO_COROUTINE, /* no coroutine: *out is a byte-for-byte copy, a warning was added */
    COROFY_ERROR,        /* *messages holds the error; *out must not be used */
};

/* Translate `len` bytes of C (with corofy's dialect) into plain C. Appends the
 * output to *out and any diagnostics ("file:line:col: error: ...", one per
 * line) to *messages. Never exits, never touches a file: everything happens
 * in memory, so a fuzz target can call it in a loop. (driver.c) */
enum corofy_result corofy_translate(const char *text, size_t len,
                                    const struct corofy_options *options, struct buf *out,
                                    struct buf *messages);

/* The sequential twin of a dialect file: the same text with every
 * `coroutine` and every `.wait` left out, and nothing else changed, so that
 * a plain C compiler can check and run the program as ordinary functions.
 * Returns false (with a message) when the text cannot be tokenized. The
 * tests and the fuzz targets compare a program with its twin. (driver.c) */
bool corofy_sequential_twin(const char *text, size_t len, const struct corofy_options *options,
                            struct buf *out, struct buf *messages);

/* ===== Unified diff (diff.c), for --check ===== */

/* Append to *out a unified diff (3 lines of context) that turns a into b.
 * Returns false when a and b are equal (nothing appended). */
bool unified_diff(const char *a, size_t alen, const char *b, size_t blen, const char *a_label,
                  const char *b_label, struct buf *out);

#endif
