/* fuzz_corofy.c: the first libFuzzer target for corofy: the whole tool in
 * memory (tokenize, parse, generate) on each input, with and without
 * --line, under ASan and UBSan. Besides crashes, leaks and undefined
 * behaviour it checks four promises:
 *   - an error always comes with a message;
 *   - a file without a coroutine comes back byte for byte;
 *   - the output is plain C: corofy finds no coroutine in it and leaves it
 *     unchanged (so no `.wait`, no stray `coroutine`, balanced brackets, and
 *     no comment of corofy's that ends too early);
 *   - the sequential twin of any file corofy accepts can be made too.
 * Build and run: make -C corofy fuzz-run (see corofy/README.md). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../corofy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void broken_promise(const char *what, const struct buf *messages)
{
    fprintf(stderr, "fuzz_corofy: %s\n%s", what, messages->data ? messages->data : "");
    abort();
}

static void translate(const uint8_t *data, size_t size, bool line_directives)
{
    struct corofy_options options = {
        .input_name = "fuzz.c",
        .output_name = "fuzz_corofied.c",
        .line_directives = line_directives,
    };
    struct buf out = {0}, messages = {0}, again = {0}, messages_again = {0}, twin = {0};
    enum corofy_result r = corofy_translate((const char *) data, size, &options, &out, &messages);

    if (r == COROFY_ERROR && messages.len == 0)
        broken_promise("an error without a message", &messages);
    if (r == COROFY_NO_COROUTINE &&
        (out.len != size || (size > 0 && memcmp(out.data, data, size) != 0)))
        broken_promise("a file without coroutines was not copied unchanged", &messages);
    if (r == COROFY_OK && !line_directives) {
        enum corofy_result r2 =
            corofy_translate(out.data, out.len, &options, &again, &messages_again);
        if (r2 != COROFY_NO_COROUTINE)
            broken_promise("corofy does not accept its own output as plain C", &messages_again);
        buf_free(&messages_again);
        if (!corofy_sequential_twin((const char *) data, size, &options, &twin, &messages_again))
            broken_promise("corofy accepts the file but cannot write its twin", &messages_again);
    }
    buf_free(&out);
    buf_free(&messages);
    buf_free(&again);
    buf_free(&messages_again);
    buf_free(&twin);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    translate(data, size, false);
    translate(data, size, true);
    return 0;
}
