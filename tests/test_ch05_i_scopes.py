"""ch05-runtime step i: scopes (join, race) whose children live in the caller's frames, no malloc while a scope is open."""
import os
import re
import shutil

import pytest

from workbook import assert_corofied_current, assert_readme_output, assert_sanitizer_clean, path, run, timed_run

STEP = path("ch05-runtime", "i-scopes")
README = os.path.join(STEP, "README.md")

SCOPE_END = re.compile(r"scope (\S+): (closed|cancelled): (\d+) finished, (\d+) cancelled, (\d+) allocations$")
TOOK = re.compile(r"took (\d+) ms; registrations still linked: (\d+)$")
LINKED = re.compile(r"registrations still linked: (\d+)$")


def lines(text):
    return text.rstrip("\n").split("\n")


def scope_ends(out):
    """{scope name: (how, finished, cancelled, allocations)} from a run's output."""
    ends = {}
    for line in lines(out):
        m = SCOPE_END.match(line)
        if m:
            assert m.group(1) not in ends, f"scope {m.group(1)} ended twice:\n{out}"
            ends[m.group(1)] = (m.group(2), int(m.group(3)), int(m.group(4)), int(m.group(5)))
    return ends


def section(out, title):
    """The lines of one demonstration (from its '== title' line to the next)."""
    found, result = False, []
    for line in lines(out):
        if line.startswith("== "):
            found = line.startswith("== " + title)
        elif found:
            result.append(line)
    assert result, f"no '== {title}' section in:\n{out}"
    return result


def took_ms(section_lines):
    times = [int(m.group(1)) for m in map(TOOK.match, section_lines) if m]
    assert len(times) == 1, section_lines
    return times[0]


@pytest.fixture(scope="module")
def demo():
    """One run of ./scopes, shared by the tests that only read its output."""
    return run(["./scopes"], cwd=STEP, timeout=30).stdout


@pytest.fixture(scope="module")
def cancel():
    return run(["./scopes", "cancel"], cwd=STEP, timeout=30).stdout


def test_output_matches_readme(demo):
    """The README shows a run of ./scopes that the program no longer prints."""
    assert_readme_output(README, "./scopes", demo)


def test_cancel_output_matches_readme(cancel):
    """The README shows a run of ./scopes cancel that the program no longer prints."""
    assert_readme_output(README, "./scopes cancel", cancel)


def test_no_allocation_while_a_scope_is_open(demo, cancel):
    """A scope of embedded children called malloc (or the counter counts nothing)."""
    ends = {**scope_ends(demo), **scope_ends(cancel)}
    assert set(ends) == {"three", "first", "both", "deadline", "corofied", "embedded",
                         "pair", "inner", "outer"}, ends
    for name, (_, _, _, allocations) in ends.items():
        if name != "corofied":
            assert allocations == 0, f"scope {name} allocated {allocations} times:\n{demo}{cancel}"
    # The counter is live: corofy's heap constructor mallocs one frame per child
    # (and its init constructor, in "embedded", none).
    assert ends["corofied"][3] == 3, f"the corofied scope should count 3 allocations: {ends['corofied']}"


def test_whole_process_allocations_under_valgrind():
    """Something allocates on the task path that --wrap cannot see (glibc, or an unwrapped call)."""
    if shutil.which("valgrind") is None:
        pytest.skip("valgrind is not installed (scripts/test-deps installs it)")
    counts = {}
    for args in ([], ["cancel"]):
        result = run(["valgrind", "--error-exitcode=99", "./scopes", *args], cwd=STEP, timeout=120)
        m = re.search(r"total heap usage: ([\d,]+) allocs, ([\d,]+) frees", result.stderr)
        assert m, result.stderr
        allocs, frees = (int(g.replace(",", "")) for g in m.groups())
        assert allocs == frees, result.stderr
        counts[" ".join(args)] = allocs
    # stdout's buffer, the registry's event buffer (poll_events_init), plus
    # one frame per corofied child; nothing else.
    assert counts == {"": 2 + 3, "cancel": 2}, counts


def test_valgrind_block_matches_readme():
    """The README's valgrind line shows a count the program no longer has."""
    if shutil.which("valgrind") is None:
        pytest.skip("valgrind is not installed (scripts/test-deps installs it)")
    command = "valgrind ./scopes 2>&1 >/dev/null | grep 'total heap usage'"
    result = run(["sh", "-c", command], cwd=STEP, timeout=120)
    assert_readme_output(README, command, result.stdout)


def test_every_registration_is_unlinked(demo, cancel):
    """A scope ended while a timer or socket of one of its children was still linked in the reactor."""
    counts = [int(m.group(1)) for m in map(LINKED.search, lines(demo) + lines(cancel)) if m]
    assert len(counts) == 5 + 2, f"expected seven 'registrations still linked' lines:\n{demo}{cancel}"
    assert all(c == 0 for c in counts), f"{demo}{cancel}"


def test_join_waits_for_all_in_deadline_order(demo):
    """join returned before every child finished, or children finished out of deadline order."""
    body = section(demo, "join")
    assert [l for l in body if l.startswith("  ")] == [
        "  b: done after 100 ms", "  c: done after 200 ms", "  a: done after 300 ms"], body
    assert scope_ends(demo)["three"] == ("closed", 3, 0, 0)


def test_race_cancels_the_losers(demo):
    """The race did not stop at the first child, or left a loser running."""
    body = section(demo, "race")
    children = [l for l in body if l.startswith("  ")]
    assert children[0] == "  fast: done after 100 ms", body
    assert sorted(children[1:]) == ["  slow: cancelled, its timer unlinked",
                                    "  socket: cancelled, its read unlinked"], body
    # The losers are cancelled before the scope reports its end.
    assert body.index(children[-1]) < body.index("scope first: closed: 1 finished, 2 cancelled, 0 allocations")
    assert "winner: child 0 (fast)" in body


def test_cancellation_travels_down_nested_scopes(demo):
    """Dropping a scope did not cancel its own children first."""
    body = section(demo, "nested")
    order = ["  a: done after 100 ms", "  timeout: done after 250 ms",
             "  b: cancelled, its timer unlinked",
             "scope both: cancelled: 1 finished, 1 cancelled, 0 allocations",
             "scope deadline: closed: 1 finished, 1 cancelled, 0 allocations"]
    assert [l for l in body if l in order] == order, body


def test_cancel_mode_cancels_every_registered_child(cancel):
    """A child registered with a timer or a socket survived its cancelled scope."""
    ends = scope_ends(cancel)
    assert ends["pair"] == ("cancelled", 0, 2, 0)
    assert ends["inner"] == ("cancelled", 0, 2, 0)
    assert ends["outer"] == ("closed", 1, 1, 0)
    for who, what in (("read1", "read"), ("long", "timer"), ("read2", "read")):
        assert f"  {who}: cancelled, its {what} unlinked" in lines(cancel), cancel
    assert lines(cancel)[-1] == "nothing touched the dead frames; registrations still linked: 0"


def test_scopes_run_concurrently():
    """Children ran one after another (a join took the sum), or a race waited for its losers."""
    result, _ = timed_run(["./scopes"], cwd=STEP, timeout=30)
    out = result.stdout
    join, race, nested = (took_ms(section(out, t)) for t in ("join", "race", "nested"))
    corofied = took_ms(section(out, "the same join"))
    embedded = took_ms(section(out, "embedded"))
    # Timers never fire early; the upper bounds sit halfway to the wrong answer.
    assert 299 <= join < (300 + 600) / 2, out              # longest 300, sum 600
    assert 299 <= corofied < (300 + 600) / 2, out
    assert 299 <= embedded < (300 + 600) / 2, out
    assert 99 <= race < (100 + 300) / 2, out               # winner 100, slowest 300
    assert 249 <= nested < (250 + 400) / 2, out            # deadline 250, b 400


@pytest.mark.sanitizer
@pytest.mark.parametrize("args", [[], ["cancel"]], ids=["demo", "cancel"])
def test_sanitized_runs_are_clean(args):
    """ASan or UBSan found a bug: a node left in a dead frame, a leak, or undefined behaviour."""
    result = run(["./scopes-asan", *args], cwd=STEP, sanitizer=True, check=False, timeout=60)
    assert_sanitizer_clean(result)
    ends = scope_ends(result.stdout)
    assert ends and all(a == 0 for n, (_, _, _, a) in ends.items() if n != "corofied"), result.stdout
    assert lines(result.stdout)[-1].endswith("registrations still linked: 0"), result.stdout


@pytest.mark.sanitizer
def test_asan_catches_a_node_left_in_a_dead_frame():
    """The use-after-scope check is blind: a forgotten node in a dead frame went unreported."""
    result = run(["./scopes-asan", "cancel", "--forget-to-unlink"], cwd=STEP,
                 sanitizer=True, check=False, timeout=60)
    assert result.returncode == 86, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "AddressSanitizer: stack-use-after-scope" in result.stderr, result.stderr
    assert "registrations still linked: 3" in result.stdout, result.stdout
    command = "./scopes-asan cancel --forget-to-unlink 2>&1 | grep -A2 ERROR"
    shown = run(["sh", "-c", command], cwd=STEP, sanitizer=True, check=False, timeout=60)
    assert_readme_output(README, command, shown.stdout)


def test_help_and_bad_arguments():
    """--help failed, or a bad argument was accepted or not named on stderr."""
    result = run(["./scopes", "--help"], cwd=STEP, timeout=10)
    assert result.stdout.startswith("usage: scopes"), result.stdout
    for args, bad in ((["--bogus"], "--bogus"), (["cancel", "now"], "now"),
                      (["cancel", "--forget-to-unlink", "x"], "x"), (["--help", "x"], "x")):
        result = run(["./scopes", *args], cwd=STEP, check=False, timeout=10)
        assert result.returncode == 2, (args, result)
        assert result.stdout == "", (args, result.stdout)
        first = result.stderr.split("\n")[0]
        assert f"'{bad}'" in first, (args, result.stderr)


def test_corofied_file_regenerates():
    """main_corofied.c was edited by hand or is stale: corofy main.c no longer produces it."""
    assert_corofied_current(os.path.join(STEP, "main.c"))
