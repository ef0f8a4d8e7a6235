//! One upstream's sender task: connect, send the queue in order, remove what was delivered,
//! reconnect with capped exponential backoff (`retry_initial` doubling up to `retry_max`).
//!
//! TCP and TLS frames use octet counting (`LEN SP MSG`, RFC 6587 §3.4.1, RFC 5425 §4.3).
//! Sent messages stay in the queue, "in flight", until the upstream's TCP stack has
//! acknowledged their last byte: the bytes written to the socket (counted under TLS, so they
//! include records and handshakes) minus the socket's unacknowledged bytes (`SIOCOUTQ`) say
//! how far the peer got. A connection that breaks, goes silent (nothing acknowledged within
//! `ACK_TIMEOUT`) or is closed by the upstream is replaced, and the next one starts again from
//! the head of the queue. UDP messages leave the queue once `send` returned (a refused port
//! — ICMP — fails the next send, which keeps its message).
//!
//! The queue's sled calls run on the blocking pool; the task only waits on sockets, timers,
//! the writer's wake-up and the stop signal.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::watch;
use tracing::{debug, info, warn};

use super::Upstream;
use super::tls::TlsClient;
use crate::config::ForwardProtocol;
use crate::store::StoreError;

/// Longest wait for name resolution, a TCP connection or a TLS handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for one batch to be written (a stalled upstream blocks the socket).
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// A connection whose oldest in-flight message is not acknowledged by then is replaced.
const ACK_TIMEOUT: Duration = Duration::from_secs(60);
/// How often acknowledgements are looked at while messages are in flight and nothing new
/// comes.
const ACK_POLL: Duration = Duration::from_millis(10);
/// An idle sender looks at its queue (and refreshes its gauge) at least this often.
const IDLE_CHECK: Duration = Duration::from_secs(1);
/// One read of the queue: at most this many messages and about this many bytes.
const BATCH_MESSAGES: usize = 512;
const BATCH_BYTES: usize = 256 * 1024;
/// Unacknowledged bytes on a connection before the sender waits for the upstream.
const MAX_IN_FLIGHT_BYTES: u64 = 4 << 20;
/// On a graceful stop, how long to wait for the acknowledgement of what is in flight (what
/// is not acknowledged by then is sent again after the restart).
const STOP_DRAIN: Duration = Duration::from_secs(2);

/// Why a connection attempt or a connection failed (logged, counted in
/// `trapline_forward_errors_total`).
#[derive(Debug, thiserror::Error)]
enum LinkError {
    #[error("cannot resolve {0}: {1}")]
    Resolve(String, io::Error),
    #[error("{0} resolves to no address")]
    NoAddress(String),
    #[error("cannot connect to {0}: {1}")]
    Connect(SocketAddr, io::Error),
    #[error("TLS handshake with {0}: {1}")]
    Handshake(SocketAddr, io::Error),
    #[error("{0} timed out")]
    Timeout(&'static str),
    #[error("send failed: {0}")]
    Send(io::Error),
    #[error("the upstream closed the connection")]
    Closed,
    #[error("the upstream acknowledged nothing for {0:?}")]
    Stalled(Duration),
    #[error("queue: {0}")]
    Queue(#[from] StoreError),
    #[error("queue access failed: {0}")]
    Blocking(String),
}

/// Runs until `stop` says true (or its sender is gone).
pub(super) async fn run(
    upstream: Upstream,
    tls: Option<TlsClient>,
    mut stop: watch::Receiver<bool>,
) {
    let settings = upstream.settings.clone();
    let name = settings.name.as_str();
    let mut delay = settings.retry_initial;
    let mut failing = false;
    loop {
        let link = tokio::select! {
            link = connect(&upstream, tls.as_ref()) => link,
            _ = stopped(&mut stop) => return,
        };
        let outcome = match link {
            Ok(link) => {
                upstream.metrics.up.set(1);
                info!(forward = name, peer = %link.peer, "Connected to the upstream.");
                failing = false;
                delay = settings.retry_initial;
                let outcome = match link.kind {
                    LinkKind::Datagram(socket) => {
                        send_datagrams(&upstream, socket, &mut stop).await
                    }
                    LinkKind::Stream(stream) => send_stream(&upstream, stream, &mut stop).await,
                };
                upstream.metrics.up.set(0);
                outcome
            }
            Err(error) => Err(error),
        };
        let Err(error) = outcome else {
            return; // stopped
        };
        upstream.metrics.errors.inc();
        if failing {
            debug!(forward = name, %error, retry_in = ?delay, "Upstream still unavailable.");
        } else {
            warn!(forward = name, %error, retry_in = ?delay, queued = upstream.queue.len(), "Upstream unavailable; messages stay queued.");
        }
        failing = true;
        refresh_depth(&upstream);
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stopped(&mut stop) => return,
        }
        delay = (delay * 2).min(settings.retry_max);
    }
}

/// Resolves when the stop signal is true or its sender is gone.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// True once stopping was asked for, or the service is gone without asking.
fn is_stopping(stop: &watch::Receiver<bool>) -> bool {
    *stop.borrow() || stop.has_changed().is_err()
}

fn refresh_depth(upstream: &Upstream) {
    upstream
        .metrics
        .queue_depth
        .set(i64::try_from(upstream.queue.len()).unwrap_or(i64::MAX));
}

/// A connection to the upstream.
struct Link {
    peer: SocketAddr,
    kind: LinkKind,
}

enum LinkKind {
    Datagram(UdpSocket),
    Stream(StreamLink),
}

/// A TCP or TLS connection, with what it takes to tell what the peer acknowledged.
struct StreamLink {
    stream: Box<dyn ByteStream>,
    /// Bytes written to the TCP socket (under TLS: records, handshakes included).
    written: Arc<AtomicU64>,
    /// The TCP socket, owned by `stream` (alive as long as it is).
    fd: RawFd,
}

trait ByteStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> ByteStream for T {}

impl StreamLink {
    /// How many of the bytes written the peer's TCP has acknowledged.
    fn acknowledged(&self) -> io::Result<u64> {
        let pending = unacknowledged_bytes(self.fd)?;
        Ok(self.written.load(Ordering::Acquire).saturating_sub(pending))
    }
}

/// The bytes of a TCP socket's send queue the peer has not acknowledged (sent or not yet):
/// Linux's SIOCOUTQ.
fn unacknowledged_bytes(fd: RawFd) -> io::Result<u64> {
    let mut pending: libc::c_int = 0;
    // SAFETY: SIOCOUTQ (= TIOCOUTQ) on a TCP socket writes one int; the caller owns `fd`.
    let rc = unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut pending) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(u64::try_from(pending).unwrap_or(0))
}

/// A TCP stream that counts the bytes the kernel accepted.
struct Counted {
    inner: TcpStream,
    written: Arc<AtomicU64>,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &polled {
            self.written.fetch_add(*n as u64, Ordering::AcqRel);
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Resolves the address (again at every attempt: DNS may move the upstream) and connects.
async fn connect(upstream: &Upstream, tls: Option<&TlsClient>) -> Result<Link, LinkError> {
    let settings = &upstream.settings;
    let target = format!("{}:{}", settings.host, settings.port);
    let resolved = tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio::net::lookup_host((settings.host.as_str(), settings.port)),
    )
    .await
    .map_err(|_| LinkError::Timeout("name resolution"))?
    .map_err(|e| LinkError::Resolve(target.clone(), e))?;
    let addresses: Vec<SocketAddr> = resolved.collect();
    if addresses.is_empty() {
        return Err(LinkError::NoAddress(target));
    }
    if settings.protocol == ForwardProtocol::Udp {
        return connect_udp(addresses[0]).await;
    }
    let mut last_error = None;
    for peer in addresses {
        match connect_stream(peer, tls).await {
            Ok(link) => return Ok(link),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or(LinkError::NoAddress(target)))
}

async fn connect_udp(peer: SocketAddr) -> Result<Link, LinkError> {
    let local: SocketAddr = match peer {
        SocketAddr::V4(_) => (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local)
        .await
        .map_err(|e| LinkError::Connect(peer, e))?;
    socket
        .connect(peer)
        .await
        .map_err(|e| LinkError::Connect(peer, e))?;
    Ok(Link {
        peer,
        kind: LinkKind::Datagram(socket),
    })
}

async fn connect_stream(peer: SocketAddr, tls: Option<&TlsClient>) -> Result<Link, LinkError> {
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(peer))
        .await
        .map_err(|_| LinkError::Timeout("connecting"))?
        .map_err(|e| LinkError::Connect(peer, e))?;
    // Frames are batched here; Nagle would only hold the last one of a batch back.
    let _ = tcp.set_nodelay(true);
    let fd = tcp.as_raw_fd();
    let written = Arc::new(AtomicU64::new(0));
    let counted = Counted {
        inner: tcp,
        written: written.clone(),
    };
    let stream: Box<dyn ByteStream> = match tls {
        None => Box::new(counted),
        Some(tls) => {
            let connector = tokio_rustls::TlsConnector::from(tls.config.clone());
            let handshake = connector.connect(tls.server_name.clone(), counted);
            Box::new(
                tokio::time::timeout(CONNECT_TIMEOUT, handshake)
                    .await
                    .map_err(|_| LinkError::Timeout("TLS handshake"))?
                    .map_err(|e| LinkError::Handshake(peer, e))?,
            )
        }
    };
    Ok(Link {
        peer,
        kind: LinkKind::Stream(StreamLink {
            stream,
            written,
            fd,
        }),
    })
}

/// Runs a queue operation on the blocking pool.
async fn queue_op<T: Send + 'static>(
    op: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, LinkError> {
    tokio::task::spawn_blocking(op)
        .await
        .map_err(|e| LinkError::Blocking(e.to_string()))?
        .map_err(LinkError::Queue)
}

/// The next batch from sequence number `from` on.
async fn read_batch(upstream: &Upstream, from: u64) -> Result<Vec<(u64, Vec<u8>)>, LinkError> {
    let queue = upstream.queue.clone();
    queue_op(move || queue.read_from(from, BATCH_MESSAGES, BATCH_BYTES)).await
}

/// Removes what was delivered (through `seq`), counts it as sent.
async fn delivered(upstream: &Upstream, seq: u64) -> Result<(), LinkError> {
    let queue = upstream.queue.clone();
    let removed = queue_op(move || queue.remove_through(seq)).await?;
    upstream.metrics.sent.inc_by(removed);
    refresh_depth(upstream);
    Ok(())
}

/// Waits for new messages, the idle check or the stop signal, whichever comes first.
async fn wait_for_messages(upstream: &Upstream, stop: &mut watch::Receiver<bool>, wait: Duration) {
    tokio::select! {
        _ = upstream.wake.notified() => {}
        _ = tokio::time::sleep(wait) => {}
        _ = stopped(stop) => {}
    }
}

/// UDP: one datagram per message, removed once sent.
async fn send_datagrams(
    upstream: &Upstream,
    socket: UdpSocket,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), LinkError> {
    while !is_stopping(stop) {
        let batch = read_batch(upstream, 0).await?;
        if batch.is_empty() {
            refresh_depth(upstream);
            wait_for_messages(upstream, stop, IDLE_CHECK).await;
            continue;
        }
        let mut last_sent = None;
        let mut failure = None;
        for (seq, message) in &batch {
            match socket.send(message).await {
                Ok(_) => last_sent = Some(*seq),
                Err(error) => {
                    failure = Some(LinkError::Send(error));
                    break;
                }
            }
        }
        if let Some(seq) = last_sent {
            delivered(upstream, seq).await?;
        }
        if let Some(error) = failure {
            return Err(error);
        }
    }
    Ok(())
}

/// Messages written on a connection whose bytes the peer has not acknowledged yet.
#[derive(Default)]
struct InFlight {
    /// (last sequence number of a batch, socket byte count after it, when it was written)
    batches: VecDeque<(u64, u64, Instant)>,
}

impl InFlight {
    /// Forgets the batches wholly within the first `acknowledged` bytes of the connection;
    /// returns the last sequence number among them.
    fn pop_acknowledged(&mut self, acknowledged: u64) -> Option<u64> {
        let mut through = None;
        while let Some(&(last, end, _)) = self.batches.front() {
            if end > acknowledged {
                break;
            }
            through = Some(last);
            self.batches.pop_front();
        }
        through
    }
}

/// TCP/TLS: octet-counted frames, removed once acknowledged (see the module documentation).
async fn send_stream(
    upstream: &Upstream,
    mut link: StreamLink,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), LinkError> {
    let mut in_flight = InFlight::default();
    // This connection has sent nothing: start from the head, in flight on an earlier one
    // included.
    let mut next = 0u64;
    let mut frames = Vec::with_capacity(BATCH_BYTES + 16 * BATCH_MESSAGES);
    let mut scratch = [0u8; 512];
    loop {
        let acknowledged = link.acknowledged().map_err(LinkError::Send)?;
        settle(upstream, acknowledged, &mut in_flight).await?;
        if is_stopping(stop) {
            return drain(upstream, link, in_flight).await;
        }
        if let Some((_, _, at)) = in_flight.batches.front()
            && at.elapsed() >= ACK_TIMEOUT
        {
            return Err(LinkError::Stalled(ACK_TIMEOUT));
        }
        let unacknowledged = link.written.load(Ordering::Acquire) - acknowledged;
        let batch = if unacknowledged < MAX_IN_FLIGHT_BYTES {
            read_batch(upstream, next).await?
        } else {
            Vec::new()
        };
        if batch.is_empty() {
            let wait = if in_flight.batches.is_empty() {
                refresh_depth(upstream);
                IDLE_CHECK
            } else {
                ACK_POLL
            };
            // An upstream has nothing to say: readable means closed (or reset).
            tokio::select! {
                read = link.stream.read(&mut scratch) => match read {
                    Ok(0) => return Err(LinkError::Closed),
                    Ok(_) => {}
                    Err(error) => return Err(LinkError::Send(error)),
                },
                _ = wait_for_messages(upstream, stop, wait) => {}
            }
            continue;
        }
        frames.clear();
        for (_, message) in &batch {
            frames.extend_from_slice(message.len().to_string().as_bytes());
            frames.push(b' ');
            frames.extend_from_slice(message);
        }
        let write = async {
            link.stream.write_all(&frames).await?;
            link.stream.flush().await
        };
        tokio::time::timeout(WRITE_TIMEOUT, write)
            .await
            .map_err(|_| LinkError::Timeout("writing"))?
            .map_err(LinkError::Send)?;
        let last = batch.last().map_or(next, |(seq, _)| *seq);
        in_flight
            .batches
            .push_back((last, link.written.load(Ordering::Acquire), Instant::now()));
        next = last + 1;
    }
}

/// Removes the batches wholly within the `acknowledged` bytes from the queue.
async fn settle(
    upstream: &Upstream,
    acknowledged: u64,
    in_flight: &mut InFlight,
) -> Result<(), LinkError> {
    if let Some(seq) = in_flight.pop_acknowledged(acknowledged) {
        delivered(upstream, seq).await?;
    }
    Ok(())
}

/// A graceful stop: waits a little for what is in flight, then closes the connection (TLS:
/// close_notify).
async fn drain(
    upstream: &Upstream,
    mut link: StreamLink,
    mut in_flight: InFlight,
) -> Result<(), LinkError> {
    let deadline = Instant::now() + STOP_DRAIN;
    while !in_flight.batches.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(ACK_POLL).await;
        let acknowledged = link.acknowledged().map_err(LinkError::Send)?;
        settle(upstream, acknowledged, &mut in_flight).await?;
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), link.stream.shutdown()).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::{ErrorKind, Read, Write};

    use super::*;

    #[test]
    fn a_batch_leaves_only_when_its_last_byte_is_acknowledged() {
        let mut in_flight = InFlight::default();
        let now = Instant::now();
        for batch in [(10, 100, now), (20, 250, now), (30, 400, now)] {
            in_flight.batches.push_back(batch);
        }
        assert_eq!(in_flight.pop_acknowledged(99), None);
        assert_eq!(in_flight.pop_acknowledged(250), Some(20));
        assert_eq!(in_flight.batches.len(), 1);
        assert_eq!(in_flight.pop_acknowledged(399), None);
        assert_eq!(in_flight.pop_acknowledged(1000), Some(30));
        assert!(in_flight.batches.is_empty());
    }

    /// What "acknowledged" rests on: bytes a peer does not take stay unacknowledged in our
    /// socket, and become acknowledged once it reads them.
    #[test]
    fn bytes_a_peer_does_not_take_stay_unacknowledged() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut peer, _) = listener.accept().unwrap();
        client.set_nonblocking(true).unwrap();
        let chunk = [0x55u8; 64 * 1024];
        let mut written = 0usize;
        loop {
            match client.write(&chunk) {
                Ok(n) => written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        let fd = client.as_raw_fd();
        let pending = unacknowledged_bytes(fd).unwrap();
        assert!(
            pending > 0 && pending <= written as u64,
            "{pending} of {written}"
        );
        let mut read = 0usize;
        let mut buffer = vec![0u8; 256 * 1024];
        while read < written {
            read += peer.read(&mut buffer).unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while unacknowledged_bytes(fd).unwrap() > 0 {
            assert!(Instant::now() < deadline, "never acknowledged");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
