/* diff.c: a small unified diff (Myers' O((N+M)D) algorithm) for
 * `corofy --check`, so the check needs no diff program. Part of corofy/,
 * the coroutine preprocessor of ch04 and ch05. */
#include <stdlib.h>
#include <string.h>

#include "corofy.h"

/* Past this many differing lines, the diff stops looking for the shortest
 * script and shows the changed middle as one block (memory grows as D²). */
#define MAX_EDITS 2000

struct line {
    const char *text; /* with its '\n', if it has one */
    size_t len;
};

enum op { EQUAL, DELETE, INSERT };

struct edit {
    enum op op;
    int a, b; /* line indexes in a and b (the one the op does not use is where it would be) */
};

static struct line *split(const char *s, size_t n, int *count)
{
    int lines = 0;
    for (size_t k = 0; k < n; k++)
        lines += s[k] == '\n';
    if (n > 0 && s[n - 1] != '\n')
        lines++;
    struct line *v = calloc((size_t) lines + 1, sizeof *v);
    if (v == NULL)
        abort();
    int i = 0;
    size_t start = 0;
    for (size_t k = 0; k < n; k++)
        if (s[k] == '\n') {
            v[i].text = s + start;
            v[i++].len = k + 1 - start;
            start = k + 1;
        }
    if (start < n) {
        v[i].text = s + start;
        v[i++].len = n - start;
    }
    *count = lines;
    return v;
}

static bool same(const struct line *x, const struct line *y)
{
    return x->len == y->len && memcmp(x->text, y->text, x->len) == 0;
}

/* The edit script turning a[0, n) into b[0, m), written backwards into
 * *script (which has room for n + m entries). Returns its length, or -1
 * when it would take more than MAX_EDITS edits. */
static int myers(const struct line *a, int n, const struct line *b, int m, struct edit *script)
{
    int max = n + m, off = max + 1;
    int *v = calloc((size_t) (2 * max + 3), sizeof *v);
    int **trace = calloc((size_t) (MAX_EDITS + 1), sizeof *trace);
    int d, found = -1, count = 0;

    if (v == NULL || trace == NULL)
        abort();
    for (d = 0; d <= max && d <= MAX_EDITS && found < 0; d++) {
        /* trace[d]: v as it was before step d, for k in [-d-1, d+1] */
        trace[d] = malloc(sizeof(int) * (size_t) (2 * d + 3));
        if (trace[d] == NULL)
            abort();
        memcpy(trace[d], v + off - d - 1, sizeof(int) * (size_t) (2 * d + 3));
        for (int k = -d; k <= d; k += 2) {
            int x = k == -d || (k != d && v[off + k - 1] < v[off + k + 1]) ? v[off + k + 1]
                                                                           : v[off + k - 1] + 1;
            int y = x - k;
            while (x < n && y < m && same(&a[x], &b[y]))
                x++, y++;
            v[off + k] = x;
            if (x >= n && y >= m) {
                found = d;
                break;
            }
        }
    }
    if (found >= 0) {
        int x = n, y = m;
        for (d = found; d >= 0; d--) {
            int *pv = trace[d] + d + 1; /* pv[k] for k in [-d-1, d+1] */
            int k = x - y;
            int prev_k = k == -d || (k != d && pv[k - 1] < pv[k + 1]) ? k + 1 : k - 1;
            int prev_x = d == 0 ? 0 : pv[prev_k], prev_y = d == 0 ? 0 : prev_x - prev_k;
            while (x > prev_x && y > prev_y) {
                x--, y--;
                script[count++] = (struct edit){EQUAL, x, y};
            }
            if (d > 0) {
                if (x == prev_x)
                    script[count++] = (struct edit){INSERT, x, --y};
                else
                    script[count++] = (struct edit){DELETE, --x, y};
            }
        }
    }
    for (d = 0; d <= MAX_EDITS; d++)
        free(trace[d]);
    free(trace);
    free(v);
    return found >= 0 ? count : -1;
}

static void print_line(struct buf *out, char mark, const struct line *l)
{
    buf_put(out, &mark, 1);
    buf_put(out, l->text, l->len);
    if (l->len == 0 || l->text[l->len - 1] != '\n')
        buf_puts(out, "\n\\ No newline at end of file\n");
}

static void print_range(struct buf *out, char sign, int start, int count)
{
    /* diff -u numbers lines from 1; an empty range names the line before it */
    if (count == 1)
        buf_printf(out, "%c%d", sign, start + 1);
    else
        buf_printf(out, "%c%d,%d", sign, count == 0 ? start : start + 1, count);
}

/* The whole edit script turning a[0, n) into b[0, m), forwards: the
 * common prefix, the middle (the shortest script, or all of it deleted
 * then inserted when that is too long to find), the common suffix.
 * Returns its length; the script is malloc'd into *out. */
static int edit_script(const struct line *a, int n, const struct line *b, int m, int prefix,
                       int suffix, struct edit **out)
{
    int mid_n = n - prefix - suffix, mid_m = m - prefix - suffix, len = 0;
    struct edit *script = calloc((size_t) (n + m + 1), sizeof *script);
    struct edit *middle = calloc((size_t) (mid_n + mid_m + 1), sizeof *middle);
    if (script == NULL || middle == NULL)
        abort();
    for (int i = 0; i < prefix; i++)
        script[len++] = (struct edit){EQUAL, i, i};
    int k = myers(a + prefix, mid_n, b + prefix, mid_m, middle);
    if (k >= 0) {
        while (k > 0) {
            struct edit e = middle[--k];
            script[len++] = (struct edit){e.op, e.a + prefix, e.b + prefix};
        }
    } else {
        for (int i = 0; i < mid_n; i++)
            script[len++] = (struct edit){DELETE, prefix + i, prefix};
        for (int i = 0; i < mid_m; i++)
            script[len++] = (struct edit){INSERT, prefix + mid_n, prefix + i};
    }
    for (int i = 0; i < suffix; i++)
        script[len++] = (struct edit){EQUAL, n - suffix + i, m - suffix + i};
    free(middle);
    *out = script;
    return len;
}

/* The end of the hunk whose first change is script[i]: 3 lines of context
 * after the last change, and changes closer than 6 unchanged lines share
 * one hunk. */
static int hunk_end(const struct edit *script, int len, int i)
{
    int end = i;
    for (;;) {
        while (end < len && script[end].op != EQUAL)
            end++;
        int run = end;
        while (run < len && script[run].op == EQUAL)
            run++;
        if (run < len && run - end <= 6) {
            end = run;
            continue;
        }
        return end + 3 < run ? end + 3 : run;
    }
}

/* One hunk, script[start, end): its @@ header and its lines. */
static void print_hunk(struct buf *out, const struct edit *script, int start, int end,
                       const struct line *a, const struct line *b)
{
    int a_count = 0, b_count = 0;
    for (int j = start; j < end; j++) {
        a_count += script[j].op != INSERT;
        b_count += script[j].op != DELETE;
    }
    buf_puts(out, "@@ ");
    print_range(out, '-', script[start].a, a_count);
    buf_puts(out, " ");
    print_range(out, '+', script[start].b, b_count);
    buf_puts(out, " @@\n");
    for (int j = start; j < end; j++) {
        const struct edit *e = &script[j];
        if (e->op == EQUAL)
            print_line(out, ' ', &a[e->a]);
        else if (e->op == DELETE)
            print_line(out, '-', &a[e->a]);
        else
            print_line(out, '+', &b[e->b]);
    }
}

bool unified_diff(const char *a_text, size_t alen, const char *b_text, size_t blen,
                  const char *a_label, const char *b_label, struct buf *out)
{
    int n, m, prefix = 0, suffix = 0;
    struct line *a = split(a_text, alen, &n), *b = split(b_text, blen, &m);

    while (prefix < n && prefix < m && same(&a[prefix], &b[prefix]))
        prefix++;
    while (suffix < n - prefix && suffix < m - prefix &&
           same(&a[n - 1 - suffix], &b[m - 1 - suffix]))
        suffix++;
    bool differ = prefix < n || prefix < m;
    if (differ) {
        struct edit *script;
        int len = edit_script(a, n, b, m, prefix, suffix, &script);
        buf_printf(out, "--- %s\n+++ %s\n", a_label, b_label);
        for (int i = 0; i < len;) {
            while (i < len && script[i].op == EQUAL)
                i++;
            if (i == len)
                break;
            int start = i >= 3 ? i - 3 : 0, end = hunk_end(script, len, i);
            print_hunk(out, script, start, end, a, b);
            i = end;
        }
        free(script);
    }
    free(a);
    free(b);
    return differ;
}
