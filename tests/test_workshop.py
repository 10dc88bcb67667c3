"""Workshop mode (docs/workshop.md): the student edition, make grade, make
hint and make watch, and the grader kept honest.

One student edition is written and built (`make`) for the whole file,
starting from the reference build's objects, so that make compiles only the
stubbed sources, the copies that link to them, and what includes them. It must build with -Werror, show no
reference code of a lesson, and score below full marks in every graded step;
with the reference code put back it must score full marks, and taking any
single lesson out again must cost its step points. Each of those runs only
the graded tests (tests/grading.py), a few seconds per step.
"""
import importlib.machinery
import importlib.util
import os
import shutil
import signal
import subprocess
import time

import pytest

from workbook import ROOT, path, run

_loader = importlib.machinery.SourceFileLoader("workshop", path("scripts", "workshop"))
_spec = importlib.util.spec_from_loader("workshop", _loader)
workshop = importlib.util.module_from_spec(_spec)
_loader.exec_module(workshop)

GRADES = workshop.load_grading(ROOT)
GUIDE = path("docs", "workshop.md")
# The commands docs/workshop.md shows, in its order; each is run below.
DOC_COMMANDS = [
    "make student DEST=../async-workshop",
    'cd ../async-workshop && git init -q && git add -A && git commit -qm "the workshop starts"',
    "make",
    "make grade",
    "make hint STEP=ch01-block-on",
    "make watch STEP=ch01-block-on",
]
REGIONS = workshop.all_regions(ROOT)
REGIONS_OF = {}  # {file: its regions}
for _region in REGIONS:
    REGIONS_OF.setdefault(_region.path, []).append(_region)
PYTHON = workshop.pytest_python(ROOT)


def make(*args, cwd=ROOT, timeout=600, check=True):
    return run(["make", "-s", "--no-print-directory", "-C", str(cwd), *args], timeout=timeout, check=check)


def full(results):
    """All the points: a step none of whose groups can run here (every one
    skipped: no io_uring, no qemu) has none to lose, and counts as not full."""
    total = sum(r[1] for r in results)
    return total > 0 and sum(r[2] for r in results) == total


def graded_lines(out, step):
    """The lines `make grade` printed for step's groups."""
    lines = out.splitlines()
    start = lines.index(f"== {step}") + 1
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("   "))
    return lines[start:end]


def table(results):
    return "\n".join(f"{group}: {note} {got}/{points}" for group, points, got, note in results)


# The edition starts from the reference's plain and aarch64 builds (no
# sanitizer builds): every file keeps its time stamp, so make in the edition
# compiles again exactly what the edition changed.
SANITIZED = ("-asan", "-tsan", "-ubsan")
GIT_ENV = {"GIT_AUTHOR_NAME": "student", "GIT_AUTHOR_EMAIL": "student@example.org",
           "GIT_COMMITTER_NAME": "student", "GIT_COMMITTER_EMAIL": "student@example.org"}


def seed_build(dest):
    for folder in [os.path.relpath(os.path.dirname(m), ROOT) for m in workshop.step_makefiles(ROOT)]:
        for name in os.listdir(path(folder)):
            mine, theirs = path(folder, name), dest / folder / name
            if os.path.lexists(theirs) or name.endswith(SANITIZED) or name.startswith(".obj-bug"):
                continue
            if name in (".obj", ".obj-aarch64"):
                shutil.copytree(mine, theirs, symlinks=True)
            elif os.path.isfile(mine) and not name.startswith(".") and os.access(mine, os.X_OK):
                shutil.copy2(mine, theirs)


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    """A student edition, its graded steps built (with -Werror, the default)."""
    dest = tmp_path_factory.mktemp("workshop") / "edition"
    out = make("student", f"DEST={dest}").stdout
    assert out.startswith(f"workshop: wrote the student edition to {dest}: {len(REGIONS)} lessons"), out
    run(["sh", "-c", DOC_COMMANDS[1].replace("../async-workshop", str(dest))], env=GIT_ENV, timeout=120)
    assert run(["git", "-C", dest, "status", "--porcelain"]).stdout == ""
    seed_build(dest)
    make("-j2", cwd=dest)  # the guide's `make`, on both cores
    return dest


@pytest.fixture(scope="module")
def stubbed_scores(edition):
    """{step: results} of the edition as it is handed out."""
    return {step: workshop.grade_step(str(edition), step, groups, PYTHON, quiet=True)
            for step, groups in GRADES.items()}


@pytest.fixture(scope="module")
def restored(edition, stubbed_scores):
    """The edition with every lesson written as the reference has it, and what
    `make grade` prints there."""
    for rel in {r.path for r in REGIONS}:
        shutil.copyfile(path(rel), edition / rel)
    make("-j2", *[f"all-{step}" for step in GRADES], cwd=edition)  # both cores, then grade
    return edition, make("grade", cwd=edition, timeout=300).stdout


def test_every_lesson_is_in_a_graded_step():
    """A lesson whose step is not graded could be left out without anyone noticing."""
    assert REGIONS, "no LESSON region anywhere"
    for r in REGIONS:
        assert workshop.step_of(r.path) in GRADES, f"{r.path}: LESSON {r.name} is in no graded step"
    assert {workshop.step_of(r.path) for r in REGIONS} == set(GRADES), \
        "a graded step holds no lesson: its points never move"


def test_edition_builds_and_holds_only_stubs(edition):
    """The student's first make fails with -Werror, or a lesson kept its reference code."""
    for r in REGIONS:
        lines = workshop.read_lines(edition / r.path)
        regions = {x.name: x for x in workshop.parse(r.path, lines)}
        mine = regions[r.name]
        assert lines[mine.body:mine.end] == r.stub_lines(), f"{r.path}: LESSON {r.name}"
    for step in GRADES:  # built by the fixture (-Werror is the default): nothing is left to do
        result = make("all", cwd=edition / step)
        assert result.stdout == "" and result.stderr == "", result


def test_edition_shows_no_reference_code(edition):
    """A student can read a lesson's answer somewhere in the edition (a changed copy, a generated file)."""
    assert workshop.leaks(ROOT, str(edition)) == []


def test_a_lesson_in_a_coroutine_source_is_written_once(edition):
    """A lesson in corofy's input is listed again in the file corofy writes, or the edition keeps that file's answer."""
    inputs = [r for r in REGIONS if os.path.exists(path(r.path[:-len(".c")] + "_corofied.c"))]
    assert inputs, "no lesson in a coroutine source: this path goes untested"
    assert [r.path for r in REGIONS if r.path.endswith("_corofied.c")] == []
    for r in inputs:  # make wrote it again, from the stubbed source
        with open(edition / (r.path[:-len(".c")] + "_corofied.c"), encoding="utf-8") as f:
            assert r.stub[-1].strip() in f.read(), r.path
    assert not os.path.exists(edition / "corofy" / "fuzz" / "corpus"), "the fuzz seeds copy the lessons"


def test_later_copies_of_a_lesson_link_to_it(edition):
    """A student writes a lesson once; a later step that copies the file must build with it."""
    linked = [os.path.join(d, f) for d, _, fs in os.walk(edition) for f in fs
              if os.path.islink(os.path.join(d, f))]
    assert linked
    for link in linked:
        assert os.path.exists(link), f"{link} points nowhere"
        assert not os.path.isabs(os.readlink(link)), f"{link}: an absolute link breaks when the edition moves"
    assert os.path.islink(edition / "ch05-runtime" / "d-multi-thread" / "reactor.c")


def test_every_graded_step_of_the_edition_scores_below_full(stubbed_scores):
    """The edition hands out a step whose tests pass with its lessons missing."""
    for step, results in stubbed_scores.items():
        assert not full(results), f"{step}:\n{table(results)}"


def test_make_hint_starts_with_the_first_step_short_of_marks(edition, stubbed_scores):
    """make hint without STEP sends a student who has written nothing past chapter 1."""
    out = make("hint", cwd=edition, timeout=300).stdout
    assert out.startswith("== ch01-block-on: 2 lessons\n"), out


def test_the_reference_lessons_score_full_marks(restored):
    """make grade in a tree with every lesson written does not print full marks."""
    _, out = restored
    score = out.strip().splitlines()[-1]
    got, total = score.removeprefix("score: ").split("/")
    assert score.startswith("score: ") and got == total and int(total) > 0, out
    for step in GRADES:
        assert f"== {step}\n" in out, out


@pytest.mark.parametrize("region", REGIONS, ids=[f"{workshop.step_of(r.path)}:{r.name}" for r in REGIONS])
def test_each_lesson_alone_costs_points(restored, region):
    """A lesson whose absence no graded test notices gives the student a free pass."""
    edition, out = restored
    step = workshop.step_of(region.path)
    if all("skipped, not counted" in line for line in graded_lines(out, step)):
        pytest.skip(f"this machine runs none of {step}'s graded tests")
    target = edition / region.path
    lines = workshop.read_lines(path(region.path))
    try:
        with open(target, "w", encoding="utf-8") as f:
            f.writelines(workshop.stubbed(lines, REGIONS_OF[region.path], only=region.name))
        results = workshop.grade_step(str(edition), step, GRADES[step], PYTHON, quiet=True)
    finally:
        shutil.copyfile(path(region.path), target)
    assert not full(results), f"{step} without LESSON {region.name}:\n{table(results)}"


def test_make_grade_in_the_reference_prints_full_marks():
    """make grade STEP=... in the reference workbook finds a failure or grades the wrong step."""
    out = make("grade", "STEP=ch01-block-on", timeout=300).stdout
    assert out.startswith("== ch01-block-on\n"), out
    assert out.strip().splitlines()[-1] == "score: 5/5", out


def test_make_hint_prints_the_lessons_of_a_step():
    """make hint shows nothing useful, or the lessons of another step."""
    out = make("hint", "STEP=ch01-block-on").stdout
    lines = out.splitlines()
    assert lines[0] == "== ch01-block-on: 2 lessons", out
    assert lines[1].startswith("ch01-block-on/block_on.c:") and "LESSON park: " in lines[1], out
    assert lines[2].startswith("    hint: Under parker->lock, pthread_cond_wait"), out
    assert "LESSON waker-vtable: " in out


def test_make_hint_and_grade_refuse_an_ungraded_step():
    """A mistyped STEP is graded as nothing (score 0/0) instead of named."""
    for command in (["make", "-s", "-C", ROOT, "hint", "STEP=ch09-nowhere"],
                    [path("scripts", "workshop"), "grade", "ch09-nowhere"]):
        result = run(command, check=False)
        assert result.returncode != 0
        assert "workshop: STEP ch09-nowhere is not graded; graded steps: ch01-block-on " in result.stderr


@pytest.mark.parametrize("dest,message", [
    ("", "make student needs DEST=<folder outside the repository>"),
    (ROOT + "/ed", f"DEST {ROOT}/ed is inside the repository; choose a folder outside it"),
    (ROOT, f"DEST {ROOT} is inside the repository; choose a folder outside it"),
])
def test_make_student_refuses_a_bad_dest(dest, message):
    """make student writes into the repository, or goes ahead without a DEST."""
    result = run(["make", "-s", "--no-print-directory", "-C", ROOT, "student", f"DEST={dest}"], check=False)
    assert result.stderr.splitlines()[0] == f"workshop: {message}", result.stderr
    assert result.stdout == ""
    assert result.returncode != 0 and not os.path.exists(os.path.join(ROOT, "ed"))


def test_student_refusal_is_exit_status_2(tmp_path):
    """A refused DEST exits like any other usage error of the workbook's tools."""
    (tmp_path / "my-work.c").write_text("int x;\n")
    result = run([path("scripts", "workshop"), "student", str(tmp_path)], check=False)
    assert result.returncode == 2, result
    assert result.stderr == f"workshop: DEST {tmp_path} exists and is not an empty folder\n", result
    assert os.listdir(tmp_path) == ["my-work.c"]


def test_make_watch_regrades_on_a_save_and_stops_on_ctrl_c():
    """make watch misses a save, or Ctrl-C leaves a traceback or a process behind."""
    if shutil.which("inotifywait") is None:
        pytest.skip("inotifywait is not installed (scripts/test-deps installs it)")
    proc = subprocess.Popen(["make", "-s", "--no-print-directory", "-C", ROOT, "watch", "STEP=ch01-block-on"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    out = ""
    try:
        while out.count("waiting for a save") < 1:
            line = proc.stdout.readline()
            assert line, out
            out += line
        time.sleep(0.5)  # let inotifywait set up its watches
        with open(path("ch01-block-on", "main.c"), "a"):
            pass  # a save that changes nothing: graded again, nothing rebuilt
        while out.count("waiting for a save") < 2:
            line = proc.stdout.readline()
            assert line, out
            out += line
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGINT)
        rest, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    out += rest
    assert out.count("score: 5/5") == 2, out
    assert out.rstrip().endswith("workshop: stopped watching"), out
    assert "Traceback" not in out and "Error" not in out, out
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)  # nothing of the group is left


def test_watch_says_so_when_inotifywait_is_missing():
    """make watch without inotify-tools fails with a traceback instead of saying what to install."""
    env = {"PATH": "/nonexistent"}
    result = subprocess.run([workshop.sys.executable, path("scripts", "workshop"), "watch", "ch01-block-on"],
                            env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert result.stderr == ("workshop: inotifywait is missing: install Debian's inotify-tools "
                             "(scripts/test-deps does)\n")


def test_marker_mistakes_are_one_line():
    """A LESSON marker without its END, or without a stub, breaks make student with a traceback."""
    cases = {
        "/* LESSON a: task\n * stub: return; */\nx\n": "f.c: LESSON a has no END LESSON a",
        "/* LESSON a: task\n * hint: h */\nx\n/* END LESSON a */\n": "f.c:1: LESSON a has no stub",
        "x\n/* END LESSON a */\n": "f.c:2: END LESSON a closes no open LESSON a",
        "/* LESSON a: t\n * stub: s */\n/* LESSON b: t\n * stub: s */\n":
            "f.c:3: LESSON b opens inside LESSON a",
    }
    for text, message in cases.items():
        with pytest.raises(workshop.MarkerError, match=f"^{message}$"):
            workshop.parse("f.c", text.splitlines(keepends=True))


def test_the_guide_shows_the_commands_these_tests_run():
    """docs/workshop.md tells instructors a command that nothing here checks."""
    with open(GUIDE, encoding="utf-8") as f:
        text = f.read()
    shown = [line[2:] for block in text.split("```shell\n")[1:]
             for line in block.split("```")[0].splitlines() if line.startswith("$ ")]
    assert shown == DOC_COMMANDS, shown
    lines = len(text.splitlines())
    assert lines < 160, f"docs/workshop.md is {lines} lines: keep it to one page"
