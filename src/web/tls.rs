//! HTTPS on the web port: the certificate and key from `[http] tls_cert`/`tls_key` (read,
//! checked and reloaded on SIGHUP by [`crate::tls::CertResolver`]) and an axum [`Listener`]
//! that does the handshakes.
//!
//! [`TlsListener`] accepts TCP connections on one task and runs each handshake on its own
//! (bounded in number and time; failures counted in `trapline_tls_handshake_failures_total`),
//! so a slow or silent client never holds up the others; finished handshakes go to `axum::serve`, which then treats them like plain
//! connections (same router, same graceful shutdown). HTTP/1.1 only: ALPN offers `http/1.1`.
//!
//! This module knows TLS, not routes or cookies: `super::serve_tls` wires it to the router and
//! `AppState::with_secure_cookies` marks the cookies `Secure`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::Listener;
use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::tls::CertResolver;

/// The web port's rustls configuration: the certificate of `resolver`, no client
/// certificates, ALPN `http/1.1`.
pub fn https_config(resolver: &Arc<CertResolver>) -> Arc<ServerConfig> {
    let mut config = resolver.server_config(WebPkiClientVerifier::no_client_auth());
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
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
            handshake_failures().inc();
            tracing::debug!(%peer, %error, "TLS handshake failed.");
            None
        }
        Err(_) => {
            handshake_failures().inc();
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

/// `trapline_tls_handshake_failures_total{listener="http"}`.
fn handshake_failures() -> prometheus::IntCounter {
    crate::metrics::metrics()
        .tls_handshake_failures
        .with_label_values(&["http"])
}
