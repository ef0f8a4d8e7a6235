//! Stored events as syslog messages for an upstream: RFC 5424 (§6) or RFC 3164 (§4.1).
//!
//! Pure functions of the event's stored fields, so a SIEM sees what the device sent: its
//! facility and severity, host, app, process id, message id, structured data and text. What a
//! device sent is untrusted, and these fields become the header of somebody else's parser:
//! header fields are reduced to printable ASCII without spaces and cut to the RFC's lengths,
//! SD-PARAM values are escaped (§6.3.3), and the whole message is cut to `max_bytes` at a
//! character boundary. Framing (octet counting) is the sender's; this module does no I/O.
//!
//! Events without a syslog priority get one: a trap is `daemon` (like snmptrapd) with a
//! severity from its level (critical → crit, warning → warning, low → notice, none → info); a
//! message that did not parse is `user.notice` (RFC 3164 §4.3.3). A trap's APP-NAME is
//! `snmptrap`, its MSGID the notification's name, its text the one-line summary the trap
//! normalizer wrote (name and varbinds).

use std::borrow::Cow;
use std::fmt::Write;

use chrono::{DateTime, FixedOffset, Timelike, Utc};

use crate::config::ForwardFormat;
use crate::event::{Event, EventKind, Level, StructuredElement};

/// RFC 5424 §6: HOSTNAME, APP-NAME, PROCID, MSGID lengths; SD-NAME (§6.3.2).
const HOSTNAME_MAX: usize = 255;
const APP_NAME_MAX: usize = 48;
const PROCID_MAX: usize = 128;
const MSGID_MAX: usize = 32;
const SD_NAME_MAX: usize = 32;
/// RFC 3164 §4.1.3: the TAG is at most 32 characters.
const TAG_MAX: usize = 32;

/// The APP-NAME of forwarded traps.
const TRAP_APP: &str = "snmptrap";
/// Facilities used when the event has none: `daemon` for traps, `user` otherwise.
const FACILITY_DAEMON: u8 = 3;
const FACILITY_USER: u8 = 1;
const SEVERITY_NOTICE: u8 = 5;

/// Writes `event` in `format` into `out` (cleared first), at most `max_bytes` long.
pub fn format_event(event: &Event, format: ForwardFormat, max_bytes: usize, out: &mut Vec<u8>) {
    out.clear();
    let mut text = String::with_capacity(128 + event.message.len());
    match format {
        ForwardFormat::Rfc5424 => rfc5424(event, max_bytes, &mut text),
        ForwardFormat::Rfc3164 => rfc3164(event, max_bytes, &mut text),
    }
    out.extend_from_slice(text.as_bytes());
}

/// `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [SP MSG]` (RFC 5424 §6).
fn rfc5424(event: &Event, max_bytes: usize, out: &mut String) {
    let _ = write!(
        out,
        "<{}>1 {} {} {} {} {} ",
        pri(event),
        timestamp_5424(event),
        header_field(&event.host, HOSTNAME_MAX),
        header_field(app_name(event).unwrap_or(""), APP_NAME_MAX),
        header_field(event.procid.as_deref().unwrap_or(""), PROCID_MAX),
        header_field(msgid(event).unwrap_or(""), MSGID_MAX),
    );
    let header = out.len();
    structured_data(&event.structured_data, out);
    // Structured data that leaves no room for any text is left out rather than cut (a cut
    // element would not parse); the header alone is far below the smallest allowed maximum.
    if out.len() + 1 > max_bytes {
        out.truncate(header);
        out.push('-');
    }
    if !event.message.is_empty() {
        out.push(' ');
        let room = max_bytes.saturating_sub(out.len());
        out.push_str(cut(&event.message, room));
    }
}

/// `<PRI>Mmm dd hh:mm:ss HOSTNAME TAG: MSG` (RFC 3164 §4.1), TAG being `app[procid]`. The
/// text is flattened to one line: 3164 receivers are often line-based.
fn rfc3164(event: &Event, max_bytes: usize, out: &mut String) {
    let _ = write!(
        out,
        "<{}>{} {} ",
        pri(event),
        timestamp_3164(event),
        header_field(&event.host, HOSTNAME_MAX),
    );
    if let Some(app) = app_name(event) {
        out.push_str(&tag_field(app, TAG_MAX));
        if let Some(procid) = &event.procid {
            let _ = write!(out, "[{}]", tag_field(procid, PROCID_MAX));
        }
        out.push_str(": ");
    }
    let room = max_bytes.saturating_sub(out.len());
    for c in cut(&event.message, room).chars() {
        out.push(if matches!(c, '\r' | '\n' | '\0') {
            ' '
        } else {
            c
        });
    }
}

/// PRI = facility × 8 + severity (RFC 5424 §6.2.1), with the defaults described above.
fn pri(event: &Event) -> u16 {
    let (facility, severity) = match event.kind {
        EventKind::Trap => (
            event.facility.unwrap_or(FACILITY_DAEMON),
            event.severity.unwrap_or(match event.level {
                Level::Critical => 2,
                Level::Warning => 4,
                Level::Low => 5,
                Level::None => 6,
            }),
        ),
        EventKind::Syslog => (
            event.facility.unwrap_or(FACILITY_USER),
            event.severity.unwrap_or(SEVERITY_NOTICE),
        ),
    };
    u16::from(facility.min(23)) * 8 + u16::from(severity.min(7))
}

fn app_name(event: &Event) -> Option<&str> {
    match (&event.app, event.kind) {
        (Some(app), _) => Some(app),
        (None, EventKind::Trap) => Some(TRAP_APP),
        (None, EventKind::Syslog) => None,
    }
}

/// The MSGID as sent; for a trap, the notification's name without its module (`linkDown`).
fn msgid(event: &Event) -> Option<&str> {
    event.msgid.as_deref().or_else(|| {
        let name = event.trap.as_ref()?.trap_name.as_deref()?;
        Some(name.rsplit("::").next().unwrap_or(name))
    })
}

/// The event's time: the timestamp it carried (in the offset it was sent with), else when it
/// was received (UTC).
fn event_time(event: &Event) -> DateTime<FixedOffset> {
    event
        .timestamp
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .unwrap_or_else(|| {
            DateTime::<Utc>::from_timestamp_nanos(event.received_at_ns).fixed_offset()
        })
}

/// RFC 5424 §6.2.3: RFC 3339 with at most six fraction digits, `Z` for UTC.
fn timestamp_5424(event: &Event) -> String {
    let time = event_time(event);
    let micros = time.nanosecond() / 1000 * 1000;
    time.with_nanosecond(micros)
        .unwrap_or(time)
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// RFC 3164 §4.1.2: `Mmm dd hh:mm:ss`, the day padded with a space, in the event's offset.
fn timestamp_3164(event: &Event) -> String {
    event_time(event).format("%b %e %H:%M:%S").to_string()
}

/// A header field: printable ASCII without spaces (RFC 5424 PRINTUSASCII, §6), anything else
/// as `_`, at most `max` characters; `-` (the NILVALUE) when empty.
fn header_field(text: &str, max: usize) -> Cow<'_, str> {
    printable(text, max, |c| c.is_ascii_graphic(), "-")
}

/// A 3164 TAG part: like a header field, without the characters that end a tag (`[`, `]`,
/// `:`).
fn tag_field(text: &str, max: usize) -> Cow<'_, str> {
    printable(
        text,
        max,
        |c| c.is_ascii_graphic() && !matches!(c, '[' | ']' | ':'),
        "-",
    )
}

/// An SD-NAME (SD-ID or PARAM-NAME, RFC 5424 §6.3.2): printable ASCII except `=`, space, `]`
/// and `"`, at most 32 characters.
fn sd_name(text: &str) -> Cow<'_, str> {
    printable(
        text,
        SD_NAME_MAX,
        |c| c.is_ascii_graphic() && !matches!(c, '=' | ']' | '"'),
        "_",
    )
}

/// `text` with characters failing `allowed` replaced by `_` and cut to `max` characters;
/// `empty` when nothing is left. Borrows when nothing had to change.
fn printable<'a>(
    text: &'a str,
    max: usize,
    allowed: impl Fn(char) -> bool,
    empty: &'static str,
) -> Cow<'a, str> {
    if text.is_empty() {
        return Cow::Borrowed(empty);
    }
    if text.len() <= max && text.chars().all(&allowed) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .take(max)
            .map(|c| if allowed(c) { c } else { '_' })
            .collect(),
    )
}

/// STRUCTURED-DATA (RFC 5424 §6.3): `-` when there is none.
fn structured_data(elements: &[StructuredElement], out: &mut String) {
    if elements.is_empty() {
        out.push('-');
        return;
    }
    for element in elements {
        out.push('[');
        out.push_str(&sd_name(&element.id));
        for (name, value) in &element.params {
            out.push(' ');
            out.push_str(&sd_name(name));
            out.push_str("=\"");
            escape_param_value(value, out);
            out.push('"');
        }
        out.push(']');
    }
}

/// RFC 5424 §6.3.3: `"`, `\` and `]` in a PARAM-VALUE are escaped with a backslash.
fn escape_param_value(value: &str, out: &mut String) {
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
}

/// The longest prefix of `text` of at most `max_bytes` bytes that ends on a character boundary.
fn cut(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Transport, TrapInfo};

    const RECEIVED_NS: i64 = 1_795_435_200_123_456_789; // 2026-11-23T12:00:00.123456789Z

    fn syslog_event() -> Event {
        let mut e = Event::with_host(
            RECEIVED_NS,
            "192.0.2.7:514".parse().unwrap(),
            Transport::Udp,
            EventKind::Syslog,
            "web01".into(),
        );
        e.facility = Some(16);
        e.severity = Some(6);
        e.app = Some("nginx".into());
        e.procid = Some("42".into());
        e.msgid = Some("ACCESS".into());
        e.timestamp = Some("2026-11-23T13:00:00.987654321+01:00".into());
        e.message = "GET / 200".into();
        e
    }

    fn check(event: &Event, format: ForwardFormat, max_bytes: usize, expected: &str) {
        let mut out = Vec::new();
        format_event(event, format, max_bytes, &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn rfc5424_keeps_what_the_device_sent() {
        let mut e = syslog_event();
        e.structured_data = vec![StructuredElement {
            id: "origin@32473".into(),
            params: vec![
                ("ip".into(), "192.0.2.7".into()),
                ("note".into(), r#"a "quoted" \path] x"#.into()),
            ],
        }];
        check(
            &e,
            ForwardFormat::Rfc5424,
            8192,
            r#"<134>1 2026-11-23T13:00:00.987654+01:00 web01 nginx 42 ACCESS [origin@32473 ip="192.0.2.7" note="a \"quoted\" \\path\] x"] GET / 200"#,
        );
    }

    #[test]
    fn rfc3164_has_the_bsd_header_and_one_line() {
        let mut e = syslog_event();
        e.message = "line one\nline two\r\n".into();
        e.timestamp = Some("2026-11-03T08:05:09Z".into());
        check(
            &e,
            ForwardFormat::Rfc3164,
            8192,
            "<134>Nov  3 08:05:09 web01 nginx[42]: line one line two  ",
        );
        e.procid = None;
        e.app = None;
        e.message = "no tag".into();
        check(
            &e,
            ForwardFormat::Rfc3164,
            8192,
            "<134>Nov  3 08:05:09 web01 no tag",
        );
    }

    #[test]
    fn missing_fields_become_nil_values_and_the_receive_time() {
        let mut e = Event::new(
            RECEIVED_NS,
            "192.0.2.7:514".parse().unwrap(),
            Transport::Tcp,
            EventKind::Syslog,
        );
        e.message = "garbage that did not parse".into();
        check(
            &e,
            ForwardFormat::Rfc5424,
            8192,
            "<13>1 2026-11-23T12:00:00.123456Z 192.0.2.7 - - - - garbage that did not parse",
        );
        e.message.clear();
        check(
            &e,
            ForwardFormat::Rfc5424,
            8192,
            "<13>1 2026-11-23T12:00:00.123456Z 192.0.2.7 - - - -",
        );
    }

    #[test]
    fn header_fields_and_sd_names_cannot_break_the_header() {
        let mut e = syslog_event();
        e.host = "evil host\n<0>1 fake".into();
        e.app = Some("a:b[c] d".into());
        e.procid = Some("x".repeat(300));
        e.msgid = Some("ümlaut".into());
        e.structured_data = vec![StructuredElement {
            id: "bad id]".into(),
            params: vec![("k=\"v".into(), "ok".into()), ("".into(), "".into())],
        }];
        let mut out = Vec::new();
        format_event(&e, ForwardFormat::Rfc5424, 8192, &mut out);
        let text = String::from_utf8(out.clone()).unwrap();
        let fields: Vec<&str> = text.splitn(7, ' ').collect();
        assert_eq!(fields[2], "evil_host_<0>1_fake");
        assert_eq!(fields[3], "a:b[c]_d");
        assert_eq!(fields[4], "x".repeat(128));
        assert_eq!(fields[5], "_mlaut");
        assert_eq!(fields[6], r#"[bad_id_ k__v="ok" _=""] GET / 200"#);
        format_event(&e, ForwardFormat::Rfc3164, 8192, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("<134>Nov 23 13:00:00 evil_host_<0>1_fake a_b_c__d[xxxx"),
            "{text}"
        );
    }

    #[test]
    fn messages_are_cut_to_the_maximum_on_a_character_boundary() {
        let mut e = syslog_event();
        e.message = "é".repeat(1000); // 2000 bytes
        for format in [ForwardFormat::Rfc5424, ForwardFormat::Rfc3164] {
            let mut out = Vec::new();
            format_event(&e, format, 1025, &mut out);
            assert!(out.len() <= 1025 && out.len() >= 1023, "{}", out.len());
            assert!(String::from_utf8(out).unwrap().ends_with('é'));
        }
        // Structured data that leaves no room is left out, not cut in the middle.
        e.structured_data = vec![StructuredElement {
            id: "big".into(),
            params: vec![("v".into(), "x".repeat(2000))],
        }];
        let mut out = Vec::new();
        format_event(&e, ForwardFormat::Rfc5424, 1024, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(" ACCESS - é"), "{text}");
        assert!(text.len() <= 1024);
    }

    #[test]
    fn traps_get_a_priority_an_app_and_their_name() {
        let mut e = Event::with_host(
            RECEIVED_NS,
            "192.0.2.1:162".parse().unwrap(),
            Transport::Udp,
            EventKind::Trap,
            "sw1".into(),
        );
        e.level = Level::Warning;
        e.message = "linkDown ifIndex=2 ifDescr=eth1".into();
        e.trap = Some(TrapInfo {
            version: "2c".into(),
            community: Some("public".into()),
            user: None,
            trap_oid: "1.3.6.1.6.3.1.1.5.3".into(),
            trap_name: Some("IF-MIB::linkDown".into()),
            agent: None,
            uptime: None,
            varbinds: Vec::new(),
        });
        check(
            &e,
            ForwardFormat::Rfc5424,
            8192,
            "<28>1 2026-11-23T12:00:00.123456Z sw1 snmptrap - linkDown - linkDown ifIndex=2 ifDescr=eth1",
        );
        check(
            &e,
            ForwardFormat::Rfc3164,
            8192,
            "<28>Nov 23 12:00:00 sw1 snmptrap: linkDown ifIndex=2 ifDescr=eth1",
        );
    }
}
