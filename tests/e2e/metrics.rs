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
