"""ch06-io-uring a-rings: io_uring from its system calls; N requests as one batch of operations."""
import os
import re
import shutil
import socket
import subprocess
import threading
import time

import pytest

from conftest import SPEEDUP
from workbook import (UNAVAILABLE_EXIT, ScriptedServer, assert_readme_output,
                      assert_sanitizer_clean, closed_port, path, require_io_uring, run,
                      run_under_strace, stop_and_continue_in, timed_run)

STEP = path("ch06-io-uring", "a-rings")
README = path("ch06-io-uring", "a-rings", "README.md")
RINGS = path("ch06-io-uring", "a-rings", "rings")
RINGS_ASAN = path("ch06-io-uring", "a-rings", "rings-asan")

QUEUED = re.compile(r"QUEUED: request-(\d+): connect -> send GET /(\d+)/request-(\d+) -> recv")
ENTER = re.compile(r"ENTER: submitted (\d+), completions ready: (\d+)")
COMPLETED = re.compile(r"COMPLETED: (?:request-(\d+) (connect|send|recv)|timeout) res=(-?\d+)"
                       r"(?: \((\w+)\))?( \(end of stream\))?")
RESPONSE = re.compile(r"200 OK  request-(\d+)  \((\d+) ms\)")
FINISHED = re.compile(r"FINISHED: (\d+) responses, (\d+) operations in (\d+) calls to io_uring_enter")


@pytest.fixture(scope="module")
def io_uring():
    """Skip, with the program's own line as the reason, where this kernel offers no io_uring."""
    require_io_uring(RINGS)


def completions(out):
    """Every COMPLETED line as (request or None, operation, res), in order."""
    found = []
    for line in out.split("\n"):
        if m := COMPLETED.fullmatch(line):
            index = None if m.group(1) is None else int(m.group(1))
            found.append((index, m.group(2) or "timeout", int(m.group(3))))
    return found


def check_run(out, n):
    """A whole run of n requests: what was queued, each request's operations
    in the order its chain allows, and each response once, after its end of stream."""
    queued = [tuple(map(int, m)) for m in QUEUED.findall(out)]
    assert [(i, j) for i, _, j in queued] == [(i, i) for i in range(n)], out[:3000]
    lines = out.split("\n")
    done = completions(out)
    for i in range(n):
        mine = [(op, res) for index, op, res in done if index == i]
        ops = [op for op, _ in mine]
        # The link: the send starts only after the connect, the recv after the send.
        assert ops[0] == "connect" and ops[1] == "send" and ops[-1] == "recv", (i, mine)
        assert mine[0][1] == 0, (i, mine)
        assert all(res >= 0 for _, res in mine), (i, mine)
        assert [res for op, res in mine if op == "recv"][-1] == 0, (i, mine)
        end = lines.index(f"COMPLETED: request-{i} recv res=0 (end of stream)")
        assert lines[end + 1] == f"200 OK  request-{i}  ({RESPONSE.fullmatch(lines[end + 1]).group(2)} ms)"
    answered = [int(m.group(1)) for m in map(RESPONSE.fullmatch, lines) if m]
    assert sorted(answered) == list(range(n)), answered
    finished = FINISHED.search(out)
    assert finished and int(finished.group(1)) == n, out[-2000:]
    return answered


# ===== The run =====

def test_responses_arrive_in_reverse_order(delayserver, io_uring):
    """The last request queued (shortest delay) must be answered first, each once, after its chain."""
    out = run([RINGS], env={"DELAYSERVER_ADDR": delayserver.addr}).stdout
    assert out.startswith("RING: 16 SQ entries, 32 CQ entries, SQ and CQ rings in one mapping\n")
    delays = [int(d) for _, d, _ in QUEUED.findall(out)]
    assert delays == [5000, 4000, 3000, 2000, 1000], out
    assert check_run(out, 5) == [4, 3, 2, 1, 0], out
    assert re.search(r"\nELAPSED TIME: \d+\.\d{3} s\n\Z", out), out


def test_takes_about_the_longest_delay_not_the_sum(delayserver, io_uring):
    """The five requests must overlap: about 5 s of delay, not 5+4+3+2+1 = 15 s."""
    longest, total = 5.0 / SPEEDUP, 15.0 / SPEEDUP
    result, elapsed = timed_run([RINGS], env={"DELAYSERVER_ADDR": delayserver.addr})
    check_run(result.stdout, 5)
    assert elapsed >= 0.9 * longest, f"{elapsed:.3f}s: finished before the longest delay"
    assert elapsed < (longest + total) / 2, f"{elapsed:.3f}s, longest {longest}s, sum {total}s"


def test_thousand_requests_each_answered_once(delayserver, io_uring):
    """-n 1000: 3001 operations in the first batch, and every response exactly once."""
    out = run([RINGS, "-n", "1000"], env={"DELAYSERVER_ADDR": delayserver.addr}, timeout=60).stdout
    assert out.startswith("RING: 4096 SQ entries, 8192 CQ entries,"), out[:200]
    first = ENTER.search(out)
    assert first.group(1) == "3001", first.group(0)
    delays = [int(d) for _, d, _ in QUEUED.findall(out)]
    assert delays[0] == 5000 and delays[-1] == 5 and len(delays) == 1000
    check_run(out, 1000)


def test_full_prints_whole_responses(delayserver, io_uring):
    """--full must print each response as received, head and body, instead of one line."""
    out = run([RINGS, "-n", "2", "--full"], env={"DELAYSERVER_ADDR": delayserver.addr}).stdout
    for i in (1, 0):  # (text mode reads the head's \r\n as \n)
        assert re.search(rf"\(end of stream\)\nHTTP/1\.1 200 OK\n.*?\n\nrequest-{i}\n------\n",
                         out, re.S), out
    assert not RESPONSE.search(out), out


def test_rings_mapped_apart_give_the_same_run(delayserver, io_uring):
    """--no-single-mmap (the CQ ring in a mapping of its own, as before Linux 5.4) must work the same."""
    out = run([RINGS, "--no-single-mmap"], env={"DELAYSERVER_ADDR": delayserver.addr}).stdout
    assert out.startswith("RING: 16 SQ entries, 32 CQ entries, SQ and CQ rings mapped apart\n"), out
    assert check_run(out, 5) == [4, 3, 2, 1, 0], out


def test_stop_and_continue_while_waiting(delayserver, io_uring):
    """Ctrl-Z then fg makes io_uring_enter fail with EINTR; the run must wait again, not die."""
    proc = subprocess.Popen([RINGS], env={**os.environ, "DELAYSERVER_ADDR": delayserver.addr},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stop_and_continue_in(proc, 426)  # io_uring_enter on x86-64 and arm64
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0 and err == "", err
    assert "\nENTER: interrupted by a signal\n" in out, out
    assert check_run(out, 5) == [4, 3, 2, 1, 0], out


def test_readme_output(delayserver, io_uring):
    """The README's sample run must match what ./rings really prints."""
    out = run(["./rings"], cwd=STEP, env={"DELAYSERVER_ADDR": delayserver.addr}).stdout
    assert_readme_output(README, "./rings", out)


@pytest.mark.slow
def test_readme_deadline(start_server, io_uring):
    """The README's run with a 2.5 s deadline (real delays) must give up on the three slowest."""
    server = start_server()  # no speedup: the README's delays as they are
    result = run(["./rings"], cwd=STEP, check=False,
                 env={"DELAYSERVER_ADDR": server.addr, "DELAYSERVER_TIMEOUT_MS": "2500"})
    assert result.returncode == 1, result
    assert_readme_output(README, "DELAYSERVER_TIMEOUT_MS=2500 ./rings", result.stdout + result.stderr)


# ===== One system call, many operations =====

def strace(cmd, tmp_path, *, env, calls="io_uring_enter"):
    """Run cmd under strace; return (result, traced lines)."""
    return run_under_strace(cmd, tmp_path, env=env, calls=calls)


ENTER_CALL = re.compile(r"io_uring_enter\(\d+<anon_inode:\[io_uring\]>, (\d+), (\d+), "
                        r"(\w+), NULL, 0\) = (-?\d+).*")


@pytest.mark.parametrize("n", [5, 100])
def test_one_io_uring_enter_submits_the_whole_batch(delayserver, io_uring, tmp_path, n):
    """The first io_uring_enter must submit every connect, send and recv and the timer,
    and no call may return without a completion to show for it."""
    result, traced = strace([RINGS, "-n", str(n)], tmp_path,
                            env={"DELAYSERVER_ADDR": delayserver.addr})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    check_run(out, n)
    calls = [ENTER_CALL.fullmatch(line) for line in traced]
    assert all(calls), traced
    to_submit, returned = int(calls[0].group(1)), int(calls[0].group(4))
    assert (to_submit, returned) == (3 * n + 1, 3 * n + 1), traced[0]
    # The program's own count is the kernel's.
    finished = FINISHED.search(out)
    assert int(finished.group(3)) == len(calls) == len(ENTER.findall(out)), (finished.group(0), len(calls))
    # Every call waited for at least one completion, and each completion is
    # reaped once: whatever the timing, there are no more calls than completions.
    assert len(calls) <= len(completions(out)), (len(calls), len(completions(out)))
    # Every operation went through the ring: the operations the program
    # counts are the SQEs the kernel took.
    assert sum(int(c.group(4)) for c in calls) == int(finished.group(2)), traced


def test_no_socket_system_calls_but_the_ring(delayserver, io_uring, tmp_path):
    """connect, send and receive must all go through the ring: no socket I/O system call of their own."""
    calls = "connect,sendto,sendmsg,recvfrom,recvmsg,read,write,readv,writev"
    result, traced = strace([RINGS], tmp_path, calls=calls,
                            env={"DELAYSERVER_ADDR": delayserver.addr})
    assert result.returncode == 0, result.stderr
    check_run(result.stdout, 5)
    on_sockets = [line for line in traced
                  if not re.match(r"(read|write)\(\d+</(usr|lib|etc|dev)/", line)
                  and not re.match(r"write\(1", line)]
    assert on_sockets == [], on_sockets
    assert any(line.startswith("write(1") for line in traced), "the trace saw no output at all"


def test_ring_indexes_use_acquire_and_release_on_arm64():
    """The kernel's indexes must be read with acquire and ours published with release:
    on arm64 that is ldar and stlr, where a plain load or store would let a CQE be read stale."""
    cross = shutil.which("aarch64-linux-gnu-gcc")
    if cross is None:
        pytest.skip("aarch64-linux-gnu-gcc is not installed (scripts/test-deps installs it)")
    asm = run([cross, "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror", "-O2", "-S",
               "-o", "-", "ring.c"], cwd=STEP).stdout
    functions = dict(re.findall(r"^(ring_\w+):\n(.*?)\.size\s+\1,", asm, re.S | re.M))
    expected = {  # (acquire loads, release stores), rules 3 and 2 of ring.h
        "ring_get_sqe": (1, 0),                # the SQ head
        "ring_submit_and_wait": (1, 1),        # the SQ tail out, the SQ head in
        "ring_completions_ready": (1, 0),      # the CQ tail
        "ring_pop_completion": (1, 1),         # the CQ tail in, the CQ head out
    }
    found = {name: (len(re.findall(r"\bldar\b", functions.get(name, ""))),
                    len(re.findall(r"\bstlr\b", functions.get(name, ""))))
             for name in expected}
    assert found == expected, found


# ===== The deadline =====

class HoldingServer:
    """A TCP server on 127.0.0.1 that reads each request, sends `reply` (maybe
    nothing, maybe half a response) and then holds the connection open,
    saying nothing more, until close()."""

    def __init__(self, reply):
        self.reply = reply
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.connections = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed
                return
            self.connections.append(conn)
            try:
                conn.settimeout(2)
                conn.recv(4096)
                conn.sendall(self.reply)
            except OSError:
                pass

    def close(self):
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self._thread.join(5)
        for conn in self.connections:
            conn.close()


HALF_ANSWER = b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nrequ"


@pytest.mark.parametrize("reply", [b"", HALF_ANSWER], ids=["silent", "half-answer"])
def test_deadline_gives_up_in_one_line(io_uring, tmp_path, reply):
    """A server that accepts and never answers, or answers half, must cost the deadline, not a hang,
    and the program must sleep meanwhile, not spin."""
    server = HoldingServer(reply)
    try:
        env = {"DELAYSERVER_ADDR": server.addr, "DELAYSERVER_TIMEOUT_MS": "300"}
        start = time.monotonic()
        result, traced = strace([RINGS], tmp_path, env=env)
        elapsed = time.monotonic() - start
    finally:
        server.close()
    assert result.returncode == 1, result
    assert result.stderr.endswith("rings: gave up after 300 ms: 5 of 5 responses never came\n"), \
        result.stderr
    assert elapsed >= 0.3, f"gave up after {elapsed:.3f}s, before the deadline"
    done = completions(result.stdout)
    assert done[-1] == (None, "timeout", -62), done  # -ETIME
    # Every call waited for a completion: a program that polled would make many more.
    assert 1 <= len(traced) <= len(done), (traced, done)


def test_deadline_in_whole_seconds_is_said_in_seconds(io_uring):
    """The give-up line must name the deadline the way a person would read it."""
    server = HoldingServer(b"")
    try:
        result = run([RINGS, "-n", "1"], check=False,
                     env={"DELAYSERVER_ADDR": server.addr, "DELAYSERVER_TIMEOUT_MS": "1000"})
    finally:
        server.close()
    assert "QUEUED: timeout: give up after 1 s\n" in result.stdout
    assert result.stderr == "rings: gave up after 1 s: 1 of 1 responses never came\n"


# ===== Bad input =====

def test_unreachable_server_is_one_clear_line(io_uring):
    """With no server listening, the connect's completion must be named in one line, exit 1."""
    addr = f"127.0.0.1:{closed_port()}"
    result = run([RINGS], env={"DELAYSERVER_ADDR": addr}, check=False, timeout=10)
    assert result.returncode == 1
    assert "COMPLETED: request-0 connect res=-111 (ECONNREFUSED)\n" in result.stdout
    assert result.stderr == f"rings: cannot connect to {addr}: Connection refused\n"


@pytest.mark.parametrize("variable, value, message", [
    ("DELAYSERVER_ADDR", "nonsense", "DELAYSERVER_ADDR='nonsense': expected host:port, "
                                     "for example 127.0.0.1:8080"),
    ("DELAYSERVER_ADDR", "127.0.0.1:65536", "DELAYSERVER_ADDR='127.0.0.1:65536': expected "
                                            "host:port, for example 127.0.0.1:8080"),
    ("DELAYSERVER_TIMEOUT_MS", "0", "DELAYSERVER_TIMEOUT_MS='0': expected 1 to 3600000 (milliseconds)"),
    ("DELAYSERVER_TIMEOUT_MS", "1s", "DELAYSERVER_TIMEOUT_MS='1s': expected 1 to 3600000 (milliseconds)"),
])
def test_bad_environment(variable, value, message):
    """A malformed DELAYSERVER_ADDR or DELAYSERVER_TIMEOUT_MS must be named in one line, before any ring."""
    env = {"DELAYSERVER_ADDR": "127.0.0.1:1", variable: value}
    result = run([RINGS], env=env, check=False, timeout=10)
    assert (result.returncode, result.stdout, result.stderr) == (1, "", f"rings: {message}\n")


@pytest.mark.parametrize("args, message", [
    (["-n", "0"], "-n wants a number from 1 to 10000, not '0'"),
    (["-n", "10001"], "-n wants a number from 1 to 10000, not '10001'"),
    (["-n", "5x"], "-n wants a number from 1 to 10000, not '5x'"),
    (["-n", ""], "-n wants a number from 1 to 10000, not ''"),
    (["-n"], "-n needs a value"),
    (["--fast"], "bad option '--fast'"),
    (["--full=yes"], "bad option '--full=yes'"),
    (["-q"], "bad option '-q'"),
    (["5"], "unexpected argument '5'"),
    (["--help", "extra"], "unexpected argument 'extra'"),
])
def test_bad_flags(args, message):
    """A bad command line must get one line naming the problem, exit 2, and no run."""
    result = run([RINGS, *args], env={"DELAYSERVER_ADDR": "127.0.0.1:1"}, check=False, timeout=10)
    assert (result.returncode, result.stdout, result.stderr) == \
        (2, "", f"rings: {message} (try --help)\n")


def test_help_explains_delays_deadline_and_status():
    """--help must exit 0 and say how delays, the deadline and the missing-io_uring status work."""
    result = run([RINGS, "--help"], env={"DELAYSERVER_ADDR": "127.0.0.1:1"})
    assert result.stdout.startswith("usage: rings [-n N] [--full] [--no-single-mmap]\n")
    for words in ["(N-i)*1000 ms", "(N-i)*5000/N ms", "DELAYSERVER_TIMEOUT_MS", "status 77"]:
        assert words in result.stdout, words
    assert result.stderr == ""


@pytest.mark.parametrize("reply, message", [
    (b"hello\n", "the answer is not an HTTP response"),
    (b"", "the server closed the connection without answering"),
    (b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
     "the server answered 'HTTP/1.1 404 Not Found', not 200 OK"),
])
def test_server_that_answers_garbage(io_uring, reply, message):
    """A server that is not a delay server must be reported in one line, not printed as a response."""
    with ScriptedServer(reply) as server:
        result = run([RINGS], env={"DELAYSERVER_ADDR": server.addr}, check=False, timeout=20)
    assert result.returncode == 1
    assert re.fullmatch(r"rings: request-\d: " + re.escape(message) + "\n", result.stderr), \
        result.stderr


# ===== Where io_uring is not available =====

def test_readme_missing_io_uring():
    """The README's run without io_uring must match what the program prints."""
    result = run(["./no-uring", "./rings"], cwd=STEP, check=False)
    assert result.returncode == UNAVAILABLE_EXIT
    assert_readme_output(README, "./no-uring ./rings", result.stdout + result.stderr)


@pytest.mark.parametrize("args, status, message", [
    ([], 2, "no-uring: no program to run (try --help)"),
    (["--errno", "EINVAL", "./rings"], 2, "no-uring: --errno wants ENOSYS or EPERM, not 'EINVAL' (try --help)"),
    (["--help", "./rings"], 2, "no-uring: unexpected argument './rings' (try --help)"),
    (["./no-such-program"], 127, "no-uring: cannot run './no-such-program': No such file or directory"),
])
def test_no_uring_bad_input(args, status, message):
    """The helper must refuse a bad command line in one line, like every other program."""
    result = run(["./no-uring", *args], cwd=STEP, check=False, timeout=10)
    assert (result.returncode, result.stdout, result.stderr) == (status, "", message + "\n")


def test_no_uring_passes_the_programs_own_options():
    """Options after the program's name belong to the program (./rings --help still helps)."""
    result = run(["./no-uring", "./rings", "--help"], cwd=STEP)
    assert result.stdout.startswith("usage: rings ")


# ===== Sanitizers =====

@pytest.mark.sanitizer
@pytest.mark.parametrize("args", [[], ["-n", "300", "--full"], ["--no-single-mmap"]])
def test_asan_clean(delayserver, io_uring, args):
    """Under ASan+UBSan a whole run must finish with no memory or undefined-behaviour report."""
    result = run([RINGS_ASAN, *args], env={"DELAYSERVER_ADDR": delayserver.addr},
                 sanitizer=True, check=False, timeout=60)
    assert_sanitizer_clean(result)
    assert "FINISHED" in result.stdout


@pytest.mark.sanitizer
def test_asan_clean_on_error_paths(io_uring):
    """Giving up (a bad answer, the deadline) with operations still in flight must not trip ASan or LSan."""
    with ScriptedServer(b"garbage\r\n\r\n") as server:
        result = run([RINGS_ASAN], env={"DELAYSERVER_ADDR": server.addr},
                     sanitizer=True, check=False, timeout=20)
    assert_sanitizer_clean(result, returncode=1)
    server = HoldingServer(HALF_ANSWER)
    try:
        result = run([RINGS_ASAN], sanitizer=True, check=False, timeout=20,
                     env={"DELAYSERVER_ADDR": server.addr, "DELAYSERVER_TIMEOUT_MS": "300"})
    finally:
        server.close()
    assert_sanitizer_clean(result, returncode=1)
    assert "gave up after 300 ms" in result.stderr
