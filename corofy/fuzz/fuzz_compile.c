/* fuzz_compile.c: the second libFuzzer target for corofy: what corofy
 * writes must compile whenever what it was given does. For each input
 * corofy accepts, it compiles the sequential twin (the input without
 * `coroutine` and `.wait`) with `gcc -fsyntax-only`, against
 * corofy/tests/future.h in its plain-function build; when the twin
 * compiles, corofy's output must compile too (future.h's coroutine build),
 * and corofy must take its own output for plain C. This is the property
 * that caught a `//` comment ending in a backslash swallowing the `}`
 * corofy wrote after it. An input that names SEQUENTIAL itself (as the
 * golden cases that spell out their own twin do) compiles different code in
 * the two builds, so for it the property says nothing and only the
 * translation runs. gcc runs twice an input, so this target is slow
 * (a few inputs a second): make -C corofy fuzz-run-compile. */
#include <errno.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../corofy.h"

#ifndef FUTURE_DIR
#error "build with -DFUTURE_DIR=\"<path of corofy/tests>\" (the Makefile does)"
#endif

extern char **environ;
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Writes all of data to fd; closes it. */
static void write_all(int fd, const char *data, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, data, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        data += k;
        n -= (size_t) k;
    }
    close(fd);
}

/* Does C source `text` compile (gcc -fsyntax-only)? future.h comes first,
 * as corofy's contract asks (it brings struct future and the rest into
 * scope): its plain-function build for the twin (`sequential`), its waker
 * build for a file that asks for that flavour. gcc's messages go to
 * *messages. */
static bool compiles(const char *text, size_t n, bool sequential, bool waker, struct buf *messages)
{
    char *argv[16] = {"gcc",
                      "-std=c11",
                      "-D_GNU_SOURCE",
                      "-fsyntax-only",
                      "-w",
                      ("-I" FUTURE_DIR),
                      "-include",
                      "future.h",
                      "-x",
                      "c"};
    int argc = 10;
    if (sequential)
        argv[argc++] = "-DSEQUENTIAL";
    if (waker)
        argv[argc++] = "-DFUTURE_WAKER";
    argv[argc++] = "-";
    argv[argc] = NULL;
    int in[2], err[2];
    if (pipe(in) < 0 || pipe(err) < 0) {
        perror("fuzz_compile: pipe");
        abort();
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    posix_spawn_file_actions_adddup2(&actions, err[1], 1);
    posix_spawn_file_actions_addclose(&actions, in[1]);
    posix_spawn_file_actions_addclose(&actions, err[0]);
    pid_t pid;
    if (posix_spawnp(&pid, "gcc", &actions, NULL, argv, environ) != 0) {
        perror("fuzz_compile: gcc");
        abort();
    }
    posix_spawn_file_actions_destroy(&actions);
    close(in[0]);
    close(err[1]);
    write_all(in[1], text, n); /* gcc reads all of stdin before it writes much */
    char chunk[4096];
    ssize_t k;
    while ((k = read(err[0], chunk, sizeof chunk)) > 0)
        buf_put(messages, chunk, (size_t) k);
    close(err[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct corofy_options options = {.input_name = "fuzz.c", .output_name = "fuzz_corofied.c"};
    struct buf out = {0}, messages = {0}, twin = {0}, again = {0}, gcc = {0};

    bool translated =
        corofy_translate((const char *) data, size, &options, &out, &messages) == COROFY_OK;
    /* Which flavour corofy chose (the option line may be indented or spaced
     * out): its poll functions say so. The twin compiles against the same
     * future.h. */
    static const char waker_poll[] = "const struct waker *waker, void *output)";
    bool waker = translated && memmem(out.data, out.len, waker_poll, sizeof waker_poll - 1);
    bool own_twin = memmem(data, size, "SEQUENTIAL", strlen("SEQUENTIAL")) != NULL;
    if (translated && !own_twin &&
        corofy_sequential_twin((const char *) data, size, &options, &twin, &messages) &&
        compiles(twin.data, twin.len, true, waker, &gcc)) {
        buf_free(&gcc);
        struct buf other = {0};
        /* The guess above reads text the input can also hold (a comment
           quoting that parameter list): when the output does not compile,
           the other flavour gets its turn before anything is reported. */
        if (!compiles(out.data, out.len, false, waker, &gcc) &&
            !(compiles(twin.data, twin.len, true, !waker, &other) &&
              compiles(out.data, out.len, false, !waker, &other))) {
            fprintf(stderr,
                    "fuzz_compile: the input compiles as plain functions, but "
                    "corofy's output does not:\n%.*s\n--- output ---\n%.*s\n",
                    (int) gcc.len, gcc.data ? gcc.data : "", (int) out.len, out.data);
            abort();
        }
        buf_free(&other);
        if (corofy_translate(out.data, out.len, &options, &again, &messages) !=
            COROFY_NO_COROUTINE) {
            fprintf(stderr, "fuzz_compile: corofy does not take its output for plain C\n");
            abort();
        }
    }
    buf_free(&out);
    buf_free(&messages);
    buf_free(&twin);
    buf_free(&again);
    buf_free(&gcc);
    return 0;
}
