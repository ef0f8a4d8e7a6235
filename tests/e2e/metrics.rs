//! `/metrics` is valid Prometheus text (checked with `promtool`) and carries the contract's names.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::harness::{Instance, logger};

#[test]
fn metrics_pass_promtool_and_name_the_contract_series() {
    let tl = Instance::start();
    let port = tl.syslog_udp.port().to_string();
    logger(&[
        "-n",
        "127.0.0.1",
        "-P",
        &port,
        "--udp",
        "-p",
        "user.crit",
        "metrics probe",
    ]);
    tl.wait_metric("trapline_events_stored_total", "level=\"warning\"", 1.0);
    let text = tl.metrics();
    for name in [
        "trapline_datagrams_received_total",
        "trapline_events_stored_total",
        "trapline_parse_errors_total",
        "trapline_events_dropped_total",
        "trapline_alerts_raised_total",
        "trapline_alerts_open",
        "trapline_ingest_queue_depth",
        "trapline_ingest_latency_seconds_bucket",
    ] {
        assert!(text.contains(name), "{name} missing from /metrics");
    }
    assert_eq!(
        crate::harness::metric_sum(&text, "trapline_ingest_latency_seconds_count", ""),
        1.0
    );
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus) is installed");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Loss before trapline reads is visible too: with the process stopped (SIGSTOP) a burst fills
/// the socket's receive buffer and the kernel drops the rest; after SIGCONT every datagram sent
/// is either received (and stored) or counted in `trapline_udp_kernel_drops_total`.
#[test]
fn datagrams_the_kernel_dropped_are_counted_and_the_books_balance() {
    let (dir, token) = crate::harness::prepare_data_dir();
    let config = dir.path().join("small-buffer.toml");
    std::fs::write(&config, "[ingest]\nudp_receive_buffer_bytes = \"64KiB\"\n").unwrap();
    let config = config.to_str().unwrap().to_string();
    let tl = Instance::start_in(dir, token, &["--config", &config]);
    let pid = tl.child.as_ref().unwrap().id() as i32;
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    const SENT: usize = 3000;
    unsafe {
        libc::kill(pid, libc::SIGSTOP);
    }
    for i in 0..SENT {
        let line = format!(
            "<13>Nov 23 10:00:00 h app: kept or dropped {i} {}",
            "x".repeat(150)
        );
        sock.send_to(line.as_bytes(), tl.syslog_udp).unwrap();
    }
    unsafe {
        libc::kill(pid, libc::SIGCONT);
    }
    let received = |text: &str| {
        crate::harness::metric_sum(text, "trapline_datagrams_received_total", "syslog-udp")
    };
    let kernel = |text: &str| {
        crate::harness::metric_sum(text, "trapline_udp_kernel_drops_total", "syslog-udp")
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let text = loop {
        let text = tl.metrics();
        if received(&text) + kernel(&text) >= SENT as f64 {
            break text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "received {} + kernel drops {} of {SENT}",
            received(&text),
            kernel(&text)
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(received(&text) + kernel(&text), SENT as f64);
    assert!(
        kernel(&text) > 0.0,
        "a 64 KiB buffer cannot hold {SENT} datagrams"
    );
    let stored = tl.wait_metric("trapline_events_stored_total", "", received(&text));
    assert_eq!(stored, received(&text), "everything read is stored");
    assert_eq!(tl.metric_sum("trapline_events_dropped_total", ""), 0.0);
}
