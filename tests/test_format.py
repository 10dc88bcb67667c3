"""Every C file of the workbook is laid out by the repository's .clang-format.

A student who runs clang-format on a file they edited should see only their
own change move, never a reformatting of code they did not touch. Left out:
the files corofy writes (*_corofied.c, laid out by corofy itself) and
corofy's test inputs, whose odd layout is what they test.
"""
import os
import shutil
import subprocess

import pytest

from workbook import ROOT

CLANG_FORMAT = shutil.which("clang-format")


def c_files():
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard",
                             "*.c", "*.h"], cwd=ROOT, capture_output=True, check=False)
    names = [os.fsdecode(n) for n in listed.stdout.split(b"\0") if n]
    return sorted(n for n in names
                  if not n.endswith("_corofied.c")
                  and not n.startswith("corofy/tests/")
                  and "/fuzz/corpus/" not in n
                  and os.path.isfile(os.path.join(ROOT, n)))


FILES = c_files()


def test_there_are_files_to_check():
    """If the list is empty, the check below checks nothing."""
    assert len(FILES) > 50, FILES


@pytest.mark.skipif(CLANG_FORMAT is None, reason="clang-format is not installed (apt-get install clang-format)")
def test_every_c_file_follows_clang_format():
    """A file that clang-format would change makes a student's diff show lines they never touched."""
    bad = []
    for start in range(0, len(FILES), 50):
        batch = FILES[start:start + 50]
        result = subprocess.run([CLANG_FORMAT, "--dry-run", "--Werror", *batch], cwd=ROOT,
                                capture_output=True, text=True, check=False)
        if result.returncode != 0:
            bad += sorted({line.split(":", 1)[0] for line in result.stderr.splitlines()
                           if ": error:" in line})
    assert not bad, "not laid out by .clang-format (run clang-format -i on them):\n  " + "\n  ".join(bad)
