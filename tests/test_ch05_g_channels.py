"""ch05-runtime step g: channels between tasks (MPSC, bounded and unbounded)."""
import os
import re
import signal

import pytest

from workbook import assert_corofied_current, assert_readme_output, assert_sanitizer_clean, path, readme_output, run

STEP = path("ch05-runtime", "g-channels")
README = os.path.join(STEP, "README.md")

STRESS_LINE = re.compile(
    r"received (\d+) of (\d+) messages, (\d+) out of order; (\d+) of (\d+) producers complete")
QUEUED_LINE = re.compile(r"most queued at once: (\d+) \(capacity (\d+)\)")
WAITS_LINE = re.compile(r"the consumer slept (\d+) times on an empty channel; "
                        r"sends waited (\d+) times on a full one")
STRESS_OK = "every message received exactly once, in order per producer"


def lines(text):
    return text.rstrip("\n").split("\n")


# ===== The pipeline =====

def test_pipeline_matches_readme():
    """The README's run of ./channels no longer matches what the program prints."""
    out = run(["./channels"], cwd=STEP, timeout=10).stdout
    assert_readme_output(README, "./channels", out)


def check_pipeline(out):
    out = lines(out)
    assert out[0] == "Program starting" and out[-1] == "main: All tasks are finished", out
    printed = [int(line.split()[1]) for line in out if re.fullmatch(r"printer: -?\d+", line)]
    # Each producer's numbers arrive in the order it sent them (FIFO per
    # sender); the two streams may interleave; every number is doubled once.
    assert sorted(printed) == [2, 4, 6, 200, 400, 600], printed
    assert [n for n in printed if n < 100] == [2, 4, 6], printed
    assert [n for n in printed if n >= 100] == [200, 400, 600], printed
    # Closing: the doubler sees `numbers` closed only after both producers
    # dropped their senders, and the printer only after everything arrived.
    closed = out.index("doubler: numbers closed: 6 sent, 6 received, at most 2 queued, "
                       "senders waited 2 times")
    assert closed > out.index("producer-a: done, dropping its sender")
    assert closed > out.index("producer-b: done, dropping its sender")
    assert out[-2] == "printer: doubled closed after 6 messages", out
    # Back-pressure: with room for two, producer-a's third send waits until
    # the doubler has taken a number out.
    assert out.index("producer-a: sent 3") > out.index("doubler: 1 -> 2")


def test_pipeline_order_and_close():
    """The pipeline loses, repeats or reorders a number, or a stage stops before its input closed."""
    check_pipeline(run(["./channels"], cwd=STEP, timeout=10).stdout)


# ===== The stress run: threads, a small channel, no lost wake-up =====

def check_stress(out, producers, messages, capacity):
    out = lines(out)
    assert out[0] == (f"stress: {producers} producers on their own threads x {messages} messages, "
                      f"one consumer, capacity {capacity}"), out
    m = STRESS_LINE.fullmatch(out[1])
    assert m, out
    total = producers * messages
    assert [int(g) for g in m.groups()] == [total, total, 0, producers, producers], out[1]
    m = QUEUED_LINE.fullmatch(out[2])
    assert m and int(m.group(1)) <= capacity and int(m.group(2)) == capacity, out[2]
    m = WAITS_LINE.fullmatch(out[3])
    assert m, out[3]
    consumer_sleeps, send_waits = int(m.group(1)), int(m.group(2))
    # Every sleep is one PENDING poll answered by exactly one wake-up; a
    # receiver that woke itself to poll again would count far more.
    assert consumer_sleeps <= total, consumer_sleeps
    assert send_waits <= total, send_waits
    assert out[4] == STRESS_OK and len(out) == 5, out
    return consumer_sleeps, send_waits, int(QUEUED_LINE.fullmatch(out[2]).group(1))


def test_stress_every_message_exactly_once():
    """With producers on four threads, a message is lost, repeated, reordered, or the run hangs (a lost wake-up)."""
    result = run(["./channels", "--stress"], cwd=STEP, timeout=60)
    _, send_waits, most_queued = check_stress(result.stdout, 4, 100000, 16)
    # Four producers outrun one consumer: the channel fills up and holds them.
    assert most_queued == 16, most_queued
    assert send_waits > 0
    assert_readme_output(README, "./channels --stress", result.stdout)


@pytest.mark.parametrize("producers,messages,capacity", [(8, 20000, 1), (2, 50000, 1000)],
                         ids=["8x20000-cap1", "2x50000-cap1000"])
def test_stress_other_shapes(producers, messages, capacity):
    """The channel loses or repeats a message at capacity 1 or with a large buffer, or hangs."""
    result = run(["./channels", "--stress", "--producers", str(producers), "--messages", str(messages),
                  "--capacity", str(capacity)], cwd=STEP, timeout=60)
    check_stress(result.stdout, producers, messages, capacity)


# ===== channel-check: each promise of channel.h =====

def test_checks_match_readme():
    """A promise of channel.h is broken (ordering, close, back-pressure, cancel, spinning, lost wake-up)."""
    result = run(["./channel-check"], cwd=STEP, timeout=30)
    out = lines(result.stdout)
    assert out[-1] == "all checks passed", result.stdout
    assert_readme_output(README, "./channel-check", result.stdout)


def test_back_pressure_counters():
    """A fast producer is not held at the channel's capacity, or an unbounded one is held back."""
    out = run(["./channel-check"], cwd=STEP, timeout=30).stdout
    bounded = re.search(r"capacity 4: the producer got at most (\d+) ahead \((\d+) queued at most\) "
                        r"and waited (\d+) times", out)
    unbounded = re.search(r"unbounded: the producer got (\d+) ahead \((\d+) queued at most\) "
                          r"and never waited", out)
    assert bounded and unbounded, out
    ahead, queued, waits = map(int, bounded.groups())
    assert ahead == queued == 4, (ahead, queued)
    # 1000 messages, at most 4 + 1 handed over per wait: at least 1000/5 waits.
    assert waits >= 1000 // 5, waits
    assert [int(g) for g in unbounded.groups()] == [1000, 1000]


def test_recv_does_not_spin():
    """recv is polled over and over while it waits instead of sleeping until a send wakes it."""
    out = run(["./channel-check"], cwd=STEP, timeout=30).stdout
    assert "went to sleep 1 time\n" in out, out


@pytest.mark.parametrize("misuse,message", [
    ("wrong-size", "message of the wrong size for this channel"),
    ("sender-in-use", "a sender dropped while one of its sends is alive"),
    ("receiver-in-use", "the receiver dropped while its recv future is alive"),
    ("two-recvs", "a second recv future on one receiver"),
])
def test_misuse_is_caught(misuse, message):
    """A broken rule of channel.h (wrong size, a lent-out handle dropped, two receivers) goes unnoticed."""
    result = run(["./channel-check", "--misuse", misuse], cwd=STEP, check=False, timeout=10)
    assert result.returncode == -signal.SIGABRT, result
    assert message in result.stderr, result.stderr
    assert "FAILED" not in result.stdout


# ===== Sanitizers =====

SANITIZED = [
    ("asan", ["./channels-asan"]),
    ("asan", ["./channels-asan", "--stress"]),
    ("asan", ["./channel-check-asan"]),
    ("tsan", ["./channels-tsan", "--stress"]),
    ("tsan", ["./channels-tsan", "--stress", "--producers", "8", "--messages", "10000",
              "--capacity", "1"]),
    ("tsan", ["./channel-check-tsan"]),
]


@pytest.mark.sanitizer
@pytest.mark.parametrize("variant,cmd", SANITIZED, ids=[" ".join(c)[2:] for _, c in SANITIZED])
def test_sanitized_runs_are_clean(variant, cmd):
    """A channel leaks, overflows, uses a freed waker or races: ASan+UBSan or TSan reports it."""
    result = run(cmd, cwd=STEP, sanitizer=True, check=False, timeout=120)
    assert_sanitizer_clean(result)
    if "--stress" in cmd:
        assert lines(result.stdout)[-1] == STRESS_OK, result.stdout
    elif cmd[0].startswith("./channel-check"):
        assert lines(result.stdout)[-1] == "all checks passed", result.stdout
    else:
        check_pipeline(result.stdout)


# ===== The command line =====

def test_bad_arguments():
    """channels ignores a bad argument, or --help fails."""
    helped = run(["./channels", "--help"], cwd=STEP)
    assert helped.stdout.startswith("usage: ")
    for args, message in [
        (["--bogus"], "unknown argument '--bogus'"),
        (["--help", "extra"], "unexpected argument 'extra' after --help (try --help)"),
        (["--stress", "--capacity", "0"], "--capacity needs a number from 1 to 100000000, not '0'"),
        (["--stress", "--messages", "ten"], "--messages needs a number from 1 to 100000000, not 'ten'"),
        (["--stress", "--messages", "-1"], "--messages needs a number from 1 to 100000000, not '-1'"),
        (["--stress", "--capacity", "99999999999999999999"],
         "--capacity needs a number from 1 to 100000000, not '99999999999999999999'"),
        (["--stress", "--producers"], "--producers needs a number from 1 to 100000000, not ''"),
        (["--capacity", "4"], "go with --stress"),
    ]:
        bad = run(["./channels", *args], cwd=STEP, check=False, timeout=10)
        assert bad.returncode == 2 and bad.stdout == "", (args, bad)
        err = lines(bad.stderr)
        assert len(err) == 1 and message in err[0], (args, bad.stderr)


# ===== The files behind the programs =====

@pytest.mark.parametrize("source", ["main.c", "channel-check.c"])
def test_corofied_file_regenerates(source):
    """A *_corofied.c file was edited by hand or is stale: corofy no longer produces it."""
    assert_corofied_current(os.path.join(STEP, source))


def test_readme_has_every_block():
    """The step's README lost one of the runs the tests check."""
    for command in ("./channels", "./channels --stress", "./channel-check"):
        assert len(readme_output(README, command)) >= 5, command
