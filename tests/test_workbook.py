"""Tests of the workbook's own machinery: the README matcher, the test set-up, the tour."""
import os
import re

import pytest

from workbook import ROOT, match_lines, path, readme_blocks, recorded, run, whole_run_or_skip


def test_placeholders_match_varying_text():
    """A README block with <elapsed> must accept any value there, and nothing else may vary."""
    assert match_lines(["ELAPSED TIME: <elapsed>"], ["ELAPSED TIME: 0.25"])
    assert not match_lines(["ELAPSED TIME: <elapsed>"], ["ELAPSED: 0.25"])
    assert not match_lines(["ELAPSED TIME: <elapsed>"], ["ELAPSED TIME: "])
    assert not match_lines(["a", "b"], ["a"])
    assert not match_lines(["a"], ["a", "b"])


def test_ellipsis_matches_any_number_of_lines():
    """A '...' line in a README block stands for zero or more lines, never for a missing one."""
    assert match_lines(["start", "...", "end"], ["start", "end"])
    assert match_lines(["start", "...", "end"], ["start", "x", "y", "end"])
    assert not match_lines(["start", "...", "end"], ["start", "x"])
    assert not match_lines([], ["unexpected"])


def test_optional_lines_may_be_missing_but_nothing_else():
    """An optional README line may be absent from the output; any other line, or a changed one, still fails."""
    expected = ["a", "sleep", "b", "sleep", "c"]
    assert match_lines(expected, ["a", "b", "sleep", "c"], optional="^sleep$")
    assert match_lines(expected, ["a", "b", "c"], optional="^sleep$")
    assert not match_lines(expected, ["a", "c"], optional="^sleep$")
    assert not match_lines(expected, ["a", "b", "c", "sleep"], optional="^sleep$")
    assert not match_lines(expected, ["a", "b", "c"])


def test_readme_blocks_are_found(tmp_path):
    """A README's ```shell block must be read as command plus output lines."""
    readme = tmp_path / "README.md"
    readme.write_text("text\n```shell\n$ ./demo -n 2\none\ntwo\n```\n```shell\nno prompt\n```\n")
    assert readme_blocks(str(readme)) == [("./demo -n 2", ["one", "two"])]


def test_test_deps_names_an_interpreter_with_pytest():
    """make test must find a python3 that can import pytest, not just the first on PATH."""
    py = run([path("scripts", "test-deps"), "--python"]).stdout.strip()
    assert os.path.isabs(py)
    run([py, "-c", "import pytest"])


def _step_folders():
    return sorted(d for d, _, files in os.walk(ROOT) if "Makefile" in files and d != ROOT
                  and os.path.relpath(d, ROOT).startswith(("ch0", "delayserver", "corofy", "common")))


def _readmes():
    """Every README and GOING-DEEPER page of the chapters, the tools and common/."""
    found = []
    for folder in sorted({os.path.dirname(d) if os.path.relpath(d, ROOT).count(os.sep) else d
                          for d in _step_folders()} | set(_step_folders())):
        for name in ("README.md", "GOING-DEEPER.md"):
            if os.path.exists(os.path.join(folder, name)):
                found.append(os.path.join(folder, name))
    return found


def test_every_step_has_makefile_and_readme():
    """Each step a student opens must build on its own and explain itself in a README of its own."""
    steps = _step_folders()
    assert len(steps) > 20, "no chapter or tool folder with a Makefile"
    missing = [os.path.relpath(s, ROOT) for s in steps if not os.path.exists(os.path.join(s, "README.md"))]
    assert not missing, f"no README.md in {missing}"


README_CORE_MAX = 300


def test_every_readme_core_fits_a_workshop():
    """A step README that runs on for pages buries the lesson; the long parts belong in GOING-DEEPER.md."""
    long = []
    for readme in _readmes():
        if readme.endswith("README.md"):
            with open(readme, encoding="utf-8") as f:
                n = sum(1 for _ in f)
            if n > README_CORE_MAX:
                long.append(f"{os.path.relpath(readme, ROOT)}: {n} lines")
    assert not long, f"README cores over {README_CORE_MAX} lines: {long}"


@pytest.mark.whole_run
def test_every_readme_block_is_checked():
    """A README block no test compares with the real output drifts from the program unseen."""
    if "sanitizer" in whole_run_or_skip()["markexpr"]:
        pytest.skip("a run of the sanitizer tests alone checks no README block")
    checked = set(recorded("readme"))
    unchecked = [f"{os.path.relpath(readme, ROOT)}: $ {command}"
                 for readme in _readmes() for command, _ in readme_blocks(readme)
                 if (os.path.abspath(readme), command) not in checked]
    assert not unchecked, "README blocks that no test checked:\n  " + "\n  ".join(unchecked)


def test_sanitizer_choice_is_checked():
    """A typo in SANITIZER= must stop the build instead of silently building without it."""
    result = run(["make", "-s", "-C", path("delayserver"), "SANITIZER=adress"], check=False)
    assert result.returncode != 0
    assert "SANITIZER must be" in result.stderr


@pytest.mark.slow
def test_tour_runs_every_chapter():
    """make tour must start its own server, run every chapter with a banner, stay short, and clean up."""
    result = run(["make", "-s", "-C", ROOT, "tour"], env={"TOUR_SPEEDUP": "10"}, timeout=300)
    out = result.stdout
    assert re.search(r"^tour: delayserver listening on 127\.0\.0\.1:\d+ \(speedup 10\)$", out, re.M)
    steps = sorted(os.path.relpath(os.path.dirname(p), ROOT)
                   for p in _chapter_makefiles())
    banners = re.findall(r"^=+ (\S+) =+$", out, re.M)
    assert banners == steps
    assert re.search(r"\ntour: done( \(\d+ skipped\))?$", out.rstrip())
    lines = out.count("\n")
    assert lines < 250, f"the tour printed {lines} lines; a reader skims it in under 250"
    # A long output is cut in the middle, and the cut says how to see it all.
    cuts = re.findall(r"^   \[\.\.\. (\d+) more lines: make -C (\S+) run \.\.\.\]$", out, re.M)
    assert cuts and all(step in steps for _, step in cuts), cuts


def _chapter_makefiles():
    for entry in sorted(os.listdir(ROOT)):
        if not entry.startswith("ch0"):
            continue
        top = os.path.join(ROOT, entry, "Makefile")
        if os.path.exists(top):
            yield top
        for step in sorted(os.listdir(os.path.join(ROOT, entry))):
            mk = os.path.join(ROOT, entry, step, "Makefile")
            if os.path.exists(mk):
                yield mk


def test_no_source_or_page_cites_a_planning_issue():
    """A source or README that cites a numbered planning issue points at a page no reader can see."""
    listed = run(["git", "ls-files", "-z"], cwd=ROOT, check=False).stdout
    pattern = re.compile(r"\bissues? #?\d+", re.I)
    cited = []
    for name in filter(None, listed.split("\0")):
        full = os.path.join(ROOT, name)
        if name.startswith("bench/results") or not os.path.isfile(full):
            continue
        try:
            with open(full, encoding="utf-8") as f:
                for n, line in enumerate(f, 1):
                    if pattern.search(line):
                        cited.append(f"{name}:{n}: {line.strip()}")
        except UnicodeDecodeError:
            continue  # a picture or another binary file
    assert not cited, "planning issues cited:\n  " + "\n  ".join(cited)


def test_no_build_output_is_committed():
    """A committed program goes stale the moment its source changes, and runs instead of the real one."""
    listed = run(["git", "ls-files", "-z"], cwd=ROOT, check=False).stdout
    programs = []
    for name in filter(None, listed.split("\0")):
        full = os.path.join(ROOT, name)
        if os.path.isfile(full):
            with open(full, "rb") as f:
                if f.read(4) == b"\x7fELF":
                    programs.append(name)
    assert not programs, f"build outputs in git: {programs}"
