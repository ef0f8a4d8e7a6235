//! Overload (issue 8): far more than the instance can take, over UDP and TCP at once, with
//! live-page clients that never read. trapline must stay up with bounded memory, count every
//! datagram it could not keep, and slow TCP senders down instead of dropping their frames.

use std::io::Write;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::harness::{Instance, metric_sum, prepare_data_dir};

const FLOOD_FOR: Duration = Duration::from_secs(4);
const UDP_SENDERS: usize = 2;
const TCP_SENDERS: usize = 4;
const TCP_FRAMES: usize = 5_000;
const SSE_CLIENTS: usize = 4;
/// Peak RSS allowed. The queues are bounded (here 4,096 events); were they not, the ~2 GB
/// this test sends would show up in the process.
const MAX_PEAK_RSS_MIB: u64 = 400;

#[test]
fn an_overload_is_counted_memory_stays_bounded_and_tcp_senders_are_slowed_not_dropped() {
    let (dir, token) = prepare_data_dir();
    let config = dir.path().join("overload.toml");
    std::fs::write(&config, "[ingest]\nqueue_events = 4096\n").unwrap();
    let config = config.to_str().unwrap().to_string();
    let tl = Instance::start_in(dir, token, &["--config", &config]);
    let idle_readers: Vec<TcpStream> = (0..SSE_CLIENTS)
        .map(|_| subscribe_without_reading(tl.http, &tl.token))
        .collect();

    let stop = AtomicBool::new(false);
    let udp_sent = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for sender in 0..UDP_SENDERS {
            let (stop, sent) = (&stop, &udp_sent);
            scope.spawn(move || flood_udp(tl.syslog_udp, sender, stop, sent));
        }
        let tcp: Vec<_> = (0..TCP_SENDERS)
            .map(|conn| scope.spawn(move || send_tcp_frames(tl.syslog_tcp, conn)))
            .collect();
        std::thread::sleep(FLOOD_FOR);
        stop.store(true, Ordering::SeqCst);
        for sender in tcp {
            sender.join().unwrap();
        }
    });

    let (_, health) = tl.get_text("/healthz");
    assert_eq!(health.trim(), "ok", "still up after the flood");
    let text = settled_metrics(&tl);
    let received = metric_sum(&text, "trapline_datagrams_received_total", "");
    let stored = metric_sum(&text, "trapline_events_stored_total", "");
    let dropped = metric_sum(&text, "trapline_events_dropped_total", "");
    let refused = metric_sum(&text, "trapline_traps_refused_total", "")
        + metric_sum(&text, "trapline_rule_drops_total", "");
    assert_eq!(
        received,
        stored + dropped + refused,
        "the books balance: received {received} = stored {stored} + dropped {dropped} \
         + refused by community or dropped by rules {refused}"
    );
    assert!(
        metric_sum(&text, "trapline_events_dropped_total", "queue_full") > 0.0,
        "the flood overflowed the queue (else this test proves nothing)"
    );
    let udp_read = metric_sum(&text, "trapline_datagrams_received_total", "syslog-udp");
    let kernel = metric_sum(&text, "trapline_udp_kernel_drops_total", "syslog-udp");
    let sent = udp_sent.load(Ordering::SeqCst) as f64;
    assert_eq!(
        udp_read + kernel,
        sent,
        "every UDP datagram sent was read or counted as dropped by the kernel"
    );

    let tcp_events = tl.events("host=tcp-sender").len();
    assert_eq!(
        tcp_events,
        TCP_SENDERS * TCP_FRAMES,
        "TCP senders were slowed down, not dropped"
    );
    let peak = peak_rss_mib(tl.child.as_ref().unwrap().id());
    eprintln!(
        "overload: {sent} UDP datagrams sent, {udp_read} read, {kernel} dropped by the kernel, \
         {dropped} dropped by trapline, {stored} stored; peak RSS {peak} MiB"
    );
    assert!(
        peak < MAX_PEAK_RSS_MIB,
        "peak RSS {peak} MiB: memory is not bounded"
    );
    drop(idle_readers);
    let (_, health) = tl.get_text("/healthz");
    assert_eq!(health.trim(), "ok");
}

/// Opens the live alert stream and never reads from it.
fn subscribe_without_reading(http: SocketAddr, token: &str) -> TcpStream {
    let mut stream = TcpStream::connect(http).unwrap();
    write!(
        stream,
        "GET /api/v1/alerts/stream HTTP/1.1\r\nHost: trapline\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .unwrap();
    stream
}

/// Sends 1 KiB datagrams as fast as the socket takes them until `stop`; one in a hundred is an
/// emergency from one of 500 devices, so alerts keep changing for the live-page clients.
fn flood_udp(to: SocketAddr, sender: usize, stop: &AtomicBool, sent: &AtomicU64) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let filler = "x".repeat(1000);
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let line = if n.is_multiple_of(100) {
            format!("<8>Nov 23 10:00:00 flood-{sender} app: dev{} down", n % 500)
        } else {
            format!("<14>Nov 23 10:00:00 flood-{sender} app: {n} {filler}")
        };
        if sock.send_to(line.as_bytes(), to).is_ok() {
            sent.fetch_add(1, Ordering::Relaxed);
        }
        n += 1;
    }
}

/// Writes `TCP_FRAMES` octet-counted frames on one connection with blocking writes: when
/// trapline cannot keep up, the writes wait.
fn send_tcp_frames(to: SocketAddr, conn: usize) {
    let mut stream = TcpStream::connect(to).unwrap();
    let mut out = Vec::with_capacity(64 * 1024);
    for i in 0..TCP_FRAMES {
        let msg = format!("<14>Nov 23 10:00:00 tcp-sender app: conn {conn} frame {i}");
        write!(out, "{} {msg}", msg.len()).unwrap();
        if out.len() > 60_000 {
            stream.write_all(&out).unwrap();
            out.clear();
        }
    }
    stream.write_all(&out).unwrap();
    stream.flush().unwrap();
}

/// `/metrics` once the queue is empty and nothing moves any more.
fn settled_metrics(tl: &Instance) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = String::new();
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let text = tl.metrics();
        let moving = [
            "trapline_datagrams_received_total",
            "trapline_events_stored_total",
        ]
        .iter()
        .any(|name| metric_sum(&text, name, "") != metric_sum(&last, name, ""));
        let queued = metric_sum(&text, "trapline_ingest_queue_depth", "");
        if !moving && queued == 0.0 {
            return text;
        }
        assert!(Instant::now() < deadline, "never settled:\n{text}");
        last = text;
    }
}

/// The process's peak resident set (`VmHWM`), in MiB.
fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("VmHWM in /proc/PID/status");
    kib / 1024
}
