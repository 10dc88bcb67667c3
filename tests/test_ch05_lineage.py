"""Chapters 4 and 5 build on the chapters before them, and the tests keep them honest about it.

- ch05 carries chapter 1's waker and chapter 2's event queue over unchanged,
  and no ch05 source calls epoll itself: the reactor is chapter 2's registry
  plus a table of wakers.
- ch05 a's http.c is ch04 d's plus the registration lesson: the diff between
  them stays small (a bound on changed lines, not a snapshot).
- Every step names its parent, the chapter README draws the tree they form,
  and every step folder has a README of workshop size.
- What no chapter teaches comes from common/, never from a local copy.
"""
import difflib
import os
import re
import shutil
import subprocess

import pytest

from workbook import ROOT, path

CH04 = path("ch04-coroutines")
CH05 = path("ch05-runtime")
STEPS = {  # step -> its parent, as its INHERITED file must name it
    "ch04-coroutines/a-coroutine": "ch01-block-on",
    "ch04-coroutines/b-async-await": "ch04-coroutines/a-coroutine",
    "ch04-coroutines/c-async-await": "ch04-coroutines/b-async-await",
    "ch04-coroutines/d-locals": "ch04-coroutines/c-async-await",
    "ch05-runtime/a-runtime": "ch04-coroutines/d-locals",
    "ch05-runtime/b-executor": "ch05-runtime/a-runtime",
    "ch05-runtime/c-reactor-thread": "ch05-runtime/b-executor",
    "ch05-runtime/d-multi-thread": "ch05-runtime/c-reactor-thread",
    "ch05-runtime/e-timers": "ch05-runtime/c-reactor-thread",
    "ch05-runtime/f-join": "ch05-runtime/d-multi-thread",
    "ch05-runtime/g-channels": "ch05-runtime/c-reactor-thread",
    "ch05-runtime/h-udp": "ch05-runtime/c-reactor-thread",
    "ch05-runtime/i-scopes": "ch05-runtime/c-reactor-thread",
    "ch05-runtime/j-blocking": "ch05-runtime/f-join",
    "ch05-runtime/k-coroserver": "ch05-runtime/j-blocking",
}
CH05_STEPS = sorted(s for s in STEPS if s.startswith("ch05-runtime/"))
WAKER_STEPS = [s for s in CH05_STEPS if s != "ch05-runtime/a-runtime"]
HTTP_HANDOVER_BOUND = 60  # changed lines, ch04 d-locals/http.c -> ch05 a-runtime/http.c


def read(*parts):
    with open(path(*parts), encoding="utf-8") as f:
        return f.read()


def sources(step, generated=False):
    """The C sources and headers of a step (without corofy's output unless asked)."""
    folder = path(step)
    return sorted(n for n in os.listdir(folder) if n.endswith((".c", ".h"))
                  and (generated or not n.endswith("_corofied.c")))


def changed_lines(old, new):
    diff = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0)
    return [l for l in diff if l[:1] in "+-" and not l.startswith(("+++", "---"))]


def without_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


# ===== Carried over from chapters 1, 2 and 4 =====

@pytest.mark.parametrize("step", WAKER_STEPS)
def test_the_waker_is_chapter_ones(step):
    """A ch05 step grew a waker of its own instead of chapter 1's."""
    for name in ("waker.h", "waker.c"):
        assert read(step, name) == read("ch01-block-on", name), f"{step}/{name} differs from ch01's"
    assert '#include "waker.h"' in read(step, "future.h")


@pytest.mark.parametrize("step", CH05_STEPS)
def test_the_registry_is_chapter_twos(step):
    """A ch05 step waits for file descriptors with an event queue other than ch02's poll.h."""
    uses_epoll = any("EPOLL" in read(step, n) or "poll_wait" in read(step, n)
                     for n in sources(step) if n not in ("poll.h", "poll.c"))
    if not uses_epoll:
        assert not os.path.exists(path(step, "poll.h")), step
        return
    for name in ("poll.h", "poll.c"):
        assert read(step, name) == read("ch02-epoll", name), f"{step}/{name} differs from ch02's"


@pytest.mark.parametrize("step", CH05_STEPS)
def test_no_ch05_source_calls_epoll_itself(step):
    """A ch05 file calls epoll_create/epoll_ctl/epoll_wait directly instead of through ch02's poll.h."""
    for name in sources(step, generated=True):
        if name == "poll.c":  # chapter 2's, checked byte for byte above
            continue
        calls = re.findall(r"\bepoll_(?:create1?|ctl|wait|pwait2?)\s*\(",
                           without_comments(read(step, name)))
        assert not calls, f"{step}/{name} calls {calls}"


def test_ch05_a_keeps_ch04s_future():
    """ch05 a changes the future's shape, which the chapter says happens only from step b on."""
    assert read("ch05-runtime/a-runtime", "future.h") == read("ch04-coroutines/d-locals", "future.h")
    assert read("ch05-runtime/a-runtime", "http.h") == read("ch04-coroutines/d-locals", "http.h")


def test_ch05_a_http_is_ch04s_plus_the_registration():
    """ch05 a's http.c drifted from ch04's: the diff between them must be the registration lesson only."""
    changes = changed_lines(read("ch04-coroutines/d-locals", "http.c"),
                            read("ch05-runtime/a-runtime", "http.c"))
    assert 0 < len(changes) < HTTP_HANDOVER_BOUND, "\n".join(changes)
    added = "\n".join(l for l in changes if l.startswith("+"))
    for call in ("runtime_register(", "runtime_deregister(", "runtime_wake_by("):
        assert call in added, f"the registration lesson lost {call}"


def test_the_reactor_is_the_registry_plus_wakers():
    """The reactor of step b no longer builds on ch02's registry, or grew far past a table of wakers."""
    reactor = read("ch05-runtime/b-executor", "reactor.c")
    for call in ("poll_open(", "poll_register(", "poll_deregister(", "poll_wait("):
        assert call in reactor, call
    assert '#include "poll.h"' in read("ch05-runtime/b-executor", "reactor.h")
    code = [l for l in without_comments(reactor).splitlines() if l.strip()]
    assert len(code) < 240, f"b-executor/reactor.c has {len(code)} lines of code"


# ===== Parents, the tree, the READMEs =====

def parent_of(step):
    with open(path(step, "INHERITED"), encoding="utf-8") as f:
        for line in f:
            fields = line.split("#", 1)[0].split()
            if fields[:1] == ["parent"]:
                return os.path.relpath(os.path.normpath(os.path.join(path(step), fields[1])), ROOT)
    return None


@pytest.mark.parametrize("step", STEPS)
def test_every_step_names_its_parent(step):
    """A step's INHERITED names the wrong parent, so make diff shows the wrong lesson."""
    assert parent_of(step) == STEPS[step]


def test_ch05_readme_draws_the_step_tree():
    """The chapter README's tree lost a step, or shows one starting from the wrong parent."""
    text = read("ch05-runtime", "README.md")
    tree = re.search(r"^```\n(  ch04-coroutines/d-locals\n.*?)^```", text, re.S | re.M)
    assert tree, "no step tree in ch05-runtime/README.md"
    rows = tree.group(1).rstrip("\n").split("\n")
    depth = {}
    for row in rows:
        m = re.match(r"^([ │├└─]*)(\S+)", row)
        name, indent = os.path.basename(m.group(2)), len(m.group(1))
        depth[name] = indent
    for step in CH05_STEPS:
        name, parent = os.path.basename(step), os.path.basename(STEPS[step])
        assert name in depth and parent in depth, (name, parent)
        assert depth[name] > depth[parent], f"{name} is not drawn under {parent}"
    # Every step is drawn under the nearest row above it that is one level up.
    stack = []
    for row in rows:
        m = re.match(r"^([ │├└─]*)(\S+)", row)
        indent, name = len(m.group(1)), os.path.basename(m.group(2))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if stack and f"ch05-runtime/{name}" in STEPS:
            assert os.path.basename(STEPS[f"ch05-runtime/{name}"]) == stack[-1][1], row
        stack.append((indent, name))


@pytest.mark.parametrize("chapter", ["ch04-coroutines", "ch05-runtime"])
def test_chapter_readme_opens_with_what_changed(chapter):
    """The chapter README no longer says first what changed since the chapter before, and why."""
    headings = re.findall(r"^## (.*)$", read(chapter, "README.md"), re.M)
    assert headings[0] == "What changed since the chapter before, and why", headings


def test_ch05_refers_back_to_chapters_one_and_two():
    """ch05 introduces wakers or the registry as if new instead of pointing back to ch01 and ch02."""
    text = read("ch05-runtime", "README.md")
    assert "ch01-block-on/waker.h" in text and "chapter 1" in text
    assert "ch02-epoll" in text and "chapter 2" in text


README_SECTIONS = ["**What this step teaches:**", "## Read in this order", "**Time:**",
                   "## Build and run", "## What you should see", "## How it works",
                   "## What changed since the parent step", "## Limits", "## Exercises"]


@pytest.mark.parametrize("step", STEPS)
def test_every_step_has_a_readme_in_the_house_skeleton(step):
    """A step folder has no README, or one that skips a part of the skeleton or runs too long."""
    text = read(step, "README.md")
    places = [text.find(section) for section in README_SECTIONS]
    missing = [s for s, at in zip(README_SECTIONS, places) if at < 0]
    assert not missing, f"{step}/README.md lacks {missing}"
    assert places == sorted(places), f"{step}/README.md has its sections out of order"
    assert text.count("\n") <= 300, f"{step}/README.md is over 300 lines"
    exercises = text[text.index("## Exercises"):]
    items = re.findall(r"^\d+\. \*\*", exercises, re.M)
    assert items and exercises.count("*Hint:*") >= 1 and \
        exercises.count("*Check:*") == len(items), f"{step}: every exercise needs a check"


@pytest.mark.parametrize("doc", ["ch04-coroutines/README.md", "ch04-coroutines/GOING-DEEPER.md",
                                 "ch05-runtime/README.md", "ch05-runtime/GOING-DEEPER.md"] +
                         [f"{s}/GOING-DEEPER.md" for s in STEPS
                          if os.path.exists(path(s, "GOING-DEEPER.md"))])
def test_chapter_readmes_fit_a_workshop(doc):
    """A chapter README (or its deep dive) grew past what a student reads in one sitting."""
    assert read(doc).count("\n") <= 300, doc


# ===== What no chapter teaches comes from common/ =====

LOCAL_COPIES = {
    r"^static\s+(?:void\s+)?\*?\s*xmalloc\s*\(": "a local xmalloc (common/alloc.h has it)",
    r"^static\s+void\s+die\s*\(": "a local die() (common/errors.h has it)",
    r"getenv\(\"DELAYSERVER_ADDR\"\)": "parsing DELAYSERVER_ADDR by hand (common/addr.h does it)",
    r"\bstrto(?:u?ll?|u?l)\s*\(\s*(?:argv|value|text|optarg)": "an unchecked number from the "
                                                                "command line (common/args.h)",
    r"\batoi\s*\(": "atoi, which reads garbage as 0 (common/args.h)",
    r"^\s*pthread_(?:mutex|cond)_init\s*\(": "a pthread_*_init whose result is ignored "
                                            "(check_pthread in common/errors.h)",
    r"static\s+\w+\s+now_ns\s*\(|static\s+double\s+seconds_now": "a local clock (common/clock.h)",
    r"\(issue \d+": "a planning note a reader cannot follow",
}


@pytest.mark.parametrize("step", STEPS)
def test_no_local_copies_of_what_common_provides(step):
    """A step rewrote a helper common/ already has, or left a planning note in its sources."""
    for name in sources(step):
        text = read(step, name)
        for pattern, what in LOCAL_COPIES.items():
            m = re.search(pattern, text, re.M)
            assert not m, f"{step}/{name}: {what}: {m.group(0)!r}"


@pytest.mark.skipif(shutil.which("clang-format") is None, reason="clang-format is not installed")
@pytest.mark.parametrize("step", STEPS)
def test_sources_follow_clang_format(step):
    """A C file of chapters 4 and 5 is not laid out as .clang-format says."""
    for name in sources(step):
        file = path(step, name)
        result = subprocess.run(["clang-format", "--dry-run", "-Werror", file],
                                capture_output=True, text=True, cwd=ROOT)
        assert result.returncode == 0, f"{step}/{name}: clang-format -i it\n{result.stderr[:800]}"
