//! Syslog over UDP and TCP from util-linux `logger` and raw sockets, checked through the API.

use std::io::Write;
use std::net::{TcpStream, UdpSocket};

use serde_json::Value;

use crate::harness::{Instance, logger};

fn find<'a>(events: &'a [Value], needle: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["message"].as_str().is_some_and(|m| m.contains(needle)))
        .unwrap_or_else(|| panic!("no event with {needle:?} in {events:#?}"))
}

const SEVERITIES: [(&str, u64, &str); 8] = [
    ("emerg", 0, "critical"),
    ("alert", 1, "critical"),
    ("crit", 2, "warning"),
    ("err", 3, "low"),
    ("warning", 4, "low"),
    ("notice", 5, "none"),
    ("info", 6, "none"),
    ("debug", 7, "none"),
];

#[test]
fn logger_udp_every_severity_and_format_gets_fields_and_level() {
    let tl = Instance::start();
    let port = tl.syslog_udp.port().to_string();
    for (format, fac, fac_code) in [("--rfc3164", "local0", 16u64), ("--rfc5424", "daemon", 3)] {
        for (sev, sev_code, _) in SEVERITIES {
            let prio = format!("{fac}.{sev}");
            let msg = format!("udp {format} {sev} probe");
            logger(&[
                "-n",
                "127.0.0.1",
                "-P",
                &port,
                "--udp",
                format,
                "-t",
                "probe-app",
                "-p",
                &prio,
                &msg,
            ]);
            let _ = (fac_code, sev_code);
        }
    }
    let events = tl.wait_events("", 16);
    assert_eq!(
        events.len(),
        16,
        "exactly the 16 messages sent: {events:#?}"
    );
    for (format, fac_code) in [("--rfc3164", 16u64), ("--rfc5424", 3)] {
        for (sev, sev_code, level) in SEVERITIES {
            let e = find(&events, &format!("udp {format} {sev} probe"));
            assert_eq!(e["message"], format!("udp {format} {sev} probe"), "{e:#}");
            assert_eq!(e["facility"], fac_code, "{e:#}");
            assert_eq!(e["severity"], sev_code, "{e:#}");
            assert_eq!(e["level"], level, "{e:#}");
            assert_eq!(e["app"], "probe-app", "{e:#}");
            assert_eq!(e["kind"], "syslog");
            assert_eq!(e["transport"], "udp");
            assert!(
                e["source"].as_str().unwrap().starts_with("127.0.0.1:"),
                "{e:#}"
            );
            assert!(
                e["timestamp"].is_string(),
                "logger sends a timestamp: {e:#}"
            );
            assert!(!e["host"].as_str().unwrap().is_empty());
            assert!(
                e.get("raw").is_none(),
                "parsed messages carry no raw copy: {e:#}"
            );
        }
    }
    // Level filter through the API agrees with the mapping.
    assert_eq!(tl.events("level=critical").len(), 4);
    assert_eq!(tl.events("level=warning").len(), 2);
    assert_eq!(tl.events("level=low").len(), 4);
    assert_eq!(tl.events("level=none").len(), 6);
    assert_eq!(tl.metric_sum("trapline_events_dropped_total", ""), 0.0);
    assert_eq!(tl.metric_sum("trapline_parse_errors_total", ""), 0.0);
}

#[test]
fn logger_rfc5424_msgid_and_structured_data_over_tcp_both_framings() {
    let tl = Instance::start();
    let port = tl.syslog_tcp.port().to_string();
    logger(&[
        "-n",
        "127.0.0.1",
        "-P",
        &port,
        "--tcp",
        "--octet-count",
        "--rfc5424",
        "--msgid",
        "ID47",
        "--sd-id",
        "exampleSDID@32473",
        "--sd-param",
        "iut=\"3\"",
        "--sd-param",
        "eventSource=\"Application\"",
        "-t",
        "tcpapp",
        "-p",
        "user.err",
        "octet counted with sd",
    ]);
    logger(&[
        "-n",
        "127.0.0.1",
        "-P",
        &port,
        "--tcp",
        "--rfc3164",
        "-t",
        "lfapp",
        "-p",
        "auth.alert",
        "lf framed over tcp",
    ]);
    let events = tl.wait_events("", 2);
    let e = find(&events, "octet counted with sd");
    assert_eq!(e["transport"], "tcp");
    assert_eq!(e["msgid"], "ID47");
    assert_eq!(e["app"], "tcpapp");
    assert_eq!(e["severity"], 3);
    assert_eq!(e["level"], "low");
    assert_eq!(
        e["structured_data"]["exampleSDID@32473"]["iut"], "3",
        "{e:#}"
    );
    assert_eq!(
        e["structured_data"]["exampleSDID@32473"]["eventSource"],
        "Application"
    );
    let e = find(&events, "lf framed over tcp");
    assert_eq!(e["facility"], 4);
    assert_eq!(e["severity"], 1);
    assert_eq!(e["level"], "critical");
    assert_eq!(e["app"], "lfapp");
    assert_eq!(
        tl.metric_sum(
            "trapline_datagrams_received_total",
            "listener=\"syslog-tcp\""
        ),
        2.0
    );
}

#[test]
fn raw_garbage_empty_huge_and_invalid_utf8_are_all_stored() {
    let tl = Instance::start();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = tl.syslog_udp;
    let garbage: Vec<u8> = (0u8..=255)
        .cycle()
        .take(300)
        .map(|b| b.wrapping_mul(7))
        .collect();
    sock.send_to(&garbage, to).unwrap();
    sock.send_to(b"", to).unwrap();
    let mut huge = b"<13>Nov 23 10:00:00 bighost bigapp: ".to_vec();
    huge.extend(std::iter::repeat_n(b'x', 60_000 - huge.len()));
    sock.send_to(&huge, to).unwrap();
    sock.send_to(b"<11>Nov 23 10:00:00 latin1host app: caf\xe9 cr\xe8me", to)
        .unwrap();
    let events = tl.wait_events("", 4);
    assert_eq!(events.len(), 4, "{events:#?}");

    let big = events
        .iter()
        .find(|e| e["host"] == "bighost")
        .expect("60 KB message stored");
    assert_eq!(big["message"].as_str().unwrap().len(), 60_000 - 36);
    let latin = events
        .iter()
        .find(|e| e["host"] == "latin1host")
        .expect("invalid UTF-8 stored");
    assert_eq!(latin["message"], "caf\u{fffd} cr\u{fffd}me");
    assert!(
        latin["raw"].is_string(),
        "raw bytes kept for invalid UTF-8: {latin:#}"
    );
    assert_eq!(latin["level"], "low");

    let unparsed: Vec<&Value> = events
        .iter()
        .filter(|e| e["raw"].is_string() && e["host"] != "latin1host")
        .collect();
    assert_eq!(
        unparsed.len(),
        2,
        "garbage and empty are stored raw: {events:#?}"
    );
    use base64::Engine;
    let raws: Vec<Vec<u8>> = unparsed
        .iter()
        .map(|e| {
            base64::engine::general_purpose::STANDARD
                .decode(e["raw"].as_str().unwrap())
                .unwrap()
        })
        .collect();
    assert!(
        raws.contains(&garbage),
        "the garbage datagram is kept byte for byte"
    );
    assert!(raws.contains(&Vec::new()), "the empty datagram is kept");
    assert_eq!(
        tl.metric_sum("trapline_parse_errors_total", "kind=\"syslog\""),
        2.0
    );
    assert_eq!(
        tl.metric_sum(
            "trapline_datagrams_received_total",
            "listener=\"syslog-udp\""
        ),
        4.0
    );
    assert_eq!(tl.wait_metric("trapline_events_stored_total", "", 4.0), 4.0);
    assert_eq!(tl.metric_sum("trapline_events_dropped_total", ""), 0.0);
}

#[test]
fn many_concurrent_tcp_senders_lose_nothing() {
    let tl = Instance::start();
    let addr = tl.syslog_tcp;
    let senders: Vec<_> = (0..20)
        .map(|s| {
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(addr).unwrap();
                for i in 0..50 {
                    let msg = format!("<14>Nov 23 10:00:00 host{s} app: sender {s} message {i}");
                    if i % 2 == 0 {
                        write!(stream, "{} {msg}", msg.len()).unwrap();
                    } else {
                        writeln!(stream, "{msg}").unwrap();
                    }
                }
            })
        })
        .collect();
    for sender in senders {
        sender.join().unwrap();
    }
    let events = tl.wait_events("", 1000);
    assert_eq!(events.len(), 1000);
    let mut seen: Vec<String> = events
        .iter()
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 1000, "every message exactly once");
    assert_eq!(tl.events("host=host7").len(), 50);
}

#[test]
fn ipv6_loopback_udp_is_received() {
    let (dir, token) = crate::harness::prepare_data_dir();
    let tl = Instance::start_in(dir, token, &["--syslog-udp", "[::1]:0"]);
    assert!(tl.syslog_udp.is_ipv6());
    let port = tl.syslog_udp.port().to_string();
    logger(&[
        "-n",
        "::1",
        "-P",
        &port,
        "--udp",
        "--rfc5424",
        "-t",
        "v6app",
        "over ipv6",
    ]);
    let events = tl.wait_events("", 1);
    assert_eq!(events[0]["message"], "over ipv6");
    assert!(
        events[0]["source"].as_str().unwrap().starts_with("[::1]:"),
        "{:#}",
        events[0]
    );
}

/// Storm control: one source over its rate is cut to its rate; its excess becomes one counted
/// summary event; another source is not affected; and the books still balance.
#[test]
fn a_storming_source_is_rate_limited_into_one_summary_event() {
    let (dir, token) = crate::harness::prepare_data_dir();
    let config = dir.path().join("storm.toml");
    std::fs::write(
        &config,
        "[ingest]\nper_source_rate = 100\nper_source_burst = 100\nstorm_summary_interval = \"1s\"\n",
    )
    .unwrap();
    let config = config.to_str().unwrap().to_string();
    let tl = Instance::start_in(dir, token, &["--config", &config]);
    let storming = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..1000 {
        let line = format!("<187>Nov 23 10:00:00 sw1 ifmgr: flap {i}");
        storming.send_to(line.as_bytes(), tl.syslog_udp).unwrap();
    }
    // Another address on the loopback network: its own bucket.
    let calm = std::net::UdpSocket::bind("127.0.0.2:0").unwrap();
    for i in 0..10 {
        let line = format!("<14>Nov 23 10:00:00 calm app: fine {i}");
        calm.send_to(line.as_bytes(), tl.syslog_udp).unwrap();
    }
    let summary = loop_until(|| {
        tl.events("q=Rate%20limited").into_iter().find(|e| {
            e["message"]
                .as_str()
                .unwrap_or("")
                .starts_with("Rate limited")
        })
    });
    assert_eq!(summary["host"], "127.0.0.1", "{summary}");
    assert_eq!(summary["app"], "trapline");
    assert_eq!(summary["msgid"], "storm");
    let count: f64 = summary["message"].as_str().unwrap()["Rate limited: ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let received = tl.wait_metric("trapline_datagrams_received_total", "syslog-udp", 1010.0);
    assert_eq!(received, 1010.0);
    let dropped = tl.metric_sum("trapline_events_dropped_total", "reason=\"rate_limited\"");
    assert_eq!(
        dropped,
        count - 1.0,
        "the summary stands for one of the {count}"
    );
    assert!(
        count >= 800.0,
        "at most burst + refill passed: {count} over the limit"
    );
    let stored = tl.wait_metric("trapline_events_stored_total", "", received - dropped);
    assert_eq!(stored + dropped, received, "the books balance");
    assert_eq!(
        tl.events("q=fine").len(),
        10,
        "the calm source lost nothing"
    );
}

/// Polls `probe` for up to 20 s.
fn loop_until<T>(probe: impl Fn() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(std::time::Instant::now() < deadline, "timed out");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
