/* main.c: corofy's command line. Reads FILE, translates it in memory
 * (corofy_translate), then writes STEM_corofied.c beside it (or -o FILE, or
 * standard output), or with --check compares with the file already there.
 * Nothing is written when the translation fails. Part of corofy/ (issue 6). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "corofy.h"

static const char usage[] =
    "usage: corofy [--check] [--line] [-o OUTPUT] FILE\n"
    "Rewrites the `coroutine` functions and `.wait` points of FILE into switch-based\n"
    "state machines (plain C) and writes them to STEM_corofied.c beside FILE.\n"
    "\n"
    "  -o OUTPUT   write OUTPUT instead ('-' for standard output)\n"
    "  --check     write nothing; exit 1 and show a unified diff if the output file\n"
    "              differs from what corofy would write now\n"
    "  --line      add #line directives, so compiler errors and gdb point into FILE\n"
    "  -h, --help  show this help\n"
    "\n"
    "A line `/* corofy: waker */` in FILE selects futures whose poll takes a waker\n"
    "(ch05-runtime); without it, poll(self, output) as in ch04-coroutines.\n";

/* Reads a whole file into *b. Returns 0 or -errno. */
static int read_file(const char *path, struct buf *b)
{
    FILE *f = fopen(path, "rb");
    char chunk[65536];
    size_t n;

    if (f == NULL)
        return -errno;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_put(b, chunk, n);
    int err = ferror(f) ? (errno ? errno : EIO) : 0;
    fclose(f);
    if (b->data == NULL)
        buf_put(b, "", 0);
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
    int err = 0;
    for (size_t done = 0; done < n && err == 0;) {
        ssize_t k = write(fd, data + done, n - done);
        if (k < 0 && errno != EINTR)
            err = errno;
        else if (k > 0)
            done += (size_t) k;
    }
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

static int bad_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "corofy: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (try --help)\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *input = NULL, *output = NULL;
    bool check = false, line = false, options_done = false;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!options_done && (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)) {
            fputs(usage, stdout);
            return 0;
        } else if (!options_done && strcmp(arg, "--check") == 0) {
            check = true;
        } else if (!options_done && strcmp(arg, "--line") == 0) {
            line = true;
        } else if (!options_done && strcmp(arg, "-o") == 0) {
            if (i + 1 == argc)
                return bad_usage("%s needs a file name ('-' for standard output)", arg);
            output = argv[++i];
        } else if (!options_done && strcmp(arg, "--") == 0) {
            options_done = true;
        } else if (!options_done && arg[0] == '-' && arg[1] != '\0') {
            return bad_usage("unknown option '%s'", arg);
        } else if (input != NULL) {
            return bad_usage("one input file at a time, not also '%s'", arg);
        } else {
            input = arg;
        }
    }
    if (input == NULL)
        return bad_usage("%s", "no input file");
    bool to_stdout = output != NULL && strcmp(output, "-") == 0;
    if (check && to_stdout)
        return bad_usage("%s", "--check compares with an output file, not with '-o -'");

    struct buf source = {0}, result = {0}, messages = {0};
    int err = read_file(input, &source);
    if (err < 0) {
        fprintf(stderr, "corofy: error: %s: %s\n", input, strerror(-err));
        return 1;
    }
    char *default_name = default_output(input);
    const char *out_path = output ? output : default_name;
    struct corofy_options options = {
        .input_name = input,
        .output_name = to_stdout ? default_name : out_path,
        .line_directives = line,
    };
    enum corofy_result r = corofy_translate(source.data, source.len, &options, &result, &messages);
    fputs(messages.data ? messages.data : "", stderr);

    int status = 0;
    if (r == COROFY_ERROR) {
        status = 1;
    } else if (to_stdout) {
        fwrite(result.data, 1, result.len, stdout);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "corofy: error: cannot write to standard output: %s\n",
                    strerror(errno));
            status = 1;
        }
    } else {
        struct buf existing = {0};
        struct stat in_stat, out_stat;
        int missing = read_file(out_path, &existing);
        if (stat(input, &in_stat) == 0 && stat(out_path, &out_stat) == 0 &&
            in_stat.st_dev == out_stat.st_dev && in_stat.st_ino == out_stat.st_ino) {
            fprintf(stderr, "corofy: error: the output %s would overwrite the input\n", out_path);
            status = 1;
        } else if (check) {
            struct buf diff = {0};
            size_t plen = strlen(out_path) + 40;
            char *label = malloc(plen);
            if (label == NULL)
                abort();
            snprintf(label, plen, "%s (as corofy writes it now)", out_path);
            if (unified_diff(existing.data ? existing.data : "", missing < 0 ? 0 : existing.len,
                             result.data ? result.data : "", result.len, out_path, label, &diff)) {
                fwrite(diff.data, 1, diff.len, stdout);
                fflush(stdout);
                if (missing < 0)
                    fprintf(stderr, "corofy: %s: %s (run: corofy %s)\n", out_path,
                            strerror(-missing), input);
                else
                    fprintf(stderr, "corofy: %s is out of date (run: corofy %s)\n", out_path,
                            input);
                status = 1;
            }
            free(label);
            buf_free(&diff);
        } else if (missing < 0 || existing.len != result.len ||
                   memcmp(existing.data, result.data ? result.data : "", result.len) != 0) {
            err = write_file(out_path, result.data ? result.data : "", result.len);
            if (err < 0) {
                fprintf(stderr, "corofy: error: cannot write %s: %s\n", out_path, strerror(-err));
                status = 1;
            }
        }
        buf_free(&existing);
    }
    free(default_name);
    buf_free(&source);
    buf_free(&result);
    buf_free(&messages);
    return status;
}
