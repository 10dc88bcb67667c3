/* timer-check.c: ch05-runtime step e: puts both timer backends through the
 * cases the demo never meets: sleeps cancelled while pending, a sleep polled
 * by a second waker, sleeps that are due before their first poll, sleeps
 * made on several threads at once, and a process out of file descriptors.
 * It polls sleep futures by hand with wakers that only count, so every wake
 * is seen. Prints one line per check that passed; exits 1 at the first one
 * that fails. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "../../common/clock.h"
#include "future.h"
#include "reactor.h"
#include "timer.h"

#define NS_PER_MS 1000000ull
#define THREADS 4
#define PER_THREAD 250 /* sleeps each thread makes in check_cancel() */

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAILED (%s:%d): ", __FILE__, __LINE__);                                        \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* ===== A waker that counts ===== */

struct probe {
    atomic_int wakes;  /* how often it was woken */
    atomic_long order; /* the global sequence number of its last wake */
};

static atomic_long sequence; /* counts wakes of every probe */

static const struct waker_vtable probe_vtable;

static struct waker probe_clone(void *data)
{
    return (struct waker){data, &probe_vtable}; /* probes outlive every sleep: nothing to count */
}

static void probe_wake_by_ref(void *data)
{
    struct probe *p = data;
    atomic_store(&p->order, atomic_fetch_add(&sequence, 1));
    atomic_fetch_add(&p->wakes, 1);
}

static void probe_wake(void *data)
{
    probe_wake_by_ref(data);
}

static void probe_drop(void *data)
{
    (void) data;
}

static const struct waker_vtable probe_vtable = {
    .clone = probe_clone,
    .wake = probe_wake,
    .wake_by_ref = probe_wake_by_ref,
    .drop = probe_drop,
};

static struct waker waker_of(struct probe *p)
{
    return (struct waker){.data = p, .vtable = &probe_vtable};
}

/* ===== Helpers ===== */

/* Wait up to 5 s for the probe to be woken `wakes` times. */
static bool wait_for(struct probe *p, int wakes)
{
    for (int i = 0; i < 5000 && atomic_load(&p->wakes) < wakes; i++)
        sleep_blocking_ms(1);
    return atomic_load(&p->wakes) >= wakes;
}

static long count_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    CHECK(dir != NULL, "cannot read /proc/self/fd");
    long n = 0;
    for (struct dirent *e; (e = readdir(dir)) != NULL;)
        if (e->d_name[0] != '.')
            n++;
    closedir(dir);
    return n;
}

static enum poll_status poll_with(struct future *f, struct probe *p, int *output)
{
    struct waker w = waker_of(p);
    return f->poll(f, &w, output);
}

/* ===== Cancelled sleeps never wake; the others wake once, in order =====
 *
 * Each thread makes PER_THREAD sleeps with deadlines spread over 50 ms, polls
 * each once, drops every other one while it is pending, and waits for the
 * rest. Several threads do it at once, on the same heap (or reactor).
 *
 * The deadlines start LEAD_MS after the threads do, so that every first poll
 * comes before its deadline and finds the sleep pending. On a busy machine
 * setting the sleeps up may take longer than that (creating a timerfd can
 * stall: in a process with several threads, each time the fd table doubles
 * the kernel waits for an RCU grace period). A sleep found complete at its
 * first poll is then checked against the clock (its deadline must have
 * passed: otherwise it is a bug), and the whole round runs again with twice
 * the lead, so that each check below always sees every sleep pending first. */

#define LEAD_MS 250      /* the first round's lead */
#define MAX_LEAD_MS 8000 /* no round in time even with this lead: give up */

struct sleeper {
    struct probe probe;
    uint64_t deadline;
    struct future *future; /* NULL once dropped */
};

struct cancel_round {
    struct sleeper sleepers[PER_THREAD];
    unsigned lead_ms;
    bool late; /* a deadline passed before its sleep's first poll */
};

static void *cancel_worker(void *arg)
{
    struct cancel_round *r = arg;
    struct sleeper *s = r->sleepers;
    uint64_t start = now_ns() + r->lead_ms * NS_PER_MS;
    for (int i = 0; i < PER_THREAD; i++) {
        /* A scrambled order, so the heap sees inserts everywhere. */
        s[i].deadline = start + (uint64_t) (i * 7919 % PER_THREAD) * 50 * NS_PER_MS / PER_THREAD;
        s[i].future = timer_sleep_until(s[i].deadline);
        int result = 0;
        if (poll_with(s[i].future, &s[i].probe, &result) == POLL_READY) {
            CHECK(now_ns() >= s[i].deadline && result == 0,
                  "a sleep %u ms away completed at its first poll (result %d)", r->lead_ms, result);
            r->late = true; /* too slow for this lead: this round does not count */
            s[i].future->drop(s[i].future);
            s[i].future = NULL;
        }
    }
    for (int i = 1; i < PER_THREAD; i += 2)
        if (s[i].future != NULL) {
            s[i].future->drop(s[i].future);
            s[i].future = NULL;
        }
    for (int i = 0; i < PER_THREAD; i += 2) {
        if (s[i].future == NULL)
            continue;
        CHECK(wait_for(&s[i].probe, 1), "a sleep was never woken");
        int result = -1;
        CHECK(poll_with(s[i].future, &s[i].probe, &result) == POLL_READY && result == 0,
              "a woken sleep is not ready (result %d)", result);
        CHECK(now_ns() >= s[i].deadline, "a sleep completed before its deadline");
        s[i].future->drop(s[i].future);
        s[i].future = NULL;
    }
    return NULL;
}

/* One round on THREADS threads; false if it was late (see above). */
static bool cancel_round(struct cancel_round rounds[THREADS], unsigned lead_ms)
{
    memset(rounds, 0, THREADS * sizeof *rounds);
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++) {
        rounds[t].lead_ms = lead_ms;
        CHECK(pthread_create(&threads[t], NULL, cancel_worker, &rounds[t]) == 0, "pthread_create");
    }
    bool late = false;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(threads[t], NULL);
        late |= rounds[t].late;
    }
    sleep_blocking_ms(80); /* every cancelled deadline has passed by now */
    return !late;
}

static void check_cancel(const char *backend)
{
    static struct cancel_round rounds[THREADS];
    long fds = count_fds();
    unsigned lead_ms = LEAD_MS;
    while (!cancel_round(rounds, lead_ms)) {
        lead_ms *= 2;
        CHECK(lead_ms <= MAX_LEAD_MS,
              "%s: setting up %d sleeps on %d threads took more than %d ms, every time", backend,
              PER_THREAD, THREADS, MAX_LEAD_MS / 2);
    }

    int woken = 0;
    for (int t = 0; t < THREADS; t++)
        for (int i = 0; i < PER_THREAD; i++) {
            int wakes = atomic_load(&rounds[t].sleepers[i].probe.wakes);
            CHECK(wakes == (i % 2 == 0 ? 1 : 0), "%s: sleep %d of thread %d woken %d times",
                  backend, i, t, wakes);
            woken += wakes;
        }
    CHECK(count_fds() == fds, "%s: %ld file descriptors left open", backend, count_fds() - fds);
    printf("%s: %d sleeps on %d threads, half cancelled: each of the others woke once\n", backend,
           woken, THREADS);

    /* One heap serves every thread, so it wakes in deadline order across
       all of them. Separate timerfds give no such promise: epoll reports
       ready fds in no particular order. */
    if (strcmp(backend, "heap") != 0)
        return;
    for (int t = 0; t < THREADS; t++)
        for (int i = 0; i < PER_THREAD; i += 2)
            for (int u = 0; u < THREADS; u++)
                for (int j = 0; j < PER_THREAD; j += 2) {
                    const struct sleeper *a = &rounds[t].sleepers[i], *b = &rounds[u].sleepers[j];
                    CHECK(!(a->deadline < b->deadline && a->probe.order > b->probe.order),
                          "heap: a sleep woke after one with a later deadline");
                }
    printf("heap: the %d sleeps woke in deadline order\n", woken);
}

/* ===== Only the latest waker is woken =====
 *
 * One sleep, polled by a first waker and then by a second: only the second
 * may be woken. Both polls must come before the deadline; if the machine is
 * too slow for that (the sleep is found complete, its deadline passed), the
 * check runs again with a sleep twice as long. */

static void check_latest_waker(const char *backend)
{
    for (unsigned ms = 20;; ms *= 2) {
        CHECK(ms <= MAX_LEAD_MS, "%s: two polls never came within %u ms of each other", backend,
              MAX_LEAD_MS / 2);
        struct probe first = {0}, second = {0};
        uint64_t deadline = now_ns() + ms * NS_PER_MS;
        struct future *f = timer_sleep_until(deadline);
        if (poll_with(f, &first, NULL) == POLL_READY || poll_with(f, &second, NULL) == POLL_READY) {
            CHECK(now_ns() >= deadline, "%s: a sleep of %u ms was ready at once", backend, ms);
            f->drop(f);
            continue; /* too late for this check: again, with a longer sleep */
        }
        CHECK(wait_for(&second, 1), "%s: the second waker was never woken", backend);
        sleep_blocking_ms(30);
        CHECK(atomic_load(&first.wakes) == 0, "%s: a replaced waker was woken", backend);
        CHECK(poll_with(f, &second, NULL) == POLL_READY, "%s: a woken sleep is not ready", backend);
        f->drop(f);
        break;
    }
    printf("%s: a sleep polled by a second waker wakes only that one\n", backend);
}

/* ===== A sleep that is due completes at once, without a timer ===== */

static void check_due(const char *backend)
{
    long fds = count_fds();
    struct future *now = timer_sleep_ms(0), *past = timer_sleep_until(0);
    struct probe p = {0};
    int a = -1, b = -1;
    CHECK(poll_with(now, &p, &a) == POLL_READY && a == 0, "%s: timer_sleep_ms(0) not ready",
          backend);
    CHECK(poll_with(past, &p, &b) == POLL_READY && b == 0, "%s: a past deadline not ready",
          backend);
    CHECK(count_fds() == fds, "%s: a due sleep opened a file descriptor", backend);
    CHECK(atomic_load(&p.wakes) == 0, "%s: a due sleep woke its waker", backend);
    now->drop(now);
    past->drop(past);
    printf("%s: a sleep of 0 ms and a past deadline are ready at the first poll\n", backend);
}

/* ===== Out of file descriptors ===== */

/* With room for two more fds, ten timerfd sleeps: two are set up, the rest
 * complete at once with -EMFILE, and stderr gets one line for all eight. */
static void check_out_of_fds(void)
{
    struct rlimit saved, low;
    CHECK(getrlimit(RLIMIT_NOFILE, &saved) == 0, "getrlimit");
    /* The limit bounds fd numbers, not how many are open: put it just past
       the second unused number. */
    int fd = 0;
    for (int unused = 0; unused < 2; fd++)
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF)
            unused++;
    low = saved;
    low.rlim_cur = (rlim_t) fd;
    CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0, "setrlimit");
    struct future *f[10];
    struct probe p = {0};
    int pending = 0, failed = 0;
    for (int i = 0; i < 10; i++) {
        int result = 0;
        f[i] = timer_sleep_ms(1000);
        if (poll_with(f[i], &p, &result) == POLL_PENDING)
            pending++;
        else if (result == -EMFILE)
            failed++;
    }
    CHECK(setrlimit(RLIMIT_NOFILE, &saved) == 0, "setrlimit");
    for (int i = 0; i < 10; i++)
        f[i]->drop(f[i]);
    CHECK(pending == 2 && failed == 8, "expected 2 pending, 8 -EMFILE; got %d and %d", pending,
          failed);
    CHECK(timer_failed(), "timer_failed() does not know");
    printf("timerfd: out of file descriptors, a sleep completes with -EMFILE\n");
}

int main(int argc, char **argv)
{
    /* The checks take no arguments: a stray one gets one line, not a run. */
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        printf("usage: timer-check\n"
               "Checks the cases the timers demo never meets: cancelled sleeps, replaced wakers,\n"
               "sleeps already due, and running out of file descriptors.\n");
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "timer-check: unknown argument '%s' (try --help)\n", argv[argc - 1]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    int err = reactor_start();
    CHECK(err == 0, "reactor_start: %s", strerror(-err));
    const enum timer_backend backends[] = {TIMER_FD, TIMER_HEAP};
    for (int i = 0; i < 2; i++) {
        CHECK((err = timer_start(backends[i])) == 0, "timer_start: %s", strerror(-err));
        const char *name = timer_backend_name();
        check_cancel(name);
        check_latest_waker(name);
        check_due(name);
        timer_stop(); /* asserts that the heap is empty */
    }
    CHECK(timer_start(TIMER_FD) == 0, "timer_start");
    check_out_of_fds(); /* last: it leaves timer_failed() set */
    timer_stop();
    reactor_stop();
    printf("all checks passed\n");
    return 0;
}
