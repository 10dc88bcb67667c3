"""ch06-io-uring b-proactor: chapter 5 step b's executor and program on a reactor built on io_uring.

The program is chapter 5's (the same five tasks, the same lines), so the
checks of ch05 b's output apply as they are; what is new is checked through
the system calls: the futures hand the kernel whole operations, every
socket operation goes through the ring, and the thread sleeps in
io_uring_enter. Where io_uring is missing, every test that needs it skips
with the program's own line as the reason. A traced run (ASYNC_TRACE)
shows the same: parks in io_uring_enter, operations where chapter 5 showed
registrations, wakes from their completions.
"""
import collections
import os
import re
import subprocess
import time

import pytest

from test_ch05_runtime import B_DELAYS, check_one_executor
from test_ch05_trace import title_of
from trace_check import check_trace
from workbook import (ROOT, UNAVAILABLE_EXIT, ScriptedServer, SilentServer,
                      assert_corofied_current, assert_readme_output, assert_sanitizer_clean,
                      closed_port, path, readme_blocks, require_io_uring, run, run_under_strace,
                      stop_and_continue_in, timed_run)

STEP = path("ch06-io-uring", "b-proactor")
README = path("ch06-io-uring", "b-proactor", "README.md")
PROACTOR = path("ch06-io-uring", "b-proactor", "proactor")
NO_URING = path("ch06-io-uring", "b-proactor", "no-uring")
IO_URING_ENTER = 426  # the system call's number on x86-64 and arm64

HALF_RESPONSE = b"HTTP/1.1 200 OK\r\ncontent-length: 20\r\n\r\nHalf"


def lines(text):
    return text.rstrip("\n").split("\n")


@pytest.fixture(scope="module")
def io_uring():
    """Skip, with the program's own line as the reason, where this kernel offers no io_uring."""
    require_io_uring(PROACTOR)


ENTER_CALL = re.compile(r"io_uring_enter\(\d+<anon_inode:\[io_uring\]>, (\d+), (\d+), "
                        r"(\w+), NULL, 0\) = (-?\d+).*")


# ===== The run: chapter 5's program, the same lines =====

def test_one_executor_runs_every_task(delayserver, io_uring):
    """The executor loses a task, finishes early, or never sleeps, now that completions wake it."""
    check_one_executor(run([PROACTOR]).stdout)


def test_requests_run_concurrently(start_server, io_uring):
    """The five requests wait one after the other instead of all at once."""
    server = start_server("--speedup", "4")
    _, elapsed = timed_run([PROACTOR], env={"DELAYSERVER_ADDR": server.addr})
    longest, total = max(B_DELAYS) / 4000, sum(B_DELAYS) / 4000
    assert longest * 0.95 <= elapsed < (longest + total) / 2, (elapsed, longest, total)


def test_full_prints_whole_responses(delayserver, io_uring):
    """--full is ignored, or prints something other than the responses the server sent."""
    out = run([PROACTOR, "--full"]).stdout
    assert out.count("HTTP/1.1 200 OK\n") == 5, out
    assert "\ncontent-type: text/plain; charset=utf-8\n" in out and "\r" not in out, out


def test_one_thread_asleep_in_io_uring_enter(io_uring):
    """The program started a thread of its own, or waits somewhere else than in the ring."""
    with SilentServer() as server:
        proc = subprocess.Popen([PROACTOR], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env={**os.environ, "DELAYSERVER_ADDR": server.addr,
                                     "DELAYSERVER_TIMEOUT_MS": "20000"})
        try:
            deadline = time.monotonic() + 20
            while server.accepted < 5 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert server.accepted == 5, "the five requests never connected"
            # The kernel may start worker threads of its own in the process
            # (named iou-wrk-*); the program's threads are the others.
            tasks = os.listdir(f"/proc/{proc.pid}/task")
            names = [open(f"/proc/{proc.pid}/task/{t}/comm").read().strip() for t in tasks]
            assert [n for n in names if not n.startswith("iou-")] == ["proactor"], names
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with open(f"/proc/{proc.pid}/syscall") as f:
                    if f.read().split()[0] == str(IO_URING_ENTER):
                        break
                time.sleep(0.01)
            else:
                raise AssertionError("the thread never slept in io_uring_enter")
        finally:
            proc.kill()
            proc.wait()


def test_stop_and_continue_while_waiting(delayserver, io_uring):
    """Ctrl-Z then fg makes io_uring_enter fail with EINTR; the executor must sleep again, not die."""
    proc = subprocess.Popen([PROACTOR], env={**os.environ, "DELAYSERVER_ADDR": delayserver.addr},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stop_and_continue_in(proc, IO_URING_ENTER)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0 and err == "", err
    check_one_executor(out)


# ===== What the completion model changes, seen in the system calls =====

def test_the_connects_go_to_the_kernel_in_one_call(delayserver, io_uring, tmp_path):
    """The five tasks' connects must reach the kernel together, in the first io_uring_enter,
    and every call must wait for a completion."""
    result, traced = run_under_strace([PROACTOR], tmp_path, calls="io_uring_enter",
                                      env={"DELAYSERVER_ADDR": delayserver.addr})
    assert result.returncode == 0, result.stderr
    check_one_executor(result.stdout)
    calls = [ENTER_CALL.fullmatch(line) for line in traced]
    assert calls and all(calls), traced
    # Five connects, the read of the notify eventfd and the deadline alarm.
    assert (int(calls[0].group(1)), int(calls[0].group(4))) == (7, 7), traced[0]
    assert all(c.group(2) == "1" and c.group(3) == "IORING_ENTER_GETEVENTS" for c in calls), traced
    # 5 connects, 5 sends, at least 5 receives; never more calls than operations.
    submitted = sum(int(c.group(4)) for c in calls)
    assert submitted >= 17 and len(calls) <= submitted, (submitted, traced)


def test_no_socket_system_calls_but_the_ring(delayserver, io_uring, tmp_path):
    """connect, send and receive must all go through the ring: the futures never touch a socket themselves."""
    calls = "connect,sendto,sendmsg,recvfrom,recvmsg,read,write,readv,writev,epoll_wait,poll,ppoll"
    result, traced = run_under_strace([PROACTOR], tmp_path, calls=calls,
                                      env={"DELAYSERVER_ADDR": delayserver.addr})
    assert result.returncode == 0, result.stderr
    check_one_executor(result.stdout)
    others = [line for line in traced
              if not re.match(r"(read|write)\(\d+</(usr|lib|etc|dev)/", line)
              and not line.startswith("write(1")]
    assert others == [], others
    assert any(line.startswith("write(1") for line in traced), "the trace saw no output at all"


# ===== The deadline =====

@pytest.mark.parametrize("partial", [b"", HALF_RESPONSE], ids=["silent", "half-answer"])
def test_a_server_that_stops_answering_is_given_up(io_uring, tmp_path, partial):
    """The program hangs on a server that accepts and never (fully) answers, gives up silently,
    or spins while it waits instead of sleeping in io_uring_enter."""
    with SilentServer(partial) as server:
        start = time.monotonic()
        result, traced = run_under_strace([PROACTOR], tmp_path, calls="io_uring_enter",
                                          env={"DELAYSERVER_ADDR": server.addr,
                                               "DELAYSERVER_TIMEOUT_MS": "300"})
        elapsed = time.monotonic() - start
    assert result.returncode == 1, result
    assert result.stderr == "proactor: gave up after 300 ms: 5 of 5 responses never came\n"
    assert elapsed >= 0.3, f"gave up after {elapsed:.3f}s, before the deadline"
    # Each call waits for a completion, and there are few: per request a
    # connect, a send, two receives at most and a cancel, plus the alarm and
    # the notify read. A program that polled would make hundreds.
    calls = [ENTER_CALL.fullmatch(line) for line in traced]
    assert all(calls) and len(calls) <= 5 * 5 + 4, traced


def test_readme_deadline(start_server, io_uring):
    """The README's run with a 1 s deadline (real delays) must give up on the three slowest."""
    server = start_server()
    result = run(["./proactor"], cwd=STEP, check=False,
                 env={"DELAYSERVER_ADDR": server.addr, "DELAYSERVER_TIMEOUT_MS": "1000"})
    assert result.returncode == 1, result
    assert_readme_output(README, "DELAYSERVER_TIMEOUT_MS=1000 ./proactor",
                         result.stdout + result.stderr)


# ===== The trace (ASYNC_TRACE) =====

REQUESTS = [f"request {i}" for i in range(5)]
SANITIZED = [pytest.param("", id="plain"),
             pytest.param("-asan", id="asan", marks=pytest.mark.sanitizer)]


def traced_run(program, tmp_path, variant="", args=(), returncode=0, env=None):
    """Run `program` (its `variant` build) with ASYNC_TRACE=<tmp>/t.json,-; hold
    the trace to check_trace()'s rules and to what every run of steps b and c
    shows (one thread, five requests, asleep only in io_uring_enter); return it."""
    json_path = tmp_path / "t.json"
    result = run([program + variant, *args], sanitizer=variant != "", check=False, timeout=60,
                 env={**(env or {}), "ASYNC_TRACE": f"{json_path},-"})
    if variant:
        assert_sanitizer_clean(result, returncode=returncode)
    assert result.returncode == returncode, result
    trace = check_trace(str(json_path), text=result.stderr)
    assert set(trace.tracks.values()) == {"main"}, trace.tracks
    assert set(trace.task_names.values()) == {"main", *REQUESTS}, trace.task_names
    assert {s.name for s in trace.spans if s.cat == "park"} == {"io_uring_enter"}
    return trace


def started_by(trace):
    """{task name: what the registrations traced inside its polls say, in order}:
    the operations each task started ("connect fd 5", ...)."""
    polls = [s for s in trace.spans if s.cat == "poll"]
    started = collections.defaultdict(list)
    for e in trace.instants_of("register"):
        inside = [s for s in polls if s.track == e.track and s.begin < e.ns < s.end]
        assert len(inside) == 1, f"{e.name!r} started outside a poll"
        started[trace.task_names[inside[0].task]].append(e.name)
    return started


def fd_of(name):
    return int(re.fullmatch(r".* fd (\d+)", name).group(1))


@pytest.mark.parametrize("variant", SANITIZED)
def test_trace_shows_operations_and_their_completions(delayserver, io_uring, tmp_path, variant):
    """ASYNC_TRACE loses a poll or a wake, sleeps elsewhere than in io_uring_enter, or does not
    show each request starting its connect, send and recv on one socket."""
    trace = traced_run(PROACTOR, tmp_path, variant)
    started = started_by(trace)
    assert set(started) == set(REQUESTS), started  # main starts no operation
    for name in REQUESTS:
        ops = started[name]
        assert [op.split()[0] for op in ops][:3] == ["connect", "send", "recv"], ops
        assert {op.split()[0] for op in ops[2:]} == {"recv"} and len({fd_of(op) for op in ops}) == 1
    # Each completion wakes its task through the executor; every poll but the
    # first of a request is the arrow of such a wake.
    arrows = collections.Counter(a.task for a in trace.arrows)
    for task, name in trace.task_names.items():
        if name != "main":
            assert trace.polls[task] == arrows[task] + 1 >= 4, (name, trace.polls[task], arrows[task])
    assert trace.instants_of("timer") == []


@pytest.mark.parametrize("variant", SANITIZED)
def test_trace_shows_each_deadline(io_uring, tmp_path, variant):
    """A deadline that cancels a receive is missing from the trace, names another socket,
    or does not end in a wake of every request."""
    with SilentServer(HALF_RESPONSE) as server:
        trace = traced_run(PROACTOR, tmp_path, variant, returncode=1,
                           env={"DELAYSERVER_ADDR": server.addr, "DELAYSERVER_TIMEOUT_MS": "300"})
    recv_fds = {fd_of(ops[-1]) for ops in started_by(trace).values()}
    deadlines = trace.instants_of("timer")
    assert sorted(e.name for e in deadlines) == sorted(f"deadline of recv fd {fd}" for fd in recv_fds)
    # The cancels complete: every request is woken, and polled, after its deadline.
    first = min(e.ns for e in deadlines)
    woken = {trace.task_names[a.task] for a in trace.arrows if a.from_ns > first}
    assert woken == set(REQUESTS), woken


def committed_picture(step, tmp_path):
    """Check the step's timeline.svg (its README shows it) against its timeline.json: what
    scripts/timeline draws from it, a trace of this step's program (`make pictures`);
    return that trace."""
    json_path, svg_path = (os.path.join(step, "timeline" + ext) for ext in (".json", ".svg"))
    out = tmp_path / "t.svg"
    run([path("scripts", "timeline"), json_path, "-o", str(out), "--title", title_of(svg_path)])
    with open(svg_path, encoding="utf-8") as f:
        assert out.read_text() == f.read(), f"run `make -C {os.path.relpath(step, ROOT)} pictures`"
    for name, wanted in [("Makefile", "\npictures:"), ("README.md", "](timeline.svg)")]:
        with open(os.path.join(step, name), encoding="utf-8") as f:
            assert wanted in f.read(), f"{name} has no {wanted.strip()!r}"
    trace = check_trace(json_path)
    assert set(trace.tracks.values()) == {"main"}
    assert set(trace.task_names.values()) == {"main", *REQUESTS}
    assert {s.name for s in trace.spans if s.cat == "park"} == {"io_uring_enter"}
    return trace


def test_committed_timeline_is_current(tmp_path):
    """The README's timeline is not what scripts/timeline draws from the committed trace, or
    that trace is not a run of this step (run `make pictures`)."""
    trace = committed_picture(STEP, tmp_path)
    assert {op.split()[0] for ops in started_by(trace).values() for op in ops} == \
        {"connect", "send", "recv"}


# ===== Bad input =====

def test_unreachable_server_is_one_line(io_uring):
    """With no server, the connect's completion must be named in one line, exit 1."""
    addr = f"127.0.0.1:{closed_port()}"
    result = run([PROACTOR], check=False, timeout=10, env={"DELAYSERVER_ADDR": addr})
    assert result.returncode == 1, result
    assert result.stderr == f"proactor: GET /2000/HelloWorld0: cannot connect to {addr}: " \
                            "Connection refused\n"


def test_bracketed_ipv6_address_is_tried(io_uring):
    """DELAYSERVER_ADDR=[::1]:port must reach the connect operation, not be refused as malformed."""
    addr = f"[::1]:{closed_port()}"
    result = run([PROACTOR], check=False, timeout=10, env={"DELAYSERVER_ADDR": addr})
    assert result.returncode == 1
    assert f"cannot connect to {addr}:" in result.stderr and "DELAYSERVER_ADDR" not in result.stderr


@pytest.mark.parametrize("answer,message", [
    (b"garbage\r\n\r\n", "got something that is not an HTTP response from"),
    (b"", "the connection was closed without an answer by"),
], ids=["garbage", "silent-close"])
def test_bad_server_is_one_line(io_uring, answer, message):
    """A server that answers nonsense makes the program hang, crash, or exit 0."""
    with ScriptedServer(answer) as server:
        result = run([PROACTOR], check=False, timeout=10, env={"DELAYSERVER_ADDR": server.addr})
    assert result.returncode == 1, result
    err = lines(result.stderr)
    assert len(err) == 1 and message in err[0], result.stderr


def test_bad_arguments():
    """The program ignores a bad argument, or --help fails (none of this needs io_uring)."""
    helped = run([PROACTOR, "--help"])
    assert helped.stdout.startswith("usage: proactor [--full]\n")
    for words in ["io_uring_enter", "DELAYSERVER_TIMEOUT_MS", "status 77"]:
        assert words in helped.stdout, words
    for args, message in [(["--bogus"], "unknown argument '--bogus' (try --help)"),
                          (["--help", "extra"], "unexpected argument 'extra' after --help (try --help)")]:
        bad = run([PROACTOR, *args], check=False)
        assert (bad.returncode, bad.stdout, bad.stderr) == (2, "", f"proactor: {message}\n")


# ===== Where io_uring is not available =====

def test_waker_check_skips_without_io_uring():
    """waker-check must say it cannot run, with status 77, rather than fail its checks."""
    result = run([NO_URING, "./waker-check"], cwd=STEP, check=False, timeout=10)
    assert (result.returncode, result.stdout) == \
        (UNAVAILABLE_EXIT, "SKIPPED: io_uring is not available here: Function not implemented\n")


# ===== Wakers, on this reactor =====

WAKER_CHECK_LINES = [
    "a waker kept after its task finished: woken twice, task not polled again",
    "a waker woken from another thread: the sleeping executor woke up",
    "8000 wakes from 4 threads at once: no wake-up lost",
    "the reactor woke a task when its read of an eventfd completed",
    "a waker woken and dropped on another thread after its executor ended: no effect",
    "all checks passed",
]


def run_waker_check(variant="", **kwargs):
    result = run([f"./waker-check{variant}"], cwd=STEP, check=False, timeout=60, **kwargs)
    if result.returncode == UNAVAILABLE_EXIT:
        pytest.skip(result.stdout.strip())
    return result


def test_waker_after_finish():
    """A kept waker re-polls a finished task, or a wake from another thread does not
    interrupt the executor asleep in io_uring_enter."""
    result = run_waker_check()
    assert result.returncode == 0, result
    assert [t for t in lines(result.stdout) if not t.startswith("check:")] == WAKER_CHECK_LINES


# ===== The files behind the program =====

def test_corofied_file_regenerates():
    """main_corofied.c was edited by hand or is stale: corofy main.c no longer produces it."""
    assert_corofied_current(os.path.join(STEP, "main.c"))


def test_main_is_chapter_5s_but_for_io_uring():
    """main.c must stay chapter 5's program: the same coroutines, with only the usage text,
    the program's name and the missing-io_uring status changed."""
    ch05 = open(path("ch05-runtime", "b-executor", "main.c")).read()
    mine = open(path("ch06-io-uring", "b-proactor", "main.c")).read()
    body = re.compile(r"coroutine void request.*?\n}\n.*?coroutine void async_main.*?\n}\n", re.S)
    assert body.search(ch05).group(0) == body.search(mine).group(0)


README_RUNS = ["./proactor", "DELAYSERVER_TIMEOUT_MS=1000 ./proactor", "./no-uring ./proactor"]


def test_readme_shows_every_run_it_checks():
    """A README output block that no test runs (or a run whose block was deleted)."""
    assert sorted(cmd for cmd, _ in readme_blocks(README)) == sorted(README_RUNS)


def test_readme_output(delayserver, io_uring):
    """The README's sample run must match what ./proactor prints."""
    assert_readme_output(README, "./proactor", run(["./proactor"], cwd=STEP).stdout)


def test_readme_missing_io_uring():
    """The README's run without io_uring must match what the program prints."""
    result = run(["./no-uring", "./proactor"], cwd=STEP, check=False)
    assert result.returncode == UNAVAILABLE_EXIT
    assert_readme_output(README, "./no-uring ./proactor", result.stdout + result.stderr)


# ===== Sanitizers =====

@pytest.mark.sanitizer
@pytest.mark.parametrize("variant", ["-asan", "-tsan"])
def test_sanitized_runs_are_clean(delayserver, io_uring, variant):
    """The step leaks, overflows, or races: ASan+UBSan or TSan reports it."""
    result = run([PROACTOR + variant], sanitizer=True, check=False, timeout=60)
    assert_sanitizer_clean(result)
    check_one_executor(result.stdout)


@pytest.mark.sanitizer
@pytest.mark.parametrize("variant", ["-asan", "-tsan"])
def test_giving_up_is_sanitizer_clean(io_uring, variant):
    """Cancelling at the deadline leaks a buffer or a waker, or touches an operation after its completion."""
    with SilentServer(HALF_RESPONSE) as server:
        result = run([PROACTOR + variant], sanitizer=True, check=False, timeout=60,
                     env={"DELAYSERVER_ADDR": server.addr, "DELAYSERVER_TIMEOUT_MS": "300"})
    assert_sanitizer_clean(result, returncode=1)
    assert "responses never came" in result.stderr


@pytest.mark.sanitizer
@pytest.mark.parametrize("variant", ["-asan", "-tsan"])
def test_waker_after_finish_sanitized(variant):
    """Waking or dropping a waker after its task or executor ended, or from another thread while the
    executor sleeps in the ring, is a use-after-free or a data race."""
    result = run_waker_check(variant, sanitizer=True)
    assert_sanitizer_clean(result)
    assert [t for t in lines(result.stdout) if not t.startswith("check:")] == WAKER_CHECK_LINES
