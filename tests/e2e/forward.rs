//! Forwarding to upstream syslog servers through the real binary: the upstreams are real
//! listeners in the test (a UDP socket, a TCP listener, a tokio-rustls acceptor that asks for
//! a client certificate) that parse what arrives (datagrams, octet-counted frames). Rules pick
//! what goes where; an upstream that is down while trapline restarts gets everything after.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
};

use crate::harness::{Instance, prepare_data_dir, trapline};

/// What an upstream received, in arrival order.
#[derive(Clone, Default)]
struct Received {
    messages: Arc<Mutex<Vec<String>>>,
    /// TLS: whether each connection presented a client certificate.
    client_certificates: Arc<Mutex<Vec<bool>>>,
}

impl Received {
    fn push(&self, message: String) {
        self.messages.lock().unwrap().push(message);
    }

    fn all(&self) -> Vec<String> {
        self.messages.lock().unwrap().clone()
    }

    /// Waits until at least `n` messages arrived; returns them all.
    fn wait(&self, n: usize, tl: &Instance) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let all = self.all();
            if all.len() >= n {
                return all;
            }
            assert!(
                Instant::now() < deadline,
                "the upstream got {} of {n} messages: {all:#?}\nlog:\n{}",
                all.len(),
                tl.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Takes the complete octet-counted frames (`LEN SP MSG`, RFC 6587 §3.4.1) off `buffer`;
/// anything else is recorded as `MALFORMED: …` so the test fails on it.
fn take_frames(buffer: &mut Vec<u8>, received: &Received) {
    loop {
        let Some(space) = buffer.iter().position(|b| *b == b' ') else {
            return;
        };
        let length = std::str::from_utf8(&buffer[..space])
            .ok()
            .and_then(|digits| digits.parse::<usize>().ok());
        let Some(length) = length else {
            received.push(format!("MALFORMED: {}", String::from_utf8_lossy(buffer)));
            buffer.clear();
            return;
        };
        if buffer.len() < space + 1 + length {
            return;
        }
        let frame: Vec<u8> = buffer.drain(..space + 1 + length).skip(space + 1).collect();
        received.push(String::from_utf8(frame).unwrap());
    }
}

/// A TCP upstream on `listener`: every connection's frames go to one list.
fn tcp_upstream(listener: TcpListener) -> Received {
    let received = Received::default();
    let sink = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let sink = sink.clone();
            std::thread::spawn(move || {
                let (mut buffer, mut chunk) = (Vec::new(), [0u8; 4096]);
                while let Ok(n @ 1..) = stream.read(&mut chunk) {
                    buffer.extend_from_slice(&chunk[..n]);
                    take_frames(&mut buffer, &sink);
                }
            });
        }
    });
    received
}

/// A UDP upstream: one message per datagram.
fn udp_upstream() -> (SocketAddr, Received) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    let received = Received::default();
    let sink = received.clone();
    std::thread::spawn(move || {
        let mut datagram = [0u8; 65_536];
        while let Ok(n) = socket.recv(&mut datagram) {
            sink.push(String::from_utf8_lossy(&datagram[..n]).into_owned());
        }
    });
    (addr, received)
}

/// A port nothing listens on (yet).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Writes the config (`forwards`: `[[forward]]` tables) and the rules into `dir`; returns the
/// `run` arguments that use them.
fn write_setup(dir: &Path, forwards: &str, rules: &str) -> Vec<String> {
    let config = dir.join("trapline.toml");
    std::fs::write(&config, forwards).unwrap();
    let rules_dir = dir.join("rules");
    std::fs::create_dir_all(&rules_dir).unwrap();
    std::fs::write(rules_dir.join("10-forward.toml"), rules).unwrap();
    vec![
        "--config".into(),
        config.display().to_string(),
        "--rules".into(),
        rules_dir.display().to_string(),
    ]
}

fn start(forwards: &str, rules: &str) -> Instance {
    let (dir, token) = prepare_data_dir();
    let args = write_setup(dir.path(), forwards, rules);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Instance::start_in(dir, token, &args)
}

/// Sends syslog lines to trapline over one TCP connection (newline framing): read in order,
/// queued in order.
fn send_lines(tl: &Instance, lines: &[String]) {
    let mut stream = TcpStream::connect(tl.syslog_tcp).unwrap();
    for line in lines {
        stream.write_all(line.as_bytes()).unwrap();
        stream.write_all(b"\n").unwrap();
    }
    stream.flush().unwrap();
}

/// Waits until `check` holds, with the instance's log on failure.
fn wait_until(tl: &Instance, what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check() {
        assert!(Instant::now() < deadline, "{what}\nlog:\n{}", tl.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn udp_and_tcp_upstreams_get_only_the_selected_events_in_their_formats() {
    let (udp_addr, udp) = udp_upstream();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp_addr = listener.local_addr().unwrap();
    let tcp = tcp_upstream(listener);
    let tl = start(
        &format!(
            "[[forward]]\nname = \"siem-udp\"\naddress = \"{udp_addr}\"\nprotocol = \"udp\"\n\n\
             [[forward]]\nname = \"relay-tcp\"\naddress = \"{tcp_addr}\"\nprotocol = \"tcp\"\nformat = \"rfc3164\"\n"
        ),
        r#"
[[rule]]
name = "web-to-both"
when = 'app == "nginx"'
forward = ["siem-udp", "relay-tcp"]
continue = true

# Debug chatter only the relay wants: relayed, not stored.
[[rule]]
name = "debug-only-to-relay"
when = 'app == "noisy"'
action = "drop"
forward = ["relay-tcp"]
"#,
    );
    let nginx = r#"<134>1 2026-11-23T13:00:02+01:00 web01 nginx 42 ACCESS [req@32473 path="/a\"b\]"] GET /a"b] 200"#;
    send_lines(
        &tl,
        &[
            "<38>1 2026-11-23T12:00:00Z db01 sshd 100 - - Accepted password for bob".into(),
            "<191>1 2026-11-23T12:00:01Z lab07 noisy - - - debug chatter".into(),
            nginx.into(),
        ],
    );
    // The nginx event was sent last: had the sshd one been selected, it would be ahead of it.
    let at_udp = udp.wait(1, &tl);
    assert_eq!(at_udp, [nginx], "RFC 5424, the device's fields as sent");
    let at_tcp = tcp.wait(2, &tl);
    assert_eq!(
        at_tcp,
        [
            "<191>Nov 23 12:00:01 lab07 noisy: debug chatter",
            r#"<134>Nov 23 13:00:02 web01 nginx[42]: GET /a"b] 200"#,
        ],
        "RFC 3164 in octet-counted frames"
    );
    tl.wait_metric("trapline_forward_sent_total", "forward=\"relay-tcp\"", 2.0);
    tl.wait_metric("trapline_forward_sent_total", "forward=\"siem-udp\"", 1.0);
    assert_eq!(
        tl.metric_sum("trapline_forward_up", "forward=\"relay-tcp\""),
        1.0
    );
    assert_eq!(
        tl.metric_sum("trapline_forward_queue_dropped_total", ""),
        0.0
    );
    // Relayed but not stored: the nginx event, sent after it, is stored; the noisy one not.
    tl.wait_events("host=web01", 1);
    assert!(tl.events("host=lab07").is_empty());
    assert_eq!(tl.events("host=db01").len(), 1);
    assert_eq!(
        tl.metric_sum("trapline_rule_drops_total", "rule=\"debug-only-to-relay\""),
        1.0
    );

    // Reloaded rules are checked against the config's forwards too: a misspelt name is refused
    // at its place, and the rules in force stay.
    let added = tl.dir.path().join("rules/20-sshd.toml");
    std::fs::write(
        &added,
        "[[rule]]\nname = \"sshd\"\nwhen = 'app == \"sshd\"'\nforward = [\"siem-udb\"]\n",
    )
    .unwrap();
    tl.wait_metric("trapline_rules_reload_total", "outcome=\"error\"", 1.0);
    assert!(
        tl.log()
            .contains("20-sshd.toml:4:12: unknown forward \"siem-udb\" (the config's [[forward]] names: siem-udp, relay-tcp)"),
        "{}",
        tl.log()
    );
    std::fs::write(
        &added,
        "# sshd logins go to the SIEM too.\n[[rule]]\nname = \"sshd\"\nwhen = 'app == \"sshd\"'\nforward = [\"siem-udp\"]\n",
    )
    .unwrap();
    tl.wait_metric("trapline_rules_reload_total", "outcome=\"success\"", 1.0);
    send_lines(
        &tl,
        &["<38>1 2026-11-23T12:00:05Z db01 sshd 101 - - Accepted password for eve".into()],
    );
    let at_udp = udp.wait(2, &tl);
    assert_eq!(
        at_udp[1],
        "<38>1 2026-11-23T12:00:05Z db01 sshd 101 - - Accepted password for eve"
    );
}

#[test]
fn an_upstream_outage_across_a_restart_loses_nothing_and_keeps_the_order() {
    const N: usize = 40;
    let port = free_port();
    let (dir, token) = prepare_data_dir();
    let args = write_setup(
        dir.path(),
        &format!(
            "[[forward]]\nname = \"siem\"\naddress = \"127.0.0.1:{port}\"\nprotocol = \"tcp\"\nretry_initial = \"100ms\"\nretry_max = \"500ms\"\n"
        ),
        "[[rule]]\nname = \"to-siem\"\nwhen = 'app == \"seq\"'\nforward = [\"siem\"]\ncontinue = true\n",
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let tl = Instance::start_in(dir, token, &args);
    let lines: Vec<String> = (0..N)
        .map(|i| {
            format!(
                "<134>1 2026-11-23T12:00:00Z host{} seq - - - message {i:03}",
                i % 3
            )
        })
        .collect();
    send_lines(&tl, &lines);
    tl.wait_metric("trapline_forward_queue_depth", "forward=\"siem\"", N as f64);
    tl.wait_metric("trapline_forward_errors_total", "forward=\"siem\"", 1.0);
    assert_eq!(
        tl.metric_sum("trapline_forward_queue_depth", "forward=\"siem\""),
        N as f64
    );
    assert_eq!(
        tl.metric_sum("trapline_forward_up", "forward=\"siem\""),
        0.0
    );
    assert_eq!(tl.metric_sum("trapline_forward_sent_total", ""), 0.0);

    // Restarted on the same data directory, the queue is still there.
    let tl = tl.restart_with(&args);
    assert_eq!(
        tl.metric_sum("trapline_forward_queue_depth", "forward=\"siem\""),
        N as f64
    );

    let upstream = tcp_upstream(TcpListener::bind(("127.0.0.1", port)).unwrap());
    let received = upstream.wait(N, &tl);
    assert_eq!(received, lines, "every message once, in order, as sent");
    tl.wait_metric("trapline_forward_sent_total", "forward=\"siem\"", N as f64);
    wait_until(&tl, "the queue did not empty", || {
        tl.metric_sum("trapline_forward_queue_depth", "forward=\"siem\"") == 0.0
    });
    assert_eq!(
        tl.metric_sum("trapline_forward_up", "forward=\"siem\""),
        1.0
    );
    assert_eq!(
        tl.metric_sum("trapline_forward_queue_dropped_total", ""),
        0.0
    );
}

/// A test CA, and certificates it signs.
struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl TestCa {
    fn new() -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        TestCa {
            issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    /// A certificate for `names` with `usage`: (certificate PEM, key PEM).
    fn sign(&self, names: &[&str], usage: ExtendedKeyUsagePurpose) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

/// A TLS upstream (tokio-rustls, ring) that requires a client certificate from `ca`.
fn tls_upstream(ca: &TestCa, server_pem: &(String, String)) -> (SocketAddr, Received) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca.issuer.pem().as_bytes()).unwrap())
        .unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let chain = vec![CertificateDer::from_pem_slice(server_pem.0.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(server_pem.1.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Received::default();
    let sink = received.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            use tokio::io::AsyncReadExt;
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, sink) = (acceptor.clone(), sink.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let certified = tls.get_ref().1.peer_certificates().is_some();
                    sink.client_certificates.lock().unwrap().push(certified);
                    let (mut buffer, mut chunk) = (Vec::new(), [0u8; 4096]);
                    while let Ok(n @ 1..) = tls.read(&mut chunk).await {
                        buffer.extend_from_slice(&chunk[..n]);
                        take_frames(&mut buffer, &sink);
                    }
                });
            }
        });
    });
    (addr, received)
}

fn write_pem(dir: &Path, name: &str, pem: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, pem).unwrap();
    path
}

#[test]
fn tls_upstream_checked_against_a_private_ca_with_a_client_certificate() {
    let ca = TestCa::new();
    let server = ca.sign(&["127.0.0.1"], ExtendedKeyUsagePurpose::ServerAuth);
    let client = ca.sign(
        &["trapline.example.net"],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let (addr, upstream) = tls_upstream(&ca, &server);
    let (dir, token) = prepare_data_dir();
    let pki = dir.path();
    let ca_file = write_pem(pki, "ca.pem", &ca.issuer.pem());
    let cert_file = write_pem(pki, "client.pem", &client.0);
    let key_file = write_pem(pki, "client.key", &client.1);
    let args = write_setup(
        dir.path(),
        &format!(
            "[[forward]]\nname = \"siem\"\naddress = \"{addr}\"\nprotocol = \"tls\"\nca_file = {:?}\nclient_cert = {:?}\nclient_key = {:?}\n",
            ca_file.display().to_string(),
            cert_file.display().to_string(),
            key_file.display().to_string(),
        ),
        "[[rule]]\nname = \"to-siem\"\nwhen = 'severity <= 3'\nforward = [\"siem\"]\ncontinue = true\n",
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let tl = Instance::start_in(dir, token, &args);
    send_lines(
        &tl,
        &[
            "<14>1 2026-11-23T12:00:00Z fw1 kernel - - - informational, not selected".into(),
            "<11>1 2026-11-23T12:00:01Z fw1 kernel - - - link failure on port 3".into(),
        ],
    );
    let received = upstream.wait(1, &tl);
    assert_eq!(
        received,
        ["<11>1 2026-11-23T12:00:01Z fw1 kernel - - - link failure on port 3"]
    );
    assert!(upstream.client_certificates.lock().unwrap()[0]);
    tl.wait_metric("trapline_forward_sent_total", "forward=\"siem\"", 1.0);
    assert_eq!(
        tl.metric_sum("trapline_forward_up", "forward=\"siem\""),
        1.0
    );
}

#[test]
fn check_config_points_at_an_unknown_forward_and_at_unusable_tls_files() {
    let dir = tempfile::tempdir().unwrap();
    let args = write_setup(
        dir.path(),
        &format!(
            "rules = {:?}\n[[forward]]\nname = \"siem\"\naddress = \"127.0.0.1:6514\"\nprotocol = \"tls\"\nca_file = \"/nonexistent/ca.pem\"\n",
            dir.path().join("rules").display().to_string()
        ),
        "[[rule]]\nname = \"x\"\nwhen = 'app == \"a\"'\nforward = [\"siem\", \"seim\"]\n",
    );
    let (code, out, _) = trapline(&["check-config", "--config", &args[1]], None);
    assert_eq!(code, 1);
    assert!(
        out.contains("forward \"siem\": ca_file /nonexistent/ca.pem: No such file"),
        "{out}"
    );
    // check-rules with the same config: the rules alone, names checked against it.
    let rules = dir.path().join("rules");
    let (code, out, _) = trapline(
        &["check-rules", rules.to_str().unwrap(), "--config", &args[1]],
        None,
    );
    assert_eq!(code, 1);
    assert_eq!(
        out.trim(),
        format!(
            "{}:4:20: unknown forward \"seim\" (the config's [[forward]] names: siem)",
            rules.join("10-forward.toml").display()
        )
    );
}
