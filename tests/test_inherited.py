"""Copies between chapter steps are deliberate and machine-checked.

A step that carries files over from an earlier step lists them in a file
named INHERITED, one line each:

    <file>   <source, relative to the step>   same|changed

`same` files must stay byte-identical to their source, so a fix made in one
step is made in every step that claims to share the file; `changed` marks a
file that starts from the source on purpose and then differs. A file that is
identical to a same-named file of an earlier step must be declared.
"""
import filecmp
import os

import pytest

from workbook import ROOT


def _steps():
    for chapter in sorted(os.listdir(ROOT)):
        cdir = os.path.join(ROOT, chapter)
        if not (chapter.startswith("ch0") and os.path.isdir(cdir)):
            continue
        steps = [os.path.join(cdir, s) for s in sorted(os.listdir(cdir))
                 if os.path.exists(os.path.join(cdir, s, "Makefile"))]
        for i, step in enumerate(steps):
            yield step, steps[:i]


def _manifest(step):
    entries = {}
    mpath = os.path.join(step, "INHERITED")
    if not os.path.exists(mpath):
        return entries
    with open(mpath, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            fields = line.split()
            assert len(fields) == 3 and fields[2] in ("same", "changed"), \
                f"{mpath}:{n}: expected '<file> <source> same|changed', got {line!r}"
            entries[fields[0]] = (fields[1], fields[2])
    return entries


STEPS = list(_steps())


@pytest.mark.parametrize("step,earlier", STEPS, ids=[os.path.relpath(s, ROOT) for s, _ in STEPS])
def test_inherited_files_match_their_manifest(step, earlier):
    """A shared file that drifted from its source step means a fix reached only one copy."""
    manifest = _manifest(step)
    for name, (source, how) in manifest.items():
        mine, theirs = os.path.join(step, name), os.path.normpath(os.path.join(step, source))
        assert os.path.exists(mine), f"{step}/INHERITED lists {name}, which does not exist"
        assert os.path.exists(theirs), f"{step}/INHERITED: source {source} does not exist"
        same = filecmp.cmp(mine, theirs, shallow=False)
        if how == "same":
            assert same, f"{os.path.relpath(mine, ROOT)} differs from {source}; " \
                         "make the same change in both, or mark it 'changed'"
        else:
            assert not same, f"{os.path.relpath(mine, ROOT)} is identical to {source}; mark it 'same'"
    for name in sorted(os.listdir(step)):
        mine = os.path.join(step, name)
        if not os.path.isfile(mine) or name in manifest or name in ("Makefile", ".gitignore", "INHERITED"):
            continue
        for prev in earlier:
            theirs = os.path.join(prev, name)
            if os.path.isfile(theirs) and filecmp.cmp(mine, theirs, shallow=False):
                pytest.fail(f"{os.path.relpath(mine, ROOT)} is a copy of "
                            f"{os.path.relpath(theirs, ROOT)}: declare it in {os.path.relpath(step, ROOT)}/INHERITED")
