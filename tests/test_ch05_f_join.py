"""ch05-runtime/f-join: join handles that carry a task's result, detaching, and a task state word."""
import collections
import os
import re

import pytest

from workbook import ScriptedServer, SilentServer, assert_corofied_current, assert_readme_output, assert_sanitizer_clean, closed_port, path, readme_output, run, timed_run

STEP = path("ch05-runtime", "f-join")
README = os.path.join(STEP, "README.md")

# What ./join asks the delay server for (milliseconds at speedup 1, number).
REQUESTS = {(100, 7), (600, 4), (1200, 6), (1000, 5), (100, 99), (400, 9), (400, 3)}
# The parent waits for b (1200 ms), then spawns c and waits 400 ms, then d
# and 400 ms more: 2000 ms. One request after the other would take the sum.
CRITICAL_PATH_MS = 2000

# What ./join prints hardly depends on timing: c is spawned on the parent's
# own executor, which cannot poll it before the parent waits; b is asked
# about right after its spawn; the one race left, a and the detached task
# (100 ms) against b (1200 ms), has a 12x margin.
EXPECTED = """\
main: spawn a = square(7) on exec-1, b = summarize() on exec-2
main: b finished? no, wait for it
main: spawn one more task on exec-1 and drop its handle: detached
exec-1: the detached task got 99; nobody will read it
main: b = { count 3, sum 15, min 4, max 6 }
main: a finished? yes, its result is already there
main: a = 49
main: spawn c = square(9) here, on this task's own executor
main: c finished? no, wait for it
main: c = 81
main: d = square(3) on exec-2, spawned and awaited in one line: 9
all executors finished; task structs still allocated: 0
"""

CHECK_LINES = [
    "awaited before completion: pending, woken once from another thread, then the result",
    "awaited after completion: ready on the first poll, no waker kept",
    "re-polled with another waker: the old clone dropped, only the new one woken",
    "dropped while pending: its waker given back at once, the task still finished and was freed",
    "detached: ran to completion and freed, before or after it finished",
    "3000 handles raced against their task's completion: every waker clone came back",
    "10000 spawn/join pairs across 4 threads: every result right, every task finished and freed",
    "all checks passed",
]

SERVER_LOG = re.compile(r"#\d+ - (\d+)ms: (.*)$")


def check_lines(out):
    """join-check's fixed lines, in order (the info: lines vary run to run)."""
    found = [line for line in out.splitlines() if not line.startswith("info:")]
    assert found == CHECK_LINES, out


# ===== ./join: the demo =====

def test_output_matches_readme(delayserver):
    """The README's run of ./join no longer matches what the program prints."""
    out = run(["./join"], cwd=STEP).stdout
    assert_readme_output(README, "./join", out)


def test_results_order_and_detach(start_server):
    """A join handle gives a wrong result, the parent waits when it need not
    (or does not when it must), or the detached task never runs."""
    # A server of its own, so its log holds this run's requests only.
    server = start_server("--speedup", "20")
    out = run(["./join"], cwd=STEP, env={"DELAYSERVER_ADDR": server.addr}).stdout
    assert out == EXPECTED, out
    # Every child asked the server exactly once, the detached one included.
    log = server.wait_for_log(len(REQUESTS))
    asked = collections.Counter((int(m.group(1)), int(m.group(2)))
                                for m in map(SERVER_LOG.fullmatch, log) if m)
    assert asked == collections.Counter(REQUESTS), asked


def test_children_run_at_the_same_time(start_server):
    """The children run one after the other, or awaiting a handle blocks the other executors."""
    speedup = 4
    server = start_server("--speedup", str(speedup))
    result, elapsed = timed_run(["./join"], cwd=STEP, env={"DELAYSERVER_ADDR": server.addr})
    assert result.stdout == EXPECTED
    critical = CRITICAL_PATH_MS / 1000 / speedup
    total = sum(delay for delay, _ in REQUESTS) / 1000 / speedup
    assert critical * 0.95 <= elapsed < (critical + total) / 2, (elapsed, critical, total)


# ===== join-check: handles before/after completion, dropped, detached, stress =====

def test_join_check():
    """A join handle misses a wake-up, wakes a dropped waker, leaks a task, or mixes up results."""
    out = run(["./join-check"], cwd=STEP, timeout=30).stdout
    check_lines(out)
    assert_readme_output(README, "./join-check", out)


def test_join_check_stress_both_ways():
    """The stress and race runs never await a pending task (or never a finished one), so they prove little."""
    out = run(["./join-check", "--pairs", "20000"], cwd=STEP, timeout=30).stdout
    m = re.search(r"^info: (\d+) joined \((\d+) ready on the first poll\), (\d+) detached$", out, re.M)
    assert m, out
    joined, at_once, detached = map(int, m.groups())
    assert joined + detached == 20000
    # Every 7th child is detached at once, and some of those at 7k+3 when
    # still pending: at least 1/7 are detached, at most 2/7.
    assert 20000 // 7 <= detached <= 2 * 20000 // 7 + 1, detached
    assert 0 < at_once < joined, (at_once, joined)
    assert "20000 spawn/join pairs across 4 threads" in out
    # The race check polls handles while their tasks finish: some polls
    # must have found the task pending, or it raced nothing.
    m = re.search(r"^info: (\d+) polls of raced handles found their task pending$", out, re.M)
    assert m and int(m.group(1)) > 0, out


@pytest.mark.sanitizer
@pytest.mark.parametrize("variant", ["asan", "tsan"])
def test_join_check_sanitized(variant):
    """Handles and the task state word race (TSan), or a detached or dropped task leaks (ASan/LSan)."""
    result = run([f"./join-check-{variant}"], cwd=STEP, sanitizer=True, check=False, timeout=60)
    assert_sanitizer_clean(result)
    check_lines(result.stdout)


@pytest.mark.sanitizer
@pytest.mark.parametrize("variant", ["asan", "tsan"])
def test_join_sanitized(delayserver, variant):
    """The demo leaks the detached task, overflows a result buffer, or races across threads."""
    result = run([f"./join-{variant}"], cwd=STEP, sanitizer=True, check=False, timeout=60)
    assert_sanitizer_clean(result)
    assert result.stdout.endswith("task structs still allocated: 0\n"), result.stdout
    assert "main: b = { count 3, sum 15, min 4, max 6 }" in result.stdout


@pytest.mark.sanitizer
def test_join_error_path_sanitized():
    """With no server, the failing requests leak or race."""
    result = run(["./join-tsan"], cwd=STEP, sanitizer=True, check=False, timeout=60,
                 env={"DELAYSERVER_ADDR": f"127.0.0.1:{closed_port()}"})
    assert result.returncode == 1 and "Sanitizer" not in result.stderr, result.stderr


# ===== Bad input =====

def test_unreachable_server_is_one_line():
    """With no server, join hangs, crashes, exits 0, or prints an error per request."""
    result = run(["./join"], cwd=STEP, check=False, timeout=10,
                 env={"DELAYSERVER_ADDR": f"127.0.0.1:{closed_port()}"})
    assert result.returncode == 1, result
    err = result.stderr.splitlines()
    assert len(err) == 1 and "cannot connect to 127.0.0.1:" in err[0], result.stderr
    assert result.stdout.endswith("task structs still allocated: 0\n"), result.stdout


def test_garbage_server_is_one_line():
    """A server that answers nonsense makes join hang, crash, or exit 0."""
    with ScriptedServer(b"garbage\r\n\r\n") as server:
        result = run(["./join"], cwd=STEP, check=False, timeout=10,
                     env={"DELAYSERVER_ADDR": server.addr})
    assert result.returncode == 1, result
    err = result.stderr.splitlines()
    assert len(err) == 1 and "not an HTTP response" in err[0], result.stderr


def test_bad_arguments():
    """join ignores a bad argument or a malformed DELAYSERVER_ADDR, or --help fails."""
    assert run(["./join", "--help"], cwd=STEP).stdout.startswith("usage: join")
    for args, message in [(["--bogus"], "unknown argument '--bogus' (try --help)"),
                          (["--help", "extra"], "unexpected argument 'extra' after --help (try --help)")]:
        bad = run(["./join", *args], cwd=STEP, check=False)
        assert bad.returncode == 2 and bad.stdout == "" and bad.stderr == f"join: {message}\n"
    addr = run(["./join"], cwd=STEP, check=False, env={"DELAYSERVER_ADDR": "nonsense"})
    assert addr.returncode == 1
    assert addr.stderr.splitlines() == ["join: DELAYSERVER_ADDR='nonsense': expected host:port, "
                                        "for example 127.0.0.1:8080"]


@pytest.mark.parametrize("value", ["many", "-1", "0", "99999999999999999999", "10000001", ""])
def test_join_check_pairs_is_a_checked_number(value):
    """--pairs -1 wraps round to a huge count and runs for ages, or a typo is read as 0."""
    result = run(["./join-check", "--pairs", value], cwd=STEP, check=False, timeout=10)
    assert result.returncode == 2 and result.stdout == "", result
    assert result.stderr == ("join-check: --pairs wants a number from 1 to 10000000, "
                             f"not '{value}'\n")


def test_a_server_that_stops_answering_is_given_up():
    """join hangs on a server that accepts and never answers, or gives up without saying so."""
    for partial in (b"", b"HTTP/1.1 200 OK\r\ncontent-length: 20\r\n\r\nHalf"):
        with SilentServer(partial) as server:
            result = run(["./join"], cwd=STEP, check=False, timeout=30,
                         env={"DELAYSERVER_ADDR": server.addr, "DELAYSERVER_TIMEOUT_MS": "300"})
        assert result.returncode == 1, result
        # Six requests start at once; the seventh (d) only after c's result came.
        assert result.stderr == "join: gave up after 300 ms: 7 of 7 responses never came\n"


# ===== The files behind the program =====

def test_corofied_file_regenerates():
    """main_corofied.c was edited by hand or is stale: corofy main.c no longer produces it."""
    assert_corofied_current(os.path.join(STEP, "main.c"))


def test_readme_draws_every_state_flag():
    """The README's table and diagrams of the state word lost a flag the code has, or show one it lacks."""
    with open(os.path.join(STEP, "executor.c")) as f:
        code_flags = set(re.findall(r"^#define (\w+) +\(\(uint64_t\) ?1 << \d+\)", f.read(), re.M))
    assert {"SCHEDULED", "RUNNING", "COMPLETE", "JOIN_INTEREST", "JOIN_WAKER"} <= code_flags
    with open(README) as f:
        text = f.read()
    table_flags = set(re.findall(r"^\| `([A-Z_]+)` \|", text, re.M))
    assert table_flags == code_flags, table_flags ^ code_flags
    how = text[text.index("## How it works"):text.index("## Limits")]
    for flag in code_flags:
        assert how.count(flag) >= 3, f"the README barely explains {flag}"
    assert len(readme_output(README, "./join")) > 5
    assert len(readme_output(README, "./join-check")) > 5
