"""Chapter 3: stackful fibers, switching stacks by hand (ch03-fibers/).

Runs the three steps (stack-swap, show-stack, fibers), the runtime's own
checks (fiber-check), the ASan+UBSan builds, valgrind, and the aarch64 builds
of all three steps under qemu-aarch64; checks the fibers' traces and the
timeline picture drawn from one, and every output block of the chapter's
READMEs.
"""
import collections
import os
import re
import shutil
import struct

import pytest

from trace_check import check_trace
from workbook import assert_readme_output, assert_sanitizer_clean, path, readme_blocks, run

STEP_A = path("ch03-fibers", "a-stack-swap")
STEP_B = path("ch03-fibers", "b-show-stack")
STEP_C = path("ch03-fibers", "c-fibers")
README_A = os.path.join(STEP_A, "README.md")
README_B = os.path.join(STEP_B, "README.md")
README_C = os.path.join(STEP_C, "README.md")
DEEPER_C = os.path.join(STEP_C, "GOING-DEEPER.md")
DOCS = [path("ch03-fibers", "README.md"), README_A, README_B, README_C, DEEPER_C]
TIMELINE = path("scripts", "timeline")
PICTURE_TRACE = os.path.join(STEP_C, "pictures", "fibers.json")
PICTURE = os.path.join(STEP_C, "pictures", "fibers.svg")
PICTURE_TITLE = "fibers: the main fiber and two counting fibers take turns"  # the Makefile's

# Every ```shell block of the chapter's READMEs, and the test that checks it.
CHECKED_BLOCKS = {
    "./stack-swap": "test_stack_swap_runs_a_function_on_the_new_stack",
    "./show-stack": "test_show_stack_shows_the_planted_return_addresses",
    "qemu-aarch64 ./show-stack-aarch64": "test_aarch64_show_stack",
    "./fibers": "test_fibers_demo_interleaves_exactly",
    "./fibers --overflow": "test_fibers_overflow_is_reported_by_name",
    "qemu-aarch64 ./fibers-aarch64": "test_aarch64_demo_interleaves_exactly",
    "./fiber-check": "test_fiber_check_passes",
}

FIBER_STACK_SIZE = 65536  # fiber.h
DEMO_LIMITS = (10, 15)    # main.c: how far fibers 1 and 2 count

# What fiber-check reports, in order; each line starts with "ok " when it passes.
CHECKS = [
    "the main fiber is 0, and yielding with no other fiber returns false",
    "the table takes FIBER_MAX - 1 fibers, then spawn returns -EAGAIN",
    "after fiber_run every slot is free again",
    "every callee-saved register survives fiber_yield",
    "each fiber keeps its own rounding mode",
    "the fibers' rounding modes do not leak into the main fiber",
    "a new fiber inherits the rounding mode of its spawner",
    "a fiber's frames are 16-byte aligned",
    "a fiber can use three quarters of its stack",
    "100 fibers, each spawned by the one before, reuse the slots",
]
CHECK_OUTPUT = "".join(f"ok {c}\n" for c in CHECKS)

# How steps a and b end: main jumps, hello runs on the new stack, main is back.
ROUND_TRIP = ("main: switching to a new stack\n"
              "hello: I woke up on a new stack\n"
              "main: back on my own stack\n")

OVERFLOW_STDOUT = "fiber 1 recurses until its stack runs out\n"
OVERFLOW_STDERR = f"fiber 1 overflowed its {FIBER_STACK_SIZE}-byte stack\n"


def demo_schedule(limits=DEMO_LIMITS):
    """(lines, turns): the demo's output, and which fiber had the CPU at each
    turn (0 is the main fiber), worked out from the scheduling rule alone: the
    main fiber 0 and the fibers 1..n take turns in table order, round-robin;
    a fiber that finishes leaves the ring. Independent of the README."""
    out, turns = [], [0]  # the main fiber runs first: it spawns the others

    def count(fid, limit):
        out.append(f"THREAD {fid} STARTING")
        for i in range(limit):
            out.append(f"thread: {fid} counter: {i}")
            yield
        out.append(f"THREAD {fid} FINISHED")

    alive = {fid: count(fid, limit) for fid, limit in enumerate(limits, 1)}
    current = 0
    while alive:
        ready = [0] + sorted(alive)  # the main fiber is always ready
        after = [f for f in ready if f > current] + [f for f in ready if f < current]
        current = after[0]
        turns.append(current)
        if current == 0:
            continue  # the main fiber's fiber_run loop yields straight on
        try:
            next(alive[current])
        except StopIteration:
            del alive[current]
    turns.append(0)  # the last fiber to finish hands the CPU back for good
    return "".join(line + "\n" for line in out), turns


def demo_model(limits=DEMO_LIMITS):
    """The demo's output, as demo_schedule works it out."""
    return demo_schedule(limits)[0]


def check_output(out, expected):
    """Exact output, or (expected None) the round trip that ends steps a and b."""
    if expected is None:
        assert out.endswith(ROUND_TRIP), out
    else:
        assert out == expected


def valgrind(cmd, **kwargs):
    """Run under memcheck (not --quiet: its warnings matter); any error makes it exit 99."""
    return run(["valgrind", "--error-exitcode=99", *cmd], timeout=120, **kwargs)


# ===== Step a: stack-swap =====

def test_stack_swap_runs_a_function_on_the_new_stack():
    """hello() must find its local variable inside the stack main allocated, and main must get back."""
    result = run(["./stack-swap"], cwd=STEP_A)
    assert result.stdout == ROUND_TRIP
    assert result.stderr == ""
    assert_readme_output(README_A, "./stack-swap", result.stdout)


# ===== Step b: show-stack =====

ROW = re.compile(r"  0x([0-9a-f]+)  ((?:[0-9a-f]{2} ){7}[0-9a-f]{2})  = 0x([0-9a-f]{16})(.*)")


def check_show_stack(out, notes):
    """The printed stack top really holds hello's and come_home's addresses,
    byte by byte, little-endian, with `notes` (the two annotations) beside them."""
    lines = out.splitlines()
    m = re.fullmatch(r"main: hello is at 0x([0-9a-f]+), come_home is at 0x([0-9a-f]+)", lines[0])
    assert m, lines[0]
    hello, come_home = int(m.group(1), 16), int(m.group(2), 16)
    m = re.fullmatch(r"main: the new stack is (\d+) bytes, from 0x([0-9a-f]+) up to 0x([0-9a-f]+)",
                     lines[1])
    assert m, lines[1]
    size, bottom, top = int(m.group(1)), int(m.group(2), 16), int(m.group(3), 16)
    assert top % 16 == 0 and bottom < top <= bottom + size

    rows = [ROW.fullmatch(line) for line in lines[3:7]]
    assert all(rows), lines[3:7]
    addresses = [int(r.group(1), 16) for r in rows]
    assert addresses == [top - 32, top - 24, top - 16, top - 8]
    words = []
    for r in rows:
        raw = bytes(int(b, 16) for b in r.group(2).split())
        (word,) = struct.unpack("<Q", raw)  # little-endian: lowest byte first
        assert word == int(r.group(3), 16), r.group(0)
        words.append(word)
    assert words == [0, 0, hello, come_home]
    assert [r.group(4) for r in rows] == ["", "", f"  <- {notes[0]}", f"  <- {notes[1]}"]
    assert "\n".join(lines[7:]) + "\n" == ROUND_TRIP


def test_show_stack_shows_the_planted_return_addresses():
    """The printed stack top must really hold hello's and come_home's addresses, byte by byte."""
    result = run(["./show-stack"], cwd=STEP_B)
    assert_readme_output(README_B, "./show-stack", result.stdout)
    check_show_stack(result.stdout, ("rsp will point here: stack_swap's ret pops hello",
                                     "hello's return address: come_home"))


# ===== Step c: fibers =====

def test_fibers_demo_interleaves_exactly():
    """Two fibers must take turns line by line in table order, then each finish and the program exit 0."""
    result = run(["./fibers"], cwd=STEP_C)
    assert result.stdout == demo_model()
    assert result.stderr == ""
    assert_readme_output(README_C, "./fibers", result.stdout)


def test_fibers_overflow_is_reported_by_name():
    """A fiber that recurses past its stack must hit the guard page and be named, not corrupt memory."""
    result = run(["./fibers", "--overflow"], cwd=STEP_C, check=False)
    assert result.returncode == 1, result
    assert result.stdout == OVERFLOW_STDOUT
    assert result.stderr == OVERFLOW_STDERR
    assert_readme_output(README_C, "./fibers --overflow", result.stdout + result.stderr)


def test_fiber_check_passes():
    """Registers, rounding modes, alignment, stack size and slot reuse must all hold in the plain build."""
    result = run(["./fiber-check"], cwd=STEP_C)
    assert result.stdout == CHECK_OUTPUT
    assert_readme_output(DEEPER_C, "./fiber-check", result.stdout)


def test_fiber_max_can_be_set_when_building(tmp_path):
    """-DFIBER_MAX=<n> must give a table of n slots, so a program needing more fibers need not copy fiber.c."""
    out = str(tmp_path / "fiber-check-64")
    run(["gcc", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror", "-O2",
         "-frounding-math", "-fstack-clash-protection", "-DFIBER_MAX=64", "-o", out,
         "check.c", "check_registers.S", "fiber.c", "switch.S",
         *(f"../../common/{name}.c" for name in ("errors", "trace", "clock")), "-lm"],
        cwd=STEP_C, timeout=120)
    # check.c's table check spawns until -EAGAIN: 63 fibers now, and says so only if
    # FIBER_MAX really was 64 in both check.c and fiber.c.
    assert run([out], cwd=STEP_C).stdout == CHECK_OUTPUT


ALL_PROGRAMS = [(STEP_A, "stack-swap"), (STEP_B, "show-stack"), (STEP_C, "fibers"),
                (STEP_C, "fiber-check")]


@pytest.mark.parametrize("step,prog", ALL_PROGRAMS, ids=[p for _, p in ALL_PROGRAMS])
@pytest.mark.parametrize("args,named", [(["--bogus"], "--bogus"), (["--help", "extra"], "extra"),
                                        (["1"], "1"), (["--overflow", "extra"], None)],
                         ids=["unknown", "help-extra", "number", "overflow-extra"])
def test_bad_argument_gets_one_line(step, prog, args, named):
    """A mistyped or extra argument must get one clear line on stderr and exit 2, never a run."""
    if named is None:  # --overflow is fibers' own option; elsewhere it is unknown
        named = "extra" if prog == "fibers" else "--overflow"
    bad = run([f"./{prog}", *args], cwd=step, check=False)
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert bad.stderr == f"{prog}: unexpected argument '{named}' (try --help)\n"


@pytest.mark.parametrize("step,prog", ALL_PROGRAMS, ids=[p for _, p in ALL_PROGRAMS])
def test_help_prints_usage(step, prog):
    """--help must print usage on stdout and exit 0."""
    good = run([f"./{prog}", "--help"], cwd=step)
    assert good.stdout.startswith(f"usage: {prog}") and good.stderr == ""


def test_every_readme_block_is_checked():
    """A README block that no test runs goes stale without anyone noticing."""
    shown = {cmd for doc in DOCS for cmd, _ in readme_blocks(doc)}
    assert shown == set(CHECKED_BLOCKS)
    for name in CHECKED_BLOCKS.values():
        assert callable(globals().get(name)), name


# ===== Sanitizers and valgrind =====

# Every program of the chapter, and what it prints; None for steps a and b,
# whose output varies but always ends with the round trip.
PROGRAMS = [
    (STEP_A, "stack-swap", None),
    (STEP_B, "show-stack", None),
    (STEP_C, "fibers", demo_model()),
    (STEP_C, "fiber-check", CHECK_OUTPUT),
]
PROGRAM_IDS = [prog for _, prog, _ in PROGRAMS]


@pytest.mark.sanitizer
@pytest.mark.parametrize("step,prog,expected", PROGRAMS, ids=PROGRAM_IDS)
def test_asan_build_is_clean(step, prog, expected):
    """ASan must accept every stack switch (the fibers announce theirs) and find nothing else."""
    result = run([f"./{prog}-asan"], cwd=step, sanitizer=True)
    assert "Sanitizer" not in result.stderr
    check_output(result.stdout, expected)


@pytest.mark.sanitizer
def test_overflow_under_asan_is_still_reported_by_name():
    """Under ASan our guard-page handler must still win and name the fiber (ASan lets user handlers run)."""
    result = run(["./fibers-asan", "--overflow"], cwd=STEP_C, sanitizer=True, check=False)
    assert result.returncode == 1, result
    assert result.stdout == OVERFLOW_STDOUT
    assert result.stderr == OVERFLOW_STDERR


@pytest.mark.parametrize("step,prog,expected", PROGRAMS, ids=PROGRAM_IDS)
def test_valgrind_memcheck_is_clean(step, prog, expected):
    """valgrind must find no memory error; the fibers must register their stacks so it never has to guess."""
    assert shutil.which("valgrind"), "valgrind is missing: run scripts/test-deps"
    result = valgrind([f"./{prog}"], cwd=step)
    assert "ERROR SUMMARY: 0 errors" in result.stderr, result.stderr
    if step == STEP_C:
        # Steps a and b do not register their stack, so valgrind warns
        # "client switching stacks?" there (README, step a, Limits).
        assert "switching stacks" not in result.stderr, result.stderr
    check_output(result.stdout, expected)


# ===== The trace: ASYNC_TRACE =====

FIBER_NAMES = {0: "main fiber", 1: "fiber 1", 2: "fiber 2"}  # tracks and tasks, by fiber id


def traced_run(tmp_path, prog, sanitizer=False):
    """Run prog with ASYNC_TRACE=FILE,- and check both forms of its trace."""
    json_path = tmp_path / "t.json"
    result = run([f"./{prog}"], cwd=STEP_C, env={"ASYNC_TRACE": f"{json_path},-"},
                 sanitizer=sanitizer, check=not sanitizer)
    if sanitizer:
        assert_sanitizer_clean(result)
    return result, check_trace(str(json_path), text=result.stderr)


def assert_round_robin(trace):
    """The demo's trace shows its schedule: each turn a poll of the fiber that
    demo_schedule says, on that fiber's own track, handed over by a wake in
    the turn before it; spawns on the main fiber; each counter done once."""
    assert sorted(trace.tracks.values()) == sorted(FIBER_NAMES.values())
    polls = [s for s in trace.spans if s.cat == "poll"]
    _, turns = demo_schedule()
    assert [trace.task_names[p.task] for p in polls] == [FIBER_NAMES[f] for f in turns]
    assert all(trace.tracks[p.track] == trace.task_names[p.task] for p in polls)
    assert len(trace.arrows) == len(trace.wakes) == len(polls) - 1
    for arrow, before, after in zip(sorted(trace.arrows, key=lambda a: a.to_ns), polls, polls[1:]):
        assert arrow.from_track == before.track and before.begin < arrow.from_ns < before.end, arrow
        assert arrow.task == after.task and after.begin < arrow.to_ns < after.end, arrow
    spawns = [(trace.tracks[e.track], e.name) for e in trace.instants_of("spawn")]
    assert spawns == [("main fiber", "fiber 1"), ("main fiber", "fiber 2")]
    assert sorted(e.name for e in trace.instants_of("done")) == ["fiber 1", "fiber 2"]
    last = {p.task: p for p in polls}  # each task's last poll
    assert [p.state for p in polls if p.state == "ready"] == ["ready", "ready"]
    assert all(last[p.task] is p for p in polls if p.state == "ready")


@pytest.mark.parametrize("prog", ["fibers", pytest.param("fibers-asan", marks=pytest.mark.sanitizer)])
def test_trace_shows_the_round_robin(tmp_path, prog):
    """ASYNC_TRACE must show each fiber on a track of its own, taking its turn in table order,
    each turn handed over by the fiber before: a missing switch, track or arrow shows here."""
    result, trace = traced_run(tmp_path, prog, sanitizer=prog.endswith("-asan"))
    assert result.stdout == demo_model()
    assert_round_robin(trace)


@pytest.mark.parametrize("prog", ["fiber-check",
                                  pytest.param("fiber-check-asan", marks=pytest.mark.sanitizer)])
def test_trace_of_reused_slots(tmp_path, prog):
    """Slots used again by new fibers, fibers spawned by fibers, a runtime idle and busy again:
    the trace must stay valid, with a track per slot and a task per spawned fiber."""
    result, trace = traced_run(tmp_path, prog, sanitizer=prog.endswith("-asan"))
    assert result.stdout == CHECK_OUTPUT
    assert set(trace.tracks.values()) == {"main fiber"} | {f"fiber {i}" for i in range(1, 8)}
    spawned = [e.task for e in trace.instants_of("spawn")]
    done = [e.task for e in trace.instants_of("done")]
    assert len(set(spawned)) == len(spawned) > 100  # check.c spawns over a hundred
    main = [task for task, name in trace.task_names.items() if name == "main fiber"]
    assert sorted(done) == sorted(spawned) and len(main) == 1
    assert set(trace.task_names) == set(spawned) | set(main)
    polls = collections.Counter(trace.tracks[s.track] for s in trace.spans if s.cat == "poll")
    assert all(polls[f"fiber {i}"] > 0 for i in range(1, 8)), polls


def test_committed_trace_shows_the_round_robin():
    """pictures/fibers.json is not a trace of the demo as it runs today."""
    assert_round_robin(check_trace(PICTURE_TRACE))


def test_committed_picture_is_current(tmp_path):
    """pictures/fibers.svg is not what scripts/timeline draws from pictures/fibers.json."""
    out = tmp_path / "fibers.svg"
    run([TIMELINE, PICTURE_TRACE, "-o", str(out), "--title", PICTURE_TITLE])
    with open(PICTURE, encoding="utf-8") as f:
        assert out.read_text() == f.read(), "run `make -C ch03-fibers/c-fibers pictures`"


# ===== aarch64, under qemu =====

@pytest.fixture(scope="module")
def aarch64_build():
    """Every program of the three steps, cross-compiled (static) for qemu-aarch64."""
    for tool in ("aarch64-linux-gnu-gcc", "qemu-aarch64"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed (scripts/test-deps installs it)")
    for step in (STEP_A, STEP_B, STEP_C):
        run(["make", "-s", "-C", step, "aarch64"], timeout=180)


def test_aarch64_stack_swap(aarch64_build):
    """swap_aarch64.S must carry hello onto the new stack and back, with x30 as its return address."""
    result = run(["qemu-aarch64", "./stack-swap-aarch64"], cwd=STEP_A)
    assert result.stdout == ROUND_TRIP and result.stderr == ""


def test_aarch64_show_stack(aarch64_build):
    """On aarch64 the planted words must be the same little-endian addresses, noted as aarch64 takes them."""
    result = run(["qemu-aarch64", "./show-stack-aarch64"], cwd=STEP_B)
    assert result.stderr == ""
    assert_readme_output(README_B, "qemu-aarch64 ./show-stack-aarch64", result.stdout)
    check_show_stack(result.stdout,
                     ("new_sp points here: stack_swap loads hello and jumps to it",
                      "hello's return address: come_home, loaded into x30"))


def test_aarch64_demo_interleaves_exactly(aarch64_build):
    """The aarch64 switch (switch_aarch64.S) must produce the very same demo as x86-64."""
    result = run(["qemu-aarch64", "./fibers-aarch64"], cwd=STEP_C)
    assert result.stdout == demo_model()
    assert_readme_output(DEEPER_C, "qemu-aarch64 ./fibers-aarch64", result.stdout)


def test_aarch64_fiber_check_passes(aarch64_build):
    """x19-x29, d8-d15, FPCR, alignment and slot reuse must hold on aarch64 too."""
    result = run(["qemu-aarch64", "./fiber-check-aarch64"], cwd=STEP_C)
    assert result.stdout == CHECK_OUTPUT


def test_aarch64_overflow_is_reported_by_name(aarch64_build):
    """The guard page and the alternate signal stack must work the same on aarch64."""
    result = run(["qemu-aarch64", "./fibers-aarch64", "--overflow"], cwd=STEP_C, check=False)
    assert result.returncode == 1, result
    assert result.stdout == OVERFLOW_STDOUT
    assert result.stderr == OVERFLOW_STDERR


# ===== The benchmark builds and runs =====

def test_benchmark_quick_run_prints_the_table():
    """bench/fiber-switch/run must build and print its table (numbers are checked by eye, not here)."""
    result = run([path("bench", "fiber-switch", "run"), "--quick"], timeout=120)
    out = result.stdout
    assert re.search(r"^fiber_switch \(this chapter\) +\d+\.\d +\d+\.\d +\d+x$", out, re.M), out
    assert re.search(r"^glibc swapcontext +\d+\.\d +\d+\.\d +1x$", out, re.M), out
    assert re.search(r"faster than swapcontext", out), out
    m = re.search(r"reserved +(\d+) bytes .*\n +resident +(\d+) bytes", out)
    assert m, out
    reserved, resident = int(m.group(1)), int(m.group(2))
    assert reserved == FIBER_STACK_SIZE + os.sysconf("SC_PAGE_SIZE")
    assert 0 < resident < reserved
