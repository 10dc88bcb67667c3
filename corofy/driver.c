/* driver.c: runs corofy's stages on one input, in memory (tokenize, parse,
 * generate), and writes the sequential twin of an input. What main.c and
 * the fuzz targets call (corofy.h). Part of corofy/, the coroutine
 * preprocessor of ch04-coroutines and ch05-runtime. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* A unit for `len` bytes of `text`, or NULL (with a message) when the
 * input is too large for corofy's int offsets. */
static struct unit *unit_new(const char *text, size_t len, const struct corofy_options *options,
                             struct buf *out, struct buf *messages)
{
    if (len > (size_t) INT32_MAX / 4) {
        buf_printf(messages, "%s: error: the file is too large for corofy\n", options->input_name);
        return NULL;
    }
    struct unit *u = calloc(1, sizeof *u);
    if (u == NULL)
        out_of_memory();
    u->options = options;
    u->text = text;
    u->len = (int) len;
    u->base_name = base_name(options->input_name);
    u->out = out;
    u->messages = messages;
    return u;
}

/* Everything a unit holds: the arena, and the three arrays that grow by
 * realloc (a big input would leave too many abandoned copies in the arena). */
static void unit_free(struct unit *u)
{
    free(u->toks);
    free(u->line_starts);
    free(u->tab_columns);
    arena_free(u);
    free(u);
}

enum corofy_result corofy_translate(const char *text, size_t len,
                                    const struct corofy_options *options, struct buf *out,
                                    struct buf *messages)
{
    /* volatile: read after fail() comes back to setjmp below */
    struct unit *volatile u = unit_new(text, len, options, out, messages);
    volatile enum corofy_result result = COROFY_ERROR;

    if (u == NULL)
        return COROFY_ERROR;
    if (setjmp(u->failed) == 0) {
        tokenize(u);
        parse(u);
        if (u->ncoroutines == 0) {
            warn(u, "no coroutine in this file; the output is an unchanged copy");
            buf_put(out, text, len);
            result = COROFY_NO_COROUTINE;
        } else {
            generate(u);
            result = COROFY_OK;
        }
    }
    unit_free(u);
    return result;
}

/* ===== The sequential twin ===== */

/* Token i is the `coroutine` of the dialect: at file scope, as parse.c
 * reads it. (depth: brackets open before it) */
static bool is_dialect_keyword(const struct unit *u, int i, int depth)
{
    return depth == 0 && u->toks[i].kind == TOK_IDENT && tok_is(u, i, "coroutine");
}

bool corofy_sequential_twin(const char *text, size_t len, const struct corofy_options *options,
                            struct buf *out, struct buf *messages)
{
    struct unit *volatile u = unit_new(text, len, options, out, messages);
    volatile bool ok = false;

    if (u == NULL)
        return false;
    if (setjmp(u->failed) == 0) {
        tokenize(u);
        int copied = 0, depth = 0; /* text before `copied` is already out */
        for (int i = 0; i < u->ntoks; i++) {
            int lo = -1, hi = -1; /* tokens [lo, hi] to leave out */
            if (is_dialect_keyword(u, i, depth))
                lo = hi = i;
            else if (tok_is_wait(u, i))
                lo = i, hi = i + 1;
            else if (u->toks[i].match > i)
                depth++;
            else if (u->toks[i].match >= 0)
                depth--;
            if (lo >= 0) {
                buf_put(out, text + copied, (size_t) (u->toks[lo].start - copied));
                copied = u->toks[hi].end;
                i = hi;
            }
        }
        buf_put(out, text + copied, len - (size_t) copied);
        ok = true;
    }
    unit_free(u);
    return ok;
}
