"""common/trace.c, its checker (tests/trace_check.py) and scripts/timeline, on common/trace-check."""
import collections
import json
import os
import re
import xml.etree.ElementTree as ET

import pytest

from trace_check import TraceError, check_trace, parse_text
from workbook import assert_readme_output, assert_sanitizer_clean, path, run

COMMON = path("common")
README = path("common", "README.md")
TIMELINE = path("scripts", "timeline")
SAMPLE = path("docs", "pictures", "trace-check.json")
PICTURE = path("docs", "pictures", "trace-check.svg")
PICTURE_TITLE = "trace-check: two executors, a reactor, five tasks; then two fibers"
SUMMARY = "trace-check: 5 tasks done on 2 executors, then 2 fibers took turns\n"
TRACKS = {"main", "reactor", "executor 1", "executor 2", "fiber 1", "fiber 2"}
SVG = "{http://www.w3.org/2000/svg}"


def traced_run(tmp_path, *args, program="./trace-check", sanitizer=False, timeout=60):
    """Run trace-check with ASYNC_TRACE=FILE,- and check both forms of its trace."""
    json_path = tmp_path / "trace.json"
    result = run([program, *args], cwd=COMMON, env={"ASYNC_TRACE": f"{json_path},-"},
                 sanitizer=sanitizer, check=not sanitizer, timeout=timeout)
    if sanitizer:
        assert_sanitizer_clean(result)
    return result, check_trace(str(json_path), text=result.stderr)


def by_name(trace):
    """task name -> task id."""
    return {name: task for task, name in trace.task_names.items()}


# ===== The library, through trace-check =====

def test_every_event_kind_is_traced(tmp_path):
    """A trace call writes nothing, or the wrong thing: a track, task, span or arrow is missing."""
    result, trace = traced_run(tmp_path)
    assert result.stdout == SUMMARY
    assert set(trace.tracks.values()) == TRACKS
    ids = by_name(trace)
    assert set(ids) == {"sleeper 1", "sleeper 2", "sleeper 3", "yielder", "waiter",
                        "fiber 1", "fiber 2"}
    polls = {name: trace.polls[task] for name, task in ids.items()}
    assert polls["sleeper 1"] == polls["sleeper 2"] == polls["sleeper 3"] == 3, polls
    assert polls["yielder"] == 4 and polls["fiber 1"] == polls["fiber 2"] == 2, polls
    assert polls["waiter"] in (1, 2), polls  # 2 unless its first poll came after every sleeper
    assert len(trace.instants_of("spawn")) == len(trace.instants_of("done")) == 7
    assert len(trace.instants_of("register")) == len(trace.instants_of("timer")) == 6
    parks = collections.Counter((trace.tracks[s.track], s.name) for s in trace.spans if s.cat == "park")
    assert parks[("main", "join")] >= 1 and parks[("reactor", "epoll_wait")] >= 1, parks
    assert parks[("executor 1", "condvar")] >= 1 and parks[("executor 2", "condvar")] >= 1, parks
    # Every wake here makes its task run again, so every wake has its arrow.
    assert len(trace.arrows) == len(trace.wakes) > 0


def test_arrows_cross_threads_and_tracks(tmp_path):
    """An arrow starts or ends on the wrong track, so the picture says the wrong thread woke a task."""
    _, trace = traced_run(tmp_path)
    ids, names = by_name(trace), trace.tracks
    kinds = collections.Counter((names[a.from_track], trace.task_names[a.task]) for a in trace.arrows)
    # The reactor wakes each sleeper twice, outside any span of its own.
    for k in (1, 2, 3):
        assert kinds[("reactor", f"sleeper {k}")] == 2, kinds
    # The yielder wakes itself, inside its own poll: three arcs on its lane.
    yields = [a for a in trace.arrows if a.task == ids["yielder"]]
    assert len(yields) == 3 and all(a.from_track == a.to_track for a in yields), yields
    # The last sleeper to finish wakes the waiter, inside its own last poll.
    to_waiter = [a for a in trace.arrows if a.task == ids["waiter"]]
    assert len(to_waiter) == 1, to_waiter
    arrow = to_waiter[0]
    assert any(s.cat == "poll" and s.state == "ready" and trace.task_names[s.task].startswith("sleeper")
               and s.track == arrow.from_track and s.begin <= arrow.from_ns <= s.end
               for s in trace.spans), arrow
    # The fibers hand each other three turns, from one fiber track to the other.
    turns = [a for a in trace.arrows if names[a.from_track].startswith("fiber")]
    assert len(turns) == 3 and all(names[a.to_track].startswith("fiber") and a.to_track != a.from_track
                                   for a in turns), turns


def test_text_form_alone(tmp_path):
    """ASYNC_TRACE=- prints nothing, prints on stdout, or writes a file."""
    result = run(["./trace-check"], cwd=COMMON, env={"ASYNC_TRACE": "-"})
    assert result.stdout == SUMMARY
    lines = parse_text(result.stderr)
    assert set(lines) == TRACKS
    words = collections.Counter(word for events in lines.values() for _, word, _ in events)
    for word in ("spawn", "poll", "pending", "ready", "done", "wake", "park", "unpark",
                 "register", "timer"):
        assert words[word] > 0, (word, words)
    assert words["poll"] == words["pending"] + words["ready"]
    assert all(re.match(r" *\d+ us  \[", line) for line in result.stderr.splitlines()), result.stderr
    for events in lines.values():  # each track's times only go forward
        assert [us for us, _, _ in events] == sorted(us for us, _, _ in events)
    assert_readme_output(README, "ASYNC_TRACE=- ./trace-check", result.stderr + result.stdout)


def test_untraced_run_writes_nothing(tmp_path):
    """With ASYNC_TRACE unset or empty, the program prints trace lines or leaves files behind."""
    for env in ({}, {"ASYNC_TRACE": ""}):
        result = run([os.path.join(COMMON, "trace-check")], cwd=tmp_path, env=env)
        assert result.stdout == SUMMARY and result.stderr == ""
    assert not any(tmp_path.iterdir())


def test_exit_handler_finishes_the_file(tmp_path):
    """A program that never calls trace_close() leaves a trace without its end: invalid JSON."""
    _, trace = traced_run(tmp_path, "--no-close")
    assert set(trace.tracks.values()) == TRACKS


def test_many_threads_at_once(tmp_path):
    """Events written by several threads at once come out interleaved or garbled."""
    _, trace = traced_run(tmp_path, "--sleepers", "200", "--ms", "1")
    assert len(trace.task_names) == 204
    assert sum(trace.polls.values()) == 3 * 200 + 4 + trace.polls[by_name(trace)["waiter"]] + 4


@pytest.mark.sanitizer
@pytest.mark.parametrize("variant", ["asan", "tsan"])
def test_sanitizers(tmp_path, variant):
    """The trace writer races (TSan), leaks or overruns a buffer (ASan/UBSan)."""
    _, trace = traced_run(tmp_path, "--sleepers", "40", "--ms", "2",
                          program=f"./trace-check-{variant}", sanitizer=True, timeout=120)
    assert len(trace.task_names) == 44


@pytest.mark.sanitizer
@pytest.mark.parametrize("variant", ["asan", "tsan"])
def test_sanitizers_untraced_and_exit_handler(tmp_path, variant):
    """Turned off, or finished by the exit handler, the library touches memory it should not."""
    plain = run([f"./trace-check-{variant}"], cwd=COMMON, sanitizer=True, check=False, timeout=120)
    assert_sanitizer_clean(plain)
    assert plain.stdout == SUMMARY
    json_path = tmp_path / "t.json"
    result = run([f"./trace-check-{variant}", "--no-close"], cwd=COMMON, sanitizer=True,
                 check=False, timeout=120, env={"ASYNC_TRACE": str(json_path)})
    assert_sanitizer_clean(result)
    check_trace(str(json_path))


@pytest.mark.parametrize("setting,words", [
    ("/no/such/folder/t.json", ["ASYNC_TRACE='/no/such/folder/t.json'", "No such file or directory"]),
    ("{tmp}", ["Is a directory"]),
    ("a.json,b.json", ["one file at most"]),
    (",", ["expected FILE, - or FILE,-"]),
])
def test_bad_trace_setting_is_one_line(tmp_path, setting, words):
    """A trace file that cannot be written is ignored silently, or crashes the program."""
    setting = setting.format(tmp=tmp_path)
    result = run([os.path.join(COMMON, "trace-check")], cwd=tmp_path, check=False,
                 env={"ASYNC_TRACE": setting})
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("trace-check: ") and result.stderr.count("\n") == 1, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr
    assert not (tmp_path / "a.json").exists()


# ===== The checker catches what it claims to =====

def _load_sample():
    with open(SAMPLE, encoding="utf-8") as f:
        return json.load(f)


def _first(events, **fields):
    return next(i for i, e in enumerate(events)
                if all(e.get(k) == v or (k == "task" and e.get("args", {}).get("task") == v)
                       for k, v in fields.items()))


def _drop(**fields):
    def mutate(events):
        del events[_first(events, **fields)]
    return mutate


def _set(what, value, **fields):
    def mutate(events):
        event = events[_first(events, **fields)]
        if what.startswith("args."):
            event["args"][what[5:]] = value
        else:
            event[what] = value
    return mutate


def _other_thread(events):
    """Close a poll on another track than the one that opened it."""
    event = events[_first(events, ph="E", cat="poll")]
    event["tid"] = event["tid"] % 4 + 1


def _abort_before_a_poll(events):
    """Abort a task right after its spawn, before the polls it has."""
    spawn = _first(events, ph="i", cat="spawn")
    events.insert(spawn + 1, dict(events[spawn], cat="abort"))


MUTATIONS = {
    "a poll never ends": (_drop(ph="E", cat="poll"), "never ends|not its innermost"),
    "a poll ends on another thread": (_other_thread, "not its innermost|none is open|never ends|back in time"),
    "a poll ends unfinished": (_set("args.state", "unfinished", ph="E", cat="poll"), "not pending or ready"),
    "a track has no name": (_drop(ph="M", name="thread_name"), "no name"),
    "two tracks share a name": (_set("args", {"name": "main"}, ph="M", name="thread_name", tid=2),
                                "two tracks are named"),
    "a task has no name": (_set("name", "", ph="i", cat="spawn"), "without a task name"),
    "a task changes name": (_set("name", "someone else", ph="i", cat="spawn"), "is called"),
    "an arrow has no end": (_drop(ph="f"), "has a start but no end"),
    "two arrows share an id": (_set("id", 1, ph="s", id=2), "two arrow starts"),
    "an arrow end is not bound": (_set("bp", None, ph="f"), "bp"),
    "an arrow starts outside a wake": (_set("ts", 0.5, ph="s"), "outside any wake|back in time"),
    "a woken task is never polled": (None, "never polled after"),
    "a task is polled after its abort": (_abort_before_a_poll, "polled after its abort"),
    "not JSON": ("cut", "not a readable JSON file"),
}


@pytest.mark.parametrize("name", MUTATIONS)
def test_checker_catches(tmp_path, name):
    """The trace checker passes a broken trace, so the chapter tests that use it prove nothing."""
    mutate, message = MUTATIONS[name]
    data = _load_sample()
    check_trace(SAMPLE)  # the sample itself is fine
    broken = tmp_path / "broken.json"
    if mutate == "cut":
        with open(SAMPLE, encoding="utf-8") as f:
            broken.write_text(f.read()[:-10])
    else:
        events = data["traceEvents"]
        if mutate is None:  # a wake of the waiter after its last poll, the task not done
            done = _first(events, ph="i", cat="done", name="waiter")
            last = dict(events[done], ph="X", cat="wake", dur=0.004)
            del events[done]
            events.append(dict(last, ts=events[-2]["ts"]))
        else:
            mutate(events)
        broken.write_text(json.dumps(data))
    with pytest.raises(TraceError, match=message):
        check_trace(str(broken))


def test_checker_compares_the_text_form(tmp_path):
    """The text form drops or reorders an event and the checker does not notice."""
    result, _ = traced_run(tmp_path)
    lines = result.stderr.splitlines(keepends=True)
    poll = next(i for i, line in enumerate(lines) if "  poll " in line)
    for broken in (lines[:poll] + lines[poll + 1:],                      # a line missing
                   lines[:poll] + [lines[poll].replace("poll ", "wake ")] + lines[poll + 1:]):
        with pytest.raises(TraceError, match="text form"):
            check_trace(str(tmp_path / "trace.json"), text="".join(broken))


# ===== scripts/timeline =====

def svg_parts(svg_path):
    """(lane names, poll boxes, parks, arrows) of a picture; fails on XML that does not parse."""
    root = ET.parse(svg_path).getroot()
    assert root.tag == SVG + "svg"
    groups = list(root.iter(SVG + "g"))
    lanes = [" ".join(t.text for t in g.iter(SVG + "text")) for g in groups if g.get("class") == "lane"]
    polls = [g for g in groups if g.get("class") == "poll"]
    parks = [g for g in groups if g.get("class") == "park"]
    arrows = [p for p in root.iter(SVG + "path") if p.get("class") == "arrow"]
    return lanes, polls, parks, arrows


def test_timeline_draws_the_sample(tmp_path):
    """The picture lacks a lane, a poll box, a park or an arrow the trace has, or is not valid SVG."""
    trace = check_trace(SAMPLE)
    out = tmp_path / "t.svg"
    run([TIMELINE, SAMPLE, "-o", str(out)])
    lanes, polls, parks, arrows = svg_parts(out)
    assert lanes == ["main", "reactor", "executor 1", "executor 2", "fiber 1", "fiber 2"]
    assert len(polls) == sum(trace.polls.values())
    assert len(parks) == sum(1 for s in trace.spans if s.cat == "park")
    assert len(arrows) == len(trace.arrows) > 0
    labels = {t.text for g in polls for t in g.iter(SVG + "text")}
    assert labels & set(trace.task_names.values()), labels  # some boxes are named in full


def test_committed_picture_is_current(tmp_path):
    """docs/pictures/trace-check.svg is not what scripts/timeline draws from the committed trace."""
    out = tmp_path / "t.svg"
    run([TIMELINE, SAMPLE, "-o", str(out), "--title", PICTURE_TITLE])
    with open(PICTURE, encoding="utf-8") as f:
        assert out.read_text() == f.read(), "run `make -C common picture` after changing the renderer"


def test_timeline_draws_a_trace_cut_short(tmp_path):
    """A run that crashed leaves a trace without its final "]}": the renderer refuses it."""
    with open(SAMPLE, encoding="utf-8") as f:
        lines = f.readlines()
    cut = tmp_path / "cut.json"
    cut.write_text("".join(lines[:len(lines) // 2]))
    result = run([TIMELINE, str(cut), "-o", str(tmp_path / "cut.svg")])
    assert "cut short" in result.stderr and result.stderr.count("\n") == 1
    _, polls, _, _ = svg_parts(tmp_path / "cut.svg")
    assert polls


@pytest.mark.parametrize("content,words", [
    (None, ["cannot read", "No such file"]),
    ("this is not json\n", ["not JSON"]),
    ('{"events": []}', ["no traceEvents"]),
    ('{"traceEvents": []}', ["nothing to draw|no spans or instants"]),
    ('{"traceEvents": [{"ph": "E", "tid": 1, "ts": 1, "cat": "poll", "name": "x"}]}',
     ["ends on track 1 where none began"]),
    ('{"traceEvents": [{"ph": "B", "tid": 1, "ts": "soon"}]}', ["numeric ts"]),
])
def test_timeline_bad_input_is_one_line(tmp_path, content, words):
    """A file that is not a trace crashes the renderer with a traceback, or writes a picture anyway."""
    trace = tmp_path / "in.json"
    if content is not None:
        trace.write_text(content)
    out = tmp_path / "out.svg"
    result = run([TIMELINE, str(trace), "-o", str(out)], check=False)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("timeline: ") and result.stderr.count("\n") == 1, result.stderr
    for word in words:
        assert re.search(word, result.stderr), result.stderr
    assert not out.exists()


def test_timeline_command_line(tmp_path):
    """--help fails, or a mistyped option is taken for a file name or answered with a traceback."""
    result = run([TIMELINE, "--help"])
    assert result.stdout.startswith("usage: timeline") and result.stderr == ""
    for args in (["--frobnicate", SAMPLE, "-o", "x.svg"], [SAMPLE], [SAMPLE, "-o", "x.svg", "--width", "9"]):
        bad = run([TIMELINE, *args], cwd=tmp_path, check=False)
        assert bad.returncode == 2 and bad.stdout == "", bad
        assert bad.stderr.startswith("timeline: ") and bad.stderr.endswith("(try --help)\n"), bad.stderr
        assert bad.stderr.count("\n") == 1
    assert not any(tmp_path.iterdir())
