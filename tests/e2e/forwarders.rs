//! Real forwarders: a real rsyslog (Debian `rsyslog`, and `rsyslog-gnutls` for TLS), started by
//! each test in the foreground with its own config and work directory, relays what util-linux
//! `logger` (and a device-like RFC 5424 line) send it to trapline — over UDP, over TCP with
//! octet counting, and over TLS with mutual certificate authentication. Every message must
//! arrive with its original host and program, not the relay's.
//!
//! rsyslog runs with `-n` and a config that loads only what it uses (imudp; omfwd is built
//! in), so it reads no system socket and writes no system log; its input binds a free loopback
//! port, and it is killed on every path by [`Rsyslog`]'s `Drop`.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Instance, logger, prepare_data_dir};
use crate::syslog_tls::{start_with_syslog_tls, write_syslog_tls_config};
use crate::tls::TestCa;

/// The host name rsyslog would put on messages of its own; no forwarded event may carry it.
const RELAY_NAME: &str = "rsyslog-relay";

/// A running `rsyslogd -n`; killed (and reaped) when dropped, however the test ends.
struct Rsyslog {
    child: Child,
    log: Arc<Mutex<String>>,
    /// Where its imudp input listens.
    input: SocketAddr,
    _work: tempfile::TempDir,
}

impl Rsyslog {
    /// Starts rsyslog with an imudp input on a free loopback port whose messages go to the
    /// `omfwd` action `forward` (an `action(...)` statement); `global` adds parameters to
    /// `global(...)` (TLS files). The config is validated first (`rsyslogd -N1`).
    fn start(forward: &str, global: &str) -> Rsyslog {
        let work = tempfile::tempdir().unwrap();
        let input = free_udp_port();
        let config = work.path().join("rsyslog.conf");
        std::fs::write(
            &config,
            format!(
                r#"global(workDirectory="{work}" localHostName="{RELAY_NAME}" preserveFQDN="on" {global})
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="{port}" ruleset="forward")
ruleset(name="forward") {{
  {forward}
}}
"#,
                work = work.path().display(),
                port = input.port(),
            ),
        )
        .unwrap();
        let check = Command::new(rsyslogd())
            .args(["-N1", "-f"])
            .arg(&config)
            .output()
            .expect("rsyslogd (Debian package rsyslog) is installed");
        assert!(
            check.status.success(),
            "rsyslogd -N1 refused the config:\n{}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
        let mut child = Command::new(rsyslogd())
            .arg("-n")
            .arg("-f")
            .arg(&config)
            .arg("-i")
            .arg(work.path().join("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("rsyslogd starts");
        let log = Arc::new(Mutex::new(String::new()));
        collect_lines(child.stdout.take().unwrap(), &log);
        collect_lines(child.stderr.take().unwrap(), &log);
        let mut rsyslog = Rsyslog {
            child,
            log,
            input,
            _work: work,
        };
        rsyslog.wait_bound();
        rsyslog
    }

    /// Waits until the input's UDP socket is bound (from then on the kernel queues what is
    /// sent to it, even before rsyslog reads).
    fn wait_bound(&mut self) {
        let wanted = format!("0100007F:{:04X}", self.input.port());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let table = std::fs::read_to_string("/proc/net/udp").unwrap();
            if table
                .lines()
                .skip(1)
                .any(|line| line.split_whitespace().nth(1) == Some(wanted.as_str()))
            {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("rsyslogd exited ({status}):\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "rsyslogd never bound {}:\n{}",
                self.input,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Sends `messages` through rsyslog's input with `logger` (RFC 5424, tag `app`, pid 4242),
    /// plus one line as a device would send it, from host `edge-router-7`, program `bgpd`.
    fn feed(&self, app: &str, token: &str, messages: usize) {
        let port = self.input.port().to_string();
        for i in 0..messages {
            logger(&[
                "--server",
                "127.0.0.1",
                "--port",
                &port,
                "--udp",
                "--rfc5424",
                "-t",
                app,
                "--id=4242",
                "-p",
                "local3.warning",
                &format!("{token} logger message {i}"),
            ]);
        }
        let device = format!(
            "<187>1 2026-11-23T10:00:00.000Z edge-router-7 bgpd 77 ADJCHANGE - {token} neighbor 192.0.2.1 down"
        );
        UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .send_to(device.as_bytes(), self.input)
            .unwrap();
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Appends each line `stream` gives to `log`, on a thread of its own.
fn collect_lines(stream: impl std::io::Read + Send + 'static, log: &Arc<Mutex<String>>) {
    let log = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            let mut log = log.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
}

/// The rsyslogd binary: Debian installs it in /usr/sbin, which is not on every user's PATH.
fn rsyslogd() -> PathBuf {
    let sbin = PathBuf::from("/usr/sbin/rsyslogd");
    if sbin.exists() {
        sbin
    } else {
        PathBuf::from("rsyslogd")
    }
}

/// A loopback UDP port that was free a moment ago (bound to port 0, then released).
fn free_udp_port() -> SocketAddr {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// The host name `logger` puts in RFC 5424 messages: the kernel's, as is.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}

/// Waits for the `messages` logger lines and the device line sent with `token`, and checks
/// that each kept its original host and program and came over `transport`.
fn assert_forwarded(
    tl: &Instance,
    rsyslog: &Rsyslog,
    app: &str,
    token: &str,
    messages: usize,
    transport: &str,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let events = loop {
        let events = tl.events(&format!("q={token}"));
        if events.len() > messages {
            break events;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} forwarded messages arrived: {events:#?}\nrsyslog:\n{}\ntrapline:\n{}",
            events.len(),
            messages + 1,
            rsyslog.log(),
            tl.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(events.len(), messages + 1, "each exactly once: {events:#?}");
    let host = hostname();
    for i in 0..messages {
        let text = format!("{token} logger message {i}");
        let event = find(&events, &text);
        assert_eq!(event["host"], host.as_str(), "{event}");
        assert_eq!(event["app"], app, "{event}");
        assert_eq!(event["procid"], "4242", "{event}");
        assert_eq!(event["facility"], 19, "{event}");
        assert_eq!(event["severity"], 4, "{event}");
        assert_eq!(event["transport"], transport, "{event}");
    }
    let device = find(&events, &format!("{token} neighbor 192.0.2.1 down"));
    assert_eq!(device["host"], "edge-router-7", "{device}");
    assert_eq!(device["app"], "bgpd", "{device}");
    assert_eq!(device["procid"], "77", "{device}");
    assert_eq!(device["severity"], 3, "{device}");
    assert_eq!(device["transport"], transport, "{device}");
    for event in &events {
        assert_ne!(event["host"], RELAY_NAME, "{event}");
        assert!(
            event["source"].as_str().unwrap().starts_with("127.0.0.1:"),
            "{event}"
        );
        assert!(event["raw"].is_null(), "parsed: {event}");
    }
}

/// The event whose message is exactly `text`.
fn find<'a>(events: &'a [Value], text: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["message"] == text)
        .unwrap_or_else(|| panic!("no event {text:?} in {events:#?}"))
}

#[test]
fn rsyslog_forwards_over_udp_with_host_and_program() {
    let tl = Instance::start();
    // The classic forwarding rule: BSD format (RSYSLOG_TraditionalForwardFormat) over UDP.
    let rsyslog = Rsyslog::start(
        &format!(
            r#"action(type="omfwd" target="127.0.0.1" port="{}" protocol="udp")"#,
            tl.syslog_udp.port()
        ),
        "",
    );
    rsyslog.feed("fwd-udp-app", "fwdudp7q", 3);
    assert_forwarded(&tl, &rsyslog, "fwd-udp-app", "fwdudp7q", 3, "udp");
}

#[test]
fn rsyslog_forwards_over_tcp_with_octet_counting() {
    let tl = Instance::start();
    let rsyslog = Rsyslog::start(
        &format!(
            r#"action(type="omfwd" target="127.0.0.1" port="{}" protocol="tcp"
         TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")"#,
            tl.syslog_tcp.port()
        ),
        "",
    );
    rsyslog.feed("fwd-tcp-app", "fwdtcp3k", 3);
    assert_forwarded(&tl, &rsyslog, "fwd-tcp-app", "fwdtcp3k", 3, "tcp");
}

#[test]
fn rsyslog_forwards_over_tls_with_mutual_authentication() {
    let (dir, token) = prepare_data_dir();
    let ca = TestCa::new();
    let (_, cert, key) = ca.write_server_pair(dir.path());
    let ca_file = ca.write_root(dir.path(), "ca.pem");
    // The relay's own certificate, from the CA trapline requires of its senders.
    let (relay_cert, relay_key) = ca.write_pair(dir.path(), "relay", &["relay.example.net"]);
    let config = write_syslog_tls_config(
        dir.path(),
        &cert,
        &key,
        &format!(
            "client_ca = {:?}\nrequire_client_cert = true\n",
            ca_file.display().to_string()
        ),
    );
    let (tl, addr) = start_with_syslog_tls(dir, token, &config);
    // rsyslog checks trapline's certificate against the CA and its name (x509/name), and
    // shows its own.
    let files = |path: &PathBuf| path.display().to_string();
    let rsyslog = Rsyslog::start(
        &format!(
            r#"action(type="omfwd" target="127.0.0.1" port="{}" protocol="tcp"
         StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="x509/name"
         StreamDriverPermittedPeers="localhost"
         TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")"#,
            addr.port()
        ),
        &format!(
            r#"defaultNetstreamDriver="gtls" defaultNetstreamDriverCAFile="{}" defaultNetstreamDriverCertFile="{}" defaultNetstreamDriverKeyFile="{}""#,
            files(&ca_file),
            files(&relay_cert),
            files(&relay_key)
        ),
    );
    rsyslog.feed("fwd-tls-app", "fwdtls9m", 3);
    assert_forwarded(&tl, &rsyslog, "fwd-tls-app", "fwdtls9m", 3, "tls");
    assert_eq!(
        tl.metric_sum(
            "trapline_tls_handshake_failures_total",
            "listener=\"syslog-tls\""
        ),
        0.0
    );
    assert!(
        tl.metric_sum(
            "trapline_datagrams_received_total",
            "listener=\"syslog-tls\""
        ) >= 4.0
    );
}
