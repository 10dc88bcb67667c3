"""corofy, differential: random coroutine programs, corofied, must print
exactly what their sequential twins print.

A seeded generator writes small programs in corofy's dialect: a few
coroutines that await each other and leaf futures (not ready a random number
of times), with waits in random expression positions (operands, arguments,
conditions of if/while/do/for/switch, short circuits, ?:, compound
assignments, places through pointers and array elements, initialisers of
arrays and structs, returns) inside loops, branches, switches and gotos.
Many programs share one translation unit, so a run compiles only a few
files. The corofied build runs under ASan and UBSan; the twin is the same
source with `coroutine` and `.wait` removed (corofy --sequential), where
every leaf returns at once. Expressions only await coroutines that print
nothing, so the twin's output cannot depend on the order C leaves open.

    python3 tests/test_corofy_differential.py --programs 20000 --seed 7

runs a longer session by hand (corofy/README.md records the last one); a
failure prints the program, its seed, and where the outputs part."""
import argparse
import concurrent.futures
import os
import random
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from workbook import path, run  # noqa: E402

COROFY = path("corofy", "corofy")
FUTURE_DIR = path("corofy", "tests")
WARN_FLAGS = ["-Wall", "-Wextra", "-Wshadow", "-Wstrict-prototypes", "-Wmissing-prototypes",
              "-Werror"]
SAN_FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-O0", "-g0"]

# In make test: this many programs, in this many translation units (half of
# them in the waker flavour, with frames in caller storage). clang builds
# them: with ASan and UBSan it compiles these big files twice as fast as gcc.
PROGRAMS = 200
UNITS = 4
CC = "clang"


# ===== The generator =====

class Coroutine:
    """What the generator knows of a coroutine it wrote: how to call it."""

    def __init__(self, name, nparams, prints, returns_void):
        self.name, self.nparams = name, nparams
        self.prints, self.returns_void = prints, returns_void


class Program:
    """One random program: coroutines p<k>_c0 ... and a runner p<k>_run()."""

    def __init__(self, rng, index, init):
        self.rng, self.k, self.init = rng, index, init
        self.lines = []
        self.coroutines = []
        self.counter = 0
        self.counters = set()  # loop counters: read, never assigned
        self.prints = False    # the coroutine being written may print
        self.shims = []  # for the twin: what NAME_init stands for there

    def fresh(self, prefix):
        self.counter += 1
        return f"{prefix}{self.counter}"

    # ----- expressions -----

    def leaf(self):
        return f"ready_int({self.rng.randint(0, 2)}, {self.rng.randint(0, 9)}).wait"

    def pure_call(self, scope, depth):
        """A wait for a pure coroutine (one that prints nothing), if any."""
        pure = [c for c in self.coroutines if not c.prints and not c.returns_void]
        if not pure:
            return self.leaf()
        c = self.rng.choice(pure)
        args = ", ".join(self.small(scope, depth + 1) for _ in range(c.nparams))
        return f"{c.name}({args}).wait"

    def small(self, scope, depth):
        """A small non-negative int expression, maybe with waits in it."""
        r = self.rng.random()
        if depth > 2 or r < 0.25:
            return str(self.rng.randint(0, 9)) if r < 0.5 or not scope else self.rng.choice(scope)
        if r < 0.45:
            return self.leaf()
        if r < 0.55:
            return self.pure_call(scope, depth)
        a, b = self.small(scope, depth + 1), self.small(scope, depth + 1)
        op = self.rng.choice(["+", "+", "*"])
        if op == "*":
            return f"(({a}) % 7 * ({b} % 5))"
        return f"({a} + {b}) % 101"

    def expr(self, scope, depth=0):
        """An int expression in [0, 1009), waits in random positions."""
        r = self.rng.random()
        if r < 0.15:
            return f"({self.small(scope, depth)} > 3 && {self.small(scope, depth)} > 2)"
        if r < 0.25:
            return f"({self.small(scope, depth)} > 5 || {self.small(scope, depth)} > 1)"
        if r < 0.40:
            return (f"({self.small(scope, depth)} > 4 ? {self.small(scope, depth)} : "
                    f"{self.small(scope, depth)})")
        if r < 0.45:
            return f"(int) (long) {self.small(scope, depth)}"
        if r < 0.50:
            return f"({self.leaf()}, {self.small(scope, depth)})"
        return f"({self.small(scope, depth)} + {self.small(scope, depth)} * 3) % 1009"

    # ----- statements -----

    def out(self, indent, text):
        self.lines.append("    " * indent + text)

    def block(self, scope, indent, depth, loop, budget):
        for _ in range(self.rng.randint(1, budget)):
            self.statement(scope, indent, depth, loop)

    def statement(self, scope, indent, depth, loop):
        """One statement. `scope`: the names it may read; the ones it may
        assign are those not in self.counters (loop counters stay put)."""
        rng = self.rng
        kinds = ["assign", "assign", "print" if self.prints else "assign", "decl", "member",
                 "array"]
        if depth < 2:
            kinds += ["if", "while", "do", "for", "switch", "call", "goto"]
        if loop:
            kinds += ["continue", "break"]
        if depth > 0:
            kinds += ["return"]
        kind = rng.choice(kinds)
        v = rng.choice([name for name in scope if name not in self.counters])
        if kind == "decl":
            name = self.fresh("v")
            self.out(indent, f"int {name} = {self.expr(scope)};")
            scope.append(name)
        elif kind == "assign":
            op = rng.choice(["=", "+=", "*="])
            value = self.expr(scope) if op == "=" else f"{self.small(scope, 1)} % 5"
            self.out(indent, f"{v} {op} {value};")
            self.out(indent, f"{v} %= 1009;")
        elif kind == "member":
            field = rng.choice(["x", "y"])
            target = rng.choice([f"pr.{field}", f"pp->{field}"])
            self.out(indent, f"{target} = {self.expr(scope)};")
            self.out(indent, f"{v} = ({v} + pr.x + pp->y) % 1009;")
        elif kind == "array":
            self.out(indent, f"arr[{self.small(scope, 1)} % 4] += {self.small(scope, 1)} % 7;")
            self.out(indent, f"{v} = ({v} + arr[{self.small(scope, 2)} % 4]) % 1009;")
        elif kind == "print":
            self.out(indent, f'printf("p{self.k} %d %d\\n", {v}, {self.expr(scope)});')
        elif kind == "if":
            self.out(indent, f"if ({self.expr(scope)} % 3 == 1) {{")
            self.block(list(scope), indent + 1, depth + 1, loop, 3)
            if rng.random() < 0.5:
                self.out(indent, f"}} else if ({self.small(scope, 1)} > 3) {{")
                self.block(list(scope), indent + 1, depth + 1, loop, 2)
            self.out(indent, "} else {")
            self.block(list(scope), indent + 1, depth + 1, loop, 2)
            self.out(indent, "}")
        elif kind == "while":
            i = self.fresh("i")
            self.counters.add(i)
            self.out(indent, f"int {i} = 0;")
            self.out(indent, f"while ({i} < {self.leaf()} % 4) {{")
            self.out(indent + 1, f"{i}++;")
            self.block(list(scope) + [i], indent + 1, depth + 1, True, 3)
            self.out(indent, "}")
        elif kind == "do":
            i = self.fresh("i")
            self.counters.add(i)
            self.out(indent, f"int {i} = 0;")
            self.out(indent, "do {")
            self.out(indent + 1, f"{i}++;")
            self.block(list(scope) + [i], indent + 1, depth + 1, True, 3)
            self.out(indent, f"}} while ({i} < {self.small(scope, 1)} % 3 + 1);")
        elif kind == "for":
            j = self.fresh("j")
            self.counters.add(j)
            start = rng.choice(["0", self.leaf() + " % 2"])
            step = rng.choice(["1", f"{self.leaf()} % 2 + 1"])
            self.out(indent, f"for (int {j} = {start}; {j} < {self.small(scope, 1)} % 4; "
                             f"{j} += {step}) {{")
            self.block(list(scope) + [j], indent + 1, depth + 1, True, 3)
            self.out(indent, "}")
        elif kind == "switch":
            self.out(indent, f"switch ({self.expr(scope)} % 3) {{")
            for case in ("case 0:", "case 1:", "default:"):
                self.out(indent, case + " {")
                self.block(list(scope), indent + 1, depth + 1, loop, 2)
                self.out(indent, "}")
                self.out(indent + 1, "break;")
            self.out(indent, "}")
        elif kind == "call":
            self.call_statement(scope, indent)
        elif kind == "goto":
            label = self.fresh("skip")
            self.out(indent, f"if ({self.small(scope, 1)} % 2 == 0)")
            self.out(indent + 1, f"goto {label};")
            self.block(list(scope), indent, depth + 1, loop, 2)
            self.out(indent - 1 if indent > 1 else indent, f"{label}:")
            self.out(indent, ";")
        elif kind == "continue":
            self.out(indent, f"if ({self.small(scope, 1)} % 3 == 0)")
            self.out(indent + 1, "continue;")
        elif kind == "break":
            self.out(indent, f"if ({self.small(scope, 1)} % 4 == 0)")
            self.out(indent + 1, "break;")
        elif kind == "return":
            self.out(indent, f"if ({self.small(scope, 1)} % 5 == 0)")
            self.out(indent + 1, self.return_statement(scope))

    def call_statement(self, scope, indent):
        """Await any coroutine (printing ones too) as a statement of its own."""
        callable = [c for c in self.coroutines if self.prints or not c.prints]
        if not callable:
            self.out(indent, f"{self.leaf()};")
            return
        c = self.rng.choice(callable)
        args = ", ".join(self.small(scope, 1) for _ in range(c.nparams))
        call = f"{c.name}({args})"
        if self.init and self.rng.random() < 0.5:
            storage = self.fresh("frame")
            self.out(indent, f"struct {c.name}_frame {storage};")
            call = f"{c.name}_init(&{storage}{', ' if args else ''}{args})"
            self.shims.append(c.name)
        if c.returns_void or self.rng.random() < 0.3:
            self.out(indent, f"{call}.wait;")
        else:
            v = self.rng.choice([name for name in scope if name not in self.counters])
            self.out(indent, f"{v} = {call}.wait % 1009;")

    def return_statement(self, scope):
        if self.current_void:
            return "return;"
        return f"return {self.expr(scope)};"

    def coroutine(self, index):
        rng = self.rng
        name = f"p{self.k}_c{index}"
        nparams = rng.randint(0, 2)
        params = [f"a{n}" for n in range(nparams)]
        prints = rng.random() < 0.5
        returns_void = prints and rng.random() < 0.3
        self.current_void, self.prints = returns_void, prints
        self.out(0, f"coroutine {'void' if returns_void else 'int'} {name}("
                    f"{', '.join('int ' + p for p in params) or 'void'})")
        self.out(0, "{")
        self.out(1, "int total = 0;")
        self.out(1, "int arr[4] = {0, 1, 2, 3};")
        self.out(1, f"struct pair pr = {{{self.leaf()}, 0}};")
        self.out(1, "struct pair *pp = &pr;")
        scope = ["total"] + params
        self.block(scope, 1, 0, False, 6)
        self.out(1, "return;" if returns_void else "return (total + arr[1] + pr.x) % 1009;")
        self.out(0, "}")
        self.out(0, "")
        self.coroutines.append(Coroutine(name, nparams, prints, returns_void))

    def runner(self):
        last = self.coroutines[-1]
        args = ", ".join(str(self.rng.randint(0, 9)) for _ in range(last.nparams))
        self.out(0, f"static void p{self.k}_run(void)")
        self.out(0, "{")
        if last.returns_void:
            self.out(1, f"RUN_VOID({last.name}({args}));")
            self.out(1, f'printf("p{self.k} done\\n");')
        else:
            self.out(1, "int result = 0;")
            self.out(1, f"RUN({last.name}({args}), result);")
            self.out(1, f'printf("p{self.k} = %d\\n", result);')
        self.out(0, "}")
        self.out(0, "")

    def generate(self):
        for index in range(self.rng.randint(1, 3)):
            self.coroutine(index)
        self.runner()
        return "\n".join(self.lines) + "\n"


def program_source(seed, index, init):
    """The text of program `index` of a run with `seed` (the same every time)."""
    return Program(random.Random(f"{seed}/{index}"), index, init).generate()


def unit_source(seed, first, count, waker):
    """A translation unit of programs first ... first + count - 1."""
    head = []
    if waker:
        head += ["/* corofy: waker */", "/* corofy: init */", "#define FUTURE_WAKER"]
    head += ["#include <stdio.h>", "#include <stdlib.h>", "", '#include "future.h"', "",
             "coroutine int ready_int(int polls, int value);", ""]
    bodies, shims = [], []
    for index in range(first, first + count):
        prog = Program(random.Random(f"{seed}/{index}"), index, waker)
        bodies.append(prog.generate())
        shims += prog.shims
    twin_shims = ["#ifdef SEQUENTIAL /* the twin has no frames: NAME_init is NAME */"]
    for name in sorted(set(shims)):
        twin_shims += [f"struct {name}_frame {{", "    int unused;", "};",
                       f"#define {name}_init(storage, ...) ((void) (storage), {name}(__VA_ARGS__))"]
    twin_shims += ["#endif", ""]
    main = ["int main(void)", "{"]
    main += [f"    p{index}_run();" for index in range(first, first + count)]
    main += ['    printf("futures made: %ld\\n", leaves_made());', "    return 0;", "}", ""]
    return "\n".join(head + twin_shims) + "\n" + "".join(bodies) + "\n".join(main)


# ===== Running one unit =====

def compile_and_run(workdir, name, source):
    """(corofied output, twin output, error or None) for one translation unit."""
    src = os.path.join(workdir, name + ".c")
    with open(src, "w") as f:
        f.write(source)
    result = run([COROFY, src], check=False, timeout=120)
    if result.returncode != 0:
        return None, None, f"corofy failed:\n{result.stderr}"
    twin = os.path.join(workdir, name + "_twin.c")
    result = run([COROFY, "--sequential", "-o", twin, src], check=False, timeout=120)
    if result.returncode != 0:
        return None, None, f"corofy --sequential failed:\n{result.stderr}"
    co_bin, seq_bin = os.path.join(workdir, name + "_co"), os.path.join(workdir, name + "_seq")
    builds = [
        [CC, "-std=c11", "-D_GNU_SOURCE", *WARN_FLAGS, *SAN_FLAGS, "-I", FUTURE_DIR,
         os.path.join(workdir, name + "_corofied.c"), "-o", co_bin],
        [CC, "-std=c11", "-D_GNU_SOURCE", "-w", "-O0", "-DSEQUENTIAL", "-I", FUTURE_DIR, twin,
         "-o", seq_bin],
    ]
    for cmd in builds:
        built = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if built.returncode != 0:
            return None, None, f"{' '.join(cmd[:3])} ... failed:\n{built.stderr[-3000:]}"
    co = run([co_bin], check=False, timeout=300, sanitizer=True)
    seq = run([seq_bin], check=False, timeout=300)
    if co.returncode != 0:
        return co.stdout, seq.stdout, f"the corofied program failed ({co.returncode}):\n" \
                                      f"{co.stderr[-3000:]}"
    return co.stdout, seq.stdout, None


def program_at_line(source, line):
    """The index of the program whose text holds line `line` of a unit, or None."""
    index = None
    for text in source.split("\n")[:line]:
        head = text.split("(", 1)[0].split(" ")[-1]  # coroutine int p12_c0(... -> p12_c0
        if text.startswith("coroutine ") and head[:1] == "p" and head[1:].split("_")[0].isdigit():
            index = int(head[1:].split("_")[0])
    return index


def first_difference(a, b):
    """The first program whose lines differ, and the two outputs around it."""
    la, lb = a.splitlines(), b.splitlines()
    for n, (x, y) in enumerate(zip(la, lb)):
        if x != y:
            program = x.split(" ")[0].split("=")[0]
            return program, "\n".join(la[max(0, n - 3):n + 3]), "\n".join(lb[max(0, n - 3):n + 3])
    return None, "\n".join(la[len(lb):len(lb) + 3]), "\n".join(lb[len(la):len(la) + 3])


def check_units(seed, programs, units, workdir):
    """Runs `programs` programs in `units` units; returns a failure report or None."""
    per_unit = (programs + units - 1) // units
    jobs = []
    for u in range(units):
        first = u * per_unit
        count = min(per_unit, programs - first)
        if count > 0:
            jobs.append((f"unit{u}", first, count, u % 2 == 1))

    def one(job):
        name, first, count, waker = job
        source = unit_source(seed, first, count, waker)
        co, seq, error = compile_and_run(workdir, name, source)
        return job, source, co, seq, error

    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for (name, first, count, waker), source, co, seq, error in pool.map(one, jobs):
            if error is None and co == seq:
                continue
            program, co_part, seq_part = first_difference(co or "", seq or "")
            index = int(program[1:]) if program and program[1:].isdigit() else first
            where = error.split(".c:", 1)[1].split(":", 1)[0] if error and ".c:" in error else ""
            if where.isdigit() and program_at_line(source, int(where)) is not None:
                index = program_at_line(source, int(where))
            text = program_source(seed, index, waker)
            return (f"seed {seed}, program {index} ({name}, "
                    f"{'waker flavour, init' if waker else 'plain flavour'}):\n"
                    f"{error or ''}\n--- corofied printed ---\n{co_part}\n"
                    f"--- the twin printed ---\n{seq_part}\n--- the program ---\n{text}")
    return None


# ===== pytest =====

def test_random_programs_match_their_twins(tmp_path):
    """A random program, corofied, printed something its plain twin did not (or crashed)."""
    seed = int(os.environ.get("COROFY_DIFF_SEED", "17"))
    report = check_units(seed, PROGRAMS, UNITS, str(tmp_path))
    assert report is None, report


def test_generator_writes_every_form():
    """The generator lost a form of wait, so the differential test no longer covers it."""
    text = "".join(unit_source(17, 0, PROGRAMS // UNITS, waker) for waker in (False, True))
    for form in ("&& ready_int", "|| ready_int", "? ready_int", " += ", " *= ", "pp->",
                 "arr[", "while (i", "} while (", "for (int j", "switch (", "goto skip",
                 "continue;", "break;", "return (", "_init(&frame", ".wait, ", "(int) (long)"):
        assert form in text, form


# ===== By hand: a longer run =====

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--programs", type=int, default=20000, help="programs in all")
    parser.add_argument("--seed", type=int, default=1, help="the first seed")
    parser.add_argument("--per-unit", type=int, default=60, help="programs a translation unit")
    args = parser.parse_args()
    start, done, seed = time.monotonic(), 0, args.seed
    with tempfile.TemporaryDirectory() as workdir:
        while done < args.programs:
            batch = min(args.per_unit * 4, args.programs - done)
            report = check_units(seed, batch, 4, workdir)
            if report is not None:
                print(report)
                return 1
            done += batch
            seed += 1
            print(f"{done} programs, seeds {args.seed}-{seed - 1}: all matched "
                  f"({time.monotonic() - start:.0f} s)", flush=True)
    print(f"{done} programs matched their twins in {time.monotonic() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
