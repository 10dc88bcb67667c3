"""ch05-runtime: every runtime step traces what it does (ASYNC_TRACE), and the
timelines in the READMEs are drawn from real traces.

Each step's program runs once with ASYNC_TRACE=<tmp>/t.json,- against the
session's delay server (and again built with ASan, and with TSan where it has
threads). check_trace() (tests/trace_check.py) holds the trace to its rules:
valid JSON, every poll closed on the thread that opened it, every wake
followed by a poll of the task it woke, a named track per thread, names on
every task, the text form the same as the JSON. Then each step's own claims:
which threads exist, what its tasks are called, who wakes whom. Step k's
coroserver is a delay server itself: it serves two clients, traced, until
SIGTERM.
"""
import collections
import os
import re
import socket
import xml.etree.ElementTree as ET

import pytest

from trace_check import check_trace
from workbook import SANITIZER_ENV, DelayServer, assert_sanitizer_clean, path, run

CH05 = path("ch05-runtime")
TIMELINE = path("scripts", "timeline")
REQUESTS = [f"request {i}" for i in range(5)]


def step(name):
    return os.path.join(CH05, name)


# What each traced run must show: its folder, program and arguments, the
# names of its threads' tracks, the names of its tasks, and where threads
# park: {(track, "epoll_wait" or "condvar")}.
RUNS = {
    "a": ("a-runtime", ["runtime"], {"main"}, {"main"}, {("main", "epoll_wait")}),
    "b": ("b-executor", ["executor"], {"main"}, {"main", *REQUESTS}, {("main", "epoll_wait")}),
    "c": ("c-reactor-thread", ["reactor-thread"], {"main", "reactor"}, {"main", *REQUESTS},
          {("main", "condvar"), ("reactor", "epoll_wait")}),
    "d": ("d-multi-thread", ["multi-thread", "--threads", "2"], {"main", "exec-1", "reactor"},
          {"main", "exec-1"} | {f"{e} {r}" for e in ("main", "exec-1") for r in REQUESTS},
          {("main", "condvar"), ("exec-1", "condvar"), ("reactor", "epoll_wait")}),
    "e": ("e-timers", ["timers"], {"main", "reactor"},
          {"main", "sleep 300 ms", "sleep 100 ms", "sleep 200 ms"},
          {("main", "condvar"), ("reactor", "epoll_wait")}),
    "e-heap": ("e-timers", ["timers", "--heap"], {"main", "reactor"},
               {"main", "sleep 300 ms", "sleep 100 ms", "sleep 200 ms"},
               {("main", "condvar"), ("reactor", "epoll_wait")}),
    "f": ("f-join", ["join"], {"main", "exec-1", "exec-2", "reactor"},
          {"main", "a", "b", "c", "d", "detached", "fetch 4", "fetch 5", "fetch 6"},
          {("main", "condvar"), ("exec-1", "condvar"), ("exec-2", "condvar"),
           ("reactor", "epoll_wait")}),
    "g": ("g-channels", ["channels"], {"main"},
          {"main", "producer-a", "producer-b", "doubler", "printer"}, set()),  # never idle
    # Quiet executors (a NULL name): "executor <n>" threads, "task <n>" tasks.
    "g-stress": ("g-channels", ["channels", "--stress", "--producers", "2", "--messages", "200",
                                "--capacity", "2"],
                 {"executor 1", "executor 2", "executor 3"}, {"task 1", "task 2", "task 3"}, set()),
    "h": ("h-udp", ["udp"], {"main", "reactor"}, {"main", "server", "client"},
          {("reactor", "epoll_wait")}),  # over loopback, main need not sleep
    "i": ("i-scopes", ["scopes"], {"main"},
          {"root", "a", "b", "c", "fast", "socket", "slow", "both", "timeout"},
          {("main", "epoll_wait")}),
    # The pool starts "blocking 2" to "blocking 4" as calls pile up (see
    # POOL_TRACKS); "blocking 1" runs the rows' calls, one at a time.
    "j": ("j-blocking", ["blocking", "--work", "20"], {"main", "reactor", "blocking 1"},
          {"main", *(f"ticker {i}" for i in range(1, 7)), "blocking: sleep 20 ms",
           "blocking: hash 20 ms", "sleeper 10 s", *(f"blocking: slow call {i}" for i in range(1, 5)),
           "blocking: queued call"},
          {("main", "condvar"), ("reactor", "epoll_wait"), ("blocking 1", "condvar")}),
}
POOL_TRACKS = re.compile(r"blocking [2-4]")
# Sanitizer runs: ASan everywhere, TSan where the step has threads of its own.
SANITIZED = [(run_id, "asan") for run_id in ("a", "b", "c", "d", "e", "f", "g", "h", "i", "j")] + \
            [(run_id, "tsan") for run_id in ("c", "d", "e-heap", "f", "g-stress", "h", "j")]


def traced_run(tmp_path, run_id, variant=""):
    """Run the step's program with ASYNC_TRACE=FILE,-; check the trace and
    what every runtime step shares; return the Trace."""
    folder, argv, tracks, tasks, parks = RUNS[run_id]
    json_path = tmp_path / "t.json"
    sanitizer = variant != ""
    program = "./" + argv[0] + (f"-{variant}" if sanitizer else "")
    result = run([program, *argv[1:]], cwd=step(folder), env={"ASYNC_TRACE": f"{json_path},-"},
                 sanitizer=sanitizer, check=not sanitizer, timeout=120 if sanitizer else 60)
    if sanitizer:
        assert_sanitizer_clean(result)
    trace = check_trace(str(json_path), text=result.stderr)
    check_runtime_trace(trace, run_id, tracks, tasks, parks)
    return trace


def check_runtime_trace(trace, run_id, tracks, tasks, parks):
    """What every runtime step's trace shares: its threads, its tasks, where they park."""
    named = {n for n in trace.tracks.values() if not POOL_TRACKS.fullmatch(n)}
    assert named == tracks, "one track per thread, named after it"
    assert set(trace.task_names.values()) == tasks
    if run_id != "i":  # scopes: each demo has its root, and children "a", "b"
        assert len(trace.task_names) == len(tasks), "two tasks share a name"
    spawned = collections.Counter(e.task for e in trace.instants_of("spawn"))
    assert spawned == collections.Counter(trace.task_names.keys()), "a task spawned twice, or untraced"
    names = trace.tracks
    parked = {(names[s.track], s.name) for s in trace.spans if s.cat == "park"}
    assert parks <= parked, parked
    # Tasks never move between threads: every poll of a task runs on one track.
    where = collections.defaultdict(set)
    for s in trace.spans:
        if s.cat == "poll":
            where[s.task].add(s.track)
    assert all(len(tracks_of) == 1 for tracks_of in where.values()), where
    aborted = {e.task for e in trace.instants_of("abort")}
    assert set(where) | aborted == set(trace.task_names), "a task was never polled, nor aborted"


def by_name(trace):
    return {name: task for task, name in trace.task_names.items()}


def arrows_between(trace, task_name):
    """(from track, to track) of every arrow to the task called task_name."""
    task = by_name(trace)[task_name]
    return [(trace.tracks[a.from_track], trace.tracks[a.to_track])
            for a in trace.arrows if a.task == task]


# ===== Each step's trace, and what it shows =====

def test_a_block_on_is_one_task_woken_by_its_events(delayserver, tmp_path):
    """block_on traces no wake after epoll_wait returns, or polls without one."""
    trace = traced_run(tmp_path, "a")
    polls = [s for s in trace.spans if s.cat == "poll"]
    # Every poll but the first was caused by a wake, after a park.
    assert len(trace.arrows) == len(polls) - 1 >= 2, (len(trace.arrows), len(polls))
    assert len(trace.instants_of("register")) == 2  # one socket per request


def test_b_one_thread_polls_wakes_and_parks(delayserver, tmp_path):
    """The single-threaded executor's wakes do not lead to the polls of their own tasks."""
    trace = traced_run(tmp_path, "b")
    ids = by_name(trace)
    for name in REQUESTS:
        assert trace.polls[ids[name]] >= 2, (name, trace.polls)
        assert arrows_between(trace, name) and set(arrows_between(trace, name)) == {("main", "main")}
    assert len(trace.instants_of("done")) == 6 and len(trace.instants_of("register")) == 5


def test_c_the_reactor_thread_wakes_the_tasks(delayserver, tmp_path):
    """With a reactor thread, a request is woken from anywhere but the reactor's track."""
    trace = traced_run(tmp_path, "c")
    for name in REQUESTS:
        assert set(arrows_between(trace, name)) == {("reactor", "main")}, name


def test_d_every_executor_runs_its_own_requests(delayserver, tmp_path):
    """A request of multi-thread runs on another executor's thread, or is woken by anyone but the reactor."""
    trace = traced_run(tmp_path, "d")
    ids = by_name(trace)
    for executor in ("main", "exec-1"):
        for name in REQUESTS:
            task = f"{executor} {name}"
            poll = next(s for s in trace.spans if s.cat == "poll" and s.task == ids[task])
            assert trace.tracks[poll.track] == executor, task
            assert set(arrows_between(trace, task)) == {("reactor", executor)}, task


@pytest.mark.parametrize("run_id", ["e", "e-heap"], ids=["timerfd", "heap"])
def test_e_timers_expire_and_wake_their_sleepers(tmp_path, run_id):
    """A sleep's expiry is not traced, or its task is woken twice or by the wrong thread."""
    trace = traced_run(tmp_path, run_id)
    expired = [e.name for e in trace.instants_of("timer")]
    if run_id == "e":  # each sleep's own timerfd, seen by its task's poll
        assert len(expired) == 3 and all(re.fullmatch(r"timerfd \d+ expired", n) for n in expired)
    else:  # the heap's one timerfd fires, and the reactor pops what is due
        due = [int(re.fullmatch(r"heap: (\d+) due", n).group(1)) for n in expired]
        assert sum(due) == 3, expired
    for name in ("sleep 100 ms", "sleep 200 ms", "sleep 300 ms"):
        assert arrows_between(trace, name) == [("reactor", "main")], name


def test_f_join_handles_wake_across_threads(delayserver, tmp_path):
    """Completing a child on another thread does not wake the parent that awaits it."""
    trace = traced_run(tmp_path, "f")
    to_parent = collections.Counter(arrows_between(trace, "main"))
    # d (and b, unless the parent was slower than the server) completes on
    # exec-2 while the parent awaits it: the wake crosses threads.
    assert to_parent[("exec-2", "main")] >= 1, to_parent
    assert len(trace.instants_of("done")) == len(trace.task_names)


def test_g_channels_wake_their_tasks(tmp_path):
    """A channel's send or recv wakes no task, so the pipeline's tasks are never polled again."""
    trace = traced_run(tmp_path, "g")
    for name in ("doubler", "printer"):
        assert trace.polls[by_name(trace)[name]] >= 2 and arrows_between(trace, name), name


def test_g_stress_wakes_cross_threads(tmp_path):
    """The stress run's producers and consumer never wake each other across threads."""
    trace = traced_run(tmp_path, "g-stress")
    assert any(a.from_track != a.to_track for a in trace.arrows)


def test_h_the_reactor_wakes_the_udp_tasks(tmp_path):
    """A UDP socket's readiness is not traced as a wake of the task that waits for it."""
    trace = traced_run(tmp_path, "h")
    for name in ("server", "client"):
        assert ("reactor", "main") in arrows_between(trace, name), name


def test_i_children_are_polled_inside_the_root(tmp_path):
    """A scope's child is polled outside its scope's poll, or a wake is lost."""
    trace = traced_run(tmp_path, "i")
    roots = [s for s in trace.spans if s.cat == "poll" and trace.task_names[s.task] == "root"]
    for s in trace.spans:
        if s.cat == "poll" and trace.task_names[s.task] != "root":
            assert any(r.begin < s.begin and s.end < r.end for r in roots), s
    # Only the root is woken: a child's wake marks its slot and wakes the root.
    assert {trace.task_names[a.task] for a in trace.arrows} == {"root"}


def test_j_a_blocking_call_runs_on_a_pool_thread_and_wakes_its_awaiter(tmp_path):
    """A blocking call runs on an executor's thread, is not traced as a span of its own, or its end wakes nobody."""
    trace = traced_run(tmp_path, "j")
    ids, names = by_name(trace), trace.tracks
    for call in ("blocking: sleep 20 ms", "blocking: hash 20 ms"):
        (run,) = [s for s in trace.spans if s.cat == "poll" and s.task == ids[call]]
        assert re.fullmatch(r"blocking \d", names[run.track]), names[run.track]
        assert run.end - run.begin >= 19_000_000, run  # the call's 20 ms, on its own thread
        # Its completion wakes the task that awaits its handle, across threads.
        woken = [a for a in trace.arrows if a.from_track == run.track and run.end <= a.from_ns]
        first = min(woken, key=lambda a: a.from_ns, default=None)
        assert first and first.task == ids["main"] and names[first.to_track] == "main", woken
    aborts = {trace.task_names[e.task]: names[e.track] for e in trace.instants_of("abort")}
    # The sleeper is dropped by its executor; the queued call by the pool
    # thread that took it, without running it.
    assert aborts.keys() == {"sleeper 10 s", "blocking: queued call"}, aborts
    assert aborts["sleeper 10 s"] == "main", aborts
    assert re.fullmatch(r"blocking \d", aborts["blocking: queued call"]), aborts
    assert ids["blocking: queued call"] not in trace.polls


# ===== k: a server's trace =====

def traced_server(tmp_path, threads, variant=""):
    """Run coroserver traced: two keep-alive clients each get an answer (a
    50 ms delay), stay connected, and SIGTERM stops the server. Return the
    checked Trace."""
    json_path = tmp_path / "t.json"
    program = "coroserver" + (f"-{variant}" if variant else "")
    env = {"ASYNC_TRACE": f"{json_path},-", "COROSERVER_THREADS": str(threads),
           **(SANITIZER_ENV if variant else {})}
    server = DelayServer("--speedup", "10", binary=os.path.join(step("k-coroserver"), program), env=env)
    clients = []
    try:
        for i in range(2):
            client = socket.create_connection((server.host, server.port), timeout=20)
            clients.append(client)
            client.sendall(f"GET /500/c{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            answer = b""
            while not answer.endswith(f"c{i}".encode()):
                chunk = client.recv(4096)
                assert chunk, answer
                answer += chunk
        status = server.stop()
    finally:
        for client in clients:
            client.close()
        server.stop()
    text = "\n".join(server.errors)
    assert status == 0 and "Sanitizer" not in text, f"exit {status}\n{text[-3000:]}"
    trace = check_trace(str(json_path), text=text)
    tracks = {"main"} if threads == 1 else {"main", "exec-1", "reactor"}
    parks = {("main", "epoll_wait")} if threads == 1 else \
        {("main", "condvar"), ("exec-1", "condvar"), ("reactor", "epoll_wait")}
    check_runtime_trace(trace, "k", tracks, {"serve", "connection 1", "connection 2"}, parks)
    return trace


@pytest.mark.parametrize("threads", [1, 2])
def test_k_connections_wait_and_the_server_shuts_down(tmp_path, threads):
    """A connection's waits, its delay's timeout or its abort at shutdown are missing from coroserver's trace."""
    trace = traced_server(tmp_path, threads)
    ids, names = by_name(trace), trace.tracks
    registered = [e.name for e in trace.instants_of("register")]
    assert any(re.fullmatch(r"fd \d+ waits to accept", n) for n in registered), registered
    assert any(re.fullmatch(r"fd \d+ is the signalfd", n) for n in registered), registered
    for i in (1, 2):
        polls = [s for s in trace.spans if s.cat == "poll" and s.task == ids[f"connection {i}"]]
        # Its request arrives, its delay's timeout fires, it waits for the next.
        assert len(polls) >= 3, polls
        expected = "main" if threads == 1 else ("main", "exec-1")[i - 1]  # round-robin
        assert {names[s.track] for s in polls} == {expected}
    assert sum(n.endswith("waits to read") for n in registered) >= 4, registered  # 2 each
    assert sum(n.endswith("waits for a hang-up") for n in registered) == 2, registered
    assert len([e for e in trace.instants_of("timer") if e.name == "timeout expired"]) >= 2
    # SIGTERM: the signalfd's event wakes serve (on the thread that waits
    # in epoll_wait), which aborts both idle connections; each is dropped
    # on its own executor's thread, and the last to leave wakes serve again,
    # whose last poll finds the scope empty.
    aborts = trace.instants_of("abort")
    assert sorted(trace.task_names[e.task] for e in aborts) == ["connection 1", "connection 2"]
    for e in aborts:
        polled = next(s.track for s in trace.spans if s.cat == "poll" and s.task == e.task)
        assert e.track == polled, e
    first_abort = min(e.ns for e in aborts)
    serve = [s for s in trace.spans if s.cat == "poll" and s.task == ids["serve"]]
    accepted = max(e.ns for e in trace.instants_of("spawn") if e.task == ids["connection 2"])
    (signalled,) = [s for s in serve if accepted < s.begin < first_abort]
    waits_in_epoll = "main" if threads == 1 else "reactor"
    woken_by = [names[a.from_track] for a in trace.arrows
                if a.task == ids["serve"] and signalled.begin <= a.to_ns <= signalled.end]
    assert woken_by == [waits_in_epoll], woken_by
    last = serve[-1]
    assert last.state == "ready" and last.begin > max(e.ns for e in aborts)
    assert any(a.task == ids["serve"] and last.begin <= a.to_ns <= last.end for a in trace.arrows)


@pytest.mark.sanitizer
@pytest.mark.parametrize("threads,variant", [(1, "asan"), (2, "tsan")])
def test_k_traced_server_is_sanitizer_clean(tmp_path, threads, variant):
    """Tracing coroserver leaks a connection's name, or races with its executors or reactor."""
    traced_server(tmp_path, threads, variant)


@pytest.mark.sanitizer
@pytest.mark.parametrize("run_id,variant", SANITIZED, ids=[f"{r}-{v}" for r, v in SANITIZED])
def test_traced_runs_are_sanitizer_clean(delayserver, tmp_path, run_id, variant):
    """Tracing leaks a task's name, reads a freed task, or races with the runtime's threads."""
    traced_run(tmp_path, run_id, variant)


# ===== The timelines in the READMEs =====

PICTURES = {  # folder with timeline.json and timeline.svg -> the run it shows
    "b-executor": "b", "c-reactor-thread": "c", "d-multi-thread": "d"}


def title_of(svg_path):
    """The title scripts/timeline wrote at the top of a picture."""
    root = ET.parse(svg_path).getroot()
    for text in root.iter("{http://www.w3.org/2000/svg}text"):
        if text.get("font-weight") == "bold" and text.get("font-size") == "13":
            return text.text
    raise AssertionError(f"{svg_path} has no title")


@pytest.mark.parametrize("folder", PICTURES)
def test_committed_timeline_is_current(tmp_path, folder):
    """A README's timeline is not what scripts/timeline draws from its committed trace (run `make pictures`)."""
    json_path, svg_path = (os.path.join(step(folder), "timeline" + ext) for ext in (".json", ".svg"))
    out = tmp_path / "t.svg"
    run([TIMELINE, json_path, "-o", str(out), "--title", title_of(svg_path)])
    with open(svg_path, encoding="utf-8") as f:
        assert out.read_text() == f.read(), f"run `make -C ch05-runtime/{folder} pictures`"


@pytest.mark.parametrize("folder", PICTURES)
def test_committed_trace_is_a_run_of_its_step(folder):
    """A committed trace breaks the trace rules, or comes from another program than its step's."""
    _, _, tracks, tasks, _ = RUNS[PICTURES[folder]]
    trace = check_trace(os.path.join(step(folder), "timeline.json"))
    assert set(trace.tracks.values()) == tracks and set(trace.task_names.values()) == tasks
    with open(os.path.join(step(folder), "Makefile"), encoding="utf-8") as f:
        assert "\npictures:" in f.read(), f"{folder}/Makefile has no `pictures` target"


def test_chapter_readme_shows_the_timelines():
    """The chapter README does not show the three timelines side by side."""
    with open(os.path.join(CH05, "README.md"), encoding="utf-8") as f:
        text = f.read()
    for folder in PICTURES:
        assert f"({folder}/timeline.svg)" in text, folder
