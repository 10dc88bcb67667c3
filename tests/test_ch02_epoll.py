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
from workbook import (ScriptedServer, SilentServer, assert_readme_output, closed_port, path,
                      readme_blocks, run, timed_run)

FOLDER = path("ch02-epoll")
EPOLL = path("ch02-epoll", "epoll")
EPOLL_ASAN = path("ch02-epoll", "epoll-asan")
README = path("ch02-epoll", "README.md")
GOING_DEEPER = path("ch02-epoll", "GOING-DEEPER.md")

SENT = re.compile(r"SENT: GET /(\d+)/request-(\d+) token=(\d+)")
RECEIVED = re.compile(r"RECEIVED: events=([A-Z|]+) token=(\d+)")
IGNORED = re.compile(r"IGNORED: token=(\d+) finished already")
RESPONSE = re.compile(r"200 OK  (\S+)  \((\d+) ms\)")
GIVE_UP = re.compile(r"epoll(?:-asan)?: gave up after ([\d.]+) s: (\d+) of (\d+) responses never came\n")


def completions(out):
    """What the run did, in order: ("response", token, body) and ("ignored", token, None).

    By default a response is one line, "200 OK  <body>  (<ms> ms)", right
    after the RECEIVED line of the event that completed it; with --full it is
    the status line, headers, a blank line, the body and a "------" separator.
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
            assert last_received == i - 1, out
            token = int(RECEIVED.fullmatch(lines[last_received]).group(2))
            found.append(("response", token, m.group(1)))
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
    assert "HTTP/1.1" not in out, "the whole response printed without --full"
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
    result, elapsed = timed_run([EPOLL, "-n", str(n)],
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
    out = run([EPOLL, "--rearm"], env={"DELAYSERVER_ADDR": delayserver.addr}).stdout
    assert responses(out) == [(i, f"request-{i}") for i in (4, 3, 2, 1, 0)], out
    ignored = [int(t) for t in IGNORED.findall(out)]
    assert set(ignored) >= {4, 3, 2, 1}, f"the repeated events never came:\n{out}"
    check_ignored_only_finished(out)
    assert out.index("  request-0  (") < out.index("FINISHED"), out


def test_full_prints_whole_responses(delayserver):
    """--full must print each response as the server sent it, one "------" after each."""
    out = run([EPOLL, "--full"], env={"DELAYSERVER_ADDR": delayserver.addr}).stdout
    assert responses(out) == [(i, f"request-{i}") for i in (4, 3, 2, 1, 0)], out
    assert out.count("HTTP/1.1 200 OK\n") == 5 and out.count("\n------\n") == 5, out
    assert not RESPONSE.search(out), out
    assert_readme_output(GOING_DEEPER, "./epoll --full", out)


def test_response_line_shows_time_since_its_request_started(delayserver):
    """Each one-line response must show about its own delay, not the time since the program began."""
    out = run([EPOLL], env={"DELAYSERVER_ADDR": delayserver.addr}).stdout
    ms = {body: int(t) for body, t in RESPONSE.findall(out)}
    assert len(ms) == 5, out
    for i in range(5):  # at least its own delay: the clock starts before the request goes out
        delay = (5 - i) * 1000 / SPEEDUP
        assert 0.9 * delay <= ms[f"request-{i}"], out
    # Started first and printed last, request-0 has waited longest.
    assert [ms[f"request-{i}"] for i in range(5)] == sorted(ms.values(), reverse=True), out


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
    assert result.stderr == (f"epoll: DELAYSERVER_ADDR='{addr}': "
                             "expected host:port, for example 127.0.0.1:8080\n")


def test_bracketed_ipv6_address_is_accepted():
    """DELAYSERVER_ADDR=[::1]:port must be read as IPv6 loopback, and a bare ::1:port refused."""
    port = closed_port()
    result = run([EPOLL], env={"DELAYSERVER_ADDR": f"[::1]:{port}"}, check=False, timeout=10)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith(f"epoll: cannot connect to [::1]:{port}: "), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    result = run([EPOLL], env={"DELAYSERVER_ADDR": f"::1:{port}"}, check=False, timeout=10)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == (f"epoll: DELAYSERVER_ADDR='::1:{port}': "
                             "an IPv6 address goes in brackets, as in [::1]:8080\n")


@pytest.mark.parametrize("args, message", [
    (["-n", "0"], "epoll: -n wants a number from 1 to 10000, not '0'"),
    (["-n", "10001"], "epoll: -n wants a number from 1 to 10000, not '10001'"),
    (["-n", "5x"], "epoll: -n wants a number from 1 to 10000, not '5x'"),
    (["-n", ""], "epoll: -n wants a number from 1 to 10000, not ''"),
    (["-n", "-1"], "epoll: -n wants a number from 1 to 10000, not '-1'"),
    (["-n", " 5"], "epoll: -n wants a number from 1 to 10000, not ' 5'"),
    (["-n", "99999999999999999999"],
     "epoll: -n wants a number from 1 to 10000, not '99999999999999999999'"),
    (["-n"], "epoll: -n needs a value (try --help)"),
    (["--fast"], "epoll: bad option '--fast' (try --help)"),
    (["--summary"], "epoll: bad option '--summary' (try --help)"),
    (["-q"], "epoll: bad option '-q' (try --help)"),
    (["5"], "epoll: unexpected argument '5' (try --help)"),
    (["--help", "extra"], "epoll: unexpected argument 'extra' (try --help)"),
    (["--help", "--full"], "epoll: --help takes no other argument (try --help)"),
    (["-h", "-n", "3"], "epoll: --help takes no other argument (try --help)"),
])
def test_bad_flags(args, message):
    """A bad command line must get one line naming the problem and exit 2, before any request."""
    # The address is unreachable on purpose: argument errors come first.
    result = run([EPOLL, *args], env={"DELAYSERVER_ADDR": "127.0.0.1:1"}, check=False, timeout=10)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == message + "\n"


def test_help_explains_the_delays():
    """--help must exit 0 and say how the delays are chosen, including the cap."""
    result = run([EPOLL, "--help"], env={"DELAYSERVER_ADDR": "127.0.0.1:1"})
    assert result.stdout.startswith("usage: epoll [-n N] [--full] [--rearm]\n")
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


# ===== Giving up on a server that never finishes answering =====

@pytest.mark.parametrize("reply", [b"", b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nreq"],
                         ids=["silent", "half-answer"])
def test_gives_up_on_a_server_that_never_finishes(reply):
    """A server that accepts and then stalls must cost DELAYSERVER_TIMEOUT_MS, not hang forever."""
    with SilentServer(reply) as server:
        result = run([EPOLL], env={"DELAYSERVER_ADDR": server.addr, "DELAYSERVER_TIMEOUT_MS": "300"},
                     check=False, timeout=30)
    assert result.returncode == 1, result
    assert result.stderr == "epoll: gave up after 0.3 s: 5 of 5 responses never came\n"
    assert result.stdout.count("SENT: ") == 5 and "FINISHED" not in result.stdout


def test_gives_up_counting_only_what_never_came(start_server):
    """After the deadline the message must count the responses still missing, not all of them."""
    server = start_server("--speedup", "2")  # delays 2500, 2000, 1500, 1000, 500 ms
    result = run([EPOLL], env={"DELAYSERVER_ADDR": server.addr, "DELAYSERVER_TIMEOUT_MS": "1250"},
                 check=False, timeout=30)
    assert result.returncode == 1, result
    got = responses(result.stdout)
    assert (4, "request-4") in got and (0, "request-0") not in got, result.stdout
    m = GIVE_UP.fullmatch(result.stderr)
    assert m and m.group(1) == "1.25" and m.group(3) == "5", result.stderr
    assert int(m.group(2)) == 5 - len(got), result


@pytest.mark.parametrize("value", ["0", "abc", "-5", "3600001"])
def test_bad_timeout_is_one_clear_line(value):
    """A malformed DELAYSERVER_TIMEOUT_MS must be named in one line before any request is sent."""
    result = run([EPOLL], env={"DELAYSERVER_ADDR": "127.0.0.1:1", "DELAYSERVER_TIMEOUT_MS": value},
                 check=False, timeout=10)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == (f"epoll: DELAYSERVER_TIMEOUT_MS='{value}': "
                             "expected 1 to 3600000 (milliseconds)\n")


# ===== The README =====

def test_readme_output(delayserver):
    """The README's sample run must match what ./epoll really prints."""
    out = run(["./epoll"], cwd=FOLDER, env={"DELAYSERVER_ADDR": delayserver.addr}).stdout
    assert_readme_output(README, "./epoll", out)


def test_readme_rearm_output(delayserver):
    """The README's --rearm run must match what ./epoll --rearm really prints."""
    out = run(["./epoll", "--rearm"], cwd=FOLDER, env={"DELAYSERVER_ADDR": delayserver.addr}).stdout
    assert_readme_output(README, "./epoll --rearm", out)


def test_readme_give_up_output():
    """The README's give-up run must match what ./epoll prints against a silent server."""
    with SilentServer() as server:
        result = run(["./epoll"], cwd=FOLDER, check=False, timeout=30,
                     env={"DELAYSERVER_ADDR": server.addr, "DELAYSERVER_TIMEOUT_MS": "2000"})
    assert_readme_output(README, "DELAYSERVER_TIMEOUT_MS=2000 ./epoll",
                         result.stdout + result.stderr)


def test_every_readme_block_is_checked():
    """A README block that no test runs goes stale without anyone noticing."""
    shown = {cmd for doc in (README, GOING_DEEPER) for cmd, _ in readme_blocks(doc)}
    assert shown == {"./epoll", "./epoll --full", "./epoll --rearm",
                     "DELAYSERVER_TIMEOUT_MS=2000 ./epoll"}


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
@pytest.mark.parametrize("args", [[], ["-n", "300", "--rearm"], ["--full"]])
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


@pytest.mark.sanitizer
def test_asan_clean_when_giving_up():
    """Giving up after the deadline must not trip ASan/LeakSanitizer either."""
    with SilentServer(b"HTTP/1.1 200 OK\r\n") as server:
        result = run([EPOLL_ASAN], env={"DELAYSERVER_ADDR": server.addr,
                                        "DELAYSERVER_TIMEOUT_MS": "300"},
                     sanitizer=True, check=False, timeout=30)
    assert result.returncode == 1, result.stderr
    assert "Sanitizer" not in result.stderr
    assert GIVE_UP.fullmatch(result.stderr), result.stderr
