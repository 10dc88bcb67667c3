"""The self-checks of the README exercises: `make -C <step> check-exercise N`
runs the test named test_<step>_ex<N> here (README.md, Exercises).

Three kinds of exercise:
- "Break it": the sources carry the change behind `#ifdef BUG_<NAME>`;
  `make DEFINE=BUG_<NAME>` builds it as <program>-BUG_<NAME>, and the check
  asserts the symptom the README predicts. It runs the same for a student and
  in the suite.
- "Build it": the check runs on the step's programs as they are. For a
  student (WORKBOOK_EXERCISE=1, set by check-exercise) it must pass; in the
  suite it must fail on the reference, which has not done the exercise, and,
  where a short solution sits behind `#ifdef EXERCISE_<N>`, pass on that build.
- "(discussion)": a question, no check.
Every check builds what it runs (make is idempotent), so it is cheap in the
suite, where the programs are built already.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import textwrap
import time

import pytest

from workbook import SANITIZER_ENV, SilentServer, closed_port, path, require_io_uring, run, timed_run

STUDENT = os.environ.get("WORKBOOK_EXERCISE") == "1"


def build(step, define=None, sanitizer=None):
    """Build a step's programs, or their variant with -D<define> (named <program>-<define>)."""
    args = ["make", "-s", "-C", path(step)]
    if define:
        args.append(f"DEFINE={define}")
    if sanitizer:
        args.append(f"SANITIZER={sanitizer}")
    run(args, timeout=600)


def program(step, name, define=None, sanitizer=None):
    """Path of a program built by build(step, define, sanitizer)."""
    suffix = {None: "", "address": "-asan", "thread": "-tsan"}[sanitizer]
    return path(step, name + (f"-{define}" if define else "") + suffix)


def solved(step, number, check, *, solution=False):
    """A "build it" exercise. check(define) raises AssertionError, with one line
    saying what is still missing, unless the programs built with `define`
    (None: the step as it is) show the exercise done."""
    if STUDENT:
        build(step)
        check(None)
        return
    build(step)
    with pytest.raises(AssertionError):
        check(None)
    if solution:
        define = f"EXERCISE_{number}"
        build(step, define)
        check(define)


def patched_step(tmp_path, step, file, changes):
    """A copy of a step (with mk/ and common/ beside it, as in the repository)
    whose `file` has each (old, new) of `changes` made: a "break it" change
    too entangled with the lesson's lines for an #ifdef. Returns its folder."""
    for shared in ("mk", "common"):
        shutil.copytree(path(shared), tmp_path / shared, ignore=shutil.ignore_patterns(".obj*"))
    copy = tmp_path / step
    shutil.copytree(path(step), copy, ignore=shutil.ignore_patterns(".obj*"))
    text = (copy / file).read_text()
    for old, new in changes:
        assert old in text, f"{step}/{file} no longer has: {old}"
        text = text.replace(old, new)
    (copy / file).write_text(text)
    return copy


def hangs(command, seconds):
    """True if `command` is still running after `seconds` (then killed), False
    if it ended; give several times what the reference takes."""
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        proc.wait(timeout=seconds)
        return False
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return True


def compile_probe(tmp_path, step, source, sources, missing, common=("errors", "alloc", "clock", "args"),
                  define=None, flags=()):
    """Compile a small C program against a step's own sources (the student's
    versions), with -D`define` if given and any other `flags`; if it does
    not build, an AssertionError: `missing`, then the compiler's first error."""
    probe = tmp_path / "probe.c"
    probe.write_text(textwrap.dedent(source))
    files = [str(probe)] + [path(step, s) for s in sources] + [path("common", f"{c}.c") for c in common]
    exe = tmp_path / "probe"
    defines = ([f"-D{define}"] if define else []) + list(flags)
    result = subprocess.run(["cc", "-std=c11", "-D_GNU_SOURCE", *defines, "-g", "-Werror=implicit-function-declaration",
                             "-I", path(step), "-o", str(exe),
                             *files, "-lpthread"], capture_output=True, text=True)
    first_error = next((line for line in result.stderr.splitlines() if "error" in line), result.stderr)
    assert result.returncode == 0, f"{missing} ({first_error.strip()})"
    return str(exe)


# For probes: wakers that count their wakes, woken[0] and woken[1] by data 0 and 1.
COUNTING_WAKERS = """
    #include "waker.h"
    #include <stdatomic.h>
    #include <stdint.h>
    #include <stdio.h>
    static atomic_int woken[2];
    static struct waker counting_clone(void *data);
    static void counting_wake(void *data) { atomic_fetch_add(&woken[(intptr_t) data], 1); }
    static void counting_drop(void *data) { (void) data; }
    static const struct waker_vtable counting = {counting_clone, counting_wake, counting_wake, counting_drop};
    static struct waker counting_clone(void *data) { return (struct waker){data, &counting}; }
"""


# ===== ch01-block-on =====

CH01 = "ch01-block-on"
CH01_SOURCES = ["block_on.c", "future.c", "waker.c", "futures.c", "trace.c"]


def test_ch01_block_on_ex1(tmp_path):
    """block_on(future, output) hands back what the future wrote: a timer's message."""
    def check(define):
        exe = compile_probe(tmp_path, CH01, """
            #include "block_on.h"
            #include "futures.h"
            #include <stdio.h>
            int main(void)
            {
                struct timer_future timer;
                timer_init(&timer, 10, "hello");
                _Alignas(16) char output[256] = "";
                block_on(&timer.base, output);
                timer_cleanup(&timer);
                return 0;
            }
            """, CH01_SOURCES, "block_on does not take an output pointer yet")
        run([exe])
    solved(CH01, 1, check)


def test_ch01_block_on_ex2(tmp_path):
    """block_on_timeout gives up on a 500 ms timer after 100 ms with -ETIMEDOUT, and returns 0 in time."""
    def check(define):
        exe = compile_probe(tmp_path, CH01, """
            #include "block_on.h"
            #include "futures.h"
            #include <errno.h>
            #include <stdio.h>
            int main(void)
            {
                struct timer_future late, early;
                timer_init(&late, 500, "late");
                timer_init(&early, 10, "early");
                int gave_up = block_on_timeout(&late.base, 100);
                int finished = block_on_timeout(&early.base, 5000);
                printf("%d %d\\n", gave_up == -ETIMEDOUT, finished == 0);
                timer_cleanup(&late);
                timer_cleanup(&early);
                return 0;
            }
            """, CH01_SOURCES, "block_on_timeout(future, ms) is not in block_on.h yet")
        out = run([exe]).stdout.split()
        assert out == ["1", "1"], "block_on_timeout must return -ETIMEDOUT when time ran out and 0 otherwise"
    solved(CH01, 2, check)


@pytest.mark.sanitizer
def test_ch01_block_on_ex4():
    """The flag before the lock is a data race but loses nothing; flag and signal outside lose a wake-up."""
    build(CH01, "BUG_FLAG_OUTSIDE_LOCK", "thread")
    build(CH01, "BUG_FLAG_OUTSIDE_LOCK")
    build(CH01, "BUG_WAKE_OUTSIDE_LOCK")
    raced = run([program(CH01, "checks", "BUG_FLAG_OUTSIDE_LOCK", "thread"), "stress", "1000"],
                sanitizer=True, check=False)
    assert "WARNING: ThreadSanitizer: data race" in raced.stderr, raced.stderr[-2000:]
    assert "parker_unpark" in raced.stderr, raced.stderr[-2000:]
    # The signal still waits for park's lock: nothing lost.
    passed = run([program(CH01, "checks", "BUG_FLAG_OUTSIDE_LOCK"), "stress", "20000"], timeout=120)
    assert "no wake-up lost" in passed.stdout
    # The signal outside too: the stress's own watchdog sees the lost wake-up.
    lost = run([program(CH01, "checks", "BUG_WAKE_OUTSIDE_LOCK"), "stress", "100"], check=False, timeout=120)
    assert lost.returncode == 3, lost
    assert "a wake-up was lost" in lost.stderr, lost.stderr


@pytest.mark.sanitizer
def test_ch01_block_on_ex5():
    """A plain ++/-- reference count on several threads is a data race TSan reports."""
    build(CH01, "BUG_PLAIN_REFCOUNT", "thread")
    result = run([program(CH01, "checks", "BUG_PLAIN_REFCOUNT", "thread"), "clone-refcount"],
                 sanitizer=True, check=False)
    assert "WARNING: ThreadSanitizer: data race" in result.stderr, result.stderr[-2000:]


def test_ch01_block_on_ex6():
    """The demo's yielding future is polled more than twice and never sleeps."""
    def check(define):
        out = run([program(CH01, "block-on", define)]).stdout
        section = out.split("== 2.", 1)[1].split("== 3.", 1)[0]
        assert "(poll #3)" in section, "the demo's section 2 still polls its future only twice: use yield_n"
        assert "unparked by a wake-up" not in section, "the yielding future made block_on sleep"
    solved(CH01, 6, check)


# ===== ch03-fibers =====

FIBERS = "ch03-fibers/c-fibers"


@pytest.mark.sanitizer
def test_ch03_fibers_c_fibers_ex2():
    """The counters add up to 150; kept in a helper's dead frame, ASan sees the use after return."""
    def check(define):
        out = run([program(FIBERS, "fibers", define)]).stdout
        assert out.rstrip().endswith("total: 150"), "./fibers does not end with 'total: 150' yet"
    solved(FIBERS, 2, check, solution=True)

    bug = "BUG_COUNTERS_IN_HELPER"
    build(FIBERS, bug)
    build(FIBERS, bug, "address")
    wrong = run([program(FIBERS, "fibers", bug)]).stdout.rstrip().splitlines()[-1]
    assert wrong.startswith("total: ") and wrong != "total: 150", wrong
    caught = run([program(FIBERS, "fibers", bug, "address")], sanitizer=True, check=False,
                 env={"ASAN_OPTIONS": "detect_stack_use_after_return=1:halt_on_error=1:exitcode=86"})
    assert caught.returncode == 86 and "ERROR: AddressSanitizer: stack-use-after-return" in caught.stderr, \
        caught.stderr[-2000:]


# ===== ch04-coroutines =====

BUSY = "ch04-coroutines/b-async-await"


def test_ch04_coroutines_b_async_await_ex2(start_server):
    """Polling without a pause costs system time: sys many times the pausing run's, and above user."""
    build(BUSY)
    build(BUSY, "BUG_BUSY_POLL")
    server = start_server("--speedup", "5")  # each run waits about 2 s for its answers
    env = dict(os.environ, DELAYSERVER_ADDR=server.addr)
    procs = [subprocess.Popen([program(BUSY, "async-await", define)], env=env, stdout=subprocess.DEVNULL)
             for define in (None, "BUG_BUSY_POLL")]
    start = time.monotonic()
    usage = []
    for proc in procs:
        _, status, rusage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        assert proc.returncode == 0, proc.args
        usage.append(rusage)
    elapsed = time.monotonic() - start
    pausing, busy = usage
    # The CPU time is sampled in ticks, and a busy machine gives the busy
    # loop less of it: wide margins only.
    assert busy.ru_stime > 3 * pausing.ru_stime + 0.02, (pausing, busy)
    assert busy.ru_utime < elapsed / 2, f"user {busy.ru_utime} s of {elapsed:.1f} s: a whole core?"


# ===== ch02-epoll =====

EPOLL = "ch02-epoll"


def test_ch02_epoll_ex1(delayserver):
    """Level-triggered, a finished stream that stays registered is reported again and again."""
    build(EPOLL, "BUG_LEVEL_TRIGGERED")
    out = run([program(EPOLL, "epoll", "BUG_LEVEL_TRIGGERED")]).stdout
    assert out.count("IGNORED") > 1000, out[-2000:]
    assert "FINISHED" in out


def test_ch02_epoll_ex2():
    """Waiting on a silent server, the loop says TIMEOUT every 500 ms until the deadline."""
    def check(define):
        with SilentServer() as server:
            result = run([program(EPOLL, "epoll", define), "-n", "1"], check=False,
                         env={"DELAYSERVER_ADDR": server.addr, "DELAYSERVER_TIMEOUT_MS": "1300"})
        assert "gave up after 1.3 s" in result.stderr, result.stderr
        assert result.stdout.count("TIMEOUT\n") == 2, "no TIMEOUT line every 500 ms yet"
    solved(EPOLL, 2, check, solution=True)


def test_ch02_epoll_ex3(delayserver):
    """Without the done flag, one stream's end counts again and again: FINISHED with answers missing."""
    build(EPOLL, "BUG_NO_DONE_FLAG")
    out = run([program(EPOLL, "epoll", "BUG_NO_DONE_FLAG"), "--rearm"]).stdout
    answers = [line for line in out.splitlines() if line.startswith("200 OK")]
    assert "FINISHED" in out and len(answers) == 5, out
    assert len(set(answers)) < 5, answers


def test_ch02_epoll_ex4(delayserver):
    """One read per edge leaves the server's close unread: the run stalls until its deadline."""
    build(EPOLL, "BUG_SINGLE_READ")
    for _ in range(5):  # most runs stall; one whose close came as an edge of its own ends
        result = run([program(EPOLL, "epoll", "BUG_SINGLE_READ")], check=False,
                     env={"DELAYSERVER_TIMEOUT_MS": "1000"})
        if result.returncode == 1 and "responses never came" in result.stderr:
            return
    pytest.fail(f"five runs and none stalled: {result}")


def test_ch02_epoll_ex5(delayserver):
    """connect no longer waits: it returns EINPROGRESS, and the answers still come."""
    def check(define):
        result = run(["strace", "-f", "-e", "trace=connect", program(EPOLL, "epoll", define), "-n", "2"])
        assert "EINPROGRESS" in result.stderr, "connect still waits for the handshake (no EINPROGRESS)"
        assert result.stdout.count("200 OK") == 2, result.stdout
    solved(EPOLL, 5, check)


# ===== ch03-fibers/a-stack-swap =====

SWAP = "ch03-fibers/a-stack-swap"


def stack_swap_crash(bug):
    """Build stack-swap with `bug`; its plain build must die of SIGSEGV. Returns what its ASan build says."""
    build(SWAP, bug)
    build(SWAP, bug, "address")
    assert run([program(SWAP, "stack-swap", bug)], check=False).returncode == -11
    return run([program(SWAP, "stack-swap", bug, "address")], sanitizer=True, check=False).stderr


@pytest.mark.sanitizer
def test_ch03_fibers_a_stack_swap_ex1():
    """Without come_home on the new stack, hello's ret jumps to address 0."""
    said = stack_swap_crash("BUG_NO_LANDING_PAD")
    assert "SEGV on unknown address 0x000000000000 (pc 0x000000000000" in said, said


@pytest.mark.sanitizer
def test_ch03_fibers_a_stack_swap_ex2():
    """A stack pointer 8 bytes off makes printf fault on x86-64; qemu-aarch64 does not notice."""
    bug = "BUG_MISALIGNED"
    said = stack_swap_crash(bug)
    assert "ERROR: AddressSanitizer: SEGV" in said, said
    assert "#0" in said and "printf" in said.split("#0", 1)[1].split("\n", 1)[0], said
    run(["make", "-s", "-C", path(SWAP), f"DEFINE={bug}", "aarch64"], timeout=600)
    emulated = run(["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu", program(SWAP, "stack-swap", bug) + "-aarch64"])
    assert "hello: 1.500000" in emulated.stdout


# ===== ch03-fibers/c-fibers (exercise 2 is above) =====


def test_ch03_fibers_c_fibers_ex1():
    """A fiber spawned by fiber 1 after its counter 5 starts right after fiber 2's counter 5."""
    def check(define):
        lines = run([program(FIBERS, "fibers", define)]).stdout.splitlines()
        assert "THREAD 3 STARTING" in lines, "./fibers never starts a third fiber yet"
        assert lines[lines.index("THREAD 3 STARTING") - 1] == "thread: 2 counter: 5", lines
        assert [line for line in lines if line.startswith("thread: 3 ")] == \
            [f"thread: 3 counter: {i}" for i in range(3)], lines
    solved(FIBERS, 1, check, solution=True)


@pytest.mark.sanitizer
def test_ch03_fibers_c_fibers_ex3():
    """A switch that forgets r12 breaks fiber-check; one that forgets rbp is fiber-check's blind spot."""
    build(FIBERS, "BUG_NO_R12")
    build(FIBERS, "BUG_NO_RBP")
    build(FIBERS, "BUG_NO_RBP", "address")
    try:
        broken = subprocess.run([program(FIBERS, "fiber-check", "BUG_NO_R12")], capture_output=True,
                                text=True, timeout=3)
        assert broken.returncode != 0, broken.stdout  # a FAIL, if it does not hang
    except subprocess.TimeoutExpired:
        pass  # the hang the README predicts
    run([program(FIBERS, "fiber-check", "BUG_NO_RBP")])
    run([program(FIBERS, "fiber-check", "BUG_NO_RBP", "address")], sanitizer=True)


@pytest.mark.sanitizer
def test_ch03_fibers_c_fibers_ex4():
    """With 4 KiB stacks every run prints the demo or names the fiber that overflowed."""
    bug = "BUG_SMALL_STACK"
    build(FIBERS, bug)
    build(FIBERS, bug, "address")
    for sanitizer in (None, "address"):
        result = run([program(FIBERS, "fibers", bug, sanitizer)], sanitizer=True, check=False)
        ended = result.stdout.rstrip().endswith("THREAD 2 FINISHED") and result.returncode == 0
        overflowed = result.returncode == 1 and \
            "overflowed its 4096-byte stack" in result.stderr.strip().splitlines()[-1]
        assert ended or overflowed, result


# ===== ch03-fibers/b-show-stack =====

SHOW = "ch03-fibers/b-show-stack"


def test_ch03_fibers_b_show_stack_ex1():
    """Shown again from hello: come_home's row is unchanged, hello's row holds a saved frame pointer."""
    def check(define):
        out = run([program(SHOW, "show-stack", define)]).stdout
        dumps = out.split("bytes of the new stack, one 8-byte word a row:\n")
        assert len(dumps) == 3, "hello does not show the stack a second time yet"
        first, second = ({note: line.split("= ")[1][:18] for line in dump.splitlines()
                          for note in ("pops hello", "come_home") if line.endswith(note)}
                         for dump in dumps[1:])
        assert second["come_home"] == first["come_home"], out
        assert second["pops hello"] != first["pops hello"] and second["pops hello"].startswith("0x00007f"), out
    solved(SHOW, 1, check, solution=True)


# ===== ch04-coroutines/a-coroutine =====

COROUTINE = "ch04-coroutines/a-coroutine"


def test_ch04_coroutines_a_coroutine_ex1(delayserver):
    """The hand-written machine sends a third request and prints its answer."""
    def check(define):
        out = run([program(COROUTINE, "coroutine", define)]).stdout
        assert out.count("200 OK") == 3, "./coroutine prints two answers, not three, yet"
    solved(COROUTINE, 1, check)


def test_ch04_coroutines_a_coroutine_ex2(tmp_path):
    """A start kept in a local of poll is used uninitialized after the wait, and gcc says so."""
    copy = patched_step(tmp_path, COROUTINE, "coroutine.c", [
        ("    uint64_t start;              /* when that GET started: set before the wait, read after */\n", ""),
        ("frame->start", "start"),
        ("    char *text;", "    uint64_t start;\n    char *text;")])
    result = run(["make", "-s", "-C", str(copy), ".obj/coroutine.o"], check=False)
    said = result.stderr.replace("\u2018", "'").replace("\u2019", "'")
    assert result.returncode != 0 and "'start' may be used uninitialized" in said, result.stderr
    run(["make", "-s", "-C", str(copy), "WERROR=0", ".obj/coroutine.o"])


def test_ch04_coroutines_a_coroutine_ex3(start_server):
    """With a 500 ms deadline the 600 ms request never answers: one clear line, exit status 1."""
    server = start_server("--speedup", "1")
    build(COROUTINE)
    result = run([program(COROUTINE, "coroutine")], check=False,
                 env={"DELAYSERVER_ADDR": server.addr, "DELAYSERVER_TIMEOUT_MS": "500"})
    assert result.returncode == 1, result
    assert re.fullmatch(r"coroutine: gave up after 500 ms: [12] of 2 responses never came\n", result.stderr), \
        result.stderr


# ===== ch04-coroutines/b-async-await (exercise 2 is above) =====


def test_ch04_coroutines_b_async_await_ex3(delayserver):
    """async_main as a loop: the same five answers, and one wait point in the generated machine."""
    def check(define):
        out = run([program(BUSY, "async-await", define)]).stdout
        assert out.count("200 OK") == 5, out
        with open(path(BUSY, "async_await_corofied.c")) as f:
            generated = f.read()
        body = generated.split("async_main_poll(struct future *self", 1)[1].split("\n}\n", 1)[0]
        waits = re.findall(r"^\s*case (\d+):", body, re.M)
        assert waits == ["0", "1"], f"async_main_poll has wait points {waits[1:]}: not one loop yet"
    solved(BUSY, 3, check)


# ===== ch04-coroutines/c-async-await =====

JOIN = "ch04-coroutines/c-async-await"

# Futures for the probes: each is ready after `polls_left` pending polls
# (never, if negative), writes `value`, and counts its drop.
COUNTDOWN = """
    #include "join_all.h"
    #if __has_include("join_first.h")
    #include "join_first.h"
    #endif
    #include <stdio.h>
    #include <stdlib.h>
    static int drops;
    struct countdown { struct future base; int polls_left, value; };
    static enum poll_status countdown_poll(struct future *self, void *output)
    {
        struct countdown *c = (struct countdown *) self;
        if (c->polls_left < 0 || c->polls_left-- > 0)
            return POLL_PENDING;
        if (output)
            *(int *) output = c->value;
        return POLL_READY;
    }
    static void countdown_drop(struct future *self) { drops++; free(self); }
    static struct future *countdown(int polls_left, int value)
    {
        struct countdown *c = malloc(sizeof *c);
        *c = (struct countdown){{countdown_poll, countdown_drop}, polls_left, value};
        return &c->base;
    }
"""


def join_sources():
    return ["join_all.c"] + (["join_first.c"] if os.path.exists(path(JOIN, "join_first.c")) else [])


def test_ch04_coroutines_c_async_await_ex1(tmp_path):
    """join_all(futures, count, output_size) hands back every output, in the order of the futures."""
    def check(define):
        exe = compile_probe(tmp_path, JOIN, COUNTDOWN + """
            int main(void)
            {
                struct future *futures[] = {countdown(2, 10), countdown(0, 11), countdown(1, 12)};
                struct future *join = join_all(futures, 3, sizeof(int));
                int *outputs = NULL;
                for (int polls = 0; join->poll(join, &outputs) == POLL_PENDING; polls++)
                    if (polls == 10)
                        return 2;
                printf("%d %d %d %d\\n", outputs[0], outputs[1], outputs[2], drops);
                join->drop(join);
                return 0;
            }
            """, join_sources(), "join_all does not take an output size yet", common=())
        assert run([exe]).stdout.split() == ["10", "11", "12", "3"], "join_all's outputs are not in order"
    solved(JOIN, 1, check)


def test_ch04_coroutines_c_async_await_ex2(tmp_path):
    """join_first is ready as soon as one future is, and drops every other one."""
    def check(define):
        exe = compile_probe(tmp_path, JOIN, COUNTDOWN + """
            int main(void)
            {
                struct future *futures[] = {countdown(3, 10), countdown(1, 11), countdown(-1, 12)};
                struct future *first = join_first(futures, 3);
                int polls = 1;
                while (first->poll(first, NULL) == POLL_PENDING)
                    if (++polls == 10)
                        return 2;
                first->drop(first);
                printf("%d %d\\n", polls, drops);
                return 0;
            }
            """, join_sources(), "there is no join_first(futures, count) yet", common=())
        assert run([exe]).stdout.split() == ["2", "3"], "join_first must be ready on the poll where one is"
    solved(JOIN, 2, check)


# ===== ch04-coroutines/d-locals =====

LOCALS = "ch04-coroutines/d-locals"


def test_ch04_coroutines_d_locals_ex1(tmp_path, delayserver):
    """collect's machine written by hand in by_hand.c runs as the generated one does."""
    def check(define):
        assert os.path.exists(path(LOCALS, "by_hand.c")), "there is no by_hand.c yet"
        copy = patched_step(tmp_path, LOCALS, "by_hand.c", [])
        run(["make", "-s", "-C", str(copy), "SRCS=by_hand.c http.c"])
        mine = run([str(copy / "locals")]).stdout
        generated = run([program(LOCALS, "locals")]).stdout
        strip = lambda out: re.sub(r"0x[0-9a-f]+|\(\d+ ms\)", "", out)  # noqa: E731
        assert strip(mine) == strip(generated), mine
        moved = run([str(copy / "locals"), "--copy-frame"], check=False)
        assert moved.returncode == 1, "by_hand.c's locals --copy-frame was not caught"
    solved(LOCALS, 1, check)


@pytest.mark.sanitizer
def test_ch04_coroutines_d_locals_ex2(delayserver):
    """A frame moved and freed leaves a stale pointer: ASan sees the heap-use-after-free in append."""
    bug = "BUG_FREE_OLD_FRAME"
    build(LOCALS, bug, "address")
    result = run([program(LOCALS, "locals", bug, "address"), "--copy-frame"], sanitizer=True, check=False)
    assert "ERROR: AddressSanitizer: heap-use-after-free" in result.stderr, result.stderr[-2000:]
    assert " in append " in result.stderr.split("freed by thread", 1)[0], result.stderr[-2000:]


# ===== ch05-runtime/a-runtime =====

RUNTIME = "ch05-runtime/a-runtime"


def test_ch05_runtime_a_runtime_ex1(delayserver, start_server):
    """main prints how often block_on slept: a small number, the same at two server speeds."""
    def check(define):
        slower = start_server("--speedup", "5")
        counts = []
        for server in (delayserver, slower):
            last = run([program(RUNTIME, "runtime", define)], env={"DELAYSERVER_ADDR": server.addr}) \
                .stdout.rstrip().splitlines()[-1]
            numbers = re.findall(r"\d+", last)
            assert not last.startswith("200 OK") and numbers, "main does not print block_on's count yet"
            counts.append(numbers[-1])
        assert counts[0] == counts[1] and int(counts[0]) <= 10, counts
    solved(RUNTIME, 1, check, solution=True)


def test_ch05_runtime_a_runtime_ex2(delayserver):
    """Registered only after the send, nothing reports the connection: every request hits its deadline."""
    bug = "BUG_REGISTER_LATE"
    build(RUNTIME, bug)
    result = run([program(RUNTIME, "runtime", bug)], check=False, env={"DELAYSERVER_TIMEOUT_MS": "500"})
    assert result.returncode == 1, result
    assert result.stdout.count("Schedule other tasks") == 2 and "200 OK" not in result.stdout, result.stdout
    assert result.stderr.endswith("gave up after 500 ms: 2 of 2 responses never came\n"), result.stderr


# ===== ch05-runtime/b-executor =====

EXECUTOR = "ch05-runtime/b-executor"


@pytest.mark.sanitizer
def test_ch05_runtime_b_executor_ex1():
    """A waker clone that takes no reference outlives its task: ASan reports the use after free."""
    bug = "BUG_CLONE_NO_REF"
    build(EXECUTOR, bug, "address")
    result = run([program(EXECUTOR, "waker-check", bug, "address")], sanitizer=True, check=False)
    assert "ERROR: AddressSanitizer: heap-use-after-free" in result.stderr, result.stderr[-2000:]


def test_ch05_runtime_b_executor_ex3(delayserver):
    """Each answer spawns a follow-up: the pending count goes up again, and the end still comes last."""
    def check(define):
        lines = run([program(EXECUTOR, "executor", define)]).stdout.splitlines()
        pending = [int(m.group(1)) for line in lines for m in [re.search(r"(\d+) pending tasks", line)] if m]
        assert any(later > earlier for earlier, later in zip(pending, pending[1:])), \
            f"the pending tasks never go up again ({pending}): no follow-up spawned yet"
        assert lines[-1].endswith("All tasks are finished"), lines[-3:]
        assert sum(line.startswith("200 OK") for line in lines) > 5, lines
    solved(EXECUTOR, 3, check)


# ===== ch05-runtime/c-reactor-thread =====

REACTOR = "ch05-runtime/c-reactor-thread"


def test_ch05_runtime_c_reactor_thread_ex1():
    """Without the generation in the token, a stale event wakes the slot's next owner."""
    bug = "BUG_NO_GENERATION"
    build(REACTOR, bug)
    for _ in range(5):  # the race is lost on most runs, not all
        result = run([program(REACTOR, "waker-check", bug)], check=False)
        if "FAILED: a stale event woke the wrong registration" in result.stdout + result.stderr:
            return
    pytest.fail(f"five runs and no stale event caught: {result}")


@pytest.mark.sanitizer
def test_ch05_runtime_c_reactor_thread_ex2():
    """Waking under the reactor's lock takes the two locks in one order only: TSan stays quiet."""
    bug = "BUG_WAKE_UNDER_LOCK"
    build(REACTOR, bug, "thread")
    result = run([program(REACTOR, "waker-check", bug, "thread")], sanitizer=True)
    assert result.stdout.rstrip().endswith("all checks passed"), result.stdout


# ===== ch05-runtime/d-multi-thread =====

MULTI = "ch05-runtime/d-multi-thread"


@pytest.mark.sanitizer
def test_ch05_runtime_d_multi_thread_ex2(start_server):
    """exec-1's last request wakes a task of main through a shared waker slot: it says so on main's thread."""
    def check(define):
        build(MULTI, define, "thread")
        server = start_server("--speedup", "10")
        out = run([program(MULTI, "multi-thread", define, "thread"), "--threads", "2"], sanitizer=True,
                  env={"DELAYSERVER_ADDR": server.addr}).stdout.splitlines()
        woken = [i for i, line in enumerate(out) if line == "main: woken by exec-1"]
        assert woken, "no task of main says 'main: woken by exec-1' yet"
        received = [i for i, line in enumerate(out) if line.startswith("exec-1: received")]
        assert len(received) == 5 and woken[0] > received[-1], out
    solved(MULTI, 2, check)


# ===== ch05-runtime/e-timers =====

TIMERS = "ch05-runtime/e-timers"


def armed_deadlines(command):
    """The it_value of every timerfd_settime a run makes, in nanoseconds."""
    result = run(["strace", "-f", "-e", "trace=timerfd_settime", *command])
    return [int(s) * 10**9 + int(ns) for s, ns in
            re.findall(r"it_value=\{tv_sec=(\d+), tv_nsec=(\d+)\}", result.stderr)]


def test_ch05_runtime_e_timers_ex1():
    """With the heap driving the reactor's timeout, the heap run arms no timerfd at all."""
    def check(define):
        run([program(TIMERS, "timer-check", define)])
        armed = armed_deadlines([program(TIMERS, "timers", define), "--heap", "--many", "1000"])
        assert not armed, f"the heap still arms its timerfd ({len(armed)} timerfd_settime calls)"
    solved(TIMERS, 1, check)


def test_ch05_runtime_e_timers_ex2():
    """Without the tick, every deadline is armed as it is, to the nanosecond, not rounded to 1 ms."""
    build(TIMERS)
    build(TIMERS, "BUG_TICK_1NS")
    whole = armed_deadlines([program(TIMERS, "timers"), "--heap", "--many", "1000"])
    exact = armed_deadlines([program(TIMERS, "timers", "BUG_TICK_1NS"), "--heap", "--many", "1000"])
    assert whole and all(ns % 1_000_000 == 0 for ns in whole), whole
    assert exact and any(ns % 1_000_000 != 0 for ns in exact), exact


def test_ch05_runtime_e_timers_ex3():
    """The heap replaced by a wheel named "wheel": timer-check passes on it, and 20000 sleeps all wake."""
    def check(define):
        first = run([program(TIMERS, "timers", define), "--heap"]).stdout.splitlines()[0]
        assert "(wheel timers)" in first, \
            f"./timers --heap says {first!r}: timer_backend_name() does not name a wheel yet"
        run([program(TIMERS, "timer-check", define)])
        many = run([program(TIMERS, "timers", define), "--heap", "--many", "20000"]).stdout
        assert re.search(r"^woke: 20000, 0 early", many, re.M), many[-500:]
    solved(TIMERS, 3, check)


TIMEOUT_PROBE = """
    #include "timeout.h"
    #include "reactor.h"
    #include "timer.h"
    #include <dirent.h>
    #include <stdbool.h>
    #include <stdio.h>
    #include <unistd.h>
    static struct waker noop_clone(void *data);
    static void noop(void *data) { (void) data; }
    static const struct waker_vtable noop_vtable = {noop_clone, noop, noop, noop};
    static struct waker noop_clone(void *data) { return (struct waker){data, &noop_vtable}; }
    static int open_fds(void)
    {
        int n = 0;
        DIR *dir = opendir("/proc/self/fd");
        while (readdir(dir) != NULL)
            n++;
        closedir(dir);
        return n;
    }
    /* Poll timeout(timer_sleep_ms(inner_ms), ms) every millisecond to its end. */
    static void run(unsigned inner_ms, unsigned ms)
    {
        struct waker waker = {NULL, &noop_vtable};
        int inner_result = 1;
        bool timed_out = false;
        int fds = open_fds();
        struct future *f = timeout(timer_sleep_ms(inner_ms), ms, &inner_result);
        while (f->poll(f, &waker, &timed_out) == POLL_PENDING)
            usleep(1000);
        f->drop(f);
        printf("%d %d %d\\n", timed_out, inner_result, open_fds() - fds);
    }
    int main(void)
    {
        if (reactor_start() < 0 || timer_start(TIMER_FD) < 0)
            return 2;
        run(500, 100);
        run(10, 1000);
        timer_stop();
        reactor_stop();
        return 0;
    }
"""


def test_ch05_runtime_e_timers_ex4(tmp_path):
    """timeout(timer_sleep_ms(500), 100) times out, timeout(timer_sleep_ms(10), 1000) does not; no fd stays open."""
    def check(define):
        sources = ["timer.c", "timer-fd.c", "timer-heap.c", "reactor.c", "poll.c", "waker.c"]
        assert os.path.exists(path(TIMERS, "timeout.c")), "there is no timeout.c yet"
        exe = compile_probe(tmp_path, TIMERS, TIMEOUT_PROBE, ["timeout.c"] + sources,
                            "timeout(inner, ms, &inner_output) is not in timeout.h yet",
                            common=("errors", "alloc", "clock", "args", "trace"))
        late, early = (line.split() for line in run([exe]).stdout.splitlines())
        assert late == ["1", "1", "0"], f"a 500 ms sleep under a 100 ms timeout: timed out, left fds {late}"
        assert early == ["0", "0", "0"], f"a 10 ms sleep under a 1000 ms timeout: timed out, result, fds {early}"
    solved(TIMERS, 4, check)


# ===== ch05-runtime/f-join =====

JOINS = "ch05-runtime/f-join"


def test_ch05_runtime_f_join_ex1():
    """A wake during the task's own poll, not queued by stop_running, is lost: the stress never ends."""
    bug = "BUG_LOSE_WAKE"
    build(JOINS, bug)
    proc = subprocess.Popen([program(JOINS, "join-check", bug)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = proc.communicate(timeout=5)  # the reference passes in a fraction of a second
        assert "FAILED" in out, out
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    assert out.count("\n") >= 5 and "FAILED" not in "\n".join(out.splitlines()[:5]), out


@pytest.mark.sanitizer
def test_ch05_runtime_f_join_ex2():
    """A handle dropped while pending keeps its waker clone: join-check says so."""
    bug = "BUG_KEEP_JOIN_WAKER"
    build(JOINS, bug, "address")
    result = run([program(JOINS, "join-check", bug, "address")], sanitizer=True, check=False)
    assert "FAILED: a dropped handle still holds its waker" in result.stdout + result.stderr, result


@pytest.mark.sanitizer
def test_ch05_runtime_f_join_ex3(tmp_path):
    """A detached task's malloc'd result is freed by the drop_output given to executor_spawn_on: no leak."""
    def check(define):
        exe = compile_probe(tmp_path, JOINS, """
            #include "executor.h"
            #include <stdlib.h>
            #include <string.h>
            static enum poll_status text_poll(struct future *self, const struct waker *waker, void *output)
            {
                (void) self, (void) waker;
                *(char **) output = strdup("nobody reads this");
                return POLL_READY;
            }
            static void text_drop(struct future *self) { free(self); }
            static void free_text(void *output) { free(*(char **) output); }
            int main(void)
            {
                struct executor *ex = executor_new("exec");
                struct future *text = malloc(sizeof *text);
                *text = (struct future){.poll = text_poll, .drop = text_drop};
                join_detach(executor_spawn_on(ex, text, sizeof(char *), free_text, "text"));
                executor_shutdown(ex);
                executor_run(ex);
                executor_free(ex);
                return 0;
            }
            """, ["executor.c", "waker.c"],
            "executor_spawn_on(ex, future, output_size, drop_output, name, ...) takes no drop_output yet",
            common=("errors", "alloc", "clock", "args", "trace"),
            flags=["-fsanitize=address", "-Werror=incompatible-pointer-types", "-Werror=int-conversion"])
        result = run([exe], sanitizer=True, check=False)
        assert "LeakSanitizer" not in result.stderr, "the detached task's result leaked: " + result.stderr[-1500:]
        assert result.returncode == 0, result.stderr[-1500:]
    solved(JOINS, 3, check)


# ===== ch06-io-uring/a-rings =====

RINGS = "ch06-io-uring/a-rings"


def test_ch06_io_uring_a_rings_ex1(delayserver):
    """Without the link, sends complete before their connects, and a refused connection fails the send."""
    bug = "BUG_NO_LINK"
    build(RINGS)
    build(RINGS, bug)
    require_io_uring(program(RINGS, "rings"))
    def sends_first(out):
        return any(out.index(f"COMPLETED: request-{i} send ") < out.index(f"COMPLETED: request-{i} connect ")
                   for i in range(5))
    for _ in range(3):  # the order of the completions is the kernel's: some runs may keep it
        out = run([program(RINGS, "rings", bug)]).stdout
        if sends_first(out):
            break
    assert sends_first(out), out
    refused = run([program(RINGS, "rings", bug)], check=False,
                  env={"DELAYSERVER_ADDR": f"127.0.0.1:{closed_port()}"})
    assert "cannot send to" in refused.stderr and "cannot connect" not in refused.stderr, refused.stderr


def test_ch06_io_uring_a_rings_ex2(delayserver):
    """With MSG_WAITALL a response takes one recv: 16 operations for 5 responses, not 21."""
    def check(define):
        exe = program(RINGS, "rings", define)
        require_io_uring(program(RINGS, "rings"))
        out = run([exe]).stdout
        assert re.search(r"^FINISHED: 5 responses, 16 operations in \d+ calls", out, re.M), \
            "each response still takes two recvs: " + next(line for line in out.splitlines()
                                                           if line.startswith("FINISHED"))
    solved(RINGS, 2, check)


def test_ch06_io_uring_a_rings_ex4(delayserver):
    """After the first call the SQ head and tail are 16, and the CQ tail minus head is what was ready."""
    def check(define):
        require_io_uring(program(RINGS, "rings"))
        lines = run([program(RINGS, "rings", define)]).stdout.splitlines()
        first = next(i for i, line in enumerate(lines) if line.startswith("ENTER: submitted"))
        ready = int(lines[first].rsplit(" ", 1)[1])
        numbers = [int(n) for n in re.findall(r"\d+", lines[first + 1])]
        assert len(numbers) >= 4, "no line of four indexes after the ENTER line yet"
        sq_head, sq_tail, cq_head, cq_tail = numbers[-4:]
        assert sq_head == sq_tail == 16 and cq_tail - cq_head == ready, lines[first:first + 2]
    solved(RINGS, 4, check, solution=True)


def test_ch06_io_uring_a_rings_ex3():
    """A relaxed load of the completion tail loses its acquire: one ldar fewer on arm64."""
    def ldar(*flags):
        result = run(["aarch64-linux-gnu-gcc", "-std=c11", "-D_GNU_SOURCE", *flags, "-O2", "-S", "-o", "-",
                      path(RINGS, "ring.c")])
        return len(re.findall(r"\bldar\b", result.stdout))
    assert ldar() == 4
    assert ldar("-DBUG_RELAXED_TAIL") == 3


# ===== ch06-io-uring/c-cancel =====

CANCEL = "ch06-io-uring/c-cancel"


def test_ch06_io_uring_c_cancel_ex1(delayserver):
    """valgrind sees the kernel's write to freed memory only as the read that follows it, in complete."""
    run(["make", "-s", "-C", path(CANCEL), "cancel-bug"], timeout=600)
    require_io_uring(program(CANCEL, "cancel"))
    result = run(["valgrind", program(CANCEL, "cancel-bug"), "--patience", "50"], check=False)
    report = result.stderr.split("Invalid read", 1)
    assert len(report) == 2 and "complete (reactor.c" in report[1].split("free'd", 1)[0], result.stderr
    assert "with_timeout_poll (timeout.c" in report[1].split("free'd", 1)[1], result.stderr


def test_ch06_io_uring_c_cancel_ex2(start_server):
    """Abandoned without a cancel, a dropped receive lasts until the server answers."""
    bug = "BUG_NO_ASYNC_CANCEL"
    build(CANCEL)
    build(CANCEL, bug)
    require_io_uring(program(CANCEL, "cancel"))
    server = start_server("--speedup", "5")  # the slowest answer, 2 s, comes after 400 ms
    result, elapsed = timed_run([program(CANCEL, "cancel", bug), "--patience", "100"],
                                env={"DELAYSERVER_ADDR": server.addr})
    assert "no answer within 100 ms: dropped" in result.stdout, result.stdout
    assert elapsed >= 0.39, f"ended after {elapsed:.3f} s: the receives were cancelled"


@pytest.mark.sanitizer
def test_ch06_io_uring_c_cancel_ex3(delayserver):
    """A timer freed while in flight: its completion, when it fires, lands in freed memory."""
    bug = "BUG_FREE_TIMER_EARLY"
    build(CANCEL, bug, "address")
    require_io_uring(program(CANCEL, "cancel"))
    result = run([program(CANCEL, "cancel", bug, "address"), "--patience", "500"], sanitizer=True,
                 check=False)
    assert "ERROR: AddressSanitizer: heap-use-after-free" in result.stderr, result.stderr[-2000:]
    assert " in complete " in result.stderr.split("freed by thread", 1)[0], result.stderr[-2000:]


def test_ch06_io_uring_c_cancel_ex4(delayserver):
    """Each linked timeout's completion is printed: -125 (cancelled) fifteen times."""
    def check(define):
        out = run([program(CANCEL, "cancel", define)]).stdout
        assert len(re.findall(r"(?<![\d-])-125\b", out)) == 15, "./cancel does not print -125 fifteen times yet"
    solved(CANCEL, 4, check)


# ===== ch05-runtime/i-scopes =====

SCOPES = "ch05-runtime/i-scopes"


def test_ch05_runtime_i_scopes_ex1():
    """A future that copies its sleep elsewhere after the first poll is stopped by check_pinned's assertion."""
    def check(define):
        result = run([program(SCOPES, "scopes", define)], check=False)
        assert result.returncode == -6 and "a future moved after its first poll" in result.stderr, \
            "./scopes runs no future that moves its sleep yet (or nothing caught the move)"
    solved(SCOPES, 1, check, solution=True)


def test_ch05_runtime_i_scopes_ex3():
    """Polling every running child, not only the woken ones: the same output, more polls."""
    build(SCOPES)
    build(SCOPES, "BUG_POLL_EVERY_CHILD")
    runs = [run([program(SCOPES, "scopes", define)], env={"ASYNC_TRACE": "-"})
            for define in (None, "BUG_POLL_EVERY_CHILD")]
    timings = re.compile(r"\d+ ms")
    assert timings.sub("", runs[0].stdout) == timings.sub("", runs[1].stdout), runs[1].stdout
    polls = [sum(line.split()[3:4] == ["poll"] for line in r.stderr.splitlines()) for r in runs]
    assert polls[1] > polls[0] > 0, polls


def test_ch05_runtime_i_scopes_ex2():
    """A cancelled child that is never dropped leaves its nodes linked: rt_block_on's assertion stops it."""
    bug = "BUG_CANCEL_NO_DROP"
    build(SCOPES, bug)
    result = run([program(SCOPES, "scopes", bug)], check=False)
    assert result.returncode == -6, result
    assert "the root future finished with registrations still linked" in result.stderr, result.stderr


def test_ch05_runtime_i_scopes_ex4():
    """With a timerfd per sleep, ./scopes creates one for each sleep it polls, and says the same."""
    def check(define):
        result = run(["strace", "-f", "-e", "trace=timerfd_create", program(SCOPES, "scopes", define)])
        created = result.stderr.count("timerfd_create(")
        assert created >= 14, f"./scopes creates {created} timerfds for its 14 sleeps: none of its own yet"
        reference = run([program(SCOPES, "scopes")]).stdout
        timings = re.compile(r"\d+ ms")
        assert timings.sub("", result.stdout) == timings.sub("", reference), result.stdout
    solved(SCOPES, 4, check)


def test_ch05_runtime_i_scopes_ex5():
    """A coroutine parent made by three_init, its children's frames in its own: still no allocation."""
    def check(define):
        out = run([program(SCOPES, "scopes", define)]).stdout
        assert "scope coroutine: closed: 1 finished, 0 cancelled, 0 allocations" in out, \
            "./scopes has no scope named coroutine holding three_init's frame yet"
        block = out.split("scope coroutine:", 1)[1]
        assert block.index("a: done after 300 ms") < block.index("b: done after"), block
    solved(SCOPES, 5, check)


# ===== ch05-runtime/g-channels =====

CHANNELS = "ch05-runtime/g-channels"


def test_ch05_runtime_g_channels_ex1():
    """A receiver that lets go of the lock before it stores its waker misses the send: the ping-pong hangs."""
    bug = "BUG_UNLOCK_BEFORE_WAIT"
    build(CHANNELS, bug)
    assert hangs([program(CHANNELS, "channel-check", bug)], 2), "channel-check ended: no wake-up was lost"


def test_ch05_runtime_g_channels_ex2(tmp_path):
    """Wake-and-retry: a woken send dropped before it retries leaves the next waiting send unserved."""
    def check(define):
        exe = compile_probe(tmp_path, CHANNELS, COUNTING_WAKERS + """  /* woken[0]: send b's, [1]: send c's */
            #include "channel.h"
            static struct waker noop = {(void *) 0, &counting};
            int main(void)
            {
                struct channel_ends ends = channel_new(sizeof(int), 1, NULL);
                int a = 1, b = 2, c = 3, got = 0;
                enum channel_status status;
                struct waker wb = {(void *) 0, &counting}, wc = {(void *) 1, &counting};
                struct future *send_a = channel_send(ends.tx, &a);
                if (send_a->poll(send_a, &noop, &status) != POLL_READY)
                    return 2;
                send_a->drop(send_a);
                struct future *send_b = channel_send(ends.tx, &b), *send_c = channel_send(ends.tx, &c);
                if (send_b->poll(send_b, &wb, &status) != POLL_PENDING ||
                    send_c->poll(send_c, &wc, &status) != POLL_PENDING)
                    return 3;
                struct future *recv = channel_recv(ends.rx, &got);
                if (recv->poll(recv, &noop, &status) != POLL_READY || got != 1)
                    return 4;
                recv->drop(recv);
                send_b->drop(send_b); /* woken, and gone before it tries again */
                recv = channel_recv(ends.rx, &got);
                int next = recv->poll(recv, &noop, &status) == POLL_READY ? got : 0;
                printf("%d %d\\n", next, atomic_load(&woken[1]));
                return 0;
            }
            """, ["channel.c", "executor.c", "waker.c"], "channel.c does not build",
            common=("errors", "alloc", "clock", "args", "trace"))
        next_message, c_woken = run([exe]).stdout.split()
        assert next_message != "2", "b's message arrived though b was dropped: recv still hands it off"
        assert next_message == "0" and c_woken == "0", \
            f"after b was dropped the next recv got {next_message} and c was woken {c_woken} times"
    solved(CHANNELS, 2, check)


def test_ch05_runtime_g_channels_ex3(tmp_path):
    """channel_try_recv answers at once: EMPTY on an empty open channel, CLOSED once every sender is gone."""
    def check(define):
        exe = compile_probe(tmp_path, CHANNELS, """
            #include "channel.h"
            #include <stdio.h>
            int main(void)
            {
                struct channel_ends ends = channel_new(sizeof(int), 4, NULL);
                int message = 0;
                int empty = channel_try_recv(ends.rx, &message) == CHANNEL_EMPTY;
                channel_sender_drop(ends.tx);
                int closed = channel_try_recv(ends.rx, &message) == CHANNEL_CLOSED;
                channel_receiver_drop(ends.rx);
                printf("%d %d\\n", empty, closed);
                return 0;
            }
            """, ["channel.c", "executor.c", "waker.c"], "there is no channel_try_recv(rx, &message) yet",
            common=("errors", "alloc", "clock", "args", "trace"))
        assert run([exe]).stdout.split() == ["1", "1"], "channel_try_recv must say CHANNEL_EMPTY, then CHANNEL_CLOSED"
    solved(CHANNELS, 3, check)


# ===== ch05-runtime/h-udp =====

UDP = "ch05-runtime/h-udp"


def test_ch05_runtime_h_udp_ex2(tmp_path):
    """A receive tries before it hands over its waker, and once more after: none touches the reactor needlessly."""
    def check(define):
        exe = compile_probe(tmp_path, UDP, """
            #include "reactor.h"
            #include "udp.h"
            #include <arpa/inet.h>
            #include <stdio.h>
            #include <sys/socket.h>
            /* A reactor that only counts, and can make a datagram arrive
               while a future hands it its waker (the wake goes elsewhere). */
            static int arms, raw = -1;
            static struct sockaddr_in late_to;
            static void arrive_now(void)
            {
                if (late_to.sin_port != 0)
                    sendto(raw, "late", 4, 0, (const struct sockaddr *) &late_to, sizeof late_to);
                late_to.sin_port = 0;
            }
            int reactor_register(int fd, uint32_t events, const struct waker *waker, uint64_t *token)
            {
                (void) fd, (void) events, (void) waker;
                *token = 1;
                arms++;
                arrive_now();
                return 0;
            }
            void reactor_set_waker(uint64_t token, const struct waker *waker)
            {
                (void) token, (void) waker;
                arms++;
                arrive_now();
            }
            int reactor_deregister(int fd, uint64_t token) { (void) fd, (void) token; return 0; }
            static int received_at_once(struct udp_socket *sock)
            {
                char buf[16];
                struct udp_received got;
                struct waker elsewhere = {NULL, NULL};
                struct future *recv = udp_recv_from(sock, buf, sizeof buf);
                int ready = recv->poll(recv, &elsewhere, &got) == POLL_READY;
                recv->drop(recv);
                return ready;
            }
            int main(void)
            {
                struct sockaddr_in any = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
                struct udp_socket *sock;
                if (udp_open(&any, &sock) < 0 || (raw = socket(AF_INET, SOCK_DGRAM, 0)) < 0)
                    return 2;
                struct sockaddr_in at = udp_local_address(sock);
                sendto(raw, "early", 5, 0, (const struct sockaddr *) &at, sizeof at);
                int early = received_at_once(sock);
                int arms_early = arms;
                late_to = at;
                int late = received_at_once(sock);
                printf("%d %d %d\\n", early, arms_early, late);
                return 0;
            }
            """, ["udp.c"], "udp.c does not build", define=define)
        early, arms, late = run([exe]).stdout.split()
        assert early == "1" and arms == "0", "a receive with a datagram waiting still hands its waker to the reactor"
        assert late == "1", "a datagram that arrived while arm() ran is left waiting: try once more after arm()"
    solved(UDP, 2, check, solution=True)


def test_ch05_runtime_h_udp_ex3(tmp_path):
    """A receive and a send wait on one socket at once, and a datagram wakes the receive's own waker."""
    def check(define):
        exe = compile_probe(tmp_path, UDP, COUNTING_WAKERS + """  /* woken[0]: the reader's, [1]: the writer's */
            #include "reactor.h"
            #include "udp.h"
            #include <arpa/inet.h>
            #include <sys/socket.h>
            #include <unistd.h>
            int main(void)
            {
                struct sockaddr_in any = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
                struct sockaddr_in other = any;
                socklen_t len = sizeof other;
                struct udp_socket *sock;
                int raw = socket(AF_INET, SOCK_DGRAM, 0);
                if (raw < 0 || bind(raw, (struct sockaddr *) &any, sizeof any) < 0 ||
                    getsockname(raw, (struct sockaddr *) &other, &len) < 0 || udp_open(&any, &sock) < 0 ||
                    reactor_start() < 0)
                    return 2;
                struct sockaddr_in at = udp_local_address(sock);
                struct waker reader = {(void *) 0, &counting}, writer = {(void *) 1, &counting};
                char buf[16];
                struct udp_received got;
                struct future *recv = udp_recv_from(sock, buf, sizeof buf);
                int waits = recv->poll(recv, &reader, &got) == POLL_PENDING;
                usleep(20000); /* the wake of the registration itself, if any, is past */
                atomic_store(&woken[0], 0);
                int sent = -1;
                struct future *send = udp_send_to(sock, "out", 3, &other);
                int ready = send->poll(send, &writer, &sent) == POLL_READY;
                send->drop(send);
                sendto(raw, "in", 2, 0, (struct sockaddr *) &at, sizeof at);
                for (int i = 0; i < 2000 && atomic_load(&woken[0]) == 0; i++)
                    usleep(1000);
                int reader_woken = atomic_load(&woken[0]) > 0;
                int received = recv->poll(recv, &reader, &got) == POLL_READY && got.len == 2;
                recv->drop(recv);
                udp_close(sock);
                reactor_stop();
                printf("%d %d %d %d\\n", waits, ready && sent == 0, reader_woken, received);
                return 0;
            }
            """, ["udp.c", "reactor.c", "poll.c", "waker.c"], "udp.c or reactor.c does not build",
            common=("errors", "alloc", "clock", "args", "trace"))
        result = run([exe], check=False)
        assert result.returncode == 0, "a receive and a send still cannot wait on one socket at once: " + \
            (result.stderr.strip().splitlines() or ["(no message)"])[-1]
        waits, sent, reader_woken, received = result.stdout.split()
        assert waits == sent == "1", "the receive must wait and the send go at once"
        assert reader_woken == "1", "a datagram did not wake the receive's own waker (only the last one kept?)"
        assert received == "1", "the woken receive did not get its datagram"
        out = run([program(UDP, "udp", define), "--burst", "64", "--count", "1024"]).stdout
        assert "1024 of 1024 echoes came back, in order" in out, out[-500:]
    solved(UDP, 3, check)


def test_ch05_runtime_h_udp_ex5():
    """A burst larger than the receive buffer loses datagrams, and the client waits for their echoes forever."""
    bug = "BUG_NO_BURST_CHECK"
    build(UDP, bug)
    assert hangs([program(UDP, "udp", bug), "--burst", "64", "--size", "65000"], 2), \
        "the oversized burst came back whole: nothing was dropped"


# ===== ch05-runtime/j-blocking =====

BLOCKING = "ch05-runtime/j-blocking"


def test_ch05_runtime_j_blocking_ex1():
    """Slices of 20 ms: the yielding row says so, and its ticker runs at most once per slice."""
    def check(define):
        out = run([program(BLOCKING, "blocking", define), "--work", "100"]).stdout
        row = next(line for line in out.splitlines() if "yield_now() every" in line)
        slice_ms, ticks = (int(n) for n in re.search(r"every (\d+) ms: (\d+) ticks", row).groups())
        assert slice_ms == 20, f"SLICE_MS is {slice_ms}, not 20 yet"
        assert ticks <= 100 // slice_ms + 2, row
    solved(BLOCKING, 1, check, solution=True)


def test_ch05_runtime_j_blocking_ex2():
    """A pool of one thread: the third blocking call queues behind one, and join-check's pool check still holds."""
    bug = "BUG_ONE_BLOCKING_THREAD"
    build(BLOCKING, bug)
    out = run([program(BLOCKING, "blocking", bug)]).stdout
    assert "abort a blocking call queued behind 1 running ones" in out, out
    run([program(BLOCKING, "join-check", bug)])


def test_ch05_runtime_j_blocking_ex3():
    """An abort that queues no idle task is never seen: join-check waits (ten seconds, then FAILED)."""
    bug = "BUG_LOSE_ABORT"
    build(BLOCKING, bug)
    # The reference passes in a fraction of a second; its own give-up comes
    # after ten, too long to wait for here.
    assert hangs([program(BLOCKING, "join-check", bug)], 3), "join-check ended: the abort was not lost"


def test_ch05_runtime_j_blocking_ex4():
    """A running call told to stop returns early: the last abort row shows another result than 42."""
    def check(define):
        out = run([program(BLOCKING, "blocking", define), "--work", "20"]).stdout
        result = re.search(r"^abort a blocking call already running: .*result (-?\d+)$", out, re.M)
        assert result and result.group(1) != "42", \
            "the running call still runs to its end (result 42): nothing stops it yet"
    solved(BLOCKING, 4, check)


# ===== ch06-io-uring/b-proactor =====

PROACTOR = "ch06-io-uring/b-proactor"


def test_ch06_io_uring_b_proactor_ex1(delayserver):
    """connect, send and recv linked and started at once: the first io_uring_enter submits 17 SQEs."""
    def check(define):
        require_io_uring(program(PROACTOR, "proactor"))
        result = run(["strace", "-f", "-e", "trace=io_uring_enter", program(PROACTOR, "proactor", define)])
        first = re.search(r"io_uring_enter\(\d+, (\d+),", result.stderr)
        assert first and first.group(1) == "17", \
            f"the first io_uring_enter submits {first and first.group(1)} SQEs, not 17: no chains yet"
        assert result.stdout.count("200 OK") == 5, result.stdout
    solved(PROACTOR, 1, check)


def test_ch06_io_uring_b_proactor_ex2(delayserver):
    """A request dropped while its operation is in flight stops on http_drop's assertion."""
    def check(define):
        require_io_uring(program(PROACTOR, "proactor"))
        result = run([program(PROACTOR, "proactor", define)], check=False)
        assert result.returncode == -6 and "dropped with an operation in flight" in result.stderr, \
            "./proactor drops no request in flight yet (no assertion in http_drop)"
    solved(PROACTOR, 2, check)


# ===== ch05-runtime/k-coroserver =====

COROSERVER = "ch05-runtime/k-coroserver"


def lingering_connections(server, count=5):
    """How many of `count` connections whose clients left before their answer
    the server still holds a second later (0 once it closes them)."""
    from test_delayserver import hang_up_early, open_fds, wait_until
    baseline = hang_up_early(server, count)
    wait_until(lambda: open_fds(server) == baseline, timeout=1)
    return open_fds(server) - baseline


@pytest.mark.sanitizer
def test_ch05_runtime_k_coroserver_ex1(start_server, monkeypatch):
    """Spawned with no cleanup, a connection's socket stays open after its client left, and leaks at exit."""
    bug = "BUG_NO_CLEANUP"
    build(COROSERVER, bug, "address")
    for name, value in SANITIZER_ENV.items():
        monkeypatch.setenv(name, value)
    server = start_server(binary=program(COROSERVER, "coroserver", bug, "address"))
    assert lingering_connections(server) == 5
    server.stop()
    errors = "\n".join(server.errors)
    assert "ERROR: LeakSanitizer: detected memory leaks" in errors, errors[-2000:]


def test_ch05_runtime_k_coroserver_ex2(tmp_path, start_server):
    """Waiting for the due time alone, the server sees no hang-up: a client that shut its side waits for nothing."""
    copy = patched_step(tmp_path, COROSERVER, "server.c", [(
        "ssize_t left = timeout_at(tcp_hangup(c->stream), due).wait;\n"
        "                if (left != -ETIMEDOUT)\n"
        "                    return; /* the client hung up before its answer was due */",
        "timer_sleep_until(due).wait;")])
    (tmp_path / "delayserver").mkdir()  # main.c's includes go through it, as from delayserver/
    run(["make", "-s", "-j2", "-C", str(copy), f"COROFY={path('corofy', 'corofy')}"], timeout=600)
    from test_delayserver import WORKBOOK_REQUEST, connect
    for binary, hears_hangup in ((program(COROSERVER, "coroserver"), True), (str(copy / "coroserver"), False)):
        server = start_server(binary=binary)
        with connect(server, timeout=1) as sock:
            sock.sendall(WORKBOOK_REQUEST.format(target="/30000/x").encode())
            sock.shutdown(socket.SHUT_WR)
            try:
                closed = sock.recv(1) == b""
            except TimeoutError:
                closed = False  # still open after a second: the server waits for the due time
        assert closed == hears_hangup, f"{binary}: the connection was {'' if closed else 'not '}closed"


def test_ch05_runtime_k_coroserver_ex3(tmp_path, start_server):
    """A read that ignores `readable` finds nothing first: about one failed read more per keep-alive request."""
    from test_delayserver import Conversation
    bug = "BUG_ALWAYS_READ"
    build(COROSERVER)
    build(COROSERVER, bug)
    failed = []
    for define in (None, bug):
        trace = tmp_path / f"strace-{define}"
        wrapper = tmp_path / f"coroserver-{define}"
        wrapper.write_text(f"#!/bin/sh\nexec strace -f -qq -o {trace} -e trace=read "
                           f"{program(COROSERVER, 'coroserver', define)} \"$@\"\n")
        wrapper.chmod(0o755)
        server = start_server(binary=str(wrapper))
        talk = Conversation(server)
        for i in range(20):  # one after the other, a moment after the answer before
            time.sleep(0.01)
            talk.send(f"GET /0/r{i} HTTP/1.1\r\nHost: x\r\n\r\n")
            assert talk.response().body == f"r{i}".encode()
        talk.close()
        os.killpg(server.proc.pid, signal.SIGTERM)  # strace itself blocks it: to the server too
        assert server.stop() == 0, server.errors
        failed.append(trace.read_text().count("= -1 EAGAIN"))
    assert failed[1] >= failed[0] + 10, f"failed reads: {failed[0]} as it is, {failed[1]} with {bug}"


def test_ch05_runtime_h_udp_ex4(tmp_path):
    """Unconnected, the client never hears the ICMP refusal: --refused waits for its echo forever."""
    copy = patched_step(tmp_path, UDP, "main.c", [
        ("if ((err = udp_open(&any_port, client_sock)) == 0 &&\n"
         "        (err = udp_connect(*client_sock, server)) < 0)\n"
         "        udp_close(*client_sock);",
         "err = udp_open(&any_port, client_sock);"),
        ("udp_send_to(sock, out, len, NULL)", "udp_send_to(sock, out, len, &server)"),
        ('udp_send_to(sock, "bye", 3, NULL)', 'udp_send_to(sock, "bye", 3, &server)')])
    run(["make", "-s", "-j2", "-C", str(copy), f"COROFY={path('corofy', 'corofy')}", "udp"], timeout=600)
    build(UDP)
    refused = run([program(UDP, "udp"), "--refused"], check=False)
    assert "Connection refused" in refused.stderr, refused.stderr
    assert hangs([str(copy / "udp"), "--refused"], 2), "the unconnected client heard the refusal"
    assert run([str(copy / "udp")]).stdout.count("ok\n") == 5  # with a server there, it still works


# ===== Every exercise checked or marked =====

def readme_exercises():
    """(step, number, is_discussion) for every exercise of every README.md."""
    found = []
    for dirpath, dirnames, filenames in os.walk(path()):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if "README.md" not in filenames or dirpath == path():
            continue
        text = open(os.path.join(dirpath, "README.md")).read()
        section = re.search(r"^## Exercises\n(.*?)(?=^## |\Z)", text, re.M | re.S)
        if section:
            step = os.path.relpath(dirpath, path())
            found += [(step, int(n), "(discussion)" in title)
                      for n, title in re.findall(r"^(\d+)\. (\*\*.*)$", section.group(1), re.M)]
    return found


def test_every_exercise_is_checked_or_a_discussion():
    """An exercise of a README has neither a check here nor a (discussion) mark."""
    exercises = readme_exercises()
    assert len(exercises) > 50, exercises
    for step, number, discussion in exercises:
        name = f"test_{re.sub(r'[-/]', '_', step)}_ex{number}"
        if discussion:
            assert name not in globals(), f"{step} exercise {number} is marked (discussion) but has {name}"
        else:
            assert name in globals(), f"{step} exercise {number} has no check ({name}) and no (discussion) mark"


def test_check_exercise_says_why_there_is_no_check():
    """make check-exercise N names a discussion question as one, and an exercise that does not exist as missing."""
    step = path(MULTI)
    discussion = run(["make", "-s", "-C", step, "check-exercise", "1"])
    assert "exercise 1 of ch05-runtime/d-multi-thread is a discussion question: it has no check\n" \
        in discussion.stdout, discussion
    missing = run(["make", "-s", "-C", step, "check-exercise", "9"], check=False)
    assert missing.returncode == 2, missing
    assert "there is no exercise 9 in ch05-runtime/d-multi-thread/README.md\n" in missing.stderr, missing
