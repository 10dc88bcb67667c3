"""ch05-runtime, the core: block_on on epoll (a), an executor that sleeps in the reactor (b),
the reactor on a thread of its own (c), executors on many threads (d).

Timing, and how the tests stay honest about it:
- Response lines carry "(<n> ms)" and the README blocks show "<ms>"; every
  other line is the same at any speedup, so the blocks match a run against
  the session's server (speedup 20).
- "Concurrent" is checked as a ratio: five requests of 2000 ms down to 400 ms
  must take about the longest, well under the sum.
- The deadline: every program meets a server that accepts and never answers,
  and one that answers half a response, with DELAYSERVER_TIMEOUT_MS at
  300 ms; it must give up with one line and exit 1 (run() fails the test if
  it hangs).
"""
import collections
import os
import re
import subprocess
import time

import pytest

from workbook import (ScriptedServer, SilentServer, assert_corofied_current, assert_readme_output,
                      assert_sanitizer_clean, closed_port, path, readme_blocks, readme_command,
                      run, timed_run)

CHAPTER = path("ch05-runtime")
STEP_A = path("ch05-runtime", "a-runtime")
STEP_B = path("ch05-runtime", "b-executor")
STEP_C = path("ch05-runtime", "c-reactor-thread")
STEP_D = path("ch05-runtime", "d-multi-thread")
PROGRAMS = {STEP_A: "runtime", STEP_B: "executor", STEP_C: "reactor-thread",
            STEP_D: "multi-thread"}
IDS = ["a", "b", "c", "d"]
REQUESTS = {STEP_A: 2, STEP_B: 5, STEP_C: 5, STEP_D: 30}

# What the programs ask for (milliseconds, at speedup 1).
A_DELAYS = [600, 400]                    # one after the other
B_DELAYS = [2000, 1600, 1200, 800, 400]  # request i waits B_DELAYS[i], all at once
D_EXECUTORS = ["main"] + [f"exec-{i}" for i in range(1, 6)]

LINE = re.compile(r"200 OK  (\S+)  \((\d+) ms\)")
RESPONSE = re.compile(r"(\S+): received (\S+)-request-(\d)$")
SERVER_LOG = re.compile(r"#\d+ - (\d+)ms: (.*)$")


def lines(text):
    return text.rstrip("\n").split("\n")


def program(step, variant=""):
    return "./" + PROGRAMS[step] + variant


# ===== a-runtime: block_on sleeps in the registry =====

def test_a_prints_both_responses_in_order(delayserver):
    """runtime lost a response, printed one twice, or ran the requests out of order."""
    out = lines(run(["./runtime"], cwd=STEP_A).stdout)
    assert out[0] == "Program starting"
    bodies = [m.group(1) for m in map(LINE.fullmatch, out) if m]
    assert bodies == ["HelloAsyncAwait", "HelloAsyncAwait"], out
    assert out[-1].startswith("200 OK  HelloAsyncAwait"), out


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


@pytest.mark.parametrize("step", [STEP_A, STEP_B, STEP_C], ids=IDS[:3])
def test_full_prints_whole_responses(delayserver, step):
    """--full is ignored, or prints something other than the responses the server sent."""
    out = run([program(step), "--full"], cwd=step).stdout
    n = 2 if step == STEP_A else 5
    assert out.count("HTTP/1.1 200 OK\n") == n, out
    assert "\ncontent-type: text/plain; charset=utf-8\n" in out and "\r" not in out, out


# ===== b-executor and c-reactor-thread: one executor, five tasks =====

def check_one_executor(out):
    """Five tasks on the main executor: spawned slowest first, answered fastest
    first; the executor sleeps between answers with fewer and fewer pending."""
    out = lines(out)
    assert out[0] == "Program starting"
    assert out[-1] == "main: All tasks are finished"
    bodies = [m.group(1) for m in map(LINE.fullmatch, out) if m]
    # Spawned slowest first, so they finish in the opposite order.
    assert bodies == [f"HelloWorld{i}" for i in range(4, -1, -1)], bodies
    sleeps = [int(m.group(1)) for m in
              (re.fullmatch(r"main: (\d+) pending tasks\. Sleep until notified\.", text)
               for text in out) if m]
    assert sleeps and sleeps[0] == 5, sleeps
    assert sleeps == sorted(sleeps, reverse=True), "pending counts must only go down"
    assert min(sleeps) == 1, sleeps


@pytest.mark.parametrize("step", [STEP_B, STEP_C], ids=IDS[1:3])
def test_one_executor_runs_every_task(delayserver, step):
    """The executor loses a task, finishes early, or never sleeps."""
    check_one_executor(run([program(step)], cwd=step).stdout)


@pytest.mark.parametrize("step", [STEP_B, STEP_C], ids=IDS[1:3])
def test_requests_run_concurrently(start_server, step):
    """The five requests wait one after the other instead of all at once."""
    server = start_server("--speedup", "4")
    _, elapsed = timed_run([program(step)], cwd=step, env={"DELAYSERVER_ADDR": server.addr})
    longest, total = max(B_DELAYS) / 4000, sum(B_DELAYS) / 4000
    assert longest * 0.95 <= elapsed < (longest + total) / 2, (elapsed, longest, total)


@pytest.mark.parametrize("step,threads", [(STEP_B, 1), (STEP_C, 2)], ids=IDS[1:3])
def test_who_sleeps_in_the_reactor(step, threads):
    """Step b started a thread of its own (its executor should sleep in the reactor), or c did not."""
    with SilentServer() as server:
        proc = subprocess.Popen([program(step)], cwd=step, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL,
                                env={**os.environ, "DELAYSERVER_ADDR": server.addr,
                                     "DELAYSERVER_TIMEOUT_MS": "20000"})
        try:
            deadline = time.monotonic() + 20
            while server.accepted < 5 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert server.accepted == 5, "the five requests never connected"
            # All five are waiting now: the program is asleep, with its threads.
            assert len(os.listdir(f"/proc/{proc.pid}/task")) == threads
        finally:
            proc.kill()
            proc.wait()


# ===== d-multi-thread: many executors, one reactor =====

def check_d_output(out, executors, ordered=True):
    """Every executor spawned, received each of its responses exactly once
    (on its own thread), and finished after them."""
    out = lines(out)
    assert out[0] == f"Program starting: {len(executors)} executors"
    received = collections.Counter()
    per_executor = collections.defaultdict(list)
    for text in out[1:]:
        name = text.split(":", 1)[0]
        assert name in executors, f"line not attributed to an executor: {text!r}"
        per_executor[name].append(text)
        m = RESPONSE.fullmatch(text)
        if m:
            assert m.group(1) == m.group(2), f"a response arrived on another executor: {text!r}"
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


def test_d_every_response_exactly_once(start_server):
    """A response of multi-thread goes missing, arrives twice, or on the wrong thread."""
    # A server of its own, so no late log line of another test can be counted.
    server = start_server("--speedup", "20")
    out = run(["./multi-thread"], cwd=STEP_D, env={"DELAYSERVER_ADDR": server.addr}).stdout
    check_d_output(out, D_EXECUTORS)
    # The server saw each request exactly once, too.
    log = server.wait_for_log(30)
    asked = collections.Counter(m.group(2) for m in map(SERVER_LOG.fullmatch, log) if m)
    mine = {f"{name}-request-{i}": 1 for name in D_EXECUTORS for i in range(5)}
    assert {k: asked[k] for k in mine} == mine, asked


def test_d_dozens_of_requests_take_the_longest_delay(start_server):
    """multi-thread's executors do not run at the same time, or block each other."""
    server = start_server("--speedup", "4")
    executors = ["main"] + [f"exec-{i}" for i in range(1, 12)]
    result, elapsed = timed_run(["./multi-thread", "--threads", "12"], cwd=STEP_D,
                                env={"DELAYSERVER_ADDR": server.addr})
    check_d_output(result.stdout, executors, ordered=False)
    longest = max(B_DELAYS) / 4000
    # Sixty requests; one after the other they would take 12 * 1.5 s.
    assert longest * 0.95 <= elapsed < 2 * longest, (elapsed, longest)


@pytest.mark.parametrize("value", ["0", "65", "-1", "99999999999999999999", "4x", ""])
def test_d_threads_is_a_checked_number(value):
    """--threads -1 or a number too big for 64 bits is accepted, wraps round, or crashes."""
    result = run(["./multi-thread", "--threads", value], cwd=STEP_D, check=False)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (f"multi-thread: --threads wants a number from 1 to 64, "
                             f"not '{value}'\n")


# ===== The deadline: a server that never answers, or answers half =====

HALF_RESPONSE = b"HTTP/1.1 200 OK\r\ncontent-length: 20\r\n\r\nHalf"


@pytest.mark.parametrize("partial", [b"", HALF_RESPONSE], ids=["silent", "half-answer"])
@pytest.mark.parametrize("step", PROGRAMS, ids=IDS)
def test_a_server_that_stops_answering_is_given_up(step, partial):
    """The program hangs on a server that accepts and never (fully) answers, or gives up silently."""
    with SilentServer(partial) as server:
        result = run([program(step)], cwd=step, check=False, timeout=30,
                     env={"DELAYSERVER_ADDR": server.addr, "DELAYSERVER_TIMEOUT_MS": "300"})
    n = REQUESTS[step]
    assert result.returncode == 1, result
    assert result.stderr == (f"{PROGRAMS[step]}: gave up after 300 ms: {n} of {n} responses "
                             "never came\n"), result.stderr


@pytest.mark.sanitizer
@pytest.mark.parametrize("step,variant", [(STEP_A, "-asan"), (STEP_B, "-tsan"), (STEP_C, "-asan"),
                                          (STEP_D, "-tsan")], ids=IDS)
def test_giving_up_is_sanitizer_clean(step, variant):
    """Giving up at the deadline leaks a socket buffer or a waker, or races with the reactor."""
    with SilentServer(HALF_RESPONSE) as server:
        result = run([program(step, variant)], cwd=step, sanitizer=True, check=False, timeout=60,
                     env={"DELAYSERVER_ADDR": server.addr, "DELAYSERVER_TIMEOUT_MS": "300"})
    assert_sanitizer_clean(result, returncode=1)
    assert "responses never came" in result.stderr


# ===== Bad input, in every step =====

@pytest.mark.parametrize("step", PROGRAMS, ids=IDS)
def test_unreachable_server_is_one_line(step):
    """With no server, a step hangs, crashes, exits 0, or prints an error per request."""
    addr = f"127.0.0.1:{closed_port()}"
    result = run([program(step)], cwd=step, check=False, timeout=10,
                 env={"DELAYSERVER_ADDR": addr})
    assert result.returncode == 1, result
    err = lines(result.stderr)
    assert len(err) == 1 and f"cannot connect to {addr}: Connection refused" in err[0], result.stderr


@pytest.mark.parametrize("answer,message", [
    (b"garbage\r\n\r\n", "got something that is not an HTTP response from"),
    (b"", "the connection was closed without an answer by"),
], ids=["garbage", "silent-close"])
@pytest.mark.parametrize("step", PROGRAMS, ids=IDS)
def test_bad_server_is_one_line(step, answer, message):
    """A server that answers nonsense makes a step hang, crash, or exit 0."""
    with ScriptedServer(answer) as server:
        result = run([program(step)], cwd=step, check=False, timeout=10,
                     env={"DELAYSERVER_ADDR": server.addr})
    assert result.returncode == 1, result
    err = lines(result.stderr)
    assert len(err) == 1 and message in err[0], result.stderr


@pytest.mark.parametrize("step", PROGRAMS, ids=IDS)
def test_bad_arguments(step):
    """A step ignores a bad argument or a malformed DELAYSERVER_ADDR, or --help fails."""
    name = PROGRAMS[step]
    helped = run([program(step), "--help"], cwd=step)
    assert helped.stdout.startswith(f"usage: {name}") and "DELAYSERVER_TIMEOUT_MS" in helped.stdout
    for args, message in [(["--bogus"], "unknown argument '--bogus' (try --help)"),
                          (["--help", "extra"], "unexpected argument 'extra' after --help (try --help)")]:
        bad = run([program(step), *args], cwd=step, check=False)
        assert bad.returncode == 2 and bad.stdout == ""
        assert bad.stderr == f"{name}: {message}\n"
    addr = run([program(step)], cwd=step, check=False, env={"DELAYSERVER_ADDR": "nonsense"})
    assert addr.returncode == 1
    assert lines(addr.stderr) == [f"{name}: DELAYSERVER_ADDR='nonsense': expected host:port, "
                                  "for example 127.0.0.1:8080"]


@pytest.mark.parametrize("step", PROGRAMS, ids=IDS)
def test_bracketed_ipv6_address_is_tried(step):
    """DELAYSERVER_ADDR=[::1]:port is refused as malformed instead of being tried."""
    addr = f"[::1]:{closed_port()}"
    result = run([program(step)], cwd=step, check=False, timeout=10,
                 env={"DELAYSERVER_ADDR": addr})
    assert result.returncode == 1
    assert f"cannot connect to {addr}:" in result.stderr and "DELAYSERVER_ADDR" not in result.stderr


# ===== Wakers after their task or executor ended =====

WAKER_CHECK_LINES = {
    STEP_B: [
        "a waker kept after its task finished: woken twice, task not polled again",
        "a waker woken from another thread: the sleeping executor woke up",
        "8000 wakes from 4 threads at once: no wake-up lost",
        "the reactor woke a task for its eventfd",
        "a waker woken and dropped on another thread after its executor ended: no effect",
        "all checks passed",
    ],
}
WAKER_CHECK_LINES[STEP_C] = list(WAKER_CHECK_LINES[STEP_B])
WAKER_CHECK_LINES[STEP_C][3] += "; stale events never woke a reused slot"
WAKER_CHECK_LINES[STEP_D] = WAKER_CHECK_LINES[STEP_C][:5] + [
    "a task woken by another executor's task; a waker kept after its executor's thread ended",
    "all checks passed"]


def check_waker_output(step, out):
    found = [text for text in lines(out) if not text.startswith(("check:", "other:"))]
    assert found == WAKER_CHECK_LINES[step], out


@pytest.mark.parametrize("step", [STEP_B, STEP_C, STEP_D], ids=IDS[1:])
def test_waker_after_finish(step):
    """A kept waker re-polls a finished task, or a wake from another thread gets lost."""
    check_waker_output(step, run(["./waker-check"], cwd=step, timeout=30).stdout)


@pytest.mark.sanitizer
@pytest.mark.parametrize("variant", ["asan", "tsan"])
@pytest.mark.parametrize("step", [STEP_B, STEP_C, STEP_D], ids=IDS[1:])
def test_waker_after_finish_sanitized(step, variant):
    """Waking or dropping a waker after its task or executor ended is a use-after-free or a data race."""
    result = run([f"./waker-check-{variant}"], cwd=step, sanitizer=True, check=False, timeout=60)
    assert_sanitizer_clean(result)
    check_waker_output(step, result.stdout)


# ===== Sanitizer runs of every step =====

SANITIZED = [(STEP_A, "-asan"), (STEP_B, "-asan"), (STEP_B, "-tsan"), (STEP_C, "-asan"),
             (STEP_C, "-tsan"), (STEP_D, "-asan"), (STEP_D, "-tsan")]


@pytest.mark.sanitizer
@pytest.mark.parametrize("step,variant", SANITIZED,
                         ids=[PROGRAMS[s] + v for s, v in SANITIZED])
def test_sanitized_runs_are_clean(delayserver, step, variant):
    """A step leaks, overflows, or races: ASan+UBSan or TSan reports it."""
    result = run([program(step, variant)], cwd=step, sanitizer=True, check=False, timeout=60)
    assert_sanitizer_clean(result)
    if step == STEP_D:
        check_d_output(result.stdout, D_EXECUTORS, ordered=False)
    else:
        assert len(LINE.findall(result.stdout)) == (2 if step == STEP_A else 5), result.stdout


@pytest.mark.sanitizer
@pytest.mark.parametrize("step,variant", [(STEP_A, "-asan"), (STEP_D, "-tsan")], ids=["a", "d"])
def test_sanitized_error_path_is_clean(step, variant):
    """The error path (no server) leaks or races: ASan or TSan reports it."""
    result = run([program(step, variant)], cwd=step, sanitizer=True, check=False, timeout=60,
                 env={"DELAYSERVER_ADDR": f"127.0.0.1:{closed_port()}"})
    assert_sanitizer_clean(result, returncode=1)


# ===== The files behind the programs =====

@pytest.mark.parametrize("step", PROGRAMS, ids=IDS)
def test_corofied_file_regenerates(step):
    """main_corofied.c was edited by hand or is stale: corofy main.c no longer produces it."""
    assert_corofied_current(os.path.join(step, "main.c"))


# ===== The READMEs show real runs =====

README_RUNS = {  # (step, command in its README) -> speedup of its server (None: the session's)
    (STEP_A, "./runtime"): None,
    (STEP_A, "DELAYSERVER_TIMEOUT_MS=500 ./runtime"): 1,
    (STEP_B, "./executor"): None,
    (STEP_C, "./reactor-thread"): None,
    (STEP_D, "./multi-thread"): None,
    (STEP_D, "./multi-thread | grep '^exec-3:'"): None,
}


@pytest.mark.parametrize("step", PROGRAMS, ids=IDS)
def test_readme_shows_every_run_it_checks(step):
    """A README output block that no test runs (or a run whose block was deleted)."""
    readme = os.path.join(step, "README.md")
    assert sorted(cmd for cmd, _ in readme_blocks(readme)) == \
        sorted(cmd for s, cmd in README_RUNS if s == step)


@pytest.mark.parametrize("step,command", README_RUNS,
                         ids=[f"{os.path.basename(s)} {c}" for s, c in README_RUNS])
def test_readme_output(step, command, delayserver, start_server):
    """A step README shows output the program no longer prints."""
    readme = os.path.join(step, "README.md")
    if " | grep " in command:   # one executor's view of a run
        prog, pattern = command.split(" | grep ")
        out = run([prog], cwd=step).stdout
        wanted = re.compile(pattern.strip("'"))
        text = "".join(t + "\n" for t in lines(out) if wanted.search(t))
        assert_readme_output(readme, command, text)
        return
    argv, env = readme_command(command)
    if README_RUNS[step, command] is not None:
        env["DELAYSERVER_ADDR"] = start_server("--speedup", str(README_RUNS[step, command])).addr
    result = run(argv, cwd=step, env=env, check=False)
    assert_readme_output(readme, command, result.stdout + result.stderr)
