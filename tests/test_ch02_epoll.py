"""ch02-epoll: N requests on one thread, waited for with an edge-triggered epoll queue."""
import collections
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import SPEEDUP
from workbook import ScriptedServer, assert_readme_output, closed_port, path, run, timed_run

FOLDER = path("ch02-epoll")
EPOLL = path("ch02-epoll", "epoll")
EPOLL_ASAN = path("ch02-epoll", "epoll-asan")

SENT = re.compile(r"SENT: GET /(\d+)/request-(\d+) token=(\d+)")
RECEIVED = re.compile(r"RECEIVED: events=([A-Z|]+) token=(\d+)")
IGNORED = re.compile(r"IGNORED: token=(\d+) finished already")
RESPONSE = re.compile(r'RESPONSE: token=(\d+) HTTP/1\.1 200 OK body="(.*)"')


def completions(out):
    """What the run did, in order: ("response", token, body) and ("ignored", token, None).

    A whole response (default mode) is the RECEIVED line of the event that
    completed it, the status line, headers, a blank line, the body and a
    "------" separator; --summary prints one RESPONSE line instead.
    """
    lines = out.split("\n")
    found = []
    last_received = None
    for i, line in enumerate(lines):
        if RECEIVED.fullmatch(line):
            last_received = i
        elif m := IGNORED.fullmatch(line):
            found.append(("ignored", int(m.group(1)), None))
        elif m := RESPONSE.fullmatch(line):
            found.append(("response", int(m.group(1)), m.group(2)))
        elif line == "------":
            assert last_received is not None and lines[last_received + 1] == "HTTP/1.1 200 OK", out
            token = int(RECEIVED.fullmatch(lines[last_received]).group(2))
            found.append(("response", token, lines[i - 1]))
    return found


def responses(out):
    """(token, body) for each response printed, in order."""
    return [(token, body) for kind, token, body in completions(out) if kind == "response"]


def check_ignored_only_finished(out):
    """Every IGNORED event names a token whose response was already printed."""
    finished = set()
    for kind, token, _ in completions(out):
        if kind == "response":
            finished.add(token)
        else:
            assert token in finished, f"ignored an unfinished stream {token}:\n{out}"


def test_responses_arrive_in_reverse_order(delayserver):
    """The last request sent (shortest delay) must be answered first, each by its own token."""
    out = run([EPOLL], env={"DELAYSERVER_ADDR": delayserver.addr}).stdout
    sent = [(int(d), int(i), int(t)) for d, i, t in SENT.findall(out)]
    assert sent == [(5000, 0, 0), (4000, 1, 1), (3000, 2, 2), (2000, 3, 3), (1000, 4, 4)], out
    got = responses(out)
    assert got == [(i, f"request-{i}") for i in (4, 3, 2, 1, 0)], out
    assert out.endswith("FINISHED\n" + re.search(r"ELAPSED TIME: \d+\.\d{3} s\n\Z", out).group(0))
    check_ignored_only_finished(out)


def test_takes_about_the_longest_delay_not_the_sum(delayserver):
    """Five requests on one thread must overlap: about 5 s of delay, not 5+4+3+2+1 = 15 s."""
    longest = 5.0 / SPEEDUP
    total = 15.0 / SPEEDUP
    result, elapsed = timed_run([EPOLL], env={"DELAYSERVER_ADDR": delayserver.addr})
    assert len(responses(result.stdout)) == 5, result.stdout
    assert elapsed >= 0.9 * longest, f"{elapsed:.3f}s: finished before the longest delay"
    # Halfway between the longest delay and the sum: generous, yet a
    # request-at-a-time program can never get under it.
    assert elapsed < (longest + total) / 2, f"{elapsed:.3f}s, longest {longest}s, sum {total}s"


def test_thousand_requests_each_answered_once(delayserver):
    """-n 1000: every response must arrive exactly once, with delays squeezed into 5 s."""
    n = 1000
    result, elapsed = timed_run([EPOLL, "-n", str(n), "--summary"],
                                env={"DELAYSERVER_ADDR": delayserver.addr}, timeout=60)
    out = result.stdout
    delays = {int(i): int(d) for d, i, _ in SENT.findall(out)}
    assert delays[0] == 5000 and delays[n - 1] == 5 and len(delays) == n, out[:2000]
    assert all(delays[i] > delays[i + 1] for i in range(n - 1)), "delays must shrink with i"

    got = responses(out)
    counts = collections.Counter(token for token, _ in got)
    assert sorted(counts) == list(range(n)), f"missing: {sorted(set(range(n)) - set(counts))}"
    assert set(counts.values()) == {1}, f"twice: {[t for t, c in counts.items() if c > 1]}"
    assert all(body == f"request-{token}" for token, body in got)
    assert out.count("\nFINISHED\n") == 1
    check_ignored_only_finished(out)
    # One request at a time would need the sum of all delays (over two minutes here).
    total = sum(delays.values()) / 1000 / SPEEDUP
    assert elapsed < total / 10, f"{elapsed:.1f}s for {n} requests (sum of delays {total:.0f}s)"


def test_finished_stream_is_not_counted_twice(delayserver):
    """A repeated event for a finished stream must be ignored, not end the loop early."""
    # --rearm re-registers each finished socket, so the kernel reports it
    # once more (it is still readable: EOF). Counting those events as
    # completions would print FINISHED before request-0 has arrived.
    out = run([EPOLL, "--rearm", "--summary"], env={"DELAYSERVER_ADDR": delayserver.addr}).stdout
    assert responses(out) == [(i, f"request-{i}") for i in (4, 3, 2, 1, 0)], out
    ignored = [int(t) for t in IGNORED.findall(out)]
    assert set(ignored) >= {4, 3, 2, 1}, f"the repeated events never came:\n{out}"
    check_ignored_only_finished(out)
    assert out.index('body="request-0"') < out.index("FINISHED"), out


def test_stop_and_continue_while_waiting(delayserver):
    """Ctrl-Z then fg makes epoll_wait fail with EINTR; the run must carry on, not die."""
    proc = subprocess.Popen([EPOLL], env={**os.environ, "DELAYSERVER_ADDR": delayserver.addr},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Wait until the program sleeps in epoll_wait (system call 232 on x86-64).
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with open(f"/proc/{proc.pid}/syscall") as f:
                if f.read().split()[0] == "232":
                    break
            time.sleep(0.001)
        else:
            pytest.fail("the program was never seen waiting in epoll_wait")
        proc.send_signal(signal.SIGSTOP)
        time.sleep(0.05)
        proc.send_signal(signal.SIGCONT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0 and err == "", err
    assert responses(out) == [(i, f"request-{i}") for i in (4, 3, 2, 1, 0)], out


def test_unreachable_server_is_one_clear_line():
    """With no server listening, the program must say so in one line and exit non-zero."""
    addr = f"127.0.0.1:{closed_port()}"
    result = run([EPOLL], env={"DELAYSERVER_ADDR": addr}, check=False, timeout=10)
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr == f"epoll: cannot connect to {addr}: Connection refused\n"


@pytest.mark.parametrize("addr", ["nonsense", "127.0.0.1", "127.0.0.1:", ":8080",
                                  "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:80x"])
def test_bad_server_address(addr):
    """A malformed DELAYSERVER_ADDR must be named in one line, not crash or hang."""
    result = run([EPOLL], env={"DELAYSERVER_ADDR": addr}, check=False, timeout=10)
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr == (f"epoll: bad DELAYSERVER_ADDR '{addr}': "
                             "expected host:port, e.g. 127.0.0.1:8080\n")


@pytest.mark.parametrize("args, message", [
    (["-n", "0"], "epoll: -n wants a number from 1 to 10000, not '0'"),
    (["-n", "10001"], "epoll: -n wants a number from 1 to 10000, not '10001'"),
    (["-n", "5x"], "epoll: -n wants a number from 1 to 10000, not '5x'"),
    (["-n", ""], "epoll: -n wants a number from 1 to 10000, not ''"),
    (["-n"], "epoll: -n needs a value (try --help)"),
    (["--fast"], "epoll: bad option '--fast' (try --help)"),
    (["-q"], "epoll: bad option '-q' (try --help)"),
    (["5"], "epoll: unexpected argument '5' (try --help)"),
])
def test_bad_flags(args, message):
    """A bad command line must get one line naming the problem and a non-zero exit."""
    # The address is unreachable on purpose: argument errors come first.
    result = run([EPOLL, *args], env={"DELAYSERVER_ADDR": "127.0.0.1:1"}, check=False, timeout=10)
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr == message + "\n"


def test_help_explains_the_delays():
    """--help must exit 0 and say how the delays are chosen, including the cap."""
    result = run([EPOLL, "--help"], env={"DELAYSERVER_ADDR": "127.0.0.1:1"})
    assert result.stdout.startswith("usage: epoll [-n N] [--summary] [--rearm]\n")
    assert "(N-i)*1000 ms" in result.stdout and "(N-i)*5000/N ms" in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize("reply, message", [
    (b"hello\n", "the answer is not an HTTP response"),
    (b"", "the server closed the connection without answering"),
    (b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
     "the server answered 'HTTP/1.1 404 Not Found', not 200 OK"),
])
def test_server_that_answers_garbage(reply, message):
    """A server that is not a delay server must be reported in one line, not printed as a response."""
    server = ScriptedServer(reply)
    try:
        result = run([EPOLL], env={"DELAYSERVER_ADDR": server.addr}, check=False, timeout=20)
    finally:
        server.close()
    assert result.returncode != 0
    assert re.fullmatch(r"epoll: request-\d: " + re.escape(message) + "\n", result.stderr), \
        result.stderr


def test_readme_output(delayserver):
    """The README's sample run must match what ./epoll really prints."""
    out = run(["./epoll"], cwd=FOLDER, env={"DELAYSERVER_ADDR": delayserver.addr}).stdout
    assert_readme_output(path("ch02-epoll", "README.md"), "./epoll", out)


def test_epoll_event_layout_per_architecture():
    """struct epoll_event must be packed (12 bytes) only on x86-64; aarch64 pads it to 16."""
    cross = shutil.which("aarch64-linux-gnu-gcc")
    if cross is None:
        pytest.skip("aarch64-linux-gnu-gcc is not installed (scripts/test-deps installs it)")
    flags = ["-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror", "-fsyntax-only"]
    # poll.c's _Static_assert states the layout for whichever target compiles it.
    run([cross, *flags, "poll.c"], cwd=FOLDER)
    run(["gcc", *flags, "poll.c"], cwd=FOLDER)
    # And the difference is real: aarch64's C library header does not pack it.
    probe = "#include <sys/epoll.h>\n_Static_assert(sizeof(struct epoll_event) == %d, \"\");\n"
    run([cross, *flags, "-x", "c", "-"], input=probe % 16)
    assert run([cross, *flags, "-x", "c", "-"], input=probe % 12, check=False).returncode != 0


@pytest.mark.sanitizer
@pytest.mark.parametrize("args", [[], ["-n", "300", "--rearm", "--summary"]])
def test_asan_clean(delayserver, args):
    """Under ASan+UBSan the program must finish with no memory or undefined-behaviour report."""
    result = run([EPOLL_ASAN, *args], env={"DELAYSERVER_ADDR": delayserver.addr},
                 sanitizer=True, check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Sanitizer" not in result.stderr
    assert "FINISHED" in result.stdout


@pytest.mark.sanitizer
def test_asan_clean_on_error_path():
    """Exiting on a bad answer must not trip ASan/LeakSanitizer either."""
    server = ScriptedServer(b"garbage\r\n\r\n")
    try:
        result = run([EPOLL_ASAN], env={"DELAYSERVER_ADDR": server.addr},
                     sanitizer=True, check=False, timeout=20)
    finally:
        server.close()
    assert result.returncode == 1, result.stderr
    assert "Sanitizer" not in result.stderr
