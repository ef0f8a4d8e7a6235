//! Per-source settings from a config file: time zone for offset-less timestamps, host trust.

use std::net::UdpSocket;

use crate::harness::{Instance, prepare_data_dir};

#[test]
fn source_timezone_and_host_trust_apply_by_sender_network() {
    let (dir, token) = prepare_data_dir();
    let config = dir.path().join("trapline.toml");
    std::fs::write(
        &config,
        r#"
[[source]]
name = "loopback-paris"
networks = ["127.0.0.0/8"]
timezone = "Asia/Kolkata"
trust_host = "sender"
"#,
    )
    .unwrap();
    let tl = Instance::start_in(dir, token, &["--config", config.to_str().unwrap()]);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    // RFC 5424 timestamp without offset is not allowed; use 3164 with a year-less local time.
    sock.send_to(
        b"<13>Jan 15 10:00:00 liar-host app: local time",
        tl.syslog_udp,
    )
    .unwrap();
    let events = tl.wait_events("", 1);
    let e = &events[0];
    assert_eq!(e["host"], "127.0.0.1", "trust_host = sender: {e:#}");
    let ts = e["timestamp"].as_str().unwrap();
    assert!(
        ts.contains("-01-15T10:00:00") && ts.ends_with("+05:30"),
        "Kolkata offset applied: {ts}"
    );
}
