//! The syslog listeners: sockets only.
//!
//! - [`udp`]: one dedicated std thread per UDP socket, reading batches with `recvmmsg` into
//!   preallocated slots, decoding inline and handing each batch to the ingest queue with
//!   [`Ingest::try_submit`](crate::ingest::Ingest::try_submit) (a full queue drops and counts).
//! - [`tcp`]: a tokio accept loop and one task per connection, splitting the stream into frames
//!   with [`framing`] and handing each read's frames over with
//!   [`Ingest::submit`](crate::ingest::Ingest::submit), which waits and so pushes back on the
//!   sender.
//! - [`tls`]: syslog over TLS (RFC 5425): the same accept loop and connection code as `tcp`,
//!   with a TLS handshake (bounded in time, failures counted) before the first read.
//! - [`framing`]: RFC 6587 octet-counting and non-transparent framing, pure and I/O-free.
//!
//! This module does not parse syslog (that is `decode`/`normalize`, reached through
//! [`Ingest::syslog_event`](crate::ingest::Ingest::syslog_event)), store anything, or log the
//! addresses it binds (the caller does).

pub mod framing;
pub mod kernel_drops;
pub mod storm;
pub mod tcp;
pub mod tls;
pub mod trap;
pub mod udp;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub use framing::{Frame, FrameDecoder};
pub use tcp::bind_tcp_syslog;
pub use tls::{SyslogTlsServer, bind_tls_syslog};
pub use trap::spawn_udp_trap;
pub use udp::{DatagramHandler, UdpListenerHandle, spawn_udp, spawn_udp_syslog};

/// Why a listener could not start. Once started, listeners never fail: they log and go on.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// Creating, configuring or binding the socket failed (address in use, no permission, ...).
    #[error("cannot bind {kind} listener to {addr}: {source}")]
    Bind {
        kind: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// The receive thread could not be started.
    #[error("cannot start the {kind} receive thread: {source}")]
    Thread {
        kind: &'static str,
        source: std::io::Error,
    },
}

/// Lets a repeated warning through at most once per interval, counting what it held back, so
/// that a hostile or broken sender cannot flood the log.
#[derive(Debug)]
pub(crate) struct LogLimiter {
    interval: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl LogLimiter {
    pub(crate) fn new(interval: Duration) -> LogLimiter {
        LogLimiter {
            interval,
            last: None,
            suppressed: 0,
        }
    }

    /// `Some(n)` when the warning may be logged now, `n` being how many were held back since the
    /// last one; `None` when it should be held back.
    pub(crate) fn allow(&mut self) -> Option<u64> {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < self.interval)
        {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

/// An IPv4 peer seen through a dual-stack IPv6 socket (`::ffff:a.b.c.d`) as plain IPv4, so
/// events show the address operators know.
pub(crate) fn canonical_peer(peer: SocketAddr) -> SocketAddr {
    SocketAddr::new(peer.ip().to_canonical(), peer.port())
}

/// Helpers shared by the UDP and TCP tests.
#[cfg(test)]
pub(crate) mod testutil {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use crate::config::{IngestSettings, SourceTable};
    use crate::event::Event;
    use crate::ingest::{Ingest, IngestReceiver, channel};
    use crate::normalize::{LevelTable, Normalizer};

    /// Ingest settings for tests, with the given maximum message size.
    pub(crate) fn ingest_settings(max_message_bytes: usize) -> IngestSettings {
        IngestSettings {
            queue_events: 1024,
            udp_receive_buffer_bytes: 1 << 20,
            max_message_bytes,
            max_tcp_connections: 1024,
            block_events: 1024,
            block_max_age: Duration::from_millis(100),
            flush_interval: Duration::from_millis(20),
            cache_bytes: 1 << 20,
            per_source_rate: 0,
            per_source_burst: 0,
            storm_summary_interval: Duration::from_secs(10),
        }
    }

    /// An ingest queue of `capacity` events over the placeholder normalizer.
    pub(crate) fn test_ingest(capacity: usize) -> (Arc<Ingest>, IngestReceiver) {
        let normalizer = Normalizer::new(SourceTable::new(vec![]), LevelTable::default());
        let (ingest, rx) = channel(normalizer, capacity);
        (Arc::new(ingest), rx)
    }

    /// Receives exactly `n` events, panicking after `timeout` or if the chunks hold more.
    pub(crate) fn collect(rx: &mut IngestReceiver, n: usize, timeout: Duration) -> Vec<Event> {
        let deadline = Instant::now() + timeout;
        let mut events = Vec::with_capacity(n);
        while events.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out with {} of {n} events",
                events.len()
            );
            if let Ok(Some(chunk)) = rx.recv_timeout(left.min(Duration::from_millis(100))) {
                events.extend(chunk.events);
            }
        }
        assert_eq!(events.len(), n, "more events than expected");
        events
    }
}
