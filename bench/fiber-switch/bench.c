/*
 * bench/fiber-switch/bench.c: what one switch of ch03's fibers costs, next to
 * glibc's swapcontext measured in the same run, and what a parked fiber
 * costs in memory. Built and run by bench/fiber-switch/run; not a test.
 */
#include "fiber.h"
#include "switch.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>

enum { REPETITIONS = 7 };
enum { PARTNER_STACK = 64 * 1024 };

typedef void (*switch_fn)(struct fiber_context *save, const struct fiber_context *load);

#if defined(__x86_64__)
void switch_no_fp_control(struct fiber_context *save, const struct fiber_context *load);
void switch_always_fp(struct fiber_context *save, const struct fiber_context *load);
void switch_jmp(struct fiber_context *save, const struct fiber_context *load);
#endif

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* ===== Ping-pong with a raw switch ===== */

/*
 * The main fiber ("ping") and one partner ("pong") hand the CPU back and
 * forth `rounds` times each, 2 * rounds switches in all. As in the runtime,
 * each side calls a small function (pass, like fiber_yield) that calls the
 * switch. Both sides loop in the same function, so every `ret` goes back to
 * the call site the CPU's return-address predictor expects;
 * bounce_elsewhere is a second copy of the loop, at other addresses, to
 * show what a mispredicted return costs.
 */
static struct fiber_context ping, pong;
static switch_fn use_switch;
static long rounds;
static bool partner_elsewhere;    /* the partner loops in bounce_elsewhere */
static bool partner_flags_differ; /* the partner's MXCSR differs in a status flag */

static __attribute__((noinline)) void pass(struct fiber_context *self, struct fiber_context *other)
{
    use_switch(self, other);
}

static __attribute__((noinline)) void bounce(struct fiber_context *self,
                                             struct fiber_context *other)
{
    for (long i = 0; i < rounds; i++)
        pass(self, other);
}

static __attribute__((noinline)) void bounce_elsewhere(struct fiber_context *self,
                                                       struct fiber_context *other)
{
    __asm__ volatile("" ::: "memory"); /* not a byte-for-byte twin of bounce */
    for (long i = 0; i < rounds; i++)
        pass(self, other);
}

/* Where the partner starts: planted on its stack, as fiber.c plants fiber_main. */
static _Noreturn void partner_main(void)
{
    if (partner_elsewhere)
        bounce_elsewhere(&pong, &ping);
    else
        bounce(&pong, &ping);
    abort(); /* never resumed: its last switch hands the CPU back for good */
}

static unsigned char *partner_stack;

/* A fresh partner that will start in partner_main, with our floating-point
 * mode (see fiber.c, context_init). */
static void partner_prepare(void)
{
    uintptr_t top = (uintptr_t) (partner_stack + PARTNER_STACK) & ~(uintptr_t) 15;

    memset(&pong, 0, sizeof pong);
#if defined(__x86_64__)
    uint64_t *slot = (uint64_t *) top;
    slot[-1] = 0;
    slot[-2] = (uint64_t) (uintptr_t) partner_main;
    pong.rsp = (uint64_t) (uintptr_t) &slot[-2];
    __asm__ volatile("stmxcsr %0" : "=m"(pong.mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(pong.x87_cw));
    if (partner_flags_differ)
        pong.mxcsr ^= 0x20; /* the sticky "inexact" flag */
#elif defined(__aarch64__)
    uint64_t fpcr;
    pong.sp = top;
    pong.x30 = (uint64_t) (uintptr_t) partner_main;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    pong.fpcr = fpcr;
#endif
}

/* Nanoseconds per switch for one repetition. */
static double run_raw(switch_fn fn, long n)
{
    use_switch = fn;
    rounds = n;
    partner_prepare();
    double start = now_ns();
    bounce(&ping, &pong);
    return (now_ns() - start) / (2.0 * n);
}

/* ===== Ping-pong with glibc's swapcontext ===== */

static ucontext_t ping_uc, pong_uc;

static __attribute__((noinline)) void bounce_uc(ucontext_t *self, ucontext_t *other)
{
    for (long i = 0; i < rounds; i++)
        swapcontext(self, other);
}

static void partner_uc(void)
{
    bounce_uc(&pong_uc, &ping_uc);
}

static double run_swapcontext(long n)
{
    rounds = n;
    getcontext(&pong_uc);
    pong_uc.uc_stack.ss_sp = partner_stack;
    pong_uc.uc_stack.ss_size = PARTNER_STACK;
    pong_uc.uc_link = &ping_uc;
    makecontext(&pong_uc, partner_uc, 0);
    double start = now_ns();
    bounce_uc(&ping_uc, &pong_uc);
    return (now_ns() - start) / (2.0 * n);
}

/* ===== Ping-pong through the runtime: fiber_yield ===== */

static void yielder(void *data)
{
    long n = *(long *) data;
    for (long i = 0; i < n; i++)
        fiber_yield();
}

static double run_yield(long n)
{
    fiber_spawn(yielder, &n);
    double start = now_ns();
    for (long i = 0; i < n; i++)
        fiber_yield();
    double elapsed = now_ns() - start;
    fiber_run(); /* let the yielder finish */
    return elapsed / (2.0 * n);
}

/* ===== Repetitions, best and median ===== */

struct row {
    const char *name;
    enum { RAW, YIELD, SWAPCONTEXT } kind;
    switch_fn fn;      /* RAW: the switch to measure */
    bool elsewhere;    /* RAW: the partner returns to other call sites */
    bool flags_differ; /* RAW: the partner's MXCSR status flags differ */
    long rounds;
    double best, median;
};

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

/* Nanoseconds per switch over n rounds of row's ping-pong. */
static double measure_once(const struct row *row, long n)
{
    switch (row->kind) {
    case RAW:
        partner_elsewhere = row->elsewhere;
        partner_flags_differ = row->flags_differ;
        return run_raw(row->fn, n);
    case YIELD:
        return run_yield(n);
    case SWAPCONTEXT:
        return run_swapcontext(n);
    }
    abort();
}

static void measure(struct row *row)
{
    double ns[REPETITIONS];

    measure_once(row, row->rounds / 10); /* warm-up: caches, predictors, stack pages */
    for (int rep = 0; rep < REPETITIONS; rep++)
        ns[rep] = measure_once(row, row->rounds);
    qsort(ns, REPETITIONS, sizeof ns[0], compare_doubles);
    row->best = ns[0];
    row->median = ns[REPETITIONS / 2];
}

/* ===== Memory of a parked fiber ===== */

struct parked {
    uintptr_t stack_address; /* somewhere on its stack */
};

static volatile int release_parked;

/* Does a little real work (a formatted print touches a few KiB of stack),
 * then parks: yields until released. */
static void park(void *data)
{
    struct parked *me = data;
    char line[128];

    snprintf(line, sizeof line, "fiber %d: %s %.3f", fiber_self(), "parked", 2.5);
    me->stack_address = (uintptr_t) line;
    while (!release_parked)
        fiber_yield();
}

/* The Size and Rss (bytes) of the mapping in /proc/self/smaps that holds
 * `address`, and the size of the mapping just below it (the guard page). */
static int smaps_lookup(uintptr_t address, size_t *size, size_t *rss, size_t *below)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512];
    uintptr_t start, end, prev_start = 0, prev_end = 0;
    int found = 0;

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned long kb;
        if (sscanf(line, "%lx-%lx ", &start, &end) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            if (found)
                break;
            if (address >= start && address < end) {
                found = 1;
                *size = end - start;
                *below = prev_end == start ? prev_end - prev_start : 0;
            }
            prev_start = start;
            prev_end = end;
        } else if (found && sscanf(line, "Rss: %lu kB", &kb) == 1) {
            *rss = kb * 1024;
        }
    }
    fclose(f);
    return found ? 0 : -1;
}

static void measure_parked(void)
{
    struct parked fibers[FIBER_MAX - 1];
    int count = 0;
    size_t size = 0, rss_min = SIZE_MAX, rss_max = 0, rss_sum = 0, guard = 0;

    release_parked = 0;
    for (int i = 0; i < FIBER_MAX - 1; i++)
        if (fiber_spawn(park, &fibers[i]) > 0)
            count++;
    fiber_yield(); /* each runs up to its first park */

    for (int i = 0; i < count; i++) {
        size_t rss = 0;
        if (smaps_lookup(fibers[i].stack_address, &size, &rss, &guard) != 0) {
            printf("memory: cannot find fiber %d's stack in /proc/self/smaps\n", i + 1);
            return;
        }
        rss_min = rss < rss_min ? rss : rss_min;
        rss_max = rss > rss_max ? rss : rss_max;
        rss_sum += rss;
    }
    release_parked = 1;
    fiber_run();

    printf("\nmemory per parked fiber (%d fibers, each parked after one snprintf; "
           "from /proc/self/smaps):\n",
           count);
    printf("  reserved  %7zu bytes  (%zu stack + %zu guard page: address space only)\n",
           size + guard, size, guard);
    printf("  resident  %7zu bytes  average (min %zu, max %zu): the pages it touched\n",
           rss_sum / (size_t) count, rss_min, rss_max);
}

/* ===== The table ===== */

static void print_cpu(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[256];

    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "model name", 10) == 0) {
            char *colon = strchr(line, ':');
            printf("cpu: %s", colon ? colon + 2 : line);
            break;
        }
    }
    if (f != NULL)
        fclose(f);
}

int main(int argc, char **argv)
{
    /* --quick: fewer rounds, for a smoke test of the benchmark itself. */
    long scale = argc > 1 && strcmp(argv[1], "--quick") == 0 ? 100 : 1;
    struct row rows[] = {
        {.name = "fiber_switch (this chapter)", .kind = RAW, .fn = fiber_switch, .rounds = 5000000},
        {.name = "  returning to other call sites",
         .kind = RAW,
         .fn = fiber_switch,
         .elsewhere = true,
         .rounds = 5000000},
#if defined(__x86_64__)
        {.name = "  status flags differ",
         .kind = RAW,
         .fn = fiber_switch,
         .flags_differ = true,
         .rounds = 5000000},
        {.name = "  leaving by pop + jmp *reg", .kind = RAW, .fn = switch_jmp, .rounds = 5000000},
        {.name = "  no FP control at all",
         .kind = RAW,
         .fn = switch_no_fp_control,
         .rounds = 5000000},
        {.name = "  always reloading FP control",
         .kind = RAW,
         .fn = switch_always_fp,
         .rounds = 5000000},
        {.name = "    ... and status flags differ",
         .kind = RAW,
         .fn = switch_always_fp,
         .flags_differ = true,
         .rounds = 500000},
#endif
        {.name = "fiber_yield (scheduler + switch)", .kind = YIELD, .rounds = 2000000},
        {.name = "glibc swapcontext", .kind = SWAPCONTEXT, .rounds = 200000},
    };
    enum { ROWS = sizeof rows / sizeof rows[0] };

    partner_stack = mmap(NULL, PARTNER_STACK, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (partner_stack == MAP_FAILED) {
        perror("fiber-switch: mmap");
        return 1;
    }
    print_cpu();
    printf("one switch = one call that hands the CPU to the other side; "
           "%d repetitions each\n\n",
           REPETITIONS);

    for (int i = 0; i < ROWS; i++)
        rows[i].rounds /= scale;
    struct row warm_up = rows[0];
    measure(&warm_up); /* let the CPU reach its working clock before row 0 counts */
    for (int i = 0; i < ROWS; i++)
        measure(&rows[i]);
    const struct row *swap = &rows[ROWS - 1];

    printf("%-38s %9s %11s %16s\n", "switch", "best ns", "median ns", "swapcontext / it");
    for (int i = 0; i < ROWS; i++)
        printf("%-38s %9.1f %11.1f %15.0fx\n", rows[i].name, rows[i].best, rows[i].median,
               swap->median / rows[i].median);
    printf(
        "\nfiber_switch is %.0fx faster than swapcontext (median; best: %.0fx); target 50x: %s\n",
        swap->median / rows[0].median, swap->best / rows[0].best,
        swap->median / rows[0].median >= 50 ? "met" : "NOT met");

    measure_parked();
    munmap(partner_stack, PARTNER_STACK);
    return 0;
}
