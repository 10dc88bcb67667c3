"""ch05-runtime/j-blocking: work that holds an executor's thread, spawn_blocking, yield_now, join_abort."""
import os
import re

import pytest

from test_ch05_f_join import CHECK_LINES as F_CHECK_LINES
from workbook import assert_corofied_current, assert_readme_output, assert_sanitizer_clean, path, run

STEP = path("ch05-runtime", "j-blocking")
README = os.path.join(STEP, "README.md")

ROW = re.compile(r"^(.*): (\d+) ticks during the work, the worst ([\d.]+) ms late$", re.M)
# Which rows hold the executor's thread (the stall) and which do not (the cures).
STALLED = ["sleep_blocking_ms({ms}) in a task", "hashing for {ms} ms in a task"]
CURED = ["timer_sleep_ms({ms}) in a task", "sleep_blocking_ms({ms}) through spawn_blocking",
         "hashing for {ms} ms in a task, yield_now() every 1 ms",
         "hashing for {ms} ms through spawn_blocking"]

# join-check prints step f's lines, with the new checks after the races of
# handles against completion.
CHECK_LINES = F_CHECK_LINES[:6] + [
    "aborted while pending: dropped without another poll, the awaiting waker woken once, a zero result",
    "aborted after completion: nothing changes, the result stands",
    "3000 aborts raced against completion: each task aborted or completed, never both",
    "256 blocking calls awaited from 4 executors, at most 4 at once; one aborted before it started never ran",
] + F_CHECK_LINES[6:]

ABORT_LINES = [
    "abort a blocking call queued behind 4 running ones: it never ran; result 0",
    "abort a blocking call already running: it ran to its end; result 42",
    "task structs still allocated: 0",
]


def rows(out):
    """{label: (ticks during the work, worst lateness in ms)} of a ./blocking run."""
    return {label: (int(ticks), float(worst)) for label, ticks, worst in ROW.findall(out)}


def check_rows(out, work_ms):
    seen = rows(out)
    assert set(seen) == {r.format(ms=work_ms) for r in STALLED + CURED}, out
    for label in STALLED:
        ticks, worst = seen[label.format(ms=work_ms)]
        assert ticks == 0, f"{label}: a tick ran while the work held the thread\n{out}"
        # Physics, not speed: the ticker was due within 10 ms of the start.
        assert worst >= 0.9 * work_ms, f"{label}: no stall seen ({worst} ms)\n{out}"
    for label in CURED:
        ticks, worst = seen[label.format(ms=work_ms)]
        assert ticks >= 3, f"{label}: the ticker hardly ran beside the work\n{out}"
        assert worst < 0.5 * work_ms, f"{label}: the ticker was stalled ({worst} ms)\n{out}"
    return seen


# ===== ./blocking: the stall, its cures, the aborts =====

def test_output_matches_readme():
    """The README's run of ./blocking no longer matches what the program prints."""
    out = run(["./blocking"], cwd=STEP, timeout=60).stdout
    assert_readme_output(README, "./blocking", out)


def test_work_that_holds_the_thread_stalls_the_ticker():
    """A blocking call or a long loop in a task does not stall the ticker, or spawn_blocking and yield_now do not cure it."""
    work_ms = 500  # the longer the work, the wider the gap between a stall and a cure
    out = run(["./blocking", "--work", str(work_ms)], cwd=STEP, timeout=60).stdout
    seen = check_rows(out, work_ms)
    stalled = min(seen[label.format(ms=work_ms)][1] for label in STALLED)
    cured = max(seen[label.format(ms=work_ms)][1] for label in CURED)
    assert stalled > 1.5 * cured, out  # follows from the bounds above; said as a ratio


def test_aborts():
    """An aborted task's handle hangs or gives a result, a queued blocking call runs anyway, or a task leaks."""
    out = run(["./blocking", "--work", "20"], cwd=STEP, timeout=60).stdout
    m = re.search(r"^abort a task asleep in a 10 s timer: its handle ready ([\d.]+) ms later, "
                  r"with the result 0 \(aborted\)$", out, re.M)
    assert m and float(m.group(1)) < 5000, out  # not the sleep's 10 s
    assert out.splitlines()[-3:] == ABORT_LINES, out


@pytest.mark.sanitizer
@pytest.mark.parametrize("variant", ["asan", "tsan"])
def test_blocking_sanitized(variant):
    """The pool, an abort or a yield leaks, touches freed memory or races across threads."""
    result = run([f"./blocking-{variant}", "--work", "300"], cwd=STEP, sanitizer=True, check=False,
                 timeout=120)
    assert_sanitizer_clean(result)
    check_rows(result.stdout, 300)
    assert result.stdout.splitlines()[-3:] == ABORT_LINES, result.stdout


# ===== join-check: aborts raced against completion, blocking calls =====

def check_lines(out):
    """join-check's fixed lines, in order (the info: lines vary run to run)."""
    assert [line for line in out.splitlines() if not line.startswith("info:")] == CHECK_LINES, out


def test_join_check():
    """An abort is lost, wins after the task completed, leaks a task, or a blocking call runs when it should not."""
    out = run(["./join-check"], cwd=STEP, timeout=60).stdout
    check_lines(out)
    assert_readme_output(README, "./join-check", out)
    m = re.search(r"^info: (\d+) aborted, (\d+) completed first$", out, re.M)
    assert m and int(m.group(1)) > 0 and int(m.group(1)) + int(m.group(2)) == 3000, out


@pytest.mark.sanitizer
@pytest.mark.parametrize("variant", ["asan", "tsan"])
def test_join_check_sanitized(variant):
    """An abort racing completion races on the state word (TSan), or leaks a task or a waker (ASan/LSan)."""
    result = run([f"./join-check-{variant}"], cwd=STEP, sanitizer=True, check=False, timeout=120)
    assert_sanitizer_clean(result)
    check_lines(result.stdout)


# ===== Bad input =====

@pytest.mark.parametrize("args, message", [
    (["--bogus"], "unknown argument '--bogus' (try --help)"),
    (["--help", "extra"], "unexpected argument 'extra' after --help (try --help)"),
    (["--work"], "--work wants a number of milliseconds from 20 to 60000, not '' (try --help)"),
    (["--work", "19"], "--work wants a number of milliseconds from 20 to 60000, not '19' (try --help)"),
    (["--work", "-1"], "--work wants a number of milliseconds from 20 to 60000, not '-1' (try --help)"),
    (["--work", "99999999999999999999"], "--work wants a number of milliseconds from 20 to 60000, "
                                         "not '99999999999999999999' (try --help)"),
])
def test_bad_arguments(args, message):
    """blocking runs on a bad argument, or says so in more (or less) than one line."""
    result = run(["./blocking", *args], cwd=STEP, check=False, timeout=10)
    assert result.returncode == 2 and result.stdout == "", result
    assert result.stderr == f"blocking: {message}\n"


def test_help():
    """--help fails or does not say what the program does."""
    out = run(["./blocking", "--help"], cwd=STEP).stdout
    assert out.startswith("usage: blocking [--work MS]\n") and "aborts" in out


# ===== The files behind the program =====

def test_corofied_file_regenerates():
    """main_corofied.c was edited by hand or is stale: corofy main.c no longer produces it."""
    assert_corofied_current(os.path.join(STEP, "main.c"))


def test_readme_names_every_state_flag():
    """executor.c's state word has a flag that the README's account of aborts never mentions, or the reverse."""
    with open(os.path.join(STEP, "executor.c")) as f:
        flags = set(re.findall(r"^#define (\w+) +\(\(uint64_t\) ?1 << \d+\)", f.read(), re.M))
    assert "CANCELLED" in flags and len(flags) == 6, flags
    with open(README) as f:
        text = f.read()
    how = text[text.index("## How it works"):text.index("## What changed")]
    assert how.count("`CANCELLED`") >= 4, "the README barely explains CANCELLED"
    for flag in ("SCHEDULED", "RUNNING", "COMPLETE"):
        assert f"`{flag}`" in how, flag
