/* main.c: corofy's command line. Reads FILE, translates it in memory
 * (corofy_translate), then writes STEM_corofied.c beside it (or -o FILE, or
 * standard output), or with --check compares with the file already there.
 * Nothing is written when the translation fails. Part of corofy/, the
 * coroutine preprocessor of ch04-coroutines and ch05-runtime. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "corofy.h"

static const char usage[] =
    "usage: corofy [--check] [--line] [--sequential] [-o OUTPUT] FILE\n"
    "Rewrites the `coroutine` functions and `.wait` points of FILE into switch-based\n"
    "state machines (plain C) and writes them to STEM_corofied.c beside FILE.\n"
    "\n"
    "  -o OUTPUT     write OUTPUT instead ('-' for standard output)\n"
    "  --check       write nothing; exit 1 and show a unified diff if the output file\n"
    "                differs from what corofy would write now\n"
    "  --line        add #line directives, so compiler errors and gdb point into FILE\n"
    "  --sequential  write the sequential twin instead: FILE without `coroutine` and\n"
    "                `.wait`, the same program as plain functions (needs -o)\n"
    "  -h, --help    show this help\n"
    "\n"
    "A line `/* corofy: waker */` in FILE selects futures whose poll takes a waker\n"
    "(ch05-runtime); without it, poll(self, output) as in ch04-coroutines. A line\n"
    "`/* corofy: init */` adds NAME_init(storage, ...), which builds a coroutine's\n"
    "frame in storage its caller provides.\n";

struct command {
    const char *input, *output;
    bool check, line, sequential;
};

/* ===== Files ===== */

/* Reads a whole file into *b. Returns 0 or -errno (and *b is then empty). */
static int read_file(const char *path, struct buf *b)
{
    FILE *f = fopen(path, "rb");
    char chunk[65536];
    size_t n;
    struct stat st;

    if (f == NULL)
        return -errno;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        buf_put(b, "", 0); /* room for the whole file at once, not twice that */
        buf_reserve(b, (size_t) st.st_size);
    }
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_put(b, chunk, n);
    int err = ferror(f) ? (errno ? errno : EIO) : 0;
    fclose(f);
    if (err != 0) {
        buf_free(b);
        return -err;
    }
    if (b->data == NULL)
        buf_put(b, "", 0);
    return 0;
}

/* Does the file at path hold exactly data? (Read in chunks, so a big
 * output is not held twice.) */
static bool file_holds(const char *path, const char *data, size_t n)
{
    FILE *f = fopen(path, "rb");
    char chunk[65536];
    size_t k, at = 0;
    bool same = f != NULL;

    while (same && (k = fread(chunk, 1, sizeof chunk, f)) > 0) {
        same = at + k <= n && memcmp(chunk, data + at, k) == 0;
        at += k;
    }
    if (f != NULL)
        same = same && !ferror(f) && at == n;
    if (f != NULL)
        fclose(f);
    return same;
}

/* Write all n bytes to fd. Returns 0 or an errno value. */
static int write_all(int fd, const char *data, size_t n)
{
    for (size_t done = 0; done < n;) {
        ssize_t k = write(fd, data + done, n - done);
        if (k < 0 && errno != EINTR)
            return errno;
        if (k > 0)
            done += (size_t) k;
    }
    return 0;
}

/* Write to an output that is not a regular file (/dev/null, a pipe, a
 * terminal) in place: renaming a new file over it would replace the device
 * or the pipe with a plain file, and as root that destroys /dev/null. */
static int write_in_place(const char *path, const char *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int err = write_all(fd, data, n);
    if (close(fd) < 0 && err == 0)
        err = errno;
    return -err;
}

/* Writes data to path through a temporary file and rename(), so the old
 * file stays whole until the new one is. Returns 0 or -errno. */
static int write_file(const char *path, const char *data, size_t n)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (tmp == NULL)
        return -ENOMEM;
    snprintf(tmp, plen + 16, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int err = errno;
        free(tmp);
        return -err;
    }
    mode_t mask = umask(0);
    umask(mask);
    int err = write_all(fd, data, n);
    if (err == 0 && fchmod(fd, 0666 & ~mask) < 0)
        err = errno;
    if (close(fd) < 0 && err == 0)
        err = errno;
    if (err == 0 && rename(tmp, path) < 0)
        err = errno;
    if (err != 0)
        unlink(tmp);
    free(tmp);
    return -err;
}

/* dir/name.c -> dir/name_corofied.c */
static char *default_output(const char *input)
{
    const char *base = strrchr(input, '/');
    base = base ? base + 1 : input;
    const char *dot = strrchr(base, '.');
    size_t stem = dot && dot > base ? (size_t) (dot - input) : strlen(input);
    char *out = malloc(stem + sizeof "_corofied.c");
    if (out == NULL)
        abort();
    memcpy(out, input, stem);
    memcpy(out + stem, "_corofied.c", sizeof "_corofied.c");
    return out;
}

static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* ===== The command line ===== */

static int bad_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "corofy: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (try --help)\n");
    return 2;
}

/* Fills *c from argv; returns -1 to go on, or the exit status. */
static int parse_arguments(int argc, char **argv, struct command *c)
{
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        bool option = !options_done && arg[0] == '-' && arg[1] != '\0';
        if (option && (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)) {
            if (argc > 2)
                return bad_usage("%s takes nothing else", arg);
            fputs(usage, stdout);
            return 0;
        } else if (option && strcmp(arg, "--check") == 0) {
            c->check = true;
        } else if (option && strcmp(arg, "--line") == 0) {
            c->line = true;
        } else if (option && strcmp(arg, "--sequential") == 0) {
            c->sequential = true;
        } else if (option && strcmp(arg, "-o") == 0) {
            if (i + 1 == argc)
                return bad_usage("%s needs a file name ('-' for standard output)", arg);
            c->output = argv[++i];
        } else if (option && strcmp(arg, "--") == 0) {
            options_done = true;
        } else if (option) {
            return bad_usage("unknown option '%s'", arg);
        } else if (c->input != NULL) {
            return bad_usage("one input file at a time, not also '%s'", arg);
        } else {
            c->input = arg;
        }
    }
    if (c->input == NULL)
        return bad_usage("%s", "no input file");
    if (c->check && c->output != NULL && strcmp(c->output, "-") == 0)
        return bad_usage("%s", "--check compares with an output file, not with '-o -'");
    if (c->sequential && (c->check || c->output == NULL))
        return bad_usage("%s", "--sequential writes where -o says, and does not --check");
    return -1;
}

/* ===== What to do with the translation ===== */

static int to_stdout(const struct buf *result)
{
    fwrite(result->data ? result->data : "", 1, result->len, stdout);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "corofy: error: cannot write to standard output: %s\n", strerror(errno));
        return 1;
    }
    return 0;
}

/* --check: 0 when out_path holds the result, else 1 and a diff. */
static int check(const struct command *c, const char *out_path, const struct buf *result)
{
    struct buf existing = {0}, diff = {0};
    int missing = read_file(out_path, &existing), status = 0;
    size_t plen = strlen(out_path) + 40;
    char *label = malloc(plen);

    if (label == NULL)
        abort();
    snprintf(label, plen, "%s (as corofy writes it now)", out_path);
    if (unified_diff(existing.data ? existing.data : "", existing.len,
                     result->data ? result->data : "", result->len, out_path, label, &diff)) {
        fwrite(diff.data, 1, diff.len, stdout);
        fflush(stdout);
        if (missing < 0)
            fprintf(stderr, "corofy: %s: %s (run: corofy %s)\n", out_path, strerror(-missing),
                    c->input);
        else
            fprintf(stderr, "corofy: %s is out of date (run: corofy %s)\n", out_path, c->input);
        status = 1;
    }
    free(label);
    buf_free(&diff);
    buf_free(&existing);
    return status;
}

/* Writes the result to out_path unless it already holds it (so make sees
 * nothing new). An output that is not a regular file (/dev/null, a pipe) is
 * neither read back nor replaced: it is written in place. */
static int write_output(const char *out_path, const struct buf *result)
{
    const char *data = result->data ? result->data : "";
    struct stat st;
    bool regular = stat(out_path, &st) != 0 || S_ISREG(st.st_mode);
    if (regular && file_holds(out_path, data, result->len))
        return 0;
    int err = regular ? write_file(out_path, data, result->len)
                      : write_in_place(out_path, data, result->len);
    if (err < 0) {
        fprintf(stderr, "corofy: error: cannot write %s: %s\n", out_path, strerror(-err));
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct command c = {0};
    int status = parse_arguments(argc, argv, &c);
    if (status >= 0)
        return status;

    struct buf source = {0}, result = {0}, messages = {0};
    int err = read_file(c.input, &source);
    if (err < 0) {
        fprintf(stderr, "corofy: error: %s: %s\n", c.input, strerror(-err));
        return 1;
    }
    char *default_name = default_output(c.input);
    bool stdout_output = c.output != NULL && strcmp(c.output, "-") == 0;
    const char *out_path = c.output ? c.output : default_name;
    struct corofy_options options = {
        .input_name = c.input,
        .output_name = stdout_output ? default_name : out_path,
        .line_directives = c.line,
    };
    bool ok = c.sequential
                  ? corofy_sequential_twin(source.data, source.len, &options, &result, &messages)
                  : corofy_translate(source.data, source.len, &options, &result, &messages) !=
                        COROFY_ERROR;
    fputs(messages.data ? messages.data : "", stderr);

    if (!ok) {
        status = 1;
    } else if (stdout_output) {
        status = to_stdout(&result);
    } else if (same_file(c.input, out_path)) {
        fprintf(stderr, "corofy: error: the output %s would overwrite the input\n", out_path);
        status = 1;
    } else {
        status = c.check ? check(&c, out_path, &result) : write_output(out_path, &result);
    }
    free(default_name);
    buf_free(&source);
    buf_free(&result);
    buf_free(&messages);
    return status;
}
