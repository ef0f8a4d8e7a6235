//! HTTPS on the web port: the certificate and key from `[http] tls_cert`/`tls_key`, rustls
//! with the ring provider, and an axum [`Listener`] that does the handshakes.
//!
//! [`CertResolver`] reads the PEM files and checks that the key belongs to the certificate, at
//! start-up (`trapline run` refuses to start, `check-config` reports it) and again on SIGHUP,
//! so a renewed certificate is picked up without a restart; a reload that fails keeps the
//! certificate in use. [`TlsListener`] accepts TCP connections on one task and runs each
//! handshake on its own (bounded in number and time), so a slow or silent client never holds
//! up the others; finished handshakes go to `axum::serve`, which then treats them like plain
//! connections (same router, same graceful shutdown). HTTP/1.1 only: ALPN offers `http/1.1`.
//!
//! This module knows TLS, not routes or cookies: `super::serve_tls` wires it to the router and
//! `AppState::with_secure_cookies` marks the cookies `Secure`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::serve::Listener;
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::config::TlsFiles;

/// Why the web port's certificate or key cannot be used. Each names the config key and the
/// file, as config errors do.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("http.{key} {path}: {source}")]
    Read {
        key: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error(
        "http.tls_cert {path}: no certificate in the file (expected PEM \"-----BEGIN CERTIFICATE-----\")"
    )]
    NoCertificate { path: String },
    #[error("http.tls_cert {path}: {detail}")]
    BadCertificate { path: String, detail: String },
    #[error(
        "http.tls_key {path}: no usable private key (expected PEM \"-----BEGIN PRIVATE KEY-----\", RSA or EC): {detail}"
    )]
    BadKey { path: String, detail: String },
    #[error("http.tls_key {key} does not belong to http.tls_cert {cert}: {detail}")]
    Mismatch {
        cert: String,
        key: String,
        detail: String,
    },
}

/// The crypto provider of every TLS object here: ring (aws-lc-rs, rustls' default, needs
/// cmake and nasm to build).
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificate chain of a PEM file, leaf first.
fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| TlsError::Read {
        key: "tls_cert",
        path: shown.clone(),
        source,
    })?;
    let chain = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| TlsError::BadCertificate {
            path: shown.clone(),
            detail: error.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate { path: shown });
    }
    Ok(chain)
}

/// The first private key of a PEM file.
fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| TlsError::Read {
        key: "tls_key",
        path: shown.clone(),
        source,
    })?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|error| TlsError::BadKey {
        path: shown,
        detail: error.to_string(),
    })
}

/// Reads and checks the files: the chain parses, the key loads, and the key is the leaf's.
pub fn load_certified_key(files: &TlsFiles) -> Result<CertifiedKey, TlsError> {
    let chain = read_chain(&files.cert)?;
    let key = read_key(&files.key)?;
    let signing_key = provider()
        .key_provider
        .load_private_key(key)
        .map_err(|error| TlsError::BadKey {
            path: files.key.display().to_string(),
            detail: error.to_string(),
        })?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        // ring can always tell; "unknown" would only come from a provider that cannot.
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
            Ok(certified)
        }
        Err(error) => Err(TlsError::Mismatch {
            cert: files.cert.display().to_string(),
            key: files.key.display().to_string(),
            detail: error.to_string(),
        }),
    }
}

/// The server's certificate, swappable at run time (SIGHUP) without touching open connections.
#[derive(Debug)]
pub struct CertResolver {
    files: TlsFiles,
    current: RwLock<Arc<CertifiedKey>>,
}

impl CertResolver {
    /// Loads the files; fails as [`load_certified_key`] does.
    pub fn load(files: &TlsFiles) -> Result<Arc<CertResolver>, TlsError> {
        let key = load_certified_key(files)?;
        Ok(Arc::new(CertResolver {
            files: files.clone(),
            current: RwLock::new(Arc::new(key)),
        }))
    }

    /// Reads the files again; new handshakes use the new certificate. On error the one in use
    /// stays (an operator's typo must not take the console down).
    pub fn reload(&self) -> Result<(), TlsError> {
        let key = Arc::new(load_certified_key(&self.files)?);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = key;
        Ok(())
    }

    /// The rustls configuration: TLS 1.2 and 1.3, no client certificates, ALPN `http/1.1`.
    pub fn server_config(self: &Arc<Self>) -> Arc<ServerConfig> {
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default TLS versions")
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

/// Handshakes in progress at most; more connections wait in the kernel's accept queue.
const MAX_HANDSHAKES: usize = 256;
/// A client that has not finished its handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A TLS connection ready for HTTP, and its peer.
type Accepted = (TlsStream<TcpStream>, SocketAddr);

/// An axum [`Listener`] that yields connections whose TLS handshake succeeded.
pub struct TlsListener {
    local_addr: SocketAddr,
    ready: mpsc::Receiver<Accepted>,
    acceptor: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Starts accepting on `tcp` with `config`.
    pub fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> std::io::Result<TlsListener> {
        let local_addr = tcp.local_addr()?;
        let (sender, ready) = mpsc::channel(64);
        let acceptor = tokio::spawn(accept_loop(tcp, TlsAcceptor::from(config), sender));
        Ok(TlsListener {
            local_addr,
            ready,
            acceptor,
        })
    }
}

impl Drop for TlsListener {
    /// axum drops the listener when it stops accepting (graceful shutdown): stop the TCP side.
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accept loop only ends when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}

/// Accepts TCP connections and hands each to its own handshake task.
async fn accept_loop(tcp: TcpListener, acceptor: TlsAcceptor, ready: mpsc::Sender<Accepted>) {
    let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok(permit) = handshakes.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match tcp.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                accept_error(error).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let ready = ready.clone();
        tokio::spawn(async move {
            let _permit = permit;
            if let Some(tls) = handshake(&acceptor, stream, peer).await {
                let _ = ready.send((tls, peer)).await;
            }
        });
    }
}

/// One handshake, bounded in time; failures are the client's business (a browser that does
/// not trust the certificate, plain HTTP to the HTTPS port) and logged at debug only.
async fn handshake(
    acceptor: &TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
) -> Option<TlsStream<TcpStream>> {
    // Responses are written in a few small TLS records: do not let Nagle hold them back.
    let _ = stream.set_nodelay(true);
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some(tls),
        Ok(Err(error)) => {
            tracing::debug!(%peer, %error, "TLS handshake failed.");
            None
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out.");
            None
        }
    }
}

/// As axum does for plain TCP: per-connection errors are the peer's; others (out of file
/// descriptors) are logged and waited out.
async fn accept_error(error: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "Accepting an HTTPS connection failed; retrying in 1 s.");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate and its key as PEM files in `dir`.
    fn write_pair(dir: &Path, name: &str) -> TlsFiles {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let files = TlsFiles {
            cert: dir.join(format!("{name}.crt")),
            key: dir.join(format!("{name}.key")),
        };
        std::fs::write(&files.cert, cert.cert.pem()).unwrap();
        std::fs::write(&files.key, cert.signing_key.serialize_pem()).unwrap();
        files
    }

    #[test]
    fn loads_a_pair_and_names_the_key_and_file_of_each_problem() {
        let dir = tempfile::tempdir().unwrap();
        let good = write_pair(dir.path(), "a");
        assert!(load_certified_key(&good).is_ok());

        let missing = TlsFiles {
            cert: dir.path().join("nope.crt"),
            ..good.clone()
        };
        let err = load_certified_key(&missing).unwrap_err().to_string();
        assert!(err.starts_with("http.tls_cert "), "{err}");
        assert!(
            err.contains("nope.crt") && err.contains("No such file"),
            "{err}"
        );

        let not_pem = dir.path().join("junk.crt");
        std::fs::write(&not_pem, "hello\n").unwrap();
        let err = load_certified_key(&TlsFiles {
            cert: not_pem,
            ..good.clone()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("no certificate in the file"), "{err}");

        let err = load_certified_key(&TlsFiles {
            key: good.cert.clone(),
            ..good.clone()
        })
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("http.tls_key "), "{err}");

        let other = write_pair(dir.path(), "b");
        let err = load_certified_key(&TlsFiles {
            key: other.key,
            ..good
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("does not belong to"), "{err}");
    }

    #[test]
    fn reload_swaps_the_certificate_and_keeps_it_on_error() {
        let dir = tempfile::tempdir().unwrap();
        let files = write_pair(dir.path(), "a");
        let resolver = CertResolver::load(&files).unwrap();
        let leaf = |r: &CertResolver| r.current.read().unwrap().cert[0].clone();
        let before = leaf(&resolver);
        write_pair(dir.path(), "a");
        resolver.reload().unwrap();
        let renewed = leaf(&resolver);
        assert_ne!(before, renewed);
        std::fs::write(&files.key, "broken").unwrap();
        assert!(resolver.reload().is_err());
        assert_eq!(leaf(&resolver), renewed);
    }
}
