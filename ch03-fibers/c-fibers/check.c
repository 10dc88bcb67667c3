/*
 * ch03-fibers/c-fibers/check.c: fiber-check, the runtime's own checks, run by
 * tests/test_ch03_fibers.py on every build (plain, ASan, valgrind, aarch64).
 * Step c of chapter 3. Prints "ok <what>" per check; exits 1 if any failed.
 */
#include "fiber.h"

#include <errno.h>
#include <fenv.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int failures;

static void report(bool ok, const char *what)
{
    printf("%s %s\n", ok ? "ok" : "FAIL", what);
    failures += !ok;
}

/* ===== Callee-saved registers ===== */

/* check_registers.S: fills every callee-saved register from seed, yields,
 * and returns how many came back changed. */
unsigned registers_survive_yield(long seed);

struct register_job {
    long seed;
    unsigned changed; /* registers that came back different, over all rounds */
};

static void keep_registers(void *data)
{
    struct register_job *job = data;

    for (int round = 0; round < 3; round++)
        job->changed += registers_survive_yield(job->seed + round * 100);
}

static void check_registers(void)
{
    struct register_job jobs[3] = {{.seed = 1000}, {.seed = 2000}, {.seed = 3000}};

    for (int i = 0; i < 3; i++)
        fiber_spawn(keep_registers, &jobs[i]);
    fiber_run();
    report(jobs[0].changed + jobs[1].changed + jobs[2].changed == 0,
           "every callee-saved register survives fiber_yield");
}

/* ===== Floating-point control ===== */

/* 1/3 has no exact binary form, so its last bit depends on the rounding
 * mode: a double uses SSE (MXCSR) on x86-64, a long double the x87 unit
 * (its control word), and on aarch64 both follow FPCR. */
struct rounding_job {
    int mode;      /* the mode this fiber sets for itself */
    int inherited; /* the mode it found when it started */
    bool kept;     /* its mode, and the results it gives, survived yields */
};

static volatile double three = 3.0;
static volatile long double three_long = 3.0L;

static void keep_rounding(void *data)
{
    struct rounding_job *job = data;

    job->inherited = fegetround();
    fesetround(job->mode);
    double third = 1.0 / three;
    long double third_long = 1.0L / three_long;
    job->kept = true;
    for (int round = 0; round < 3; round++) {
        fiber_yield();
        job->kept &=
            fegetround() == job->mode && 1.0 / three == third && 1.0L / three_long == third_long;
    }
}

static void check_rounding(void)
{
    struct rounding_job up = {.mode = FE_UPWARD}, down = {.mode = FE_DOWNWARD};
    double third = 1.0 / three;

    fesetround(FE_TOWARDZERO); /* what the fibers should inherit */
    fiber_spawn(keep_rounding, &up);
    fiber_spawn(keep_rounding, &down);
    fesetround(FE_TONEAREST);
    fiber_run();

    report(up.kept && down.kept, "each fiber keeps its own rounding mode");
    report(fegetround() == FE_TONEAREST && 1.0 / three == third,
           "the fibers' rounding modes do not leak into the main fiber");
    report(up.inherited == FE_TOWARDZERO && down.inherited == FE_TOWARDZERO,
           "a new fiber inherits the rounding mode of its spawner");
}

/* ===== Stacks ===== */

static bool aligned;

static void check_frame(void *data)
{
    (void) data;
    aligned = (uintptr_t) __builtin_frame_address(0) % 16 == 0;
}

/* Uses three quarters of the stack in one frame. */
static void use_stack(void *data)
{
    volatile unsigned char big[FIBER_STACK_SIZE / 4 * 3];

    memset((unsigned char *) big, 1, sizeof big);
    *(bool *) data = big[0] == 1 && big[sizeof big - 1] == 1;
}

struct chain {
    int spawned; /* fibers started so far */
    int limit;
    int failed; /* spawns that returned an error */
};

/* Each fiber spawns the next one, then finishes: slots and stacks are reused
 * many times over, by fibers spawned from other fibers. */
static void spawn_next(void *data)
{
    struct chain *chain = data;

    fiber_yield();
    if (chain->spawned < chain->limit) {
        chain->spawned++;
        if (fiber_spawn(spawn_next, chain) < 0)
            chain->failed++;
    }
}

static void do_nothing(void *data)
{
    (void) data;
}

static void check_stacks(void)
{
    fiber_spawn(check_frame, NULL);
    fiber_run();
    report(aligned, "a fiber's frames are 16-byte aligned");

    bool used = false;
    fiber_spawn(use_stack, &used);
    fiber_run();
    report(used, "a fiber can use three quarters of its stack");

    struct chain chain = {.spawned = 1, .limit = 100};
    fiber_spawn(spawn_next, &chain);
    fiber_run();
    report(chain.spawned == 100 && chain.failed == 0,
           "100 fibers, each spawned by the one before, reuse the slots");
}

/* ===== The table ===== */

static void check_table(void)
{
    int spawned = 0, id;

    report(fiber_self() == 0 && !fiber_yield(),
           "the main fiber is 0, and yielding with no other fiber returns false");
    while ((id = fiber_spawn(do_nothing, NULL)) > 0)
        spawned++;
    report(spawned == FIBER_MAX - 1 && id == -EAGAIN,
           "the table takes FIBER_MAX - 1 fibers, then spawn returns -EAGAIN");
    fiber_run();
    report(fiber_spawn(do_nothing, NULL) == 1, "after fiber_run every slot is free again");
    fiber_run();
}

int main(int argc, char **argv)
{
    /* The checks take no arguments: a stray one gets one line, not a run. */
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        printf("usage: fiber-check\n"
               "Runs the fiber runtime's own checks and prints \"ok <what>\" for each one.\n");
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "fiber-check: unexpected argument '%s' (try --help)\n",
                argv[strcmp(argv[1], "--help") == 0 ? 2 : 1]);
        return 2;
    }
    check_table();
    check_registers();
    check_rounding();
    check_stacks();
    return failures == 0 ? 0 : 1;
}
