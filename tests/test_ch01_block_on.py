"""ch01-block-on: a future, a waker, block_on parked on a condition variable,
and the four classic bugs of tiny executors.

The checks program (ch01-block-on/checks) holds the regression checks; the
tests run it on the real build, plain and under ASan+UBSan and TSan, and run
each check on the build that has its bug switched on (checks-bug-*-asan) to
prove the check catches it.

The stress check makes a million wake/poll round trips in the plain, ASan and
TSan builds (2-10 s each on two cores for plain and ASan, 12-28 s under TSan).
The whole file takes 30-50 s.
"""
import os
import signal
import subprocess

import pytest

from workbook import (SANITIZER_ENV, SANITIZER_EXIT, assert_readme_output, path,
                      readme_blocks, run)

CHAPTER = path("ch01-block-on")
README = path("ch01-block-on", "README.md")
GOING_DEEPER = path("ch01-block-on", "GOING-DEEPER.md")
CHECKS = ["waker-outlives-block-on", "clone-refcount", "many-threads", "poll-after-ready"]
MILLION = 1000000

# Every ```shell block of README.md and GOING-DEEPER.md, each checked below.
CHECKED_BLOCKS = {
    "./block-on",
    "./checks all",
    "./checks poll-after-ready",
    "./checks-bug-free-parker-early-asan waker-outlives-block-on",
    "./checks-bug-clone-no-ref-asan clone-refcount",
    "./checks-bug-global-parker-asan many-threads",
    "./checks-bug-no-ready-guard-asan poll-after-ready",
}


def run_terminal(command, timeout):
    """Run `command` (a README line such as "./checks all") in the chapter
    folder with the sanitizer options, stderr merged into stdout as a terminal
    shows them. Return (exit status, text). A hang fails the test."""
    env = dict(os.environ, **SANITIZER_ENV)
    proc = subprocess.Popen(command.split(), cwd=CHAPTER, env=env, text=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        raise AssertionError(f"{command} did not finish within {timeout}s\n{out}")
    return proc.returncode, out


def binary(name):
    return os.path.join(CHAPTER, name)


# ===== The demo =====

def test_demo_output_matches_readme():
    """The README's block-on output no longer matches what the program prints."""
    result = run([binary("block-on")], cwd=CHAPTER, timeout=30)
    assert result.stderr == ""
    assert_readme_output(README, "./block-on", result.stdout)


@pytest.mark.sanitizer
@pytest.mark.parametrize("variant", ["asan", "tsan"])
def test_demo_clean_under_sanitizers(variant):
    """The demo has a memory error, a leak, undefined behaviour or a data race."""
    result = run([binary(f"block-on-{variant}")], cwd=CHAPTER, timeout=60, sanitizer=True)
    assert "Sanitizer" not in result.stderr
    assert result.stderr == ""
    assert_readme_output(README, "./block-on", result.stdout)


@pytest.mark.parametrize("args, named", [(["--bogus"], "--bogus"), (["--help", "extra"], "extra"),
                                         (["-h", "-h"], "-h"), (["5"], "5")])
def test_demo_rejects_bad_arguments(args, named):
    """block-on accepts a stray argument (even after --help) silently instead of one clear line."""
    bad = run([binary("block-on"), *args], check=False, timeout=10)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr == f"block-on: unexpected argument '{named}' (try --help)\n"


def test_demo_help():
    """block-on --help does not print its usage or does not exit 0."""
    helped = run([binary("block-on"), "--help"], timeout=10)
    assert helped.stdout.startswith("usage: block-on") and helped.stderr == ""


# ===== The checks on the real build =====

@pytest.mark.slow
def test_all_checks_pass_and_match_readme():
    """A check fails on the real build, or the README's ./checks all block is stale."""
    status, out = run_terminal("./checks all", timeout=90)
    assert status == 0, out
    assert_readme_output(README, "./checks all", out)
    assert f"stress: ok: {MILLION} wake/poll round trips" in out


@pytest.mark.sanitizer
@pytest.mark.slow
def test_all_checks_clean_under_asan():
    """A check finds a use-after-free, double free, leak or undefined behaviour in block_on."""
    status, out = run_terminal("./checks-asan all", timeout=120)
    assert status == 0 and "Sanitizer" not in out, out
    for check in CHECKS + ["stress"]:
        assert f"{check}: ok" in out
    assert f"stress: ok: {MILLION} wake/poll round trips" in out


@pytest.mark.sanitizer
@pytest.mark.slow
def test_all_checks_clean_under_tsan():
    """A check finds a data race in the parker, the waker reference count or the checks."""
    status, out = run_terminal("./checks-tsan all", timeout=120)
    assert status == 0 and "Sanitizer" not in out, out
    for check in CHECKS + ["stress"]:
        assert f"{check}: ok" in out
    assert f"stress: ok: {MILLION} wake/poll round trips" in out


@pytest.mark.parametrize("args, message", [
    (["nope"], "no check named 'nope' (try --help)"),
    (["--bogus"], "no check named '--bogus' (try --help)"),
    (["--help", "extra"], "unexpected argument 'extra' (try --help)"),
    (["stress", "5", "6"], "unexpected argument '6' (try --help)"),
    ([], "name a check to run, or all (try --help)"),
] + [(args, f"bad argument '{args[1]}' (only stress and all take a count, 1 to 1000000000; "
             "try --help)")
     for args in (["stress", "0"], ["stress", "12x"], ["stress", "-1"], ["all", " 5"],
                  ["stress", "99999999999999999999"], ["stress", "1000000001"],
                  ["many-threads", "5"])])
def test_checks_reject_bad_arguments(args, message):
    """checks runs something on a misspelt check or a bad count instead of saying what is wrong."""
    result = run([binary("checks"), *args], check=False, timeout=10)
    assert result.returncode == 2, args
    assert result.stdout == "" and result.stderr == f"checks: {message}\n"


def test_checks_help_and_a_small_count():
    """checks --help fails, or a valid count for stress is refused."""
    helped = run([binary("checks"), "--help"], timeout=10)
    assert helped.stdout.startswith("usage: checks CHECK [N]") and helped.stderr == ""
    result = run([binary("checks"), "stress", "1000"], timeout=30)
    assert result.stdout.startswith("stress: ok: 1000 wake/poll round trips"), result.stdout


def test_every_readme_block_is_checked():
    """A README block that no test runs goes stale without anyone noticing."""
    shown = {cmd for doc in (README, GOING_DEEPER) for cmd, _ in readme_blocks(doc)}
    assert shown == CHECKED_BLOCKS


# ===== Each classic bug, switched on, is caught =====

@pytest.mark.sanitizer
def test_bug_free_parker_early_is_caught():
    """A parker freed while a waker clone still points at it goes unnoticed."""
    command = "./checks-bug-free-parker-early-asan waker-outlives-block-on"
    status, out = run_terminal(command, timeout=60)
    assert status == SANITIZER_EXIT, out
    assert "AddressSanitizer: heap-use-after-free" in out
    assert "FAIL: after block_on returned, with a waker clone still held" in out
    assert_readme_output(GOING_DEEPER, command, out)


@pytest.mark.sanitizer
def test_bug_clone_no_ref_is_caught():
    """A waker clone that takes no reference (so a drop frees the parker too early) goes unnoticed."""
    command = "./checks-bug-clone-no-ref-asan clone-refcount"
    status, out = run_terminal(command, timeout=60)
    assert status == SANITIZER_EXIT, out
    assert "AddressSanitizer: heap-use-after-free" in out
    assert_readme_output(GOING_DEEPER, command, out)


@pytest.mark.sanitizer
def test_bug_global_parker_is_caught():
    """block_on parking on one process-wide parker loses or steals wake-ups and nobody notices."""
    command = "./checks-bug-global-parker-asan many-threads"
    status, out = run_terminal(command, timeout=60)
    assert "Sanitizer" not in out, out
    stuck = status == 3 and "FAIL: stuck: no wake-up for 2 s" in out
    misdirected = status == 1 and "meant for another thread" in out
    assert stuck or misdirected, out
    if stuck:
        assert_readme_output(GOING_DEEPER, command, out)


@pytest.mark.sanitizer
def test_bug_no_ready_guard_is_caught():
    """A finished future polled again silently runs a second time instead of stopping the program."""
    command = "./checks-bug-no-ready-guard-asan poll-after-ready"
    status, out = run_terminal(command, timeout=60)
    assert status == 1, out
    assert "'timer 10 ms' ran 2 times" in out
    assert "poll-after-ready: FAIL" in out
    assert_readme_output(GOING_DEEPER, command, out)


def test_real_build_stops_a_poll_after_ready():
    """future_poll lets a finished future be polled again, or says nothing clear about it."""
    status, out = run_terminal("./checks poll-after-ready", timeout=60)
    assert status == 0, out
    assert_readme_output(GOING_DEEPER, "./checks poll-after-ready", out)
