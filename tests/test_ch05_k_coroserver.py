"""ch05-runtime/k-coroserver: the delay server as coroutines on the ch05 runtime.

The contract (protocol, keep-alive, timeouts, abuse, signals, sanitizers)
is tested by tests/test_delayserver.py and tests/test_delayserver_abuse.py,
which run against coroserver too (their SERVERS). This file tests what is
the step's own: its README, the runtime's two modes, the environment knob,
the files it shares with delayserver/, and the line count bench/ reports.
"""
import os
import re
import socket
import time

import pytest

from workbook import assert_corofied_current, assert_readme_output, path, run

STEP = path("ch05-runtime", "k-coroserver")
README = os.path.join(STEP, "README.md")
BINARY = os.path.join(STEP, "coroserver")


def threads_of(server):
    return len(os.listdir(f"/proc/{server.proc.pid}/task"))


def get(server, target):
    """The body of the answer to GET target (the way the chapters ask)."""
    with socket.create_connection((server.host, server.port), timeout=20) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data.split(b"\r\n\r\n", 1)[1].decode()


# ===== What the README shows =====

def test_try_it_matches_readme():
    """try-it (what make run and the tour show) no longer prints what the README says."""
    out = run(["./try-it"], cwd=STEP, timeout=60).stdout
    assert_readme_output(README, "./try-it", out)


def test_make_run_runs_try_it():
    """make run (and so the tour) starts the server with nothing to stop it."""
    out = run(["make", "-s", "--no-print-directory", "-C", STEP, "run-command"]).stdout
    assert out.strip() == "./try-it"


def test_readme_shows_the_servers_side_by_side():
    """The README lost the table make bench writes (bench/report), or the table lost a server."""
    with open(README) as f:
        text = f.read()
    table = text[text.index("<!-- servers:begin -->"):text.index("<!-- servers:end -->")]
    assert "by `make bench`" in table, table
    for row in ["delayserver/: a state machine", "coroserver: coroutines, one executor",
                "coroserver: two executors", "nginx", "coroserver, one executor / delayserver"]:
        assert re.search(rf"^\| {re.escape(row)}.*\| [\d,.]+x? \(median", table, re.M), row


def test_connection_logic_is_counted():
    """bench/ counts the wrong thing, or nothing, as the servers' connection logic."""
    out = run([path("bench", "delayserver", "run"), "--loc"], timeout=60).stdout
    counts = dict(re.findall(r"^  (\w+) +(\d+)  ", out, re.M))
    assert set(counts) == {"delayserver", "coroserver"}, out
    state_machine, coroutines = int(counts["delayserver"]), int(counts["coroserver"])
    assert 100 < coroutines < state_machine, out


# ===== The runtime's two modes =====

@pytest.mark.parametrize("threads, expected", [(None, 1), ("2", 3)])
def test_threads(start_server, threads, expected):
    """One executor does not sleep in the reactor itself (a reactor thread is back), or two executors lack theirs."""
    env = {"COROSERVER_THREADS": threads} if threads else None
    server = start_server("--speedup", "10", binary=BINARY, env=env)
    for i in range(4):  # round-robin: both executors get connections
        assert get(server, f"/100/t{i}") == f"t{i}"
    assert threads_of(server) == expected, f"{threads_of(server)} threads, wanted {expected}"


@pytest.mark.parametrize("value", ["0", "65", "two", "-1", ""])
def test_bad_thread_count(value):
    """A bad COROSERVER_THREADS is used anyway, crashes the server, or takes more than one line to say."""
    result = run([BINARY, "--port", "0"], check=False, timeout=10, env={"COROSERVER_THREADS": value})
    assert result.returncode == 1 and result.stdout == "", result
    assert result.stderr == ("coroserver: COROSERVER_THREADS wants a whole number from 1 to 64, "
                             f"not '{value}'\n")


def test_help_is_delayservers():
    """coroserver's command line drifted from delayserver's."""
    def words(program):  # the usage, the program's name and the indentation aside
        out = run([program, "--help"]).stdout.replace(os.path.basename(program) + " [", "NAME [")
        return [line.split() for line in out.splitlines()]
    assert words(BINARY) == words(path("delayserver", "delayserver"))


def test_stop_closes_every_connection(start_server):
    """SIGTERM leaves a connection task running (the scope did not abort it), or the exit takes long."""
    server = start_server(binary=BINARY, env={"COROSERVER_THREADS": "2"})
    socks = []
    for i in range(40):
        s = socket.create_connection((server.host, server.port))
        if i % 2 == 0:  # half wait for a long delay, half are still reading a request
            s.sendall(b"GET /60000/x HTTP/1.1\r\nHost: x\r\n\r\n")
        else:
            s.sendall(b"GET /1/x HTTP/1.1\r\nHo")
        socks.append(s)
    server.wait_for_log(20)
    start = time.monotonic()
    assert server.stop() == 0, server.errors
    assert time.monotonic() - start < 2
    for s in socks:
        s.settimeout(5)
        try:
            assert s.recv(4096) == b""  # closed, without an answer
        except ConnectionResetError:
            pass
        s.close()


# ===== The files behind the program =====

def test_corofied_file_regenerates():
    """server_corofied.c was edited by hand or is stale: corofy server.c no longer produces it."""
    assert_corofied_current(os.path.join(STEP, "server.c"))


def test_protocol_files_are_delayservers():
    """The parser, the router or the command line differ from delayserver/'s, so the comparison is unfair."""
    for name in ("main.c", "server.h", "route.c", "route.h", "http.c", "http.h"):
        with open(os.path.join(STEP, name), "rb") as ours, open(path("delayserver", name), "rb") as theirs:
            assert ours.read() == theirs.read(), name

