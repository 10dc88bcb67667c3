"""ch06-io-uring c-cancel: a future dropped while its operation is in flight, and deadlines the kernel keeps.

The program is step b's with a patience per request (with_timeout): the
slow requests are dropped while their receive is in flight. The same run
is made with cancel-bug-asan (http.c built with -DBUG_FREE_IN_FLIGHT, which
frees the request at once) and with cancel-asan (which leaves it to the
reactor until the completion): ASan must catch the first and pass the
second. A traced run (ASYNC_TRACE) shows the timers, the cancels, and the
close that waits for them. Timing is a ratio with wide margins: at speedup 2 the delays are
1000 ms down to 200 ms, and a patience of 500 ms sits 100 ms from the
nearest of them.
"""
import os
import re
import time

import pytest

from test_ch06_b_proactor import (REQUESTS, SANITIZED, committed_picture, fd_of, started_by,
                                  traced_run)
from workbook import (SANITIZER_EXIT, UNAVAILABLE_EXIT, DelayServer, ScriptedServer, SilentServer,
                      assert_corofied_current, assert_readme_output, assert_sanitizer_clean,
                      closed_port, path, readme_blocks, require_io_uring, run, run_under_strace,
                      timed_run)

STEP = path("ch06-io-uring", "c-cancel")
README = path("ch06-io-uring", "c-cancel", "README.md")
CANCEL = path("ch06-io-uring", "c-cancel", "cancel")

LINE = re.compile(r"200 OK  HelloWorld(\d)  \((\d+) ms\)")
DROPPED = re.compile(r"HelloWorld(\d): no answer within (\d+) ms: dropped")
HALF_RESPONSE = b"HTTP/1.1 200 OK\r\ncontent-length: 20\r\n\r\nHalf"
SPEEDUP, PATIENCE_MS = 2, 500  # delays 1000, 800, 600, 400, 200 ms


def lines(text):
    return text.rstrip("\n").split("\n")


@pytest.fixture(scope="module")
def io_uring():
    """Skip, with the program's own line as the reason, where this kernel offers no io_uring."""
    require_io_uring(CANCEL)


@pytest.fixture(scope="module")
def slow_server():
    """A delay server of this file's own, at speedup 2."""
    server = DelayServer("--speedup", str(SPEEDUP))
    yield server
    server.stop()


def check_patience_run(out):
    """Requests 4 and 3 answered, fastest first; 0, 1 and 2 dropped, each once; then the end."""
    out = lines(out)
    assert out[0] == "Program starting" and out[-1] == "main: All tasks are finished", out
    assert [int(m.group(1)) for m in map(LINE.fullmatch, out) if m] == [4, 3], out
    dropped = [m for m in map(DROPPED.fullmatch, out) if m]
    assert sorted(int(m.group(1)) for m in dropped) == [0, 1, 2], out
    assert {int(m.group(2)) for m in dropped} == {PATIENCE_MS}, out
    # Nothing is dropped before both fast answers are in.
    assert out.index(next(t for t in out if DROPPED.fullmatch(t))) > \
        out.index(next(t for t in out if t.startswith("200 OK  HelloWorld3"))), out


def drop_in_flight(binary, server, **kwargs):
    """Run `binary` with a patience that drops the three slowest requests while
    their receives are in flight, and the server's answers still to come."""
    return run([binary, "--patience", str(PATIENCE_MS)], check=False, timeout=60,
               env={"DELAYSERVER_ADDR": server.addr}, **kwargs)


# ===== The run =====

def test_patience_drops_the_slow_requests(slow_server, io_uring):
    """The fast requests must be answered and the slow ones dropped at the patience, each once."""
    result = drop_in_flight(CANCEL, slow_server)
    assert result.returncode == 0 and result.stderr == "", result
    check_patience_run(result.stdout)


def test_dropped_requests_are_cancelled_not_waited_for(slow_server, io_uring):
    """The end must come at the patience, not when the slowest answer would have come:
    the reactor cancels what the dropped requests left in flight."""
    result, elapsed = timed_run([CANCEL, "--patience", str(PATIENCE_MS)],
                                env={"DELAYSERVER_ADDR": slow_server.addr})
    check_patience_run(result.stdout)
    patience, slowest = PATIENCE_MS / 1000, 2.0 / SPEEDUP
    assert patience * 0.95 <= elapsed < (patience + slowest) / 2, (elapsed, patience, slowest)


def test_without_patience_every_request_is_answered(delayserver, io_uring):
    """With all the time it needs, the program must be step b's: five answers, fastest first."""
    out = lines(run([CANCEL, "--patience", "60000"]).stdout)
    assert [int(m.group(1)) for m in map(LINE.fullmatch, out) if m] == [4, 3, 2, 1, 0], out
    assert not any(DROPPED.fullmatch(t) for t in out), out


def test_full_prints_whole_responses(delayserver, io_uring):
    """--full is ignored, or prints something other than the responses the server sent."""
    out = run([CANCEL, "--full"]).stdout
    assert out.count("HTTP/1.1 200 OK\n") == 5 and "\r" not in out, out


# ===== The bug, and its fix, under ASan =====

@pytest.mark.sanitizer
def test_bug_free_in_flight_is_caught_by_asan(slow_server, io_uring):
    """Freeing a dropped request at once (chapter 5's drop) must show as a use-after-free
    when its receive completes: the kernel had its address."""
    result = drop_in_flight(path("ch06-io-uring", "c-cancel", "cancel-bug-asan"), slow_server,
                            sanitizer=True)
    assert result.returncode == SANITIZER_EXIT, result
    err = result.stderr
    assert "ERROR: AddressSanitizer: heap-use-after-free" in err, err
    access, freed = err.split("freed by thread T0 here:", 1)
    assert re.search(r"#0 0x[0-9a-f]+ in complete .*/c-cancel/reactor\.c:\d+", access), access
    assert "in with_timeout_poll" in freed.split("previously allocated")[0], freed
    assert "previously allocated" in freed and "in http_get" in freed, freed


@pytest.mark.sanitizer
def test_fixed_build_passes_the_same_run(slow_server, io_uring):
    """The same run, with the dropped request left to the reactor until its completion,
    must be clean under ASan (and LSan: everything abandoned is freed in the end)."""
    result = drop_in_flight(path("ch06-io-uring", "c-cancel", "cancel-asan"), slow_server,
                            sanitizer=True)
    assert_sanitizer_clean(result)
    check_patience_run(result.stdout)


@pytest.mark.sanitizer
def test_fixed_build_is_clean_under_tsan(slow_server, io_uring):
    """The drop, the cancels and the waiting close must not race with anything."""
    result = drop_in_flight(path("ch06-io-uring", "c-cancel", "cancel-tsan"), slow_server,
                            sanitizer=True)
    assert_sanitizer_clean(result)
    check_patience_run(result.stdout)


# ===== The deadline: linked timeouts =====

@pytest.mark.parametrize("partial", [b"", HALF_RESPONSE], ids=["silent", "half-answer"])
def test_a_server_that_stops_answering_is_given_up(io_uring, tmp_path, partial):
    """The kernel must end each request's operation at its deadline: one line, exit 1, no hang,
    and the thread asleep meanwhile, not spinning."""
    with SilentServer(partial) as server:
        start = time.monotonic()
        result, enters = run_under_strace([CANCEL], tmp_path, calls="io_uring_enter",
                                          env={"DELAYSERVER_ADDR": server.addr,
                                               "DELAYSERVER_TIMEOUT_MS": "300"})
        elapsed = time.monotonic() - start
    assert result.returncode == 1, result
    assert result.stderr == "cancel: gave up after 300 ms: 5 of 5 responses never came\n"
    assert not DROPPED.search(result.stdout), result.stdout  # the patience (1 s) never came
    assert elapsed >= 0.3, f"gave up after {elapsed:.3f}s, before the deadline"
    # Each call waits for a completion: per request a connect, a send, two
    # receives at most, their linked timeouts and the timer; a program that
    # polled would make hundreds.
    assert 1 <= len(enters) <= 5 * 9 + 2, enters


def test_readme_deadline(start_server, io_uring):
    """The README's run with a 900 ms deadline (real delays): the kernel ends the three slowest."""
    server = start_server()
    result = run(["./cancel"], cwd=STEP, check=False,
                 env={"DELAYSERVER_ADDR": server.addr, "DELAYSERVER_TIMEOUT_MS": "900"})
    assert result.returncode == 1, result
    assert_readme_output(README, "DELAYSERVER_TIMEOUT_MS=900 ./cancel", result.stdout + result.stderr)


# ===== The trace (ASYNC_TRACE) =====

@pytest.mark.parametrize("variant", SANITIZED)
def test_trace_shows_the_timers_and_the_cancels(slow_server, io_uring, tmp_path, variant):
    """ASYNC_TRACE does not show the patience timers expiring, the dropped requests' receives
    cancelled, or reactor_close waiting in io_uring_enter for those cancels to complete."""
    trace = traced_run(CANCEL, tmp_path, variant, args=["--patience", str(PATIENCE_MS)],
                       env={"DELAYSERVER_ADDR": slow_server.addr})
    started = started_by(trace)
    dropped, answered = REQUESTS[:3], REQUESTS[3:]  # the slowest three, as check_patience_run says
    for name in REQUESTS:
        ops = started[name]
        assert ops[:2] == ["timeout", f"connect fd {fd_of(ops[1])}"], ops  # with_timeout, then http_get
        # Dropped: its recv in flight is cancelled. Answered: its timer is.
        assert ops[-1] == (f"cancel recv fd {fd_of(ops[1])}" if name in dropped else "cancel timeout")
    timers = trace.instants_of("timer")
    assert [e.name for e in timers] == ["timeout expired"] * 3, timers
    for e in timers:  # each timer wakes a request that is then dropped
        wake = next(w for w in trace.wakes if w.track == e.track and w.ns > e.ns)
        assert trace.task_names[wake.task] in dropped, wake
    last_done = max(e.ns for e in trace.instants_of("done"))
    assert any(s.cat == "park" and s.begin > last_done for s in trace.spans), \
        "reactor_close did not wait for the cancelled receives"
    assert set(answered) <= {trace.task_names[a.task] for a in trace.arrows}


@pytest.mark.parametrize("variant", SANITIZED)
def test_trace_shows_each_linked_timeout(io_uring, tmp_path, variant):
    """A receive ended by its linked timeout is missing from the trace as a deadline, or the
    deadline does not wake the request whose receive it ended."""
    with SilentServer() as server:
        trace = traced_run(CANCEL, tmp_path, variant, returncode=1,
                           env={"DELAYSERVER_ADDR": server.addr, "DELAYSERVER_TIMEOUT_MS": "300"})
    owner = {fd_of(op): name for name, ops in started_by(trace).items() for op in ops
             if op.startswith("recv")}
    deadlines = trace.instants_of("timer")
    assert sorted(e.name for e in deadlines) == sorted(f"deadline of recv fd {fd}" for fd in owner)
    for e in deadlines:  # the cancelled receive's completion wakes its task at once
        wake = next(w for w in trace.wakes if w.track == e.track and w.ns > e.ns)
        assert trace.task_names[wake.task] == owner[fd_of(e.name)], (e, wake)


def test_committed_timeline_is_current(tmp_path):
    """The README's timeline is not what scripts/timeline draws from the committed trace, or
    that trace is not a run of this step with three requests dropped (run `make pictures`)."""
    trace = committed_picture(STEP, tmp_path)
    assert [e.name for e in trace.instants_of("timer")] == ["timeout expired"] * 3
    cancels = [op for ops in started_by(trace).values() for op in ops if op.startswith("cancel recv")]
    assert len(cancels) == 3, cancels



def test_unreachable_server_is_one_line(io_uring):
    """With no server, the connect's completion must be named in one line, exit 1."""
    addr = f"127.0.0.1:{closed_port()}"
    result = run([CANCEL], check=False, timeout=10, env={"DELAYSERVER_ADDR": addr})
    assert result.returncode == 1, result
    assert result.stderr == f"cancel: GET /2000/HelloWorld0: cannot connect to {addr}: " \
                            "Connection refused\n"


def test_server_that_answers_garbage_is_one_line(io_uring):
    """A server that is not a delay server makes the program hang, crash, or exit 0."""
    with ScriptedServer(b"garbage\r\n\r\n") as server:
        result = run([CANCEL], check=False, timeout=10, env={"DELAYSERVER_ADDR": server.addr})
    assert result.returncode == 1, result
    err = lines(result.stderr)
    assert len(err) == 1 and "got something that is not an HTTP response from" in err[0], err


@pytest.mark.parametrize("args, message", [
    (["--patience", "0"], "--patience wants a number from 1 to 3600000, not '0'"),
    (["--patience", "3600001"], "--patience wants a number from 1 to 3600000, not '3600001'"),
    (["--patience", "1s"], "--patience wants a number from 1 to 3600000, not '1s'"),
    (["--patience", "-5"], "--patience wants a number from 1 to 3600000, not '-5'"),
    (["--patience"], "--patience needs a value"),
    (["--bogus"], "unknown argument '--bogus'"),
    (["--help", "extra"], "unexpected argument 'extra' after --help"),
])
def test_bad_arguments(args, message):
    """A bad command line must get one line naming the problem, exit 2, and no run."""
    result = run([CANCEL, *args], check=False, env={"DELAYSERVER_ADDR": "127.0.0.1:1"})
    assert (result.returncode, result.stdout, result.stderr) == \
        (2, "", f"cancel: {message} (try --help)\n")


def test_help_names_patience_deadline_and_status():
    """--help must exit 0 and say what --patience does, and the deadline and missing-io_uring status."""
    result = run([CANCEL, "--help"])
    assert result.stdout.startswith("usage: cancel [--patience MS] [--full]\n")
    for words in ["--patience MS", "dropped", "DELAYSERVER_TIMEOUT_MS", "status 77"]:
        assert words in result.stdout, words


# ===== Where io_uring is not available =====

# ===== The files behind the program, and the README =====

def test_corofied_file_regenerates():
    """main_corofied.c was edited by hand or is stale: corofy main.c no longer produces it."""
    assert_corofied_current(os.path.join(STEP, "main.c"))


README_RUNS = ["./cancel", "DELAYSERVER_TIMEOUT_MS=900 ./cancel", "./cancel-bug-asan",
               "./no-uring ./cancel"]


def test_readme_shows_every_run_it_checks():
    """A README output block that no test runs (or a run whose block was deleted)."""
    assert sorted(cmd for cmd, _ in readme_blocks(README)) == sorted(README_RUNS)


def test_readme_output(start_server, io_uring):
    """The README's run (real delays, the default patience) must match what ./cancel prints."""
    server = start_server()
    result = run(["./cancel"], cwd=STEP, env={"DELAYSERVER_ADDR": server.addr})
    assert_readme_output(README, "./cancel", result.stdout)


@pytest.mark.sanitizer
def test_readme_bug_report(start_server, io_uring):
    """The README's ASan report must be what cancel-bug-asan really prints."""
    server = start_server()
    result = run(["./cancel-bug-asan"], cwd=STEP, check=False, sanitizer=True,
                 env={"DELAYSERVER_ADDR": server.addr})
    assert result.returncode == SANITIZER_EXIT, result
    assert_readme_output(README, "./cancel-bug-asan", result.stdout + result.stderr)


def test_readme_missing_io_uring():
    """The README's run without io_uring must match what the program prints."""
    result = run(["./no-uring", "./cancel"], cwd=STEP, check=False)
    assert result.returncode == UNAVAILABLE_EXIT
    assert_readme_output(README, "./no-uring ./cancel", result.stdout + result.stderr)


# ===== Sanitizers on the other paths =====

@pytest.mark.sanitizer
@pytest.mark.parametrize("variant", ["-asan", "-tsan"])
def test_giving_up_is_sanitizer_clean(io_uring, variant):
    """Operations ended by their linked timeouts must leave nothing behind and touch nothing freed."""
    with SilentServer(HALF_RESPONSE) as server:
        result = run([CANCEL + variant], sanitizer=True, check=False, timeout=60,
                     env={"DELAYSERVER_ADDR": server.addr, "DELAYSERVER_TIMEOUT_MS": "300"})
    assert_sanitizer_clean(result, returncode=1)
    assert "responses never came" in result.stderr
