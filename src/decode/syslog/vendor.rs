//! Vendor pre-parsers and refinements for the device formats `syslog_loose` misreads.
//!
//! Before the standard parse: [`cisco`] (IOS `seq: *Mmm dd hh:mm:ss.mmm: %…`, ASA `Mmm dd yyyy
//! hh:mm:ss: %ASA-…`, NX-OS `yyyy Mmm dd hh:mm:ss host: %…`) and [`fortigate`] (`date=… time=…
//! key=value`, no header at all). After it, [`refine`] recognises pfSense `filterlog` CSV, Snare
//! (`MSWinEventLog<TAB>…`) and Cisco mnemonics behind a standard header.
//!
//! Vendor parsers only fill fields; the PRI, the default severity and size bounds are applied by
//! the caller. A vendor severity (Cisco `SEV`, FortiGate `level`) is left in `severity` and only
//! survives when the message had no PRI. Nothing here does I/O.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime};
use nom::{
    IResult, Parser,
    branch::alt,
    bytes::complete::take_while1,
    character::complete::{alpha1, char, digit1, one_of, space0, space1},
    combinator::{map_res, opt, rest, verify},
    sequence::{preceded, terminated},
};

use super::{
    DecodeContext, MAX_SD_PARAMS, SyslogFormat, SyslogMessage, closest_year, resolve_local,
};
use crate::event::StructuredElement;

type Res<'a, T> = IResult<&'a str, T>;

/// Runs the refinements that need a standard header first: Snare, pfSense, Cisco mnemonics.
pub(super) fn refine(message: &mut SyslogMessage, rest: &str, ctx: &DecodeContext) {
    if message.app.as_deref() == Some(SNARE_TAG) || message.message.starts_with("MSWinEventLog\t") {
        snare(message, rest);
    } else if message.app.as_deref() == Some("filterlog") {
        filterlog(message);
    } else {
        cisco_behind_header(message, ctx);
    }
}

// ---------------------------------------------------------------------------------------------
// Cisco
// ---------------------------------------------------------------------------------------------

/// A `%FACILITY[-SUB]-SEVERITY-MNEMONIC` message code (Cisco System Message Guide, "Message
/// Format"). ASA writes `%ASA-6-302013`, sometimes `%ASA-session-5-106100`; IOS may add a
/// sub-facility (`%PIM-SW1-6-…`). The severity is the last single digit 0–7 before the mnemonic.
#[derive(Debug, PartialEq, Eq)]
struct Mnemonic<'a> {
    facility: &'a str,
    severity: u8,
    mnemonic: String,
}

fn parse_mnemonic(code: &str) -> Option<Mnemonic<'_>> {
    let parts: Vec<&str> = code.splitn(8, '-').collect();
    if parts.len() < 3
        || parts[0].is_empty()
        || !parts[0]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return None;
    }
    let position = (1..parts.len() - 1)
        .rev()
        .find(|&i| parts[i].len() == 1 && matches!(parts[i].as_bytes()[0], b'0'..=b'7'))?;
    let mnemonic = parts[position + 1..].join("-");
    if mnemonic.is_empty() {
        return None;
    }
    Some(Mnemonic {
        facility: parts[0],
        severity: parts[position].as_bytes()[0] - b'0',
        mnemonic,
    })
}

/// A Cisco device timestamp before resolution to an instant.
struct CiscoStamp {
    year: Option<i32>,
    year_first: bool,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
}

fn number<T: std::str::FromStr>(input: &str) -> Res<'_, T> {
    map_res(digit1, str::parse).parse(input)
}

fn month(input: &str) -> Res<'_, u32> {
    map_res(verify(alpha1, |m: &str| m.len() == 3), |m: &str| {
        let months = [
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ];
        months
            .iter()
            .position(|n| n.eq_ignore_ascii_case(m))
            .map(|i| i as u32 + 1)
            .ok_or(())
    })
    .parse(input)
}

fn year(input: &str) -> Res<'_, i32> {
    map_res(verify(digit1, |y: &str| y.len() == 4), str::parse).parse(input)
}

/// `hh:mm:ss[.fraction]`, the fraction kept to nanoseconds.
fn clock(input: &str) -> Res<'_, (u32, u32, u32, u32)> {
    let (input, (hour, _, minute, _, second, fraction)) = (
        number,
        char(':'),
        number,
        char(':'),
        number,
        opt(preceded(char('.'), digit1)),
    )
        .parse(input)?;
    let nanos = fraction.map_or(0, |f: &str| {
        let digits = &f[..f.len().min(9)];
        digits.parse::<u32>().unwrap_or(0) * 10u32.pow(9 - digits.len() as u32)
    });
    Ok((input, (hour, minute, second, nanos)))
}

/// The three timestamp orders Cisco platforms use, with the `*` (clock not synchronised) or
/// `.` (synchronisation lost) prefix IOS adds.
fn cisco_stamp(input: &str) -> Res<'_, CiscoStamp> {
    let (input, _) = opt(one_of("*.")).parse(input)?;
    let year_first = (year, space1, month, space1, number, space1, clock)
        .map(|(y, _, mo, _, d, _, c)| (Some(y), true, mo, d, c));
    let month_year = (month, space1, number, space1, year, space1, clock)
        .map(|(mo, _, d, _, y, _, c)| (Some(y), false, mo, d, c));
    let month_only =
        (month, space1, number, space1, clock).map(|(mo, _, d, _, c)| (None, false, mo, d, c));
    let (input, (year, year_first, month, day, (hour, minute, second, nanos))) =
        alt((year_first, month_year, month_only)).parse(input)?;
    Ok((
        input,
        CiscoStamp {
            year,
            year_first,
            month,
            day,
            hour,
            minute,
            second,
            nanos,
        },
    ))
}

/// A zone abbreviation after a Cisco timestamp: upper-case letters only, so a host name that
/// follows the timestamp (NX-OS) is not mistaken for one unless it is all capitals.
fn zone(input: &str) -> Res<'_, &str> {
    preceded(
        space1,
        verify(alpha1, |z: &str| {
            z.len() <= 5 && z.bytes().all(|b| b.is_ascii_uppercase())
        }),
    )
    .parse(input)
}

/// Offsets of the abbreviations Cisco configurations commonly use; others fall back to the
/// source's zone.
fn zone_offset(zone: &str) -> Option<FixedOffset> {
    let hours = match zone {
        "UTC" | "GMT" | "UT" | "Z" => 0,
        "EST" => -5,
        "EDT" | "AST" => -4,
        "CST" => -6,
        "CDT" => -5,
        "MST" => -7,
        "MDT" => -6,
        "PST" => -8,
        "PDT" => -7,
        "CET" | "BST" => 1,
        "CEST" | "EET" => 2,
        "EEST" => 3,
        _ => return None,
    };
    FixedOffset::east_opt(hours * 3600)
}

/// A host followed by `:` (with optional spaces before the colon, as ASA's `fw01 : %ASA…`).
fn host_colon(input: &str) -> Res<'_, &str> {
    terminated(
        verify(
            take_while1(|c: char| !c.is_whitespace() && c != ':'),
            |h: &str| h.starts_with(|c: char| c.is_ascii_alphanumeric()),
        ),
        (space0, char(':'), space1),
    )
    .parse(input)
}

/// Timestamp, optional zone, then either `:` or a host and `:`.
fn stamp_and_host(input: &str) -> Res<'_, (CiscoStamp, Option<&str>, Option<&str>)> {
    let (input, stamp) = cisco_stamp(input)?;
    let (input, zone) = opt(zone).parse(input)?;
    let (input, host) = alt((
        (space0, char(':'), space0).map(|_| None),
        preceded(space1, host_colon).map(Some),
    ))
    .parse(input)?;
    Ok((input, (stamp, zone, host)))
}

/// `%CODE:` and the text after it.
fn mnemonic_and_text(input: &str) -> Res<'_, (&str, &str)> {
    (
        preceded(
            char('%'),
            take_while1(|c: char| !c.is_whitespace() && c != ':'),
        ),
        char(':'),
        space0,
        rest,
    )
        .map(|(code, _, _, text)| (code, text))
        .parse(input)
}

/// Parses a whole Cisco line after the PRI (or a Cisco body behind a relay's header):
/// `[seq: ][host: ][*|.]timestamp[ ZONE][ host]: %FAC-SEV-MNEMONIC: text`.
/// Every part but the mnemonic is optional; without a mnemonic this is not a Cisco line.
pub(super) fn cisco(input: &str, ctx: &DecodeContext) -> Option<SyslogMessage> {
    if !input.contains('%') {
        return None;
    }
    let mut input = input.trim_start();
    if let Ok((after, _)) =
        terminated(digit1::<_, nom::error::Error<&str>>, (char(':'), space1)).parse(input)
    {
        input = after;
    }
    let mut host = None;
    if let Ok((after, found)) = host_colon(input) {
        host = Some(found);
        input = after;
    }
    let mut stamp = None;
    if let Ok((after, (found, zone, found_host))) = stamp_and_host(input) {
        stamp = Some((found, zone));
        host = found_host.or(host);
        input = after;
    }
    let (_, (code, text)) = mnemonic_and_text(input).ok()?;
    let code = parse_mnemonic(code)?;
    let year_first = stamp.as_ref().is_some_and(|(s, _)| s.year_first);
    let format = match code.facility {
        _ if year_first => SyslogFormat::CiscoNxos,
        "ASA" | "FTD" | "PIX" | "FWSM" => SyslogFormat::CiscoAsa,
        _ => SyslogFormat::CiscoIos,
    };
    let mut message = SyslogMessage::bare(format, text.trim_end());
    message.host = host.map(str::to_owned);
    message.app = Some(code.facility.to_owned());
    message.msgid = Some(code.mnemonic);
    message.severity = Some(code.severity);
    message.timestamp = stamp.and_then(|(s, zone)| resolve_stamp(&s, zone, ctx));
    Some(message)
}

fn resolve_stamp(
    stamp: &CiscoStamp,
    zone: Option<&str>,
    ctx: &DecodeContext,
) -> Option<DateTime<FixedOffset>> {
    let year = stamp.year.unwrap_or_else(|| {
        closest_year(
            ctx,
            (
                stamp.month,
                stamp.day,
                stamp.hour,
                stamp.minute,
                stamp.second,
            ),
        )
    });
    let naive = NaiveDate::from_ymd_opt(year, stamp.month, stamp.day)?.and_hms_nano_opt(
        stamp.hour,
        stamp.minute,
        stamp.second,
        stamp.nanos,
    )?;
    resolve_local(ctx, naive, zone.and_then(zone_offset))
}

/// A Cisco mnemonic behind a standard header: either as the tag (`router1 %LINK-3-UPDOWN:
/// Interface …`) or at the start of the message, possibly after the device's own sequence
/// number and timestamp (IOS relayed through a syslog server).
fn cisco_behind_header(message: &mut SyslogMessage, ctx: &DecodeContext) {
    if let Some(code) = message
        .app
        .as_deref()
        .and_then(|app| app.strip_prefix('%'))
        .and_then(parse_mnemonic)
    {
        let (app, msgid, severity) = (code.facility.to_owned(), code.mnemonic, code.severity);
        message.format = format_for(&app);
        message.app = Some(app);
        message.msgid = Some(msgid);
        message.severity = Some(severity);
        return;
    }
    let Some(inner) = cisco(&message.message, ctx) else {
        return;
    };
    message.format = inner.format;
    message.app = inner.app;
    message.msgid = inner.msgid;
    message.severity = inner.severity;
    message.host = message.host.take().or(inner.host);
    message.timestamp = message.timestamp.or(inner.timestamp);
    message.message = inner.message;
}

fn format_for(facility: &str) -> SyslogFormat {
    match facility {
        "ASA" | "FTD" | "PIX" | "FWSM" => SyslogFormat::CiscoAsa,
        _ => SyslogFormat::CiscoIos,
    }
}

// ---------------------------------------------------------------------------------------------
// FortiGate
// ---------------------------------------------------------------------------------------------

/// FortiOS log messages (FortiOS Log Message Reference, "Log message format"): no syslog header
/// after the PRI, just `key=value` pairs with string values in double quotes. Host is
/// `devname`, msgid `logid`, the time `date`+`time` in the `tz` offset (the source's zone when
/// absent), and every pair goes into one SD element `fortigate`.
pub(super) fn fortigate(input: &str, ctx: &DecodeContext) -> Option<SyslogMessage> {
    let text = input.trim();
    if !text.starts_with("date=") {
        return None;
    }
    let pairs = kv_pairs(text);
    let get = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let (date, time) = (get("date")?, get("time")?);
    let mut message = SyslogMessage::bare(SyslogFormat::Fortigate, text);
    message.host = get("devname").filter(|h| !h.is_empty()).map(str::to_owned);
    message.msgid = get("logid").filter(|m| !m.is_empty()).map(str::to_owned);
    message.severity = get("level").and_then(level_severity);
    message.timestamp =
        NaiveDateTime::parse_from_str(&format!("{date} {time}"), "%Y-%m-%d %H:%M:%S")
            .ok()
            .and_then(|naive| resolve_local(ctx, naive, get("tz").and_then(parse_offset)));
    message.structured_data = vec![StructuredElement {
        id: "fortigate".to_owned(),
        params: pairs,
    }];
    Some(message)
}

/// `key=value` pairs separated by spaces, at most [`MAX_SD_PARAMS`]; stops at the first thing
/// that is not a pair.
fn kv_pairs(mut input: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    while pairs.len() < MAX_SD_PARAMS {
        input = input.trim_start();
        let Ok((after, pair)) = kv_pair(input) else {
            break;
        };
        pairs.push(pair);
        input = after;
    }
    pairs
}

fn kv_pair(input: &str) -> Res<'_, (String, String)> {
    let (input, key) = terminated(
        take_while1(|c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')),
        char('='),
    )
    .parse(input)?;
    let (input, value) = match input.strip_prefix('"') {
        Some(quoted) => quoted_value(quoted).ok_or_else(|| {
            nom::Err::Error(nom::error::Error::new(input, nom::error::ErrorKind::Char))
        })?,
        None => {
            let end = input.find(char::is_whitespace).unwrap_or(input.len());
            (&input[end..], input[..end].to_owned())
        }
    };
    Ok((input, (key.to_owned(), value)))
}

/// The body of a double-quoted value up to the closing quote, `\"` and `\\` unescaped.
fn quoted_value(body: &str) -> Option<(&str, String)> {
    let mut value = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                let (_, next) = chars.next()?;
                if next != '"' && next != '\\' {
                    value.push('\\');
                }
                value.push(next);
            }
            '"' => return Some((&body[i + 1..], value)),
            c => value.push(c),
        }
    }
    None
}

/// A `±hhmm` or `±hh:mm` offset.
fn parse_offset(text: &str) -> Option<FixedOffset> {
    let (sign, digits) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let digits = digits.replace(':', "");
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = digits[2..].parse().ok()?;
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

/// FortiOS `level` names → syslog severity (RFC 5424 §6.2.1 table 2).
fn level_severity(level: &str) -> Option<u8> {
    Some(match level.to_ascii_lowercase().as_str() {
        "emergency" | "emerg" => 0,
        "alert" => 1,
        "critical" | "crit" => 2,
        "error" | "err" => 3,
        "warning" | "warn" => 4,
        "notice" => 5,
        "information" | "informational" | "info" => 6,
        "debug" => 7,
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// pfSense / OPNsense filterlog
// ---------------------------------------------------------------------------------------------

const FILTERLOG_COMMON: [&str; 9] = [
    "rulenr",
    "subrulenr",
    "anchor",
    "tracker",
    "interface",
    "reason",
    "action",
    "direction",
    "ipversion",
];
const FILTERLOG_IPV4: [&str; 11] = [
    "tos", "ecn", "ttl", "id", "offset", "flags", "protoid", "protocol", "length", "src", "dst",
];
const FILTERLOG_IPV6: [&str; 8] = [
    "class",
    "flowlabel",
    "hoplimit",
    "protocol",
    "protoid",
    "length",
    "src",
    "dst",
];
const FILTERLOG_UDP: [&str; 3] = ["srcport", "dstport", "datalen"];
const FILTERLOG_TCP: [&str; 9] = [
    "srcport", "dstport", "datalen", "tcpflags", "seq", "ack", "window", "urg", "options",
];

/// pfSense's filterlog CSV (pfSense docs, "Raw Filter Log Format"): common fields, then IPv4
/// or IPv6 fields, then TCP/UDP ports. Named non-empty fields go into SD element `filterlog`.
/// pfSense sends no host name, so host stays as the header gave it (usually none).
fn filterlog(message: &mut SyslogMessage) {
    let fields: Vec<&str> = message.message.trim().splitn(40, ',').collect();
    if fields.len() < FILTERLOG_COMMON.len() {
        return;
    }
    let mut names: Vec<&str> = FILTERLOG_COMMON.to_vec();
    let ip_names: &[&str] = match fields[8] {
        "4" => &FILTERLOG_IPV4,
        "6" => &FILTERLOG_IPV6,
        _ => &[],
    };
    names.extend_from_slice(ip_names);
    let protocol = names
        .iter()
        .position(|n| *n == "protocol")
        .and_then(|i| fields.get(i));
    match protocol.map(|p| p.to_ascii_lowercase()).as_deref() {
        Some("tcp") => names.extend_from_slice(&FILTERLOG_TCP),
        Some("udp") => names.extend_from_slice(&FILTERLOG_UDP),
        _ => {}
    }
    let params = names
        .iter()
        .zip(&fields)
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    message.format = SyslogFormat::Pfsense;
    message.structured_data.push(StructuredElement {
        id: "filterlog".to_owned(),
        params,
    });
}

// ---------------------------------------------------------------------------------------------
// Snare (Windows event log over syslog)
// ---------------------------------------------------------------------------------------------

const SNARE_TAG: &str = "MSWinEventLog";
const SNARE_FIELDS: [&str; 13] = [
    "criticality",
    "log",
    "counter",
    "time",
    "event_id",
    "source",
    "user",
    "sid_type",
    "event_type",
    "computer",
    "category",
    "data",
    "expanded",
];

/// Snare's tab-separated Windows event (Snare Agent for Windows, "Event format"): after the
/// `MSWinEventLog` tag come criticality, log, counter, time, event ID, source, user, SID type,
/// event type, computer, category, data and the expanded text. The fields are re-split from the
/// original text because the 3164 parser swallows the tabs after the tag.
fn snare(message: &mut SyslogMessage, rest: &str) {
    let marker = "MSWinEventLog\t";
    let Some(position) = rest.find(marker) else {
        return;
    };
    let body = rest[position + marker.len()..].trim_end();
    let fields: Vec<&str> = body.splitn(SNARE_FIELDS.len() + 1, '\t').collect();
    let field = |name: &str| {
        SNARE_FIELDS
            .iter()
            .position(|n| *n == name)
            .and_then(|i| fields.get(i))
            .copied()
    };
    message.format = SyslogFormat::Snare;
    message.app = Some(SNARE_TAG.to_owned());
    message.msgid = field("event_id")
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(str::to_owned);
    let expanded = field("expanded").map(str::trim).unwrap_or("");
    message.message = if expanded.is_empty() {
        body.to_owned()
    } else {
        expanded.to_owned()
    };
    let params = SNARE_FIELDS
        .iter()
        .zip(&fields)
        .map(|(name, value)| (*name, value.trim()))
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
    message.structured_data.push(StructuredElement {
        id: "snare".to_owned(),
        params,
    });
}
