//! Syslog over TLS (RFC 5425) through the real binary: client certificates checked against
//! `[syslog_tls] client_ca` with a rustls client (none, one from another CA, one from the right
//! CA), the handshake failures counted, the certificate renewed on SIGHUP, and the config
//! checks of `check-config` and `run`. Real forwarders (rsyslog) are in `forwarders.rs`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::harness::{Instance, prepare_data_dir, trapline};
use crate::tls::TestCa;

/// A config file with `[syslog_tls]`: the server pair, and `extra` lines.
pub(crate) fn write_syslog_tls_config(dir: &Path, cert: &Path, key: &Path, extra: &str) -> PathBuf {
    let path = dir.join("trapline.toml");
    std::fs::write(
        &path,
        format!(
            "[syslog_tls]\ncert = {:?}\nkey = {:?}\n{extra}",
            cert.display().to_string(),
            key.display().to_string()
        ),
    )
    .unwrap();
    path
}

/// Starts an instance with the syslog TLS listener on loopback port 0 and `config`.
pub(crate) fn start_with_syslog_tls(
    dir: tempfile::TempDir,
    token: String,
    config: &Path,
) -> (Instance, SocketAddr) {
    let mut instance = Instance::start_in(
        dir,
        token,
        &[
            "--config",
            config.to_str().unwrap(),
            "--syslog-tls",
            "127.0.0.1:0",
        ],
    );
    let addr = instance.wait_for_listener("syslog-tls");
    (instance, addr)
}

/// What a TLS client saw: the server's leaf certificate (DER).
type ServerLeaf = Vec<u8>;

/// Sends `bytes` over TLS to `addr` as a client that trusts `ca` and shows the certificate
/// and key at `identity`, if any; closes with close_notify and reads until the server closes.
/// An error means the server refused the client (an alert or a reset); a close without
/// close_notify is how the listener ends a connection, not an error.
fn send_tls(
    addr: SocketAddr,
    ca: &TestCa,
    identity: Option<(&Path, &Path)>,
    bytes: &[u8],
) -> std::io::Result<ServerLeaf> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(ca.der())).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let config = match identity {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_file(cert).unwrap()],
                PrivateKeyDer::from_pem_file(key).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let connection =
        rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("localhost").unwrap())
            .unwrap();
    let socket = TcpStream::connect(addr)?;
    socket.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut tls = rustls::StreamOwned::new(connection, socket);
    tls.write_all(bytes)?;
    tls.flush()?;
    let leaf = tls.conn.peer_certificates().expect("handshake done")[0].to_vec();
    tls.conn.send_close_notify();
    tls.flush()?;
    let mut rest = Vec::new();
    match tls.read_to_end(&mut rest) {
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => Ok(leaf),
        read => read.map(|_| leaf),
    }
}

#[test]
fn a_required_client_certificate_is_checked_against_the_client_ca() {
    let (dir, token) = prepare_data_dir();
    let server_ca = TestCa::new();
    let (first_leaf, cert, key) = server_ca.write_server_pair(dir.path());
    let senders = TestCa::new();
    let client_ca = senders.write_root(dir.path(), "senders-ca.pem");
    let member = senders.write_pair(dir.path(), "member", &["fw-edge-1"]);
    let stranger = TestCa::new().write_pair(dir.path(), "stranger", &["fw-edge-1"]);
    let config = write_syslog_tls_config(
        dir.path(),
        &cert,
        &key,
        &format!(
            "client_ca = {:?}\nrequire_client_cert = true\n",
            client_ca.display().to_string()
        ),
    );
    let (tl, addr) = start_with_syslog_tls(dir, token, &config);
    let failures = |tl: &Instance| {
        tl.metric_sum(
            "trapline_tls_handshake_failures_total",
            "listener=\"syslog-tls\"",
        )
    };
    assert_eq!(failures(&tl), 0.0);

    // No certificate, and one from another CA: refused at the handshake, and counted.
    let anonymous = send_tls(
        addr,
        &server_ca,
        None,
        b"<134>1 2026-11-23T10:00:00Z fw-edge-1 sshd 99 - - anonymous tls-auth-probe\n",
    );
    assert!(anonymous.is_err(), "anonymous client accepted");
    let foreign = send_tls(
        addr,
        &server_ca,
        Some((&stranger.0, &stranger.1)),
        b"<134>1 2026-11-23T10:00:00Z fw-edge-1 sshd 99 - - stranger tls-auth-probe\n",
    );
    assert!(foreign.is_err(), "client of another CA accepted");
    tl.wait_metric(
        "trapline_tls_handshake_failures_total",
        "listener=\"syslog-tls\"",
        2.0,
    );

    // A certificate of the client CA gets through; octet counting as RFC 5425 frames it.
    let message = "<134>1 2026-11-23T10:00:00Z fw-edge-1 sshd 99 - - member tls-auth-probe";
    let leaf = send_tls(
        addr,
        &server_ca,
        Some((&member.0, &member.1)),
        format!("{} {message}", message.len()).as_bytes(),
    )
    .expect("a client certificate of the client CA is accepted");
    assert_eq!(leaf, first_leaf);
    let events = tl.wait_events("q=tls-auth-probe", 1);
    assert_eq!(events.len(), 1, "only the member's message: {events:#?}");
    let event = &events[0];
    assert_eq!(event["message"], "member tls-auth-probe", "{event}");
    assert_eq!(event["transport"], "tls", "{event}");
    assert_eq!(event["host"], "fw-edge-1", "{event}");
    assert_eq!(event["app"], "sshd", "{event}");
    assert!(
        event["source"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{event}"
    );
    assert_eq!(failures(&tl), 2.0);
    assert!(
        tl.metric_sum(
            "trapline_datagrams_received_total",
            "listener=\"syslog-tls\""
        ) >= 1.0
    );

    // SIGHUP renews the certificate for new connections.
    let (renewed, _, _) = server_ca.write_server_pair(tl.dir.path());
    unsafe {
        libc::kill(tl.child.as_ref().unwrap().id() as i32, libc::SIGHUP);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while !tl
        .log()
        .contains("Reloaded the syslog TLS listener's TLS certificate.")
    {
        assert!(Instant::now() < deadline, "no reload:\n{}", tl.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    let leaf = send_tls(
        addr,
        &server_ca,
        Some((&member.0, &member.1)),
        b"<134>1 2026-11-23T10:00:01Z fw-edge-1 sshd 99 - - after renewal tls-auth-probe\n",
    )
    .unwrap();
    assert_eq!(leaf, renewed);
    tl.wait_events("q=tls-auth-probe", 2);
}

#[test]
fn syslog_tls_config_errors_are_reported_by_check_config_and_run() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let (_, cert, key) = ca.write_server_pair(dir.path());
    let check = |text: &str| {
        let path = dir.path().join("check.toml");
        std::fs::write(&path, text).unwrap();
        let (code, out, _) = trapline(&["check-config", "--config", path.to_str().unwrap()], None);
        (code, out.trim().to_string())
    };
    let table = |cert: &Path, key: &Path, extra: &str| {
        format!(
            "[listen]\nsyslog_tls = \"127.0.0.1:6514\"\n[syslog_tls]\ncert = {:?}\nkey = {:?}\n{extra}",
            cert.display().to_string(),
            key.display().to_string()
        )
    };
    let client_ca = ca.write_root(dir.path(), "clients.pem");
    let ca_line = format!("client_ca = {:?}\n", client_ca.display().to_string());

    assert_eq!(check(&table(&cert, &key, "")), (0, "ok".into()));
    assert_eq!(
        check(&table(
            &cert,
            &key,
            &format!("{ca_line}require_client_cert = true\n")
        )),
        (0, "ok".into())
    );

    let (code, out) = check("[listen]\nsyslog_tls = \"127.0.0.1:6514\"\n");
    assert_eq!(code, 1);
    assert!(
        out.contains("listen.syslog_tls is set but [syslog_tls] has no cert and key"),
        "{out}"
    );
    let (code, out) = check(&table(&cert, &key, "require_client_cert = true\n"));
    assert_eq!(code, 1);
    assert!(out.contains("needs syslog_tls.client_ca"), "{out}");
    let (code, out) = check(&table(&cert, &dir.path().join("gone.key"), ""));
    assert_eq!(code, 1);
    assert!(
        out.starts_with("syslog_tls.key ") && out.contains("gone.key"),
        "{out}"
    );
    let (code, out) = check(&table(&cert, &key, "client_ca = \"/nonexistent/ca.pem\"\n"));
    assert_eq!(code, 1);
    assert!(
        out.starts_with("syslog_tls.client_ca /nonexistent/ca.pem"),
        "{out}"
    );
    let other_key = ca.write_pair(dir.path(), "other", &["localhost"]).1;
    let (code, out) = check(&table(&cert, &other_key, ""));
    assert_eq!(code, 1);
    assert!(out.contains("does not belong to syslog_tls.cert"), "{out}");

    // `run` refuses to start with the same message, before it opens anything.
    let config = write_syslog_tls_config(dir.path(), &cert, &other_key, "");
    let data = dir.path().join("data");
    let (code, _, err) = trapline(
        &[
            "run",
            "--config",
            config.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--syslog-tls",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--syslog-udp",
            "127.0.0.1:0",
            "--syslog-tcp",
            "127.0.0.1:0",
            "--trap-udp",
            "127.0.0.1:0",
        ],
        None,
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("does not belong to syslog_tls.cert"), "{err}");
    assert!(!data.exists(), "nothing was created");
}
