/*
 * ch03-fibers/c-fibers/fiber.c: a fixed table of fibers, their guarded
 * stacks, and the round-robin scheduler that switches between them.
 * Introduced in step c of chapter 3; the switch itself is in switch_<cpu>.S.
 */
#include "fiber.h"
#include "switch.h"

#include "../../common/trace.h"

#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ===== Telling the tools about our stacks ===== */

/* AddressSanitizer keeps "shadow" bookkeeping for the stack it believes we
 * are on; a switch it was not told about looks to it like stack corruption.
 * gcc defines __SANITIZE_ADDRESS__ under -fsanitize=address, clang answers
 * __has_feature(address_sanitizer). */
#if defined(__SANITIZE_ADDRESS__)
#define FIBER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FIBER_ASAN 1
#endif
#endif
#ifndef FIBER_ASAN
#define FIBER_ASAN 0
#endif
#if FIBER_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

/* Valgrind notices a large jump of the stack pointer and must guess whether
 * it is a switch; registering each stack removes the guess. The macros cost a
 * few no-op instructions when the program is not running under valgrind, and
 * __has_include lets the program build where valgrind's headers are missing
 * (the aarch64 cross build, for one). */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define FIBER_VALGRIND 1
#endif
#endif
#ifndef FIBER_VALGRIND
#define FIBER_VALGRIND 0
#endif

/* ===== The table ===== */

enum fiber_state {
    FIBER_AVAILABLE, /* a free slot: never used, or its fiber has finished */
    FIBER_READY,     /* waiting for its turn */
    FIBER_RUNNING,   /* on the CPU now; exactly one fiber is */
};

struct fiber {
    struct fiber_context context; /* its registers while it is not running */
    enum fiber_state state;       /* see above; only switch_to makes a fiber RUNNING */
    fiber_fn fn;                  /* what it runs, and with what */
    void *data;
    unsigned char *mapping;      /* guard page + stack from mmap; NULL for fiber 0
                                    and for slots that have not needed one yet */
    size_t mapping_size;         /* guard + stack, whole pages */
    unsigned char *stack_bottom; /* lowest usable byte: just above the guard page */
    size_t stack_size;           /* usable bytes; the stack starts at the top. For
                                    fiber 0 only ASan builds know these (after_switch) */
    unsigned valgrind_id;        /* from VALGRIND_STACK_REGISTER */
    /* Only for a traced run (ASYNC_TRACE set; see "Tracing" below): */
    int track;     /* its slot's lane in the timeline, 0 until it is first needed */
    uint64_t task; /* the trace's task id of the fiber in this slot */
    char name[16]; /* "main fiber", "fiber 3" */
};

/* Slot 0 is the main fiber, running from the start on the thread's own stack. */
static struct fiber fibers[FIBER_MAX] = {[0] = {.state = FIBER_RUNNING}};
static struct fiber *current = &fibers[0];
static struct fiber *previous; /* the fiber that last switched away (for ASan, the trace) */

static int fiber_id(const struct fiber *f)
{
    return (int) (f - fibers);
}

/* The next READY fiber after `from` in table order, wrapping around, or NULL.
 * Round-robin in a fixed order is what makes the demo's output repeatable. */
static struct fiber *next_ready(const struct fiber *from)
{
    int id = fiber_id(from);

    for (int step = 1; step < FIBER_MAX; step++) {
        struct fiber *f = &fibers[(id + step) % FIBER_MAX];
        if (f->state == FIBER_READY)
            return f;
    }
    return NULL;
}

/* ===== Stacks: mmap, with a guard page below ===== */

/*
 * The stack grows down from the top of the mapping towards the guard page:
 *
 *   mapping                stack_bottom                          top
 *   | guard page: PROT_NONE |  stack: read/write, stack_size bytes  |
 *
 * Touching the guard page faults, so a fiber that runs off the end of its
 * stack stops there instead of overwriting whatever is mapped below. It
 * costs one page of address space and no memory, and mmap hands out pages
 * lazily: only the pages a fiber actually touches ever take up RAM.
 */
static int stack_map(struct fiber *f)
{
    size_t page = (size_t) sysconf(_SC_PAGESIZE);
    size_t size = (FIBER_STACK_SIZE + page - 1) / page * page;

    unsigned char *mapping = mmap(NULL, page + size, PROT_READ | PROT_WRITE,
                                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (mapping == MAP_FAILED)
        return -errno;
    if (mprotect(mapping, page, PROT_NONE) != 0) {
        int err = -errno;
        munmap(mapping, page + size);
        return err;
    }
    f->mapping = mapping;
    f->mapping_size = page + size;
    f->stack_bottom = mapping + page;
    f->stack_size = size;
#if FIBER_VALGRIND
    f->valgrind_id = VALGRIND_STACK_REGISTER(f->stack_bottom, f->stack_bottom + size - 1);
#endif
    return 0;
}

/* Only for a fiber that has finished: nobody may be running on the stack. */
static void stack_unmap(struct fiber *f)
{
    if (f->mapping == NULL)
        return;
    assert(f->state == FIBER_AVAILABLE);
#if FIBER_VALGRIND
    VALGRIND_STACK_DEREGISTER(f->valgrind_id);
#endif
#if FIBER_ASAN
    /* A finished fiber's frames leave ASan's marks in the shadow; wipe them,
     * or the next mapping at this address would inherit them. */
    __asan_unpoison_memory_region(f->stack_bottom, f->stack_size);
#endif
    munmap(f->mapping, f->mapping_size);
    f->mapping = NULL;
    f->stack_bottom = NULL;
    f->stack_size = 0;
}

/* ===== Stack overflow: a guard-page fault, reported by name ===== */

static struct sigaction previous_segv; /* whoever handled SIGSEGV before us */

/* Append the decimal digits of n to *out. Signal handlers may only call
 * async-signal-safe functions, and snprintf is not one of them. */
static void append_number(char **out, size_t n)
{
    char digits[24];
    int count = 0;

    do {
        digits[count++] = (char) ('0' + n % 10);
        n /= 10;
    } while (n > 0);
    while (count > 0)
        *(*out)++ = digits[--count];
}

static void append_text(char **out, const char *text)
{
    while (*text != '\0')
        *(*out)++ = *text++;
}

/* Runs on the alternate signal stack: the fiber's own stack is exactly what
 * has run out, so the handler could not even start there. */
static void on_segv(int sig, siginfo_t *info, void *ucontext)
{
    /* Addresses as integers: C only defines < between pointers into one object. */
    uintptr_t address = (uintptr_t) info->si_addr;
    (void) ucontext;

    for (int id = 1; id < FIBER_MAX; id++) {
        const struct fiber *f = &fibers[id];
        uintptr_t guard = (uintptr_t) f->mapping, guard_end = (uintptr_t) f->stack_bottom;
        if (f->mapping != NULL && address >= guard && address < guard_end) {
            char message[96], *end = message;
            append_text(&end, "fiber ");
            append_number(&end, (size_t) id);
            append_text(&end, " overflowed its ");
            append_number(&end, f->stack_size);
            append_text(&end, "-byte stack\n");
            ssize_t ignored = write(STDERR_FILENO, message, (size_t) (end - message));
            (void) ignored; /* nothing better to do if stderr is gone */
            /* No way back: the fiber's stack is full. stdio buffers may be in
             * any state, so leave without flushing them. */
            _exit(EXIT_FAILURE);
        }
    }

    /* Not a guard page: a bug somewhere else. Hand the fault to whoever
     * handled it before us (the default action, or ASan's report): with
     * their handler back in place, returning re-runs the faulting
     * instruction, which faults again. A SIGSEGV sent with kill() would not
     * fault again, so we raise it; it is delivered when we return. */
    sigaction(SIGSEGV, &previous_segv, NULL);
    if (info->si_code <= 0)
        raise(sig);
}

/* Once, before the first fiber starts: the handler, and a stack to run it on. */
static int overflow_handler_install(void)
{
    static bool installed;
    if (installed)
        return 0;

    /* A signal handler normally runs on the stack of whoever was running; a
     * fiber that overflowed has none left. Keep any alternate stack the
     * thread already has (ASan installs one), otherwise map our own. */
    stack_t altstack;
    if (sigaltstack(NULL, &altstack) != 0)
        return -errno;
    if (altstack.ss_flags & SS_DISABLE) {
        size_t size = SIGSTKSZ > 64 * 1024 ? SIGSTKSZ : 64 * 1024;
        void *memory = mmap(NULL, size, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (memory == MAP_FAILED)
            return -errno;
        altstack = (stack_t){.ss_sp = memory, .ss_size = size, .ss_flags = 0};
        if (sigaltstack(&altstack, NULL) != 0) {
            int err = -errno;
            munmap(memory, size);
            return err;
        }
    }

    struct sigaction action = {.sa_sigaction = on_segv, .sa_flags = SA_SIGINFO | SA_ONSTACK};
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGSEGV, &action, &previous_segv) != 0)
        return -errno;
    installed = true;
    return 0;
}

/* ===== Tracing: who ran when =====
 *
 * With ASYNC_TRACE set (../../common/trace.h) the runtime records its
 * round-robin: a track per slot, named after its fiber; a span for each run
 * of a fiber, from the switch that brings it in to the switch that takes it
 * out; an instant where a fiber is spawned and where it finishes; and at
 * every switch a wake of the fiber picked to run next, whose arrow ends at
 * that fiber's run: who handed the CPU to whom. The main fiber's run opens
 * when a fiber is spawned into an idle runtime and closes when fiber_yield
 * finds nobody else ready. Without ASYNC_TRACE, each place that calls these
 * costs a load and a branch, not taken (one per switch); they are never
 * inlined, so that the switch stays a few instructions long. */

static bool main_fiber_traced; /* the main fiber's run is open in the trace */

/* The slot's track and name, made the first time a traced run needs them. */
static void trace_slot(struct fiber *f)
{
    if (f->track != 0)
        return;
    if (f == &fibers[0])
        snprintf(f->name, sizeof f->name, "main fiber");
    else
        snprintf(f->name, sizeof f->name, "fiber %d", fiber_id(f));
    f->track = trace_track_new("%s", f->name);
}

/* A run of f begins, on f's track: a poll of f's task. */
static void trace_run_begins(struct fiber *f)
{
    trace_track_switch(f->track);
    trace_poll_begin(f->task, f->name);
}

/* `from` has just handed the CPU to `to` (this runs on to's stack). On
 * from's track, still the thread's: the wake of `to` that draws the arrow,
 * and the end of from's run, its last if its function has returned; then
 * to's run begins. All of it after the switch, so that an untraced switch
 * tests trace_on once. */
static __attribute__((noinline)) void trace_switched(struct fiber *from, struct fiber *to)
{
    trace_wake(to->task, to->name);
    trace_poll_end(from->task, from->state == FIBER_AVAILABLE);
    trace_run_begins(to);
}

/* fiber_spawn has made f READY, from the main fiber or a running one. */
static __attribute__((noinline)) void trace_fiber_spawned(struct fiber *f)
{
    struct fiber *main_fiber = &fibers[0];
    if (!main_fiber_traced) { /* an idle runtime: the main fiber's run begins */
        trace_slot(main_fiber);
        if (main_fiber->task == 0)
            main_fiber->task = trace_next_task_id();
        trace_run_begins(main_fiber);
        main_fiber_traced = true;
    }
    trace_slot(f);
    f->task = trace_next_task_id(); /* a new task, in a slot perhaps used before */
    trace_spawn(f->task, f->name);
}

/* fiber_yield found nobody else ready: every fiber has finished, and the
 * main fiber's run ends (it goes on, but outside the runtime). */
static __attribute__((noinline)) void trace_runtime_idle(void)
{
    if (!main_fiber_traced)
        return; /* nothing was ever spawned */
    trace_poll_end(fibers[0].task, false);
    trace_track_switch(0); /* back to the thread's own track */
    main_fiber_traced = false;
}

/* ===== Switching, with the sanitizer hand-shake and the trace ===== */

/* The first half of a switch: runs on the fiber that is leaving. */
static void before_switch(struct fiber *from, struct fiber *to, void **fake_stack)
{
    previous = from;
#if FIBER_ASAN
    /* A finished fiber never comes back: NULL lets ASan drop its bookkeeping. */
    __sanitizer_start_switch_fiber(from->state == FIBER_AVAILABLE ? NULL : fake_stack,
                                   to->stack_bottom, to->stack_size);
#else
    (void) to;
    (void) fake_stack;
#endif
}

/* The second half: runs on the fiber that has just been switched to. */
static void after_switch(void *fake_stack)
{
#if FIBER_ASAN
    const void *old_bottom;
    size_t old_size;
    __sanitizer_finish_switch_fiber(fake_stack, &old_bottom, &old_size);
    /* Only ASan knows where the main fiber's stack is; it tells us when we
     * leave it, in time for the first switch back. */
    if (previous == &fibers[0]) {
        fibers[0].stack_bottom = (unsigned char *) old_bottom;
        fibers[0].stack_size = old_size;
    }
#else
    (void) fake_stack;
#endif
    if (trace_enabled())
        trace_switched(previous, current);
}

/* Hand the CPU from `from` (the running fiber) to `to` (a ready one). Returns
 * when some later switch_to picks `from` again, which never happens if
 * `from` has finished. Inline, so that fiber_yield makes no call but the
 * switch itself. */
static inline void switch_to(struct fiber *from, struct fiber *to)
{
    void *fake_stack = NULL;

    assert(from == current && to->state == FIBER_READY);
    to->state = FIBER_RUNNING;
    current = to;
    before_switch(from, to, &fake_stack);
    fiber_switch(&from->context, &to->context);
    after_switch(fake_stack);
}

/* ===== A new fiber's first frame ===== */

/*
 * Where a new fiber starts: the first fiber_switch into it "returns" here.
 * This is also the guard: when the fiber's function returns, it returns to
 * us, and we mark the fiber finished and switch away for good.
 */
static _Noreturn void fiber_main(void)
{
    after_switch(NULL); /* a new stack: no fake stack to restore */

    struct fiber *self = current;
    self->fn(self->data);

    self->state = FIBER_AVAILABLE;
    struct fiber *next = next_ready(self);
    /* The main fiber is READY whenever another fiber runs, so there is
     * always somewhere to go. */
    assert(next != NULL);
    switch_to(self, next);
    abort(); /* unreachable: nobody switches to an AVAILABLE fiber */
}

/*
 * Prepare f's stack and context so that the first fiber_switch into it
 * lands in fiber_main, exactly as if fiber_main had been called.
 *
 * x86-64: fiber_switch ends in `ret`, which pops the address at rsp.
 *
 *   top   +-----------------+  (16-byte aligned)
 *    - 8  | 0               |  fiber_main's "return address": none, which
 *         |                 |  also tells debuggers the backtrace ends here
 *    - 16 | &fiber_main     |  <- context.rsp: `ret` pops this
 *         | ...free...      |
 *
 * After the `ret`, rsp = top - 8: exactly what a `call` from a 16-byte
 * aligned stack would leave, which is what the ABI promises every function.
 *
 * aarch64: `ret` jumps to x30 and the stack holds no return address, so
 * context.x30 = &fiber_main and context.sp = top (sp must always be a
 * multiple of 16 there).
 *
 * The new fiber inherits the floating-point mode (rounding, exception
 * masks) of the code that spawned it, as a new thread does.
 */
static void context_init(struct fiber *f)
{
    uintptr_t top = (uintptr_t) (f->stack_bottom + f->stack_size) & ~(uintptr_t) 15;
    struct fiber_context *ctx = &f->context;

    memset(ctx, 0, sizeof *ctx); /* frame pointer 0: the end of every backtrace */
#if defined(__x86_64__)
    uint64_t *slot = (uint64_t *) top;
    slot[-1] = 0;
    slot[-2] = (uint64_t) (uintptr_t) fiber_main;
    ctx->rsp = (uint64_t) (uintptr_t) &slot[-2];
    __asm__ volatile("stmxcsr %0" : "=m"(ctx->mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(ctx->x87_cw));
#elif defined(__aarch64__)
    uint64_t fpcr;
    ctx->sp = (uint64_t) top;
    ctx->x30 = (uint64_t) (uintptr_t) fiber_main;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    ctx->fpcr = fpcr;
#endif
}

/* ===== The public interface (fiber.h) ===== */

int fiber_spawn(fiber_fn fn, void *data)
{
    int err = overflow_handler_install();
    if (err != 0)
        return err;

    struct fiber *f = NULL;
    for (int id = 1; id < FIBER_MAX && f == NULL; id++)
        if (fibers[id].state == FIBER_AVAILABLE)
            f = &fibers[id];
    if (f == NULL)
        return -EAGAIN;

    if (f->mapping == NULL) {
        err = stack_map(f);
        if (err != 0)
            return err;
    } else {
#if FIBER_ASAN
        /* A reused stack: forget the marks the previous fiber left on it. */
        __asan_unpoison_memory_region(f->stack_bottom, f->stack_size);
#endif
    }
    f->fn = fn;
    f->data = data;
    context_init(f);
    f->state = FIBER_READY;
    if (trace_enabled())
        trace_fiber_spawned(f);
    return fiber_id(f);
}

bool fiber_yield(void)
{
    struct fiber *self = current;
    struct fiber *next = next_ready(self);

    if (next == NULL) { /* nobody else wants the CPU? keep it */
        if (trace_enabled())
            trace_runtime_idle();
        return false;
    }
    self->state = FIBER_READY;
    switch_to(self, next);
    return true;
}

void fiber_run(void)
{
    assert(current == &fibers[0]); /* only the main fiber may wait for the rest */

    while (fiber_yield())
        continue;

    /* Every other fiber has finished, and we are on our own stack. */
    for (int id = 1; id < FIBER_MAX; id++)
        stack_unmap(&fibers[id]);
}

int fiber_self(void)
{
    return fiber_id(current);
}
