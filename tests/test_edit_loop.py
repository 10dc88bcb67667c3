"""The edit loop: a student edits a source, runs make, and runs what they wrote.

The coroutine sources are not compiled themselves: corofy turns NAME.c into
NAME_corofied.c, and make must do that again whenever NAME.c (or corofy)
changes, building corofy first on a fresh clone. These tests work in a copy
of the repository's tracked files, as a fresh clone would have them.
"""
import os
import re

import pytest

from workbook import ROOT, copy_tracked_tree, run

MARK = "edited by the edit-loop test"


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """The tracked files of the working tree, copied without any build output."""
    dest = tmp_path_factory.mktemp("clone")
    if not copy_tracked_tree(dest):
        pytest.skip("not a git checkout: no list of tracked files")
    return dest


def corofy_steps():
    """(step, program, coroutine source) for every step whose program is written by corofy."""
    found = []
    for dirpath, _, names in sorted(os.walk(ROOT)):
        rel = os.path.relpath(dirpath, ROOT)
        if "Makefile" not in names or not rel.startswith("ch0"):
            continue
        with open(os.path.join(dirpath, "Makefile"), encoding="utf-8") as f:
            text = f.read()
        prog = re.search(r"^PROG\s*:=\s*(\S+)", text, re.M)
        srcs = re.search(r"^SRCS\s*:=\s*(.*)$", text, re.M)
        generated = [s for s in srcs.group(1).split() if s.endswith("_corofied.c")] if srcs else []
        if prog and generated:
            found.append((rel, prog.group(1), generated[0][:-len("_corofied.c")] + ".c"))
    return found


STEPS = corofy_steps()


def test_there_are_coroutine_steps():
    """If this finds none, the tests below check nothing."""
    assert len(STEPS) >= 8, STEPS


@pytest.mark.parametrize("step,prog,source", STEPS, ids=[s for s, _, _ in STEPS])
def test_an_edit_to_a_coroutine_source_reaches_the_program(clone, step, prog, source):
    """Edit the coroutine source, run make: the program must run the edited code, not a stale copy."""
    folder = os.path.join(clone, step)
    path = os.path.join(folder, source)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    main = re.search(r"^int main\(int argc, char \*\*argv\)\n\{\n", text, re.M)
    if main:
        edited = text[:main.end()] + f'    fprintf(stderr, "{MARK}\\n");\n' + text[main.end():]
    else:  # main() is in another file (k-coroserver's is delayserver's): a function that runs first
        edited = text + ("\n__attribute__((constructor)) static void edited(void)\n"
                         f'{{\n    fprintf(stderr, "{MARK}\\n");\n}}\n')
    with open(path, "w", encoding="utf-8") as f:
        f.write(edited)
    build = run(["make", "--no-print-directory", "-C", folder], timeout=300)
    assert f"GEN  {step}/{source[:-2]}_corofied.c" in build.stdout, build.stdout
    result = run([os.path.join(folder, prog), "--help"], check=False, timeout=30)
    assert result.stderr.startswith(MARK + "\n"), (result.stdout, result.stderr)
    with open(os.path.join(folder, source[:-2] + "_corofied.c"), encoding="utf-8") as f:
        assert MARK in f.read(), "the generated file was not written again"


def test_an_edited_printf_in_a_coroutine_shows_when_run(clone, delayserver):
    """The student's first experiment: change what a coroutine prints, make, run, and see it."""
    step, prog, source = next(s for s in STEPS if s[0].startswith("ch05-runtime/"))
    folder = os.path.join(clone, step)
    path = os.path.join(folder, source)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    coroutine = re.search(r"^coroutine .*?\n\}\n", text, re.M | re.S)
    assert coroutine and 'printf("' in coroutine.group(0), f"{step}/{source}: no coroutine that prints"
    body = coroutine.group(0).replace('printf("', f'printf("{MARK}: ', 1)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text[:coroutine.start()] + body + text[coroutine.end():])
    run(["make", "-s", "--no-print-directory", "-C", folder], timeout=300)
    result = run([os.path.join(folder, prog)], timeout=60)
    assert re.search(f"^{MARK}: ", result.stdout, re.M), result.stdout
