//! The UDP listeners (syslog, SNMP traps): one dedicated thread per socket, batched `recvmmsg`,
//! inline decode through a [`DatagramHandler`].
//!
//! The design follows `notes/udp-recv.md`: a std thread (not a tokio task) calls
//! `recvmmsg(MSG_WAITFORONE)` for up to `BATCH` (64) datagrams at a time into preallocated slots,
//! decodes every datagram right there with [`Ingest::syslog_event`], and hands the whole batch
//! to the queue with one [`Ingest::try_submit`]. Handing raw datagrams to another thread would
//! cost more than the batching saves. A full queue drops the batch and counts it
//! (`events_dropped{reason="queue_full"}`); blocking would only move the loss into the kernel's
//! receive buffer, where nobody counts it.
//!
//! Each slot is `max_message_bytes + 1` long: a datagram that fills it was longer than the
//! maximum, and is ingested cut to the maximum (with a rate-limited warning). The receive buffer
//! is asked for with `SO_RCVBUFFORCE` (which ignores `net.core.rmem_max` when we hold
//! CAP_NET_ADMIN) and then `SO_RCVBUF`; the size the kernel granted is exported as
//! `udp_receive_buffer_bytes{listener="syslog-udp"}` and a warning is logged under 8 MiB.
//!
//! All the unsafe code (the `recvmmsg` and `setsockopt` calls and reading `sockaddr_storage`)
//! lives in the private `sys` module at the end. This module does not parse syslog and does not
//! log the address it binds.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use prometheus::IntCounter;
use socket2::{Domain, Protocol, Socket, Type};
use tracing::{debug, warn};

use super::storm::{SourceLimiter, Suppressed, Verdict};
use super::{ListenError, LogLimiter, canonical_peer};
use crate::config::IngestSettings;
use crate::event::{Event, Transport, now_ns};
use crate::ingest::{Ingest, SubmitError};
use crate::metrics::metrics;

/// The `listener` label of the syslog listener's metrics, and its thread's name.
const SYSLOG_LISTENER: &str = "syslog-udp";
/// Datagrams per `recvmmsg` call; the notes measured no gain from 256.
const BATCH: usize = 64;
/// How long one `recvmmsg` waits (`SO_RCVTIMEO`), hence how soon the thread notices shutdown.
const POLL_INTERVAL: Duration = Duration::from_millis(150);
/// Below this the kernel drops datagrams in bursts of a few hundred thousand per second.
const MIN_GOOD_RECEIVE_BUFFER_BYTES: usize = 8 << 20;
/// At most one warning of each kind per this interval.
const LOG_INTERVAL: Duration = Duration::from_secs(10);
/// Pause after a batch that drained the socket: letting datagrams gather for this long turns
/// many small `recvmmsg` calls (each a sleep and a wake-up of this thread) into a few full
/// ones. At 600k datagrams/s that is ~1200 datagrams (170 KB) waiting in the receive buffer;
/// a lone message waits at most this long more. 2 ms beat 0.5 ms side by side (README).
const COALESCE: Duration = Duration::from_micros(2000);
/// Pause after an unexpected receive error, so a persistent one cannot spin a core.
const ERROR_PAUSE: Duration = Duration::from_millis(10);

/// A running UDP listener.
#[derive(Debug)]
pub struct UdpListenerHandle {
    /// The address actually bound (the real port when asked for port 0).
    pub local_addr: SocketAddr,
    /// The receive thread; it returns once the shutdown flag is set (within about 150 ms).
    pub thread: JoinHandle<()>,
}

/// What a UDP listener does with each datagram it reads: turn it into events (pushed onto the
/// batch's chunk) and, for protocols that answer (SNMP informs), reply through `socket`.
///
/// Called on the receive thread, once per datagram, with the receive time of its batch.
pub trait DatagramHandler: Send + 'static {
    fn on_datagram(
        &mut self,
        payload: &[u8],
        peer: SocketAddr,
        received_at_ns: i64,
        socket: &Socket,
        chunk: &mut Vec<Event>,
    );
}

/// Decodes syslog datagrams inline.
struct SyslogHandler {
    ingest: Arc<Ingest>,
}

impl DatagramHandler for SyslogHandler {
    fn on_datagram(
        &mut self,
        payload: &[u8],
        peer: SocketAddr,
        received_at_ns: i64,
        _socket: &Socket,
        chunk: &mut Vec<Event>,
    ) {
        chunk.push(
            self.ingest
                .syslog_event(payload, peer, Transport::Udp, received_at_ns),
        );
    }
}

/// Binds a syslog UDP socket on `addr` and starts its receive thread.
///
/// An IPv6 wildcard address (`[::]`) also receives IPv4. The thread runs until `shutdown` is set;
/// after start-up it never fails: receive errors are logged (rate-limited) and it goes on.
pub fn spawn_udp_syslog(
    addr: SocketAddr,
    settings: &IngestSettings,
    ingest: Arc<Ingest>,
    shutdown: Arc<AtomicBool>,
) -> Result<UdpListenerHandle, ListenError> {
    let handler = SyslogHandler {
        ingest: ingest.clone(),
    };
    spawn_udp(SYSLOG_LISTENER, addr, settings, ingest, handler, shutdown)
}

/// Binds a UDP socket on `addr` and starts a receive thread named `listener` that hands every
/// datagram to `handler` and queues each batch's events as one chunk.
pub fn spawn_udp(
    listener: &'static str,
    addr: SocketAddr,
    settings: &IngestSettings,
    ingest: Arc<Ingest>,
    handler: impl DatagramHandler,
    shutdown: Arc<AtomicBool>,
) -> Result<UdpListenerHandle, ListenError> {
    let bind_error = |source| ListenError::Bind {
        kind: listener,
        addr,
        source,
    };
    let socket = bind(listener, addr, settings.udp_receive_buffer_bytes).map_err(bind_error)?;
    super::kernel_drops::watch(listener, &socket);
    let local_addr = socket
        .local_addr()
        .and_then(|local| {
            local
                .as_socket()
                .ok_or_else(|| io::Error::other("bound address is not IP"))
        })
        .map_err(bind_error)?;
    let mut receiver = Receiver::new(
        listener,
        socket,
        settings.max_message_bytes,
        ingest,
        handler,
        shutdown,
    );
    receiver.limiter = SourceLimiter::new(
        settings.per_source_rate,
        settings.per_source_burst,
        i64::try_from(settings.storm_summary_interval.as_nanos()).unwrap_or(i64::MAX),
    );
    let thread = std::thread::Builder::new()
        .name(listener.into())
        .spawn(move || receiver.run())
        .map_err(|source| ListenError::Thread {
            kind: listener,
            source,
        })?;
    Ok(UdpListenerHandle { local_addr, thread })
}

/// Creates, configures and binds the socket.
fn bind(
    listener: &'static str,
    addr: SocketAddr,
    receive_buffer_bytes: usize,
) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() && addr.ip().is_unspecified() {
        // One socket for both families, whatever net.ipv6.bindv6only says.
        socket.set_only_v6(false)?;
    }
    set_receive_buffer(listener, &socket, receive_buffer_bytes);
    socket.set_read_timeout(Some(POLL_INTERVAL))?;
    socket.bind(&addr.into())?;
    Ok(socket)
}

/// Asks for `requested` bytes of receive buffer, exports what was granted, warns when small.
///
/// Failing to enlarge the buffer is not fatal: the listener works, it only drops sooner.
fn set_receive_buffer(listener: &'static str, socket: &Socket, requested: usize) {
    if let Err(error) = sys::set_receive_buffer_force(socket, requested) {
        // EPERM without CAP_NET_ADMIN is the common case; SO_RCVBUF is capped by rmem_max.
        debug!(%error, listener = listener, "SO_RCVBUFFORCE refused; falling back to SO_RCVBUF.");
        if let Err(error) = socket.set_recv_buffer_size(requested) {
            warn!(%error, listener = listener, "Cannot set SO_RCVBUF.");
        }
    }
    match socket.recv_buffer_size() {
        Ok(effective) => {
            let gauge = metrics()
                .udp_receive_buffer_bytes
                .with_label_values(&[listener]);
            gauge.set(i64::try_from(effective).unwrap_or(i64::MAX));
            if effective < MIN_GOOD_RECEIVE_BUFFER_BYTES {
                warn!(
                    effective_bytes = effective,
                    requested_bytes = requested,
                    listener = listener,
                    "UDP receive buffer under 8 MiB: bursts will be dropped by the kernel. \
                     Run with CAP_NET_ADMIN or raise net.core.rmem_max."
                );
            }
        }
        Err(error) => warn!(%error, listener = listener, "Cannot read back SO_RCVBUF."),
    }
}

/// The receive thread's state.
struct Receiver<H> {
    listener: &'static str,
    socket: Socket,
    max_message_bytes: usize,
    ingest: Arc<Ingest>,
    handler: H,
    shutdown: Arc<AtomicBool>,
    /// Metric handles looked up once, not per datagram.
    datagrams: IntCounter,
    bytes: IntCounter,
    truncated_log: LogLimiter,
    queue_full_log: LogLimiter,
    error_log: LogLimiter,
    /// Storm control (`None` when off); see `super::storm`.
    limiter: Option<SourceLimiter>,
    rate_limited: IntCounter,
}

impl<H: DatagramHandler> Receiver<H> {
    fn new(
        listener: &'static str,
        socket: Socket,
        max_message_bytes: usize,
        ingest: Arc<Ingest>,
        handler: H,
        shutdown: Arc<AtomicBool>,
    ) -> Receiver<H> {
        let m = metrics();
        Receiver {
            listener,
            socket,
            max_message_bytes,
            ingest,
            handler,
            shutdown,
            datagrams: m.datagrams_received.with_label_values(&[listener]),
            bytes: m.bytes_received.with_label_values(&[listener]),
            truncated_log: LogLimiter::new(LOG_INTERVAL),
            queue_full_log: LogLimiter::new(LOG_INTERVAL),
            error_log: LogLimiter::new(LOG_INTERVAL),
            limiter: None,
            rate_limited: m.events_dropped.with_label_values(&["rate_limited"]),
        }
    }

    /// Receives and ingests batches until the shutdown flag is set.
    fn run(mut self) {
        // Built on this thread: the slots hold raw pointers into themselves and are not Send.
        let mut slots = sys::Slots::new(BATCH, self.max_message_bytes + 1);
        while !self.shutdown.load(Ordering::Relaxed) {
            match slots.receive(&self.socket) {
                Ok(count) => {
                    self.ingest_batch(&slots, count);
                    if count < BATCH {
                        std::thread::sleep(COALESCE);
                    }
                }
                // Time-out (nothing arrived within POLL_INTERVAL) or a signal: check shutdown
                // (and write the summaries of sources that stopped storming).
                Err(error) if is_retry(&error) => self.submit(Vec::new(), false),
                Err(error) => {
                    if let Some(suppressed) = self.error_log.allow() {
                        warn!(%error, suppressed, listener = self.listener, "UDP receive failed.");
                    }
                    std::thread::sleep(ERROR_PAUSE);
                }
            }
        }
        // Every pending summary stands for a message that was received: write them all.
        self.submit(Vec::new(), true);
    }

    /// Decodes the `count` datagrams just received and queues them as one chunk.
    fn ingest_batch(&mut self, slots: &sys::Slots, count: usize) {
        let received_at_ns = now_ns();
        let mut chunk: Vec<Event> = Vec::with_capacity(count);
        let mut bytes = 0u64;
        for index in 0..count {
            let datagram = slots.datagram(index);
            bytes += datagram.payload.len() as u64;
            // A datagram that filled the max + 1 slot was longer than the maximum: cut it.
            let payload = if datagram.payload.len() > self.max_message_bytes || datagram.truncated {
                self.warn_truncated();
                &datagram.payload[..datagram.payload.len().min(self.max_message_bytes)]
            } else {
                datagram.payload
            };
            // An unknown address family cannot happen on a UDP socket; keep the datagram anyway.
            let peer = datagram
                .peer
                .map_or(SocketAddr::from(([0, 0, 0, 0], 0)), canonical_peer);
            if let Some(limiter) = &mut self.limiter {
                match limiter.check(peer.ip(), received_at_ns) {
                    Verdict::Pass => {}
                    // Folded into the source's summary event, written when its window ends.
                    Verdict::FirstOver => continue,
                    Verdict::Over => {
                        self.rate_limited.inc();
                        continue;
                    }
                }
            }
            self.handler
                .on_datagram(payload, peer, received_at_ns, &self.socket, &mut chunk);
        }
        self.datagrams.inc_by(count as u64);
        self.bytes.inc_by(bytes);
        self.submit(chunk, false);
    }

    /// Adds the storm summaries that are due to `chunk` and queues it.
    fn submit(&mut self, mut chunk: Vec<Event>, flush: bool) {
        if let Some(limiter) = &mut self.limiter {
            let now = now_ns();
            for window in limiter.due(now, flush) {
                chunk.push(self.ingest.syslog_event(
                    storm_summary(&window, limiter).as_bytes(),
                    SocketAddr::new(window.source, 0),
                    Transport::Udp,
                    now,
                ));
            }
        }
        // `try_submit` counts what it drops; we only add a rate-limited word in the log.
        if let Err(SubmitError::QueueFull) = self.ingest.try_submit(chunk)
            && let Some(suppressed) = self.queue_full_log.allow()
        {
            warn!(
                suppressed,
                listener = self.listener,
                "Ingest queue full; dropped a batch of datagrams."
            );
        }
    }

    fn warn_truncated(&mut self) {
        if let Some(suppressed) = self.truncated_log.allow() {
            warn!(
                max_message_bytes = self.max_message_bytes,
                suppressed,
                listener = self.listener,
                "Datagram longer than the maximum message size; ingested it truncated."
            );
        }
    }
}

/// The summary event of a source's rate-limited window: RFC 5424 with no host name, so the
/// event's host is the source's address; severity warning, app `trapline`, msgid `storm`.
fn storm_summary(window: &Suppressed, limiter: &SourceLimiter) -> String {
    let (rate, burst) = limiter.limits();
    format!(
        "<44>1 {} - trapline - storm - Rate limited: {} messages from {} over {} per second (burst {}) between {} and {} were not stored",
        crate::event::format_ns(window.until_ns),
        window.count,
        window.source,
        rate,
        burst,
        crate::event::format_ns(window.since_ns),
        crate::event::format_ns(window.until_ns),
    )
}

/// Errors after which the loop simply tries again.
fn is_retry(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// The only unsafe code of the listeners: `recvmmsg`, `SO_RCVBUFFORCE` and `sockaddr_storage`.
mod sys {
    use std::io;
    use std::mem::size_of;
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
    use std::os::fd::AsRawFd;

    use libc::{
        c_int, c_uint, iovec, mmsghdr, sockaddr_in, sockaddr_in6, sockaddr_storage, socklen_t,
    };
    use socket2::Socket;

    /// One received datagram, borrowed from its slot.
    pub(super) struct Datagram<'a> {
        pub payload: &'a [u8],
        pub peer: Option<SocketAddr>,
        /// The kernel cut the datagram to the slot (MSG_TRUNC).
        pub truncated: bool,
    }

    /// Preallocated `recvmmsg` buffers: `count` slots of `slot_bytes` each, with their iovecs,
    /// source addresses and message headers.
    ///
    /// Invariant: `headers[i]` points at `addrs[i]` and `iovecs[i]`, and `iovecs[i]` at bytes
    /// `i * slot_bytes .. (i + 1) * slot_bytes` of `buffers`. The four vectors are sized once in
    /// `new` and never grow, so those pointers stay valid however `Slots` itself is moved.
    pub(super) struct Slots {
        slot_bytes: usize,
        buffers: Vec<u8>,
        iovecs: Vec<iovec>,
        addrs: Vec<sockaddr_storage>,
        headers: Vec<mmsghdr>,
    }

    impl Slots {
        pub(super) fn new(count: usize, slot_bytes: usize) -> Slots {
            // SAFETY: these are plain C structs for which all-zero bytes (null pointers, zero
            // lengths) is a valid value.
            let (zero_addr, zero_header) = unsafe {
                (
                    std::mem::zeroed::<sockaddr_storage>(),
                    std::mem::zeroed::<mmsghdr>(),
                )
            };
            let mut slots = Slots {
                slot_bytes,
                buffers: vec![0; count * slot_bytes],
                iovecs: Vec::with_capacity(count),
                addrs: vec![zero_addr; count],
                headers: vec![zero_header; count],
            };
            for chunk in slots.buffers.chunks_exact_mut(slot_bytes) {
                slots.iovecs.push(iovec {
                    iov_base: chunk.as_mut_ptr().cast(),
                    iov_len: slot_bytes,
                });
            }
            for ((header, iov), addr) in slots
                .headers
                .iter_mut()
                .zip(&mut slots.iovecs)
                .zip(&mut slots.addrs)
            {
                header.msg_hdr.msg_iov = iov;
                header.msg_hdr.msg_iovlen = 1;
                header.msg_hdr.msg_name = (addr as *mut sockaddr_storage).cast();
            }
            slots
        }

        /// Waits for at least one datagram (up to SO_RCVTIMEO) and takes every datagram already
        /// queued, up to the number of slots. Returns how many slots were filled.
        pub(super) fn receive(&mut self, socket: &Socket) -> io::Result<usize> {
            for header in &mut self.headers {
                // The kernel overwrites these on every call.
                header.msg_hdr.msg_namelen = size_of::<sockaddr_storage>() as socklen_t;
                header.msg_hdr.msg_flags = 0;
                header.msg_len = 0;
            }
            // SAFETY: by the invariant on `Slots`, every header points at live, exclusively
            // borrowed (`&mut self`) memory of the sizes it declares, so the kernel writes only
            // inside our buffers. No time-out pointer: SO_RCVTIMEO bounds the wait.
            let received = unsafe {
                libc::recvmmsg(
                    socket.as_raw_fd(),
                    self.headers.as_mut_ptr(),
                    self.headers.len() as c_uint,
                    libc::MSG_WAITFORONE as _,
                    std::ptr::null_mut(),
                )
            };
            if received < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(received as usize)
            }
        }

        /// The `index`th datagram of the last `receive` (index < what it returned).
        pub(super) fn datagram(&self, index: usize) -> Datagram<'_> {
            let header = &self.headers[index];
            let len = (header.msg_len as usize).min(self.slot_bytes);
            let start = index * self.slot_bytes;
            Datagram {
                payload: &self.buffers[start..start + len],
                peer: socket_addr(&self.addrs[index], header.msg_hdr.msg_namelen),
                truncated: header.msg_hdr.msg_flags & libc::MSG_TRUNC != 0,
            }
        }
    }

    /// Reads the sender's address the kernel wrote (IPv4 or IPv6).
    fn socket_addr(storage: &sockaddr_storage, len: socklen_t) -> Option<SocketAddr> {
        let len = len as usize;
        match c_int::from(storage.ss_family) {
            libc::AF_INET if len >= size_of::<sockaddr_in>() => {
                // SAFETY: the family says the storage holds a sockaddr_in, and sockaddr_storage
                // is large and aligned enough for any socket address.
                let sin = unsafe { &*(storage as *const sockaddr_storage).cast::<sockaddr_in>() };
                let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                Some(SocketAddr::V4(SocketAddrV4::new(
                    ip,
                    u16::from_be(sin.sin_port),
                )))
            }
            libc::AF_INET6 if len >= size_of::<sockaddr_in6>() => {
                // SAFETY: as above, for sockaddr_in6.
                let sin6 = unsafe { &*(storage as *const sockaddr_storage).cast::<sockaddr_in6>() };
                let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
                let port = u16::from_be(sin6.sin6_port);
                Some(SocketAddr::V6(SocketAddrV6::new(
                    ip,
                    port,
                    sin6.sin6_flowinfo,
                    sin6.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }

    /// `SO_RCVBUFFORCE`: like SO_RCVBUF but not capped by `net.core.rmem_max` (needs
    /// CAP_NET_ADMIN). socket2 does not offer it.
    pub(super) fn set_receive_buffer_force(socket: &Socket, bytes: usize) -> io::Result<()> {
        let value = c_int::try_from(bytes).unwrap_or(c_int::MAX);
        // SAFETY: passes a pointer to a live c_int and its exact size, as the option expects.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                (&raw const value).cast(),
                size_of::<c_int>() as socklen_t,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::UdpSocket;
    use std::time::Instant;

    use super::*;
    use crate::listen::testutil::{collect, ingest_settings, test_ingest};

    /// Starts a listener on `addr`; the flag stops it.
    fn start(
        addr: &str,
        max_message_bytes: usize,
        capacity: usize,
    ) -> (
        UdpListenerHandle,
        Arc<AtomicBool>,
        crate::ingest::IngestReceiver,
    ) {
        let (ingest, rx) = test_ingest(capacity);
        let shutdown = Arc::new(AtomicBool::new(false));
        let settings = ingest_settings(max_message_bytes);
        let handle =
            spawn_udp_syslog(addr.parse().unwrap(), &settings, ingest, shutdown.clone()).unwrap();
        (handle, shutdown, rx)
    }

    fn stop(handle: UdpListenerHandle, shutdown: &AtomicBool) {
        shutdown.store(true, Ordering::Relaxed);
        handle.thread.join().unwrap();
    }

    fn send_and_check(listen: &str, send_from: &str) {
        let (handle, shutdown, mut rx) = start(listen, 64 * 1024, 1024);
        assert_ne!(handle.local_addr.port(), 0);
        let target = SocketAddr::new(send_from.parse().unwrap(), handle.local_addr.port());
        let sender = UdpSocket::bind(SocketAddr::new(target.ip(), 0)).unwrap();
        let big: Vec<u8> = (0..60_000).map(|i| b'a' + (i % 26) as u8).collect();
        let datagrams: [&[u8]; 4] = [b"<13>hello", b"", &big, b"\xff\xfeok"];
        for datagram in datagrams {
            sender.send_to(datagram, target).unwrap();
        }
        let events = collect(&mut rx, 4, Duration::from_secs(5));
        let messages: Vec<&str> = events.iter().map(|e| e.message.as_str()).collect();
        let big = String::from_utf8(big).unwrap();
        assert_eq!(messages, ["hello", "", big.as_str(), "\u{fffd}\u{fffd}ok"]);
        for event in &events {
            assert_eq!(event.source, sender.local_addr().unwrap());
            assert_eq!(event.transport, Transport::Udp);
        }
        stop(handle, &shutdown);
    }

    #[test]
    fn receives_ipv4() {
        send_and_check("127.0.0.1:0", "127.0.0.1");
    }

    #[test]
    fn receives_ipv6() {
        send_and_check("[::1]:0", "::1");
    }

    #[test]
    fn ipv6_wildcard_also_receives_ipv4_and_reports_plain_ipv4_peers() {
        send_and_check("[::]:0", "127.0.0.1");
    }

    #[test]
    fn datagram_over_the_maximum_is_ingested_truncated() {
        let (handle, shutdown, mut rx) = start("127.0.0.1:0", 1000, 1024);
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        let long: Vec<u8> = (0..3000).map(|i| b'a' + (i % 26) as u8).collect();
        sender.send_to(&long, handle.local_addr).unwrap();
        sender.send_to(&long[..1000], handle.local_addr).unwrap();
        let events = collect(&mut rx, 2, Duration::from_secs(5));
        let expected = String::from_utf8(long[..1000].to_vec()).unwrap();
        assert_eq!(events[0].message, expected);
        assert_eq!(events[1].message, expected);
        stop(handle, &shutdown);
    }

    #[test]
    fn full_queue_drops_and_counts_without_blocking() {
        let dropped = metrics().events_dropped.with_label_values(&["queue_full"]);
        let before = dropped.get();
        // Room for one event: the first batch takes it, every later one finds the queue full.
        let (handle, shutdown, mut rx) = start("127.0.0.1:0", 1024, 1);
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        for i in 0..20 {
            sender
                .send_to(format!("datagram {i}").as_bytes(), handle.local_addr)
                .unwrap();
        }
        // Give the thread time to read all 20 while nobody drains the queue.
        std::thread::sleep(Duration::from_millis(500));
        let first = rx
            .recv_timeout(Duration::from_secs(5))
            .unwrap()
            .expect("first batch queued")
            .events;
        assert!(rx.try_recv().is_none(), "only the first batch fits");
        let expected: Vec<String> = (0..first.len()).map(|i| format!("datagram {i}")).collect();
        assert_eq!(
            first.iter().map(|e| e.message.clone()).collect::<Vec<_>>(),
            expected
        );
        assert_eq!(dropped.get() - before, 20 - first.len() as u64);
        // The listener did not block: with room again, the next datagram gets through.
        sender.send_to(b"after", handle.local_addr).unwrap();
        let after = collect(&mut rx, 1, Duration::from_secs(5));
        assert_eq!(after[0].message, "after");
        stop(handle, &shutdown);
    }

    #[test]
    fn shutdown_flag_stops_the_thread_promptly() {
        let (handle, shutdown, _rx) = start("127.0.0.1:0", 1024, 16);
        let started = Instant::now();
        stop(handle, &shutdown);
        assert!(
            started.elapsed() < POLL_INTERVAL * 4,
            "took {:?}",
            started.elapsed()
        );
    }

    #[test]
    fn bind_failure_names_the_address() {
        let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let (ingest, _rx) = test_ingest(16);
        let error =
            spawn_udp_syslog(addr, &ingest_settings(1024), ingest, Arc::default()).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains(&addr.to_string()) && text.contains("in use"),
            "{text}"
        );
    }
}
