/* main.c: ch05-runtime step i: scopes that own their children, join and
 * race, with every frame in storage the caller provides and nothing
 * allocated while a scope is open. This is corofy's input: `make` turns the
 * one `coroutine` (corofied_worker, the comparison) into a state machine in
 * main_corofied.c, which is what gets compiled; the rest passes through
 * unchanged. The `init` line asks corofy for corofied_worker_init() too, a
 * constructor that builds the frame where its caller says. */
/* corofy: waker */
/* corofy: init */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../common/errors.h"
#include "future.h"
#include "rt.h"
#include "scope.h"

/* ===== A worker, written by hand with caller-provided storage =====
 *
 * Waits for one leaf (a sleep or a read, embedded in its own frame) and
 * says so. corofy generates the same from
 *     coroutine void worker(const char *name, unsigned ms) { sleep(ms).wait; ... }
 * when asked for an init constructor (corofied_worker below); this one is
 * written out so that you can read every line of it. */
struct worker {
    struct future base;
    const char *name;
    bool started;          /* polled at least once */
    bool done;             /* its leaf completed */
    bool reads;            /* waits for `read`, not for `sleep` */
    struct rt_sleep sleep; /* the leaf, inside the worker's frame */
    struct rt_read read;
    char byte; /* the read's buffer, also in the frame */
};

static enum poll_status worker_poll(struct future *self, const struct waker *waker, void *output)
{
    struct worker *w = (struct worker *) self;
    (void) output;
    w->started = true;
    ssize_t n = 0;
    struct future *leaf = w->reads ? &w->read.base : &w->sleep.base;
    if (leaf->poll(leaf, waker, w->reads ? &n : NULL) == POLL_PENDING)
        return POLL_PENDING;
    leaf->drop(leaf);
    w->done = true;
    if (w->reads)
        printf("  %s: read %zd bytes\n", w->name, n);
    else
        printf("  %s: done after %u ms\n", w->name, w->sleep.ms);
    return POLL_READY;
}

/* Cancelled (or finished): drop the leaf, which unlinks its node. */
static void worker_drop(struct future *self)
{
    struct worker *w = (struct worker *) self;
    if (w->done)
        return;
    struct future *leaf = w->reads ? &w->read.base : &w->sleep.base;
    leaf->drop(leaf);
    if (w->started)
        printf("  %s: cancelled, its %s unlinked\n", w->name, w->reads ? "read" : "timer");
}

static struct future *worker_sleeps(struct worker *w, const char *name, unsigned ms)
{
    *w = (struct worker){.base = {worker_poll, worker_drop}, .name = name};
    rt_sleep_init(&w->sleep, ms);
    return &w->base;
}

static struct future *worker_reads(struct worker *w, const char *name, int fd)
{
    *w = (struct worker){.base = {worker_poll, worker_drop}, .name = name, .reads = true};
    rt_read_init(&w->read, fd, &w->byte, 1);
    return &w->base;
}

/* Run a scope to its end on this thread and report what is left behind. */
static void run(struct scope *scope, void *output)
{
    unsigned start = rt_elapsed_ms();
    rt_block_on(&scope->base, output);
    printf("took %u ms; registrations still linked: %zu\n", rt_elapsed_ms() - start,
           rt_registrations());
}

/* A socket pair that nobody writes to (yet): a read on fds[0] waits. */
static void quiet_socket(int fds[2])
{
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0)
        die("socketpair: %s", strerror(errno));
}

/* ===== The demonstrations =====
 *
 * Each one keeps its scope, slots and children in one struct on its own
 * stack: the "frame" of the parent is this function's frame. */

static void demo_join(void)
{
    printf("== join: three children, their frames on this function's stack\n");
    struct {
        struct scope scope;
        struct scope_child slots[3];
        struct worker a, b, c;
    } f;
    scope_init(&f.scope, SCOPE_JOIN, "three", f.slots, 3);
    scope_spawn(&f.scope, worker_sleeps(&f.a, "a", 300), NULL, "a");
    scope_spawn(&f.scope, worker_sleeps(&f.b, "b", 100), NULL, "b");
    scope_spawn(&f.scope, worker_sleeps(&f.c, "c", 200), NULL, "c");
    run(&f.scope, NULL);
}

static void demo_race(void)
{
    printf("== race: a timer, a socket nobody writes to, and a slower timer\n");
    int fds[2];
    quiet_socket(fds);
    struct {
        struct scope scope;
        struct scope_child slots[3];
        struct worker fast, socket, slow;
    } f;
    scope_init(&f.scope, SCOPE_RACE, "first", f.slots, 3);
    scope_spawn(&f.scope, worker_sleeps(&f.fast, "fast", 100), NULL, "fast");
    scope_spawn(&f.scope, worker_reads(&f.socket, "socket", fds[0]), NULL, "socket");
    scope_spawn(&f.scope, worker_sleeps(&f.slow, "slow", 300), NULL, "slow");
    int winner;
    run(&f.scope, &winner);
    const char *names[] = {"fast", "socket", "slow"};
    printf("winner: child %d (%s)\n", winner, names[winner]);
    close(fds[0]);
    close(fds[1]);
}

static void demo_nested(void)
{
    printf("== nested: a join raced against a deadline; the join loses\n");
    struct {
        struct scope deadline; /* race(both, timeout) */
        struct scope_child deadline_slots[2];
        struct scope both; /* join(a, b): a child frame inside the parent's */
        struct scope_child both_slots[2];
        struct worker a, b, timeout;
    } f;
    scope_init(&f.both, SCOPE_JOIN, "both", f.both_slots, 2);
    scope_spawn(&f.both, worker_sleeps(&f.a, "a", 100), NULL, "a");
    scope_spawn(&f.both, worker_sleeps(&f.b, "b", 400), NULL, "b");
    scope_init(&f.deadline, SCOPE_RACE, "deadline", f.deadline_slots, 2);
    scope_spawn(&f.deadline, &f.both.base, NULL, "both");
    scope_spawn(&f.deadline, worker_sleeps(&f.timeout, "timeout", 250), NULL, "timeout");
    int winner;
    run(&f.deadline, &winner);
    const char *names[] = {"both", "timeout"};
    printf("winner: child %d (%s)\n", winner, names[winner]);
}

#ifdef EXERCISE_1 /* README.md: a future that moves its sleep after the first poll */
struct mover {
    struct future base;
    bool moved; /* polls `second`, a copy of `first`, from now on */
    struct rt_sleep first, second;
};

static enum poll_status mover_poll(struct future *self, const struct waker *waker, void *output)
{
    struct mover *m = (struct mover *) self;
    if (!m->moved) {
        if (m->first.base.poll(&m->first.base, waker, output) == POLL_READY)
            return POLL_READY;
        memcpy(&m->second, &m->first, sizeof m->second);
        m->moved = true;
    }
    return m->second.base.poll(&m->second.base, waker, output);
}

static void mover_drop(struct future *self)
{
    struct mover *m = (struct mover *) self;
    struct future *leaf = m->moved ? &m->second.base : &m->first.base;
    leaf->drop(leaf);
}

static void demo_move(void)
{
    printf("== move: a sleep copied elsewhere after its first poll\n");
    struct {
        struct scope scope;
        struct scope_child slots[1];
        struct mover m;
    } f;
    f.m = (struct mover){.base = {mover_poll, mover_drop}};
    rt_sleep_init(&f.m.first, 100);
    scope_init(&f.scope, SCOPE_JOIN, "moved", f.slots, 1);
    scope_spawn(&f.scope, &f.m.base, NULL, "mover");
    run(&f.scope, NULL);
}
#endif

/* ===== The comparison: the same join with corofy's frames =====
 *
 * corofy keeps the sleep inside the coroutine's frame (a local that lives
 * across a wait point is lifted into the frame), and `.wait` on it just
 * drops it, which unlinks and frees nothing. Where the frame itself lives is
 * the caller's choice: corofied_worker() mallocs it, one allocation per
 * child while the scope is open; corofied_worker_init() builds it in
 * storage the caller gives, here this function's stack, and its drop frees
 * nothing. */
coroutine void corofied_worker(const char *name, unsigned ms)
{
    struct rt_sleep nap;
    rt_sleep_init(&nap, ms);
    (&nap.base).wait;
    printf("  %s: done after %u ms\n", name, ms);
}

/* The first join again, its children made by corofy: with `embedded`, by
 * corofied_worker_init() in this function's frame; else by corofied_worker()
 * on the heap. */
static void demo_corofy(bool embedded)
{
    static const struct {
        const char *name;
        unsigned ms;
    } children[3] = {{"a", 300}, {"b", 100}, {"c", 200}};
    if (embedded)
        printf("== embedded: corofy's children, their frames on this function's stack\n");
    else
        printf("== the same join, with children made by corofy (frames on the heap)\n");
    struct {
        struct scope scope;
        struct scope_child slots[3];
        struct corofied_worker_frame frames[3];
    } f;
    scope_init(&f.scope, SCOPE_JOIN, embedded ? "embedded" : "corofied", f.slots, 3);
    for (int i = 0; i < 3; i++) {
        const char *name = children[i].name;
        struct future *child = embedded ? corofied_worker_init(&f.frames[i], name, children[i].ms)
                                        : corofied_worker(name, children[i].ms);
        scope_spawn(&f.scope, child, NULL, "%s", name);
    }
    run(&f.scope, NULL);
}

/* ===== Cancelled while registered, then the stack is reused =====
 *
 * An outer race cancels an inner race whose children wait on two sockets
 * and a timer. The frames die with the block that holds them; other data
 * takes their place; then data arrives on both sockets and the old timer's
 * deadline passes while the reactor runs. Had any node stayed linked, the
 * reactor (or epoll's data.ptr) would lead into the dead block: ASan calls
 * that stack-use-after-scope. */

struct cancel_frames {
    struct scope outer; /* race(inner, deadline) */
    struct scope_child outer_slots[2];
    struct scope inner; /* race(read1, pair) */
    struct scope_child inner_slots[2];
    struct scope pair; /* join(long, read2) */
    struct scope_child pair_slots[2];
    struct worker read1, lng, read2, deadline;
};

/* Fill memory with junk where the compiler cannot prove it unused. */
__attribute__((noipa)) static void scribble(void *p, size_t n)
{
    memset(p, 0xa5, n);
}

static void demo_cancel(bool forget)
{
    printf("== cancel: a race cancelled while its children are registered\n");
    int s1[2], s2[2];
    quiet_socket(s1);
    quiet_socket(s2);
    {
        struct cancel_frames f;
        scope_init(&f.pair, SCOPE_JOIN, "pair", f.pair_slots, 2);
        scope_spawn(&f.pair, worker_sleeps(&f.lng, "long", 400), NULL, "long");
        scope_spawn(&f.pair, worker_reads(&f.read2, "read2", s2[0]), NULL, "read2");
        scope_init(&f.inner, SCOPE_RACE, "inner", f.inner_slots, 2);
        scope_spawn(&f.inner, worker_reads(&f.read1, "read1", s1[0]), NULL, "read1");
        scope_spawn(&f.inner, &f.pair.base, NULL, "pair");
        scope_init(&f.outer, SCOPE_RACE, "outer", f.outer_slots, 2);
        scope_spawn(&f.outer, &f.inner.base, NULL, "inner");
        scope_spawn(&f.outer, worker_sleeps(&f.deadline, "deadline", 50), NULL, "deadline");
        rt_forget_to_unlink = forget;
        int winner;
        run(&f.outer, &winner);
        const char *names[] = {"inner", "deadline"};
        printf("winner: child %d (%s)\n", winner, names[winner]);
    } /* f is dead from here on */
    {
        struct cancel_frames reuse; /* likely the same bytes f had */
        scribble(&reuse, sizeof reuse);
    }
    rt_forget_to_unlink = false;
    if (write(s1[1], "x", 1) != 1 || write(s2[1], "y", 1) != 1)
        die("write: %s", strerror(errno));
    printf("sockets written, frames reused; the reactor runs for 500 ms\n");
    struct rt_sleep after;
    rt_sleep_init(&after, 500);
    rt_block_on(&after.base, NULL);
    printf("nothing touched the dead frames; registrations still linked: %zu\n",
           rt_registrations());
    close(s1[0]), close(s1[1]), close(s2[0]), close(s2[1]);
}

/* ===== main ===== */

static void usage(void)
{
    printf("usage: scopes [cancel [--forget-to-unlink]]\n"
           "Runs scopes (join, race, nested, corofy's frames on the heap and embedded)\n"
           "on a single-threaded runtime and reports how many allocations each scope\n"
           "made while open.\n"
           "  cancel              cancel a race while its children are registered, then\n"
           "                      reuse their stack and let the reactor run\n"
           "  --forget-to-unlink  ... with drop leaving the nodes linked: a bug on\n"
           "                      purpose, for ASan to catch (run ./scopes-asan)\n");
}

int main(int argc, char **argv)
{
    bool cancel = false, forget = false;
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        if (argc > 2) {
            fprintf(stderr, "scopes: unexpected argument '%s' after --help (try --help)\n",
                    argv[2]);
            return 2;
        }
        usage();
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "cancel") == 0) {
        cancel = true;
        if (argc > 2 && strcmp(argv[2], "--forget-to-unlink") == 0)
            forget = true;
        else if (argc > 2) {
            fprintf(stderr, "scopes: unknown argument '%s' (try --help)\n", argv[2]);
            return 2;
        }
        if (argc > 3) {
            fprintf(stderr, "scopes: unexpected argument '%s' (try --help)\n", argv[3]);
            return 2;
        }
    } else if (argc > 1) {
        fprintf(stderr, "scopes: unknown argument '%s' (try --help)\n", argv[1]);
        return 2;
    }

    setvbuf(stdout, NULL, _IOLBF, 0); /* each line as it happens, even into a pipe */
    int err = rt_init();
    if (err < 0)
        die("cannot start the runtime: %s", strerror(-err));
    if (cancel) {
        demo_cancel(forget);
    } else {
#ifdef EXERCISE_1
        demo_move();
#endif
        demo_join();
        demo_race();
        demo_nested();
        demo_corofy(false);
        demo_corofy(true);
    }
    rt_shutdown();
    return 0;
}
