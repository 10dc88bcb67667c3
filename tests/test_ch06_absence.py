"""ch06-io-uring, every step: where io_uring is not available, one line, exit 77, and skipped tests.

io_uring may be missing (a kernel before 5.1, or one built without it) or
forbidden (a container's seccomp profile, kernel.io_uring_disabled). Each
step builds no-uring, which runs a program under a seccomp filter that makes
io_uring_setup fail as it would there: with ENOSYS or with EPERM. The
programs must say so in one line and exit 77 before they touch the network,
and the tests that need io_uring must be skipped with that line as the
reason, not fail. The steps' own test files check the rest.
"""
import sys

import pytest

from workbook import (IO_URING_UNAVAILABLE, ROOT, UNAVAILABLE_EXIT, assert_sanitizer_clean,
                      closed_port, path, run)

# step -> (program, threaded (a TSan build too), tests of the step's file that need io_uring)
STEPS = {
    "a-rings": ("rings", False, ["tests/test_ch06_io_uring.py::test_responses_arrive_in_reverse_order"]),
    "b-proactor": ("proactor", True, [f"tests/test_ch06_b_proactor.py::{t}" for t in (
        "test_one_executor_runs_every_task", "test_waker_after_finish",
        "test_trace_shows_each_deadline[plain]")]),
    "c-cancel": ("cancel", True, [f"tests/test_ch06_c_cancel.py::{t}" for t in (
        "test_patience_drops_the_slow_requests", "test_trace_shows_each_linked_timeout[plain]")]),
}
SANITIZED = [(step, variant) for step, (_, threaded, _) in STEPS.items()
             for variant in (["-asan", "-tsan"] if threaded else ["-asan"])]


def step_path(step, *parts):
    return path("ch06-io-uring", step, *parts)


@pytest.mark.parametrize("error", ["ENOSYS", "EPERM"])
@pytest.mark.parametrize("step", STEPS)
def test_missing_io_uring_is_one_line_and_status_77(step, error):
    """Without io_uring (an old kernel, a seccomp profile) the program must say so in one line
    and exit 77, before it connects anywhere."""
    program = STEPS[step][0]
    result = run([step_path(step, "no-uring"), "--errno", error, step_path(step, program)],
                 check=False, timeout=10, env={"DELAYSERVER_ADDR": f"127.0.0.1:{closed_port()}"})
    assert (result.returncode, result.stdout, result.stderr) == \
        (UNAVAILABLE_EXIT, "", f"{program}: {IO_URING_UNAVAILABLE[error]}\n")


@pytest.mark.parametrize("step", STEPS)
def test_tests_skip_where_io_uring_is_missing(step):
    """On a machine without io_uring the step's tests must be skipped with the program's reason, not fail."""
    # Run some of the step's tests in a pytest that no-uring starts: the
    # seccomp filter is inherited by everything it runs.
    program, _, tests = STEPS[step]
    result = run([step_path(step, "no-uring"), "--errno", "EPERM", sys.executable, "-m", "pytest",
                  "-q", "-rs", "-p", "no:cacheprovider", *tests], cwd=ROOT, check=False,
                 timeout=60, env={"WORKBOOK_BUILT": "1"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(tests)} skipped" in result.stdout, result.stdout
    assert f"{program}: {IO_URING_UNAVAILABLE['EPERM']}" in result.stdout, result.stdout


@pytest.mark.sanitizer
@pytest.mark.parametrize("step,variant", SANITIZED, ids=[f"{s}{v}" for s, v in SANITIZED])
def test_sanitized_without_io_uring(step, variant):
    """The helper and the program, both sanitized, must take the missing-io_uring path cleanly."""
    program = STEPS[step][0]
    result = run([step_path(step, "no-uring" + variant), step_path(step, program + variant)],
                 sanitizer=True, check=False, timeout=20, env={"DELAYSERVER_ADDR": "127.0.0.1:1"})
    assert_sanitizer_clean(result, returncode=UNAVAILABLE_EXIT)
    assert result.stderr == f"{program}{variant}: {IO_URING_UNAVAILABLE['ENOSYS']}\n"
