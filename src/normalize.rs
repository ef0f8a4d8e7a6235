//! Builds an [`Event`] from received bytes, the sender and its source settings.
//!
//! The normalizer owns the decisions that depend on *who* sent a message rather than on its
//! text: which time zone its offset-less timestamps are in and whether its host field is
//! believed (both from [`SourceTable`]), and which level a severity maps to ([`LevelTable`]).
//! It calls the pure decoder in `decode::syslog` and counts what did not decode in
//! `trapline_parse_errors_total{kind="syslog"}`; such input still becomes an event, with the
//! raw bytes kept, so nothing is silently lost. It does no I/O and does not store anything.

use std::net::SocketAddr;

use chrono::{DateTime, SecondsFormat};

use crate::config::{SourceTable, TrustHost};
use crate::decode::syslog::{DecodeContext, DecodeError, SyslogMessage, decode, truncate};
use crate::event::{Event, EventKind, Level, Transport};
use crate::metrics::metrics;

/// Longest message text kept for input that did not decode (the raw bytes are kept in full).
pub const MAX_UNDECODED_MESSAGE_BYTES: usize = 4096;

/// Syslog severity (0–7) → level, the contract's default table; the rules issue makes it configurable.
#[derive(Debug, Clone)]
pub struct LevelTable {
    by_severity: [Level; 8],
}

impl Default for LevelTable {
    fn default() -> Self {
        use Level::*;
        LevelTable {
            by_severity: [Critical, Critical, Warning, Low, Low, None, None, None],
        }
    }
}

impl LevelTable {
    /// The level for a severity; events without a severity get `none`.
    pub fn level_for(&self, severity: Option<u8>) -> Level {
        severity
            .and_then(|s| self.by_severity.get(s as usize).copied())
            .unwrap_or(Level::None)
    }
}

/// Turns received bytes into events.
pub struct Normalizer {
    pub sources: SourceTable,
    pub levels: LevelTable,
}

impl Normalizer {
    pub fn new(sources: SourceTable, levels: LevelTable) -> Normalizer {
        Normalizer { sources, levels }
    }

    /// Decodes one syslog datagram or frame into an event. Input that does not decode still
    /// becomes an event (raw bytes kept, no severity) and is counted as a parse error.
    pub fn syslog(
        &self,
        bytes: &[u8],
        peer: SocketAddr,
        transport: Transport,
        received_at_ns: i64,
    ) -> Event {
        self.syslog_checked(bytes, peer, transport, received_at_ns)
            .0
    }

    /// Like [`Normalizer::syslog`], also returning the decode error, for callers that log it.
    pub fn syslog_checked(
        &self,
        bytes: &[u8],
        peer: SocketAddr,
        transport: Transport,
        received_at_ns: i64,
    ) -> (Event, Option<DecodeError>) {
        let source = self.sources.lookup(peer.ip());
        let ctx = DecodeContext {
            received_at: DateTime::from_timestamp_nanos(received_at_ns),
            timezone: source.timezone,
        };
        let mut event = Event::new(received_at_ns, peer, transport, EventKind::Syslog);
        match decode(bytes, &ctx) {
            Ok(message) => {
                self.fill(&mut event, message, source.trust_host, bytes);
                (event, None)
            }
            Err(error) => {
                metrics()
                    .parse_errors
                    .with_label_values(&[EventKind::Syslog.as_str()])
                    .inc();
                event.message =
                    truncate(&String::from_utf8_lossy(bytes), MAX_UNDECODED_MESSAGE_BYTES)
                        .to_owned();
                event.raw = Some(bytes.to_vec());
                (event, Some(error))
            }
        }
    }

    /// Copies the decoded fields into the event; the host falls back to the sender's address
    /// (already set by [`Event::new`]) when the message has none or the source is not trusted.
    fn fill(&self, event: &mut Event, message: SyslogMessage, trust_host: TrustHost, bytes: &[u8]) {
        event.facility = message.facility;
        event.severity = message.severity;
        event.level = self.levels.level_for(message.severity);
        if trust_host == TrustHost::Message
            && let Some(host) = message.host.filter(|h| !h.is_empty() && h != "-")
        {
            event.host = host;
        }
        event.app = message.app;
        event.procid = message.procid;
        event.msgid = message.msgid;
        event.timestamp = message
            .timestamp
            .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true));
        event.message = message.message;
        event.structured_data = message.structured_data;
        if message.invalid_utf8 {
            event.raw = Some(bytes.to_vec());
        }
    }
}
