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

/// The packaged Prometheus alert rules load and pass their unit tests in `promtool`, and they
/// and the Grafana dashboard name only metrics trapline registers (a renamed metric would
/// silently blank a panel or never fire an alert).
#[test]
fn packaged_alert_rules_and_dashboard_name_real_metrics() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let packaging = root.join("packaging");
    for args in [
        &["check", "rules", "prometheus-alerts.yml"][..],
        &["test", "rules", "prometheus-alerts.test.yml"][..],
    ] {
        let out = Command::new("promtool")
            .args(args)
            .current_dir(&packaging)
            .output()
            .expect("promtool (Debian package prometheus) is installed");
        assert!(
            out.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let registered = metric_names_in_sources(&root.join("src"));
    assert!(registered.contains("trapline_events_stored_total"));
    for file in ["prometheus-alerts.yml", "grafana-dashboard.json"] {
        let text = std::fs::read_to_string(packaging.join(file)).unwrap();
        let used = metric_names(&text);
        assert!(used.len() > 5, "{file} names only {used:?}");
        for name in used {
            let base = ["_bucket", "_count", "_sum"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .filter(|base| registered.contains(*base))
                .unwrap_or(&name);
            assert!(
                registered.contains(base),
                "{file} uses {name}, which trapline does not register"
            );
        }
    }
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(packaging.join("grafana-dashboard.json")).unwrap(),
    )
    .unwrap();
    assert!(dashboard["panels"].as_array().unwrap().len() > 10);
}

/// Every `trapline_…` word in `text`.
fn metric_names(text: &str) -> std::collections::BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with("trapline_") && word.len() > "trapline_".len())
        .map(str::to_string)
        .collect()
}

/// The `"trapline_…"` string literals in the Rust sources under `dir`: the registered names.
fn metric_names_in_sources(dir: &std::path::Path) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            names.extend(metric_names_in_sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            for literal in text.split('"').skip(1).step_by(2) {
                if literal.starts_with("trapline_") && !literal.contains(' ') {
                    names.insert(literal.to_string());
                }
            }
        }
    }
    names
}
