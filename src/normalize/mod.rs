//! Builds an [`Event`] from received bytes, the sender and its source settings.
//!
//! The normalizer owns the decisions that depend on *who* sent a message rather than on its
//! text: which time zone its offset-less timestamps are in and whether its host field is
//! believed (both from [`SourceTable`]), and which level a severity maps to ([`LevelTable`]).
//! It calls the pure decoder in `decode::syslog` and counts what did not decode in
//! `trapline_parse_errors_total{kind="syslog"}`; such input still becomes an event, with the
//! raw bytes kept, so nothing is silently lost. It does no I/O and does not store anything.

pub mod trap; // SNMP notifications -> events (names from the MIBs)

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
        match decode(bytes, &ctx) {
            Ok(mut message) => {
                let host = match message.host.take() {
                    Some(host)
                        if source.trust_host == TrustHost::Message
                            && !host.is_empty()
                            && host != "-" =>
                    {
                        host
                    }
                    _ => peer.ip().to_string(),
                };
                let mut event =
                    Event::with_host(received_at_ns, peer, transport, EventKind::Syslog, host);
                self.fill(&mut event, message, bytes);
                (event, None)
            }
            Err(error) => {
                let mut event = Event::new(received_at_ns, peer, transport, EventKind::Syslog);
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

    /// Copies the decoded fields (all but the host, chosen by the caller) into the event.
    fn fill(&self, event: &mut Event, message: SyslogMessage, bytes: &[u8]) {
        event.facility = message.facility;
        event.severity = message.severity;
        event.level = self.levels.level_for(message.severity);
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

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use proptest::prelude::*;

    use super::*;
    use crate::config::{SourceSettings, SourceTable, TrustHost};

    const RECEIVED_NS: i64 = 1_795_435_200_000_000_000; // 2026-11-23T12:00:00Z

    fn normalizer() -> Normalizer {
        let paris = SourceSettings {
            name: "paris".into(),
            networks: vec!["10.1.0.0/16".parse().expect("net")],
            timezone: chrono_tz::Europe::Paris,
            trust_host: TrustHost::Message,
        };
        let relay = SourceSettings {
            name: "relay".into(),
            networks: vec!["10.2.0.0/16".parse().expect("net")],
            timezone: chrono_tz::UTC,
            trust_host: TrustHost::Sender,
        };
        Normalizer::new(SourceTable::new(vec![paris, relay]), LevelTable::default())
    }

    fn peer(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().expect("ip"), 51_000)
    }

    /// Normalizes `input` from `from` and checks host, level, timestamp and message.
    fn check(input: &[u8], from: &str, expected: (&str, Level, Option<&str>, &str)) -> Event {
        let event = normalizer().syslog(input, peer(from), Transport::Udp, RECEIVED_NS);
        let actual = (
            event.host.as_str(),
            event.level,
            event.timestamp.as_deref(),
            event.message.as_str(),
        );
        assert_eq!(
            actual,
            expected,
            "input: {:?}",
            String::from_utf8_lossy(input)
        );
        event
    }

    #[test]
    fn level_table_follows_the_contract() {
        let table = LevelTable::default();
        let levels: Vec<Level> = (0..8).map(|s| table.level_for(Some(s))).collect();
        use Level::*;
        assert_eq!(
            levels,
            [Critical, Critical, Warning, Low, Low, None, None, None]
        );
        assert_eq!(table.level_for(Option::None), None);
        assert_eq!(table.level_for(Some(9)), None);
    }

    #[test]
    fn events_from_decoded_messages() {
        let event = check(
            b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed",
            "192.0.2.7",
            (
                "mymachine",
                Level::Warning,
                Some("2026-10-11T22:14:15Z"),
                "'su root' failed",
            ),
        );
        assert_eq!(
            (event.facility, event.severity, event.app.as_deref()),
            (Some(4), Some(2), Some("su"))
        );
        assert_eq!(
            (event.kind, event.raw.as_ref()),
            (EventKind::Syslog, Option::None)
        );
        // Source zone for offset-less timestamps.
        check(
            b"<12>Jul  1 12:00:00 web nginx: upstream slow",
            "10.1.2.3",
            (
                "web",
                Level::Low,
                Some("2026-07-01T12:00:00+02:00"),
                "upstream slow",
            ),
        );
        // No host in the message (pfSense), a NIL host, or an untrusted source: the sender's address.
        check(
            b"<134>Jul  3 19:10:30 filterlog[1]: 5,,,1000000103,igb1,match,block,in,4",
            "192.0.2.8",
            (
                "192.0.2.8",
                Level::None,
                Some("2026-07-03T19:10:30Z"),
                "5,,,1000000103,igb1,match,block,in,4",
            ),
        );
        check(
            b"<11>1 - - app - - - disk failed",
            "192.0.2.9",
            ("192.0.2.9", Level::Low, Option::None, "disk failed"),
        );
        check(
            b"<10>1 2026-11-23T08:00:00Z liar app - - - spoofed",
            "10.2.0.1",
            (
                "10.2.0.1",
                Level::Warning,
                Some("2026-11-23T08:00:00Z"),
                "spoofed",
            ),
        );
    }

    #[test]
    fn invalid_utf8_keeps_raw_bytes() {
        let input = b"<14>Oct 11 22:14:15 host app: caf\xe9";
        let event = check(
            input,
            "192.0.2.7",
            (
                "host",
                Level::None,
                Some("2026-10-11T22:14:15Z"),
                "caf\u{FFFD}",
            ),
        );
        assert_eq!(event.raw.as_deref(), Some(&input[..]));
    }

    #[test]
    fn undecodable_input_is_kept_raw_and_counted() {
        let errors = || metrics().parse_errors.with_label_values(&["syslog"]).get();
        let before = errors();
        let (event, error) = normalizer().syslog_checked(
            b"<999>Oct 11 22:14:15 h a: x",
            peer("192.0.2.7"),
            Transport::Tcp,
            RECEIVED_NS,
        );
        assert!(matches!(error, Some(DecodeError::InvalidPri(_))));
        assert_eq!(
            (event.severity, event.facility, event.level),
            (Option::None, Option::None, Level::None)
        );
        assert_eq!(event.message, "<999>Oct 11 22:14:15 h a: x");
        assert_eq!(
            event.raw.as_deref(),
            Some(&b"<999>Oct 11 22:14:15 h a: x"[..])
        );
        assert_eq!(event.host, "192.0.2.7");
        let big = vec![0u8; 10_000];
        let event = normalizer().syslog(&big, peer("192.0.2.7"), Transport::Udp, RECEIVED_NS);
        assert_eq!(
            (event.message.len(), event.raw.map(|r| r.len())),
            (MAX_UNDECODED_MESSAGE_BYTES, Some(10_000))
        );
        // Other tests may count in parallel, so only a lower bound holds.
        assert!(errors() >= before + 2);
    }

    proptest! {
        #[test]
        fn normalize_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400), ns in any::<i64>()) {
            let event = normalizer().syslog(&bytes, peer("10.1.0.1"), Transport::Udp, ns);
            prop_assert!(event.level == Level::None || event.severity.is_some());
        }
    }
}
