//! Builds an [`Event`] from decoded fields, the sender and its source settings.

use std::net::SocketAddr;

use crate::config::SourceTable;
use crate::event::{Event, EventKind, Level, Transport};

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

    /// Decodes one syslog datagram or frame into an event (placeholder until the decoder lands).
    pub fn syslog(
        &self,
        bytes: &[u8],
        peer: SocketAddr,
        transport: Transport,
        received_at_ns: i64,
    ) -> Event {
        let mut event = Event::new(received_at_ns, peer, transport, EventKind::Syslog);
        event.message = String::from_utf8_lossy(bytes).into_owned();
        event
    }
}
