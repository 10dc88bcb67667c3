"""Reliability across the tree: every program, whatever its chapter.

- The inventory: every program the Makefiles build (each step's PROG and the
  extra programs its `all` target names), read from make itself, so a new
  step or test driver is picked up without editing this file.
- `make sanitize` covers them all: the whole suite must run every -asan build
  (and every -tsan build of a THREADED=1 step) inside a sanitizer-marked
  test. This file notes which programs the suite starts (see "Which
  sanitizer builds the suite runs") and checks once the chapters' tests ran.
- valgrind memcheck, with the leak check, over every single-threaded program
  (the threaded ones have TSan instead), on a normal run and on an error path.
- Bad input, as a table over every program: an unknown flag and --help; and
  for every program that talks to the delay server, a refused connection, a
  malformed DELAYSERVER_ADDR, a server that closes without answering and one
  that answers garbage. One line on stderr, a non-zero exit, never a hang.

docs/reliability.md says how to run each check and what is not covered.
The file takes about 40 s; valgrind is most of it.
"""
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from workbook import (ROOT, SANITIZED_NAME, ScriptedServer, path, recorded, run,
                      skip_if_unavailable, whole_run_or_skip)

VALGRIND = ["valgrind", "--error-exitcode=99", "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect", "--track-fds=no"]


# ===== The inventory =====

def _make_database(folder, *settings):
    """make's own view of a folder's Makefile: {variable: value}, and the
    prerequisites of its `all` target (with `settings` such as SANITIZER=address)."""
    out = subprocess.run(["make", "-s", "-C", folder, "-pnq", *settings, "no-such-target"],
                         capture_output=True, text=True, timeout=30).stdout
    variables = dict(re.findall(r"^(\w+) :?= ?(.*)$", out, re.M))
    alls = re.findall(r"^all: (.*)$", out, re.M)
    return {k: v.strip() for k, v in variables.items()}, " ".join(alls).split()


class Program:
    """One program the tree builds, e.g. ch05-runtime/h-udp/udp-check."""

    def __init__(self, step, name, prog, threaded, srcs):
        self.step, self.name, self.threaded = step, name, threaded
        self.is_prog = name == prog      # the step's PROG (not a test driver)
        self.srcs = srcs
        self.id = f"{step}/{name}"

    def binary(self, variant=""):
        return path(self.step, self.name + variant)

    def command(self, *args):
        """The command line a student types in the step's folder."""
        return [f"./{self.name}", *args]

    def variants(self):
        return ["", "-asan"] + (["-tsan"] if self.threaded else [])

    def reads_the_delay_server(self):
        """Whether the program's sources read DELAYSERVER_ADDR."""
        if not self.is_prog:
            return False
        for src in self.srcs:
            with open(path(self.step, src), encoding="utf-8") as f:
                if "DELAYSERVER_ADDR" in f.read():
                    return True
        return False


def _inventory():
    top, _ = _make_database(ROOT)
    programs = []
    for step in top["STEPS"].split():
        variables, all_targets = _make_database(path(step))
        prog, threaded = variables["PROG"], variables.get("THREADED", "") == "1"
        srcs = variables["SRCS"].split()
        for name in all_targets:
            programs.append(Program(step, name, prog, threaded, srcs))
    return programs


def _sanitizer_builds():
    """Every -asan build `make asan` makes, and every -tsan build `make tsan`
    makes in a threaded step, as paths relative to the top."""
    builds = []
    for step in sorted({p.step for p in PROGRAMS}):
        threaded = any(p.threaded for p in PROGRAMS if p.step == step)
        for setting in ["SANITIZER=address"] + (["SANITIZER=thread"] if threaded else []):
            builds += [f"{step}/{name}" for name in _make_database(path(step), setting)[1]]
    return builds


PROGRAMS = _inventory()
BY_ID = {p.id: p for p in PROGRAMS}
IDS = [p.id for p in PROGRAMS]
SINGLE_THREADED = [p for p in PROGRAMS if not p.threaded]
NETWORK = [p for p in PROGRAMS if p.reads_the_delay_server()]
SANITIZER_BUILDS = _sanitizer_builds()


def test_inventory_is_read_from_make():
    """The Makefiles no longer tell which programs exist, so every table below would be empty."""
    steps = {p.step for p in PROGRAMS}
    assert {"ch02-epoll", "corofy", "delayserver", "ch05-runtime/h-udp"} <= steps, steps
    assert {"ch01-block-on/checks", "ch03-fibers/c-fibers/fiber-check",
            "ch05-runtime/h-udp/udp-check"} <= set(BY_ID), IDS
    assert "ch02-epoll/epoll" in [p.id for p in NETWORK]
    assert all(p.is_prog for p in NETWORK)
    # The sanitizer builds include each program's, and extra ones (ch01's bugs).
    assert {p.id + v for p in PROGRAMS for v in p.variants() if v} < set(SANITIZER_BUILDS), SANITIZER_BUILDS


@pytest.mark.parametrize("prog", PROGRAMS, ids=IDS)
def test_every_program_is_built_with_its_sanitizer_variants(prog):
    """`make variants` leaves a program without its -asan (or, with threads, -tsan) build."""
    for variant in prog.variants():
        assert os.access(prog.binary(variant), os.X_OK), \
            f"{prog.id}{variant} is not built: run make variants"


def test_no_program_is_built_behind_the_makefiles_back():
    """A folder holds a program with sanitizer builds that its Makefile's `all` does not name,
    so nothing here would check it."""
    known = {p.binary() for p in PROGRAMS}
    # A program whose -asan build a Makefile's `all` names only under ASan (a
    # bug build such as ch06 c's cancel-bug, made plain by `make cancel-bug`)
    # is known too: the sanitizer tests run its -asan build.
    known |= {path(build[:-len("-asan")]) for build in SANITIZER_BUILDS if build.endswith("-asan")}
    # An exercise's variant of a known program (make DEFINE=BUG_X: NAME-BUG_X) is known too.
    exercise_variant = re.compile(r"-(?:BUG|EXERCISE)_[A-Z0-9_]+\Z")
    stray = []
    for step in {p.step for p in PROGRAMS}:
        folder = path(step)
        for name in os.listdir(folder):
            plain = os.path.join(folder, name)
            if (os.path.isfile(plain) and os.access(plain, os.X_OK) and not SANITIZED_NAME.search(name)
                    and os.path.exists(plain + "-asan") and plain not in known
                    and exercise_variant.sub("", plain) not in known):
                stray.append(os.path.relpath(plain, ROOT))
    assert not stray, f"built but not in any `all` target: {stray}"


# ===== make sanitize covers every program =====

@pytest.mark.sanitizer
@pytest.mark.whole_run
def test_every_sanitizer_build_is_run_by_some_sanitizer_test():
    """An -asan or -tsan build that no sanitizer test runs: `make sanitize` says nothing about it."""
    sanitizer_tests = set(whole_run_or_skip()["sanitizer_tests"])
    run_by = {}
    for test, program in recorded("sanitized"):
        if test in sanitizer_tests:
            run_by.setdefault(program, test)
    uncovered = [build for build in SANITIZER_BUILDS if path(build) not in run_by]
    assert not uncovered, f"no sanitizer test runs: {uncovered}"


# ===== valgrind over the single-threaded programs =====
#
# Each run: (arguments, run from the step folder, expected exit status).
# ch03's own tests run its programs under memcheck for errors only; these
# runs add the leak check. i-scopes is left to its own test, which already
# runs it under memcheck and requires as many frees as allocations (no leak
# can hide there). The delay server has a test of its own below.

VALGRIND_RUNS = {
    "ch02-epoll/epoll": [(["-n", "50"], 0), (["-n", "5", "--full"], 0)],
    "ch03-fibers/a-stack-swap/stack-swap": [([], 0)],
    "ch03-fibers/b-show-stack/show-stack": [([], 0)],
    "ch03-fibers/c-fibers/fibers": [([], 0)],
    "ch03-fibers/c-fibers/fiber-check": [([], 0)],
    "ch04-coroutines/a-coroutine/coroutine": [([], 0)],
    "ch04-coroutines/b-async-await/async-await": [([], 0)],
    "ch04-coroutines/c-async-await/async-await": [([], 0)],
    "ch04-coroutines/d-locals/locals": [([], 0), (["--copy-frame"], 1)],
    "ch05-runtime/a-runtime/runtime": [([], 0)],
    "ch06-io-uring/a-rings/rings": [(["-n", "50"], 0)],
    # Installs its seccomp filter under valgrind; exec'ing a real program would
    # leave valgrind behind (it does not follow exec), so this one is missing.
    "ch06-io-uring/a-rings/no-uring": [(["--errno", "EPERM", "./no-such-program"], 127)],
    "corofy/corofy": [(["--line", "-o", "-", "tests/loops.c"], 0),
                      (["-o", "-", "tests/err_array_without_size.c"], 1)],
}
VALGRIND_ELSEWHERE = {
    "ch05-runtime/i-scopes/scopes": "test_ch05_i_scopes.py::test_whole_process_allocations_under_valgrind",
    "delayserver/delayserver": "test_delayserver_under_valgrind (below)",
}
VALGRIND_CASES = [(BY_ID[pid], args, status) for pid, runs in VALGRIND_RUNS.items()
                  for args, status in runs]


def valgrind(cmd, **kwargs):
    """Run under memcheck; any error, or a definite or indirect leak, makes valgrind exit 99."""
    assert shutil.which("valgrind"), "valgrind is missing: run scripts/test-deps"
    return run([*VALGRIND, *cmd], timeout=120, check=False, **kwargs)


def assert_memcheck_clean(result, status):
    skip_if_unavailable(result, status)
    assert result.returncode == status, f"exit {result.returncode}, wanted {status}\n{result.stderr[-3000:]}"
    assert "ERROR SUMMARY: 0 errors" in result.stderr, result.stderr[-3000:]


def test_every_single_threaded_program_has_a_valgrind_run():
    """A single-threaded program was added and nobody runs it under valgrind."""
    missing = [p.id for p in SINGLE_THREADED
               if p.id not in VALGRIND_RUNS and p.id not in VALGRIND_ELSEWHERE]
    assert not missing, f"add a run to VALGRIND_RUNS for: {missing}"
    stale = set(VALGRIND_RUNS) - {p.id for p in SINGLE_THREADED}
    assert not stale, f"VALGRIND_RUNS names programs that are gone or threaded: {stale}"


@pytest.mark.parametrize("prog,args,status", VALGRIND_CASES,
                         ids=[" ".join([p.id, *a]) for p, a, _ in VALGRIND_CASES])
def test_valgrind_memcheck_is_clean(delayserver, prog, args, status):
    """valgrind finds an invalid read or write, a use of uninitialised memory, or a leak."""
    result = valgrind([prog.binary(), *args], cwd=path(prog.step))
    assert_memcheck_clean(result, status)


# What a server that is not a delay server answers: nothing at all ("close"),
# or a line that is not HTTP ("garbage").
FAKE_REPLIES = {"close": b"", "garbage": b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n\r\n"}


@pytest.fixture
def fake_server():
    servers = []

    def start(kind):
        servers.append(ScriptedServer(FAKE_REPLIES[kind]))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


NETWORK_SINGLE_THREADED = [p for p in NETWORK if not p.threaded]


@pytest.mark.parametrize("prog", NETWORK_SINGLE_THREADED, ids=[p.id for p in NETWORK_SINGLE_THREADED])
def test_valgrind_clean_when_the_server_answers_garbage(fake_server, prog):
    """Giving up on a bad answer leaks a buffer or a connection, or reads memory it should not."""
    server = fake_server("garbage")
    result = valgrind([prog.binary()], cwd=path(prog.step), env={"DELAYSERVER_ADDR": server.addr})
    assert_memcheck_clean(result, 1)


def _get(addr, target, timeout=30):
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data


def test_delayserver_under_valgrind():
    """The delay server leaks a connection or a timer, or touches freed memory, on good and bad requests."""
    assert shutil.which("valgrind"), "valgrind is missing: run scripts/test-deps"
    proc = subprocess.Popen([*VALGRIND, path("delayserver", "delayserver"), "--host", "127.0.0.1",
                             "--port", "0", "--speedup", "20", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        first = proc.stdout.readline() if ready else ""
        m = re.fullmatch(r"delayserver listening on (\S+)\n", first)
        assert m, f"delayserver under valgrind did not announce its port: {first!r}"
        addr = m.group(1)
        results = {}

        def get(i):
            results[i] = _get(addr, f"/{100 + 10 * i}/hello-{i}")

        threads = [threading.Thread(target=get, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        assert _get(addr, "/x/y").startswith(b"HTTP/1.1 400 ")
        assert _get(addr, "/" + "9" * 40 + "/y").startswith(b"HTTP/1.1 4")
        host, port = addr.rsplit(":", 1)
        for _ in range(5):   # half a request, then gone
            with socket.create_connection((host, int(port))) as s:
                s.sendall(b"GET /1000/abandoned HTTP/1.1\r\nHo")
        with socket.create_connection((host, int(port))) as s:   # gone before the answer
            s.sendall(b"GET /5000/early HTTP/1.1\r\nHost: x\r\n\r\n")
        for t in threads:
            t.join(60)
        answers = [results.get(i, b"") for i in range(20)]
        assert all(a.startswith(b"HTTP/1.1 200 OK") and a.endswith(f"hello-{i}".encode())
                   for i, a in enumerate(answers)), answers
        waiting = socket.create_connection((host, int(port)))   # still waiting at SIGTERM
        waiting.sendall(b"GET /30000/late HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        waiting.close()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 0, err[-3000:]
    assert "ERROR SUMMARY: 0 errors" in err, err[-3000:]


# ===== Bad input: one line, a non-zero exit, never a hang =====

def one_line_naming(prog, result, *words, ran=False):
    """The run failed (not by a signal) with exactly one line on stderr that
    contains each of `words`; unless it `ran` (got as far as the network,
    where a program may have printed its progress), nothing on stdout."""
    assert result.returncode > 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    if not ran:
        assert result.stdout == "", f"printed on stdout after bad input:\n{result.stdout}"
    assert result.stderr.count("\n") == 1 and result.stderr.endswith("\n"), \
        f"wanted one line on stderr, got:\n{result.stderr}"
    for word in words:
        assert word in result.stderr, f"{word!r} is not named in: {result.stderr}"
    assert re.match(rf"(\./)?{re.escape(prog.name)}: ", result.stderr), \
        f"the line does not start with the program's name: {result.stderr}"


@pytest.fixture
def closed_port():
    """A port on 127.0.0.1 that is bound but not listening: a connection is refused,
    and nobody else can take the port during the test."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


# A new program that prints usage after its one line will fail here: print
# only the line (with "(try --help)"), or say why the program is different.


@pytest.mark.parametrize("prog", PROGRAMS, ids=IDS)
def test_unknown_flag_is_one_line(prog, closed_port):
    """A mistyped flag is ignored (the program runs anyway), crashes, or buries the problem in a usage text."""
    result = run(prog.command("--no-such-flag"), cwd=path(prog.step), check=False, timeout=10,
                 env={"DELAYSERVER_ADDR": f"127.0.0.1:{closed_port}"})
    one_line_naming(prog, result, "--no-such-flag")


@pytest.mark.parametrize("prog", PROGRAMS, ids=IDS)
def test_help_prints_usage(prog, closed_port):
    """--help fails, runs the program instead, or prints its usage on stderr."""
    result = run(prog.command("--help"), cwd=path(prog.step), check=False, timeout=10,
                 env={"DELAYSERVER_ADDR": f"127.0.0.1:{closed_port}"})
    assert result.returncode == 0, result
    assert result.stdout.startswith("usage: "), result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize("prog", NETWORK, ids=[p.id for p in NETWORK])
def test_refused_connection_is_one_line(prog, closed_port):
    """With nothing listening, the program hangs, crashes, exits 0 or prints several errors."""
    addr = f"127.0.0.1:{closed_port}"
    result = run(prog.command(), cwd=path(prog.step), check=False, timeout=10,
                 env={"DELAYSERVER_ADDR": addr})
    skip_if_unavailable(result)
    one_line_naming(prog, result, addr, ran=True)


@pytest.mark.parametrize("addr", ["nonsense", "127.0.0.1:99999", "127.0.0.1:", ":8080", "127.0.0.1:80x"])
@pytest.mark.parametrize("prog", NETWORK, ids=[p.id for p in NETWORK])
def test_malformed_server_address_is_one_line(prog, addr):
    """A malformed DELAYSERVER_ADDR is used anyway (port 99999 wraps round to 34463), or crashes the program."""
    result = run(prog.command(), cwd=path(prog.step), check=False, timeout=10,
                 env={"DELAYSERVER_ADDR": addr})
    one_line_naming(prog, result, "DELAYSERVER_ADDR", addr, ran=True)


@pytest.mark.parametrize("kind", ["close", "garbage"])
@pytest.mark.parametrize("prog", NETWORK, ids=[p.id for p in NETWORK])
def test_server_that_is_not_a_delay_server_is_one_line(prog, kind, fake_server):
    """A server that closes without answering, or answers garbage, makes the program hang, crash or exit 0."""
    server = fake_server(kind)
    result = run(prog.command(), cwd=path(prog.step), check=False, timeout=10,
                 env={"DELAYSERVER_ADDR": server.addr})
    one_line_naming(prog, result, ran=True)
