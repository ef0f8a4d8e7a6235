//! End-to-end UDP ingest benchmark: starts the real `trapline` binary, sends syslog over
//! loopback with our own `sendmmsg` sender on a rate ladder, and reports for each rate how many
//! messages were stored (durably: `trapline_events_stored_total`), the loss, CPU seconds per
//! million messages and peak RSS — and the highest rate with zero drops and nothing missing.
//!
//! ```text
//! cargo bench --bench ingest -- [--rates 100k,200k,300k,450k] [--secs 8] [--lines FILE] [--reps 1]
//! ```
//! Under `cargo test` (no `--bench` argument) it runs one small smoke round instead.
//! For the side-by-side comparison with rsyslog, see the README ("Performance").

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Options {
    rates: Vec<u64>,
    secs: f64,
    lines: Option<PathBuf>,
    reps: usize,
    smoke: bool,
}

fn parse_rate(text: &str) -> u64 {
    let text = text.trim().to_ascii_lowercase();
    let (num, mult) = match text.strip_suffix('k') {
        Some(n) => (n, 1_000.0),
        None => match text.strip_suffix('m') {
            Some(n) => (n, 1_000_000.0),
            None => (text.as_str(), 1.0),
        },
    };
    (num.parse::<f64>().expect("rate like 200k") * mult) as u64
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let smoke = !args.iter().any(|a| a == "--bench");
    let mut o = Options {
        rates: vec![100_000, 200_000, 300_000, 450_000],
        secs: 8.0,
        lines: None,
        reps: 1,
        smoke,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--rates" => {
                o.rates = it
                    .next()
                    .expect("--rates LIST")
                    .split(',')
                    .map(parse_rate)
                    .collect()
            }
            "--secs" => o.secs = it.next().expect("--secs N").parse().expect("number"),
            "--lines" => o.lines = Some(PathBuf::from(it.next().expect("--lines FILE"))),
            "--reps" => o.reps = it.next().expect("--reps N").parse().expect("number"),
            _ => {}
        }
    }
    if smoke {
        o.rates = vec![20_000];
        o.secs = 0.5;
    }
    o
}

/// Message corpus: `--lines FILE`, or the repository's fixtures with a PRI added where missing.
fn corpus(options: &Options) -> Vec<Vec<u8>> {
    let texts: Vec<String> = match &options.lines {
        Some(path) => std::fs::read_to_string(path)
            .expect("read --lines")
            .lines()
            .map(str::to_string)
            .collect(),
        None => {
            let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/syslog");
            let mut lines = Vec::new();
            for name in [
                "rfc_examples.log",
                "syslog_loose_fixtures.log",
                "loghub_linux_2k.log",
                "loghub_openssh_2k.log",
            ] {
                if let Ok(text) = std::fs::read_to_string(format!("{dir}/{name}")) {
                    lines.extend(text.lines().map(|l| {
                        let l = l.trim_end_matches('\r');
                        if l.starts_with('<') {
                            l.to_string()
                        } else {
                            format!("<13>{l}")
                        }
                    }));
                }
            }
            if lines.is_empty() {
                lines.push("<13>Nov 23 10:00:00 host app: fallback benchmark line".into());
            }
            lines
        }
    };
    texts
        .into_iter()
        .filter(|l| !l.is_empty())
        .map(String::into_bytes)
        .collect()
}

/// Sends `count` datagrams at `rate`/s with sendmmsg in batches of 64, pacing per batch.
fn blast(to: SocketAddr, corpus: &[Vec<u8>], count: u64, rate: u64) -> (u64, f64) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.connect(to).unwrap();
    let fd = sock.as_raw_fd();
    const BATCH: usize = 64;
    let start = Instant::now();
    let mut sent = 0u64;
    let mut next = 0usize;
    while sent < count {
        let n = BATCH.min((count - sent) as usize);
        let mut iovs: Vec<libc::iovec> = (0..n)
            .map(|i| {
                let msg = &corpus[(next + i) % corpus.len()];
                libc::iovec {
                    iov_base: msg.as_ptr() as *mut libc::c_void,
                    iov_len: msg.len(),
                }
            })
            .collect();
        let mut hdrs: Vec<libc::mmsghdr> = iovs
            .iter_mut()
            .map(|iov| {
                let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
                h.msg_hdr.msg_iov = iov as *mut libc::iovec;
                h.msg_hdr.msg_iovlen = 1;
                h
            })
            .collect();
        // SAFETY: hdrs points at n initialized mmsghdr whose iovecs point into `corpus`, alive here.
        let done = unsafe { libc::sendmmsg(fd, hdrs.as_mut_ptr(), n as u32, 0) };
        if done <= 0 {
            std::thread::sleep(Duration::from_micros(50));
            continue;
        }
        sent += done as u64;
        next = (next + done as usize) % corpus.len();
        if rate > 0 {
            let due = Duration::from_secs_f64(sent as f64 / rate as f64);
            let elapsed = start.elapsed();
            if due > elapsed {
                std::thread::sleep(due - elapsed);
            }
        }
    }
    (sent, start.elapsed().as_secs_f64())
}

struct Running {
    child: Child,
    http: SocketAddr,
    udp: SocketAddr,
    _dir: tempfile::TempDir,
}

// The child is handed to the caller inside `Running`; `trial` waits for it after SIGTERM.
#[allow(clippy::zombie_processes)]
fn start_trapline() -> Running {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_trapline");
    let mut child = Command::new(bin)
        .args(["run", "--data", dir.path().join("data").to_str().unwrap()])
        .args([
            "--syslog-udp",
            "127.0.0.1:0",
            "--syslog-tcp",
            "",
            "--trap-udp",
            "",
            "--http",
            "127.0.0.1:0",
        ])
        .env("TRAPLINE_ADMIN_PASSWORD", "bench-password")
        .env("TRAPLINE_LOG", "info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start trapline");
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = log.clone();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    let find = |kind: &str| -> Option<SocketAddr> {
        let needle = format!("listening kind={kind} addr=");
        log.lock().unwrap().iter().find_map(|l| {
            l.find(&needle)
                .map(|at| l[at + needle.len()..].trim().parse().unwrap())
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let (Some(udp), Some(http)) = (find("syslog-udp"), find("http")) {
            return Running {
                child,
                http,
                udp,
                _dir: dir,
            };
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("trapline did not start: {:?}", log.lock().unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn metric(http: SocketAddr, name: &str) -> f64 {
    let text = reqwest::blocking::get(format!("http://{http}/metrics"))
        .and_then(|r| r.text())
        .unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // After ")": state is field 0, utime is 11, stime is 12.
    (ticks(11) + ticks(12)) / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn rcvbuf_errors() -> u64 {
    let snmp = std::fs::read_to_string("/proc/net/snmp").unwrap_or_default();
    let udp: Vec<&str> = snmp.lines().filter(|l| l.starts_with("Udp:")).collect();
    if udp.len() < 2 {
        return 0;
    }
    let names: Vec<&str> = udp[0].split_whitespace().collect();
    let values: Vec<&str> = udp[1].split_whitespace().collect();
    names
        .iter()
        .position(|n| *n == "RcvbufErrors")
        .and_then(|i| values.get(i)?.parse().ok())
        .unwrap_or(0)
}

struct Trial {
    rate: u64,
    sent: u64,
    stored: u64,
    dropped: u64,
    kernel_drops: u64,
    eff_rate: f64,
    cpu_per_m: f64,
    rss_mib: f64,
}

fn trial(corpus: &[Vec<u8>], rate: u64, secs: f64) -> Trial {
    let tl = start_trapline();
    let pid = tl.child.id();
    std::thread::sleep(Duration::from_millis(300));
    let cpu0 = cpu_seconds(pid);
    let kernel0 = rcvbuf_errors();
    let stored0 = metric(tl.http, "trapline_events_stored_total");
    let count = (rate as f64 * secs) as u64;
    let t0 = Instant::now();
    let (sent, _) = blast(tl.udp, corpus, count, rate);
    // Wait until the stored counter stops moving for 1 s.
    let (mut last, mut last_change) = (
        metric(tl.http, "trapline_events_stored_total"),
        Instant::now(),
    );
    let mut done_at = t0.elapsed();
    while last_change.elapsed() < Duration::from_secs(1) {
        std::thread::sleep(Duration::from_millis(100));
        let now = metric(tl.http, "trapline_events_stored_total");
        if now != last {
            last = now;
            last_change = Instant::now();
            done_at = t0.elapsed();
        }
    }
    let stored = (last - stored0) as u64;
    let cpu = cpu_seconds(pid) - cpu0;
    let dropped = metric(tl.http, "trapline_events_dropped_total") as u64;
    let trial = Trial {
        rate,
        sent,
        stored,
        dropped,
        kernel_drops: rcvbuf_errors().saturating_sub(kernel0),
        eff_rate: stored as f64 / done_at.as_secs_f64().max(1e-9),
        cpu_per_m: cpu / (stored.max(1) as f64 / 1e6),
        rss_mib: peak_rss_mib(pid),
    };
    let mut child = tl.child;
    unsafe {
        libc::kill(pid as i32, libc::SIGTERM);
    }
    let _ = child.wait();
    trial
}

fn main() {
    let options = options();
    let corpus = corpus(&options);
    let avg = corpus.iter().map(Vec::len).sum::<usize>() / corpus.len().max(1);
    println!(
        "ingest bench: {} distinct messages, avg {avg} B, {} s per rate",
        corpus.len(),
        options.secs
    );
    println!(
        "{:>9} {:>9} {:>9} {:>7} {:>8} {:>8} {:>10} {:>9} {:>8}",
        "rate", "sent", "stored", "loss%", "dropped", "kdrops", "eff/s", "CPU-s/M", "RSS MiB"
    );
    let mut best: Option<u64> = None;
    for &rate in &options.rates {
        for _ in 0..options.reps {
            let t = trial(&corpus, rate, options.secs);
            let loss = 100.0 * (t.sent.saturating_sub(t.stored)) as f64 / t.sent.max(1) as f64;
            println!(
                "{:>9} {:>9} {:>9} {:>7.3} {:>8} {:>8} {:>10.0} {:>9.2} {:>8.1}",
                t.rate,
                t.sent,
                t.stored,
                loss,
                t.dropped,
                t.kernel_drops,
                t.eff_rate,
                t.cpu_per_m,
                t.rss_mib
            );
            if t.dropped == 0 && t.stored == t.sent && t.eff_rate >= 0.97 * t.rate as f64 {
                best = Some(best.map_or(rate, |b: u64| b.max(rate)));
            }
            if options.smoke {
                assert_eq!(t.stored, t.sent, "smoke run: every message stored");
            }
        }
    }
    match best {
        Some(rate) => println!("highest rate with 0 dropped and every message stored: {rate}/s"),
        None => println!("no rate passed with 0 dropped and every message stored"),
    }
}
