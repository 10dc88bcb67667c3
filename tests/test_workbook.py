"""Tests of the workbook's own machinery: the README matcher, the test set-up, the tour."""
import os
import re

import pytest

from workbook import ROOT, match_lines, path, readme_blocks, run


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


def test_every_step_has_makefile_and_readme():
    """Each chapter step a student opens must build on its own and explain itself."""
    steps = [d for d, _, files in os.walk(ROOT) if "Makefile" in files and d != ROOT
             and os.path.relpath(d, ROOT).startswith(("ch0", "delayserver", "corofy"))]
    assert steps, "no chapter or tool folder with a Makefile"
    for step in steps:
        rel = os.path.relpath(step, ROOT)
        chapter = os.path.join(ROOT, rel.split(os.sep)[0])
        assert os.path.exists(os.path.join(step, "README.md")) or \
            os.path.exists(os.path.join(chapter, "README.md")), f"{rel} has no README.md"


def test_sanitizer_choice_is_checked():
    """A typo in SANITIZER= must stop the build instead of silently building without it."""
    result = run(["make", "-s", "-C", path("delayserver"), "SANITIZER=adress"], check=False)
    assert result.returncode != 0
    assert "SANITIZER must be" in result.stderr


@pytest.mark.slow
def test_tour_runs_every_chapter():
    """make tour must start its own server, run every chapter with a banner, and clean up."""
    result = run(["make", "-s", "-C", ROOT, "tour"], env={"TOUR_SPEEDUP": "20"}, timeout=300)
    out = result.stdout
    assert re.search(r"^tour: delayserver listening on 127\.0\.0\.1:\d+ \(speedup 20\)$", out, re.M)
    steps = sorted(os.path.relpath(os.path.dirname(p), ROOT)
                   for p in _chapter_makefiles())
    banners = re.findall(r"^=+ (\S+) =+$", out, re.M)
    assert banners == steps
    assert out.rstrip().endswith("tour: done")


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
