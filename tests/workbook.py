"""Helpers the chapter tests share: paths, running programs, README blocks.

Import from a test file with `from workbook import ...` (tests/ is on sys.path
because pytest puts a rootdir-less test folder there).
"""
import json
import os
import re
import select
import shutil
import socket
import signal
import subprocess
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Sanitizer runs stop at the first report and exit with a code no program uses.
SANITIZER_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:halt_on_error=1:exitcode=86:abort_on_error=0",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1:exitcode=86",
    "TSAN_OPTIONS": "halt_on_error=1:exitcode=86:second_deadlock_stack=1",
}
SANITIZER_EXIT = 86


def path(*parts):
    """Absolute path of a file in the repository."""
    return os.path.join(ROOT, *parts)


COROFY = path("corofy", "corofy")


def closed_port():
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, *, env=None, cwd=None, timeout=60, check=True, input=None, sanitizer=False):
    """Run a program and return the CompletedProcess (text mode).

    env is added to os.environ (it does not replace it). A program that has
    not finished within `timeout` seconds is killed and the test fails with
    what it printed so far, so a hang is a failure, never a stuck suite.
    With check=True a non-zero exit fails the test with both streams shown.
    """
    full_env = dict(os.environ)
    if sanitizer:
        full_env.update(SANITIZER_ENV)
    if env:
        full_env.update(env)
    proc = subprocess.Popen(cmd, env=full_env, cwd=cwd, text=True,
                            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        out, err = proc.communicate(input=input, timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"{cmd} did not finish within {timeout}s\n"
                             f"--- stdout ---\n{out}\n--- stderr ---\n{err}")
    result = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} exited {proc.returncode}\n"
                             f"--- stdout ---\n{out}\n--- stderr ---\n{err}")
    return result


def assert_sanitizer_clean(result, returncode=0):
    """A sanitizer build ran to the end, exited as expected, and reported nothing."""
    assert result.returncode == returncode and "Sanitizer" not in result.stderr, \
        f"exit {result.returncode} (expected {returncode})\n" \
        f"--- stdout ---\n{result.stdout[-2000:]}\n--- stderr ---\n{result.stderr}"


# A program that needs a kernel feature this machine does not offer (io_uring:
# an old kernel, a container's seccomp profile) says so in one line on stderr
# and exits with this status, the one test tools read as "skipped".
UNAVAILABLE_EXIT = 77


# What every io_uring program of ch06 says on stderr (after "<program>: ")
# where io_uring_setup fails, by the error no-uring --errno makes it fail with.
IO_URING_UNAVAILABLE = {
    "ENOSYS": "io_uring is not available here: io_uring_setup: Function not implemented "
              "(a kernel without io_uring, or a seccomp filter that hides it)",
    "EPERM": "io_uring is not available here: io_uring_setup: Operation not permitted "
             "(kernel.io_uring_disabled or a seccomp profile forbids it)",
}


def fuzz_findings(folder):
    """What a libFuzzer run that stopped wrote into its -artifact_prefix
    folder (crash-*, leak-*, timeout-*), as text for a failure message: pytest
    keeps only its last few temporary folders, so the input must be shown."""
    found = []
    for name in sorted(os.listdir(folder)):
        if name.split("-", 1)[0] in ("crash", "leak", "timeout", "oom", "slow"):
            with open(os.path.join(folder, name), "rb") as f:
                found.append(f"--- {name} ---\n{f.read(4000).decode('latin-1')}")
    return "\n".join(found) or "(no input was written)"


def skip_if_unavailable(result, wanted=None):
    """Skip the running test, with the program's own last line as the reason,
    if `result` is a run that found its kernel feature missing (and the test
    did not ask for exactly that status)."""
    if result.returncode == UNAVAILABLE_EXIT and wanted != UNAVAILABLE_EXIT:
        import pytest
        lines = [line for line in result.stderr.split("\n") if line and not line.startswith("==")]
        pytest.skip(lines[-1] if lines else f"{result.args[0]} exited {UNAVAILABLE_EXIT}")


def require_io_uring(program):
    """Skip the running test, with the program's own line as the reason, where
    this kernel offers no io_uring. The ch06 programs set up their ring before
    the first connection, so a run against a closed port is enough to know."""
    result = run([program], env={"DELAYSERVER_ADDR": f"127.0.0.1:{closed_port()}"},
                 check=False, timeout=10)
    skip_if_unavailable(result)
    assert "cannot connect" in result.stderr, result.stderr


def run_under_strace(cmd, tmp_path, *, env, calls):
    """Run cmd under `strace -f -y -e trace=<calls>` (-y names each descriptor,
    as in `read(3</usr/lib/...>`); return (result, traced lines), each line
    without the thread id strace -f puts in front. Skips the test where strace
    is missing or cannot trace (a container without ptrace)."""
    import pytest
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed (scripts/test-deps installs it)")
    log = tmp_path / "strace.txt"
    result = run(["strace", "-f", "-y", "-o", str(log), "-e", f"trace={calls}", *cmd], env=env,
                 check=False, timeout=60)
    if not log.exists() or "PTRACE" in result.stderr:
        pytest.skip(f"strace cannot trace here: {result.stderr.strip()}")
    return result, [re.sub(r"^\d+ +", "", line) for line in log.read_text().split("\n")
                    if line and "+++" not in line and "--- SIG" not in line]


def assert_corofied_current(source):
    """The committed <stem>_corofied.c beside `source` is exactly what corofy writes now.

    Fails when the generated file was edited by hand, or the input changed
    without `make corofy`, showing corofy's unified diff.
    """
    committed = source[:-len(".c")] + "_corofied.c"
    assert os.access(COROFY, os.X_OK), "corofy is not built (make -C corofy)"
    with open(committed, encoding="utf-8") as f:
        assert "switch (" in f.read(), f"{committed} holds no state machine"
    result = run([COROFY, "--check", source], check=False, timeout=30)
    assert result.returncode == 0, \
        f"{committed} differs from what corofy writes now:\n{result.stdout}{result.stderr}"


def timed_run(cmd, **kwargs):
    """run(), also returning the wall-clock seconds it took."""
    start = time.monotonic()
    result = run(cmd, **kwargs)
    return result, time.monotonic() - start


# ===== What the tests did, for the checks that judge the whole run =====
#
# A few checks judge what the other tests did (which sanitizer builds they
# ran, which README blocks they compared). The tests may run in several
# processes (make test runs pytest -n), so each process appends what it saw
# to files of its own in the folder $WORKBOOK_RECORDS (conftest.py makes
# one when it is unset), and the judging tests read them all at the end.


def record(kind, *fields):
    """Note one thing this process saw, for the checks that judge the run."""
    folder = os.environ.get("WORKBOOK_RECORDS")
    if folder:
        with open(os.path.join(folder, f"{kind}.{os.getpid()}"), "a", encoding="utf-8") as f:
            f.write("\t".join(fields) + "\n")


def recorded(kind):
    """Every record of this kind, from every process of the run."""
    folder = os.environ.get("WORKBOOK_RECORDS")
    found = []
    for name in sorted(os.listdir(folder)) if folder and os.path.isdir(folder) else []:
        if name.startswith(kind + "."):
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                found += [tuple(line.rstrip("\n").split("\t")) for line in f if line.strip()]
    return found


# ===== Which sanitizer builds the suite starts =====
#
# Every test starts its programs through subprocess.Popen (run(),
# DelayServer and subprocess.run all end there). Once this module is
# imported (conftest.py does so before any test file), Popen notes each
# -asan/-tsan program it starts and the test that was running, so
# tests/test_reliability.py can name the sanitizer builds that no sanitizer
# test ever ran. The note-taking changes nothing else about Popen.

SANITIZED_NAME = re.compile(r"[^/\s]+-(?:asan|tsan)\Z")


def _note_sanitized_programs(args, cwd):
    words = [args] if isinstance(args, (str, bytes, os.PathLike)) else list(args)
    test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]
    for word in words:
        # `bash -c "ulimit -n 4 && exec ./udp-asan"` starts one too.
        for token in os.fsdecode(word).split():
            if "/" in token and SANITIZED_NAME.search(token):
                record("sanitized", test, os.path.abspath(os.path.join(cwd or os.getcwd(), token)))


class _NotingPopen(subprocess.Popen):
    def __init__(self, args, *more, **kwargs):
        _note_sanitized_programs(args, kwargs.get("cwd"))
        super().__init__(args, *more, **kwargs)


subprocess.Popen = _NotingPopen


# ===== Ctrl-Z, then fg =====

def stop_and_continue_in(proc, syscall, timeout=5):
    """Wait until `proc` sleeps in system call number `syscall` (see
    /proc/PID/syscall), then stop it and let it continue, as Ctrl-Z and fg
    do: the call it was sleeping in usually returns EINTR."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(f"/proc/{proc.pid}/syscall") as f:
            if f.read().split()[0] == str(syscall):
                break
        time.sleep(0.001)
    else:
        raise AssertionError(f"{proc.args} was never seen in system call {syscall}")
    proc.send_signal(signal.SIGSTOP)
    time.sleep(0.05)
    proc.send_signal(signal.SIGCONT)


# ===== A fresh copy of the repository =====

def copy_tracked_tree(dest):
    """Copy the repository's tracked (and new, not ignored) files into dest,
    as a fresh clone would have them: content and mode, new times, no build
    output. Returns False when ROOT is not a git checkout."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=False)
    names = [os.fsdecode(n) for n in listed.stdout.split(b"\0") if n]
    if listed.returncode != 0 or not names:
        return False
    for name in names:
        source = os.path.join(ROOT, name)
        if os.path.isfile(source):
            os.makedirs(os.path.dirname(os.path.join(dest, name)), exist_ok=True)
            shutil.copy(source, os.path.join(dest, name))
    return True


# ===== README output blocks =====
#
# A README shows a run as a fenced ```shell block whose first line is the
# command, prefixed with "$ ", followed by exactly what the program prints.
# Inside the output, <name> (letters, digits, dashes, dots) stands for text
# that varies from run to run (<elapsed>, <date>, <port>), and a line that is
# only "..." stands for any number of lines (possibly none).

_FENCE = re.compile(r"^```shell\n(.*?)^```", re.S | re.M)
_PLACEHOLDER = re.compile(r"<[A-Za-z][A-Za-z0-9_.-]*>")


def readme_blocks(readme):
    """Every ```shell block of a README as (command, [output lines])."""
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    blocks = []
    for body in _FENCE.findall(text):
        lines = body.rstrip("\n").split("\n")
        if lines and lines[0].startswith("$ "):
            blocks.append((lines[0][2:], lines[1:]))
    return blocks


def readme_output(readme, command):
    """The output lines shown under `$ command` in a README (fails if absent)."""
    for cmd, lines in readme_blocks(readme):
        if cmd == command:
            return lines
    raise AssertionError(f"{readme} has no ```shell block starting with '$ {command}'")


def _line_regex(line):
    parts = _PLACEHOLDER.split(line)
    return re.compile(".+?".join(re.escape(p) for p in parts) + r"\Z")


def match_lines(expected, actual, optional=None):
    """True when `actual` lines fit the `expected` pattern lines. An expected
    line that matches the regex `optional` may also be missing from actual."""
    if not expected:
        return not actual
    head, rest = expected[0], expected[1:]
    if head == "...":
        return any(match_lines(rest, actual[i:], optional) for i in range(len(actual) + 1))
    if bool(actual) and _line_regex(head).match(actual[0]) and match_lines(rest, actual[1:], optional):
        return True
    return bool(optional) and re.search(optional, head) is not None and match_lines(rest, actual, optional)


def assert_readme_output(readme, command, actual_text, optional=None):
    """Fail, showing both sides, unless the README block matches the real output.

    optional: a regex for README lines a busy machine may legitimately leave
    out (an executor that overslept finds two tasks ready and says "Sleep"
    once, not twice); every other line must still be there, in order."""
    record("readme", os.path.abspath(readme), command)
    expected = readme_output(readme, command)
    actual = actual_text.rstrip("\n").split("\n")
    assert expected, f"{readme}: the block for '{command}' shows no output"
    if not match_lines(expected, actual, optional):
        raise AssertionError(
            f"{readme}: the block for '$ {command}' does not match the real output\n"
            "--- README ---\n" + "\n".join(expected) + "\n--- program ---\n" + "\n".join(actual))


# ===== Checks that judge the whole run =====

WHOLE_RUN = "whole-run.json"  # written in the records folder by a run of the whole suite


def whole_run_markexpr(markexpr):
    """Does pytest's -m select every test the judging checks judge? Leaving out
    the judging checks themselves, or the aarch64 runs make test skips, is fine."""
    allowed = {"", "sanitizer"}
    plain = markexpr.replace("(", " ").replace(")", " ")
    words = [w.strip() for w in plain.split(" and ")] if plain.strip() else []
    return all(w in allowed or w in ("not aarch64_full", "not whole_run") for w in words)


def note_whole_run(config, items):
    """Called once the tests are collected: when this is a run of the whole
    suite, say so in the records folder, with the tests that are sanitizer
    tests, so the judging checks know their records are complete."""
    tests_dir = os.path.dirname(os.path.abspath(__file__))
    asked = {os.path.abspath(os.path.join(config.invocation_params.dir, arg)) for arg in config.args}
    folder = os.environ.get("WORKBOOK_RECORDS")
    if not folder or asked != {tests_dir} or config.option.keyword or config.option.deselect \
            or not whole_run_markexpr(config.option.markexpr):
        return
    stamp = {"markexpr": config.option.markexpr,
             "sanitizer_tests": sorted(i.nodeid for i in items if i.get_closest_marker("sanitizer"))}
    temporary = os.path.join(folder, f"{WHOLE_RUN}.{os.getpid()}")
    with open(temporary, "w", encoding="utf-8") as f:
        json.dump(stamp, f)
    os.replace(temporary, os.path.join(folder, WHOLE_RUN))


def whole_run_or_skip():
    """What note_whole_run() wrote for this run, or skip: the judging checks
    mean something only after the whole suite ran (make test, make sanitize)."""
    folder = os.environ.get("WORKBOOK_RECORDS")
    try:
        with open(os.path.join(folder or "", WHOLE_RUN), encoding="utf-8") as f:
            return json.load(f)
    except OSError:
        import pytest
        pytest.skip("judges a run of the whole suite (make test), and this run is not one")


# ===== A server that is not a delay server =====

class ScriptedServer:
    """A TCP server on 127.0.0.1 that reads each request head, answers it with
    the fixed bytes `reply` (b"" to answer nothing), and closes the
    connection. For testing how a program meets a server that closes early
    or answers garbage. Use it as a context manager, or call close().
    `accepted` counts the connections taken so far.
    """

    def __init__(self, reply):
        self.reply = reply
        self.accepted = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:  # the 0.1 s timeout: look at _stopping again
                continue
            self.accepted += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    @staticmethod
    def _read_head(conn):
        """Read until the blank line that ends a request head (or EOF)."""
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = conn.recv(4096)
            if not chunk:
                break
            request += chunk

    def _answer(self, conn):
        with conn:
            conn.settimeout(2)
            try:
                self._read_head(conn)
                conn.sendall(self.reply)
            except OSError:  # the client gave up first
                pass

    def close(self):
        self._stopping.set()
        self._thread.join(5)
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SilentServer(ScriptedServer):
    """A server that accepts, reads each request head, sends `reply` (nothing
    by default; half a response to stall in the middle of an answer), and
    then keeps the connection open without another byte until close(). For
    checking that a program gives up after DELAYSERVER_TIMEOUT_MS instead of
    waiting forever. Use it as a context manager, or call close().
    """

    def __init__(self, reply=b""):
        self._held = []
        super().__init__(reply)

    def _answer(self, conn):
        try:
            conn.settimeout(2)
            self._read_head(conn)
            conn.sendall(self.reply)
        except OSError:  # the client gave up first
            conn.close()
            return
        self._held.append(conn)

    def close(self):
        super().close()
        for conn in self._held:
            conn.close()


def readme_command(command):
    """A README command such as `DELAYSERVER_TIMEOUT_MS=500 ./runtime --full`
    as (argv, env): leading NAME=value words become environment variables."""
    words = command.split()
    env = {}
    while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    return words, env


# ===== The delay server =====

class DelayServer:
    """A delayserver process on 127.0.0.1 with a free port.

    Its log (stdout after the first line) is collected in `self.log` by a
    background thread so the pipe never fills; stderr goes to `self.errors`.
    `env` is added to the environment the server runs in.
    """

    def __init__(self, *args, binary=None, env=None):
        binary = binary or path("delayserver", "delayserver")
        self.proc = subprocess.Popen([binary, "--host", "127.0.0.1", "--port", "0", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, start_new_session=True,
                                     env={**os.environ, **env} if env else None)
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        first = self.proc.stdout.readline() if ready else ""
        m = re.fullmatch(r"delayserver listening on (\S+):(\d+)\n", first)
        if not m:
            self.proc.kill()
            raise AssertionError(f"delayserver did not announce its port: {first!r} "
                                 f"{self.proc.stderr.read()!r}")
        self.host, self.port = m.group(1), int(m.group(2))
        self.addr = f"{self.host}:{self.port}"
        self.log, self.errors = [], []
        self._threads = [threading.Thread(target=self._drain, args=(s, l), daemon=True)
                         for s, l in ((self.proc.stdout, self.log), (self.proc.stderr, self.errors))]
        for t in self._threads:
            t.start()

    @staticmethod
    def _drain(stream, into):
        for line in stream:
            into.append(line.rstrip("\n"))

    def wait_for_log(self, count, timeout=10):
        """Wait until the log holds at least `count` lines; return them."""
        deadline = time.monotonic() + timeout
        while len(self.log) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(self.log)

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Stop the server and return its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"delayserver ignored signal {sig} for {timeout}s")
        for t in self._threads:
            t.join(5)
        return self.proc.returncode
