//! The syslog TCP listener: a tokio accept loop and one task per connection, shared with the
//! TLS listener ([`super::tls`]).
//!
//! Each connection reads into a fixed buffer, splits the bytes into frames with
//! [`FrameDecoder`] (RFC 6587, framing detected per frame), decodes every frame with
//! [`Ingest::syslog_event`] and hands the frames of one read over as one chunk with
//! [`Ingest::submit`]. `submit` waits for room in the queue, and while it waits the connection
//! reads nothing, so a full pipeline pushes back on the sender through TCP flow control instead
//! of dropping.
//!
//! What happens between `accept` and the first read is a [`Handshake`]: nothing for plain TCP
//! ([`Plain`]), a TLS handshake for syslog over TLS. The connection code is generic over the
//! resulting byte stream, so both listeners share one framing loop, one set of bounds and one
//! shutdown path; only the listener's name (the metrics' `listener` label) and the events'
//! transport differ.
//!
//! Memory per connection is bounded: one [`READ_BUFFER_BYTES`] buffer plus at most one partial
//! frame of `max_message_bytes + 1` (plus rustls' bounded buffers for TLS). At most
//! `max_tcp_connections` are open at once per listener, handshakes included; beyond that a new
//! connection is closed at once and counted in `tcp_connections_refused_total`. A connection
//! that sends nothing for [`IDLE_TIMEOUT`] is closed.
//!
//! Shutdown (the watch value turning `true`, or its sender going away) stops the accept loop at
//! once and abandons handshakes in progress; each connection then stops reading as soon as it
//! holds no partial frame, or after [`SHUTDOWN_GRACE`], ingesting what it has; the listener
//! task returns when all have ended.
//!
//! This module does not parse syslog and does not log the address it binds.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use prometheus::IntCounter;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{Instant, timeout, timeout_at};
use tracing::{debug, warn};

use super::{FrameDecoder, ListenError, LogLimiter, canonical_peer};
use crate::config::IngestSettings;
use crate::event::{Event, Transport, now_ns};
use crate::ingest::Ingest;
use crate::metrics::metrics;

/// Bytes read from a connection at a time (a read's frames travel as one chunk).
pub const READ_BUFFER_BYTES: usize = 16 * 1024;
/// A connection that sends nothing for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// On shutdown, how long a connection may take to complete the frame it has started.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Pending connections the kernel may queue before we accept them.
const BACKLOG: i32 = 1024;
/// Pause after a failed accept (typically EMFILE), so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);
/// At most one warning of each kind per this interval.
const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Turns an accepted TCP connection into the byte stream that is framed: the connection itself
/// for plain TCP, a TLS session once its handshake succeeded. `None` closes the connection
/// (the handshake failed; the implementation counts and logs why).
pub(crate) trait Handshake: Send + Sync + 'static {
    type Stream: AsyncRead + Unpin + Send + 'static;

    fn handshake(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
    ) -> impl Future<Output = Option<Self::Stream>> + Send;
}

/// Plain TCP: the stream is read as accepted.
pub(crate) struct Plain;

impl Handshake for Plain {
    type Stream = TcpStream;

    async fn handshake(&self, stream: TcpStream, _peer: SocketAddr) -> Option<TcpStream> {
        Some(stream)
    }
}

/// Which stream listener this is: the `listener` label of its metrics and log lines, and the
/// transport its events carry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StreamKind {
    pub(crate) listener: &'static str,
    pub(crate) transport: Transport,
}

/// Plain syslog over TCP.
const TCP: StreamKind = StreamKind {
    listener: "syslog-tcp",
    transport: Transport::Tcp,
};

/// Binds a syslog TCP listener on `addr` and starts accepting connections.
///
/// Returns the address actually bound (the real port when asked for port 0) and the accept
/// task, which ends once `shutdown` turns `true` (or its sender is dropped) and every
/// connection has finished. An IPv6 wildcard address (`[::]`) also accepts IPv4.
pub async fn bind_tcp_syslog(
    addr: SocketAddr,
    settings: &IngestSettings,
    ingest: Arc<Ingest>,
    shutdown: watch::Receiver<bool>,
) -> Result<(SocketAddr, JoinHandle<()>), ListenError> {
    bind_stream(addr, TCP, Plain, settings, ingest, shutdown).await
}

/// [`bind_tcp_syslog`] for any [`Handshake`]: binds, then accepts on its own task.
pub(crate) async fn bind_stream<H: Handshake>(
    addr: SocketAddr,
    kind: StreamKind,
    handshake: H,
    settings: &IngestSettings,
    ingest: Arc<Ingest>,
    shutdown: watch::Receiver<bool>,
) -> Result<(SocketAddr, JoinHandle<()>), ListenError> {
    let bind_error = |source| ListenError::Bind {
        kind: kind.listener,
        addr,
        source,
    };
    let listener = bind(addr).map_err(bind_error)?;
    let local_addr = listener.local_addr().map_err(bind_error)?;
    let server = Server {
        listener,
        kind,
        handshake: Arc::new(handshake),
        slots: Arc::new(Semaphore::new(
            settings
                .max_tcp_connections
                .clamp(1, Semaphore::MAX_PERMITS),
        )),
        max_frame_bytes: settings.max_message_bytes,
        ingest,
        shutdown,
        accept_log: LogLimiter::new(LOG_INTERVAL),
        refused_log: LogLimiter::new(LOG_INTERVAL),
    };
    Ok((local_addr, tokio::spawn(server.run())))
}

/// Creates, configures, binds and listens.
fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() && addr.ip().is_unspecified() {
        // One socket for both families, whatever net.ipv6.bindv6only says.
        socket.set_only_v6(false)?;
    }
    // Lets a restarted appliance bind while old connections linger in TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    socket.set_nonblocking(true)?;
    TcpListener::from_std(socket.into())
}

/// Resolves once shutdown is requested: the value is `true` or the sender is gone.
pub(crate) async fn stop_requested(shutdown: &mut watch::Receiver<bool>) {
    // An error means the sender was dropped: nobody can ask us to keep going any more.
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// The accept loop's state.
struct Server<H> {
    listener: TcpListener,
    kind: StreamKind,
    handshake: Arc<H>,
    /// One permit per connection allowed to be open.
    slots: Arc<Semaphore>,
    max_frame_bytes: usize,
    ingest: Arc<Ingest>,
    shutdown: watch::Receiver<bool>,
    accept_log: LogLimiter,
    refused_log: LogLimiter,
}

impl<H: Handshake> Server<H> {
    /// Accepts until shutdown, then waits for the open connections to finish.
    async fn run(mut self) {
        let mut connections = JoinSet::new();
        let listener = self.kind.listener;
        loop {
            tokio::select! {
                () = stop_requested(&mut self.shutdown) => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => self.admit(stream, peer, &mut connections),
                    Err(error) => {
                        if let Some(suppressed) = self.accept_log.allow() {
                            warn!(%error, suppressed, listener, "TCP accept failed.");
                        }
                        tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    }
                },
                // Reap finished connections so the set does not grow.
                Some(result) = connections.join_next(), if !connections.is_empty() => log_panic(result, listener),
            }
        }
        drop(self.listener);
        while let Some(result) = connections.join_next().await {
            log_panic(result, listener);
        }
    }

    /// Starts a task for a new connection, or closes it at once when the limit is reached.
    fn admit(&mut self, stream: TcpStream, peer: SocketAddr, connections: &mut JoinSet<()>) {
        let Ok(permit) = self.slots.clone().try_acquire_owned() else {
            metrics().tcp_connections_refused.inc();
            if let Some(suppressed) = self.refused_log.allow() {
                warn!(
                    suppressed,
                    listener = self.kind.listener,
                    "TCP connection limit reached; closed a new connection."
                );
            }
            return; // Dropping `stream` closes it.
        };
        connections.spawn(serve_connection(
            self.handshake.clone(),
            stream,
            canonical_peer(peer),
            ConnectionContext {
                kind: self.kind,
                max_frame_bytes: self.max_frame_bytes,
                ingest: self.ingest.clone(),
                shutdown: self.shutdown.clone(),
            },
            permit,
        ));
    }
}

fn log_panic(result: Result<(), tokio::task::JoinError>, listener: &'static str) {
    if let Err(error) = result
        && error.is_panic()
    {
        warn!(%error, listener, "A TCP connection task panicked.");
    }
}

/// Keeps `tcp_connections_open` right however a connection task ends.
struct OpenConnection;

impl OpenConnection {
    fn new() -> OpenConnection {
        metrics().tcp_connections_open.inc();
        OpenConnection
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        metrics().tcp_connections_open.dec();
    }
}

/// What every connection of a listener shares.
struct ConnectionContext {
    kind: StreamKind,
    max_frame_bytes: usize,
    ingest: Arc<Ingest>,
    shutdown: watch::Receiver<bool>,
}

/// One connection's whole life: the handshake (abandoned on shutdown), then reading until it
/// ends; `_permit` holds the connection's place under the limit all along.
async fn serve_connection<H: Handshake>(
    handshake: Arc<H>,
    stream: TcpStream,
    peer: SocketAddr,
    mut context: ConnectionContext,
    _permit: OwnedSemaphorePermit,
) {
    let _open = OpenConnection::new();
    let stream = tokio::select! {
        () = stop_requested(&mut context.shutdown) => return,
        stream = handshake.handshake(stream, peer) => stream,
    };
    if let Some(stream) = stream {
        Connection::new(stream, peer, context).run().await;
    }
}

/// One connection's state, over any byte stream (plain TCP or a TLS session).
struct Connection<S> {
    stream: S,
    peer: SocketAddr,
    kind: StreamKind,
    decoder: FrameDecoder,
    ingest: Arc<Ingest>,
    shutdown: watch::Receiver<bool>,
    frames: IntCounter,
    bytes: IntCounter,
    oversized: IntCounter,
}

impl<S: AsyncRead + Unpin> Connection<S> {
    fn new(stream: S, peer: SocketAddr, context: ConnectionContext) -> Connection<S> {
        let m = metrics();
        let listener = context.kind.listener;
        Connection {
            stream,
            peer,
            kind: context.kind,
            decoder: FrameDecoder::new(context.max_frame_bytes),
            ingest: context.ingest,
            shutdown: context.shutdown,
            frames: m.datagrams_received.with_label_values(&[listener]),
            bytes: m.bytes_received.with_label_values(&[listener]),
            oversized: m.tcp_frames_oversized.clone(),
        }
    }

    /// Reads and ingests until EOF, an error, idleness or shutdown.
    async fn run(mut self) {
        let mut buf = vec![0; READ_BUFFER_BYTES];
        let mut grace_deadline: Option<Instant> = None;
        let listener = self.kind.listener;
        loop {
            let read = match grace_deadline {
                None => tokio::select! {
                    () = stop_requested(&mut self.shutdown) => {
                        grace_deadline = Some(Instant::now() + SHUTDOWN_GRACE);
                        continue;
                    }
                    read = timeout(IDLE_TIMEOUT, self.stream.read(&mut buf)) => match read {
                        Ok(read) => read,
                        Err(_) => {
                            debug!(peer = %self.peer, listener, "Closing idle TCP connection.");
                            break;
                        }
                    },
                },
                // Shutting down: read only to complete a frame already started.
                Some(_) if self.decoder.is_between_frames() => break,
                Some(deadline) => match timeout_at(deadline, self.stream.read(&mut buf)).await {
                    Ok(read) => read,
                    Err(_) => break,
                },
            };
            match read {
                Ok(0) => break,
                Ok(n) => {
                    if !self.ingest_read(&buf[..n]).await {
                        return; // The queue is closed: the pipeline is shutting down.
                    }
                }
                Err(error) => {
                    debug!(%error, peer = %self.peer, listener, "TCP read failed; closing.");
                    break;
                }
            }
        }
        self.ingest_final_frame().await;
    }

    /// Decodes the frames completed by one read and queues them; false if the queue is closed.
    async fn ingest_read(&mut self, bytes: &[u8]) -> bool {
        self.bytes.inc_by(bytes.len() as u64);
        let received_at_ns = now_ns();
        let mut chunk = Vec::new();
        let (ingest, peer, oversized) = (&self.ingest, self.peer, &self.oversized);
        let transport = self.kind.transport;
        self.decoder.feed(bytes, &mut |frame| {
            if frame.oversized {
                oversized.inc();
            }
            chunk.push(ingest.syslog_event(frame.bytes, peer, transport, received_at_ns));
        });
        self.submit(chunk).await
    }

    /// At EOF (or shutdown), the last frame may have no terminator: it is still a frame.
    async fn ingest_final_frame(&mut self) {
        let received_at_ns = now_ns();
        let mut chunk = Vec::new();
        let (ingest, peer, transport) = (&self.ingest, self.peer, self.kind.transport);
        self.decoder.finish(&mut |frame| {
            chunk.push(ingest.syslog_event(frame.bytes, peer, transport, received_at_ns));
        });
        self.submit(chunk).await;
    }
    /// Counts and queues a chunk, waiting for room (this is the back-pressure); false when the
    /// connection should close.
    ///
    /// The wait is unbounded in normal operation, but once shutdown is requested it lasts at most
    /// [`SHUTDOWN_GRACE`] more, so a stalled pipeline cannot keep the listener from returning.
    async fn submit(&mut self, chunk: Vec<Event>) -> bool {
        let count = chunk.len() as u64;
        self.frames.inc_by(count);
        // A closed queue counts the chunk as dropped (reason "shutdown") itself.
        let submit = self.ingest.submit(chunk);
        tokio::pin!(submit);
        tokio::select! {
            result = &mut submit => return result.is_ok(),
            () = stop_requested(&mut self.shutdown) => {}
        }
        match timeout(SHUTDOWN_GRACE, submit).await {
            Ok(result) => result.is_ok(),
            Err(_) => {
                metrics()
                    .events_dropped
                    .with_label_values(&["shutdown"])
                    .inc_by(count);
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use tokio::io::AsyncWriteExt;

    use super::*;
    use crate::ingest::IngestReceiver;
    use crate::listen::testutil::{collect, ingest_settings, test_ingest};

    struct Running {
        addr: SocketAddr,
        task: JoinHandle<()>,
        stop: watch::Sender<bool>,
        rx: Option<IngestReceiver>,
    }

    async fn start(settings: IngestSettings, capacity: usize) -> Running {
        let (ingest, rx) = test_ingest(capacity);
        let (stop, shutdown) = watch::channel(false);
        let (addr, task) =
            bind_tcp_syslog("127.0.0.1:0".parse().unwrap(), &settings, ingest, shutdown)
                .await
                .unwrap();
        Running {
            addr,
            task,
            stop,
            rx: Some(rx),
        }
    }

    impl Running {
        /// Receives exactly `n` events without blocking the runtime.
        async fn events(&mut self, n: usize) -> Vec<Event> {
            let mut rx = self.rx.take().unwrap();
            let (rx, events) = tokio::task::spawn_blocking(move || {
                let events = collect(&mut rx, n, Duration::from_secs(30));
                (rx, events)
            })
            .await
            .unwrap();
            self.rx = Some(rx);
            events
        }

        async fn messages(&mut self, n: usize) -> Vec<String> {
            self.events(n)
                .await
                .into_iter()
                .map(|e| e.message)
                .collect()
        }
    }

    /// The bytes of frame `i` of connection `conn`, in one of five framings, and its message.
    fn frame(conn: usize, i: usize) -> (Vec<u8>, String) {
        let message = format!("<13>conn {conn} frame {i}");
        let bytes = match i % 5 {
            0 => format!("{} {message}", message.len()),
            1 => format!("{message}\n"),
            2 => format!("{message}\r\n"),
            3 => format!("{message}\0"),
            _ => {
                // Octet counting carries newlines inside a message.
                let message = format!("{message}\nsecond line");
                let bytes = format!("{} {message}", message.len()).into_bytes();
                return (bytes, message["<13>".len()..].to_string());
            }
        };
        // The decoder takes the PRI off; the rest is the message.
        (bytes.into_bytes(), message["<13>".len()..].to_string())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_concurrent_connections_deliver_every_frame_exactly_once() {
        const CONNECTIONS: usize = 50;
        const FRAMES: usize = 100;
        // A queue smaller than the load, so connections also wait on back-pressure.
        let mut server = start(ingest_settings(1024), 1000).await;
        let addr = server.addr;
        let send_all = async move {
            let mut senders = JoinSet::new();
            for conn in 0..CONNECTIONS {
                senders.spawn(async move {
                    let mut stream = TcpStream::connect(addr).await.unwrap();
                    let local = stream.local_addr().unwrap();
                    let stream_bytes: Vec<u8> =
                        (0..FRAMES).flat_map(|i| frame(conn, i).0).collect();
                    // Odd write sizes, so frames and length prefixes straddle reads.
                    for piece in stream_bytes.chunks(7 + conn * 13) {
                        stream.write_all(piece).await.unwrap();
                    }
                    stream.shutdown().await.unwrap();
                    (conn, local)
                });
            }
            let mut peers = BTreeMap::new();
            while let Some(sent) = senders.join_next().await {
                let (conn, local) = sent.unwrap();
                peers.insert(conn, local);
            }
            peers
        };
        let (peers, events) = tokio::join!(send_all, server.events(CONNECTIONS * FRAMES));
        let mut seen: BTreeMap<String, SocketAddr> = BTreeMap::new();
        for event in events {
            assert_eq!(event.transport, Transport::Tcp);
            assert!(
                seen.insert(event.message.clone(), event.source).is_none(),
                "twice: {:?}",
                event.message
            );
        }
        for conn in 0..CONNECTIONS {
            for i in 0..FRAMES {
                let message = frame(conn, i).1;
                let source = seen
                    .get(&message)
                    .unwrap_or_else(|| panic!("missing {message:?}"));
                assert_eq!(source, &peers[&conn], "{message:?}");
            }
        }
        assert_eq!(seen.len(), CONNECTIONS * FRAMES);
        server.stop.send(true).unwrap();
        server.task.await.unwrap();
    }

    #[tokio::test]
    async fn oversized_frames_are_cut_counted_and_the_stream_resyncs() {
        let before = metrics().tcp_frames_oversized.get();
        let mut server = start(ingest_settings(512), 100).await;
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        let mut sent = Vec::new();
        sent.extend_from_slice(b"1000 ");
        sent.extend(std::iter::repeat_n(b'a', 1000));
        sent.extend_from_slice(b"5 hello");
        sent.extend(std::iter::repeat_n(b'b', 70_000));
        sent.extend_from_slice(b"\ntail\n");
        stream.write_all(&sent).await.unwrap();
        stream.shutdown().await.unwrap();
        let messages = server.messages(4).await;
        assert_eq!(
            messages,
            [
                "a".repeat(512),
                "hello".into(),
                "b".repeat(512),
                "tail".into()
            ]
        );
        assert_eq!(metrics().tcp_frames_oversized.get() - before, 2);
        server.stop.send(true).unwrap();
        server.task.await.unwrap();
    }

    #[tokio::test]
    async fn connections_over_the_limit_are_closed_and_counted() {
        let refused = metrics().tcp_connections_refused.get();
        let settings = IngestSettings {
            max_tcp_connections: 2,
            ..ingest_settings(1024)
        };
        let mut server = start(settings, 100).await;
        let mut first = TcpStream::connect(server.addr).await.unwrap();
        let mut second = TcpStream::connect(server.addr).await.unwrap();
        first.write_all(b"one\n").await.unwrap();
        second.write_all(b"two\n").await.unwrap();
        let mut messages = server.messages(2).await;
        messages.sort();
        assert_eq!(messages, ["one", "two"]);

        let mut third = TcpStream::connect(server.addr).await.unwrap();
        let mut byte = [0; 1];
        let closed = timeout(Duration::from_secs(5), third.read(&mut byte))
            .await
            .unwrap();
        assert!(matches!(closed, Ok(0) | Err(_)), "{closed:?}");
        assert_eq!(metrics().tcp_connections_refused.get() - refused, 1);

        // Closing one frees its place.
        first.write_all(b"last from first").await.unwrap();
        drop(first);
        assert_eq!(server.messages(1).await, ["last from first"]);
        // The task releases its place just after queueing its last frame.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut fourth = TcpStream::connect(server.addr).await.unwrap();
        fourth.write_all(b"four\n").await.unwrap();
        assert_eq!(server.messages(1).await, ["four"]);
        server.stop.send(true).unwrap();
        drop((second, fourth));
        server.task.await.unwrap();
    }

    #[tokio::test]
    async fn shutdown_stops_accepting_and_lets_a_started_frame_finish() {
        let mut server = start(ingest_settings(1024), 100).await;
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(b"done\npart").await.unwrap();
        assert_eq!(server.messages(1).await, ["done"]);
        // Let the server read "part" before it is told to stop.
        tokio::time::sleep(Duration::from_millis(200)).await;
        server.stop.send(true).unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            TcpStream::connect(server.addr).await.is_err(),
            "still accepting after shutdown"
        );
        stream.write_all(b"ial\n").await.unwrap();
        assert_eq!(server.messages(1).await, ["partial"]);
        let mut rest = Vec::new();
        let closed = timeout(Duration::from_secs(5), stream.read_to_end(&mut rest))
            .await
            .unwrap();
        assert!(matches!(closed, Ok(0) | Err(_)), "{closed:?}");
        timeout(Duration::from_secs(5), server.task)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn shutdown_is_not_held_up_by_a_full_queue() {
        let dropped = metrics().events_dropped.with_label_values(&["shutdown"]);
        let before = dropped.get();
        // Room for one event, and nobody drains it: the second frame's submit waits.
        let server = start(ingest_settings(1024), 1).await;
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(b"fits\n").await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        stream.write_all(b"waits\n").await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        server.stop.send(true).unwrap();
        let limit = SHUTDOWN_GRACE + Duration::from_secs(3);
        timeout(limit, server.task)
            .await
            .expect("listener returned")
            .unwrap();
        assert!(
            dropped.get() > before,
            "the waiting chunk is counted as dropped"
        );
        let mut rx = server.rx.unwrap();
        let queued = rx.try_recv().expect("the first chunk is queued").events;
        assert_eq!(
            queued
                .iter()
                .map(|e| e.message.as_str())
                .collect::<Vec<_>>(),
            ["fits"]
        );
    }

    #[tokio::test]
    async fn bind_failure_names_the_address() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let (ingest, _rx) = test_ingest(16);
        let (_stop, shutdown) = watch::channel(false);
        let error = bind_tcp_syslog(addr, &ingest_settings(1024), ingest, shutdown)
            .await
            .unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains(&addr.to_string()) && text.contains("in use"),
            "{text}"
        );
    }
}
