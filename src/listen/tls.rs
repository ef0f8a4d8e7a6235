//! Syslog over TLS (RFC 5425): the TCP listener of [`super::tcp`] with a TLS handshake before
//! the first read.
//!
//! RFC 5425 §4.3 frames messages with octet counting only; [`super::framing`] detects the
//! framing per frame, so a sender that uses LF framing over TLS (some do) is read as well. The
//! handshake runs on the connection's own task, under the listener's connection limit, within
//! [`HANDSHAKE_TIMEOUT`]; one that fails or times out is counted in
//! `trapline_tls_handshake_failures_total{listener="syslog-tls"}` and logged at debug (a
//! port scanner, a sender without the required client certificate), at most once per interval
//! at warn.
//!
//! The certificate comes from `crate::tls::CertResolver` (so SIGHUP renews it for new
//! connections); client certificates, when `client_ca` is set, are checked by rustls' WebPKI
//! verifier against that bundle. The files are read by `crate::tls`, once, through
//! [`SyslogTlsServer::load`] before the listener binds; the socket side reads none.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus::IntCounter;
use rustls::server::WebPkiClientVerifier;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tracing::{debug, warn};

use super::tcp::{Handshake, StreamKind, bind_stream};
use super::{ListenError, LogLimiter};
use crate::config::{IngestSettings, SyslogTlsSettings};
use crate::event::Transport;
use crate::ingest::Ingest;
use crate::metrics::metrics;
use crate::tls::{CertResolver, TlsError, client_verifier};

/// Syslog over TLS.
const TLS: StreamKind = StreamKind {
    listener: "syslog-tls",
    transport: Transport::Tls,
};
/// A sender that has not finished its handshake by then is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// At most one handshake-failure warning per this interval.
const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// The syslog TLS listener's server side, loaded before anything binds: the certificate
/// (reloadable) and the rustls configuration with the client-certificate policy.
#[derive(Debug, Clone)]
pub struct SyslogTlsServer {
    /// The certificate in use; `reload` it on SIGHUP.
    pub certificate: Arc<CertResolver>,
    config: Arc<rustls::ServerConfig>,
}

impl SyslogTlsServer {
    /// Reads and checks the certificate, key and client CA bundle of `settings`; the errors
    /// name the `[syslog_tls]` key and file at fault.
    pub fn load(settings: &SyslogTlsSettings) -> Result<SyslogTlsServer, TlsError> {
        let certificate = CertResolver::load(&settings.files)?;
        let client_auth = match &settings.client_ca {
            Some(ca) => client_verifier("syslog_tls.client_ca", ca, settings.require_client_cert)?,
            None => WebPkiClientVerifier::no_client_auth(),
        };
        let config = Arc::new(certificate.server_config(client_auth));
        Ok(SyslogTlsServer {
            certificate,
            config,
        })
    }
}

/// Binds the syslog TLS listener on `addr`; the same contract as
/// [`bind_tcp_syslog`](super::bind_tcp_syslog).
pub async fn bind_tls_syslog(
    addr: SocketAddr,
    server: &SyslogTlsServer,
    settings: &IngestSettings,
    ingest: Arc<Ingest>,
    shutdown: watch::Receiver<bool>,
) -> Result<(SocketAddr, JoinHandle<()>), ListenError> {
    let handshake = TlsHandshake {
        acceptor: TlsAcceptor::from(server.config.clone()),
        failures: metrics()
            .tls_handshake_failures
            .with_label_values(&[TLS.listener]),
        failure_log: Mutex::new(LogLimiter::new(LOG_INTERVAL)),
    };
    bind_stream(addr, TLS, handshake, settings, ingest, shutdown).await
}

/// The server side of a TLS handshake, bounded in time.
struct TlsHandshake {
    acceptor: TlsAcceptor,
    failures: IntCounter,
    failure_log: Mutex<LogLimiter>,
}

impl TlsHandshake {
    /// Counts a failed handshake; logs it at debug, and at warn at most once per interval so
    /// that an operator sees that senders are being refused without a sender flooding the log.
    fn failed(&self, peer: SocketAddr, error: &dyn std::fmt::Display) {
        self.failures.inc();
        debug!(%peer, %error, listener = TLS.listener, "TLS handshake failed.");
        let allowed = self
            .failure_log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .allow();
        if let Some(suppressed) = allowed {
            warn!(%peer, %error, suppressed, listener = TLS.listener, "TLS handshake failed; closed the connection.");
        }
    }
}

impl Handshake for TlsHandshake {
    type Stream = TlsStream<TcpStream>;

    async fn handshake(&self, stream: TcpStream, peer: SocketAddr) -> Option<Self::Stream> {
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, self.acceptor.accept(stream)).await {
            Ok(Ok(tls)) => Some(tls),
            Ok(Err(error)) => {
                self.failed(peer, &error);
                None
            }
            Err(_) => {
                self.failed(peer, &"timed out");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::path::Path;
    use std::time::Duration;

    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};

    use super::*;
    use crate::config::{TlsFiles, TlsKeys};
    use crate::ingest::IngestReceiver;
    use crate::listen::testutil::{collect, ingest_settings, test_ingest};

    /// A CA for the test, and what it signs.
    struct Ca {
        issuer: CertifiedIssuer<'static, KeyPair>,
    }

    /// A certificate signed by a [`Ca`], with its key, as PEM and as rustls wants them.
    struct Identity {
        cert_pem: String,
        key_pem: String,
        cert: CertificateDer<'static>,
        key: PrivateKeyDer<'static>,
    }

    impl Ca {
        fn new() -> Ca {
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            Ca {
                issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap(),
            }
        }

        /// A certificate for `name`.
        fn sign(&self, name: &str) -> Identity {
            let key = KeyPair::generate().unwrap();
            let cert = CertificateParams::new(vec![name.to_string()])
                .unwrap()
                .signed_by(&key, &self.issuer)
                .unwrap();
            Identity {
                cert_pem: cert.pem(),
                key_pem: key.serialize_pem(),
                cert: cert.der().clone(),
                key: PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
            }
        }

        fn write(&self, dir: &Path) -> std::path::PathBuf {
            let path = dir.join("ca.pem");
            std::fs::write(&path, self.issuer.pem()).unwrap();
            path
        }
    }

    struct Running {
        addr: SocketAddr,
        task: JoinHandle<()>,
        stop: watch::Sender<bool>,
        rx: IngestReceiver,
        server_ca: Ca,
        _dir: tempfile::TempDir,
    }

    /// A listener with a certificate for `localhost` from a fresh CA; with `client_ca`, client
    /// certificates are checked against it (and required if `required`).
    async fn start(client_ca: Option<&Ca>, required: bool) -> Running {
        let dir = tempfile::tempdir().unwrap();
        let server_ca = Ca::new();
        let identity = server_ca.sign("localhost");
        let files = TlsFiles {
            cert: dir.path().join("server.crt"),
            key: dir.path().join("server.key"),
            keys: TlsKeys::SYSLOG,
        };
        std::fs::write(&files.cert, &identity.cert_pem).unwrap();
        std::fs::write(&files.key, &identity.key_pem).unwrap();
        let settings = SyslogTlsSettings {
            addr: "127.0.0.1:0".parse().unwrap(),
            files,
            client_ca: client_ca.map(|ca| ca.write(dir.path())),
            require_client_cert: required,
        };
        let server = SyslogTlsServer::load(&settings).unwrap();
        let (ingest, rx) = test_ingest(100);
        let (stop, shutdown) = watch::channel(false);
        let (addr, task) = bind_tls_syslog(
            settings.addr,
            &server,
            &ingest_settings(1024),
            ingest,
            shutdown,
        )
        .await
        .unwrap();
        Running {
            addr,
            task,
            stop,
            rx,
            server_ca,
            _dir: dir,
        }
    }

    /// A blocking rustls client trusting `ca`, showing `identity` if given: sends `bytes`,
    /// closes (close_notify) and reads until the server closes too. An error means the server
    /// refused the connection (a TLS alert, a reset); a close without close_notify is normal
    /// (the listener only reads).
    fn send(
        addr: SocketAddr,
        ca: &Ca,
        identity: Option<Identity>,
        bytes: &[u8],
    ) -> std::io::Result<()> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.issuer.der().clone()).unwrap();
        let builder = rustls::ClientConfig::builder_with_provider(crate::tls::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let config = match identity {
            Some(identity) => builder
                .with_client_auth_cert(vec![identity.cert], identity.key)
                .unwrap(),
            None => builder.with_no_client_auth(),
        };
        let connection = rustls::ClientConnection::new(
            Arc::new(config),
            ServerName::try_from("localhost").unwrap(),
        )
        .unwrap();
        let socket = std::net::TcpStream::connect(addr).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut tls = rustls::StreamOwned::new(connection, socket);
        tls.write_all(bytes)?;
        tls.flush()?;
        tls.conn.send_close_notify();
        tls.flush()?;
        let mut rest = Vec::new();
        match tls.read_to_end(&mut rest) {
            Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => Ok(()),
            read => read.map(drop),
        }
    }

    /// Waits until `counter` has grown by `by` since `before` (another task counts it).
    async fn wait_counted(counter: &IntCounter, before: u64, by: u64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while counter.get() < before + by {
            assert!(
                tokio::time::Instant::now() < deadline,
                "counted {} of {by}",
                counter.get() - before
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Receives exactly `n` events without blocking the runtime.
    async fn events(rx: IngestReceiver, n: usize) -> (IngestReceiver, Vec<crate::event::Event>) {
        tokio::task::spawn_blocking(move || {
            let mut rx = rx;
            let events = collect(&mut rx, n, Duration::from_secs(30));
            (rx, events)
        })
        .await
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn frames_over_tls_become_tls_events() {
        let server = start(None, false).await;
        let addr = server.addr;
        let ca = server.server_ca;
        let sent = tokio::task::spawn_blocking(move || {
            // Octet counting (RFC 5425 §4.3), then an LF frame, then one cut by the close.
            send(
                addr,
                &ca,
                None,
                b"18 <13>first over tls<14>second\n<15>third",
            )
        });
        let (_rx, events) = events(server.rx, 3).await;
        sent.await.unwrap().unwrap();
        let messages: Vec<&str> = events.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(messages, ["first over tls", "second", "third"]);
        assert!(events.iter().all(|e| e.transport == Transport::Tls));
        assert!(events.iter().all(|e| e.source.ip().is_loopback()));
        server.stop.send(true).unwrap();
        server.task.await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_required_client_certificate_must_be_signed_by_the_client_ca() {
        let failures = metrics()
            .tls_handshake_failures
            .with_label_values(&["syslog-tls"]);
        let clients = Ca::new();
        let server = start(Some(&clients), true).await;
        let (addr, server_ca) = (server.addr, server.server_ca);

        let before = failures.get();
        let outcomes = tokio::task::spawn_blocking(move || {
            let anonymous = send(addr, &server_ca, None, b"<13>anonymous\n");
            let strangers = Ca::new();
            let stranger = send(
                addr,
                &server_ca,
                Some(strangers.sign("stranger")),
                b"<13>stranger\n",
            );
            let member = send(
                addr,
                &server_ca,
                Some(clients.sign("member")),
                b"<13>member\n",
            );
            (anonymous, stranger, member)
        })
        .await
        .unwrap();
        assert!(outcomes.0.is_err(), "anonymous: {:?}", outcomes.0);
        assert!(outcomes.1.is_err(), "stranger: {:?}", outcomes.1);
        assert!(outcomes.2.is_ok(), "member: {:?}", outcomes.2);
        wait_counted(&failures, before, 2).await;
        // Only the member's message arrives: the refused handshakes never reached framing.
        let (mut rx, events) = events(server.rx, 1).await;
        assert_eq!(events[0].message, "member");
        server.stop.send(true).unwrap();
        server.task.await.unwrap();
        assert!(rx.try_recv().is_none(), "nothing else was queued");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn optional_client_certificates_let_anonymous_senders_in() {
        let clients = Ca::new();
        let server = start(Some(&clients), false).await;
        let (addr, server_ca) = (server.addr, server.server_ca);
        let outcome =
            tokio::task::spawn_blocking(move || send(addr, &server_ca, None, b"<13>anonymous\n"))
                .await
                .unwrap();
        assert!(outcome.is_ok(), "{outcome:?}");
        let (_rx, events) = events(server.rx, 1).await;
        assert_eq!(events[0].message, "anonymous");
        server.stop.send(true).unwrap();
        server.task.await.unwrap();
    }

    #[tokio::test]
    async fn plain_text_to_the_tls_port_is_a_counted_handshake_failure() {
        let failures = metrics()
            .tls_handshake_failures
            .with_label_values(&["syslog-tls"]);
        let before = failures.get();
        let server = start(None, false).await;
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        stream.write_all(b"<13>not tls at all\n").await.unwrap();
        let mut rest = Vec::new();
        // The server answers with an alert (or nothing) and closes.
        let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest))
            .await
            .unwrap();
        wait_counted(&failures, before, 1).await;
        server.stop.send(true).unwrap();
        server.task.await.unwrap();
        let mut rx = server.rx;
        assert!(rx.try_recv().is_none());
    }
}
