"""Tests of the delay server (delayserver/): the protocol, delays, bad input,
keep-alive, timeouts, load, running out of descriptors, and a clean exit.

They test the contract in delayserver/README.md ("What any delay server must
do"), not one program: every test that starts a server runs once for each
implementation in SERVERS, and so do those of test_delayserver_abuse.py.
Most tests start their own server with `serve` so the log numbering and the
options are theirs alone. Timing checks are ratios with wide margins: other
programs share the machine while the suite runs.
"""
import email.utils
import errno
import os
import re
import resource
import selectors
import signal
import socket
import stat
import subprocess
import time

import pytest

from workbook import SANITIZER_ENV, DelayServer, assert_readme_output, path, readme_blocks, run

README = path("delayserver", "README.md")
GOING_DEEPER = path("delayserver", "GOING-DEEPER.md")


class Implementation:
    """A delay server program: `name` built in the folder `step`, with its
    ASan+UBSan build beside it as `name`-asan (make asan), and with `tsan`
    its TSan build as `name`-tsan (make tsan), for a run with threads to
    check. `env` is added to the environment it runs in; `label` names it
    in test ids (default: `name`)."""

    def __init__(self, step, name, env=None, tsan=False, label=None):
        self.name = name
        self.binary = path(step, name)
        self.asan = self.binary + "-asan"
        self.tsan = self.binary + "-tsan" if tsan else None
        self.env = env or {}
        self.label = label or name

    def build(self, build):
        """The program of a build: "plain", "asan" or "tsan" (skips the test
        when this server has no threads for TSan to check)."""
        if build == "tsan" and self.tsan is None:
            pytest.skip(f"{self.label} runs on one thread: no TSan build to check")
        return {"plain": self.binary, "asan": self.asan, "tsan": self.tsan}[build]

    def __repr__(self):
        return f"{self.label} ({os.path.relpath(self.binary, path())})"


# Every delay server that must keep the contract; the suites run against each.
SERVERS = [
    Implementation("delayserver", "delayserver"),
    # One executor, which sleeps in the reactor itself; then two executors
    # and the reactor on a thread of its own, the run TSan checks.
    Implementation("ch05-runtime/k-coroserver", "coroserver"),
    Implementation("ch05-runtime/k-coroserver", "coroserver", env={"COROSERVER_THREADS": "2"},
                   tsan=True, label="coroserver-2-threads"),
]

# What every chapter client sends.
WORKBOOK_REQUEST = "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


@pytest.fixture(scope="module", autouse=True)
def many_descriptors():
    """The load tests hold thousands of sockets: raise our own soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture(scope="module", params=SERVERS, ids=lambda impl: impl.label)
def impl(request):
    """The delay server under test: each test that uses it runs once per entry of SERVERS."""
    return request.param


@pytest.fixture
def serve(impl, start_server, monkeypatch):
    """serve(*options, build="plain"): start the server under test with these
    options; build="asan" (or "tsan") starts its ASan+UBSan (or TSan) build
    with the sanitizer settings of workbook.py. Stopped after the test."""
    def start(*options, build="plain", binary=None):
        if build != "plain":
            for name, value in SANITIZER_ENV.items():
                monkeypatch.setenv(name, value)
        server = start_server(*options, binary=binary or impl.build(build), env=impl.env)
        server.build = build
        return server
    return start


@pytest.fixture(scope="module")
def shared_server(impl):
    """One server for the tests that only need the defaults. It is not the
    session's `delayserver`, whose log other test files may be counting."""
    server = DelayServer(binary=impl.binary, env=impl.env)
    yield server
    assert server.stop() == 0, server.errors


# ===== A small HTTP client =====

class Response:
    def __init__(self, status_line, headers, body):
        self.status_line = status_line
        self.status = int(status_line.split(" ")[1])
        self.headers = headers          # {lower-case name: value}
        self.names = list(headers)
        self.body = body                # bytes

    def __repr__(self):
        return f"<{self.status_line} {self.headers} {self.body!r}>"


def parse_response(data, head_only=False):
    """Split one response off the front of `data`: (Response, rest), or None if
    incomplete. head_only: the answer to a HEAD, whose content-length counts a
    body that is not sent."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = data[:end].decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        assert name.lower() not in headers, f"header {name} sent twice: {lines}"
        headers[name.lower()] = value.strip()
    length = 0 if head_only else int(headers["content-length"])
    body_start = end + 4
    if len(data) < body_start + length:
        return None
    return Response(lines[0], headers, data[body_start:body_start + length]), data[body_start + length:]


def connect(server, timeout=10):
    return socket.create_connection((server.host, server.port), timeout=timeout)


def read_until_close(sock):
    chunks = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def exchange(server, raw, timeout=10):
    """Send raw bytes on a new connection and read until the server closes it."""
    with connect(server, timeout) as sock:
        sock.sendall(raw if isinstance(raw, bytes) else raw.encode())
        return read_until_close(sock)


def get(server, target, timeout=10):
    """One request the way the workbook's clients send it; the single response."""
    data = exchange(server, WORKBOOK_REQUEST.format(target=target), timeout)
    parsed = parse_response(data)
    assert parsed is not None, f"incomplete response: {data!r}"
    response, rest = parsed
    assert rest == b"", f"bytes after the response: {rest!r}"
    return response


class Conversation:
    """One connection carrying several requests (keep-alive)."""

    def __init__(self, server):
        self.sock = connect(server)
        self.buffer = b""

    def send(self, raw):
        self.sock.sendall(raw.encode())

    def response(self, head_only=False):
        while True:
            parsed = parse_response(self.buffer, head_only)
            if parsed:
                response, self.buffer = parsed
                return response
            chunk = self.sock.recv(65536)
            assert chunk, f"connection closed before a whole response: {self.buffer!r}"
            self.buffer += chunk

    def closed(self):
        """True when the server closed the connection with nothing more to say."""
        return self.buffer == b"" and read_until_close(self.sock) == b""

    def close(self):
        self.sock.close()


def concurrent_gets(server, targets, timeout=60):
    """Send every request on its own connection at once, as non-blocking
    sockets under one selector (no threads). Returns [(response, seconds
    from connect to close)] in the order of `targets`."""
    selector = selectors.DefaultSelector()
    results = [None] * len(targets)
    start = time.monotonic()
    for i, target in enumerate(targets):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        err = sock.connect_ex((server.host, server.port))
        assert err in (0, errno.EINPROGRESS), os.strerror(err)
        state = {"i": i, "out": WORKBOOK_REQUEST.format(target=target).encode(), "in": bytearray(),
                 "start": time.monotonic()}
        selector.register(sock, selectors.EVENT_WRITE, state)
    pending = len(targets)
    while pending:
        assert time.monotonic() - start < timeout, f"{pending} of {len(targets)} requests unanswered"
        for key, mask in selector.select(timeout=1):
            sock, state = key.fileobj, key.data
            if mask & selectors.EVENT_WRITE:
                sent = sock.send(state["out"])
                state["out"] = state["out"][sent:]
                if not state["out"]:
                    selector.modify(sock, selectors.EVENT_READ, state)
            elif mask & selectors.EVENT_READ:
                chunk = sock.recv(65536)
                if chunk:
                    state["in"] += chunk
                    continue
                elapsed = time.monotonic() - state["start"]
                selector.unregister(sock)
                sock.close()
                parsed = parse_response(bytes(state["in"]))
                assert parsed and parsed[1] == b"", f"bad response: {bytes(state['in'])!r}"
                results[state["i"]] = (parsed[0], elapsed)
                pending -= 1
    selector.close()
    return results



def open_fds(server):
    return len(os.listdir(f"/proc/{server.proc.pid}/fd"))


def wait_until(predicate, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


# ===== Scenarios (run against the plain build, and the ASan one) =====

DATE = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
                  r" \d{4} \d\d:\d\d:\d\d GMT")


def check_happy_path(server):
    response = get(server, "/0/hello%20world%21")
    assert response.status_line == "HTTP/1.1 200 OK"
    assert sorted(response.names) == ["connection", "content-length", "content-type", "date"]
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["connection"] == "close"
    assert response.headers["content-length"] == "12"
    assert response.body == b"hello world!"
    assert DATE.fullmatch(response.headers["date"]), response.headers["date"]
    sent = email.utils.parsedate_to_datetime(response.headers["date"]).timestamp()
    assert abs(sent - time.time()) < 5


# (request, status, words of the reason)
BAD_REQUESTS = [
    (WORKBOOK_REQUEST.format(target="/abc/hello"), 400, "whole number"),
    (WORKBOOK_REQUEST.format(target="/-5/hello"), 400, "whole number"),
    (WORKBOOK_REQUEST.format(target="/1.5/hello"), 400, "whole number"),
    (WORKBOOK_REQUEST.format(target="//hello"), 400, "whole number"),
    (WORKBOOK_REQUEST.format(target="/60001/hello"), 400, "at most 60000 ms"),
    (WORKBOOK_REQUEST.format(target="/" + "9" * 40 + "/hello"), 400, "at most 60000 ms"),
    (WORKBOOK_REQUEST.format(target="/10/100%"), 400, "percent-escape"),
    (WORKBOOK_REQUEST.format(target="/10/%4"), 400, "percent-escape"),
    (WORKBOOK_REQUEST.format(target="/10/%zz"), 400, "percent-escape"),
    (WORKBOOK_REQUEST.format(target="/10/%FF"), 400, "UTF-8"),
    (WORKBOOK_REQUEST.format(target="/10/%ED%A0%80"), 400, "UTF-8"),  # a surrogate
    (WORKBOOK_REQUEST.format(target="/hello"), 404, "/{delay_ms}/{message}"),
    (WORKBOOK_REQUEST.format(target="/"), 404, "/{delay_ms}/{message}"),
    (WORKBOOK_REQUEST.format(target="/10/a/b"), 404, "/{delay_ms}/{message}"),
    (WORKBOOK_REQUEST.format(target="http://127.0.0.1/10/a"), 400, "must be a path"),
    ("POST /10/hello HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405, "only GET"),
    ("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 405, "only GET"),
    ("get /10/hello HTTP/1.1\r\nHost: x\r\n\r\n", 405, "only GET"),
    ("GET /10/hello HTTP/1.1\r\nConnection: close\r\n\r\n", 400, "must have a Host header"),
    ("GET /10/hello HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400, "one Host header"),
    ("GET /10/hello HTTP/1.1\r\nHost: a/b@c\r\n\r\n", 400, "Host header must be"),
    ("GET /10/hello HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 400, "body"),
    ("GET /10/hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "body"),
    ("GET /10/hello HTTP/2.0\r\nHost: x\r\n\r\n", 505, "HTTP/1.1"),
    ("GET /10/hello HTTP/1.1\r\nno colon here\r\n\r\n", 400, "malformed"),
    ("GET /10/hello HTTP/1.1\r\nHost : x\r\n\r\n", 400, "malformed"),
    ("GET /10/hello HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400, "malformed"),
    ("GET /10/hello\r\n\r\n", 400, "malformed"),
    ("GET /10/he llo HTTP/1.1\r\n\r\n", 400, "malformed"),
    ("hello\r\n\r\n", 400, "malformed"),
    ("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400, "malformed"),  # a TLS hello
]


def check_bad_request(server, raw, status, words):
    with connect(server) as sock:
        sock.sendall(raw.encode("latin-1"))
        data = read_until_close(sock)  # the server closes the connection
    parsed = parse_response(data)
    assert parsed, f"no whole response to {raw!r}: {data!r}"
    response, rest = parsed
    assert rest == b""
    assert response.status == status, (raw, response)
    assert response.headers["connection"] == "close"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.body.endswith(b"\n") and response.body.count(b"\n") == 1, response.body
    assert words in response.body.decode(), response.body
    assert ("allow" in response.headers) == (status == 405)
    if status == 405:
        assert response.headers["allow"] == "GET, HEAD"


def check_head_limit(server):
    def head_of(size):
        start = "GET /0/limit HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: "
        end = "\r\nConnection: close\r\n\r\n"
        return start + "a" * (size - len(start) - len(end)) + end

    response, _ = parse_response(exchange(server, head_of(8192)))
    assert response.status == 200 and response.body == b"limit"
    response, _ = parse_response(exchange(server, head_of(8193)))
    assert response.status == 431
    assert b"8192 bytes" in response.body
    # Far too long, and still being sent when the server answers: the client
    # must still be able to read the 431 (no reset).
    with connect(server) as sock:
        try:
            sock.sendall(head_of(200_000).encode())
        except (BrokenPipeError, ConnectionResetError):
            pass
        response, _ = parse_response(read_until_close(sock))
    assert response.status == 431


def check_keep_alive_and_pipelining(server):
    talk = Conversation(server)
    for i in range(3):  # one after another on one connection
        talk.send(f"GET /10/turn{i} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        response = talk.response()
        assert response.status == 200 and response.body == f"turn{i}".encode()
        assert "connection" not in response.headers
    # Pipelined: the first is the slowest, yet the answers keep their order.
    talk.send("GET /300/first HTTP/1.1\r\nHost: x\r\n\r\n"
              "GET /100/second HTTP/1.1\r\nHost: x\r\n\r\n"
              "GET /0/third HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    bodies = [talk.response().body for _ in range(3)]
    assert bodies == [b"first", b"second", b"third"]
    assert talk.closed()
    talk.close()


def hang_up_early(server, count):
    """`count` clients ask for an answer due in 30 s and hang up once the
    server holds their connections. Returns the server's descriptors before."""
    baseline = open_fds(server)
    logged = len(server.log)
    socks = [connect(server) for _ in range(count)]
    for sock in socks:
        sock.sendall(WORKBOOK_REQUEST.format(target="/30000/never").encode())
    server.wait_for_log(logged + count)
    assert wait_until(lambda: open_fds(server) >= baseline + count)
    for sock in socks:
        sock.close()
    return baseline


def check_early_close(server, count=50):
    """Clients that hang up before their answer is due free their connection at once."""
    baseline = hang_up_early(server, count)
    assert wait_until(lambda: open_fds(server) == baseline), \
        f"{open_fds(server) - baseline} connections still open after their clients left"


# ===== The protocol =====

def test_happy_path(serve):
    """The status line, each header or the body is wrong for a plain request."""
    check_happy_path(serve())


@pytest.mark.parametrize("encoded, decoded", [
    ("hello", "hello"),
    ("hello%20world", "hello world"),
    ("%F0%9F%98%80%20caf%c3%a9", "😀 café"),
    ("a+b", "a+b"),
    ("100%25", "100%"),
    ("a%2Fb", "a/b"),
    ("", ""),
    ("hi?ignored=1", "hi"),
])
def test_percent_decoding(shared_server, encoded, decoded):
    """The body is not the percent-decoded message (or content-length miscounts its bytes)."""
    response = get(shared_server, "/0/" + encoded)
    assert response.status == 200
    assert response.body == decoded.encode()
    assert response.headers["content-length"] == str(len(decoded.encode()))


@pytest.mark.parametrize("raw", [
    "GET /0/ok HTTP/1.1\nHost: x\nConnection: close\n\n",              # bare LF line ends
    "\r\nGET /0/ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",  # an empty line first
    "GET /0/ok HTTP/1.1\r\nHost: x\r\nCONNECTION: \tKeep-Alive, CLOSE \r\n\r\n",  # tokens in any case
    "GET /0/ok HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
    "GET /0/ok HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    "GET /0/ok HTTP/1.1\r\nhost: [::1]:8080\r\nConnection: close\r\n\r\n",  # any case, IPv6, a port
    "GET /0/ok HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n",  # empty: allowed
    "GET /0/ok HTTP/1.0\r\n\r\n",  # HTTP/1.0 may leave Host out
])
def test_tolerated_forms(shared_server, raw):
    """A valid request in a less common form (LF line ends, odd case, an empty Host) is refused or kept open."""
    response, rest = parse_response(exchange(shared_server, raw))
    assert response.status == 200 and response.body == b"ok" and rest == b""
    assert response.headers["connection"] == "close"


def test_log_lines(serve):
    """The log lines are missing, misnumbered, or count bad requests too."""
    server = serve()
    get(server, "/0/first")
    assert get(server, "/abc/bad").status == 400  # refused: not logged, not counted
    get(server, "/20/hello%20world")
    get(server, "/0/two%0Alines")
    assert server.wait_for_log(3) == ["#1 - 0ms: first", "#2 - 20ms: hello world",
                                      "#3 - 0ms: two\\x0alines"]


def test_log_line_comes_on_receipt(serve):
    """The log line waits for the answer instead of appearing when the request arrives."""
    server = serve()
    with connect(server) as sock:
        sock.sendall(WORKBOOK_REQUEST.format(target="/3000/later").encode())
        assert server.wait_for_log(1, timeout=2) == ["#1 - 3000ms: later"]


def test_quiet(serve):
    """--quiet still logs requests (or loses the first line)."""
    server = serve("--quiet")
    assert get(server, "/0/shh").body == b"shh"
    time.sleep(0.2)
    assert server.log == []


# ===== Delays =====

def test_delay_divided_by_speedup(serve):
    """A 2000 ms request at --speedup 10 does not answer after about 200 ms."""
    server = serve("--speedup", "10")
    start = time.monotonic()
    assert get(server, "/2000/slow").body == b"slow"
    elapsed = time.monotonic() - start
    assert 0.195 <= elapsed < 1.0, f"took {elapsed:.3f}s, expected about 0.2s"


def test_concurrent_requests_finish_together(serve):
    """50 concurrent 2000 ms requests are answered one after another instead of together."""
    server = serve("--speedup", "10")
    start = time.monotonic()
    results = concurrent_gets(server, [f"/2000/r{i}" for i in range(50)])
    total = time.monotonic() - start
    assert [r.body for r, _ in results] == [f"r{i}".encode() for i in range(50)]
    assert min(t for _, t in results) >= 0.195, "an answer came before its delay"
    assert total < 2.5, f"50 requests of 0.2s took {total:.2f}s: not concurrent (sequential: 10s)"


def test_shorter_delays_answer_first(serve):
    """Concurrent requests are not answered in the order of their deadlines."""
    server = serve()
    results = concurrent_gets(server, ["/300/c", "/100/a", "/200/b"])
    order = [r.body for r, _ in sorted(results, key=lambda rt: rt[1])]
    assert order == [b"a", b"b", b"c"]


def test_max_delay_option(serve):
    """--max-delay does not move the limit between 200 and 400."""
    server = serve("--max-delay", "100")
    assert get(server, "/100/ok").status == 200
    response = get(server, "/101/too-long")
    assert response.status == 400 and b"at most 100 ms" in response.body


# ===== Bad input =====

@pytest.mark.parametrize("raw, status, words", BAD_REQUESTS, ids=lambda v: repr(v)[:40])
def test_bad_request(shared_server, raw, status, words):
    """Bad input gets no error status, no one-line reason, or the connection is left open."""
    check_bad_request(shared_server, raw, status, words)


def test_head_is_answered_like_get_without_a_body(serve):
    """HEAD is refused, answered at once, or with a body that the client then reads as the next answer."""
    server = serve("--speedup", "10")
    talk = Conversation(server)
    start = time.monotonic()
    talk.send("HEAD /2000/hello HTTP/1.1\r\nHost: x\r\n\r\n"
              "GET /0/after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head = talk.response(head_only=True)
    elapsed = time.monotonic() - start
    assert head.status_line == "HTTP/1.1 200 OK"
    assert sorted(head.names) == ["content-length", "content-type", "date"]  # the same as a GET's
    assert head.headers["content-length"] == "5" and head.body == b""
    assert elapsed >= 0.195, f"answered after {elapsed:.3f}s, before its 0.2 s delay"
    after = talk.response()  # starts right where the HEAD's head ends
    assert after.status == 200 and after.body == b"after"
    assert talk.closed()
    talk.close()
    assert server.wait_for_log(2) == ["#1 - 2000ms: hello", "#2 - 0ms: after"]


# A HEAD that is refused gets the error's head, and no body either.
HEAD_ERRORS = [
    ("HEAD /abc/hello HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n", 404),
    ("HEAD /10/hello HTTP/1.1\r\nno colon\r\n\r\n", 400),
    ("HEAD /10/hello HTTP/3.0\r\nHost: x\r\n\r\n", 505),
    ("HEAD /0/" + "h" * 8300 + " HTTP/1.1\r\nHost: x\r\n\r\n", 431),
    ("HEAD /10/hel", 408),  # and then nothing
]


@pytest.mark.parametrize("raw, status", HEAD_ERRORS, ids=lambda v: repr(v)[:30])
def test_refused_head_has_no_body(serve, raw, status):
    """A refused HEAD request gets its reason as a body, which a HEAD client never reads."""
    server = serve("--idle-timeout", "300")
    data = exchange(server, raw)
    response, rest = parse_response(data, head_only=True)
    assert response.status == status, data
    assert int(response.headers["content-length"]) > 0 and response.headers["connection"] == "close"
    assert rest == b"", f"a body after the head: {rest!r}"


def test_bad_requests_are_not_logged(serve):
    """Refused requests show up in the log."""
    server = serve()
    for raw, status, words in BAD_REQUESTS[:5]:
        check_bad_request(server, raw, status, words)
    get(server, "/0/good")
    assert server.wait_for_log(1) == ["#1 - 0ms: good"]


def test_head_size_limit(serve):
    """A head of exactly 8 KiB is refused, or a longer one is not answered with 431."""
    check_head_limit(serve())


def test_malformed_request_refused_before_it_ends(serve):
    """Garbage is only refused when the idle timeout expires, not as soon as it arrives."""
    server = serve("--idle-timeout", "5000")
    with connect(server) as sock:
        sock.sendall(b"GET /10/x HTTQ")  # no line end: the head is not complete
        start = time.monotonic()
        response, _ = parse_response(read_until_close(sock))
    assert response.status == 400
    assert time.monotonic() - start < 2


# ===== Connections =====

def test_keep_alive_and_pipelining(serve):
    """Keep-alive requests are not answered on one connection, or pipelined ones come back out of order."""
    check_keep_alive_and_pipelining(serve())


def test_pipelined_request_does_not_spin(serve):
    """A pipelined request waiting behind a delayed one makes the server spin the CPU."""
    server = serve()
    talk = Conversation(server)
    talk.send("GET /1500/first HTTP/1.1\r\nHost: x\r\n\r\n")
    server.wait_for_log(1)
    talk.send("GET /0/second HTTP/1.1\r\nHost: x\r\n\r\n")  # arrives while the first waits
    time.sleep(0.1)
    before = cpu_seconds(server.proc.pid)
    time.sleep(1)
    used = cpu_seconds(server.proc.pid) - before
    assert used < 0.25, f"the server used {used:.2f}s of CPU in 1s while a request waited"
    assert [talk.response().body for _ in range(2)] == [b"first", b"second"]
    talk.close()


def test_http10(serve):
    """HTTP/1.0 requests are not closed by default, or keep-alive is not announced."""
    server = serve()
    response, rest = parse_response(exchange(server, "GET /0/old HTTP/1.0\r\n\r\n"))
    assert response.status == 200 and response.body == b"old" and rest == b""
    assert response.headers["connection"] == "close"
    talk = Conversation(server)
    talk.send("GET /0/one HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    response = talk.response()
    assert response.headers["connection"] == "keep-alive" and response.body == b"one"
    talk.send("GET /0/two HTTP/1.0\r\n\r\n")
    response = talk.response()
    assert response.headers["connection"] == "close" and response.body == b"two"
    assert talk.closed()
    talk.close()


def test_idle_timeout(serve):
    """A client that sends no complete request is never closed, or gets no 408 for half a request."""
    server = serve("--idle-timeout", "300")
    with connect(server) as silent, connect(server) as partial:
        partial.sendall(b"GET /10/x HTTP/1.1\r\nHost:")
        start = time.monotonic()
        assert read_until_close(silent) == b""  # said nothing: closed without a word
        response, _ = parse_response(read_until_close(partial))
        elapsed = time.monotonic() - start
    assert response.status == 408 and b"300 ms" in response.body
    assert 0.25 <= elapsed < 3, f"closed after {elapsed:.2f}s, expected about 0.3s"
    talk = Conversation(server)  # a keep-alive connection that goes quiet
    talk.send("GET /0/once HTTP/1.1\r\nHost: x\r\n\r\n")
    assert talk.response().body == b"once"
    assert talk.closed()
    talk.close()


def test_slow_clients_do_not_hold_others_back(serve):
    """A client that sends its request byte by byte delays everyone else."""
    server = serve()
    stalled = connect(server)
    stalled.sendall(b"GET /10/x HTTP/1.1\r\nHo")  # and then nothing
    trickler = connect(server)
    request = WORKBOOK_REQUEST.format(target="/0/trickled").encode()
    trickler.sendall(request[:10])
    start = time.monotonic()
    results = concurrent_gets(server, [f"/100/fast{i}" for i in range(20)])
    elapsed = time.monotonic() - start
    assert [r.body for r, _ in results] == [f"fast{i}".encode() for i in range(20)]
    assert elapsed < 1.5, f"20 requests of 0.1s took {elapsed:.2f}s next to slow clients"
    for byte in request[10:]:
        trickler.send(bytes([byte]))
    response, _ = parse_response(read_until_close(trickler))
    assert response.body == b"trickled"
    stalled.close()
    trickler.close()


def test_client_that_never_reads(serve):
    """A client that stops reading its answers makes the server spin, or holds its connection forever."""
    server = serve("--idle-timeout", "500")
    baseline = open_fds(server)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((server.host, server.port))
    sock.setblocking(False)
    request = f"GET /0/{'x' * 4000} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    pending, blocked_since, give_up = b"", None, time.monotonic() + 10
    while blocked_since is None or time.monotonic() - blocked_since < 0.3:
        assert time.monotonic() < give_up, "the server kept reading from a client that never reads"
        try:  # pipeline requests until both directions are full
            pending = pending or request
            pending = pending[sock.send(pending):]
            blocked_since = None
        except BlockingIOError:
            blocked_since = blocked_since or time.monotonic()
            time.sleep(0.02)
    assert len(server.log) > 10
    before = cpu_seconds(server.proc.pid)
    time.sleep(0.3)
    used = cpu_seconds(server.proc.pid) - before
    assert used < 0.1, f"the server used {used:.2f}s of CPU in 0.3s waiting for a client to read"
    assert wait_until(lambda: open_fds(server) == baseline, timeout=5), "the connection is still open"
    sock.close()


def test_client_closing_early_frees_its_connection(serve):
    """A client that hangs up before its answer keeps a descriptor open on the server until the delay ends."""
    server = serve()
    check_early_close(server)
    assert get(server, "/0/still-here").body == b"still-here"


def test_half_close_before_due_counts_as_leaving(serve):
    """A client that shuts its sending side before its answer is due keeps a descriptor busy until then."""
    server = serve()
    baseline = open_fds(server)
    with connect(server, timeout=3) as sock:
        sock.sendall(WORKBOOK_REQUEST.format(target="/30000/x").encode())
        sock.shutdown(socket.SHUT_WR)
        assert read_until_close(sock) == b""
    assert wait_until(lambda: open_fds(server) == baseline)


def test_load(serve):
    """Thousands of concurrent delayed requests are not all answered, or not together."""
    server = serve("--max-delay", "5000")
    count = 5000
    start = time.monotonic()
    results = concurrent_gets(server, [f"/1500/m{i}" for i in range(count)])
    total = time.monotonic() - start
    assert all(r.status == 200 and r.body == f"m{i}".encode() for i, (r, _) in enumerate(results))
    assert min(t for _, t in results) >= 1.495
    assert total < 15, f"{count} requests of 1.5s took {total:.1f}s"
    assert len(server.wait_for_log(count)) == count


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def test_out_of_descriptors(impl, serve, tmp_path):
    """Running out of descriptors crashes the server, spins the CPU, or it never accepts again."""
    wrapper = tmp_path / "delayserver-64-fds"
    wrapper.write_text(f"#!/bin/sh\nulimit -n 64\nexec {impl.binary} \"$@\"\n")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    server = serve("--idle-timeout", "60000", binary=str(wrapper))
    socks = [connect(server) for _ in range(100)]
    for sock in socks:
        sock.sendall(WORKBOOK_REQUEST.format(target="/30000/wait").encode())
    assert wait_until(lambda: len(server.log) >= 50)
    time.sleep(0.3)
    accepted = len(server.log)
    assert 50 <= accepted < 100, f"{accepted} accepted under a limit of 64 descriptors"

    before = cpu_seconds(server.proc.pid)
    time.sleep(1)
    used = cpu_seconds(server.proc.pid) - before
    assert used < 0.25, f"the server used {used:.2f}s of CPU in 1s while out of descriptors"
    assert server.proc.poll() is None

    for sock in socks:
        sock.close()
    response = get(server, "/0/recovered", timeout=10)
    assert response.body == b"recovered"


# ===== The command line =====

def test_port_zero_picks_free_ports(serve):
    """--port 0 does not bind a free port, or announces the wrong one."""
    first, second = serve(), serve()
    assert first.port != second.port and first.port > 0
    assert get(first, "/0/one").body == b"one" and get(second, "/0/two").body == b"two"


def test_explicit_port(serve):
    """--port N does not listen on N."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = serve("--port", str(port))
    assert server.port == port
    assert get(server, "/0/here").body == b"here"


def test_port_in_use(impl, serve):
    """A port that is taken crashes the server or leaves it running without a clear message."""
    server = serve()
    result = run([impl.binary, "--port", str(server.port)], check=False, timeout=10)
    assert result.returncode == 1
    assert result.stderr == f"{impl.name}: cannot listen on 127.0.0.1:{server.port}: Address already in use\n"


@pytest.mark.parametrize("args, words", [
    (["--port", "abc"], "--port wants a whole number from 0 to 65535, not 'abc'"),
    (["--port", "65536"], "--port wants"),
    (["--port"], "--port needs a value"),
    (["--speedup", "0"], "--speedup wants a whole number from 1"),
    (["--speedup=-2"], "--speedup wants"),
    (["--max-delay", "1e3"], "--max-delay wants"),
    (["--idle-timeout", "0"], "--idle-timeout wants"),
    (["--host", "localhost"], "--host wants an IP address"),
    (["--port", "-1"], "--port wants"),
    (["--port", " 80"], "--port wants"),
    (["--port="], "--port wants"),
    (["--speedup", "99999999999999999999"], "--speedup wants a whole number from 1 to 1000000"),
    (["--max-delay", "+5"], "--max-delay wants"),
    (["--bogus"], "unknown option '--bogus'"),
    (["extra"], "unexpected argument 'extra'"),
    (["--help", "extra"], "unexpected argument 'extra'"),
    (["--help", "--quiet"], "--help takes no other arguments"),
    (["--quiet", "-h"], "--help takes no other arguments"),
])
def test_bad_flags(impl, args, words):
    """A bad flag does not give one clear line on stderr and exit status 2."""
    result = run([impl.binary, *args], check=False, timeout=10)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"{impl.name}: ")
    assert words in result.stderr and result.stderr.endswith(" (try --help)\n")


def test_help(impl):
    """--help does not print the usage and exit 0."""
    result = run([impl.binary, "--help"], timeout=10)
    assert result.stdout.startswith(f"usage: {impl.name} ") and result.stderr == ""
    for flag in ["--host", "--port", "--speedup", "--max-delay", "--idle-timeout", "--quiet"]:
        assert flag in result.stdout


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_exits_cleanly(serve, sig):
    """SIGTERM or SIGINT does not stop the server with status 0 while it holds connections."""
    server = serve()
    idle = connect(server)
    waiting = connect(server)
    waiting.sendall(WORKBOOK_REQUEST.format(target="/30000/x").encode())
    server.wait_for_log(1)
    start = time.monotonic()
    assert server.stop(sig) == 0
    assert time.monotonic() - start < 2
    assert server.errors == []
    idle.close()
    waiting.close()


# ===== Sanitizers =====

@pytest.mark.sanitizer
def test_asan_build(serve):
    """The ASan+UBSan build reports a memory error, undefined behaviour or a leak."""
    check_sanitized_run(serve("--idle-timeout", "300", build="asan"))


@pytest.mark.sanitizer
def test_tsan_build(serve):
    """The TSan build of a server with threads reports a data race (or the run goes wrong)."""
    check_sanitized_run(serve("--idle-timeout", "300", build="tsan"))


def check_sanitized_run(server):
    """Every kind of request once, then a signal: the sanitizer must report nothing."""
    check_happy_path(server)
    for raw, status, words in BAD_REQUESTS:
        check_bad_request(server, raw, status, words)
    check_head_limit(server)
    check_keep_alive_and_pipelining(server)
    check_early_close(server, count=20)  # before the HEAD errors: their connections linger a moment
    for raw, status in HEAD_ERRORS:
        response, rest = parse_response(exchange(server, raw), head_only=True)
        assert response.status == status and rest == b""
    talk = Conversation(server)  # HEAD, then GET on the same connection
    talk.send("HEAD /0/h HTTP/1.1\r\nHost: x\r\n\r\nGET /0/g HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert talk.response(head_only=True).status == 200 and talk.response().body == b"g"
    talk.close()
    results = concurrent_gets(server, [f"/100/m{i}" for i in range(500)])
    assert all(r.body == f"m{i}".encode() for i, (r, _) in enumerate(results))
    with connect(server) as partial:  # idle timeout with half a request: 408
        partial.sendall(b"GET /1")
        assert parse_response(read_until_close(partial))[0].status == 408
    logged = len(server.log)
    lingering = connect(server)  # refused, but the client never closes
    lingering.sendall(WORKBOOK_REQUEST.format(target="/x/y").encode())
    assert parse_response(lingering.recv(4096))[0].status == 400
    waiting = connect(server)  # still waiting when the signal comes
    waiting.sendall(WORKBOOK_REQUEST.format(target="/30000/x").encode())
    server.wait_for_log(logged + 1)
    status = server.stop()
    errors = "\n".join(server.errors)
    assert status == 0, errors
    assert "Sanitizer" not in errors and "runtime error" not in errors, errors
    lingering.close()
    waiting.close()


# ===== README (delayserver/ itself) =====

REFERENCE = SERVERS[0]


def test_readme_help():
    """The README shows another --help than the program prints."""
    result = run([REFERENCE.binary, "--help"], timeout=10)
    assert_readme_output(README, "./delayserver --help", result.stdout)


def test_readme_examples(start_server):
    """An example of the README or of GOING-DEEPER.md (curl, errors, the server's log) no longer matches what the server does."""
    server = start_server("--speedup", "10", binary=REFERENCE.binary)
    docs = [README, GOING_DEEPER]
    blocks = {doc: readme_blocks(doc) for doc in docs}
    examples = {doc: [cmd for cmd, _ in blocks[doc] if "127.0.0.1:8080" in cmd or "127.0.0.1/8080" in cmd]
                for doc in docs}
    assert {cmd for cmd, _ in blocks[README]} == {"./delayserver", "./delayserver --help", *examples[README]}, \
        "a shell block in the README that no test checks"
    assert {cmd for cmd, _ in blocks[GOING_DEEPER]} == set(examples[GOING_DEEPER]), \
        "a shell block in GOING-DEEPER.md that no test checks"
    assert len(examples[README]) >= 3 and len(examples[GOING_DEEPER]) >= 10

    def real(command):
        return (command.replace("127.0.0.1:8080", server.addr)
                .replace("127.0.0.1/8080", f"{server.host}/{server.port}"))

    # The 408 example waits for the real 10 s idle timeout: start it first.
    background = {(doc, cmd): subprocess.Popen(real(cmd), shell=True, text=True, stdout=subprocess.PIPE)
                  for doc in docs for cmd in examples[doc] if "/dev/tcp" in cmd}
    for doc in docs:
        for command in examples[doc]:
            if (doc, command) not in background:
                result = subprocess.run(real(command), shell=True, capture_output=True, text=True, timeout=20)
                assert_readme_output(doc, command, result.stdout.replace("\r\n", "\n"))
        if doc == README:  # its log block shows the requests of its own examples
            expected = [line for cmd, lines in blocks[README] if cmd == "./delayserver" for line in lines]
            server.wait_for_log(len(expected) - 1)
            time.sleep(0.1)  # any extra line would arrive now
            first = "delayserver listening on 127.0.0.1:8080"  # this server's port is not 8080
            assert_readme_output(README, "./delayserver", "\n".join([first] + server.log) + "\n")
    for (doc, command), proc in background.items():
        out, _ = proc.communicate(timeout=20)
        assert_readme_output(doc, command, out.replace("\r\n", "\n"))
