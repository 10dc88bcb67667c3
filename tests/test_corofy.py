"""corofy: golden outputs, every error, the command line (-o, -o -, --check,
--line, --sequential), runnable cases against their sequential twins, -Werror
compiles of everything corofy generates, the defects adversarial inputs
found (each with the input that showed it), memory and time on big inputs,
both fuzz targets, and corofy's own sources (formatted, short functions)."""
import concurrent.futures
import os
import re
import shutil
import stat
import subprocess

import pytest

from workbook import ROOT, assert_readme_output, fuzz_findings, path, run

COROFY_DIR = path("corofy")
CASES = path("corofy", "tests")
COROFY = path("corofy", "corofy")
COROFY_ASAN = path("corofy", "corofy-asan")
FUZZERS = {"fuzz_corofy": path("corofy", "fuzz", "fuzz_corofy"),
           "fuzz_compile": path("corofy", "fuzz", "fuzz_compile")}
# Inputs each target tries in make test (seeded: the same inputs every run);
# about ten seconds each on an idle machine.
FUZZ_RUNS = 5000
FUZZ_COMPILE_RUNS = 1500

# The workbook's warning flags: what every generated file must compile under.
WARN_FLAGS = ["-Wall", "-Wextra", "-Wshadow", "-Wstrict-prototypes", "-Wmissing-prototypes",
              "-Werror"]
CFLAGS = ["-std=c11", "-D_GNU_SOURCE", *WARN_FLAGS]
SAN_FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g", "-O1"]


def _inputs():
    return sorted(f[:-2] for f in os.listdir(CASES)
                  if f.endswith(".c") and not f.endswith("_corofied.c"))


def _read(*parts):
    with open(os.path.join(*parts), encoding="utf-8", errors="surrogateescape") as f:
        return f.read()


INPUTS = _inputs()
GOLDEN = [n for n in INPUTS if os.path.exists(os.path.join(CASES, n + "_corofied.c"))]
ERRORS = [n for n in INPUTS if os.path.exists(os.path.join(CASES, n + ".err"))]
RUNNABLE = [n for n in GOLDEN
            if n != "no_coroutine" and "int main(void)" in _read(CASES, n + ".c")]

# Every form a wait may take (corofy/README.md, "The dialect"), and the case
# that shows it: a golden output, and a program run against its twin.
FORMS = {
    "a statement of its own": "one_wait",
    "the initialiser of a variable": "locals",
    "assigned to a variable": "if_else",
    "returned": "several",
    "a compound assignment": "compound",
    "assigned to any place (*p, a[i], s.f, p->f)": "lvalues",
    "an argument": "arguments",
    "an operand, under a cast, a member access, nested, in a comma": "operands",
    "after && or || or in a branch of ?:": "short_circuit",
    "the condition of if, else if, while": "conditions",
    "the condition of do ... while": "do_while",
    "any part of a for header": "for_clauses",
    "the expression of a switch, and inside its cases": "switches",
    "returned in any expression": "returns",
    "the initialiser of an array, a struct, several declarators": "initialisers",
    "with goto and labels": "goto_labels",
    "several in one expression, left to right": "order",
    "frames in the caller's storage (/* corofy: init */)": "caller_storage",
}


def corofy(*args, cwd=CASES, check=False, binary=COROFY, **kwargs):
    return run([binary, *args], cwd=cwd, check=check, timeout=60, **kwargs)


def gcc(*args, cwd=None):
    return subprocess.run(["gcc", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def sequential_twin(source_path, twin_path):
    """The program without its dialect: corofy --sequential (coroutine and .wait out)."""
    corofy("--sequential", "-o", str(twin_path), source_path, check=True)


def child_usage(cmd, cwd=CASES):
    """(exit status, stderr, peak memory in KiB, CPU seconds) of one run of cmd, measured
    by GNU time: a child of this (big) Python would count Python's own memory too."""
    result = subprocess.run(["/usr/bin/time", "-f", "usage %M %U %S", *cmd], cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            timeout=300)
    err, _, last = result.stderr.rstrip("\n").rpartition("\n")
    if not last.startswith("usage "):
        err, last = result.stderr, "usage 0 0 0"
    peak, user, system = last.split()[1:]
    return result.returncode, err, int(peak), float(user) + float(system)


@pytest.fixture(scope="module", autouse=True)
def built():
    """corofy and corofy-asan are built (make is a no-op when they are current)."""
    run(["make", "-s", "-C", COROFY_DIR, "all", "asan"], timeout=300)


# ===== Golden outputs and errors =====

def test_every_case_has_exactly_one_expectation():
    """A case without an expected output or error would silently test nothing."""
    assert len(GOLDEN) >= 30 and len(ERRORS) >= 30
    for name in INPUTS:
        has_output = name in GOLDEN
        has_error = name in ERRORS
        assert has_output != has_error, f"{name}.c needs exactly one of {name}_corofied.c, {name}.err"
        assert name.startswith("err_") == has_error, f"{name}: error cases are named err_*"


@pytest.mark.parametrize("name", GOLDEN)
def test_golden_output(name, tmp_path):
    """corofy's output for a case changed, came out empty, or is not plain C."""
    expected = _read(CASES, name + "_corofied.c")
    result = corofy("-o", "-", name + ".c", check=True)
    assert expected.strip(), f"{name}_corofied.c is empty"
    assert result.stdout == expected, f"corofy {name}.c differs from {name}_corofied.c"
    if name != "no_coroutine":
        assert result.stdout.startswith(f"/* Generated by corofy from {name}.c: do not edit this "
                                        f"file.\n * Edit {name}.c and run make (corofy runs "
                                        f"again). */\n"), "the banner is missing"
        assert "_poll(struct future *self" in result.stdout
        assert re.search(r"^struct future \*|^static struct future \*", result.stdout, re.M)
        # Plain C: corofy finds no coroutine and no wait in its own output.
        again = corofy(name + "_corofied.c", "-o", str(tmp_path / "again.c"), check=True)
        assert "warning: no coroutine" in again.stderr
        assert (tmp_path / "again.c").read_text() == expected


@pytest.mark.parametrize("name", ERRORS)
def test_error(name, tmp_path):
    """A case corofy must refuse was accepted, or the message is not the one expected."""
    expected = _read(CASES, name + ".err")
    out = tmp_path / "out.c"
    result = corofy(name + ".c", "-o", str(out))
    assert result.returncode == 1, result.stderr
    assert re.fullmatch(rf"{name}\.c:\d+:\d+: error: .+\n", expected), expected
    assert result.stderr == expected
    assert not out.exists(), "an output file was written despite the error"
    assert result.stdout == ""

    out.write_text("previous output\n")
    assert corofy(name + ".c", "-o", str(out)).returncode == 1
    assert out.read_text() == "previous output\n", "an existing output was overwritten"

    shutil.copy(os.path.join(CASES, name + ".c"), tmp_path / "input.c")
    assert corofy("input.c", cwd=tmp_path).returncode == 1
    assert not (tmp_path / "input_corofied.c").exists()


def test_missing_file(tmp_path):
    """A missing input must give one clear line and a non-zero exit, and create nothing."""
    result = corofy("nowhere.c", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == "corofy: error: nowhere.c: No such file or directory\n"
    assert os.listdir(tmp_path) == []


@pytest.mark.sanitizer
def test_unreadable_input_leaks_nothing(tmp_path):
    """A directory given as the input leaked the buffer read so far (LeakSanitizer saw it)."""
    (tmp_path / "dir.c").mkdir()
    result = corofy("dir.c", cwd=tmp_path, binary=COROFY_ASAN, sanitizer=True)
    assert result.returncode == 1, result.stderr
    assert result.stderr == "corofy: error: dir.c: Is a directory\n"


def test_no_coroutine_is_copied_with_a_warning(tmp_path):
    """A file without coroutines must come out byte for byte, with a warning."""
    out = tmp_path / "copy.c"
    result = corofy("no_coroutine.c", "-o", str(out))
    assert result.returncode == 0
    assert result.stderr == ("no_coroutine.c: warning: no coroutine in this file; "
                             "the output is an unchanged copy\n")
    with open(os.path.join(CASES, "no_coroutine.c"), "rb") as f:
        assert out.read_bytes() == f.read()


def test_reserved_names_only_as_ordinary_identifiers(tmp_path):
    """`struct waker` or a member named `frame` is not a name corofy can shadow: it must pass."""
    src = tmp_path / "tags.c"
    src.write_text("/* corofy: waker */\n#include <stdio.h>\n#include <stdlib.h>\n"
                   '#include "future.h"\n'
                   "struct holder { int frame; };\n"
                   "static struct waker copy_waker(const struct waker *w) { return *w; }\n"
                   "static int member(struct holder *h) { return h->frame; }\n"
                   "coroutine int f(struct future *x) { int v = x.wait; return v; }\n")
    result = corofy(str(src), "-o", "-")
    assert result.returncode == 0, result.stderr
    assert "static struct waker copy_waker(const struct waker *w) { return *w; }" in result.stdout
    src.write_text("int waker;\ncoroutine int f(struct future *x) { int v = x.wait; return v; }\n")
    result = corofy(str(src), "-o", "-")
    assert result.returncode == 1
    assert "the name 'waker' is used by the code corofy generates" in result.stderr


# ===== The command line =====

def _copy_case(name, where):
    os.makedirs(where, exist_ok=True)
    shutil.copy(os.path.join(CASES, name + ".c"), where)
    shutil.copy(os.path.join(CASES, "future.h"), where)
    return os.path.join(where, name + ".c")


def test_default_output_beside_input_and_input_untouched(tmp_path):
    """corofy must write STEM_corofied.c next to the input and never modify the input."""
    source = _copy_case("several", tmp_path / "sub")
    before = open(source, "rb").read()
    stat = os.stat(source)
    result = corofy("sub/several.c", cwd=tmp_path, check=True)
    assert result.stdout == "" and result.stderr == ""
    assert (tmp_path / "sub" / "several_corofied.c").read_text() == _read(CASES, "several_corofied.c")
    assert open(source, "rb").read() == before
    assert os.stat(source).st_mtime_ns == stat.st_mtime_ns
    # An output that is already current is left alone (make sees nothing new).
    output = tmp_path / "sub" / "several_corofied.c"
    os.utime(output, ns=(1_000_000_000, 1_000_000_000))
    corofy("sub/several.c", cwd=tmp_path, check=True)
    assert os.stat(output).st_mtime_ns == 1_000_000_000


def test_output_option_and_stdout(tmp_path):
    """-o FILE must write FILE (and nothing else); -o - must write to stdout only."""
    _copy_case("loops", tmp_path)
    expected = _read(CASES, "loops_corofied.c")
    corofy("loops.c", "-o", "elsewhere.c", cwd=tmp_path, check=True)
    assert (tmp_path / "elsewhere.c").read_text() == expected
    assert not (tmp_path / "loops_corofied.c").exists()
    result = corofy("-o", "-", "loops.c", cwd=tmp_path, check=True)
    assert result.stdout == expected
    assert sorted(os.listdir(tmp_path)) == ["elsewhere.c", "future.h", "loops.c"]


def test_output_to_a_pipe_writes_in_place(tmp_path):
    """-o naming a FIFO (or a device such as /dev/null) must write into it, not rename a
    new file over it: as root that would replace /dev/null with a plain file."""
    _copy_case("loops", tmp_path)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    try:
        corofy("loops.c", "-o", str(fifo), cwd=tmp_path, check=True)
        out, _ = reader.communicate(timeout=60)
    finally:
        reader.kill()
    assert out.decode() == _read(CASES, "loops_corofied.c")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO was replaced by a plain file"
    assert sorted(os.listdir(tmp_path)) == ["future.h", "loops.c", "pipe"]


def test_refuses_to_overwrite_its_input(tmp_path):
    """-o naming the input itself must be refused, leaving the input intact."""
    source = _copy_case("one_wait", tmp_path)
    before = open(source, "rb").read()
    result = corofy("one_wait.c", "-o", "./one_wait.c", cwd=tmp_path)
    assert result.returncode == 1
    assert "would overwrite the input" in result.stderr
    assert open(source, "rb").read() == before


def test_check(tmp_path):
    """--check must pass on a current output, and fail with a unified diff on a stale one."""
    _copy_case("many_waits", tmp_path)
    out = tmp_path / "many_waits_corofied.c"
    corofy("many_waits.c", cwd=tmp_path, check=True)
    result = corofy("--check", "many_waits.c", cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")

    good = out.read_text()
    lines = good.split("\n")
    stale = lines[:]
    stale[40] = stale[40] + " /* edited by hand */"
    del stale[80]
    stale.insert(120, "int inserted;")
    out.write_text("\n".join(stale))
    result = corofy("--check", "many_waits.c", cwd=tmp_path)
    assert result.returncode == 1
    assert "many_waits_corofied.c is out of date" in result.stderr
    assert out.read_text() == "\n".join(stale), "--check must not write"
    # Same hunks as diff -u (from the line after the two header lines on).
    stale_file = tmp_path / "stale.c"
    stale_file.write_text("\n".join(stale))
    good_file = tmp_path / "good.c"
    good_file.write_text(good)
    reference = subprocess.run(["diff", "-u", str(stale_file), str(good_file)],
                               capture_output=True, text=True).stdout
    ours = result.stdout.split("\n", 2)
    assert ours[0] == "--- many_waits_corofied.c"
    assert ours[1] == "+++ many_waits_corofied.c (as corofy writes it now)"
    assert ours[2] == reference.split("\n", 2)[2]
    assert "-" + stale[40] in result.stdout and "+int inserted;" not in result.stdout

    out.unlink()
    result = corofy("--check", "many_waits.c", cwd=tmp_path)
    assert result.returncode == 1
    assert "No such file or directory" in result.stderr
    assert not out.exists()


def test_help_and_bad_usage():
    """--help must explain the tool; bad usage (--help extra too) must give one line and exit 2."""
    result = corofy("--help", check=True)
    assert result.stdout.startswith("usage: corofy [--check] [--line] [--sequential] [-o OUTPUT] "
                                    "FILE\n")
    for args in (["--frobnicate", "x.c"], [], ["-o"], ["a.c", "b.c"], ["--check", "-o", "-", "x.c"],
                 ["--help", "extra"], ["--sequential", "x.c"]):
        result = corofy(*args)
        assert result.returncode == 2, args
        assert result.stderr.count("\n") == 1 and "(try --help)" in result.stderr, args
        assert result.stdout == ""


def test_sequential_twin(tmp_path):
    """--sequential must drop exactly `coroutine` and `.wait` (through splices too), nothing else."""
    src = tmp_path / "twin.c"
    src.write_text("/* coroutine .wait */\nstatic coroutine int f(int n)\n{\n"
                   "    int x = g(n).wait + h().wa\\\nit;\n    s.wait = 1; /* .wait */\n"
                   "    return x;\n}\nstruct s v = { .wait = 1 };\n")
    corofy("--sequential", "-o", str(tmp_path / "out.c"), str(src), check=True)
    assert (tmp_path / "out.c").read_text() == (
        "/* coroutine .wait */\nstatic  int f(int n)\n{\n"
        "    int x = g(n) + h();\n    s = 1; /* .wait */\n"
        "    return x;\n}\nstruct s v = { .wait = 1 };\n")


def test_line_directives_compile_and_map_lines(tmp_path):
    """With --line, compiler errors must point at the student's file and line."""
    source = _read(CASES, "loops.c").split("\n")
    clean = tmp_path / "loops.c"
    clean.write_text("\n".join(source))
    shutil.copy(os.path.join(CASES, "future.h"), tmp_path)
    corofy("--line", "loops.c", cwd=tmp_path, check=True)
    generated = (tmp_path / "loops_corofied.c").read_text().split("\n")
    wait_line = next(i for i, line in enumerate(source) if "int v = ready_int(i % 3, i).wait;" in line)
    assert f'#line {wait_line + 1} "loops.c"' in generated
    # corofy's own lines point at themselves in the output file.
    own = [(i, line) for i, line in enumerate(generated) if line.endswith(' "loops_corofied.c"')]
    assert own
    for i, line in own:
        assert line == f'#line {i + 2} "loops_corofied.c"', (i, line)
    compiled = gcc(*CFLAGS, "-c", "loops_corofied.c", "-o", "loops.o", cwd=tmp_path)
    assert compiled.returncode == 0, compiled.stderr
    assert "#line" not in _read(CASES, "loops_corofied.c")

    # Plant mistakes: in a plain statement after a wait, in the future
    # expression of a wait, and in main (outside the coroutine).
    def line_of(text):
        return next(i for i, line in enumerate(source) if text in line)

    after_wait = line_of("total += v;")
    in_wait = line_of("int v = ready_int(i % 3, i).wait;")
    in_main = line_of("RUN(loops(5), total);")
    broken = source[:]
    broken[after_wait] = broken[after_wait].replace("total += v;", "total += undeclared_one;")
    broken[in_wait] = broken[in_wait].replace("ready_int(i % 3, i)", "ready_int(undeclared_two, i)")
    broken[in_main] = broken[in_main] + " undeclared_three = 1;"
    (tmp_path / "broken.c").write_text("\n".join(broken))
    corofy("--line", "broken.c", cwd=tmp_path, check=True)
    compiled = gcc(*CFLAGS, "-c", "broken_corofied.c", "-o", "broken.o", cwd=tmp_path)
    assert compiled.returncode != 0
    for name, index in (("undeclared_one", after_wait), ("undeclared_two", in_wait),
                        ("undeclared_three", in_main)):
        assert re.search(rf"^broken\.c:{index + 1}:\d+: error: .{name}. undeclared",
                         compiled.stderr, re.M), (name, index + 1, compiled.stderr)


# ===== The generated code compiles and runs =====

def test_generated_code_compiles_with_werror(tmp_path):
    """Every golden output (both flavours) must compile with the workbook's -Werror flags."""
    files = [os.path.join(CASES, n + "_corofied.c") for n in GOLDEN]
    assert any("const struct waker *waker" in _read(f) for f in files), "no waker-flavour case"
    assert any("struct waker *waker" not in _read(f) and "_poll(" in _read(f) for f in files)
    compiled = gcc(*CFLAGS, "-O2", "-I", CASES, "-c", *files, cwd=tmp_path)
    assert compiled.returncode == 0, compiled.stderr
    if shutil.which("clang"):
        compiled = subprocess.run(["clang", *CFLAGS, "-O2", "-I", CASES, "-c", *files],
                                  cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert compiled.returncode == 0, compiled.stderr


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
    """Every runnable case built twice: corofied (ASan+UBSan) and as its sequential twin."""
    where = tmp_path_factory.mktemp("runnable")

    def build(name):
        twin = where / (name + "_sequential.c")
        sequential_twin(os.path.join(CASES, name + ".c"), twin)
        co = gcc(*CFLAGS, *SAN_FLAGS, "-I", CASES, os.path.join(CASES, name + "_corofied.c"),
                 "-o", str(where / (name + "_coroutine")))
        seq = gcc("-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror", "-DSEQUENTIAL",
                  "-I", CASES, str(twin), "-o", str(where / (name + "_sequential")))
        return name, co, seq

    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        builds = {name: (co, seq) for name, co, seq in pool.map(build, RUNNABLE)}
    return where, builds


@pytest.mark.sanitizer
@pytest.mark.parametrize("name", RUNNABLE)
def test_runnable_matches_sequential(name, programs):
    """The state machine must do exactly what the plain sequential program does."""
    where, builds = programs
    co, seq = builds[name]
    assert co.returncode == 0, co.stderr
    assert seq.returncode == 0, seq.stderr
    coroutine = run([str(where / (name + "_coroutine"))], sanitizer=True, check=False)
    sequential = run([str(where / (name + "_sequential"))], check=False)
    assert coroutine.returncode == 0, coroutine.stderr
    assert sequential.returncode == 0, sequential.stderr
    assert "Sanitizer" not in coroutine.stderr and "runtime error" not in coroutine.stderr
    assert sequential.stdout.strip(), "the sequential twin printed nothing"
    assert coroutine.stdout == sequential.stdout
    not_ready = re.search(r"test runtime: (\d+) not-ready answers", coroutine.stderr)
    assert not_ready, coroutine.stderr
    if "/* ---- wait point" in _read(CASES, name + "_corofied.c"):
        assert int(not_ready.group(1)) > 0, "no wait point was ever suspended"


def test_runnable_cases_cover_both_flavours():
    """The runnable cases must include the waker flavour and the plain one."""
    waker = [n for n in RUNNABLE if "/* corofy: waker */" in _read(CASES, n + ".c")]
    assert waker and len(waker) < len(RUNNABLE)
    assert len(RUNNABLE) >= 30


@pytest.mark.parametrize("form", sorted(FORMS))
def test_every_form_has_a_golden_and_runnable_case(form):
    """A form of wait the dialect promises has no case showing its output and running it."""
    name = FORMS[form]
    assert name in GOLDEN and name in RUNNABLE, name
    readme = _read(COROFY_DIR, "README.md")
    dialect = readme.split("## The dialect\n", 1)[1].split("\n## ", 1)[0]
    assert f"tests/{name}.c" in dialect, f"README's dialect section does not name {name}.c"


def test_caller_storage_makes_no_allocations(programs):
    """A coroutine built with NAME_init in caller storage allocated memory while it ran."""
    where, _ = programs
    result = run([str(where / "caller_storage_coroutine")], sanitizer=True)
    assert "parent(3) = 14, allocations while it ran: 0\n" in result.stdout
    generated = _read(CASES, "caller_storage_corofied.c")
    assert "struct future *parent_init(void *storage, int n)" in generated
    assert "enum { PARENT_FRAME_SIZE = sizeof(struct parent_frame) };" in generated


# ===== The defects adversarial inputs found =====

def _compile_check(source_text, tmp_path, name="probe"):
    """corofy source_text, then gcc -fsyntax-only its output; returns gcc's result."""
    src = tmp_path / (name + ".c")
    src.write_bytes(source_text.encode())
    shutil.copy(os.path.join(CASES, "future.h"), tmp_path)
    corofy(str(src), check=True, cwd=tmp_path)
    return gcc("-std=c11", "-D_GNU_SOURCE", "-fsyntax-only", "-I", str(tmp_path),
               str(tmp_path / (name + "_corofied.c")))


def test_comment_ending_in_a_backslash_keeps_the_brace_after_it(tmp_path):
    """A // comment ending in a backslash continued onto corofy's '}' and the output did not compile."""
    source = ('#include "future.h"\n'
              "coroutine int f(int n)\n{\n    int t = 0;\n    for (int i = 0; i < n; i++) {\n"
              "        int v = ready_int(1, i).wait;\n        t += v;\n        // note \\\n"
              "continued\n    }\n    return t;\n}\n")
    compiled = _compile_check(source, tmp_path)
    assert compiled.returncode == 0, compiled.stderr


def test_crlf_input_gives_crlf_output(tmp_path):
    """A file with \\r\\n line endings came out with a mix of \\r\\n and \\n."""
    for name in ("several", "conditions", "comments"):
        text = open(os.path.join(CASES, name + ".c"), "rb").read().replace(b"\n", b"\r\n")
        (tmp_path / (name + ".c")).write_bytes(text)
        subprocess.run([COROFY, name + ".c"], cwd=tmp_path, check=True, timeout=60)
        out = (tmp_path / (name + "_corofied.c")).read_bytes()
        golden = open(os.path.join(CASES, name + "_corofied.c"), "rb").read()
        assert out == golden.replace(b"\n", b"\r\n"), name


def test_lone_carriage_return_is_refused(tmp_path):
    """A \\r that does not end a line (a line break to gcc) was read as a space by corofy."""
    (tmp_path / "cr.c").write_bytes(b"coroutine int f(void)\n{\n    // note\rreturn 1;\n}\n")
    result = corofy("cr.c", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("cr.c:3:12: error: a carriage return (\\r) that does not end "
                                    "a line"), result.stderr


def test_abort_keeps_what_was_printed(tmp_path):
    """A coroutine that ended without returning its value lost what stdout had buffered."""
    source = ('#include "future.h"\n'
              "coroutine int forgets(void)\n{\n"
              '    printf("printed before the end\\n");\n    sleep_polls(1).wait;\n}\n'
              "int main(void)\n{\n    int v = 0;\n    RUN(forgets(), v);\n    return v;\n}\n")
    (tmp_path / "forgets.c").write_text(source)
    shutil.copy(os.path.join(CASES, "future.h"), tmp_path)
    corofy("forgets.c", cwd=tmp_path, check=True)
    built = gcc("-std=c11", "-D_GNU_SOURCE", "-w", "-I", str(tmp_path),
                str(tmp_path / "forgets_corofied.c"), "-o", str(tmp_path / "forgets"))
    assert built.returncode == 0, built.stderr
    result = run([str(tmp_path / "forgets")], check=False)  # stdout is a pipe: fully buffered
    assert result.returncode < 0, result
    assert result.stdout == "printed before the end\n"
    assert "corofy: forgets ended without returning a value" in result.stderr


def _many_waits(n):
    body = "".join(f"    int v{k} = ready_int(0, {k}).wait;\n    total += v{k};\n"
                   for k in range(n))
    return ('#include "future.h"\ncoroutine int many(void)\n{\n    int total = 0;\n' + body +
            "    return total;\n}\n")


def test_time_grows_with_the_input(tmp_path):
    """Four times the wait points took far more than four times as long (a quadratic walk)."""
    times = {}
    for n in (5000, 20000):
        (tmp_path / f"w{n}.c").write_text(_many_waits(n))
        best = None
        for _ in range(2):  # the faster of two runs: less noise from a busy machine
            status, err, _, cpu = child_usage([COROFY, "-o", "-", f"w{n}.c"], tmp_path)
            assert status == 0, err
            best = cpu if best is None else min(best, cpu)
        times[n] = best
    ratio = times[20000] / max(times[5000], 0.01)
    assert ratio < 8, f"CPU time 5000 waits {times[5000]:.2f} s, 20000 waits {times[20000]:.2f} s"


def _shapes():
    """Big inputs of the shapes real files have, about 1.5 MB each."""
    golden = "".join(_read(CASES, n + ".c").replace("int main(void)", f"static int main_{n}(void)")
                     for n in ("loops", "if_else", "locals", "comments", "outputs", "params"))
    mix = []
    for k in range(60):  # every coroutine and main renamed apart
        text = golden
        for name in set(re.findall(r"coroutine\s+(?:static\s+)?[\w\s*]*?\b(\w+)\s*\(", golden)):
            text = re.sub(rf"\b{name}\b", f"{name}_{k}", text)
        mix.append(text.replace("static int main_", f"static int main_{k}_"))
    expr_body = "".join(f"    total += ready_int(0, {k}).wait * 2 + (n > {k} && ready_int(0, 1).wait);\n"
                        for k in range(18000))
    one_line = " ".join(f"int v{k} = ready_int(0, {k}).wait; total += v{k};" for k in range(25000))
    return {
        "wait statements": _many_waits(25000),
        "the golden inputs, many times": "".join(mix),
        "waits in expressions": '#include "future.h"\ncoroutine int ready_int(int polls, int value);'
                                "\ncoroutine int many(int n)\n{\n    int total = 0;\n" + expr_body +
                                "    return total;\n}\n",
        "one long line": '#include "future.h"\ncoroutine int many(void) { int total = 0; ' +
                         one_line + " return total; }\n",
    }


@pytest.mark.parametrize("shape", sorted(_shapes()))
def test_memory_is_bounded_by_the_input(shape, tmp_path):
    """corofy took more than 50 times the size of a big input in memory."""
    text = _shapes()[shape]
    (tmp_path / "big.c").write_text(text)
    status, err, peak_kib, _ = child_usage([COROFY, "-o", "-", "big.c"], tmp_path)
    assert status == 0, err
    ratio = peak_kib * 1024 / len(text)
    assert ratio <= 50, f"{shape}: {len(text)} bytes in, {peak_kib} KiB at the peak ({ratio:.0f}x)"


# ===== Robustness =====

@pytest.mark.sanitizer
def test_asan_build_over_every_case(tmp_path):
    """corofy itself must run clean under ASan+UBSan on every golden and error input."""
    for name in INPUTS:
        out = tmp_path / (name + "_out.c")
        result = corofy(name + ".c", "-o", str(out), binary=COROFY_ASAN, sanitizer=True)
        assert "Sanitizer" not in result.stderr and "runtime error" not in result.stderr, name
        if name in GOLDEN:
            assert result.returncode == 0, (name, result.stderr)
            assert out.read_text() == _read(CASES, name + "_corofied.c"), name
        else:
            assert result.returncode == 1, (name, result.stderr)
            assert result.stderr == _read(CASES, name + ".err"), name
        twin = corofy("--sequential", "-o", str(tmp_path / "twin.c"), name + ".c",
                      binary=COROFY_ASAN, sanitizer=True)
        assert "Sanitizer" not in twin.stderr, name
    result = corofy("--line", "several.c", "-o", str(tmp_path / "line.c"), binary=COROFY_ASAN,
                    sanitizer=True, check=True)
    result = corofy("--check", "several.c", "-o", str(tmp_path / "line.c"), binary=COROFY_ASAN,
                    sanitizer=True)
    assert result.returncode == 1 and "@@" in result.stdout


def test_fuzz_seeds_hold_every_chapter_coroutine_source():
    """A chapter's coroutine source is missing from the fuzz seeds (corofy/fuzz/corpus)."""
    corpus = os.listdir(path("corofy", "fuzz", "corpus"))
    sources = []
    for chapter in sorted(c for c in os.listdir(ROOT) if c.startswith("ch0")):
        for step in sorted(os.listdir(path(chapter))):
            folder = path(chapter, step)
            if os.path.isdir(folder):
                sources += [f"{chapter}_{step}_{f[:-len('_corofied.c')]}.c"
                            for f in os.listdir(folder) if f.endswith("_corofied.c")]
    assert len(sources) >= 12
    for name in sources:
        assert name in corpus, f"{name}: copy the step's coroutine source into corofy/fuzz/corpus under this name"
    assert any(f.startswith("readme_") for f in corpus), "no README example among the seeds"


@pytest.mark.sanitizer
@pytest.mark.parametrize("target,runs", [("fuzz_corofy", FUZZ_RUNS), ("fuzz_compile", FUZZ_COMPILE_RUNS)])
def test_fuzz_target_briefly(target, runs, tmp_path):
    """A libFuzzer target must survive a short run over its seeds (no crash, leak, hang).
    The run is fixed (its seed and its number of inputs), so that a fast machine and a
    busy one try the same inputs; the long runs (docs/reliability.md) explore."""
    if shutil.which("clang") is None:
        pytest.fail("clang is missing: run scripts/test-deps (Debian package clang)")
    run(["make", "-s", "-C", COROFY_DIR, "fuzz"], timeout=600)
    seeds = ",".join(os.path.join(CASES, n + ".c") for n in INPUTS)
    result = run([FUZZERS[target], "-seed=1", f"-runs={runs}", "-timeout=30",
                  "-rss_limit_mb=2048", "-dict=" + path("corofy", "fuzz", "corofy.dict"),
                  "-seed_inputs=" + seeds, "-artifact_prefix=" + str(tmp_path) + "/",
                  str(tmp_path), path("corofy", "fuzz", "corpus")],
                 cwd=tmp_path, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:] + "\n" + fuzz_findings(tmp_path)
    assert re.search(r"^Done \d+ runs", result.stderr, re.M), result.stderr[-2000:]
    assert "ERROR:" not in result.stderr


# ===== corofy's own sources =====

def _sources():
    folder = path("corofy")
    return sorted([os.path.join(folder, f) for f in os.listdir(folder) if f.endswith((".c", ".h"))] +
                  [os.path.join(folder, "fuzz", f) for f in os.listdir(os.path.join(folder, "fuzz"))
                   if f.endswith(".c")] + [os.path.join(CASES, "future.h")])


def test_sources_follow_clang_format():
    """A corofy source is not laid out as the repository's .clang-format says."""
    if shutil.which("clang-format") is None:
        pytest.fail("clang-format is missing (Debian package clang-format)")
    result = subprocess.run(["clang-format", "--dry-run", "--Werror", *_sources()],
                            capture_output=True, text=True, cwd=path())
    assert result.returncode == 0, result.stderr[-3000:]


def test_functions_stay_short():
    """A function of corofy grew past 60 lines: cut it at its natural seams."""
    for source in _sources():
        start, name = None, None
        for number, line in enumerate(open(source).read().split("\n"), 1):
            if re.match(r"^[A-Za-z_].*\(", line) and not line.rstrip().endswith(";"):
                start, name = number, line
            elif line.startswith("}") and start is not None:
                assert number - start <= 60, f"{source}:{start}: {name} is {number - start} lines"
                start = None


def test_no_issue_numbers_in_sources():
    """A source or README cites a planning issue by its number, which no reader can follow."""
    files = _sources() + [path("corofy", "README.md"), path("corofy", "GOING-DEEPER.md"),
                          path("corofy", "Makefile"), __file__,
                          path("tests", "test_corofy_differential.py")]
    for name in files:
        assert not re.search(r"\(issue \d+\)|issue \d+", _read(name)), name


# ===== The README =====

def _code_blocks(text, language):
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.S | re.M)


def test_readme_example_is_real():
    """The README's worked example must be the real input and real output of corofy."""
    readme = _read(COROFY_DIR, "README.md")
    section = readme.split("## A worked example\n", 1)[1].split("\n## ", 1)[0]
    blocks = _code_blocks(section, "c")
    example_in, example_out = _read(CASES, "example.c"), _read(CASES, "example_corofied.c")
    assert len(blocks) >= 3
    assert blocks[0] == example_in, "the first C block must be tests/example.c"
    for block in blocks[1:]:
        assert block in example_out, f"not in tests/example_corofied.c:\n{block}"
    result = corofy("-o", "-", "example.c", check=True)
    assert result.stdout == example_out


def test_readme_lowering_examples_are_real():
    """A lowering the README shows for a form is not what corofy writes for it."""
    text = _read(COROFY_DIR, "README.md") + _read(COROFY_DIR, "GOING-DEEPER.md")
    shown = re.findall(r"<!-- from tests/(\w+)_corofied\.c -->\n```c\n(.*?)^```", text, re.S | re.M)
    assert len(shown) >= 4
    for name, block in shown:
        assert block in _read(CASES, name + "_corofied.c"), f"not in {name}_corofied.c:\n{block}"


def test_readme_shell_blocks():
    """The README's shell blocks must show what corofy really prints."""
    result = corofy("tests/err_wait_type_unknown.c", cwd=COROFY_DIR)
    assert_readme_output(path("corofy", "README.md"), "./corofy tests/err_wait_type_unknown.c",
                         result.stderr)
    result = corofy("--help", cwd=COROFY_DIR, check=True)
    assert_readme_output(path("corofy", "README.md"), "./corofy --help", result.stdout)


def test_readme_core_is_short():
    """corofy/README.md grew past 300 lines: move the deep parts to GOING-DEEPER.md."""
    assert len(_read(COROFY_DIR, "README.md").split("\n")) <= 300
