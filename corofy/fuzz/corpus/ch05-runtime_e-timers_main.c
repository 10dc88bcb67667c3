/* main.c: ch05-runtime step e: tasks that sleep. Three tasks sleep 300, 100
 * and 200 ms and wake in order; --many N starts N sleeps at once and measures
 * what each one costs. This is corofy's input: `make corofy` turns the
 * `coroutine` functions into state machines in main_corofied.c, and that file
 * is what gets compiled. */
/* corofy: waker */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "../../common/args.h"
#include "../../common/clock.h"
#include "../../common/errors.h"
#include "../../common/trace.h"
#include "executor.h"
#include "future.h"
#include "reactor.h"
#include "timer.h"

#define NS_PER_MS 1000000ull
#define MANY_BASE_MS 200 /* --many: sleep i lasts 200 + (37 i mod 100) ms */
#define MANY_SPREAD_MS 100
#define MANY_MAX 10000000u /* --many: more than this is surely a typo */
#define SPARE_FDS 64       /* fds the program needs besides the timerfds */

/* ===== The demo: three tasks, three sleeps ===== */

/* Sleep, then say so. */
coroutine void sleeper(unsigned ms)
{
    int err = timer_sleep_ms(ms).wait;
    if (err == 0)
        printf("woke after %u ms\n", ms);
}

/* Spawn the sleepers, 300 ms first; they all sleep at the same time. */
coroutine void demo(void)
{
    static const unsigned delays[] = {300, 100, 200};
    printf("Program starting (%s timers)\n", timer_backend_name());
    for (int i = 0; i < 3; i++)
        executor_spawn(sleeper(delays[i]), "sleep %u ms", delays[i]);
}

/* ===== --many N: N sleeps at once, and what they cost ===== */

/* What the sleepers saw. Only the executor's thread touches it. */
static struct {
    unsigned woke;            /* sleeps that completed without error */
    unsigned early;           /* ... before their deadline (must stay 0) */
    unsigned out_of_order;    /* ... after a sleep with a later deadline */
    uint64_t latest_deadline; /* the latest deadline of the sleeps woken so far */
    uint64_t most_late_ns;    /* the longest time from a deadline to its task running */
    long fds_at_peak;         /* open fds once every sleep has been polled; -1: unknown */
} seen;

/* Open file descriptors of this process, or -1 if /proc cannot tell. */
static long count_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    if (dir == NULL)
        return -1;
    long n = 0;
    for (struct dirent *e; (e = readdir(dir)) != NULL;)
        if (e->d_name[0] != '.')
            n++;
    closedir(dir);
    return n - 1; /* not the one opendir() holds */
}

/* A sleep's task runs again: check it against its deadline and the others. */
static void record_wake(uint64_t deadline)
{
    uint64_t now = now_ns();
    seen.woke++;
    if (now < deadline)
        seen.early++;
    else if (now - deadline > seen.most_late_ns)
        seen.most_late_ns = now - deadline;
    if (deadline < seen.latest_deadline)
        seen.out_of_order++;
    if (deadline > seen.latest_deadline)
        seen.latest_deadline = deadline;
}

coroutine void many_sleeper(unsigned ms)
{
    uint64_t deadline = now_ns() + ms * NS_PER_MS;
    int err = timer_sleep_until(deadline).wait;
    if (err == 0)
        record_wake(deadline);
}

/* Spawned after every sleeper, so the executor (which runs tasks in the order
 * they were queued) polls it once each sleeper has been polled, and set up
 * its timer, and before any of them can run again. */
coroutine void census(void)
{
    seen.fds_at_peak = count_fds();
}

coroutine void many_main(unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        executor_spawn(many_sleeper(MANY_BASE_MS + i * 37 % MANY_SPREAD_MS), "sleeper %u", i);
    executor_spawn(census(), "census");
}

/* The peak resident set size of this process image, in bytes, or -1 if
 * /proc cannot tell. Not getrusage()'s ru_maxrss: that one also counts the
 * peak of the image before exec(), so a program started by a big parent
 * (pytest's Python, say) inherits the parent's peak as its own. */
static long long peak_rss(void)
{
    FILE *status = fopen("/proc/self/status", "r");
    if (status == NULL)
        return -1;
    long long kib = -1;
    char line[256];
    while (fgets(line, sizeof line, status) != NULL)
        if (sscanf(line, "VmHWM: %lld kB", &kib) == 1)
            break;
    fclose(status);
    return kib < 0 ? -1 : kib * 1024;
}

static double seconds(struct timeval t)
{
    return (double) t.tv_sec + (double) t.tv_usec / 1e6;
}

/* One timerfd per sleep needs n file descriptors at once: raise the soft
 * limit as far as needed, or say why the hard limit does not allow it. */
static int make_room_for_fds(unsigned n)
{
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) < 0)
        die("getrlimit: %s", strerror(errno));
    rlim_t need = (rlim_t) n + SPARE_FDS;
    if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur >= need)
        return 0;
    if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < need) {
        fprintf(stderr,
                "timers: %u timerfds need %llu file descriptors, but the hard limit "
                "is %llu (ulimit -Hn); use --heap, or fewer sleeps\n",
                n, (unsigned long long) need, (unsigned long long) lim.rlim_max);
        return -1;
    }
    lim.rlim_cur = need;
    if (setrlimit(RLIMIT_NOFILE, &lim) < 0)
        die("setrlimit: %s", strerror(errno));
    return 0;
}

/* Run n sleeps at once and print what they cost. */
static void run_many(unsigned n)
{
    struct rusage before, after;
    long fds_before = count_fds();
    long long rss_before = peak_rss();
    getrusage(RUSAGE_SELF, &before);
    uint64_t start = now_ns();
    executor_block_on("main", many_main(n));
    uint64_t elapsed = now_ns() - start;
    getrusage(RUSAGE_SELF, &after);
    long long rss_after = peak_rss();

    printf("%u sleeps of %d to %d ms on %s timers\n", n, MANY_BASE_MS,
           MANY_BASE_MS + MANY_SPREAD_MS - 1, timer_backend_name());
    printf("woke: %u, %u early, %u out of deadline order, the latest %.0f ms after its deadline\n",
           seen.woke, seen.early, seen.out_of_order, (double) seen.most_late_ns / 1e6);
    if (fds_before >= 0 && seen.fds_at_peak >= 0)
        printf("file descriptors: %ld more at the peak, %.2f per sleep\n",
               seen.fds_at_peak - fds_before, (double) (seen.fds_at_peak - fds_before) / n);
    else
        printf("file descriptors: not measured (no /proc/self/fd)\n");
    if (rss_before >= 0 && rss_after >= 0)
        printf("peak RSS: %.0f bytes per sleep\n", (double) (rss_after - rss_before) / n);
    else
        printf("peak RSS: not measured (no /proc/self/status)\n");
    double cpu = seconds(after.ru_utime) + seconds(after.ru_stime) - seconds(before.ru_utime) -
                 seconds(before.ru_stime);
    printf("CPU time: %.2f us per sleep\n", cpu * 1e6 / n);
    printf("ELAPSED TIME: %.3f s\n", (double) elapsed / 1e9);
}

/* ===== The program ===== */

static void usage(void)
{
    printf("usage: timers [--heap] [--many N]\n"
           "Three tasks sleep 300, 100 and 200 ms and wake in order.\n"
           "  --heap     one heap of deadlines and one timerfd for all sleeps\n"
           "             (default: one timerfd per sleep)\n"
           "  --many N   instead, N tasks (1 to %u) sleep %d to %d ms at once; prints\n"
           "             what each sleep cost (file descriptors, memory, CPU time)\n"
           "  --help     show this help\n",
           MANY_MAX, MANY_BASE_MS, MANY_BASE_MS + MANY_SPREAD_MS - 1);
}

int main(int argc, char **argv)
{
    enum timer_backend backend = TIMER_FD;
    unsigned long long many = 0;

    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        if (argc > 2) {
            fprintf(stderr, "timers: unexpected argument '%s' after --help (try --help)\n",
                    argv[2]);
            return 2;
        }
        usage();
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--heap") == 0) {
            backend = TIMER_HEAP;
        } else if (strcmp(argv[i], "--many") == 0) {
            const char *value = i + 1 < argc ? argv[++i] : "";
            if (parse_count(value, 1, MANY_MAX, &many) < 0) {
                fprintf(stderr,
                        "timers: --many needs a number from 1 to %u, not '%s' (try --help)\n",
                        MANY_MAX, value);
                return 2;
            }
        } else {
            fprintf(stderr, "timers: unknown argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* each line as it happens, even into a pipe */
    trace_thread("main");             /* timer_start() may register before block_on names it */
    if (many > 0 && backend == TIMER_FD && make_room_for_fds((unsigned) many) < 0)
        return 1;
    int err = reactor_start();
    if (err < 0)
        die("cannot start the reactor: %s", strerror(-err));
    if ((err = timer_start(backend)) < 0)
        die("cannot start the timers: %s", strerror(-err));
    if (many > 0) {
        run_many((unsigned) many);
    } else {
        uint64_t start = now_ns();
        executor_block_on("main", demo());
        printf("ELAPSED TIME: %.3f s\n", (double) (now_ns() - start) / 1e9);
    }
    timer_stop();
    reactor_stop();
    return timer_failed() ? 1 : 0;
}
