//! bench/runtime/tokio: tokio doing what rt.c does with the ch05 runtime and
//! uv.c with libuv. One run of one workload per process, so each peak RSS is
//! its own; prints one line of key=value pairs, the same keys as common.h:
//!
//!   tokio spawn N    N trivial tasks tokio::spawn'ed from a main task on a
//!                    current-thread runtime (each JoinHandle dropped)
//!   tokio wake N     ping-pong between tasks on two current-thread runtimes
//!                    on two threads: N wakes through tokio::sync::Notify,
//!                    each timed from notify_one to the woken task's poll
//!   tokio sleeps N   N concurrent tokio::time::sleep, the deadlines of rt-d
//!   tokio echo N     N 64-byte round trips over 127.0.0.1, TcpStream both
//!                    ends, on one current-thread runtime
//!
//! Every runtime is built as #[tokio::main(flavor = "current_thread")]
//! builds it (enable_all: the I/O and time drivers are on), so one thread
//! does everything, as one libuv loop and one ch05 executor do.

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::{Builder, Runtime};
use tokio::sync::Notify;
use tokio::time::Instant;

// The workloads of common.h.
const SLEEP_BASE_MS: u64 = 200;
const SLEEP_SPREAD_MS: u64 = 100;
const ECHO_MSG: usize = 64;
const WAKE_WARMUP: usize = 100;

/// Sleep i lasts 200 + (37 i mod 100) ms, as SLEEP_MS(i) in common.h.
fn sleep_ms(i: usize) -> u64 {
    SLEEP_BASE_MS + (37 * i as u64) % SLEEP_SPREAD_MS
}

fn die(what: &str) -> ! {
    eprintln!("bench: {}", what);
    std::process::exit(1)
}

fn runtime() -> Runtime {
    Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|_| die("cannot build a tokio runtime"))
}

// ===== Measuring, as common.h does =====

/// CLOCK_MONOTONIC in nanoseconds: the clock of the C drivers.
fn now_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// User and system CPU time of the whole process (all threads), in seconds.
fn cpu_seconds() -> f64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// VmHWM in bytes: the peak resident set of this process so far.
fn peak_rss() -> i64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
        .map_or(-1, |kib| kib * 1024)
}

/// One workload's start; report() prints what common.h's span_report prints.
struct Span {
    t0: u64,
    cpu0: f64,
    rss0: i64,
}

impl Span {
    fn begin() -> Span {
        let (rss0, cpu0) = (peak_rss(), cpu_seconds());
        Span { t0: now_ns(), cpu0, rss0 }
    }

    fn report(&self, items: usize) -> String {
        let elapsed = now_ns() - self.t0;
        let cpu = cpu_seconds() - self.cpu0;
        let rss = peak_rss();
        let n = items as f64;
        format!(
            "elapsed_ns={} ns_per_item={:.2} cpu_ns_per_item={:.2} bytes_per_item={:.1} peak_rss={}",
            elapsed,
            elapsed as f64 / n,
            cpu * 1e9 / n,
            (rss - self.rss0) as f64 / n,
            rss
        )
    }
}

/// The q-quantile of sorted values by the nearest-rank rule, as common.h.
fn quantile(sorted: &[u64], q: f64) -> u64 {
    let rank = (q * sorted.len() as f64 + 0.999999) as usize;
    sorted[rank.max(1) - 1]
}

// ===== Waiting for every task =====

/// tokio's block_on returns when its own future is done, not when every
/// spawned task is: each task counts itself here, and the last one wakes
/// the main task. (The ch05 executor and libuv's loop keep the same count
/// inside.) Leaked, so tasks hold a plain &'static, not an Arc.
struct AllDone {
    finished: AtomicUsize,
    of: usize,
    last: Notify,
}

impl AllDone {
    fn new(of: usize) -> &'static AllDone {
        Box::leak(Box::new(AllDone { finished: AtomicUsize::new(0), of, last: Notify::new() }))
    }

    fn one_done(&self) {
        if self.finished.fetch_add(1, Ordering::AcqRel) + 1 == self.of {
            self.last.notify_one();
        }
    }
}

/// The main task of spawn and sleeps: spawn n tasks, task(i, all) each,
/// and wait until all of them have called all.one_done(); returns the
/// span's report. task(i, all) runs when the task is spawned, and the
/// future it returns is the task.
fn spawn_and_wait<F>(n: usize, task: fn(usize, &'static AllDone) -> F) -> String
where
    F: Future<Output = ()> + Send + 'static,
{
    let rt = runtime();
    let span = Span::begin();
    rt.block_on(async move {
        let all = AllDone::new(n);
        for i in 0..n {
            tokio::spawn(task(i, all)); /* the JoinHandle is dropped: the task is detached */
        }
        all.last.notified().await;
    });
    span.report(n)
}

// ===== spawn: a million trivial tasks =====

fn bench_spawn(n: usize) -> String {
    spawn_and_wait(n, |_, all| async move { all.one_done() })
}

// ===== wake: ping-pong between two runtimes on two threads =====
//
// Each side has a Notify and the time of the last message sent to it. A
// side's task waits on its own Notify; the other side stamps the time and
// calls notify_one. The woken task reads the clock as its poll resumes
// after the await: the difference is one wake-to-poll latency (the woken
// runtime was parked in its driver, on another thread). Hops strictly
// alternate; the shared record sits behind a mutex nobody contends.

struct Side {
    notify: Notify,
    sent_ns: AtomicU64,
}

struct Record {
    hops: usize,
    lat: Vec<u64>,
    finished: bool,
    first_counted_ns: u64,
    last_ns: u64,
}

struct Wake {
    sides: [Side; 2],
    total_hops: usize,
    record: Mutex<Record>,
}

fn send_to(side: &Side) {
    side.sent_ns.store(now_ns(), Ordering::Release);
    side.notify.notify_one(); /* keeps a permit if the task is not waiting yet */
}

async fn pinger(w: &'static Wake, me: usize) {
    let (mine, other) = (&w.sides[me], &w.sides[1 - me]);
    if me == 0 {
        send_to(other); /* the first serve */
    }
    loop {
        mine.notify.notified().await;
        let t = now_ns();
        let sent = mine.sent_ns.load(Ordering::Acquire);
        let mut r = w.record.lock().unwrap();
        if r.finished {
            return;
        }
        if r.hops == WAKE_WARMUP {
            r.first_counted_ns = sent;
        }
        if r.hops >= WAKE_WARMUP {
            let k = r.hops - WAKE_WARMUP;
            r.lat[k] = t - sent;
        }
        r.hops += 1;
        let done = r.hops == w.total_hops;
        if done {
            r.last_ns = t;
            r.finished = true;
        }
        drop(r);
        send_to(other); /* when done, this lets the other side finish too */
        if done {
            return;
        }
    }
}

fn bench_wake(n: usize) -> String {
    let w: &'static Wake = Box::leak(Box::new(Wake {
        sides: [0, 1].map(|_| Side { notify: Notify::new(), sent_ns: AtomicU64::new(0) }),
        total_hops: n + WAKE_WARMUP,
        record: Mutex::new(Record {
            hops: 0,
            lat: vec![0; n],
            finished: false,
            first_counted_ns: 0,
            last_ns: 0,
        }),
    }));
    let side_b = std::thread::spawn(move || runtime().block_on(pinger(w, 1)));
    runtime().block_on(pinger(w, 0));
    side_b.join().unwrap_or_else(|_| die("side B panicked"));

    let mut r = w.record.lock().unwrap();
    let elapsed = r.last_ns - r.first_counted_ns;
    r.lat.sort_unstable();
    format!(
        "hops={} half_rtt_ns={:.0} max_ns={} p50_ns={} p99_ns={}",
        n,
        elapsed as f64 / n as f64,
        quantile(&r.lat, 1.0),
        quantile(&r.lat, 0.50),
        quantile(&r.lat, 0.99)
    )
}

// ===== sleeps: N concurrent timers =====

fn bench_sleeps(n: usize) -> String {
    spawn_and_wait(n, |i, all| {
        // The deadline is set here, when the task is spawned, as rt.c's
        // sleep_ms() and uv.c's uv_timer_start() set theirs; the timer
        // joins the wheel at the task's first poll. (Creating the Sleep here
        // and moving it into the task measured 2 KB a task, not 1.4 KB: the
        // future rustc makes keeps the moved-in Sleep and the awaited one
        // apart.)
        let deadline = Instant::now() + Duration::from_millis(sleep_ms(i));
        async move {
            tokio::time::sleep_until(deadline).await;
            all.one_done();
        }
    })
}

// ===== echo: a TCP ping-pong, both ends on one runtime =====

fn bench_echo(n: usize) -> String {
    let rt = runtime();
    rt.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|_| die("tokio echo: cannot listen on 127.0.0.1"));
        let addr = listener.local_addr().unwrap();
        // The kernel completes the handshake into the listen queue: connect
        // first, then take the connection with accept.
        let mut client =
            TcpStream::connect(addr).await.unwrap_or_else(|_| die("tokio echo: cannot connect"));
        let (mut server, _) =
            listener.accept().await.unwrap_or_else(|_| die("tokio echo: accept failed"));
        client.set_nodelay(true).unwrap();
        server.set_nodelay(true).unwrap();
        let echo = tokio::spawn(async move {
            let mut buf = [0u8; ECHO_MSG];
            loop {
                match server.read(&mut buf).await {
                    Ok(0) => return, /* the client hung up */
                    Ok(k) => server
                        .write_all(&buf[..k])
                        .await
                        .unwrap_or_else(|_| die("tokio echo: write failed")),
                    Err(_) => die("tokio echo: read failed"),
                }
            }
        });

        let span = Span::begin(); /* the clock starts with the first ping, as uv.c's */
        let ping = [b'x'; ECHO_MSG];
        let mut answer = [0u8; ECHO_MSG];
        for _ in 0..n {
            if client.write_all(&ping).await.is_err()
                || client.read_exact(&mut answer).await.is_err()
            {
                die("tokio echo: the round trip failed");
            }
        }
        let line = span.report(n);
        drop(client);
        echo.await.unwrap_or_else(|_| die("tokio echo: the server task failed"));
        line
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let count = args.get(2).and_then(|text| text.parse::<usize>().ok()).filter(|&n| n > 0);
    let (workload, n) = match (args.len(), count) {
        (3, Some(n)) => (args[1].as_str(), n),
        _ => {
            eprintln!("usage: {} spawn|wake|sleeps|echo N", args[0]);
            std::process::exit(2);
        }
    };
    let line = match workload {
        "spawn" => bench_spawn(n),
        "wake" => bench_wake(n),
        "sleeps" => bench_sleeps(n),
        "echo" => bench_echo(n),
        _ => die("unknown workload"),
    };
    println!("{}", line);
}
