//! The normalized [`Event`] that every stage of the pipeline shares.
//!
//! `listen` produces raw bytes, `decode` turns them into parsed fields, `normalize` builds an
//! `Event` from those fields plus where and when the bytes arrived, `store` keeps it and `web`
//! serves it as the contract's event JSON. This module holds only data types and their JSON form;
//! it does no I/O and knows nothing of sockets or sled.

use std::fmt;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// Store-assigned event identifier: a strictly increasing sequence number, so newer events have
/// larger ids and "newest first" paging can use the id as its cursor.
pub type EventId = u64;

/// How an event reached us; part of the contract's event JSON (`transport`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    /// Lower-case name as used in JSON and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        }
    }
}

/// What kind of input an event came from: the index key and metric label `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Syslog,
    Trap,
}

impl EventKind {
    /// Every kind, in a fixed order (used to pre-create metric series and to index).
    pub const ALL: [EventKind; 2] = [EventKind::Syslog, EventKind::Trap];

    /// Lower-case name as used in JSON, query strings and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Syslog => "syslog",
            EventKind::Trap => "trap",
        }
    }

    /// Parses the JSON / query-string name.
    pub fn parse(text: &str) -> Option<EventKind> {
        match text {
            "syslog" => Some(EventKind::Syslog),
            "trap" => Some(EventKind::Trap),
            _ => None,
        }
    }

    /// Small stable number for compact on-disk encodings.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Inverse of [`EventKind::code`].
    pub fn from_code(code: u8) -> Option<EventKind> {
        Self::ALL.get(code as usize).copied()
    }
}

/// The operators' qualification of an event. `None` events are stored but never alert.
///
/// Ordered from least to most urgent so `level >= Level::Warning` reads naturally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    None,
    Low,
    Warning,
    Critical,
}

impl Level {
    /// Every level, least urgent first.
    pub const ALL: [Level; 4] = [Level::None, Level::Low, Level::Warning, Level::Critical];

    /// Lower-case name as used in JSON, query strings and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Low => "low",
            Level::Warning => "warning",
            Level::Critical => "critical",
        }
    }

    /// Parses the JSON / query-string / rule-file name.
    pub fn parse(text: &str) -> Option<Level> {
        match text {
            "none" => Some(Level::None),
            "low" => Some(Level::Low),
            "warning" => Some(Level::Warning),
            "critical" => Some(Level::Critical),
            _ => None,
        }
    }

    /// Small stable number for compact on-disk encodings and per-level arrays.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Inverse of [`Level::code`].
    pub fn from_code(code: u8) -> Option<Level> {
        Self::ALL.get(code as usize).copied()
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One RFC 5424 SD-ELEMENT, with its parameter values already unescaped (RFC 5424 §6.3.3).
///
/// Kept as an ordered list rather than a map because a sender may repeat an SD-ID or a
/// parameter name, and operators want to see exactly what arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StructuredElement {
    pub id: String,
    pub params: Vec<(String, String)>,
}

/// One SNMP variable binding, translated where a MIB name is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Varbind {
    pub oid: String,
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub value_type: String,
    pub value: String,
}

/// The SNMP-specific part of a trap event (filled by the trap issue; `None` for syslog).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrapInfo {
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub community: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    pub trap_oid: String,
    pub trap_name: Option<String>,
    pub agent: Option<String>,
    pub uptime: Option<u64>,
    pub varbinds: Vec<Varbind>,
}

/// A normalized event: what one datagram or TCP frame became.
///
/// Times are Unix nanoseconds (UTC) in memory and on disk; the JSON form renders them as RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Assigned by the store when the event is appended; 0 until then.
    pub id: EventId,
    /// When the bytes were read from the socket (Unix nanoseconds, UTC).
    pub received_at_ns: i64,
    /// The sender's address (`ip:port`).
    pub source: SocketAddr,
    pub transport: Transport,
    pub kind: EventKind,
    pub facility: Option<u8>,
    pub severity: Option<u8>,
    pub level: Level,
    /// The host the event is about: from the message, or the sender's address when the message
    /// carries none (or when the source settings say not to trust it).
    pub host: String,
    pub app: Option<String>,
    pub procid: Option<String>,
    pub msgid: Option<String>,
    /// The timestamp the sender put in the message, resolved to an absolute time and rendered
    /// as RFC 3339 with the offset it was given (or assumed) in.
    pub timestamp: Option<String>,
    pub message: String,
    pub structured_data: Vec<StructuredElement>,
    pub trap: Option<TrapInfo>,
    /// The bytes as received, kept when they did not parse or were not valid UTF-8.
    pub raw: Option<Vec<u8>>,
}

impl Event {
    /// An empty event received from `source`, its host being the sender's address, for
    /// decoders and tests to fill in.
    pub fn new(
        received_at_ns: i64,
        source: SocketAddr,
        transport: Transport,
        kind: EventKind,
    ) -> Event {
        Event::with_host(
            received_at_ns,
            source,
            transport,
            kind,
            source.ip().to_string(),
        )
    }

    /// Like [`Event::new`] with the host already known (the hot path: formatting the sender's
    /// address for every message that names its own host showed up in ingest profiles).
    pub fn with_host(
        received_at_ns: i64,
        source: SocketAddr,
        transport: Transport,
        kind: EventKind,
        host: String,
    ) -> Event {
        Event {
            id: 0,
            received_at_ns,
            source,
            transport,
            kind,
            facility: None,
            severity: None,
            level: Level::None,
            host,
            app: None,
            procid: None,
            msgid: None,
            timestamp: None,
            message: String::new(),
            structured_data: Vec::new(),
            trap: None,
            raw: None,
        }
    }

    /// A rough count of the heap bytes this event holds, used to bound queues by memory.
    pub fn approx_bytes(&self) -> usize {
        let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        std::mem::size_of::<Event>()
            + self.host.len()
            + opt(&self.app)
            + opt(&self.procid)
            + opt(&self.msgid)
            + opt(&self.timestamp)
            + self.message.len()
            + self.raw.as_ref().map_or(0, Vec::len)
            + self
                .structured_data
                .iter()
                .map(|e| {
                    e.id.len()
                        + e.params
                            .iter()
                            .map(|(k, v)| k.len() + v.len() + 48)
                            .sum::<usize>()
                })
                .sum::<usize>()
    }
}

/// Current time as Unix nanoseconds (UTC).
pub fn now_ns() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_nanos()).unwrap_or(i64::MAX)
}

/// Renders Unix nanoseconds as RFC 3339 UTC with microseconds (`2026-11-23T12:00:00.123456Z`).
pub fn format_ns(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns).to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}
