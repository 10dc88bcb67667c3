/* checks.c: regression checks for the four classic bugs of tiny executors,
 * and a stress test, for block_on (chapter 1, ch01-block-on).
 *
 * Each check prints "<check>: ok ..." and the program exits 0, or it prints
 * "<check>: FAIL: <what went wrong>" to stderr and exits 1 (3 when the check
 * got stuck). Built with a BUG_* switch (README.md), each check is meant to
 * catch its bug: by itself, or through ASan finding freed memory in use.
 */
#include "block_on.h"
#include "futures.h"

#include "../common/alloc.h"
#include "../common/args.h"
#include "../common/clock.h"
#include "../common/errors.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures; /* FAIL lines printed so far */

static void fail(const char *check, const char *format, ...) __attribute__((format(printf, 2, 3)));

static void fail(const char *check, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fflush(stdout);
    fprintf(stderr, "%s: FAIL: ", check);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    failures++;
}

/* Fail unless exactly `expected` parkers are alive right now. */
static void expect_parkers(const char *check, long expected, const char *when)
{
    long alive = block_on_parkers_alive();
    if (alive != expected)
        fail(check, "%s, %ld parker(s) should be alive, not %ld", when, expected, alive);
}

static void start_thread(pthread_t *id, void *(*main)(void *), void *arg)
{
    check_pthread(pthread_create(id, NULL, main, arg), "pthread_create");
}

/* ===== 1. A waker that outlives block_on ===== */

/* Hands a clone of its waker to a thread that wakes it only when told to,
 * after block_on has returned: the shape of a timer that lost a race, or of a
 * callback that fires late. */
struct late_future {
    struct future base;
    bool handed_off;         /* the first poll has started the late thread */
    struct waker late_waker; /* the late thread's clone */
    sem_t go;                /* posted by main when the late thread may wake */
    pthread_t late_thread;
};

static void *late_thread_main(void *arg)
{
    struct late_future *late = arg;
    while (sem_wait(&late->go) == -1)
        ; /* EINTR: a signal interrupted the wait; wait again */
    waker_wake(&late->late_waker);
    return NULL;
}

static enum poll_status late_poll(struct future *self, struct context *cx)
{
    struct late_future *late = (struct late_future *) self;
    if (late->handed_off)
        return POLL_READY;
    late->handed_off = true;
    late->late_waker = waker_clone(cx->waker);
    start_thread(&late->late_thread, late_thread_main, late);
    waker_wake_by_ref(cx->waker); /* poll me again at once: READY then */
    return POLL_PENDING;
}

static void check_waker_outlives_block_on(void)
{
    const char *check = "waker-outlives-block-on";
    int failures_before = failures;
    struct late_future late = {.base = FUTURE_INIT(late_poll, "late"), .handed_off = false};
    if (sem_init(&late.go, 0, 0) == -1)
        die("sem_init: %s", strerror(errno));

    block_on(&late.base);
    expect_parkers(check, 1, "after block_on returned, with a waker clone still held");
    sem_post(&late.go); /* now the late thread wakes its clone: the parker must still exist */
    pthread_join(late.late_thread, NULL);
    expect_parkers(check, 0, "after the last waker clone was woken");
    sem_destroy(&late.go);
    if (failures == failures_before)
        printf("%s: ok: a clone woken after block_on returned found its parker, then freed it\n",
               check);
}

/* ===== 2. Every clone counted, every drop once ===== */

enum { CLONE_THREADS = 4, CLONES_PER_THREAD = 20000 };

struct clone_future;

/* One of the threads that clone and drop the waker all at once. */
struct clone_thread {
    pthread_t id;
    struct clone_future *future;
    struct waker waker; /* the thread's own clone; woken (consumed) when it is done */
};

/* Clones and drops its waker on the polling thread, then has four threads
 * clone, drop and wake it at the same time. READY when they are all done. */
struct clone_future {
    struct future base;
    bool started;           /* the first poll has run */
    long alive_after_drops; /* parkers alive right after the first poll's drops */
    struct clone_thread threads[CLONE_THREADS];
    atomic_int threads_done; /* threads that finished cloning */
};

static void *clone_thread_main(void *arg)
{
    struct clone_thread *thread = arg;
    for (int i = 0; i < CLONES_PER_THREAD; i++) {
        struct waker copy = waker_clone(&thread->waker);
        if (i % 1000 == 0)
            waker_wake_by_ref(&copy); /* a poll with nothing new: it must be harmless */
        waker_drop(&copy);
    }
    atomic_fetch_add(&thread->future->threads_done, 1); /* before the wake: the poll must see it */
    waker_wake(&thread->waker);
    return NULL;
}

static enum poll_status clone_poll(struct future *self, struct context *cx)
{
    struct clone_future *future = (struct clone_future *) self;
    if (!future->started) {
        future->started = true;
        struct waker a = waker_clone(cx->waker); /* references: 1 -> 2 */
        struct waker b = waker_clone(&a);        /* a clone of a clone: 2 -> 3 */
        waker_drop(&a);                          /* 3 -> 2 */
        waker_drop(&b);                          /* 2 -> 1: block_on's own, still in use */
        future->alive_after_drops = block_on_parkers_alive();
        for (int i = 0; i < CLONE_THREADS; i++) {
            struct clone_thread *thread = &future->threads[i];
            thread->future = future;
            thread->waker = waker_clone(cx->waker);
            start_thread(&thread->id, clone_thread_main, thread);
        }
        return POLL_PENDING;
    }
    return atomic_load(&future->threads_done) == CLONE_THREADS ? POLL_READY : POLL_PENDING;
}

static void check_clone_refcount(void)
{
    const char *check = "clone-refcount";
    int failures_before = failures;
    struct clone_future future = {.base = FUTURE_INIT(clone_poll, "clones"), .started = false};
    atomic_init(&future.threads_done, 0);

    block_on(&future.base);
    for (int i = 0; i < CLONE_THREADS; i++)
        pthread_join(future.threads[i].id, NULL);
    if (future.alive_after_drops != 1)
        fail(check, "after two clones were dropped, %ld parker(s) were alive, not 1",
             future.alive_after_drops);
    expect_parkers(check, 0, "after block_on returned and every clone was dropped");
    if (failures == failures_before)
        printf("%s: ok: %d clones made and dropped on %d threads, the parker freed once\n", check,
               2 + CLONE_THREADS * (CLONES_PER_THREAD + 1), CLONE_THREADS + 1);
}

/* ===== 3 and stress. Round trips between block_on and a waking thread ===== */

/* A thread that answers requests: it takes a waker, counts one answer and
 * wakes the waker. It waits for a request by spinning a little (the next one
 * usually comes within microseconds), then by sleeping on its own condition
 * variable. The spinning only makes the stress run faster; block_on's side
 * always goes through park. */
enum pinger_state { IDLE, REQUESTED, STOP };

struct pinger {
    pthread_t id;
    _Atomic enum pinger_state state; /* set by the requester, reset to IDLE by the pinger */
    struct waker waker;              /* the request: valid while state is REQUESTED */
    atomic_long answered;            /* requests answered so far */
    pthread_mutex_t lock;            /* with cond: where the pinger sleeps when idle */
    pthread_cond_t cond;             /* signalled after every change of state */
};

/* READY after `rounds` answers from its pinger. Each poll asks for the next
 * answer only if the previous one came, so a poll with nothing new asks for
 * nothing: every answer is exactly one wake-up and one poll. */
struct ping_future {
    struct future base;
    struct pinger *pinger;
    long rounds; /* answers needed */
    long asked;  /* requests sent */
    long polls;  /* times polled */
};

static atomic_long answers_total; /* every answer of every pinger: the watchdog watches it */

/* Spin before sleeping: first with the CPU's spin-wait hint (the request
 * usually comes within a microsecond or two), then giving the CPU away. */
enum { PINGER_SPINS = 200, PINGER_YIELDS = 50 };

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Wait until the state is not IDLE and return it. */
static enum pinger_state pinger_wait(struct pinger *pinger)
{
    for (int i = 0; i < PINGER_SPINS + PINGER_YIELDS; i++) {
        enum pinger_state state = atomic_load(&pinger->state);
        if (state != IDLE)
            return state;
        if (i < PINGER_SPINS)
            cpu_relax();
        else
            sched_yield();
    }
    pthread_mutex_lock(&pinger->lock);
    while (atomic_load(&pinger->state) == IDLE)
        pthread_cond_wait(&pinger->cond, &pinger->lock);
    pthread_mutex_unlock(&pinger->lock);
    return atomic_load(&pinger->state);
}

/* Change the state, then signal under the lock: a pinger that saw IDLE while
 * holding the lock is then already waiting, and gets the signal. */
static void pinger_set(struct pinger *pinger, enum pinger_state state)
{
    atomic_store(&pinger->state, state);
    pthread_mutex_lock(&pinger->lock);
    pthread_cond_signal(&pinger->cond);
    pthread_mutex_unlock(&pinger->lock);
}

static void *pinger_main(void *arg)
{
    struct pinger *pinger = arg;
    while (pinger_wait(pinger) == REQUESTED) {
        struct waker waker = pinger->waker;
        atomic_store(&pinger->state, IDLE);
        atomic_fetch_add(&pinger->answered, 1); /* before the wake: the poll must see it */
        atomic_fetch_add(&answers_total, 1);
        waker_wake(&waker);
    }
    return NULL;
}

static enum poll_status ping_poll(struct future *self, struct context *cx)
{
    struct ping_future *ping = (struct ping_future *) self;
    ping->polls++;
    long answered = atomic_load(&ping->pinger->answered);
    if (answered == ping->rounds)
        return POLL_READY;
    if (ping->asked == answered) { /* the last request was answered: ask again */
        ping->asked++;
        ping->pinger->waker = waker_clone(cx->waker);
        pinger_set(ping->pinger, REQUESTED);
    }
    return POLL_PENDING;
}

/* One thread running block_on on a ping_future, and its pinger. */
struct worker {
    pthread_t id;
    struct pinger pinger;
    struct ping_future ping;
    atomic_bool done;
};

static atomic_int workers_done;

static void *worker_main(void *arg)
{
    struct worker *worker = arg;
    block_on(&worker->ping.base);
    atomic_store(&worker->done, true);
    atomic_fetch_add(&workers_done, 1);
    return NULL;
}

/* If no answer at all arrives for this long, a wake-up was lost: the task
 * sleeps and nobody will ever wake it. Real progress is thousands of answers
 * a second even under ThreadSanitizer on a busy machine. */
static const double STALL_SECONDS = 2.0;

/* Run `workers` threads at once, each with block_on on its own ping future of
 * `rounds` round trips with its own pinger thread. Stops the whole program
 * with exit 3 if everything stalls. Returns the seconds it took. */
static double run_round_trips(const char *check, int workers, long rounds)
{
    struct worker *all = xcalloc((size_t) workers, sizeof *all);
    atomic_store(&answers_total, 0);
    atomic_store(&workers_done, 0);
    double start = now_seconds();

    for (int i = 0; i < workers; i++) {
        struct worker *w = &all[i];
        check_pthread(pthread_mutex_init(&w->pinger.lock, NULL), "pthread_mutex_init");
        check_pthread(pthread_cond_init(&w->pinger.cond, NULL), "pthread_cond_init");
        atomic_init(&w->pinger.state, IDLE);
        atomic_init(&w->pinger.answered, 0);
        w->ping = (struct ping_future){
            .base = FUTURE_INIT(ping_poll, "ping"), .pinger = &w->pinger, .rounds = rounds};
        atomic_init(&w->done, false);
        start_thread(&w->pinger.id, pinger_main, &w->pinger);
        start_thread(&w->id, worker_main, w);
    }

    /* The watchdog: wait for the workers, but not forever. */
    long last_total = -1;
    double last_change = now_seconds();
    while (atomic_load(&workers_done) < workers) {
        sleep_blocking_ms(10);
        long total = atomic_load(&answers_total);
        if (total != last_total) {
            last_total = total;
            last_change = now_seconds();
        } else if (now_seconds() - last_change > STALL_SECONDS) {
            fflush(stdout);
            fprintf(stderr,
                    "%s: FAIL: stuck: no wake-up for %.0f s; a wake-up was lost "
                    "(or went to the wrong thread)\n",
                    check, STALL_SECONDS);
            for (int i = 0; i < workers; i++) {
                if (atomic_load(&all[i].done))
                    pthread_join(all[i].id, NULL); /* or TSan reports it as leaked */
                else
                    fprintf(stderr, "  thread %d sleeps in block_on after %ld of %ld round trips\n",
                            i, atomic_load(&all[i].pinger.answered), rounds);
            }
            _exit(3); /* the stuck threads cannot be joined: leave at once */
        }
    }
    double seconds = now_seconds() - start;

    for (int i = 0; i < workers; i++) {
        struct worker *w = &all[i];
        pthread_join(w->id, NULL);
        pinger_set(&w->pinger, STOP);
        pthread_join(w->pinger.id, NULL);
        if (w->ping.polls != rounds + 1)
            fail(check,
                 "thread %d was polled %ld times for %ld wake-ups: it was woken by wake-ups "
                 "meant for another thread",
                 i, w->ping.polls, rounds);
        pthread_cond_destroy(&w->pinger.cond);
        pthread_mutex_destroy(&w->pinger.lock);
    }
    free(all);
    expect_parkers(check, 0, "after every block_on returned");
    return seconds;
}

enum { MANY_THREADS = 8, MANY_ROUNDS = 2000 };

static void check_many_threads(void)
{
    const char *check = "many-threads";
    int failures_before = failures;
    run_round_trips(check, MANY_THREADS, MANY_ROUNDS);
    if (failures == failures_before)
        printf("%s: ok: %d threads in block_on at once, %d wake-ups each, none lost or stolen\n",
               check, MANY_THREADS, MANY_ROUNDS);
}

static void check_stress(long rounds)
{
    const char *check = "stress";
    int failures_before = failures;
    double seconds = run_round_trips(check, 1, rounds);
    if (failures == failures_before)
        printf("%s: ok: %ld wake/poll round trips between two threads, no wake-up lost "
               "(%.1f s)\n",
               check, rounds, seconds);
}

/* ===== 4. Polling a future again after it returned READY ===== */

/* A join done wrong: it polls both timers on every poll and forgets that the
 * short one already finished, so it polls that one again. */
struct careless_join_future {
    struct future base;
    struct timer_future short_timer, long_timer;
    bool short_done, long_done;
};

static enum poll_status careless_join_poll(struct future *self, struct context *cx)
{
    struct careless_join_future *join = (struct careless_join_future *) self;
    if (future_poll(&join->short_timer.base, cx) == POLL_READY) /* BUG: even if done */
        join->short_done = true;
    if (future_poll(&join->long_timer.base, cx) == POLL_READY)
        join->long_done = true;
    return join->short_done && join->long_done ? POLL_READY : POLL_PENDING;
}

/* Runs in a child process: block_on on the careless join. With the guard the
 * child aborts at the second poll of the short timer; without it the timer
 * starts over and the child reports that. */
static void careless_join_child(void)
{
    struct careless_join_future join = {.base = FUTURE_INIT(careless_join_poll, "careless join")};
    timer_init(&join.short_timer, 10, "short");
    timer_init(&join.long_timer, 60, "long");
    block_on(&join.base);
    timer_cleanup(&join.short_timer);
    timer_cleanup(&join.long_timer);
    if (join.short_timer.threads_started != 1)
        fprintf(stderr, "'%s' ran %d times: polled again after READY, it silently started over\n",
                join.short_timer.base.name, join.short_timer.threads_started);
    exit(1);
}

static void check_poll_after_ready(void)
{
    const char *check = "poll-after-ready";
    int pipe_fds[2];
    if (pipe(pipe_fds) == -1)
        die("pipe: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    pid_t child = fork();
    if (child == -1)
        die("fork: %s", strerror(errno));
    if (child == 0) {
        close(pipe_fds[0]);
        dup2(pipe_fds[1], STDERR_FILENO);
        close(pipe_fds[1]);
        careless_join_child();
    }

    /* Collect what the child says on stderr, then show it. */
    close(pipe_fds[1]);
    char said[4096];
    size_t used = 0;
    for (;;) {
        ssize_t n = read(pipe_fds[0], said + used, sizeof said - 1 - used);
        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        used += (size_t) n;
        if (used == sizeof said - 1) { /* more than we keep: pass the rest through */
            fwrite(said, 1, used, stderr);
            used = 0;
        }
    }
    said[used] = '\0';
    close(pipe_fds[0]);
    int status;
    while (waitpid(child, &status, 0) == -1)
        if (errno != EINTR)
            die("waitpid: %s", strerror(errno));
    fputs(said, stderr);

    const char *expected = "polled again after it returned READY";
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && strstr(said, expected))
        printf("%s: ok: the second poll of a finished future stopped the program\n", check);
    else
        fail(check, "a finished future was polled again and nothing stopped it (the child %s %d)",
             WIFSIGNALED(status) ? "died of signal" : "exited",
             WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

/* ===== main ===== */

/* A check that hangs (a lost wake-up in a changed block_on, say) should not
 * hang the terminal or the test suite: each regression check gets this long.
 * The stress check watches its own progress instead. */
#define CHECK_SECONDS 30
#define STRINGIFY(x) #x
#define AS_STRING(x) STRINGIFY(x)

static const char *volatile running_check; /* for the alarm handler */

static void write_stderr(const char *text)
{
    ssize_t ignored = write(STDERR_FILENO, text, strlen(text));
    (void) ignored;
}

static void on_alarm(int signal_number)
{
    (void) signal_number;
    /* Only async-signal-safe calls here: write and _exit. */
    write_stderr(running_check);
    write_stderr(": FAIL: stuck: still running after " AS_STRING(CHECK_SECONDS) " s\n");
    _exit(3);
}

/* stress and all take a round-trip count from 1 to this: a billion takes hours. */
#define STRESS_MAX 1000000000
static const long STRESS_DEFAULT = 1000000;

static const struct {
    const char *name;
    void (*run)(void);
} checks[] = {
    {"waker-outlives-block-on", check_waker_outlives_block_on},
    {"clone-refcount", check_clone_refcount},
    {"many-threads", check_many_threads},
    {"poll-after-ready", check_poll_after_ready},
};

static void usage(FILE *to)
{
    fprintf(to,
            "usage: checks CHECK [N]\n"
            "Checks block_on for the four classic bugs of tiny executors (README.md):\n"
            "  waker-outlives-block-on  a waker clone woken after block_on returned\n"
            "  clone-refcount           every clone counted, every drop once, on 5 threads\n"
            "  many-threads             %d threads in block_on at once, none loses a wake-up\n"
            "  poll-after-ready         a finished future polled again is stopped\n"
            "  stress [N]               N wake/poll round trips between two threads "
            "(default %ld, at most %d)\n"
            "  all [N]                  the four checks, then stress [N]\n",
            MANY_THREADS, STRESS_DEFAULT, STRESS_MAX);
}

/* A command-line mistake: one line, exit status 2. */
static int bad_usage(const char *what, const char *argument)
{
    fprintf(stderr, "checks: %s '%s' (try --help)\n", what, argument);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "checks: name a check to run, or all (try --help)\n");
        return 2;
    }
    const char *check = argv[1];
    if (strcmp(check, "--help") == 0 || strcmp(check, "-h") == 0) {
        if (argc > 2)
            return bad_usage("unexpected argument", argv[2]);
        usage(stdout);
        return 0;
    }
    bool all = strcmp(check, "all") == 0;
    bool stress = all || strcmp(check, "stress") == 0;
    bool known = stress;
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++)
        known = known || strcmp(check, checks[i].name) == 0;
    if (!known)
        return bad_usage("no check named", check);
    if (argc > 3)
        return bad_usage("unexpected argument", argv[3]);
    unsigned long long stress_rounds = (unsigned long long) STRESS_DEFAULT;
    if (argc == 3 && (!stress || parse_count(argv[2], 1, STRESS_MAX, &stress_rounds) < 0)) {
        fprintf(stderr,
                "checks: bad argument '%s' (only stress and all take a count, 1 to %d; "
                "try --help)\n",
                argv[2], STRESS_MAX);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGALRM, on_alarm);

    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        if (all || strcmp(check, checks[i].name) == 0) {
            running_check = checks[i].name;
            alarm(CHECK_SECONDS);
            checks[i].run();
            alarm(0);
        }
    }
    if (stress)
        check_stress((long) stress_rounds);
    return failures > 0 ? 1 : 0;
}
