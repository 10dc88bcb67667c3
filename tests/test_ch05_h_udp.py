"""ch05-runtime step h: UDP sockets as futures, an echo server and a client on loopback."""
import os
import re
import shutil
import subprocess

import pytest

from workbook import assert_corofied_current, assert_readme_output, assert_sanitizer_clean, path, readme_output, run

STEP = path("ch05-runtime", "h-udp")
README = os.path.join(STEP, "README.md")
SERVER_BUFFER = 1024

ADDRESS = r"127\.\d+\.\d+\.\d+:\d+"
SENT = re.compile(r"client: sent #(\d+) \((\d+) bytes\)")
ECHOED = re.compile(r'server: echoed "ping (\d+)" \((\d+) bytes\) to (' + ADDRESS + ")")
ECHO_OK = re.compile(r"client: echo #(\d+) ok")


def lines(text):
    return text.rstrip("\n").split("\n")


def without_sleeps(text):
    """The output minus the executor's sleep lines, whose number depends on
    how the reactor thread and the executor happen to interleave."""
    kept = [line for line in lines(text) if "Sleep until notified" not in line]
    return "\n".join(kept) + "\n"


def run_merged(args, prog="./udp", timeout=30):
    """Run the program with stderr and stdout in one pipe, as `2>&1` shows them."""
    proc = subprocess.run([prog, *args], cwd=STEP, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout)
    return proc.returncode, proc.stdout


def check_exchange(out, count, burst=1):
    """Every datagram was sent once, echoed once and came back once, in
    order; with burst 1, strictly one round trip after the other."""
    out = lines(without_sleeps(out))
    m = re.fullmatch(r"server: listening on (" + ADDRESS + ")", out[0])
    assert m, out[0]
    server = m.group(1)
    m = re.fullmatch(r"client: (" + ADDRESS + r") sends (\d+) datagrams to (" + ADDRESS + ")", out[1])
    assert m and m.group(3) == server and int(m.group(2)) == count, out[1]
    client = m.group(1)
    body = out[2:-4]
    assert out[-4:] == [f"client: {count} of {count} echoes came back, in order",
                        "client: sent bye",
                        f"server: bye from {client} after {count} echoes",
                        "main: All tasks are finished"], out[-4:]
    sent = [int(m.group(1)) for m in map(SENT.fullmatch, body) if m]
    echoed = [(int(m.group(1)), m.group(3)) for m in map(ECHOED.fullmatch, body) if m]
    came_back = [int(m.group(1)) for m in map(ECHO_OK.fullmatch, body) if m]
    numbers = list(range(1, count + 1))
    assert sent == numbers, sent
    assert echoed == [(i, client) for i in numbers], echoed[:10]
    assert came_back == numbers, came_back
    assert len(body) == 3 * count, "unexpected lines: " + "\n".join(
        line for line in body if not (SENT.fullmatch(line) or ECHOED.fullmatch(line)
                                      or ECHO_OK.fullmatch(line)))
    if burst == 1:
        expected = []
        for i in numbers:
            expected += [f"client: sent #{i} ({len(f'ping {i}')} bytes)",
                         f'server: echoed "ping {i}" ({len(f"ping {i}")} bytes) to {client}',
                         f"client: echo #{i} ok"]
        assert body == expected, "the round trips are not one after the other"
    else:
        # The client's own view is fixed: a burst of sends, then its echoes.
        mine = [line for line in body if line.startswith("client:")]
        expected = []
        for first in range(1, count + 1, burst):
            burst_numbers = range(first, min(first + burst, count + 1))
            expected += [f"client: sent #{i} ({len(f'ping {i}')} bytes)" for i in burst_numbers]
            expected += [f"client: echo #{i} ok" for i in burst_numbers]
        assert mine == expected


# ===== The echo exchange =====

def test_output_matches_readme():
    """The README's echo exchange no longer matches what ./udp prints."""
    out = run(["./udp"], cwd=STEP).stdout
    assert_readme_output(README, "./udp | grep -v Sleep", without_sleeps(out))


def test_output_is_deterministic():
    """Two runs of ./udp print different exchanges (beyond ports and the executor's sleeps)."""
    def masked():
        out = without_sleeps(run(["./udp"], cwd=STEP).stdout)
        return re.sub(r":\d+", ":<port>", out)
    assert masked() == masked()


def test_every_datagram_echoed_once_in_order():
    """A datagram is lost, duplicated, or echoed out of order, one round trip at a time."""
    check_exchange(run(["./udp", "--count", "300"], cwd=STEP, timeout=30).stdout, 300)


def test_bursts_echoed_once_in_order():
    """With many datagrams in flight at once, one is lost, duplicated, or reordered
    (a future that stops before EAGAIN under edge-triggered epoll loses the rest)."""
    result = run(["./udp", "--count", "640", "--burst", "64"], cwd=STEP, timeout=30)
    check_exchange(result.stdout, 640, burst=64)


def test_burst_readme_block():
    """The README's burst run (the client's lines) no longer matches the program."""
    out = run(["./udp", "--count", "6", "--burst", "3"], cwd=STEP).stdout
    mine = "".join(line + "\n" for line in lines(out) if line.startswith("client:"))
    assert_readme_output(README, "./udp --count 6 --burst 3 | grep '^client:'", mine)


def test_socket_registers_once():
    """A UDP socket is added to epoll more than once (or never removed): the reactor
    should learn each socket once and only get a new waker on each poll."""
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed")
    proc = subprocess.run(["strace", "-f", "-qq", "-e", "trace=epoll_ctl,recvmsg", "./udp", "--count", "50"],
                          cwd=STEP, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr[-2000:]
    calls = proc.stderr
    # The reactor's own eventfd, then the server's and the client's socket.
    adds = re.findall(r"EPOLL_CTL_ADD, (\d+), \{events=([A-Z|]+)", calls)
    assert len(adds) == 3, adds
    udp_fds = {fd for fd, events in adds if "EPOLLET" in events}
    assert len(udp_fds) == 2, adds
    dels = re.findall(r"EPOLL_CTL_DEL, (\d+)", calls)
    assert sorted(dels) == sorted(udp_fds), (dels, udp_fds)
    # 50 round trips + the bye: each datagram is received once, and each
    # receive that came too early waited for exactly one wake-up.
    received = len(re.findall(r"recvmsg\(.*\) = \d+", calls))
    too_early = len(re.findall(r"recvmsg\(.*\) = -1 EAGAIN", calls))
    assert received == 2 * 50 + 1, received
    assert too_early <= 2 * (2 * 50 + 1), too_early


# ===== Truncation =====

def test_truncation_readme_block():
    """The README's run with oversized datagrams no longer matches the program."""
    status, out = run_merged(["--count", "2", "--size", "2000"])
    assert status == 1, out
    assert_readme_output(README, "./udp --count 2 --size 2000 2>&1 | grep -v Sleep", without_sleeps(out))


@pytest.mark.parametrize("size", [1025, 2000, 65507])
def test_truncation_is_reported(size):
    """A datagram larger than the server's buffer is echoed cut off without anyone saying so."""
    result = run(["./udp", "--count", "3", "--size", str(size)], cwd=STEP, check=False)
    assert result.returncode == 1, result
    out = lines(without_sleeps(result.stdout))
    server = [line for line in out if "arrived truncated" in line]
    assert len(server) == 3, out
    for i, line in enumerate(server, 1):
        assert re.fullmatch(rf'server: "ping {i}\.+"\.\.\. arrived truncated, {SERVER_BUFFER} of {size} '
                            rf"bytes; echoed {SERVER_BUFFER} to {ADDRESS}", line), line
    client = [line for line in out if "came back truncated" in line]
    assert client == [f"client: echo #{i} came back truncated, {SERVER_BUFFER} of {size} bytes"
                      for i in (1, 2, 3)], out
    assert "client: 3 of 3 echoes came back, in order, 3 of them truncated" in out
    assert lines(result.stderr) == [f"udp: client: 3 echoes came back shorter than sent: "
                                    f"the server's buffer holds {SERVER_BUFFER} bytes"]


def test_datagram_of_exactly_the_buffer_size_is_whole():
    """A datagram exactly as large as the server's buffer is wrongly reported truncated."""
    out = run(["./udp", "--count", "2", "--size", str(SERVER_BUFFER)], cwd=STEP).stdout
    assert "truncated" not in out
    assert out.count(f"({SERVER_BUFFER} bytes)") == 4   # sent #1, #2 and their echoes
    assert "client: echo #2 ok\n" in out


# ===== A refused peer =====

def test_refused_readme_block():
    """The README's run against a port where nobody listens no longer matches the program."""
    status, out = run_merged(["--refused"])
    assert status == 1, out
    assert_readme_output(README, "./udp --refused 2>&1 | grep -v Sleep", without_sleeps(out))


def test_refused_is_one_clear_error():
    """Sending where nobody listens hangs, crashes, exits 0, or says something unclear."""
    result = run(["./udp", "--refused"], cwd=STEP, check=False, timeout=10)
    assert result.returncode == 1, result
    err = lines(result.stderr)
    assert len(err) == 1, err
    assert re.fullmatch(r"udp: client: waiting for echo #1 from " + ADDRESS + ": Connection refused",
                        err[0]), err
    out = lines(without_sleeps(result.stdout))
    assert out[-1] == "main: All tasks are finished", out
    assert not any(line.startswith("server:") for line in out), out
    assert "client: sent bye" not in out       # nobody to tell


# ===== Bad arguments =====

@pytest.mark.parametrize("args,message", [
    (["--bogus"], "unknown argument '--bogus'"),
    (["--count"], "--count needs a number from 1 to 1000000"),
    (["--count", "0"], "--count needs a number from 1 to 1000000"),
    (["--count", "5x"], "--count needs a number from 1 to 1000000"),
    (["--size", "15"], "--size needs a number from 16 to 65507"),
    (["--size", "65508"], "--size needs a number from 16 to 65507"),
    (["--burst", "0"], "--burst needs a number from 1 to 64"),
    (["--burst", "65"], "--burst needs a number from 1 to 64"),
    (["--burst", "64", "--size", "2000"], "could overflow a socket's receive buffer"),
    (["--count", "-1"], "--count needs a number from 1 to 1000000"),
    (["--count", "99999999999999999999"], "--count needs a number from 1 to 1000000"),
    (["--help", "extra"], "unexpected argument 'extra' after --help (try --help)"),
], ids=["unknown", "missing", "zero", "junk", "small", "large", "no-burst", "big-burst", "overflow",
        "negative", "huge", "help-extra"])
def test_bad_arguments(args, message):
    """A bad argument is ignored, crashes the program, or starts an exchange that cannot work."""
    result = run(["./udp", *args], cwd=STEP, check=False, timeout=10)
    assert result.returncode == 2, result
    assert message in lines(result.stderr)[0], result.stderr
    assert result.stdout == "", "nothing may run after a bad argument"


@pytest.mark.parametrize("prog,limit,message", [
    ("./udp", 4, "cannot open a UDP socket on 127.0.0.1: Too many open files"),
    ("./udp", 5, "cannot start the reactor: Too many open files"),
    ("./udp-asan", 4, "cannot open a UDP socket on 127.0.0.1: Too many open files"),
    ("./udp-asan", 6, "cannot start the reactor: Too many open files"),
], ids=["socket", "reactor", "socket-asan", "reactor-asan"])
def test_out_of_file_descriptors(prog, limit, message):
    """Without file descriptors to spare, udp crashes, hangs, leaks, or says nothing useful."""
    result = run(["bash", "-c", f"ulimit -n {limit} && exec {prog}"], cwd=STEP, check=False,
                 timeout=10, sanitizer=True)
    assert_sanitizer_clean(result, returncode=1)
    assert lines(result.stderr) == [f"{prog[2:]}: {message}"]
    assert result.stdout == ""


def test_help():
    """./udp --help fails or does not describe the options."""
    out = run(["./udp", "--help"], cwd=STEP).stdout
    assert out.startswith("usage: ")
    for option in ("--count", "--size", "--burst", "--refused"):
        assert option in out


# ===== The futures' edges, driven by hand =====

UDP_CHECK_LINES = [
    "a datagram of exactly the buffer's size arrives whole; one byte more is reported truncated",
    "an empty datagram is 0 bytes; a zero-size buffer consumes one and reports its size",
    "a receive waits (PENDING) until the reactor wakes it; a dropped one frees the socket",
    "a connected socket whose peer is gone: the receive completes with ECONNREFUSED",
    "addresses off the loopback, oversized datagrams and missing addresses are errors",
    "all checks passed",
]


def test_udp_check():
    """A UDP future mishandles truncation, empty datagrams, waiting, a refused peer, or a bad address."""
    assert lines(run(["./udp-check"], cwd=STEP, timeout=30).stdout) == UDP_CHECK_LINES


# ===== Sanitizers =====

@pytest.mark.sanitizer
@pytest.mark.parametrize("variant", ["asan", "tsan"])
def test_udp_check_sanitized(variant):
    """The UDP futures' edge cases leak, overflow, or race: ASan+UBSan or TSan reports it."""
    result = run([f"./udp-check-{variant}"], cwd=STEP, sanitizer=True, check=False, timeout=60)
    assert_sanitizer_clean(result)
    assert lines(result.stdout) == UDP_CHECK_LINES


@pytest.mark.sanitizer
@pytest.mark.parametrize("variant", ["asan", "tsan"])
@pytest.mark.parametrize("args,status", [
    (["--count", "100"], 0),
    (["--count", "128", "--burst", "64"], 0),
    (["--count", "3", "--size", "2000"], 1),
    (["--refused"], 1),
], ids=["echo", "burst", "truncated", "refused"])
def test_sanitized_runs_are_clean(variant, args, status):
    """The echo exchange or its error paths leak, overflow, or race."""
    result = run([f"./udp-{variant}", *args], cwd=STEP, sanitizer=True, check=False, timeout=60)
    assert_sanitizer_clean(result, returncode=status)
    if status == 0:
        check_exchange(result.stdout, int(args[1]), burst=int(args[3]) if len(args) > 2 else 1)


# ===== The files behind the program =====

def test_corofied_file_regenerates():
    """main_corofied.c was edited by hand or is stale: corofy main.c no longer produces it."""
    assert_corofied_current(os.path.join(STEP, "main.c"))


def test_readme_has_every_block():
    """The README lost one of the runs the tests check."""
    for command in ("./udp | grep -v Sleep", "./udp --count 6 --burst 3 | grep '^client:'",
                    "./udp --count 2 --size 2000 2>&1 | grep -v Sleep",
                    "./udp --refused 2>&1 | grep -v Sleep"):
        assert len(readme_output(README, command)) > 3, command
