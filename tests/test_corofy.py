"""corofy (issue 6): golden outputs, every error, the command line (-o, -o -,
--check, --line), runnable cases against their sequential twins, -Werror
compiles of everything corofy generates, the fuzz target, and ASan runs."""
import concurrent.futures
import os
import re
import shutil
import subprocess

import pytest

from workbook import assert_readme_output, path, run

COROFY_DIR = path("corofy")
CASES = path("corofy", "tests")
COROFY = path("corofy", "corofy")
COROFY_ASAN = path("corofy", "corofy-asan")
FUZZER = path("corofy", "fuzz", "fuzz_corofy")

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

# `.wait` and `coroutine` outside comments, strings and character constants
# (a designator `{ .wait = 1 }` is a member name, not a wait).
_DIALECT = re.compile(r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|/\*.*?\*/|//[^\n]*'
                      r'|(\.\s*wait\b(?!\s*=[^=]))|(\bcoroutine\b)', re.S)


def sequential_twin(source):
    """The same program without the dialect: `coroutine` and `.wait` removed."""
    return _DIALECT.sub(lambda m: "" if m.group(1) or m.group(2) else m.group(0), source)


def count_waits(source):
    return sum(1 for m in _DIALECT.finditer(source) if m.group(1))


def corofy(*args, cwd=CASES, check=False, binary=COROFY, **kwargs):
    return run([binary, *args], cwd=cwd, check=check, timeout=30, **kwargs)


def gcc(*args, cwd=None):
    return subprocess.run(["gcc", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module", autouse=True)
def built():
    """corofy and corofy-asan are built (make is a no-op when they are current)."""
    run(["make", "-s", "-C", COROFY_DIR, "all", "asan"], timeout=300)


# ===== Golden outputs and errors =====

def test_every_case_has_exactly_one_expectation():
    """A case without an expected output or error would silently test nothing."""
    assert len(GOLDEN) >= 15 and len(ERRORS) >= 25
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
    """--help must explain the tool; bad usage must give one line and exit 2."""
    result = corofy("--help", check=True)
    assert result.stdout.startswith("usage: corofy [--check] [--line] [-o OUTPUT] FILE\n")
    for args in (["--frobnicate", "x.c"], [], ["-o"], ["a.c", "b.c"], ["--check", "-o", "-", "x.c"]):
        result = corofy(*args)
        assert result.returncode == 2, args
        assert result.stderr.count("\n") == 1 and "(try --help)" in result.stderr, args
        assert result.stdout == ""


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
    assert any("struct waker *waker" in _read(f) for f in files), "no waker-flavour case"
    assert any("struct waker *waker" not in _read(f) and "_poll(" in _read(f) for f in files)
    compiled = gcc(*CFLAGS, "-O2", "-I", CASES, "-c", *files, cwd=tmp_path)
    assert compiled.returncode == 0, compiled.stderr
    if shutil.which("clang"):
        compiled = subprocess.run(["clang", *CFLAGS, "-O2", "-I", CASES, "-c", *files],
                                  cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert compiled.returncode == 0, compiled.stderr


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
    """Every runnable case built twice: corofied (ASan+UBSan) and as its sequential twin."""
    where = tmp_path_factory.mktemp("runnable")

    def build(name):
        twin = where / (name + "_sequential.c")
        twin.write_text(sequential_twin(_read(CASES, name + ".c")))
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
    if count_waits(_read(CASES, name + ".c")) > 0:
        assert int(not_ready.group(1)) > 0, "no wait point was ever suspended"


def test_runnable_cases_cover_both_flavours():
    """The runnable cases must include the waker flavour and the plain one."""
    waker = [n for n in RUNNABLE if "/* corofy: waker */" in _read(CASES, n + ".c")]
    assert waker and len(waker) < len(RUNNABLE)
    assert len(RUNNABLE) >= 14


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
    result = corofy("--line", "several.c", "-o", str(tmp_path / "line.c"), binary=COROFY_ASAN,
                    sanitizer=True, check=True)
    result = corofy("--check", "several.c", "-o", str(tmp_path / "line.c"), binary=COROFY_ASAN,
                    sanitizer=True)
    assert result.returncode == 1 and "@@" in result.stdout


@pytest.mark.sanitizer
def test_fuzz_target_briefly(tmp_path):
    """The libFuzzer target must survive a short run over the golden inputs (no crash, leak, hang)."""
    if shutil.which("clang") is None:
        pytest.fail("clang is missing: run scripts/test-deps (Debian package clang)")
    run(["make", "-s", "-C", COROFY_DIR, "fuzz"], timeout=300)
    seeds = ",".join(os.path.join(CASES, n + ".c") for n in INPUTS)
    result = run([FUZZER, "-max_total_time=10", "-timeout=10", "-rss_limit_mb=2048",
                  "-dict=" + path("corofy", "fuzz", "corofy.dict"), "-seed_inputs=" + seeds,
                  "-artifact_prefix=" + str(tmp_path) + "/", str(tmp_path),
                  path("corofy", "fuzz", "corpus")],
                 cwd=tmp_path, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-4000:]
    assert re.search(r"^Done \d+ runs", result.stderr, re.M), result.stderr[-2000:]
    assert "ERROR:" not in result.stderr


# ===== The README =====

def _code_blocks(text, language):
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.S | re.M)


def test_readme_example_is_real():
    """The README's worked example must be the real input and real output of corofy."""
    readme = _read(COROFY_DIR, "README.md")
    section = readme.split("## A worked example\n", 1)[1].split("\n## ", 1)[0]
    blocks = _code_blocks(section, "c")
    example_in, example_out = _read(CASES, "example.c"), _read(CASES, "example_corofied.c")
    assert len(blocks) >= 4
    assert blocks[0] == example_in, "the first C block must be tests/example.c"
    for block in blocks[1:]:
        assert block in example_out, f"not in tests/example_corofied.c:\n{block}"
    result = corofy("-o", "-", "example.c", check=True)
    assert result.stdout == example_out


def test_readme_shell_blocks():
    """The README's shell blocks must show what corofy really prints."""
    result = corofy("tests/err_wait_in_switch.c", cwd=COROFY_DIR)
    assert_readme_output(path("corofy", "README.md"), "./corofy tests/err_wait_in_switch.c",
                         result.stderr)
    result = corofy("--help", cwd=COROFY_DIR, check=True)
    assert_readme_output(path("corofy", "README.md"), "./corofy --help", result.stdout)
