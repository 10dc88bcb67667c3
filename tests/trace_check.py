"""Check a trace written by common/trace.c (ASYNC_TRACE=FILE, and =- for the text form).

A chapter test runs its program with ASYNC_TRACE and hands the result here:

    from trace_check import check_trace
    trace = check_trace(json_path, text=result.stderr)   # both from one run: ASYNC_TRACE=FILE,-
    assert set(trace.task_names.values()) == {"main", "fetch 1", ...}

check_trace() raises TraceError (an AssertionError) naming the first rule
broken, with the event that broke it:

  1. the file is valid JSON: {"displayTimeUnit": ..., "traceEvents": [...]};
  2. every span is closed, on the track that opened it, by an end of the same
     kind, name and task, and spans nest; a poll ends "pending" or "ready";
  3. every track that has events has a name (the last one given, as the
     viewers show it), and no two tracks share one;
  4. every task event (spawn, poll, wake, done, abort) carries a task id and
     a non-empty name, and a task keeps its name for the whole run;
  5. every wake is followed by a poll of the task it woke, unless that task
     is done by then (its last poll was running when the wake came) or
     aborted (its future dropped unpolled); an aborted task is never polled
     after its abort;
  6. arrows are well formed: each id has one start ("s") and one end ("f",
     "bp":"e"), the start lies in a wake of task T on the waker's track, the
     end in a poll of T on the poller's track, after the start;
  7. given the text form (ASYNC_TRACE=- lines, other lines are ignored), it
     shows the same events as the JSON, in the same order on every track,
     with the same times (whole microseconds).

The returned Trace holds what a test may want to assert next: track names,
task names, polls per task, the spans, wakes, instants and arrows.
"""
import collections
import json
import re

# One line of the text form: "     1042 us  [executor 1]  poll     task 3 fetch 2".
TEXT_LINE = re.compile(r"^ *(\d+) us  \[(.*?)\] +(\S+) (.*)$")

Span = collections.namedtuple("Span", "track cat name task begin end state")
Event = collections.namedtuple("Event", "track cat name task ns")  # an instant, or a wake's start
Arrow = collections.namedtuple("Arrow", "id task from_track from_ns to_track to_ns")


class TraceError(AssertionError):
    """A trace breaks one of the rules above."""


class Trace:
    """What check_trace() found in a trace that keeps every rule."""

    def __init__(self):
        self.tracks = {}         # track id (tid) -> name
        self.task_names = {}     # task id -> name
        self.polls = collections.Counter()  # task id -> number of polls
        self.spans = []          # Span: polls and parks, in the order they began
        self.wakes = []          # Event
        self.wake_spans = []     # Span: each wake's own tiny span
        self.instants = []       # Event: spawn, done, abort, register, timer
        self.arrows = []         # Arrow

    def instants_of(self, cat):
        return [e for e in self.instants if e.cat == cat]


def _fail(message, event=None):
    raise TraceError(message + (f"\n  event: {json.dumps(event)}" if event is not None else ""))


def _ns(event):
    """The event's ts (microseconds, three decimals) in whole nanoseconds."""
    ts = event.get("ts")
    if not isinstance(ts, (int, float)) or isinstance(ts, bool) or ts < 0:
        _fail("an event without a valid ts", event)
    return round(ts * 1000)


def load_events(path):
    """The traceEvents of a JSON trace file (rule 1)."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        _fail(f"{path}: not a readable JSON file: {e}")
    if not isinstance(data, dict) or not isinstance(data.get("traceEvents"), list):
        _fail(f"{path}: not a JSON object with a traceEvents list")
    if "displayTimeUnit" not in data:
        _fail(f"{path}: no displayTimeUnit")
    for event in data["traceEvents"]:
        if not isinstance(event, dict) or not isinstance(event.get("ph"), str):
            _fail(f"{path}: an element of traceEvents without a phase (ph)", event)
    return data["traceEvents"]


def _task(event):
    """(task id, name) of a task event, checked (rule 4)."""
    args = event.get("args")
    task = args.get("task") if isinstance(args, dict) else None
    if not isinstance(task, int) or isinstance(task, bool):
        _fail("a task event without an integer args.task", event)
    if not isinstance(event.get("name"), str) or not event["name"]:
        _fail("a task event without a task name", event)
    return task, event["name"]


def check_trace(path, text=None):
    """Check the JSON trace at `path` (and its text form, when given); return a Trace."""
    events = load_events(path)
    trace = Trace()
    names = collections.defaultdict(list)  # tid -> names given to it
    open_spans = collections.defaultdict(list)  # tid -> stack of (event, ns)
    last_ns = {}  # tid -> time of its previous span or instant event
    starts, ends = {}, {}  # arrow id -> (tid, ns) of its "s" / "f"
    sequence = collections.defaultdict(list)  # tid -> what the text form should show

    def remember_task(event):
        task, name = _task(event)
        if trace.task_names.setdefault(task, name) != name:
            _fail(f"task {task} is called {trace.task_names[task]!r} and {name!r}", event)
        return task, name

    for event in events:
        ph = event["ph"]
        if ph == "M":
            if event.get("name") == "thread_name":
                name = event.get("args", {}).get("name")
                if not isinstance(name, str) or not name:
                    _fail("a thread_name without a name", event)
                names[event.get("tid")].append(name)
            continue
        tid = event.get("tid")
        if not isinstance(tid, int):
            _fail("an event without an integer tid", event)
        ns = _ns(event)
        if ph in ("s", "f"):
            table = starts if ph == "s" else ends
            if event.get("id") in table:
                _fail(f"two arrow {'starts' if ph == 's' else 'ends'} with id {event.get('id')}", event)
            if ph == "f" and event.get("bp") != "e":
                _fail("an arrow end not bound to its enclosing span (\"bp\":\"e\")", event)
            table[event.get("id")] = (tid, ns, event)
            continue
        if ph not in ("B", "E", "X", "i"):
            _fail(f"an event of unknown phase {ph!r}", event)
        if ns < last_ns.get(tid, -1):
            _fail(f"track {tid} goes back in time", event)
        last_ns[tid] = ns
        cat = event.get("cat")
        if ph == "B":
            if cat not in ("poll", "park"):
                _fail(f"a span of unknown kind {cat!r}", event)
            if cat == "poll":
                remember_task(event)
            open_spans[tid].append((event, ns))
            word = "poll" if cat == "poll" else "park"
        elif ph == "E":
            if not open_spans[tid]:
                _fail(f"a span ends on track {tid}, where none is open (closed on another thread?)", event)
            begin, begin_ns = open_spans[tid].pop()
            same = begin.get("cat") == cat and begin.get("name") == event.get("name")
            if cat == "poll":
                task, _ = remember_task(event)
                same = same and begin.get("args", {}).get("task") == task
            if not same:
                _fail(f"a span ends on track {tid} that is not its innermost open one "
                      f"({begin.get('cat')} {begin.get('name')!r})", event)
            state = event.get("args", {}).get("state")
            if cat == "poll" and state not in ("pending", "ready"):
                _fail(f"a poll ends {state!r}, not pending or ready "
                      "(still running when the trace closed?)", event)
            task = begin.get("args", {}).get("task")
            trace.spans.append(Span(tid, cat, event["name"], task, begin_ns, ns, state))
            if cat == "poll":
                trace.polls[task] += 1
            word = state if cat == "poll" else "unpark"
        elif ph == "X":
            if cat != "wake":
                _fail(f"a complete event that is not a wake: {cat!r}", event)
            task, name = remember_task(event)
            dur = event.get("dur")
            if not isinstance(dur, (int, float)) or dur < 0:
                _fail("a wake without a valid dur", event)
            trace.wakes.append(Event(tid, cat, name, task, ns))
            trace.wake_spans.append(Span(tid, cat, name, task, ns, ns + round(dur * 1000), None))
            word = "wake"
        else:
            if cat in ("spawn", "done", "abort"):
                task, name = remember_task(event)
            elif cat in ("register", "timer"):
                task, name = None, event.get("name")
            else:
                _fail(f"an instant of unknown kind {cat!r}", event)
            trace.instants.append(Event(tid, cat, name, task, ns))
            word = cat
        args = event.get("args", {})
        detail = f"task {args['task']} {event['name']}" if "task" in args else event["name"]
        sequence[tid].append((ns // 1000, word, detail.strip()))

    for tid, stack in open_spans.items():
        if stack:
            _fail(f"a span on track {tid} never ends", stack[-1][0])
    trace.spans.sort(key=lambda s: s.begin)

    # Rule 3: one name per track, each its own.
    for tid in sequence:
        if tid not in names:
            _fail(f"track {tid} has events but no name (trace_thread() not called?)")
    for tid, given in names.items():
        trace.tracks[tid] = given[-1]
    clash = [n for n, c in collections.Counter(trace.tracks.values()).items() if c > 1]
    if clash:
        _fail(f"two tracks are named {clash[0]!r}")

    _check_wakes(trace)
    _check_arrows(trace, starts, ends)
    if text is not None:
        _check_text(trace, sequence, text)
    return trace


def _check_wakes(trace):
    """Rule 5."""
    poll_begins = collections.defaultdict(list)
    for span in trace.spans:
        if span.cat == "poll":
            poll_begins[span.task].append(span.begin)
    done = {e.task for e in trace.instants_of("done") + trace.instants_of("abort")}
    for abort in trace.instants_of("abort"):
        if any(begin > abort.ns for begin in poll_begins[abort.task]):
            _fail(f"task {abort.task} ({abort.name}) is polled after its abort")
    for wake in trace.wakes:
        if not any(begin > wake.ns for begin in poll_begins[wake.task]) and wake.task not in done:
            _fail(f"task {wake.task} ({wake.name}) is woken at {wake.ns / 1000:.3f} us "
                  "and never polled after")


def _inside(spans, tid, ns, **fields):
    """The innermost span of track tid that holds time ns and has `fields`, or None."""
    found = [s for s in spans if s.track == tid and s.begin <= ns <= s.end
             and all(getattr(s, k) == v for k, v in fields.items())]
    return max(found, key=lambda s: s.begin, default=None)


def _check_arrows(trace, starts, ends):
    """Rule 6."""
    if set(starts) != set(ends):
        odd = sorted(set(starts) ^ set(ends), key=str)[0]
        _fail(f"arrow {odd} has a start but no end, or an end but no start",
              (starts.get(odd) or ends.get(odd))[2])
    for flow, (from_tid, from_ns, event) in starts.items():
        to_tid, to_ns, end_event = ends[flow]
        wake = _inside(trace.wake_spans, from_tid, from_ns)
        if wake is None:
            _fail(f"arrow {flow} starts outside any wake", event)
        poll = _inside(trace.spans, to_tid, to_ns, cat="poll", task=wake.task)
        if poll is None:
            _fail(f"arrow {flow} from a wake of task {wake.task} does not end in a poll of it",
                  end_event)
        if to_ns < from_ns:
            _fail(f"arrow {flow} goes back in time", end_event)
        trace.arrows.append(Arrow(flow, wake.task, from_tid, from_ns, to_tid, to_ns))


def parse_text(text):
    """The text form's lines, per track name: [(microseconds, word, detail)]."""
    tracks = collections.defaultdict(list)
    for line in text.splitlines():
        m = TEXT_LINE.match(line)
        if m:
            us, track, word, detail = m.groups()
            tracks[track].append((int(us), word, detail.strip()))
    return tracks


def _check_text(trace, sequence, text):
    """Rule 7."""
    lines = parse_text(text)
    if not lines:
        _fail("the text form has no trace line")
    by_name = {trace.tracks[tid]: seq for tid, seq in sequence.items()}
    if set(lines) != set(by_name):
        _fail(f"the text form has tracks {sorted(lines)}, the JSON {sorted(by_name)}")
    for name, expected in by_name.items():
        got = lines[name]
        for i, (want, have) in enumerate(zip(expected, got)):
            if want != have:
                _fail(f"on track {name!r}, event {i + 1} is {want} in the JSON "
                      f"but {have} in the text form")
        if len(expected) != len(got):
            _fail(f"track {name!r} has {len(expected)} events in the JSON, "
                  f"{len(got)} in the text form")
