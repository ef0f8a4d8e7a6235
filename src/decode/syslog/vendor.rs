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
    let snare_tagged = |text: &str| text.starts_with(SNARE_TAG);
    if message.app.as_deref().is_some_and(snare_tagged) || snare_tagged(&message.message) {
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

/// The wall-clock time of an RFC 3164 line whose timestamp carries a year (`Mmm dd yyyy
/// hh:mm:ss`, as ASA and many appliances write it). `syslog_loose` reads that form as UTC
/// whatever zone it is given, so the caller re-resolves it in the source's zone.
pub(super) fn timestamp_with_year(input: &str) -> Option<NaiveDateTime> {
    let (_, (month, _, day, _, year, _, (hour, minute, second, nanos))) =
        (month, space1, number::<u32>, space1, year, space1, clock)
            .parse(input.trim_start())
            .ok()?;
    NaiveDate::from_ymd_opt(year, month, day)?.and_hms_nano_opt(hour, minute, second, nanos)
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
/// original text because the 3164 parser swallows the tabs after the tag. Relays that escape
/// control characters (rsyslog's default) turn each TAB into the text `#011`; that is accepted
/// as the separator too.
fn snare(message: &mut SyslogMessage, rest: &str) {
    let Some((position, separator)) = ["\t", "#011"].into_iter().find_map(|separator| {
        rest.find(&format!("{SNARE_TAG}{separator}"))
            .map(|p| (p, separator))
    }) else {
        return;
    };
    let body = rest[position + SNARE_TAG.len() + separator.len()..].trim_end();
    let fields: Vec<&str> = body.splitn(SNARE_FIELDS.len() + 1, separator).collect();
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

#[cfg(test)]
mod tests {
    use super::super::testing::{
        Fields, base, check, check_with, ctx, ctx_at, decoded, fields, sd,
    };
    use super::*;
    use SyslogFormat::{CiscoAsa, CiscoIos, CiscoNxos, Fortigate, Pfsense, Rfc3164, Snare};

    #[test]
    fn mnemonics() {
        let cases = [
            ("LINK-3-UPDOWN", Some(("LINK", 3, "UPDOWN"))),
            ("ASA-6-302013", Some(("ASA", 6, "302013"))),
            ("ASA-session-5-106100", Some(("ASA", 5, "106100"))),
            (
                "PIM-SW1-6-INVALID_RP_JOIN",
                Some(("PIM", 6, "INVALID_RP_JOIN")),
            ),
            (
                "ETHPORT-5-IF_DOWN_LINK_FAILURE",
                Some(("ETHPORT", 5, "IF_DOWN_LINK_FAILURE")),
            ),
            ("LINK-UPDOWN", None),
            ("LINK-9-UPDOWN", None),
            ("LINK-3-", None),
            ("-3-X", None),
        ];
        for (code, expected) in cases {
            let got = parse_mnemonic(code).map(|m| (m.facility, m.severity, m.mnemonic));
            assert_eq!(
                got,
                expected.map(|(f, s, m)| (f, s, m.to_owned())),
                "{code}"
            );
        }
    }

    #[test]
    fn cisco_ios() {
        let link = Fields {
            app: Some("LINK"),
            msgid: Some("UPDOWN"),
            message: "Interface GigabitEthernet0/1, changed state to down",
            ..fields(CiscoIos, 189)
        };
        // `*`: clock not synchronised; the year is the one closest to the receive time.
        check(
            "<189>123: *Mar  1 00:01:02.345: %LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to down",
            Fields {
                timestamp: Some("2027-03-01T00:01:02.345Z"),
                ..link
            },
        );
        check(
            "<189>45: router1: Mar  1 00:01:02.345 UTC: %LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to down",
            Fields {
                host: Some("router1"),
                timestamp: Some("2027-03-01T00:01:02.345Z"),
                ..link
            },
        );
        check(
            "<189>46: .Nov 20 08:00:00.1 EST: %LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to down",
            Fields {
                timestamp: Some("2026-11-20T08:00:00.100-05:00"),
                ..link
            },
        );
        // The tag form syslog_loose already splits: the mnemonic is the tag.
        check(
            "<189>Mar  1 00:01:02 router1 %LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to down",
            Fields {
                host: Some("router1"),
                timestamp: Some("2027-03-01T00:01:02Z"),
                ..link
            },
        );
        // Relayed by a syslog server: its header, then the device's sequence number and clock.
        check(
            "<190>Feb  8 04:00:48 198.51.100.2 585917: Feb  8 04:00:47.272: %SEC-6-IPACCESSLOGRP: list 177 denied igmp",
            Fields {
                host: Some("198.51.100.2"),
                app: Some("SEC"),
                msgid: Some("IPACCESSLOGRP"),
                timestamp: Some("2027-02-08T04:00:48Z"),
                message: "list 177 denied igmp",
                ..fields(CiscoIos, 190)
            },
        );
    }

    #[test]
    fn cisco_asa_and_ftd() {
        // No PRI: severity comes from the mnemonic.
        check(
            "Mar 01 2024 12:00:00: %ASA-6-302013: Built inbound TCP connection 1 for outside:192.0.2.1/5000",
            Fields {
                app: Some("ASA"),
                msgid: Some("302013"),
                timestamp: Some("2024-03-01T12:00:00Z"),
                message: "Built inbound TCP connection 1 for outside:192.0.2.1/5000",
                facility: Some(1),
                severity: Some(6),
                ..base(CiscoAsa)
            },
        );
        check(
            "<166>Apr 15 2014 09:34:34 EDT: %ASA-session-5-106100: access-list acl_in permitted tcp",
            Fields {
                app: Some("ASA"),
                msgid: Some("106100"),
                timestamp: Some("2014-04-15T09:34:34-04:00"),
                message: "access-list acl_in permitted tcp",
                ..fields(CiscoAsa, 166)
            },
        );
        check(
            "May  5 17:51:17 dev01: %FTD-4-302015: Built inbound UDP connection",
            Fields {
                host: Some("dev01"),
                app: Some("FTD"),
                msgid: Some("302015"),
                timestamp: Some("2027-05-05T17:51:17Z"),
                message: "Built inbound UDP connection",
                facility: Some(1),
                severity: Some(4),
                ..base(CiscoAsa)
            },
        );
        check(
            "<166>Mar 01 2024 12:00:00 fw01 : %ASA-6-302013: Built",
            Fields {
                host: Some("fw01"),
                app: Some("ASA"),
                msgid: Some("302013"),
                timestamp: Some("2024-03-01T12:00:00Z"),
                message: "Built",
                ..fields(CiscoAsa, 166)
            },
        );
    }

    #[test]
    fn cisco_nxos_in_source_zone() {
        let berlin = ctx_at("2024-03-01T12:00:00Z", chrono_tz::Europe::Berlin);
        check_with(
            "<189>2024 Mar 01 12:00:00 sw1: %ETHPORT-5-IF_DOWN_LINK_FAILURE: Interface Ethernet1/9 is down (Link failure)",
            &berlin,
            Fields {
                host: Some("sw1"),
                app: Some("ETHPORT"),
                msgid: Some("IF_DOWN_LINK_FAILURE"),
                timestamp: Some("2024-03-01T12:00:00+01:00"),
                message: "Interface Ethernet1/9 is down (Link failure)",
                ..fields(CiscoNxos, 189)
            },
        );
    }

    #[test]
    fn fortigate_key_values() {
        let line = "<189>date=2020-04-23 time=12:17:48 devname=\"FGT1\" devid=\"FGT60E0000000001\" \
                    logid=\"0000000013\" type=\"traffic\" subtype=\"forward\" level=\"notice\" tz=\"-0500\" \
                    srcip=10.0.0.1 srcport=60899 msg=\"say \\\"hi\\\"\" action=\"deny\"";
        let message = check(
            line,
            Fields {
                host: Some("FGT1"),
                msgid: Some("0000000013"),
                timestamp: Some("2020-04-23T12:17:48-05:00"),
                message: &line[5..],
                ..fields(Fortigate, 189)
            },
        );
        let params = sd(&message, "fortigate");
        assert_eq!(params.len(), 13);
        assert_eq!(params[2], ("devname", "FGT1"));
        assert!(params.contains(&("srcport", "60899")));
        assert!(params.contains(&("msg", "say \"hi\"")));
        // No PRI and no tz: severity from `level`, time in the source zone.
        let message = check_with(
            "date=2020-04-23 time=12:17:48 devname=\"FGT1\" logid=\"0100032001\" level=\"warning\"",
            &ctx_at("2020-04-23T12:00:00Z", chrono_tz::Europe::Paris),
            Fields {
                host: Some("FGT1"),
                msgid: Some("0100032001"),
                timestamp: Some("2020-04-23T12:17:48+02:00"),
                message: "date=2020-04-23 time=12:17:48 devname=\"FGT1\" logid=\"0100032001\" level=\"warning\"",
                facility: Some(1),
                severity: Some(4),
                ..base(Fortigate)
            },
        );
        assert_eq!(sd(&message, "fortigate").len(), 5);
    }

    #[test]
    fn kv_edge_cases() {
        assert_eq!(
            kv_pairs("a=1 b=\"x y\" c= d=\"unterminated"),
            [
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "x y".to_owned()),
                ("c".to_owned(), String::new()),
            ]
        );
        assert_eq!(parse_offset("+0530"), FixedOffset::east_opt(19800));
        assert_eq!(parse_offset("-05:00"), FixedOffset::west_opt(18000));
        assert_eq!(parse_offset("0500"), None);
        assert_eq!(parse_offset("+99"), None);
    }

    #[test]
    fn pfsense_filterlog() {
        let tcp = "<134>Jul  3 19:10:30 filterlog[72237]: 146,,,1535324496,igb1.12,match,block,in,4,0x0,,63,12617,0,DF,6,tcp,60,10.0.12.50,192.0.2.1,49724,853,0,S,1891286705,,64240,,mss;sackOK;TS;nop;wscale";
        let message = check(
            tcp,
            Fields {
                app: Some("filterlog"),
                procid: Some("72237"),
                timestamp: Some("2026-07-03T19:10:30Z"),
                message: &tcp[39..],
                ..fields(Pfsense, 134)
            },
        );
        let params = sd(&message, "filterlog");
        for expected in [
            ("rulenr", "146"),
            ("interface", "igb1.12"),
            ("reason", "match"),
            ("action", "block"),
            ("direction", "in"),
            ("ipversion", "4"),
            ("protocol", "tcp"),
            ("src", "10.0.12.50"),
            ("dst", "192.0.2.1"),
            ("srcport", "49724"),
            ("dstport", "853"),
            ("tcpflags", "S"),
        ] {
            assert!(params.contains(&expected), "{expected:?} not in {params:?}");
        }
        let udp6 = "<134>Dec 31 22:02:55 fw.example.net filterlog[15307]: 6,,,1000000105,igb1.27,match,block,in,6,0x00,0xf6279,1,UDP,17,32,fe80::208:9bff:fef3:652b,ff02::1:2,546,547,32";
        let message = decoded(udp6.as_bytes(), &ctx());
        assert_eq!(message.host.as_deref(), Some("fw.example.net"));
        let params = sd(&message, "filterlog");
        for expected in [
            ("protocol", "UDP"),
            ("src", "fe80::208:9bff:fef3:652b"),
            ("dst", "ff02::1:2"),
            ("srcport", "546"),
            ("dstport", "547"),
        ] {
            assert!(params.contains(&expected), "{expected:?} not in {params:?}");
        }
        // OPNsense over RFC 5424.
        let opnsense = "<134>1 2022-06-09T14:44:11-06:00 opnsense.example.com filterlog 76404 - [meta sequenceId=\"1\"] 124,,,fae559338f65e11c53669fc3642c93c2,ixl1_vlan70,match,pass,out,4,0x0,,63,5687,0,DF,6,tcp,60,192.168.1.1,10.10.10.10,40370,80,0,S,3364871769,,65535,,mss";
        let message = decoded(opnsense.as_bytes(), &ctx());
        assert_eq!(message.format, Pfsense);
        assert!(sd(&message, "filterlog").contains(&("action", "pass")));
        assert_eq!(sd(&message, "meta"), [("sequenceId", "1")]);
    }

    #[test]
    fn snare_windows_events() {
        let line = "<14>Sep 17 16:37:25 WIN-5SB1I3G0V7U MSWinEventLog\t1\tSecurity\t6862\tFri Sep 17 16:37:25 2021\t4608\tMicrosoft-Windows-Security-Auditing\tN/A\tN/A\tSuccess Audit\tWIN-5SB1I3G0V7U\tSecurity State Change\t\tWindows is starting up.\t15\r\n";
        let message = check_with(
            line,
            &ctx_at("2021-09-18T00:00:00Z", chrono_tz::UTC),
            Fields {
                host: Some("WIN-5SB1I3G0V7U"),
                app: Some("MSWinEventLog"),
                msgid: Some("4608"),
                timestamp: Some("2021-09-17T16:37:25Z"),
                message: "Windows is starting up.",
                ..fields(Snare, 14)
            },
        );
        let params = sd(&message, "snare");
        assert_eq!(params[0], ("criticality", "1"));
        assert_eq!(params[1], ("log", "Security"));
        assert!(params.contains(&("event_id", "4608")));
        assert!(params.contains(&("user", "N/A")));
        assert!(params.contains(&("event_type", "Success Audit")));
        assert!(params.contains(&("category", "Security State Change")));
        assert!(!params.iter().any(|(k, _)| *k == "data"));
        // Snare inside RFC 5424, and without any PRI.
        let rfc5424 = "<13>1 2025-02-18T06:42:17.554128Z DC25 - - - - MSWinEventLog\t1\tSecurity\t802301\tTue Feb 18 06:42:17 2025\t4624\tMicrosoft-Windows-Security-Auditing\tN/A\tN/A\tSuccess Audit\tDC25\tLogon\t\tAn account was successfully logged on.\t1";
        check(
            rfc5424,
            Fields {
                host: Some("DC25"),
                app: Some("MSWinEventLog"),
                msgid: Some("4624"),
                timestamp: Some("2025-02-18T06:42:17.554128Z"),
                message: "An account was successfully logged on.",
                ..fields(Snare, 13)
            },
        );
        let escaped = "<13>Mar 10 09:30:20 zuse MSWinEventLog#0111#011Security#011564#011Wed Mar 10 09:30:19 2010#011540#011Security#011BACKUP1$#011User#011Success Audit#011ZUSE#011Logon/Logoff#011#011Successful Network Logon: User Name: BACKUP1$#011552";
        let message = decoded(escaped.as_bytes(), &ctx());
        assert_eq!(
            (message.format, message.host.as_deref()),
            (Snare, Some("zuse"))
        );
        assert_eq!(
            (message.app.as_deref(), message.msgid.as_deref()),
            (Some("MSWinEventLog"), Some("540"))
        );
        assert_eq!(
            message.message,
            "Successful Network Logon: User Name: BACKUP1$"
        );
        let bare = "Mar 10 09:30:20 zuse.example.local MSWinEventLog\t1\tSecurity\t564\tWed Mar 10 09:30:19 2010\t540";
        let message = decoded(bare.as_bytes(), &ctx());
        assert_eq!(
            (message.format, message.msgid.as_deref(), message.severity),
            (Snare, Some("540"), Some(5))
        );
    }

    #[test]
    fn ordinary_lines_are_not_vendor_lines() {
        check(
            "<13>Mar  1 12:00:00 host app: 100% done: ok",
            Fields {
                host: Some("host"),
                app: Some("app"),
                timestamp: Some("2027-03-01T12:00:00Z"),
                message: "100% done: ok",
                ..fields(Rfc3164, 13)
            },
        );
        assert!(fortigate("datex=1", &ctx()).is_none());
    }
}
