//! Rules without a running appliance: `trapline test-rules` and `trapline replay`.
//!
//! Both feed inputs through exactly what `run` uses — the syslog decoder and normalizer, the
//! SNMP decoder and MIBs, [`RuleSet::qualify`] and the [`AlertEngine`] — but in memory, with
//! time taken from the inputs instead of the clock. So a rule test says what the appliance will
//! do, including thresholds, expectations and expiry, in milliseconds.
//!
//! A case file (`CASES.toml`):
//! ```toml
//! [[case]]
//! name = "five failed passwords in a minute raise one alert"
//! start = "2026-11-23T10:00:00Z"            # clock at the first input (optional)
//! [[case.input]]
//! syslog = "<38>Nov 23 10:00:00 web1 sshd[1]: Failed password for root from 203.0.113.9 port 22 ssh2"
//! repeat = 5                                 # optional, `every` apart (default 1s)
//! every = "5s"
//! [[case.input]]
//! after = "10s"                              # clock advance before this input (default 1s)
//! trap = "IF-MIB::linkDown IF-MIB::ifIndex.2 i 2 IF-MIB::ifDescr.2 s eth0"
//! [[case.input]]
//! after = "25h"                              # only advance the clock (expectations, expiry)
//! [[case.expect]]
//! change = "raised"                          # raised | folded | suppressed | cleared
//! rule = "ssh-bruteforce"
//! level = "critical"
//! summary = "SSH brute force from 203.0.113.9 on web1"
//! count = 5
//! ```
//! Expected changes must appear in this order; a raised, suppressed or cleared change that no
//! expectation names fails the case (folds are only checked when expected), like `promtool test
//! rules` does for alerts.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::alerts::{AlertEngine, Change, ChangeKind, EngineOptions};
use crate::config::{SnmpSection, SourceTable};
use crate::event::{Event, Transport, format_ns};
use crate::mib::MibSet;
use crate::normalize::{LevelTable, Normalizer};
use crate::rules::{RuleSet, Scratch};
use crate::snmp::{DecodedTrap, SecurityLevel, SnmpReceiver, SnmpSettings, SnmpValue, SnmpVersion};

/// Why a case file or an input could not be used.
#[derive(Debug, thiserror::Error)]
pub enum OfflineError {
    #[error("{0}")]
    Read(String),
    #[error("{file}:{line}:{col}: {message}")]
    Syntax {
        file: String,
        line: usize,
        col: usize,
        message: String,
    },
    #[error("case {case:?}, input {input}: {message}")]
    Input {
        case: String,
        input: usize,
        message: String,
    },
}

/// The rules plus everything that turns inputs into events, with a simulated clock.
pub struct Simulator {
    rules: RuleSet,
    engine: AlertEngine,
    scratch: Scratch,
    normalizer: Normalizer,
    mibs: MibSet,
    snmp: SnmpReceiver,
    next_event_id: u64,
    now_ns: i64,
    /// Events the rules dropped.
    pub dropped: u64,
    /// Events fed.
    pub events: u64,
}

/// The sender address inputs appear to come from unless they say otherwise.
const DEFAULT_SOURCE: &str = "192.0.2.1:514";

impl Simulator {
    pub fn new(rules: RuleSet, mibs: MibSet, start_ns: i64) -> Simulator {
        let snmp_settings = SnmpSettings::from_config(
            &SnmpSection::default(),
            crate::snmp::generate_engine_id(),
            1,
            std::time::Instant::now(),
        )
        .expect("the default [snmp] section is valid");
        Simulator {
            rules,
            engine: AlertEngine::in_memory(EngineOptions {
                journal: true,
                ..EngineOptions::default()
            }),
            scratch: Scratch::default(),
            normalizer: Normalizer::new(SourceTable::new(Vec::new()), LevelTable::default()),
            mibs,
            snmp: SnmpReceiver::new(snmp_settings).expect("default SNMP settings are valid"),
            next_event_id: 1,
            now_ns: start_ns,
            dropped: 0,
            events: 0,
        }
    }

    pub fn now_ns(&self) -> i64 {
        self.now_ns
    }

    /// Moves the clock forward, letting time-driven rules act at most once per second of it.
    pub fn advance_to(&mut self, to_ns: i64) {
        const STEP: i64 = 1_000_000_000;
        while self.now_ns + STEP <= to_ns {
            self.now_ns += STEP;
            self.engine.tick(&self.rules, self.now_ns);
        }
        if to_ns > self.now_ns {
            self.now_ns = to_ns;
            self.engine.tick(&self.rules, self.now_ns);
        }
    }

    /// One syslog line or datagram, received now from `source`.
    pub fn syslog(&mut self, line: &str, source: SocketAddr) {
        let event = self
            .normalizer
            .syslog(line.as_bytes(), source, Transport::Udp, self.now_ns);
        self.feed(event);
    }

    /// A whole SNMP datagram (v1/v2c with the community `public`), received now.
    pub fn trap_datagram(&mut self, bytes: &[u8], source: SocketAddr) -> Result<(), String> {
        let outcome = self.snmp.handle(bytes, source);
        match (outcome.trap, outcome.refusal) {
            (Some(trap), _) => {
                let event =
                    crate::normalize::trap::trap_event(&trap, source, self.now_ns, &self.mibs);
                self.feed(event);
                Ok(())
            }
            (None, Some(refusal)) => Err(format!("datagram refused: {refusal}")),
            (None, None) => Err("not an SNMP notification".into()),
        }
    }

    /// A v2c notification written as `snmptrap` takes it: `TRAP-OID [OID TYPE VALUE]...`.
    pub fn trap_text(&mut self, text: &str, source: SocketAddr) -> Result<(), String> {
        let trap = parse_trap_text(text, &self.mibs)?;
        let event = crate::normalize::trap::trap_event(&trap, source, self.now_ns, &self.mibs);
        self.feed(event);
        Ok(())
    }

    fn feed(&mut self, mut event: Event) {
        self.events += 1;
        let verdict = self.rules.qualify(&mut event, &mut self.scratch);
        if verdict.drop {
            self.dropped += 1;
            return;
        }
        event.id = self.next_event_id;
        self.next_event_id += 1;
        self.engine.observe(&self.rules, &event, &verdict);
    }

    /// What happened to alerts since the last call.
    pub fn take_changes(&mut self) -> Vec<Change> {
        self.engine.take_journal()
    }

    /// Alerts active now.
    pub fn active_alerts(&self) -> usize {
        self.engine.active().count()
    }
}

/// `TRAP-OID [OID TYPE VALUE]...` with snmptrap's type letters (i u c g t a o s x d n b).
pub fn parse_trap_text(text: &str, mibs: &MibSet) -> Result<DecodedTrap, String> {
    let words = split_words(text)?;
    let Some((trap_name, rest)) = words.split_first() else {
        return Err("empty trap: expected TRAP-OID [OID TYPE VALUE]...".into());
    };
    let resolve = |name: &str| {
        mibs.resolve_name(name)
            .ok_or_else(|| format!("unknown OID or MIB name {name:?}"))
    };
    let trap_oid = resolve(trap_name)?;
    if rest.len() % 3 != 0 {
        return Err("varbinds come in threes: OID TYPE VALUE".into());
    }
    let mut varbinds = Vec::new();
    for triple in rest.chunks(3) {
        let oid = resolve(&triple[0])?;
        let value = typed_value(&triple[1], &triple[2], mibs)?;
        varbinds.push((oid, value));
    }
    Ok(DecodedTrap {
        version: SnmpVersion::V2c,
        community: Some("public".into()),
        user: None,
        security_level: SecurityLevel::NoAuthNoPriv,
        engine_id: None,
        request_id: 1,
        inform: false,
        trap_oid,
        uptime: Some(0),
        v1: None,
        varbinds,
    })
}

fn typed_value(kind: &str, text: &str, mibs: &MibSet) -> Result<SnmpValue, String> {
    let bad = || format!("bad value {text:?} for type {kind}");
    Ok(match kind {
        "i" => SnmpValue::Integer32(text.parse().map_err(|_| bad())?),
        "u" | "g" => SnmpValue::Gauge32(text.parse().map_err(|_| bad())?),
        "c" => SnmpValue::Counter32(text.parse().map_err(|_| bad())?),
        "C" => SnmpValue::Counter64(text.parse().map_err(|_| bad())?),
        "t" => SnmpValue::TimeTicks(text.parse().map_err(|_| bad())?),
        "a" => SnmpValue::IpAddress(text.parse().map_err(|_| bad())?),
        "o" => SnmpValue::ObjectIdentifier(mibs.resolve_name(text).ok_or_else(bad)?),
        "s" => SnmpValue::OctetString(text.as_bytes().to_vec()),
        "x" => SnmpValue::OctetString(parse_hex(text).ok_or_else(bad)?),
        "n" => SnmpValue::Null,
        other => {
            return Err(format!(
                "unknown type letter {other:?} (i u c C g t a o s x n)"
            ));
        }
    })
}

/// Hex bytes, with or without separators (spaces, colons).
pub fn parse_hex(text: &str) -> Option<Vec<u8>> {
    let digits: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    let digits = digits.strip_prefix("0x").unwrap_or(&digits);
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(digits.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Words separated by blanks; `"…"` groups words (with `\"` and `\\` escapes).
fn split_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut word = String::new();
        if c == '"' {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => word.extend(chars.next()),
                    Some(other) => word.push(other),
                    None => return Err("unterminated quote".into()),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        words.push(word);
    }
    Ok(words)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CasesFile {
    case: Vec<CaseToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseToml {
    name: String,
    start: Option<String>,
    #[serde(default)]
    input: Vec<InputToml>,
    #[serde(default)]
    expect: Vec<ExpectToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InputToml {
    after: Option<String>,
    syslog: Option<String>,
    trap: Option<String>,
    trap_hex: Option<String>,
    source: Option<String>,
    repeat: Option<u32>,
    every: Option<String>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct ExpectToml {
    #[serde(default = "raised")]
    change: String,
    rule: Option<String>,
    level: Option<String>,
    summary: Option<String>,
    host: Option<String>,
    key: Option<String>,
    category: Option<String>,
    count: Option<u64>,
    state: Option<String>,
}

fn raised() -> String {
    "raised".into()
}

/// The outcome of one case.
#[derive(Debug)]
pub struct CaseResult {
    pub name: String,
    /// Empty when the case passed.
    pub failures: Vec<String>,
}

/// Clock of a case that gives no `start`.
const DEFAULT_START: &str = "2026-01-01T00:00:00Z";

/// Runs every case of `cases_file` against `rules`.
pub fn run_cases(
    rules_for_case: &dyn Fn() -> RuleSet,
    cases_file: &Path,
    mibs: &MibSet,
) -> Result<Vec<CaseResult>, OfflineError> {
    let name = cases_file.display().to_string();
    let text = std::fs::read_to_string(cases_file)
        .map_err(|e| OfflineError::Read(format!("{name}: {e}")))?;
    let file: CasesFile = toml::from_str(&text).map_err(|e| {
        let (line, col) = crate::config::line_col(&text, e.span().map_or(0, |s| s.start));
        OfflineError::Syntax {
            file: name.clone(),
            line,
            col,
            message: e.message().trim().to_string(),
        }
    })?;
    file.case
        .iter()
        .map(|case| run_case(rules_for_case(), case, mibs))
        .collect()
}

fn run_case(rules: RuleSet, case: &CaseToml, mibs: &MibSet) -> Result<CaseResult, OfflineError> {
    let input_error = |input: usize, message: String| OfflineError::Input {
        case: case.name.clone(),
        input,
        message,
    };
    let start = crate::rules::parse_instant(case.start.as_deref().unwrap_or(DEFAULT_START))
        .map_err(|m| input_error(0, m))?;
    let mut sim = Simulator::new(rules, mibs.clone(), start);
    let mut first = true;
    for (n, input) in case.input.iter().enumerate() {
        let n = n + 1;
        let duration = |text: &Option<String>, default: Duration| match text {
            Some(t) => crate::config::parse_duration(t).map_err(|m| input_error(n, m)),
            None => Ok(default),
        };
        let after = duration(
            &input.after,
            if first {
                Duration::ZERO
            } else {
                Duration::from_secs(1)
            },
        )?;
        let every = duration(&input.every, Duration::from_secs(1))?;
        first = false;
        let source: SocketAddr = input
            .source
            .as_deref()
            .unwrap_or(DEFAULT_SOURCE)
            .parse()
            .map_err(|_| input_error(n, "source: expected ip:port".into()))?;
        let given = [&input.syslog, &input.trap, &input.trap_hex]
            .iter()
            .filter(|x| x.is_some())
            .count();
        if given > 1 {
            return Err(input_error(n, "give one of syslog, trap, trap_hex".into()));
        }
        sim.advance_to(sim.now_ns() + after.as_nanos() as i64);
        for i in 0..input.repeat.unwrap_or(1) {
            if i > 0 {
                sim.advance_to(sim.now_ns() + every.as_nanos() as i64);
            }
            if let Some(line) = &input.syslog {
                sim.syslog(line, source);
            } else if let Some(text) = &input.trap {
                sim.trap_text(text, source).map_err(|m| input_error(n, m))?;
            } else if let Some(hex) = &input.trap_hex {
                let bytes =
                    parse_hex(hex).ok_or_else(|| input_error(n, "trap_hex: not hex".into()))?;
                sim.trap_datagram(&bytes, source)
                    .map_err(|m| input_error(n, m))?;
            }
        }
    }
    let changes = sim.take_changes();
    Ok(CaseResult {
        name: case.name.clone(),
        failures: compare(&case.expect, &changes),
    })
}

/// Matches expectations in order against the journal; unexpected non-fold changes fail.
fn compare(expected: &[ExpectToml], changes: &[Change]) -> Vec<String> {
    let mut failures = Vec::new();
    let mut used = vec![false; changes.len()];
    let mut from = 0;
    for (n, want) in expected.iter().enumerate() {
        let found =
            (from..changes.len()).find(|&i| !used[i] && expectation_matches(want, &changes[i]));
        match found {
            Some(i) => {
                used[i] = true;
                from = i + 1;
            }
            None => {
                let near: Vec<String> = changes
                    .iter()
                    .filter(|c| c.kind.as_str() == want.change)
                    .map(describe)
                    .collect();
                failures.push(format!(
                    "expectation {} ({} {}) not met; {} changes of that kind: {}",
                    n + 1,
                    want.change,
                    want.rule.as_deref().unwrap_or("any rule"),
                    near.len(),
                    if near.is_empty() {
                        "none".into()
                    } else {
                        near.join("; ")
                    }
                ));
            }
        }
    }
    for (i, change) in changes.iter().enumerate() {
        if !used[i] && change.kind != ChangeKind::Folded {
            failures.push(format!("unexpected: {}", describe(change)));
        }
    }
    failures
}

fn expectation_matches(want: &ExpectToml, change: &Change) -> bool {
    let alert = &change.alert;
    change.kind.as_str() == want.change
        && want.rule.as_ref().is_none_or(|r| *r == alert.rule)
        && want
            .level
            .as_ref()
            .is_none_or(|l| l == alert.level.as_str())
        && want.summary.as_ref().is_none_or(|s| *s == alert.summary)
        && want
            .host
            .as_ref()
            .is_none_or(|h| h.eq_ignore_ascii_case(&alert.host))
        && want.key.as_ref().is_none_or(|k| *k == alert.key)
        && want
            .category
            .as_ref()
            .is_none_or(|c| Some(c) == alert.category.as_ref())
        && want.count.is_none_or(|c| c == alert.count)
        && want
            .state
            .as_ref()
            .is_none_or(|s| s == alert.state.as_str())
}

/// One line per change: time, what, level, rule, host, summary, count.
pub fn describe(change: &Change) -> String {
    let a = &change.alert;
    let mut line = String::new();
    let _ = write!(
        line,
        "{} {} {} rule={} host={} summary={:?} count={}",
        format_ns(change.at_ns),
        change.kind.as_str(),
        a.level.as_str(),
        a.rule,
        a.host,
        a.summary,
        a.count
    );
    line
}

/// What `replay` saw.
#[derive(Debug, Default)]
pub struct ReplaySummary {
    pub lines: u64,
    pub dropped: u64,
    pub raised: u64,
    pub cleared: u64,
    pub active_at_end: usize,
}

/// Runs a captured log (one syslog message per line) through `rules`, writing each alert
/// change to `out`. A line's time is its own timestamp when it has one (so thresholds and
/// expectations see the real spacing), else one second after the previous line.
pub fn replay(
    rules: RuleSet,
    mibs: MibSet,
    input: impl std::io::BufRead,
    out: &mut dyn std::io::Write,
) -> std::io::Result<ReplaySummary> {
    let mut sim = Simulator::new(rules, mibs, 0);
    let mut summary = ReplaySummary::default();
    let source: SocketAddr = DEFAULT_SOURCE.parse().expect("valid address");
    let mut last_ns: Option<i64> = None;
    for line in input.split(b'\n') {
        let line = line?;
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches('\r');
        if text.trim().is_empty() {
            continue;
        }
        summary.lines += 1;
        // Decoded once, against the clock (the year of year-less timestamps), then received at
        // the line's own time.
        let mut event = sim.normalizer.syslog(
            text.as_bytes(),
            source,
            Transport::Udp,
            crate::event::now_ns(),
        );
        let stamp = event
            .timestamp
            .as_deref()
            .and_then(|t| crate::rules::parse_instant(t).ok());
        let at = match last_ns {
            None => {
                let at = stamp
                    .unwrap_or_else(|| crate::rules::parse_instant(DEFAULT_START).unwrap_or(0));
                sim.now_ns = at;
                at
            }
            Some(last) => {
                let at = stamp.filter(|t| *t >= last).unwrap_or(last + 1_000_000_000);
                sim.advance_to(at);
                at
            }
        };
        last_ns = Some(at);
        event.received_at_ns = at;
        sim.feed(event);
        for change in sim.take_changes() {
            match change.kind {
                ChangeKind::Raised | ChangeKind::Suppressed => summary.raised += 1,
                ChangeKind::Cleared => summary.cleared += 1,
                ChangeKind::Folded => continue,
            }
            writeln!(out, "{}", describe(&change))?;
        }
    }
    summary.dropped = sim.dropped;
    summary.active_at_end = sim.active_alerts();
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINK_RULES: &str = r#"
[[rule]]
name = "link-down"
when = 'trap_name == "linkDown"'
key = "{host}/if/{varbind.ifIndex}"
clear_when = 'trap_name == "linkUp"'
level = "warning"
summary = "Interface {varbind.ifIndex} down on {host}"
"#;

    fn netsnmp_datagram(name: &str) -> String {
        include_str!("../tests/fixtures/snmp/netsnmp.hex")
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ').map(str::to_string))
            .expect("fixture datagram")
    }

    fn run(cases: &str) -> Vec<CaseResult> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cases.toml");
        std::fs::write(&file, cases).unwrap();
        let rules = || load_texts_or_panic(LINK_RULES);
        run_cases(&rules, &file, &MibSet::bundled()).unwrap()
    }

    fn load_texts_or_panic(text: &str) -> RuleSet {
        crate::rules::load_texts([("r.toml", text)]).unwrap()
    }

    #[test]
    fn hex_datagrams_and_snmptrap_style_text_feed_the_rules() {
        // A real v1 linkDown (generic trap 2, ifIndex 3) from net-snmp's snmptrap, then a
        // linkUp written as snmptrap arguments; the agent address 10.1.2.3 is the host.
        let down = netsnmp_datagram("v1_linkdown");
        let results = run(&format!(
            r#"
[[case]]
name = "pair"
[[case.input]]
trap_hex = "{down}"
[[case.input]]
trap = "IF-MIB::linkUp IF-MIB::ifIndex.3 i 3 1.3.6.1.6.3.18.1.3.0 a 10.1.2.3"
[[case.expect]]
rule = "link-down"
summary = "Interface 3 down on 10.1.2.3"
[[case.expect]]
change = "cleared"
key = "10.1.2.3/if/3"
"#
        ));
        assert!(results[0].failures.is_empty(), "{:?}", results[0].failures);
    }

    #[test]
    fn failures_say_what_was_expected_and_what_happened() {
        let results = run(r#"
[[case]]
name = "wrong"
[[case.input]]
trap = "IF-MIB::linkDown IF-MIB::ifIndex.2 i 2"
[[case.expect]]
rule = "link-down"
level = "critical"
"#);
        let failures = &results[0].failures;
        assert_eq!(failures.len(), 2, "{failures:?}");
        assert!(
            failures[0].contains("not met")
                && failures[0].contains("raised warning rule=link-down")
        );
        assert!(failures[1].starts_with("unexpected: "));
    }

    #[test]
    fn trap_text_is_checked() {
        let mibs = MibSet::bundled();
        assert!(parse_trap_text("IF-MIB::linkDown IF-MIB::ifIndex.2 i", &mibs).is_err());
        assert!(parse_trap_text("NO-SUCH-MIB::thing", &mibs).is_err());
        assert!(parse_trap_text("IF-MIB::linkDown IF-MIB::ifIndex.2 i two", &mibs).is_err());
        let trap = parse_trap_text(
            r#"1.3.6.1.6.3.1.1.5.3 IF-MIB::ifDescr.2 s "Gi0/2 uplink""#,
            &mibs,
        )
        .unwrap();
        assert_eq!(
            trap.varbinds[0].1,
            SnmpValue::OctetString(b"Gi0/2 uplink".to_vec())
        );
        assert_eq!(parse_hex("30:0a 0B"), Some(vec![0x30, 0x0a, 0x0b]));
        assert_eq!(parse_hex("abc"), None);
    }

    #[test]
    fn replay_prints_raised_and_cleared_alerts() {
        let rules = load_texts_or_panic(
            "[[rule]]\nname = \"disk\"\nwhen = 'message =~ \"disk (?P<d>\\\\S+) failed\"'\nlevel = \"critical\"\nkey = \"{host}/{d}\"\nclear_when = 'message =~ \"disk (?P<d>\\\\S+) ok\"'\n",
        );
        let log = "<11>1 2026-11-23T10:00:00Z h1 raid - - - disk sda failed\n\n<14>1 2026-11-23T10:00:05Z h1 raid - - - disk sda ok\n<11>1 2026-11-23T10:00:09Z h1 raid - - - disk sdb failed\n";
        let mut out = Vec::new();
        let summary = replay(rules, MibSet::bundled(), log.as_bytes(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            (
                summary.lines,
                summary.raised,
                summary.cleared,
                summary.active_at_end
            ),
            (3, 2, 1, 1)
        );
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("2026-11-23T10:00:00.000000Z raised critical rule=disk host=h1"),
            "{text}"
        );
        assert!(
            lines[1].starts_with("2026-11-23T10:00:05.000000Z cleared"),
            "{text}"
        );
    }
}
