"""ch05-runtime: block_on on epoll (a), a reactor and an executor (b), executors on many threads (c)."""
import collections
import os
import re

import pytest

from workbook import ScriptedServer, assert_corofied_current, assert_readme_output, assert_sanitizer_clean, closed_port, path, readme_output, run, timed_run

README = path("ch05-runtime", "README.md")
STEP_A = path("ch05-runtime", "a-runtime")
STEP_B = path("ch05-runtime", "b-reactor-executor")
STEP_C = path("ch05-runtime", "c-multi-thread")
STEPS = [STEP_A, STEP_B, STEP_C]

# What the programs ask for (milliseconds, at speedup 1).
A_DELAYS = [600, 400]                   # one after the other
B_DELAYS = [2000, 1600, 1200, 800, 400]  # request i waits B_DELAYS[i], all at once
C_EXECUTORS = ["main"] + [f"exec-{i}" for i in range(1, 6)]

RESPONSE = re.compile(r"(\S+): received (\S+)-request-(\d)$")
SERVER_LOG = re.compile(r"#\d+ - (\d+)ms: (.*)$")


def lines(text):
    return text.rstrip("\n").split("\n")


# ===== a-runtime: block_on sleeps in epoll_wait =====

def test_a_output_matches_readme(delayserver):
    """The README's run of ./runtime no longer matches what the program prints."""
    out = run(["./runtime"], cwd=STEP_A).stdout
    assert_readme_output(README, "./runtime", out)


def test_a_prints_both_responses_in_order(delayserver):
    """runtime lost a response, printed one twice, or ran the requests out of order."""
    out = run(["./runtime"], cwd=STEP_A).stdout
    assert lines(out)[0] == "Program starting"
    assert out.count("HTTP/1.1 200 OK") == 2
    assert out.count("\nHelloAsyncAwait\n") == 2
    # Each response is printed before the next request starts: the first
    # body comes before the second status line.
    first_body = out.index("\nHelloAsyncAwait\n")
    assert out.index("HTTP/1.1 200 OK", first_body) > first_body


def test_a_wakes_on_events_not_on_time(start_server):
    """block_on wakes up on a timer or spins instead of sleeping until an event arrives."""
    counts = {}
    for speedup in ("1", "20"):
        server = start_server("--speedup", speedup)
        result, elapsed = timed_run(["./runtime"], cwd=STEP_A,
                                    env={"DELAYSERVER_ADDR": server.addr})
        counts[speedup] = result.stdout.count("Schedule other tasks\n")
        if speedup == "1":
            # The requests run one after the other: about the sum of the delays.
            assert elapsed >= 0.95 * sum(A_DELAYS) / 1000, elapsed
    # Each request waits for a handful of events (connected, answer arrived):
    # at least one wake-up each, and a few at most, however long it waits. A
    # block_on that polls every few milliseconds would count hundreds at
    # speedup 1 and twenty times fewer at speedup 20.
    for speedup, count in counts.items():
        assert len(A_DELAYS) <= count <= 3 * len(A_DELAYS), (speedup, count)
    assert abs(counts["1"] - counts["20"]) <= 2, counts


# ===== b-reactor-executor: one executor, a reactor thread =====

def test_b_output_matches_readme(delayserver):
    """The README's run of ./reactor-executor no longer matches what the program prints."""
    out = run(["./reactor-executor"], cwd=STEP_B).stdout
    assert_readme_output(README, "./reactor-executor", out)


def test_b_output_shape(delayserver):
    """reactor-executor loses a task, finishes early, or its executor never sleeps."""
    out = lines(run(["./reactor-executor"], cwd=STEP_B).stdout)
    assert out[0] == "Program starting"
    assert out[-1] == "main: All tasks are finished"
    bodies = [line for line in out if line.startswith("HelloWorld")]
    # Spawned slowest first, so they finish in the opposite order.
    assert bodies == [f"HelloWorld{i}" for i in range(4, -1, -1)], bodies
    sleeps = [int(m.group(1)) for m in
              (re.fullmatch(r"main: (\d+) pending tasks\. Sleep until notified\.", line) for line in out)
              if m]
    assert sleeps and sleeps[0] == 5, sleeps
    assert sleeps == sorted(sleeps, reverse=True), "pending counts must only go down"
    assert min(sleeps) == 1, sleeps


def test_b_requests_run_concurrently(start_server):
    """The five requests of reactor-executor wait one after the other instead of all at once."""
    server = start_server("--speedup", "4")
    _, elapsed = timed_run(["./reactor-executor"], cwd=STEP_B,
                           env={"DELAYSERVER_ADDR": server.addr})
    longest, total = max(B_DELAYS) / 4000, sum(B_DELAYS) / 4000
    assert longest * 0.95 <= elapsed < (longest + total) / 2, (elapsed, longest, total)


# ===== c-multi-thread: many executors, one reactor =====

def check_c_output(out, executors, ordered=True):
    """Every executor spawned, received each of its responses exactly once
    (on its own thread), and finished after them."""
    out = lines(out)
    assert out[0] == f"Program starting: {len(executors)} executors"
    received = collections.Counter()
    per_executor = collections.defaultdict(list)
    for line in out[1:]:
        name = line.split(":", 1)[0]
        assert name in executors, f"line not attributed to an executor: {line!r}"
        per_executor[name].append(line)
        m = RESPONSE.fullmatch(line)
        if m:
            assert m.group(1) == m.group(2), f"a response arrived on another executor: {line!r}"
            received[(m.group(2), int(m.group(3)))] += 1
    expected = {(name, i) for name in executors for i in range(5)}
    assert set(received) == expected, set(received) ^ expected
    assert all(n == 1 for n in received.values()), [k for k, n in received.items() if n > 1]
    for name in executors:
        mine = per_executor[name]
        assert mine[0] == f"{name}: spawning 5 requests", mine
        assert mine[-1] == f"{name}: All tasks are finished", mine
        order = [int(m.group(3)) for m in map(RESPONSE.fullmatch, mine) if m]
        if ordered:
            assert order == [4, 3, 2, 1, 0], (name, order)


def test_c_output_matches_readme(delayserver):
    """The README's runs of ./multi-thread no longer match what the program prints."""
    out = run(["./multi-thread"], cwd=STEP_C).stdout
    assert_readme_output(README, "./multi-thread", out)
    only_exec_3 = "".join(line + "\n" for line in lines(out) if line.startswith("exec-3:"))
    assert_readme_output(README, "./multi-thread | grep '^exec-3:'", only_exec_3)


def test_c_every_response_exactly_once(start_server):
    """A response of multi-thread goes missing, arrives twice, or on the wrong thread."""
    # A server of its own, so no late log line of another test can be counted.
    server = start_server("--speedup", "20")
    out = run(["./multi-thread"], cwd=STEP_C, env={"DELAYSERVER_ADDR": server.addr}).stdout
    check_c_output(out, C_EXECUTORS)
    # The server saw each request exactly once, too.
    log = server.wait_for_log(30)
    asked = collections.Counter(m.group(2) for m in map(SERVER_LOG.fullmatch, log) if m)
    mine = {f"{name}-request-{i}": 1 for name in C_EXECUTORS for i in range(5)}
    assert {k: asked[k] for k in mine} == mine, asked


def test_c_dozens_of_requests_take_the_longest_delay(start_server):
    """multi-thread's executors do not run at the same time, or block each other."""
    server = start_server("--speedup", "4")
    executors = ["main"] + [f"exec-{i}" for i in range(1, 12)]
    result, elapsed = timed_run(["./multi-thread", "--threads", "12"], cwd=STEP_C,
                                env={"DELAYSERVER_ADDR": server.addr})
    check_c_output(result.stdout, executors, ordered=False)
    longest = max(B_DELAYS) / 4000
    # Sixty requests; one after the other they would take 12 * 1.5 s.
    assert longest * 0.95 <= elapsed < 2 * longest, (elapsed, longest)


# ===== Bad input, in every step =====

PROGRAMS = [(STEP_A, "./runtime"), (STEP_B, "./reactor-executor"), (STEP_C, "./multi-thread")]


@pytest.mark.parametrize("step,prog", PROGRAMS, ids=["a", "b", "c"])
def test_unreachable_server_is_one_line(step, prog):
    """With no server, a step hangs, crashes, exits 0, or prints an error per request."""
    result = run([prog], cwd=step, check=False, timeout=10,
                 env={"DELAYSERVER_ADDR": f"127.0.0.1:{closed_port()}"})
    assert result.returncode == 1, result
    err = lines(result.stderr)
    assert len(err) == 1 and "cannot connect to 127.0.0.1:" in err[0], result.stderr
    assert "Connection refused" in err[0]


@pytest.mark.parametrize("answer,message", [
    (b"garbage\r\n\r\n", "not an HTTP response"),
    (b"", "closed without an answer"),
], ids=["garbage", "silent-close"])
@pytest.mark.parametrize("step,prog", PROGRAMS, ids=["a", "b", "c"])
def test_bad_server_is_one_line(step, prog, answer, message):
    """A server that answers nonsense makes a step hang, crash, or exit 0."""
    server = ScriptedServer(answer)
    try:
        result = run([prog], cwd=step, check=False, timeout=10,
                     env={"DELAYSERVER_ADDR": server.addr})
    finally:
        server.close()
    assert result.returncode == 1, result
    err = lines(result.stderr)
    assert len(err) == 1 and message in err[0], result.stderr


@pytest.mark.parametrize("step,prog", PROGRAMS, ids=["a", "b", "c"])
def test_bad_arguments(step, prog):
    """A step ignores a bad argument or a malformed DELAYSERVER_ADDR, or --help fails."""
    helped = run([prog, "--help"], cwd=step)
    assert helped.stdout.startswith("usage: ")
    bad = run([prog, "--bogus"], cwd=step, check=False)
    assert bad.returncode == 2 and "unknown argument '--bogus'" in bad.stderr
    addr = run([prog], cwd=step, check=False, env={"DELAYSERVER_ADDR": "nonsense"})
    assert addr.returncode == 1
    assert lines(addr.stderr) == [f"{prog[2:]}: DELAYSERVER_ADDR='nonsense' is not host:port"]


# ===== Wakers after their task or executor ended =====

WAKER_CHECK_LINES = [
    "a waker kept after its task finished: woken twice, task not polled again",
    "a waker woken from another thread: the sleeping executor woke up",
    "8000 wakes from 4 threads at once: no wake-up lost",
    "the reactor woke a task for its eventfd; stale events never woke a reused slot",
    "a waker woken and dropped on another thread after its executor ended: no effect",
    "all checks passed",
]
C_ONLY_LINE = "a task woken by another executor's task; a waker kept after its executor's thread ended"


def check_waker_output(step, out):
    found = [line for line in lines(out) if not line.startswith(("check:", "other:"))]
    expected = list(WAKER_CHECK_LINES)
    if step == STEP_C:
        expected.insert(4, C_ONLY_LINE)
    assert found == expected, out


@pytest.mark.parametrize("step", [STEP_B, STEP_C], ids=["b", "c"])
def test_waker_after_finish(step):
    """A kept waker re-polls a finished task, or a wake from another thread gets lost."""
    check_waker_output(step, run(["./waker-check"], cwd=step, timeout=30).stdout)


@pytest.mark.sanitizer
@pytest.mark.parametrize("variant", ["asan", "tsan"])
@pytest.mark.parametrize("step", [STEP_B, STEP_C], ids=["b", "c"])
def test_waker_after_finish_sanitized(step, variant):
    """Waking or dropping a waker after its task or executor ended is a use-after-free or a data race."""
    result = run([f"./waker-check-{variant}"], cwd=step, sanitizer=True, check=False, timeout=60)
    assert_sanitizer_clean(result)
    check_waker_output(step, result.stdout)


# ===== Sanitizer runs of every step =====

SANITIZED = [(STEP_A, "./runtime-asan"),
             (STEP_B, "./reactor-executor-asan"), (STEP_B, "./reactor-executor-tsan"),
             (STEP_C, "./multi-thread-asan"), (STEP_C, "./multi-thread-tsan")]


@pytest.mark.sanitizer
@pytest.mark.parametrize("step,prog", SANITIZED, ids=[p[2:] for _, p in SANITIZED])
def test_sanitized_runs_are_clean(delayserver, step, prog):
    """A step leaks, overflows, or races: ASan+UBSan or TSan reports it."""
    result = run([prog], cwd=step, sanitizer=True, check=False, timeout=60)
    assert_sanitizer_clean(result)
    if step == STEP_C:
        check_c_output(result.stdout, C_EXECUTORS, ordered=False)
    else:
        assert result.stdout.count("HTTP/1.1 200 OK") == (2 if step == STEP_A else 5)


@pytest.mark.sanitizer
@pytest.mark.parametrize("step,prog", [(STEP_A, "./runtime-asan"), (STEP_C, "./multi-thread-tsan")],
                         ids=["a-asan", "c-tsan"])
def test_sanitized_error_path_is_clean(step, prog):
    """The error path (no server) leaks or races: ASan or TSan reports it."""
    result = run([prog], cwd=step, sanitizer=True, check=False, timeout=60,
                 env={"DELAYSERVER_ADDR": f"127.0.0.1:{closed_port()}"})
    assert_sanitizer_clean(result, returncode=1)


# ===== The files behind the programs =====

@pytest.mark.parametrize("step", STEPS, ids=["a", "b", "c"])
def test_corofied_file_regenerates(step):
    """main_corofied.c was edited by hand or is stale: corofy main.c no longer produces it."""
    assert_corofied_current(os.path.join(step, "main.c"))


def test_readme_has_every_block():
    """The chapter README lost one of the runs the tests check."""
    for command in ("./runtime", "./reactor-executor", "./multi-thread",
                    "./multi-thread | grep '^exec-3:'"):
        assert len(readme_output(README, command)) > 3, command
