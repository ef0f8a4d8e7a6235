//! Syslog decoding: one datagram or frame in, one [`SyslogMessage`] out.
//!
//! [`decode`] owns the framing-level clean-up (trailing CR/LF/NUL, a leading UTF-8 BOM, invalid
//! UTF-8, binary junk), the `<PRI>` (parsed here with nom because `syslog_loose` drops it when the
//! rest of a line does not parse), the year and zone policy for timestamps that carry neither,
//! and the size bounds on every field. The header itself is parsed by `syslog_loose` (RFC 5424
//! and RFC 3164), except for the vendor forms it gets wrong, which [`vendor`] handles before it
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
fn parse_standard(rest: &str, ctx: &DecodeContext) -> Option<SyslogMessage> {
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
    if stamp.len() < 19 || stamp.ends_with(['Z', 'z']) || stamp[19..].contains(['+', '-']) {
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
    let received_year = ctx.received_at.with_timezone(&ctx.timezone).year();
    [received_year - 1, received_year, received_year + 1]
        .into_iter()
        .filter_map(|year| {
            let naive =
                NaiveDate::from_ymd_opt(year, month, day)?.and_hms_opt(hour, minute, second)?;
            let at = resolve_local(ctx, naive, None)?;
            Some((
                year,
                (at.with_timezone(&Utc) - ctx.received_at)
                    .num_seconds()
                    .unsigned_abs(),
            ))
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
