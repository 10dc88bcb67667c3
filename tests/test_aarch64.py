"""The workbook on aarch64: every step builds with the aarch64 cross compiler,
and its programs run under qemu-aarch64 as they do here.

Students on Apple-silicon laptops run Linux in aarch64 virtual machines, so
`make CC=aarch64-linux-gnu-gcc` must build every step (mk/common.mk keeps
the objects apart and names the programs NAME-aarch64, linked statically).
The suite builds a fresh copy of the repository that way and runs, under
qemu, every program with --help and a bounded set of real runs against the
delay server. `make aarch64-check` runs every program for real
(pytest -m aarch64_full).
"""
import os
import re
import shutil
import signal
import socket
import subprocess

import pytest

from workbook import ROOT, copy_tracked_tree, run

CROSS = "aarch64-linux-gnu-gcc"
QEMU = "qemu-aarch64"
UNAVAILABLE = 77    # a program whose machine lacks what it needs (io_uring under qemu, say)

# A few real runs in make test, chosen to cover each kind of program: a
# thread that parks, raw epoll, hand-switched stacks, a state machine written
# by corofy, and a runtime with a reactor and threads.
BOUNDED = ("ch01-block-on", "ch02-epoll", "ch03-fibers/c-fibers", "ch04-coroutines/d-locals")

# Arguments for the check programs' real runs (their default is a long stress).
CHECK_ARGS = {
    "checks": ["many-threads"],
}
# Programs qemu-user cannot run for real, and why.
QEMU_CANNOT = {
    "no-uring": "qemu-user passes seccomp filters to the host kernel, which rejects an aarch64 one",
}
# Servers, which serve until a signal: a real run starts one on a free port,
# asks it for one answer and stops it with SIGTERM.
SERVERS = {"coroserver"}


def steps():
    """(step, [programs]) for every chapter step, from its Makefile."""
    found = []
    for dirpath, _, names in sorted(os.walk(ROOT)):
        rel = os.path.relpath(dirpath, ROOT)
        if "Makefile" not in names or not rel.startswith("ch0"):
            continue
        text = open(os.path.join(dirpath, "Makefile"), encoding="utf-8").read()
        prog = re.search(r"^PROG\s*:=\s*(\S+)", text, re.M)
        checks = re.search(r"^CHECKS\s*:=\s*(.*)$", text, re.M)
        if prog:
            found.append((rel, [prog.group(1)] + (checks.group(1).split() if checks else [])))
    return found


STEPS = steps()
PROGRAMS = [(step, p) for step, progs in STEPS for p in progs]
MAIN_PROGRAMS = [(step, progs[0]) for step, progs in STEPS]


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """A fresh copy of the repository, every chapter step built for aarch64."""
    for tool in (CROSS, QEMU):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (scripts/test-deps installs it)")
    dest = tmp_path_factory.mktemp("aarch64")
    if not copy_tracked_tree(dest):
        pytest.skip("not a git checkout: no list of tracked files")
    jobs = str(os.cpu_count() or 2)
    build = run(["make", "-s", "--no-print-directory", "-C", str(dest), f"-j{jobs}",
                 f"CC={CROSS}", "all"], check=False, timeout=900)
    errors = [line for line in build.stderr.splitlines()
              if "error" in line.lower() and "getaddrinfo" not in line]
    assert build.returncode == 0 and not errors, build.stdout[-3000:] + build.stderr[-3000:]
    return dest


def qemu(tree, step, program, args, **kwargs):
    return run([QEMU, f"./{program}-aarch64", *args], cwd=os.path.join(tree, step), **kwargs)


def test_every_step_has_programs():
    """If discovery finds nothing, the checks below check nothing."""
    assert len(STEPS) >= 15 and len(PROGRAMS) >= 20, STEPS


@pytest.mark.parametrize("step,program", PROGRAMS, ids=[f"{s}/{p}" for s, p in PROGRAMS])
def test_every_program_is_built_for_aarch64_and_starts_under_qemu(tree, step, program):
    """A step that does not build for aarch64, or a program that cannot even start there."""
    binary = os.path.join(tree, step, f"{program}-aarch64")
    assert os.path.exists(binary), f"make CC={CROSS} did not build {step}/{program}-aarch64"
    with open(binary, "rb") as f:
        head = f.read(20)
    assert head[:4] == b"\x7fELF" and int.from_bytes(head[18:20], "little") == 183, \
        f"{binary} is not an aarch64 ELF file"                      # e_machine 183: EM_AARCH64
    result = qemu(tree, step, program, ["--help"], check=False, timeout=60)
    assert result.returncode == 0 and result.stdout.strip(), (result.stdout, result.stderr)


def serve_once(tree, step, program):
    """Start a server under qemu, get one answer from it, stop it with SIGTERM."""
    proc = subprocess.Popen([QEMU, f"./{program}-aarch64", "--port", "0", "--speedup", "10"],
                            cwd=os.path.join(tree, step), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        m = re.fullmatch(r"delayserver listening on (\S+):(\d+)\n", first)
        assert m, f"{program} under qemu did not start: {first!r}"
        with socket.create_connection((m.group(1), int(m.group(2))), timeout=30) as s:
            s.sendall(b"GET /100/aarch64 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := s.recv(4096):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b"aarch64"), answer
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def real_run(tree, step, program, delayserver):
    if program in QEMU_CANNOT:
        pytest.skip(f"{step}/{program}: {QEMU_CANNOT[program]}")
    if program in SERVERS:
        serve_once(tree, step, program)
        return
    args = CHECK_ARGS.get(program, [])
    result = qemu(tree, step, program, args, check=False, timeout=300,
                  env={"DELAYSERVER_ADDR": delayserver.addr})
    if result.returncode == UNAVAILABLE:
        pytest.skip(f"{step}/{program} under qemu: {result.stderr.strip()}")
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout[-2000:]}\n{result.stderr}"
    assert result.stdout.strip(), "printed nothing"


@pytest.mark.parametrize("step,program", [p for p in MAIN_PROGRAMS if p[0] in BOUNDED],
                         ids=[s for s, _ in MAIN_PROGRAMS if s in BOUNDED])
def test_a_bounded_set_runs_under_qemu(tree, step, program, delayserver):
    """A chapter that builds for aarch64 but misbehaves there (a wrong assembly routine, a memory-order bug)."""
    real_run(tree, step, program, delayserver)


@pytest.mark.aarch64_full
@pytest.mark.parametrize("step,program", PROGRAMS, ids=[f"{s}/{p}" for s, p in PROGRAMS])
def test_every_program_runs_under_qemu(tree, step, program, delayserver):
    """make aarch64-check: every program of every step, run for real under qemu-aarch64."""
    real_run(tree, step, program, delayserver)
