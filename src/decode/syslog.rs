//! Syslog decoding: one datagram or frame in, one [`SyslogMessage`] out.
//!
//! [`decode`] owns the framing-level clean-up (trailing CR/LF/NUL, a leading UTF-8 BOM, invalid
//! UTF-8, binary junk), the `<PRI>` (parsed here with nom because `syslog_loose` drops it when the
//! rest of a line does not parse), the year and zone policy for timestamps that carry neither,
//! and the size bounds on every field. The header itself is parsed by `syslog_loose` (RFC 5424
//! and RFC 3164), except for the vendor forms it gets wrong, which `vendor` handles before it
//! (Cisco IOS/ASA/NX-OS, FortiGate) or refines after it (Cisco mnemonics, pfSense `filterlog`,
//! Snare for Windows).
//!
//! This module is pure: no I/O, no metrics, no clock reads (the receive time comes in the
//! [`DecodeContext`]). It does not pick the event's host or level; `normalize` does that.

mod vendor;

use std::borrow::Cow;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use nom::{
    IResult, Parser, bytes::complete::take_while_m_n, character::complete::char,
    sequence::delimited,
};
use syslog_loose::{IncompleteDate, Protocol, Variant};

use crate::event::StructuredElement;

/// Longest host name kept (bytes); RFC 5424 §6.2.4 allows 255.
pub const MAX_HOST_BYTES: usize = 255;
/// Longest APP-NAME, PROCID and MSGID kept (bytes); RFC 5424 §6.2.5–6.2.7 allow 48/128/32, we
/// are lenient up to 128 because RFC 3164 tags and vendor mnemonics run longer.
pub const MAX_FIELD_BYTES: usize = 128;
/// SD-ELEMENTs kept per message; the rest are dropped so one message cannot blow up an event.
pub const MAX_SD_ELEMENTS: usize = 64;
/// SD-PARAMs kept per SD-ELEMENT.
pub const MAX_SD_PARAMS: usize = 128;

/// What the decoder needs to know besides the bytes: when they arrived and which zone the
/// sender's offset-less timestamps are in (from the source settings).
#[derive(Debug, Clone, Copy)]
pub struct DecodeContext {
    pub received_at: DateTime<Utc>,
    pub timezone: chrono_tz::Tz,
}

/// Which header shape a message was recognised as; useful for debugging parsers and for rules
/// that only apply to one kind of device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyslogFormat {
    /// RFC 5424 (`<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG`).
    Rfc5424,
    /// RFC 3164 / BSD (`<PRI>Mmm dd hh:mm:ss HOST TAG: MSG`) and its loose variants.
    Rfc3164,
    /// Cisco IOS `seq: *Mmm dd hh:mm:ss.mmm: %FAC-SEV-MNEMONIC: text`, relayed or direct.
    CiscoIos,
    /// Cisco ASA/FTD/PIX `%ASA-SEV-ID: text`, usually with a year in the timestamp.
    CiscoAsa,
    /// Cisco NX-OS `YYYY Mmm dd hh:mm:ss host: %FAC-SEV-MNEMONIC: text`.
    CiscoNxos,
    /// FortiGate `date=… time=… devname="…" key=value …` with no syslog header.
    Fortigate,
    /// pfSense/OPNsense `filterlog[pid]: <CSV>` packet-filter lines.
    Pfsense,
    /// Windows events forwarded by Snare (`MSWinEventLog<TAB>…`), in 3164 or 5424.
    Snare,
    /// No header could be recognised: the whole text (after any PRI) is the message.
    NoHeader,
}

impl SyslogFormat {
    /// Lower-case name for logs and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            SyslogFormat::Rfc5424 => "rfc5424",
            SyslogFormat::Rfc3164 => "rfc3164",
            SyslogFormat::CiscoIos => "cisco_ios",
            SyslogFormat::CiscoAsa => "cisco_asa",
            SyslogFormat::CiscoNxos => "cisco_nxos",
            SyslogFormat::Fortigate => "fortigate",
            SyslogFormat::Pfsense => "pfsense",
            SyslogFormat::Snare => "snare",
            SyslogFormat::NoHeader => "no_header",
        }
    }
}

/// The fields of one syslog message, owned, bounded and with SD values unescaped.
///
/// `facility`/`severity` are always set for a decoded message (PRI 13 when the sender sent
/// none, RFC 3164 §4.3.3); they are `Option` so the normalizer can treat "did not decode" the
/// same way. `invalid_utf8` tells the caller to keep the raw bytes, since `message` and the
/// other text fields then hold U+FFFD replacements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogMessage {
    pub format: SyslogFormat,
    pub facility: Option<u8>,
    pub severity: Option<u8>,
    pub host: Option<String>,
    pub app: Option<String>,
    pub procid: Option<String>,
    pub msgid: Option<String>,
    pub timestamp: Option<DateTime<FixedOffset>>,
    pub message: String,
    pub structured_data: Vec<StructuredElement>,
    pub invalid_utf8: bool,
}

impl SyslogMessage {
    /// A message with only a format and text; parsers fill in the rest.
    fn bare(format: SyslogFormat, message: &str) -> SyslogMessage {
        SyslogMessage {
            format,
            facility: None,
            severity: None,
            host: None,
            app: None,
            procid: None,
            msgid: None,
            timestamp: None,
            message: message.to_owned(),
            structured_data: Vec::new(),
            invalid_utf8: false,
        }
    }
}

/// Why a datagram is not a syslog message at all. The normalizer stores such input raw and
/// counts it; it never stops a listener.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Nothing left after stripping line endings, NULs and a BOM.
    #[error("empty message")]
    Empty,
    /// A `<` that starts a PRI but is not `<` 1–5 digits `>` with a value of at most 191
    /// (RFC 5424 §6.2.1). Leading zeros (`<0013>`) are tolerated.
    #[error("invalid PRI {0:?}")]
    InvalidPri(String),
    /// More than a tenth of the bytes are control characters other than TAB, CR and LF: this
    /// is binary data (a misdirected SNMP packet, TLS on the plain port), not text.
    #[error("binary input: {control_bytes} control bytes in {len} bytes")]
    Binary { control_bytes: usize, len: usize },
}

/// Decodes one syslog datagram or frame. Never panics; see [`DecodeError`] for what is refused.
pub fn decode(bytes: &[u8], ctx: &DecodeContext) -> Result<SyslogMessage, DecodeError> {
    let bytes = trim_frame(bytes);
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    check_text(bytes)?;
    let (text, invalid_utf8) = match std::str::from_utf8(bytes) {
        Ok(text) => (Cow::Borrowed(text), false),
        Err(_) => (String::from_utf8_lossy(bytes), true),
    };
    let (pri, rest) = split_pri(&text)?;
    let mut message = parse_body(rest, ctx);
    apply_pri(&mut message, pri);
    message.invalid_utf8 = invalid_utf8;
    bound_fields(&mut message);
    Ok(message)
}

/// Strips what transports leave around a message: trailing CR, LF and NUL (RFC 6587 framing,
/// C senders that count the terminator) and a leading UTF-8 BOM.
fn trim_frame(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b'\r' | b'\n' | 0))
        .map_or(0, |i| i + 1);
    &bytes[..end]
}

/// Refuses input that is mostly control bytes (see [`DecodeError::Binary`]).
fn check_text(bytes: &[u8]) -> Result<(), DecodeError> {
    let control_bytes = bytes
        .iter()
        .filter(|&&b| (b < 0x20 && !matches!(b, b'\t' | b'\r' | b'\n')) || b == 0x7F)
        .count();
    if control_bytes * 10 > bytes.len() {
        return Err(DecodeError::Binary {
            control_bytes,
            len: bytes.len(),
        });
    }
    Ok(())
}

/// Splits off the PRI (RFC 5424 §6.2.1, RFC 3164 §4.1.1). Text that does not start with `<`
/// followed by a digit or `>` has no PRI (it may be an XML body); anything else that starts like
/// a PRI must be a valid one.
fn split_pri(text: &str) -> Result<(Option<u8>, &str), DecodeError> {
    match text.as_bytes() {
        [b'<', b'0'..=b'9' | b'>', ..] => {}
        _ => return Ok((None, text)),
    }
    let parsed: IResult<&str, &str> = delimited(
        char('<'),
        take_while_m_n(1, 5, |c: char| c.is_ascii_digit()),
        char('>'),
    )
    .parse(text);
    let invalid = || DecodeError::InvalidPri(truncate(text, 8).to_owned());
    let (rest, digits) = parsed.map_err(|_| invalid())?;
    match digits.parse::<u16>() {
        Ok(value) if value <= 191 => Ok((Some(value as u8), rest)),
        _ => Err(invalid()),
    }
}

/// Sets facility and severity from the PRI, or from RFC 3164 §4.3.3's default PRI 13 (user,
/// notice) when there was none, in which case a severity a vendor parser found in the text
/// (a Cisco `%FAC-SEV-…`, a FortiGate `level=`) wins over the default notice.
fn apply_pri(message: &mut SyslogMessage, pri: Option<u8>) {
    match pri {
        Some(pri) => {
            message.facility = Some(pri >> 3);
            message.severity = Some(pri & 7);
        }
        None => {
            message.facility = Some(1);
            message.severity = Some(message.severity.unwrap_or(5));
        }
    }
}

/// Parses everything after the PRI: vendor forms `syslog_loose` cannot read first, then the
/// standard header, then vendor refinements of the standard parse.
fn parse_body(rest: &str, ctx: &DecodeContext) -> SyslogMessage {
    if let Some(message) = vendor::fortigate(rest, ctx) {
        return message;
    }
    if let Some(message) = vendor::cisco(rest, ctx) {
        return message;
    }
    let mut message = parse_standard(rest, ctx)
        .unwrap_or_else(|| SyslogMessage::bare(SyslogFormat::NoHeader, rest.trim()));
    vendor::refine(&mut message, rest, ctx);
    message
}

/// RFC 5424 (§6) or RFC 3164 (§4.1) header via `syslog_loose`; `None` when neither parses.
///
/// RFC 3164 §4.1.2 says header fields are separated by one space, `syslog_loose` insists on it,
/// and some senders pad with several; when a 3164 parse finds no tag and the header has runs
/// of spaces, it is parsed again with them collapsed (the MSG keeps its spacing).
fn parse_standard(rest: &str, ctx: &DecodeContext) -> Option<SyslogMessage> {
    let first = parse_standard_once(rest, ctx)?;
    if first.format != SyslogFormat::Rfc3164 || first.app.is_some() {
        return Some(first);
    }
    let Some(collapsed) = collapse_header_spaces(rest) else {
        return Some(first);
    };
    match parse_standard_once(&collapsed, ctx) {
        Some(second) if second.app.is_some() => Some(second),
        _ => Some(first),
    }
}

/// `rest` with runs of spaces in the header (up to the first `": "`) collapsed, or `None` when
/// there is nothing to collapse.
fn collapse_header_spaces(rest: &str) -> Option<String> {
    let end = rest.find(": ")?;
    let header = &rest[..end];
    if !header.contains("  ") {
        return None;
    }
    let mut collapsed = String::with_capacity(rest.len());
    for word in header.split(' ').filter(|w| !w.is_empty()) {
        if !collapsed.is_empty() {
            collapsed.push(' ');
        }
        collapsed.push_str(word);
    }
    collapsed.push_str(&rest[end..]);
    Some(collapsed)
}

fn parse_standard_once(rest: &str, ctx: &DecodeContext) -> Option<SyslogMessage> {
    let rewritten = assume_offset_5424(rest, ctx);
    let input = rewritten.as_deref().unwrap_or(rest);
    let get_year = move |date: IncompleteDate| closest_year(ctx, date);
    let parsed = syslog_loose::parse_message_with_year_exact_tz(
        input,
        get_year,
        Some(ctx.timezone),
        Variant::Either,
    )
    .ok()?;
    let format = match parsed.protocol {
        Protocol::RFC5424(_) => SyslogFormat::Rfc5424,
        Protocol::RFC3164 => SyslogFormat::Rfc3164,
    };
    // RFC 5424 §6.4: the MSG may start with a BOM to say it is UTF-8.
    let text = parsed.msg.strip_prefix('\u{FEFF}').unwrap_or(parsed.msg);
    let mut message = SyslogMessage::bare(format, text);
    message.timestamp = parsed.timestamp;
    message.host = parsed.hostname.filter(|h| *h != "-").map(str::to_owned);
    message.app = parsed.appname.map(str::to_owned);
    message.procid = parsed.procid.map(|p| p.to_string());
    message.msgid = parsed.msgid.map(str::to_owned);
    message.structured_data = parsed
        .structured_data
        .iter()
        .take(MAX_SD_ELEMENTS)
        .map(owned_element)
        .collect();
    if format == SyslogFormat::Rfc3164 {
        fix_tag_as_host(&mut message, input, parsed.hostname);
        if let Some(naive) = vendor::timestamp_with_year(input) {
            message.timestamp = resolve_local(ctx, naive, None);
        }
    }
    Some(message)
}

/// Copies one SD-ELEMENT with its values unescaped (RFC 5424 §6.3.3: `\"`, `\\`, `\]`).
fn owned_element(element: &syslog_loose::StructuredElement<&str>) -> StructuredElement {
    StructuredElement {
        id: truncate(element.id, MAX_FIELD_BYTES).to_owned(),
        params: element
            .params()
            .take(MAX_SD_PARAMS)
            .map(|(name, value)| (truncate(name, MAX_FIELD_BYTES).to_owned(), value))
            .collect(),
    }
}

/// `syslog_loose` reads `<13>Mar  1 12:00:00 app: msg` (a tag and no host, as pfSense and many
/// embedded senders do) as host `app`. RFC 3164 §4.1.3 has the TAG end at `:` or `[`, and a
/// host never does, so a "host" written `name[pid]` or directly followed by `:` is the tag.
/// Exception: Cisco's `host: %FAC-SEV-MNEMONIC:` where the colon-terminated word is the host.
fn fix_tag_as_host(message: &mut SyslogMessage, input: &str, raw_host: Option<&str>) {
    if message.app.is_some() {
        return;
    }
    let Some(host) = message.host.take() else {
        return;
    };
    if let Some((app, procid)) = split_tag(&host) {
        message.app = Some(app.to_owned());
        message.procid = Some(procid.to_owned());
    } else if raw_host.is_some_and(|h| followed_by_colon(input, h))
        && !message.message.starts_with('%')
    {
        message.app = Some(host);
    } else {
        message.host = Some(host);
    }
}

/// `name[pid]` → (`name`, `pid`) (RFC 3164 §5.3's usual TAG form).
pub(crate) fn split_tag(tag: &str) -> Option<(&str, &str)> {
    let (name, pid) = tag.strip_suffix(']')?.split_once('[')?;
    (!name.is_empty() && !pid.is_empty() && !pid.contains(['[', ']'])).then_some((name, pid))
}

/// Whether `field`, a slice of `input`, is immediately followed by `:` in `input`.
fn followed_by_colon(input: &str, field: &str) -> bool {
    let start = (field.as_ptr() as usize).checked_sub(input.as_ptr() as usize);
    start
        .and_then(|start| input.get(start + field.len()..))
        .is_some_and(|after| after.starts_with(':'))
}

/// RFC 5424 §6.2.3 requires an offset, but some devices (Juniper SRX among them) omit it. Such a
/// timestamp is read in the source's zone; the line is rewritten with the offset so
/// `syslog_loose` accepts it. `None` when nothing needs rewriting.
fn assume_offset_5424(rest: &str, ctx: &DecodeContext) -> Option<String> {
    let after_version = rest.strip_prefix("1 ")?;
    let end = after_version.find(' ').unwrap_or(after_version.len());
    let stamp = &after_version[..end];
    if stamp.len() < 19
        || stamp.ends_with(['Z', 'z'])
        || stamp.get(19..).is_none_or(|zone| zone.contains(['+', '-']))
    {
        return None;
    }
    let naive = NaiveDateTime::parse_from_str(stamp, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    let local = resolve_local(ctx, naive, None)?;
    let fixed = local.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false);
    Some(format!("1 {fixed}{}", &after_version[end..]))
}

/// The year for a year-less RFC 3164 timestamp: of last, this and next year, the one that puts
/// the timestamp closest to the receive time, so clocks a little ahead or behind across New
/// Year still land in the right year (`Dec 31 23:59:59` received on Jan 1 is last year).
pub(crate) fn closest_year(
    ctx: &DecodeContext,
    (month, day, hour, minute, second): IncompleteDate,
) -> i32 {
    // Compared as wall-clock times in the source zone: one zone conversion instead of three,
    // and a DST hour cannot change which year is closest.
    let received = ctx.received_at.with_timezone(&ctx.timezone).naive_local();
    let received_year = received.year();
    [received_year - 1, received_year, received_year + 1]
        .into_iter()
        .filter_map(|year| {
            let naive =
                NaiveDate::from_ymd_opt(year, month, day)?.and_hms_opt(hour, minute, second)?;
            Some((year, (naive - received).num_seconds().unsigned_abs()))
        })
        .min_by_key(|&(_, distance)| distance)
        .map_or(received_year, |(year, _)| year)
}

/// A wall-clock time in the given offset, or else in the source's zone (the earlier instant
/// when a DST change makes it ambiguous, `None` when it falls in a DST gap).
pub(crate) fn resolve_local(
    ctx: &DecodeContext,
    naive: NaiveDateTime,
    offset: Option<FixedOffset>,
) -> Option<DateTime<FixedOffset>> {
    match offset {
        Some(offset) => offset.from_local_datetime(&naive).single(),
        None => ctx
            .timezone
            .from_local_datetime(&naive)
            .earliest()
            .map(|t| t.fixed_offset()),
    }
}

/// Truncates to at most `max` bytes at a char boundary.
pub(crate) fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn truncate_owned(field: &mut Option<String>, max: usize) {
    if let Some(text) = field {
        let len = truncate(text, max).len();
        text.truncate(len);
    }
}

/// Applies the documented size bounds to every field.
fn bound_fields(message: &mut SyslogMessage) {
    truncate_owned(&mut message.host, MAX_HOST_BYTES);
    truncate_owned(&mut message.app, MAX_FIELD_BYTES);
    truncate_owned(&mut message.procid, MAX_FIELD_BYTES);
    truncate_owned(&mut message.msgid, MAX_FIELD_BYTES);
    message.structured_data.truncate(MAX_SD_ELEMENTS);
    for element in &mut message.structured_data {
        element.params.truncate(MAX_SD_PARAMS);
    }
}

/// Helpers shared by the table-driven tests here and in `vendor`.
#[cfg(test)]
mod testing {
    use chrono::SecondsFormat;

    use super::{DecodeContext, SyslogFormat, SyslogMessage, decode};

    /// The fields a test checks, with borrowed text so tables stay readable.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Fields<'a> {
        pub format: SyslogFormat,
        pub facility: Option<u8>,
        pub severity: Option<u8>,
        pub host: Option<&'a str>,
        pub app: Option<&'a str>,
        pub procid: Option<&'a str>,
        pub msgid: Option<&'a str>,
        /// RFC 3339 as the normalizer renders it.
        pub timestamp: Option<&'a str>,
        pub message: &'a str,
    }

    /// Expected fields with a format and the facility/severity of `pri`.
    pub fn fields(format: SyslogFormat, pri: u8) -> Fields<'static> {
        Fields {
            facility: Some(pri >> 3),
            severity: Some(pri & 7),
            ..base(format)
        }
    }

    /// A starting point for struct-update syntax: only `format` set.
    pub fn base(format: SyslogFormat) -> Fields<'static> {
        Fields {
            format,
            facility: None,
            severity: None,
            host: None,
            app: None,
            procid: None,
            msgid: None,
            timestamp: None,
            message: "",
        }
    }

    /// 2026-11-23T12:00:00Z in UTC, the receive time most tests use.
    pub fn ctx() -> DecodeContext {
        ctx_at("2026-11-23T12:00:00Z", chrono_tz::UTC)
    }

    pub fn ctx_at(received_at: &str, timezone: chrono_tz::Tz) -> DecodeContext {
        let received_at = chrono::DateTime::parse_from_rfc3339(received_at)
            .expect("test time")
            .to_utc();
        DecodeContext {
            received_at,
            timezone,
        }
    }

    pub fn decoded(input: &[u8], ctx: &DecodeContext) -> SyslogMessage {
        decode(input, ctx)
            .unwrap_or_else(|e| panic!("{:?} did not decode: {e}", String::from_utf8_lossy(input)))
    }

    /// Decodes `input` and compares the checked fields; returns the message for further checks.
    pub fn check_with(input: &str, ctx: &DecodeContext, expected: Fields<'_>) -> SyslogMessage {
        let message = decoded(input.as_bytes(), ctx);
        let timestamp = message
            .timestamp
            .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true));
        let actual = Fields {
            format: message.format,
            facility: message.facility,
            severity: message.severity,
            host: message.host.as_deref(),
            app: message.app.as_deref(),
            procid: message.procid.as_deref(),
            msgid: message.msgid.as_deref(),
            timestamp: timestamp.as_deref(),
            message: &message.message,
        };
        assert_eq!(actual, expected, "input: {input:?}");
        message
    }

    pub fn check(input: &str, expected: Fields<'_>) -> SyslogMessage {
        check_with(input, &ctx(), expected)
    }

    /// The values of one SD element as (name, value) pairs.
    pub fn sd<'m>(message: &'m SyslogMessage, id: &str) -> Vec<(&'m str, &'m str)> {
        message
            .structured_data
            .iter()
            .find(|e| e.id == id)
            .unwrap_or_else(|| panic!("no SD element {id} in {:?}", message.structured_data))
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::testing::{Fields, check, check_with, ctx, ctx_at, decoded, fields, sd};
    use super::*;
    use SyslogFormat::{NoHeader, Rfc3164, Rfc5424};

    const RFC_EXAMPLES: &str = include_str!("../../tests/fixtures/syslog/rfc_examples.log");
    const LOOSE_FIXTURES: &str =
        include_str!("../../tests/fixtures/syslog/syslog_loose_fixtures.log");
    /// Bytes, not text: line 13 is Latin-1 on purpose.
    const TRICKY: &[u8] = include_bytes!("../../tests/fixtures/syslog/tricky_constructed.log");
    const LINUX: &str = include_str!("../../tests/fixtures/syslog/loghub_linux_2k.log");
    const OPENSSH: &str = include_str!("../../tests/fixtures/syslog/loghub_openssh_2k.log");

    /// Line `n` (1-based) of a fixture file, without its line ending.
    fn line(file: &str, n: usize) -> &str {
        file.split('\n')
            .nth(n - 1)
            .expect("fixture line")
            .trim_end_matches('\r')
    }

    /// Line `n` (1-based) of `tricky_constructed.log`, which must be UTF-8.
    fn tricky(n: usize) -> &'static str {
        let bytes = TRICKY
            .split(|&b| b == b'\n')
            .nth(n - 1)
            .expect("fixture line");
        std::str::from_utf8(bytes)
            .expect("UTF-8 line")
            .trim_end_matches('\r')
    }

    #[test]
    fn rfc3164_examples() {
        // RFC 3164 §5.4 examples 1–3.
        check(
            line(RFC_EXAMPLES, 1),
            Fields {
                host: Some("mymachine"),
                app: Some("su"),
                timestamp: Some("2026-10-11T22:14:15Z"),
                message: "'su root' failed for lonvick on /dev/pts/8",
                ..fields(Rfc3164, 34)
            },
        );
        check(
            line(RFC_EXAMPLES, 2),
            Fields {
                message: "Use the BFG!",
                ..fields(NoHeader, 13)
            },
        );
        check(
            line(RFC_EXAMPLES, 3),
            Fields {
                host: Some("10.0.0.99"),
                app: Some("Use"),
                timestamp: Some("2027-02-05T17:32:18Z"),
                message: "the BFG!",
                ..fields(Rfc3164, 13)
            },
        );
    }

    #[test]
    fn rfc5424_examples() {
        // RFC 5424 §6.5 examples 1–4 (`BOM` is the RFC's placeholder text there).
        check(
            line(RFC_EXAMPLES, 7),
            Fields {
                host: Some("mymachine.example.com"),
                app: Some("su"),
                msgid: Some("ID47"),
                timestamp: Some("2003-10-11T22:14:15.003Z"),
                message: "BOM'su root' failed for lonvick on /dev/pts/8",
                ..fields(Rfc5424, 34)
            },
        );
        check(
            line(RFC_EXAMPLES, 8),
            Fields {
                host: Some("192.0.2.1"),
                app: Some("myproc"),
                procid: Some("8710"),
                timestamp: Some("2003-08-24T05:14:15.000003-07:00"),
                message: "%% It's time to make the do-nuts.",
                ..fields(Rfc5424, 165)
            },
        );
        let message = check(
            line(RFC_EXAMPLES, 10),
            Fields {
                host: Some("mymachine.example.com"),
                app: Some("evntslog"),
                msgid: Some("ID47"),
                timestamp: Some("2003-10-11T22:14:15.003Z"),
                ..fields(Rfc5424, 165)
            },
        );
        assert_eq!(
            sd(&message, "exampleSDID@32473"),
            [
                ("iut", "3"),
                ("eventSource", "Application"),
                ("eventID", "1011")
            ]
        );
        assert_eq!(sd(&message, "examplePriority@32473"), [("class", "high")]);
    }

    #[test]
    fn logger_style_lines() {
        check(
            "<132>Nov 22 07:18:48 vm myapp: disk almost full",
            Fields {
                host: Some("vm"),
                app: Some("myapp"),
                timestamp: Some("2026-11-22T07:18:48Z"),
                message: "disk almost full",
                ..fields(Rfc3164, 132)
            },
        );
        check(
            "<38>Nov 22 07:18:48 vm sshd[17807]: Accepted publickey for root",
            Fields {
                host: Some("vm"),
                app: Some("sshd"),
                procid: Some("17807"),
                timestamp: Some("2026-11-22T07:18:48Z"),
                message: "Accepted publickey for root",
                ..fields(Rfc3164, 38)
            },
        );
        check(
            "<13>1 2026-11-22T07:18:48.123456+01:00 vm root - - [timeQuality tzKnown=\"1\"] hello",
            Fields {
                host: Some("vm"),
                app: Some("root"),
                timestamp: Some("2026-11-22T07:18:48.123456+01:00"),
                message: "hello",
                ..fields(Rfc5424, 13)
            },
        );
    }

    #[test]
    fn no_pri_means_user_notice() {
        check(
            tricky(8),
            Fields {
                host: Some("mymachine"),
                app: Some("su"),
                timestamp: Some("2026-10-11T22:14:15Z"),
                message: "no PRI part at all",
                ..fields(Rfc3164, 13)
            },
        );
        check(
            "complete and utter gobbledegook",
            Fields {
                message: "complete and utter gobbledegook",
                ..fields(NoHeader, 13)
            },
        );
    }

    #[test]
    fn year_less_timestamps_take_the_closest_year() {
        let cases = [
            (
                "2027-01-01T00:00:30Z",
                "<13>Dec 31 23:59:59 h a: m",
                "2026-12-31T23:59:59Z",
            ),
            (
                "2026-12-31T23:59:00Z",
                "<13>Jan  1 00:00:01 h a: m",
                "2027-01-01T00:00:01Z",
            ),
            (
                "2026-06-15T00:00:00Z",
                "<13>Jun 14 23:00:00 h a: m",
                "2026-06-14T23:00:00Z",
            ),
            (
                "2026-11-23T12:00:00Z",
                "<13>Dec 31 23:59:59 h a: m",
                "2026-12-31T23:59:59Z",
            ),
        ];
        for (received_at, input, expected) in cases {
            let ctx = ctx_at(received_at, chrono_tz::UTC);
            let message = decoded(input.as_bytes(), &ctx);
            assert_eq!(
                message.timestamp.map(|t| t.to_rfc3339()),
                Some(expected.replace('Z', "+00:00")),
                "{input}"
            );
        }
    }

    #[test]
    fn source_timezone_applies_to_offsetless_timestamps() {
        let paris = ctx_at("2026-07-01T12:00:00Z", chrono_tz::Europe::Paris);
        let expected = Fields {
            host: Some("h"),
            app: Some("app"),
            message: "m",
            ..fields(Rfc3164, 13)
        };
        check_with(
            "<13>Jul  1 12:00:00 h app: m",
            &paris,
            Fields {
                timestamp: Some("2026-07-01T12:00:00+02:00"),
                ..expected
            },
        );
        check_with(
            "<13>Jan  1 12:00:00 h app: m",
            &paris,
            Fields {
                timestamp: Some("2026-01-01T12:00:00+01:00"),
                ..expected
            },
        );
        // A year inside an RFC 3164 timestamp is still local time.
        check_with(
            "<13>Mar 01 2024 12:00:00 h app: m",
            &paris,
            Fields {
                timestamp: Some("2024-03-01T12:00:00+01:00"),
                ..expected
            },
        );
        // An explicit offset wins over the source zone.
        check_with(
            "<13>1 2026-07-01T12:00:00Z h app - - - m",
            &paris,
            Fields {
                timestamp: Some("2026-07-01T12:00:00Z"),
                ..fields(Rfc5424, 13)
            }
            .with(|f| Fields {
                host: Some("h"),
                app: Some("app"),
                message: "m",
                ..f
            }),
        );
        // RFC 5424 without an offset (Juniper SRX does this) is read in the source zone.
        check_with(
            "<14>1 2026-07-01T15:18:17.040 srx RT_FLOW - RT_FLOW_SESSION_CREATE - session created",
            &paris,
            Fields {
                host: Some("srx"),
                app: Some("RT_FLOW"),
                msgid: Some("RT_FLOW_SESSION_CREATE"),
                timestamp: Some("2026-07-01T15:18:17.040+02:00"),
                message: "session created",
                ..fields(Rfc5424, 14)
            },
        );
    }

    impl<'a> Fields<'a> {
        fn with(self, f: impl FnOnce(Self) -> Self) -> Self {
            f(self)
        }
    }

    #[test]
    fn byte_order_marks_are_stripped() {
        check(
            tricky(1),
            Fields {
                host: Some("mymachine.example.com"),
                app: Some("su"),
                msgid: Some("ID47"),
                timestamp: Some("2003-10-11T22:14:15.003Z"),
                message: "'su root' failed for lonvick on /dev/pts/8",
                ..fields(Rfc5424, 34)
            },
        );
        check(
            tricky(3),
            Fields {
                host: Some("74794bfb6795"),
                app: Some("root"),
                procid: Some("8539"),
                timestamp: Some("2027-02-13T20:07:26Z"),
                message: "i am foobar",
                ..fields(Rfc3164, 13)
            },
        );
    }

    #[test]
    fn nine_digit_fractions_and_nil_fields() {
        check(
            tricky(5),
            Fields {
                host: Some("host.example.com"),
                app: Some("app"),
                procid: Some("42"),
                msgid: Some("ID1"),
                timestamp: Some("2024-03-01T12:34:56.123456789+05:30"),
                message: "fraction longer than 6 digits",
                ..fields(Rfc5424, 14)
            },
        );
        check(
            tricky(4),
            Fields {
                message: "message with every header field NIL",
                ..fields(Rfc5424, 13)
            },
        );
    }

    #[test]
    fn sd_values_are_unescaped() {
        let message = decoded(tricky(14).as_bytes(), &ctx());
        assert_eq!(
            sd(&message, "exampleSDID@32473"),
            [("q", "say \"hi\""), ("b", "C:\\temp"), ("r", "[a]")]
        );
        assert_eq!(message.message, "escaped values");
    }

    #[test]
    fn invalid_utf8_is_decoded_lossily_and_flagged() {
        let mut input =
            b"<6>Aug 10 22:18:24 host tag This msg contains 8-bit European chars: ".to_vec();
        input.extend_from_slice(b"\xe4\xf6\xfc");
        let message = decoded(&input, &ctx());
        assert!(message.invalid_utf8);
        assert_eq!(message.host.as_deref(), Some("host"));
        assert_eq!(message.app.as_deref(), Some("tag"));
        assert!(
            message.message.ends_with("chars: \u{FFFD}\u{FFFD}\u{FFFD}"),
            "{:?}",
            message.message
        );
        assert!(!decoded(tricky(1).as_bytes(), &ctx()).invalid_utf8);
    }

    #[test]
    fn tag_without_host_is_the_app() {
        let received = Fields {
            timestamp: Some("2027-03-01T12:00:00Z"),
            message: "msg",
            ..fields(Rfc3164, 13)
        };
        check(
            "<13>Mar  1 12:00:00 app[12]: msg",
            Fields {
                app: Some("app"),
                procid: Some("12"),
                ..received
            },
        );
        check(
            "<13>Mar  1 12:00:00 app: msg",
            Fields {
                app: Some("app"),
                ..received
            },
        );
        check(
            "<13>Mar  1 12:00:00 host app: msg",
            Fields {
                host: Some("host"),
                app: Some("app"),
                ..received
            },
        );
        check(
            line(LOOSE_FIXTURES, 3),
            Fields {
                app: Some("haproxy"),
                procid: Some("73411"),
                timestamp: Some("2027-01-13T16:33:35Z"),
                message: "Proxy sticky-servers started.",
                ..fields(Rfc3164, 133)
            },
        );
    }

    #[test]
    fn line_endings_and_spacing() {
        let expected = Fields {
            host: Some("mymachine"),
            app: Some("app"),
            timestamp: Some("2026-10-11T22:14:15Z"),
            message: "line ends with CR",
            ..fields(Rfc3164, 13)
        };
        let with_cr = TRICKY.split(|&b| b == b'\n').nth(14).expect("line 15");
        assert!(with_cr.ends_with(b"\r"));
        check(std::str::from_utf8(with_cr).expect("UTF-8"), expected);
        check(
            "<13>Oct 11 22:14:15 mymachine app: line ends with CR\r\n\0\0",
            expected,
        );
        check(
            tricky(12),
            Fields {
                host: Some("mymachine"),
                app: Some("app"),
                procid: Some("7"),
                timestamp: Some("2026-10-11T22:14:15Z"),
                message: "multiple   spaces   everywhere",
                ..fields(Rfc3164, 13)
            },
        );
    }

    #[test]
    fn pri_forms() {
        check(
            tricky(10),
            Fields {
                host: Some("mymachine"),
                app: Some("app"),
                timestamp: Some("2026-10-11T22:14:15Z"),
                message: "PRI with leading zeros",
                ..fields(Rfc3164, 13)
            },
        );
        check("<13>", fields(NoHeader, 13));
        check(
            "<191>x",
            Fields {
                message: "x",
                ..fields(NoHeader, 191)
            },
        );
        check(
            "<event>xml</event>",
            Fields {
                message: "<event>xml</event>",
                ..fields(NoHeader, 13)
            },
        );
    }

    #[test]
    fn garbage_is_refused() {
        let cases: [(&[u8], DecodeError); 8] = [
            (b"", DecodeError::Empty),
            (b"\r\n\0", DecodeError::Empty),
            (b"\xEF\xBB\xBF\n", DecodeError::Empty),
            (
                b"<999>Oct 11 22:14:15 h a: x",
                DecodeError::InvalidPri("<999>Oct".into()),
            ),
            (b"<192>x", DecodeError::InvalidPri("<192>x".into())),
            (
                b"<>Oct 11 22:14:15 h a: x",
                DecodeError::InvalidPri("<>Oct 11".into()),
            ),
            (b"<123456>x", DecodeError::InvalidPri("<123456>".into())),
            (
                b"0\x82\x00\x2c\x02\x01\x01\x04\x06public\xa7\x1f",
                DecodeError::Binary {
                    control_bytes: 7,
                    len: 17,
                },
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(decode(input, &ctx()), Err(expected), "{input:?}");
        }
    }

    #[test]
    fn fields_are_bounded() {
        let long = "h".repeat(300);
        let input = format!(
            "<13>1 2026-01-01T00:00:00Z {long} {} {} {} - x",
            "é".repeat(100),
            "p".repeat(200),
            "m".repeat(200)
        );
        let message = decoded(input.as_bytes(), &ctx());
        assert_eq!(message.host.map(|h| h.len()), Some(MAX_HOST_BYTES));
        assert_eq!(message.app.map(|a| a.len()), Some(MAX_FIELD_BYTES));
        assert_eq!(message.procid.map(|p| p.len()), Some(MAX_FIELD_BYTES));
        assert_eq!(message.msgid.map(|m| m.len()), Some(MAX_FIELD_BYTES));
        let many: String = (0..100).map(|i| format!("[e{i} a=\"1\"]")).collect();
        let params: String = (0..200).map(|i| format!(" p{i}=\"v\"")).collect();
        let input = format!("<13>1 2026-01-01T00:00:00Z h a - - [big{params}]{many} x");
        let message = decoded(input.as_bytes(), &ctx());
        assert_eq!(message.structured_data.len(), MAX_SD_ELEMENTS);
        assert_eq!(message.structured_data[0].params.len(), MAX_SD_PARAMS);
        assert_eq!(truncate("aé", 2), "a");
    }

    /// Regression: a multi-byte character across byte 19 of a would-be RFC 5424 timestamp.
    #[test]
    fn multibyte_timestamp_does_not_panic() {
        for input in [
            "1 2026-07-01T15:18:1é h a - - - m",
            "<13>1 2026-07-01T15:18:1é h a - - - m",
        ] {
            assert_eq!(decoded(input.as_bytes(), &ctx()).format, NoHeader);
        }
    }

    /// Every fixture line decodes without panicking; the constructed bad PRIs are the only errors.
    #[test]
    fn every_fixture_line_decodes() {
        for (name, file) in fixture_files() {
            for (n, text) in file
                .split(|&b| b == b'\n')
                .enumerate()
                .filter(|(_, l)| !l.trim_ascii().is_empty())
            {
                match decode(text, &ctx()) {
                    Ok(message) => {
                        assert!(
                            message.facility.is_some() && message.severity.is_some(),
                            "{name}:{}",
                            n + 1
                        );
                    }
                    Err(error) => {
                        assert!(
                            name == "tricky" && matches!(n + 1, 9 | 11),
                            "{name}:{}: {error}",
                            n + 1
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn loghub_lines_get_app_host_and_timestamp() {
        for (file, app) in [(LINUX, None), (OPENSSH, Some("sshd"))] {
            for text in file.split('\n') {
                let message = decoded(text.as_bytes(), &ctx());
                assert_eq!(message.format, Rfc3164, "{text}");
                assert!(message.timestamp.is_some(), "{text}");
                assert!(message.host.is_some(), "{text}");
                let got = message.app.as_deref();
                assert!(
                    got.is_some_and(|a| app.is_none_or(|app| app == a)),
                    "{text}: {got:?}"
                );
                assert_eq!(message.facility, Some(1));
            }
        }
    }

    /// Lines of every fixture file, for the mutation property test.
    fn fixture_lines() -> Vec<&'static [u8]> {
        fixture_files()
            .into_iter()
            .flat_map(|(_, f)| f.split(|&b| b == b'\n'))
            .collect()
    }

    fn fixture_files() -> [(&'static str, &'static [u8]); 5] {
        [
            ("rfc", RFC_EXAMPLES.as_bytes()),
            ("loose", LOOSE_FIXTURES.as_bytes()),
            ("tricky", TRICKY),
            ("linux", LINUX.as_bytes()),
            ("openssh", OPENSSH.as_bytes()),
        ]
    }

    proptest! {
        #[test]
        fn decode_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = decode(&bytes, &ctx());
        }

        #[test]
        fn decode_never_panics_on_text(text in "(<[0-9]{0,4}>)?[ -~\t\u{a0}-\u{2ff}]{0,200}") {
            let _ = decode(text.as_bytes(), &ctx());
        }

        #[test]
        fn decode_never_panics_on_mutated_fixtures(
            index in any::<prop::sample::Index>(),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8),
        ) {
            let lines = fixture_lines();
            let mut bytes = lines[index.index(lines.len())].to_vec();
            for (at, byte, op) in edits {
                if bytes.is_empty() { break; }
                let at = at.index(bytes.len());
                match op {
                    0 => bytes[at] = byte,
                    1 => bytes.insert(at, byte),
                    _ => { bytes.truncate(at); }
                }
            }
            let _ = decode(&bytes, &ctx());
        }
    }
}
