"""Copies between steps, across chapters too, are deliberate and machine-checked.

Every step but the few where a new line of ideas starts has a file named
INHERITED that names the step it starts from and the files it copies:

    parent   <step it starts from, relative to this step>
    <file>   <source, relative to this step>   same|changed

`same` files must stay byte-identical to their source, so a fix made in one
step is made in every step that claims to share the file; `changed` marks a
file that starts from the source on purpose and then differs. A file that is
identical to a same-named file of any earlier step must be declared.
`make diff` (scripts/step-diff) shows a step's diff against its parent.
"""
import filecmp
import os

import pytest

from workbook import ROOT, run

# Where a new line of ideas starts: these steps have no parent.
ROOTS = {"ch01-block-on", "ch02-epoll", "ch03-fibers/a-stack-swap"}


def _all_steps():
    """Every chapter step, in the order a student meets them."""
    steps = []
    for chapter in sorted(os.listdir(ROOT)):
        cdir = os.path.join(ROOT, chapter)
        if not (chapter.startswith("ch0") and os.path.isdir(cdir)):
            continue
        if os.path.exists(os.path.join(cdir, "Makefile")):
            steps.append(cdir)
        steps += [os.path.join(cdir, s) for s in sorted(os.listdir(cdir))
                  if os.path.exists(os.path.join(cdir, s, "Makefile"))]
    return steps


def _manifest(step):
    """(parent or None, {file: (source, how)}) from step/INHERITED."""
    parent, entries = None, {}
    mpath = os.path.join(step, "INHERITED")
    if not os.path.exists(mpath):
        return parent, entries
    with open(mpath, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            if fields[0] == "parent":
                assert len(fields) == 2 and parent is None, \
                    f"{mpath}:{n}: expected one 'parent <dir>' line, got {line.strip()!r}"
                parent = os.path.normpath(os.path.join(step, fields[1]))
                continue
            assert len(fields) == 3 and fields[2] in ("same", "changed"), \
                f"{mpath}:{n}: expected '<file> <source> same|changed', got {line.strip()!r}"
            entries[fields[0]] = (fields[1], fields[2])
    return parent, entries


STEPS = _all_steps()
IDS = [os.path.relpath(s, ROOT) for s in STEPS]


@pytest.mark.parametrize("step", STEPS, ids=IDS)
def test_every_step_names_the_step_it_starts_from(step):
    """A step with no parent leaves `make diff` nothing to show and the reader no way back."""
    rel = os.path.relpath(step, ROOT)
    parent, _ = _manifest(step)
    if rel in ROOTS:
        assert parent is None, f"{rel} starts a line of ideas and should name no parent"
        return
    assert parent is not None, f"{rel}/INHERITED has no 'parent <dir>' line"
    assert parent in STEPS, f"{rel}/INHERITED: parent {os.path.relpath(parent, ROOT)} is not a step"
    assert STEPS.index(parent) < STEPS.index(step), f"{rel}'s parent comes after it"


@pytest.mark.parametrize("index", range(len(STEPS)), ids=IDS)
def test_inherited_files_match_their_manifest(index):
    """A shared file that drifted from its source step means a fix reached only one copy."""
    step, earlier = STEPS[index], STEPS[:index]
    _, manifest = _manifest(step)
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


@pytest.mark.parametrize("step", STEPS, ids=IDS)
def test_make_diff_shows_the_step_against_its_parent(step):
    """`make diff` must name the parent and show only real differences, never fail."""
    result = run(["make", "-s", "--no-print-directory", "-C", step, "diff"])
    first = result.stdout.split("\n", 1)[0]
    rel = os.path.relpath(step, ROOT)
    parent, manifest = _manifest(step)
    if parent is None:
        assert first.startswith(f"{rel} starts from nothing"), first
        return
    assert first.startswith(f"{rel} starts from {os.path.relpath(parent, ROOT)}:"), first
    for name, (_, how) in manifest.items():
        if how == "same":   # identical copies add nothing to the lesson
            assert f"+++ {rel}/{name}\n" not in result.stdout, name
