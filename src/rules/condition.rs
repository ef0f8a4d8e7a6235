//! The `when` language of rule files: condition text in, a compiled [`Condition`] out.
//!
//! A condition such as `app == "sshd" and message =~ "Failed password .* from (?P<ip>\S+)"` is
//! parsed once, when the rule file loads, into a tree of `Node`s whose leaves are typed tests
//! (`Test`): regexes are compiled, host globs pre-lowercased, networks parsed, severity and
//! facility names turned into numbers. [`Condition::matches`] then only walks that tree, so the
//! per-event cost is a few comparisons and no allocation unless a regex hands back named
//! captures. Every field that can be named in a condition is a `Field`, which
//! [`super::template`] shares so that `{host}` in a summary means what `host` means in a `when`.
//!
//! The grammar, loosest binding first (`not` binds tighter than `and`, which binds tighter than
//! `or`; both short-circuit):
//!
//! ```text
//! or         = and (("or" | "||") and)*
//! and        = unary (("and" | "&&") unary)*
//! unary      = ("not" | "!") unary | "(" or ")" | comparison
//! comparison = FIELD OP value
//! OP         = "==" | "!=" | "<" | "<=" | ">" | ">=" | "=~" | "!~" | "in" | "not in"
//! value      = STRING | INTEGER | ADDRESS | CIDR | "[" scalar ("," scalar)* ","? "]"
//! ```
//!
//! `!=`, `!~` and `not in` are compiled as the negation of `==`, `=~` and `in`, which gives the
//! rule for missing values for free: a test on a value the event does not have is false, so its
//! negation is true. Errors carry the byte offset of the offending token; `rules` turns it into
//! `file:line:col`. Nesting of parentheses and `not` is capped at [`MAX_NESTING`] so that no
//! input can overflow the stack.
//!
//! This module does no I/O and keeps no state between events: windows, deduplication and the
//! order in which rules run belong to the rest of `rules`.

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::net::IpAddr;

use ipnet::IpNet;
use nom::{
    IResult, Parser,
    branch::alt,
    bytes::complete::{tag, take_while, take_while1},
    character::complete::{multispace0, one_of, satisfy},
    combinator::{cut, map, not, opt, recognize, value},
    error::{ContextError, ErrorKind, ParseError, context},
    multi::{many0, separated_list0},
    sequence::{delimited, preceded, terminated},
};
use regex::Regex;
use regex_syntax::hir::literal::{ExtractKind, Extractor, Seq};

use crate::event::{Event, EventKind, Level, Varbind};

/// Deepest nesting of parentheses and `not` we follow; real conditions need two or three, and
/// the cap keeps hostile input from overflowing the stack of the parser or of `matches`.
pub const MAX_NESTING: usize = 64;

/// At most this many literals make a useful message prefilter; more and scanning for them costs
/// about as much as running the regex.
const MAX_MESSAGE_LITERALS: usize = 16;

/// Literals shorter than this occur in too many messages to rule any out.
const MIN_MESSAGE_LITERAL_BYTES: usize = 3;

/// The field names as listed in error messages, so an operator sees what they may write.
pub(crate) const FIELD_NAMES: &str = "kind, host, source, facility, severity, level, app, \
     procid, msgid, message, trap_oid, trap_name, varbind.NAME, sd.ID.PARAM, category";

/// The thing a condition is evaluated against: the event plus the category set by earlier rules.
///
/// The category is not part of [`Event`] because rules assign it while they run; a later rule
/// sees what earlier ones decided without the event being copied or changed.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The event being classified.
    pub event: &'a Event,
    /// The category an earlier rule assigned, if any (`category == …` tests it).
    pub category: Option<&'a str>,
}

/// Named regex captures collected while evaluating (name, value), later used by templates.
///
/// A list rather than a map because a rule rarely captures more than two values and a linear
/// scan of a short vector beats hashing them.
pub type Captures = Vec<(String, String)>;

/// Why a condition did not compile, and where: `rules` reports it as `file:line:col: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConditionError {
    /// Byte offset into the condition text of the offending token.
    pub offset: usize,
    /// What is wrong, short enough for one `file:line:col: message` line.
    pub message: String,
}

/// A compiled `when` condition; cheap to evaluate, cloned with its rule.
#[derive(Debug, Clone)]
pub struct Condition {
    root: Node,
}

/// Necessary conditions extracted from top-level AND conjuncts (an OR or NOT at the top gives no
/// hints). Each `Some(list)` means: the event can only match if its field equals one of the
/// listed values.
///
/// The rule set uses them to skip rules that cannot match an event without evaluating them, which
/// matters once there are hundreds of rules and hundreds of thousands of events a second.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexHints {
    /// From `kind == "syslog"` / `kind == "trap"`.
    pub kind: Option<EventKind>,
    /// From `app == "x"` or `app in ["x", "y"]`.
    pub app: Option<Vec<String>>,
    /// From `trap_name == …`: the short name (after any `MOD::`), so that an index keyed by the
    /// short name serves both spellings.
    pub trap_name: Option<Vec<String>>,
    /// From host literals without glob characters, lower-cased (hosts compare case-insensitively).
    pub host: Option<Vec<String>>,
    /// From a conjunct `message =~ RE` (case-sensitive regex only): literals of which at least one
    /// must occur in the message for RE to match, so a multi-literal search can rule messages out
    /// before any regex runs.
    pub message_literals: Option<Vec<String>>,
    /// From host globs (`host == "edge-*"`): the lower-cased literal text before the first
    /// wildcard of each pattern; `None` if any pattern starts with a wildcard.
    pub host_prefixes: Option<Vec<String>>,
    /// From `severity ==`, `in`, `<`, `<=`, `>`, `>=`: bit `n` set when severity `n` can
    /// match (an event without a severity cannot).
    pub severities: Option<u8>,
}

impl Condition {
    /// Parses and compiles `text`; every mistake is reported with the byte offset of the token
    /// at fault, because the operator reads it as `file:line:col`.
    pub fn parse(text: &str) -> Result<Condition, ConditionError> {
        let start = text.trim_start();
        if start.is_empty() {
            return Err(ConditionError {
                offset: text.len(),
                message: "empty condition".into(),
            });
        }
        match or_expr(start, 0) {
            Ok((rest, root)) => {
                let rest = rest.trim_start();
                if rest.is_empty() {
                    Ok(Condition { root })
                } else {
                    Err(ConditionError {
                        offset: text.len() - rest.len(),
                        message: format!(
                            "unexpected {} (expected `and`, `or` or the end of the condition)",
                            describe(rest)
                        ),
                    })
                }
            }
            Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(e.into_condition_error(text)),
            Err(nom::Err::Incomplete(_)) => Err(ConditionError {
                offset: text.len(),
                message: "unexpected end of condition".into(),
            }),
        }
    }

    /// True when the event matches. On a match, the named captures of the regexes that matched
    /// are appended to `captures`; on no match `captures` is left exactly as it was given.
    pub fn matches(&self, subject: &Subject<'_>, captures: &mut Captures) -> bool {
        let before = captures.len();
        let matched = self.root.eval(subject, captures);
        if !matched {
            captures.truncate(before);
        }
        matched
    }

    /// Names of every named capture group of every regex in the condition, so that a template
    /// naming `{ip}` can be checked when the rule loads rather than render empty forever.
    pub fn capture_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        self.root.visit(&mut |test| {
            if let Test::Regex { regex, .. } = test {
                for name in regex.capture_names().flatten() {
                    if !names.iter().any(|n| n == name) {
                        names.push(name.to_owned());
                    }
                }
            }
        });
        names
    }

    /// Prefilter facts for the rule index; see [`IndexHints`].
    pub fn index_hints(&self) -> IndexHints {
        self.root.hints()
    }
}

impl IndexHints {
    /// Narrows the hints by what one top-level conjunct requires.
    fn add(&mut self, test: &Test) {
        match test {
            Test::Kind(kinds) if kinds.len() == 1 => {
                self.kind.get_or_insert(kinds[0]);
            }
            Test::Text {
                field: Field::App,
                values,
            } => narrow(&mut self.app, values.clone()),
            Test::TrapName(names) => narrow(
                &mut self.trap_name,
                names
                    .iter()
                    .map(|n| short_name(&n.name).to_owned())
                    .collect(),
            ),
            Test::Host(globs) if globs.iter().all(|g| !g.has_wildcards) => narrow(
                &mut self.host,
                globs.iter().map(|g| g.pattern.clone()).collect(),
            ),
            Test::Host(globs) if self.host_prefixes.is_none() => {
                let prefixes: Vec<String> = globs
                    .iter()
                    .map(|g| g.pattern.split(['*', '?']).next().unwrap_or("").to_string())
                    .collect();
                if prefixes.iter().all(|p| !p.is_empty()) {
                    self.host_prefixes = Some(prefixes);
                }
            }
            Test::NumberIn {
                field: NumberField::Severity,
                mask,
            } => self.narrow_severities((*mask & 0xff) as u8),
            Test::Number {
                field: NumberField::Severity,
                cmp,
                value,
            } => {
                let mask = (0u8..8)
                    .filter(|s| cmp.holds(s.cmp(value)))
                    .fold(0u8, |m, s| m | (1 << s));
                self.narrow_severities(mask);
            }
            Test::Regex {
                field: Field::Message,
                regex,
                ..
            } if self.message_literals.is_none() => {
                self.message_literals = required_literals(regex.as_str());
            }
            _ => {}
        }
    }
}

impl IndexHints {
    fn narrow_severities(&mut self, mask: u8) {
        self.severities = Some(self.severities.unwrap_or(0xff) & mask);
    }

    /// Both `self` and `other` hold (an `and` with a nested `or`).
    fn narrow_with(&mut self, other: IndexHints) {
        if self.kind.is_none() {
            self.kind = other.kind;
        }
        for (mine, theirs) in [
            (&mut self.app, other.app),
            (&mut self.trap_name, other.trap_name),
            (&mut self.host, other.host),
        ] {
            if let Some(values) = theirs {
                narrow(mine, values);
            }
        }
        if self.message_literals.is_none() {
            self.message_literals = other.message_literals;
        }
        if self.host_prefixes.is_none() {
            self.host_prefixes = other.host_prefixes;
        }
        if let Some(mask) = other.severities {
            self.narrow_severities(mask);
        }
    }

    /// Either `self` or `other` holds (the branches of an `or`): a field is known only when
    /// both branches know it.
    fn union(self, other: IndexHints) -> IndexHints {
        fn both(a: Option<Vec<String>>, b: Option<Vec<String>>) -> Option<Vec<String>> {
            let (mut a, b) = (a?, b?);
            for value in b {
                if !a.contains(&value) {
                    a.push(value);
                }
            }
            Some(a)
        }
        IndexHints {
            kind: self.kind.filter(|k| other.kind == Some(*k)),
            app: both(self.app, other.app),
            trap_name: both(self.trap_name, other.trap_name),
            host: both(self.host, other.host),
            message_literals: both(self.message_literals, other.message_literals)
                .filter(|l| l.len() <= MAX_MESSAGE_LITERALS),
            host_prefixes: both(self.host_prefixes, other.host_prefixes),
            severities: self.severities.zip(other.severities).map(|(a, b)| a | b),
        }
    }
}

/// Two conjuncts on the same field must both hold, so the event's value is in both lists.
fn narrow(slot: &mut Option<Vec<String>>, mut values: Vec<String>) {
    values.dedup();
    match slot {
        None => *slot = Some(values),
        Some(previous) => previous.retain(|v| values.contains(v)),
    }
}

/// Literals of which at least one occurs in every text `pattern` matches, or `None` when there
/// is no short, selective set of them.
///
/// Every match of a regex starts with one of its prefix literals and ends with one of its suffix
/// literals (when the extracted sequence is finite), so either set is a valid necessary
/// condition; we take the prefixes and fall back to the suffixes for patterns like `.*foo`.
fn required_literals(pattern: &str) -> Option<Vec<String>> {
    if has_case_insensitive_flag(pattern) {
        return None;
    }
    let hir = regex_syntax::Parser::new().parse(pattern).ok()?;
    [ExtractKind::Prefix, ExtractKind::Suffix]
        .into_iter()
        .find_map(|kind| {
            let mut extractor = Extractor::new();
            extractor.kind(kind);
            useful_literals(&extractor.extract(&hir))
        })
}

fn useful_literals(seq: &Seq) -> Option<Vec<String>> {
    let literals = seq.literals()?;
    if literals.is_empty() || literals.len() > MAX_MESSAGE_LITERALS {
        return None;
    }
    let mut out = Vec::with_capacity(literals.len());
    for literal in literals {
        if literal.as_bytes().len() < MIN_MESSAGE_LITERAL_BYTES {
            return None;
        }
        let text = std::str::from_utf8(literal.as_bytes()).ok()?;
        if !out.iter().any(|o| o == text) {
            out.push(text.to_owned());
        }
    }
    Some(out)
}

/// Whether `pattern` turns on case-insensitive matching anywhere (`(?i)`, `(?xi:…)`); such
/// patterns match so many spellings that their literals make a poor prefilter.
fn has_case_insensitive_flag(pattern: &str) -> bool {
    pattern.match_indices("(?").any(|(at, _)| {
        let flags = &pattern[at + 2..];
        let end = flags.find([':', ')']).unwrap_or(flags.len());
        let flags = &flags[..end];
        let is_flag_group = flags.chars().all(|c| "imsuxUR-".contains(c));
        is_flag_group && flags.split('-').next().is_some_and(|on| on.contains('i'))
    })
}

// ---------------------------------------------------------------------------------------------
// Fields: what a condition or a template can name.

/// A value of an event (or of the rule run) that conditions test and templates render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Field {
    Kind,
    Host,
    Source,
    Facility,
    Severity,
    Level,
    App,
    Procid,
    Msgid,
    Message,
    TrapOid,
    TrapName,
    Varbind(VarbindRef),
    /// `sd.ID.PARAM`: the first PARAM of the first SD-ELEMENT with that ID.
    Sd {
        id: String,
        param: String,
    },
    Category,
}

/// How `varbind.NAME` picks a varbind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum VarbindRef {
    /// A MIB name without its module (`ifIndex`): matches `ifIndex` and `ifIndex.<index>`.
    Name(String),
    /// A dotted numeric OID without a leading dot: matches that OID and any OID below it.
    Oid(String),
}

impl Field {
    /// The field called `name`, or `None` when there is no such field.
    pub(crate) fn parse(name: &str) -> Option<Field> {
        Some(match name {
            "kind" => Field::Kind,
            "host" => Field::Host,
            "source" => Field::Source,
            "facility" => Field::Facility,
            "severity" => Field::Severity,
            "level" => Field::Level,
            "app" => Field::App,
            "procid" => Field::Procid,
            "msgid" => Field::Msgid,
            "message" => Field::Message,
            "trap_oid" => Field::TrapOid,
            "trap_name" => Field::TrapName,
            "category" => Field::Category,
            _ => {
                if let Some(rest) = name.strip_prefix("varbind.") {
                    return VarbindRef::parse(rest).map(Field::Varbind);
                }
                let (id, param) = name.strip_prefix("sd.")?.rsplit_once('.')?;
                if id.is_empty() || param.is_empty() {
                    return None;
                }
                Field::Sd {
                    id: id.to_owned(),
                    param: param.to_owned(),
                }
            }
        })
    }

    /// The field's value when it is text the event already holds (no allocation); `None` for a
    /// missing value and for the numeric fields (`source`, `facility`, `severity`).
    pub(crate) fn text<'a>(&self, subject: &Subject<'a>) -> Option<&'a str> {
        let event = subject.event;
        match self {
            Field::Kind => Some(event.kind.as_str()),
            Field::Host => Some(&event.host),
            Field::Level => Some(event.level.as_str()),
            Field::Source | Field::Facility | Field::Severity => None,
            Field::App => event.app.as_deref(),
            Field::Procid => event.procid.as_deref(),
            Field::Msgid => event.msgid.as_deref(),
            Field::Message => Some(&event.message),
            Field::TrapOid => event.trap.as_ref().map(|t| strip_dot(&t.trap_oid)),
            Field::TrapName => event.trap.as_ref()?.trap_name.as_deref(),
            Field::Varbind(varbind) => varbind.find(event).map(|v| v.value.as_str()),
            Field::Sd { id, param } => sd_param(event, id, param),
            Field::Category => subject.category,
        }
    }

    /// Appends the field's value as a template shows it; a missing value appends nothing.
    pub(crate) fn write_value(&self, subject: &Subject<'_>, out: &mut String) {
        let event = subject.event;
        match self {
            Field::Source => {
                let _ = write!(out, "{}", event.source.ip().to_canonical());
            }
            Field::Facility => write_number(event.facility, out),
            Field::Severity => write_number(event.severity, out),
            _ => out.push_str(self.text(subject).unwrap_or("")),
        }
    }
}

fn write_number(number: Option<u8>, out: &mut String) {
    if let Some(n) = number {
        let _ = write!(out, "{n}");
    }
}

/// The value of PARAM in the first SD-ELEMENT whose id is `id` (RFC 5424 §6.3).
fn sd_param<'a>(event: &'a Event, id: &str, param: &str) -> Option<&'a str> {
    let element = event.structured_data.iter().find(|e| e.id == id)?;
    element
        .params
        .iter()
        .find(|(name, _)| name == param)
        .map(|(_, value)| value.as_str())
}

impl VarbindRef {
    /// `rest` is what follows `varbind.`: a numeric OID or a MIB name, possibly `MOD::name`.
    fn parse(rest: &str) -> Option<VarbindRef> {
        let rest_oid = strip_dot(rest);
        if rest_oid.starts_with(|c: char| c.is_ascii_digit()) {
            let is_oid = rest_oid.chars().all(|c| c.is_ascii_digit() || c == '.');
            return (is_oid && !rest_oid.ends_with('.')).then(|| VarbindRef::Oid(rest_oid.into()));
        }
        let name = short_name(rest);
        (!name.is_empty()).then(|| VarbindRef::Name(name.to_owned()))
    }

    /// The first varbind of the event's trap this reference picks.
    fn find<'a>(&self, event: &'a Event) -> Option<&'a Varbind> {
        let varbinds = &event.trap.as_ref()?.varbinds;
        match self {
            VarbindRef::Name(name) => varbinds.iter().find(|v| {
                v.name
                    .as_deref()
                    .is_some_and(|n| is_same_or_below(short_name(n), name))
            }),
            VarbindRef::Oid(oid) => varbinds
                .iter()
                .find(|v| is_same_or_below(strip_dot(&v.oid), oid)),
        }
    }
}

/// `ifIndex` and `ifIndex.2` are both "ifIndex"; `ifIndexX` is not.
fn is_same_or_below(candidate: &str, prefix: &str) -> bool {
    candidate
        .strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// `IF-MIB::linkDown` → `linkDown`; names without a module are returned as they are.
fn short_name(name: &str) -> &str {
    // A byte search for the last ':' first: building a substring searcher for "::" on every
    // varbind of every trap cost more than the comparison it serves.
    match name.rfind(':') {
        None => name,
        Some(at) if at > 0 && name.as_bytes()[at - 1] == b':' => &name[at + 1..],
        Some(_) => name.rsplit_once("::").map_or(name, |(_, short)| short),
    }
}

/// OIDs are written with and without a leading dot; compare them without.
fn strip_dot(oid: &str) -> &str {
    oid.strip_prefix('.').unwrap_or(oid)
}

// ---------------------------------------------------------------------------------------------
// The compiled tree and its evaluation.

/// One node of a compiled condition. Invariant of [`Node::eval`]: when it returns false,
/// `captures` is as it was on entry, so only a whole match leaves captures behind.
#[derive(Debug, Clone)]
enum Node {
    Any(Vec<Node>),
    All(Vec<Node>),
    Not(Box<Node>),
    Test(Test),
}

impl Node {
    fn any(first: Node, rest: Vec<Node>) -> Node {
        if rest.is_empty() {
            first
        } else {
            Node::Any(std::iter::once(first).chain(rest).collect())
        }
    }

    fn all(first: Node, rest: Vec<Node>) -> Node {
        if rest.is_empty() {
            first
        } else {
            Node::All(std::iter::once(first).chain(rest).collect())
        }
    }

    /// Negation; captures under a `not` can never survive, so their regexes stop collecting them.
    fn not(mut inner: Node) -> Node {
        inner.stop_capturing();
        Node::Not(Box::new(inner))
    }

    fn eval(&self, subject: &Subject<'_>, captures: &mut Captures) -> bool {
        match self {
            Node::Any(nodes) => nodes.iter().any(|n| n.eval(subject, captures)),
            Node::All(nodes) => {
                let before = captures.len();
                let all = nodes.iter().all(|n| n.eval(subject, captures));
                if !all {
                    captures.truncate(before);
                }
                all
            }
            Node::Not(inner) => !inner.eval(subject, captures),
            Node::Test(test) => test.eval(subject, captures),
        }
    }

    fn stop_capturing(&mut self) {
        match self {
            Node::Any(nodes) | Node::All(nodes) => nodes.iter_mut().for_each(Node::stop_capturing),
            Node::Not(inner) => inner.stop_capturing(),
            Node::Test(Test::Regex { capture, .. }) => *capture = false,
            Node::Test(_) => {}
        }
    }

    fn visit(&self, f: &mut impl FnMut(&Test)) {
        match self {
            Node::Any(nodes) | Node::All(nodes) => nodes.iter().for_each(|n| n.visit(f)),
            Node::Not(inner) => inner.visit(f),
            Node::Test(test) => f(test),
        }
    }

    /// The tests that must all hold for this node to hold: itself, or the leaves of a top-level
    /// `and` (nested `and`s included, `or` and `not` skipped).
    /// Necessary conditions of this node: under `and` every child's hints hold (narrowed
    /// together); under `or` a hint holds only if every branch has one for that field (their
    /// union); under `not` nothing is known.
    fn hints(&self) -> IndexHints {
        match self {
            Node::Test(test) => {
                let mut hints = IndexHints::default();
                hints.add(test);
                hints
            }
            Node::All(nodes) => {
                let mut hints = IndexHints::default();
                for node in nodes {
                    match node {
                        Node::Test(test) => hints.add(test),
                        other => hints.narrow_with(other.hints()),
                    }
                }
                hints
            }
            Node::Any(nodes) => {
                let mut branches = nodes.iter().map(Node::hints);
                let first = branches.next().unwrap_or_default();
                branches.fold(first, IndexHints::union)
            }
            Node::Not(_) => IndexHints::default(),
        }
    }
}

/// A leaf test, specialised by field so that evaluation does no parsing or lower-casing.
#[derive(Debug, Clone)]
enum Test {
    /// `kind == …` / `kind in […]`.
    Kind(Vec<EventKind>),
    /// `host == …` / `host in […]`: case-insensitive globs.
    Host(Vec<Glob>),
    /// `source == …` / `source in …`: any network contains the sender's IP.
    Source(Vec<IpNet>),
    /// `==` / `in` on facility, severity or level: bit n set when value n matches.
    NumberIn { field: NumberField, mask: u32 },
    /// `<`, `<=`, `>`, `>=` on facility, severity or level.
    Number {
        field: NumberField,
        cmp: Cmp,
        value: u8,
    },
    /// Exact `==` / `in` on a text field.
    Text { field: Field, values: Vec<String> },
    /// `trap_name == …` / `trap_name in […]`.
    TrapName(Vec<TrapNameLiteral>),
    /// `=~` on a text field; `capture` is false when captures could never be kept.
    Regex {
        field: Field,
        regex: Regex,
        capture: bool,
    },
    /// `varbind.X == …` / `in`: value, enum label or enum number.
    VarbindEq {
        varbind: VarbindRef,
        values: Vec<String>,
    },
    /// `varbind.X < n` and friends: numeric.
    VarbindCmp {
        varbind: VarbindRef,
        cmp: Cmp,
        value: i128,
    },
}

impl Test {
    fn eval(&self, subject: &Subject<'_>, captures: &mut Captures) -> bool {
        let event = subject.event;
        match self {
            Test::Kind(kinds) => kinds.contains(&event.kind),
            Test::Host(globs) => globs.iter().any(|g| g.matches(&event.host)),
            Test::Source(networks) => source_in(event.source.ip(), networks),
            Test::NumberIn { field, mask } => field
                .get(event)
                .is_some_and(|v| v < 32 && mask & (1 << v) != 0),
            Test::Number { field, cmp, value } => {
                field.get(event).is_some_and(|v| cmp.holds(v.cmp(value)))
            }
            Test::Text { field, values } => field
                .text(subject)
                .is_some_and(|text| values.iter().any(|v| v == text)),
            Test::TrapName(names) => Field::TrapName
                .text(subject)
                .is_some_and(|stored| names.iter().any(|n| n.matches(stored))),
            Test::Regex {
                field,
                regex,
                capture,
            } => field
                .text(subject)
                .is_some_and(|text| regex_matches(regex, *capture, text, captures)),
            Test::VarbindEq { varbind, values } => varbind
                .find(event)
                .is_some_and(|v| values.iter().any(|l| varbind_equals(&v.value, l))),
            Test::VarbindCmp {
                varbind,
                cmp,
                value,
            } => varbind
                .find(event)
                .and_then(|v| varbind_number(&v.value))
                .is_some_and(|n| cmp.holds(n.cmp(value))),
        }
    }
}

fn regex_matches(regex: &Regex, capture: bool, text: &str, captures: &mut Captures) -> bool {
    // `is_match` first: most texts do not match, and it is several times cheaper than a
    // capturing search, which then only runs for the few that do.
    if !regex.is_match(text) {
        return false;
    }
    if !capture {
        return true;
    }
    let Some(found) = regex.captures(text) else {
        return false;
    };
    for (index, name) in regex.capture_names().enumerate() {
        if let (Some(name), Some(m)) = (name, found.get(index)) {
            captures.push((name.to_owned(), m.as_str().to_owned()));
        }
    }
    true
}

/// Whether the sender's IP is in any of `networks`; an IPv4-mapped IPv6 sender (a dual-stack
/// socket receiving IPv4) also counts as its IPv4 address.
fn source_in(ip: IpAddr, networks: &[IpNet]) -> bool {
    let mapped = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4),
        IpAddr::V4(_) => None,
    };
    networks
        .iter()
        .any(|net| net.contains(&ip) || mapped.is_some_and(|v4| net.contains(&v4)))
}

/// Splits an SNMP enum rendering `up(1)` into `("up", "1")`.
fn enum_parts(value: &str) -> Option<(&str, &str)> {
    let (label, rest) = value.split_once('(')?;
    let (number, _) = rest.split_once(')')?;
    Some((label.trim(), number.trim()))
}

/// `up(1)` equals `up(1)`, `up` and `1`.
fn varbind_equals(value: &str, literal: &str) -> bool {
    value == literal
        || enum_parts(value).is_some_and(|(label, number)| label == literal || number == literal)
}

/// The number a varbind value stands for: itself (`42`) or its enum number (`up(1)`).
fn varbind_number(value: &str) -> Option<i128> {
    value
        .trim()
        .parse()
        .ok()
        .or_else(|| enum_parts(value)?.1.parse().ok())
}

/// The numeric fields, all small enough for a `u32` bit mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NumberField {
    Facility,
    Severity,
    Level,
}

impl NumberField {
    fn of(field: &Field) -> Option<NumberField> {
        match field {
            Field::Facility => Some(NumberField::Facility),
            Field::Severity => Some(NumberField::Severity),
            Field::Level => Some(NumberField::Level),
            _ => None,
        }
    }

    fn get(self, event: &Event) -> Option<u8> {
        match self {
            NumberField::Facility => event.facility,
            NumberField::Severity => event.severity,
            NumberField::Level => Some(event.level.code()),
        }
    }
}

/// An ordering operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds(self, ordering: Ordering) -> bool {
        match self {
            Cmp::Lt => ordering == Ordering::Less,
            Cmp::Le => ordering != Ordering::Greater,
            Cmp::Gt => ordering == Ordering::Greater,
            Cmp::Ge => ordering != Ordering::Less,
        }
    }
}

/// A `trap_name` literal: `MOD::name` compares with the whole stored name, `name` with the part
/// after `::`, so rules need not know which module a trap was resolved from.
#[derive(Debug, Clone)]
struct TrapNameLiteral {
    name: String,
    qualified: bool,
}

impl TrapNameLiteral {
    fn new(name: &str) -> TrapNameLiteral {
        TrapNameLiteral {
            name: name.to_owned(),
            qualified: name.contains("::"),
        }
    }

    fn matches(&self, stored: &str) -> bool {
        if self.qualified {
            stored == self.name
        } else {
            short_name(stored) == self.name
        }
    }
}

/// A case-insensitive glob (`*` any run, `?` one character), folded once at parse time.
/// Used for host patterns everywhere (conditions, maintenance windows, inhibition).
#[derive(Debug, Clone)]
pub struct Glob {
    /// The pattern with every character folded by [`fold`].
    pattern: String,
    has_wildcards: bool,
}

impl Glob {
    pub fn new(pattern: &str) -> Glob {
        Glob {
            pattern: pattern.chars().map(fold).collect(),
            has_wildcards: pattern.contains(['*', '?']),
        }
    }

    /// Iterative matching with one backtrack point (the last `*`): linear for the usual
    /// patterns, never recursive.
    pub fn matches(&self, text: &str) -> bool {
        let pattern = self.pattern.as_str();
        let (mut p, mut t) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        loop {
            let pc = pattern[p..].chars().next();
            let tc = text[t..].chars().next();
            match (pc, tc) {
                (None, None) => return true,
                (Some('*'), _) => {
                    p += 1;
                    star = Some((p, t));
                    continue;
                }
                (Some(pc), Some(tc)) if pc == '?' || pc == fold(tc) => {
                    p += pc.len_utf8();
                    t += tc.len_utf8();
                    continue;
                }
                _ => {}
            }
            let Some((star_p, star_t)) = star else {
                return false;
            };
            let Some(skipped) = text[star_t..].chars().next() else {
                return false;
            };
            p = star_p;
            t = star_t + skipped.len_utf8();
            star = Some((star_p, t));
        }
    }
}

/// Lower-cases one character without allocating; characters whose lower case is several
/// characters (rare, never in host names) are kept as they are.
pub(crate) fn fold(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing (nom): text → Node, compiling each comparison as soon as it is read.

/// A parse error: where (`at`, a suffix of the condition text) and what went wrong.
#[derive(Debug)]
struct PError<'a> {
    at: &'a str,
    /// What the parser wanted, for "expected X, found Y".
    expected: Option<&'static str>,
    /// A complete message, for errors that are not about a missing token.
    message: Option<String>,
}

impl<'a> PError<'a> {
    fn failure(at: &'a str, message: impl Into<String>) -> nom::Err<PError<'a>> {
        nom::Err::Failure(PError {
            at,
            expected: None,
            message: Some(message.into()),
        })
    }

    fn into_condition_error(self, text: &str) -> ConditionError {
        let message = match (self.message, self.expected) {
            (Some(message), _) => message,
            (None, Some(expected)) => format!("expected {expected}, found {}", describe(self.at)),
            (None, None) => format!("unexpected {}", describe(self.at)),
        };
        ConditionError {
            offset: text.len().saturating_sub(self.at.len()),
            message,
        }
    }
}

impl<'a> ParseError<&'a str> for PError<'a> {
    fn from_error_kind(at: &'a str, _kind: ErrorKind) -> Self {
        PError {
            at,
            expected: None,
            message: None,
        }
    }

    fn append(_: &'a str, _: ErrorKind, other: Self) -> Self {
        other
    }

    /// Of two failed alternatives, report the one that got further.
    fn or(self, other: Self) -> Self {
        if other.at.len() <= self.at.len() {
            other
        } else {
            self
        }
    }
}

impl<'a> ContextError<&'a str> for PError<'a> {
    /// The innermost context is the most precise, so an outer one never replaces it.
    fn add_context(_: &'a str, ctx: &'static str, mut other: Self) -> Self {
        if other.message.is_none() {
            other.expected.get_or_insert(ctx);
        }
        other
    }
}

type Res<'a, T> = IResult<&'a str, T, PError<'a>>;

/// The next token of `at`, quoted for an error message.
fn describe(at: &str) -> String {
    let at = at.trim_start();
    if at.is_empty() {
        return "the end of the condition".into();
    }
    let token: String = at
        .chars()
        .take_while(|c| !c.is_whitespace())
        .take(24)
        .collect();
    format!("`{token}`")
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Characters of a field name after its first letter: `sd.origin@32473.x-y`, `varbind.IF-MIB::ifIndex`.
fn is_field_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '@' | '-')
}

/// Characters of an unquoted value: numbers, IPv4/IPv6 addresses and networks (and the words
/// people forget to quote, so we can tell them to).
fn is_bare_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '/' | '_' | '-')
}

/// The keyword `word`, not followed by more of a word (`or` but not `orange`).
fn keyword<'a>(word: &'static str) -> impl Parser<&'a str, Output = &'a str, Error = PError<'a>> {
    preceded(
        multispace0,
        terminated(tag(word), not(satisfy(is_word_char))),
    )
}

/// The symbol `s` after optional white space.
fn symbol<'a>(s: &'static str) -> impl Parser<&'a str, Output = &'a str, Error = PError<'a>> {
    preceded(multispace0, tag(s))
}

fn or_op(i: &str) -> Res<'_, &str> {
    alt((keyword("or"), symbol("||"))).parse(i)
}

fn and_op(i: &str) -> Res<'_, &str> {
    alt((keyword("and"), symbol("&&"))).parse(i)
}

/// `not` or a `!` that does not start `!=` / `!~`.
fn not_op(i: &str) -> Res<'_, &str> {
    alt((keyword("not"), terminated(symbol("!"), not(one_of("=~"))))).parse(i)
}

fn or_expr(i: &str, depth: usize) -> Res<'_, Node> {
    map(
        (
            |i| and_expr(i, depth),
            many0(preceded(or_op, cut(|i| and_expr(i, depth)))),
        ),
        |(first, rest)| Node::any(first, rest),
    )
    .parse(i)
}

fn and_expr(i: &str, depth: usize) -> Res<'_, Node> {
    map(
        (
            |i| unary(i, depth),
            many0(preceded(and_op, cut(|i| unary(i, depth)))),
        ),
        |(first, rest)| Node::all(first, rest),
    )
    .parse(i)
}

fn unary(i: &str, depth: usize) -> Res<'_, Node> {
    let i = i.trim_start();
    if depth >= MAX_NESTING {
        return Err(PError::failure(
            i,
            format!("condition nested more than {MAX_NESTING} deep"),
        ));
    }
    context(
        "a field name, `not` or `(`",
        alt((
            map(preceded(not_op, cut(|i| unary(i, depth + 1))), Node::not),
            delimited(
                symbol("("),
                cut(|i| or_expr(i, depth + 1)),
                cut(context("`)`", symbol(")"))),
            ),
            comparison,
        )),
    )
    .parse(i)
}

/// The comparison operators as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Match,
    NoMatch,
    In,
    NotIn,
}

impl Op {
    fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Match => "=~",
            Op::NoMatch => "!~",
            Op::In => "in",
            Op::NotIn => "not in",
        }
    }

    /// The operator without its negation, and whether there was one.
    fn positive(self) -> (Op, bool) {
        match self {
            Op::Ne => (Op::Eq, true),
            Op::NoMatch => (Op::Match, true),
            Op::NotIn => (Op::In, true),
            op => (op, false),
        }
    }

    fn ordering(self) -> Option<Cmp> {
        match self {
            Op::Lt => Some(Cmp::Lt),
            Op::Le => Some(Cmp::Le),
            Op::Gt => Some(Cmp::Gt),
            Op::Ge => Some(Cmp::Ge),
            _ => None,
        }
    }

    /// Whether the operator means something for `field`.
    fn applies_to(self, field: &Field) -> bool {
        let (op, _) = self.positive();
        match field {
            Field::Kind | Field::Source => matches!(op, Op::Eq | Op::In),
            Field::Facility | Field::Severity | Field::Level => op != Op::Match,
            Field::Varbind(_) => true,
            _ => op.ordering().is_none(),
        }
    }
}

fn operator(i: &str) -> Res<'_, Op> {
    alt((
        value(Op::Eq, symbol("==")),
        value(Op::Ne, symbol("!=")),
        value(Op::Match, symbol("=~")),
        value(Op::NoMatch, symbol("!~")),
        value(Op::Le, symbol("<=")),
        value(Op::Ge, symbol(">=")),
        value(Op::Lt, symbol("<")),
        value(Op::Gt, symbol(">")),
        value(Op::In, keyword("in")),
        value(Op::NotIn, preceded(keyword("not"), keyword("in"))),
    ))
    .parse(i)
}

/// One literal as written.
#[derive(Debug)]
struct Literal<'a> {
    /// The condition text from the literal on, for error offsets.
    at: &'a str,
    /// The literal as written (with quotes for strings).
    token: &'a str,
    value: LiteralValue,
}

#[derive(Debug)]
enum LiteralValue {
    /// A quoted string, escapes resolved.
    Str(String),
    Int(u64),
    /// A bare address or network; a plain address is a /32 or /128.
    Net(IpNet),
}

impl Literal<'_> {
    /// The literal as text: a string's content, or a number or address as written.
    fn as_str(&self) -> &str {
        match &self.value {
            LiteralValue::Str(s) => s,
            LiteralValue::Int(_) | LiteralValue::Net(_) => self.token,
        }
    }
}

/// The right-hand side of a comparison.
#[derive(Debug)]
enum Rhs<'a> {
    One(Literal<'a>),
    List {
        at: &'a str,
        items: Vec<Literal<'a>>,
    },
}

impl<'a> Rhs<'a> {
    fn at(&self) -> &'a str {
        match self {
            Rhs::One(literal) => literal.at,
            Rhs::List { at, .. } => at,
        }
    }
}

const VALUE: &str = "a value (a quoted string, a number, an address or a list)";

fn rhs(i: &str) -> Res<'_, Rhs<'_>> {
    let i = i.trim_start();
    if i.starts_with('[') {
        let (rest, items) = delimited(
            symbol("["),
            terminated(separated_list0(symbol(","), scalar), opt(symbol(","))),
            cut(context("`,` or `]`", symbol("]"))),
        )
        .parse(i)?;
        return Ok((rest, Rhs::List { at: i, items }));
    }
    map(context(VALUE, scalar), Rhs::One).parse(i)
}

fn scalar(i: &str) -> Res<'_, Literal<'_>> {
    let i = i.trim_start();
    match i.chars().next() {
        Some(quote @ ('"' | '\'')) => quoted(i, quote),
        Some('[') => Err(PError::failure(i, "lists cannot be nested")),
        _ => bare(i),
    }
}

/// A string in `quote`s. `\"`, `\'`, `\\`, `\n` and `\t` are escapes; any other backslash is
/// kept as written so that regexes read naturally (`"\d+"` is the regex `\d+`).
fn quoted(i: &str, quote: char) -> Res<'_, Literal<'_>> {
    let mut out = String::new();
    let mut chars = i.char_indices().skip(1);
    while let Some((k, c)) = chars.next() {
        if c == quote {
            let end = k + c.len_utf8();
            let literal = Literal {
                at: i,
                token: &i[..end],
                value: LiteralValue::Str(out),
            };
            return Ok((&i[end..], literal));
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some((_, 'n')) => out.push('\n'),
            Some((_, 't')) => out.push('\t'),
            Some((_, e @ ('"' | '\'' | '\\'))) => out.push(e),
            Some((_, other)) => {
                out.push('\\');
                out.push(other);
            }
            None => break,
        }
    }
    Err(PError::failure(i, "unterminated string"))
}

/// A number, address or network written without quotes.
fn bare(i: &str) -> Res<'_, Literal<'_>> {
    let (rest, token) = take_while1(is_bare_char).parse(i)?;
    let value = if token.bytes().all(|b| b.is_ascii_digit()) {
        match token.parse() {
            Ok(n) => LiteralValue::Int(n),
            Err(_) => return Err(PError::failure(i, format!("number `{token}` is too large"))),
        }
    } else if let Some(net) = parse_net(token) {
        LiteralValue::Net(net)
    } else if looks_like_address(token) {
        return Err(PError::failure(
            i,
            format!("invalid address or network `{token}`"),
        ));
    } else {
        return Err(PError::failure(
            i,
            format!("unquoted value `{token}` (write strings in quotes: \"{token}\")"),
        ));
    };
    Ok((
        rest,
        Literal {
            at: i,
            token,
            value,
        },
    ))
}

/// An address (as a host network) or a network in CIDR notation.
fn parse_net(text: &str) -> Option<IpNet> {
    text.parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
}

fn looks_like_address(token: &str) -> bool {
    token.starts_with(|c: char| c.is_ascii_hexdigit() || c == ':')
        && (token.contains([':', '/']) || token.matches('.').count() >= 2)
}

/// `FIELD OP value`, compiled into a node.
fn comparison(i: &str) -> Res<'_, Node> {
    let i = i.trim_start();
    let (rest, name) = recognize((
        satisfy(|c| c.is_ascii_alphabetic()),
        take_while(is_field_char),
    ))
    .parse(i)?;
    let Some(field) = Field::parse(name) else {
        return Err(PError::failure(
            i,
            format!("unknown field `{name}` (known: {FIELD_NAMES})"),
        ));
    };
    let op_at = rest.trim_start();
    let (rest, op) = cut(context(
        "an operator (==, !=, <, <=, >, >=, =~, !~, in, not in)",
        operator,
    ))
    .parse(rest)?;
    if !op.applies_to(&field) {
        return Err(PError::failure(
            op_at,
            format!("operator `{}` is not defined for `{name}`", op.symbol()),
        ));
    }
    let (rest, rhs) = cut(rhs).parse(rest)?;
    let node = compile(&field, op, rhs)?;
    Ok((rest, node))
}

/// Turns one checked `field op value` into a node; errors point at the value.
fn compile<'a>(field: &Field, op: Op, rhs: Rhs<'a>) -> Result<Node, nom::Err<PError<'a>>> {
    let (positive, negated) = op.positive();
    let test = match (positive, rhs) {
        (Op::Eq, Rhs::One(literal)) => equality(field, std::slice::from_ref(&literal))?,
        (Op::In, Rhs::List { items, .. }) => equality(field, &items)?,
        (Op::In, Rhs::One(literal)) if *field == Field::Source => {
            equality(field, std::slice::from_ref(&literal))?
        }
        (Op::In, rhs) => {
            return Err(PError::failure(
                rhs.at(),
                format!("`{}` takes a list such as [\"a\", \"b\"]", op.symbol()),
            ));
        }
        (Op::Match, Rhs::One(literal)) => regex_test(field, &literal)?,
        (positive, Rhs::One(literal)) => match positive.ordering() {
            Some(cmp) => ordering(field, cmp, &literal)?,
            None => unreachable_op(&literal)?,
        },
        (_, rhs @ Rhs::List { .. }) => {
            return Err(PError::failure(
                rhs.at(),
                format!("`{}` takes one value; use `in` for a list", op.symbol()),
            ));
        }
    };
    let node = Node::Test(test);
    Ok(if negated { Node::not(node) } else { node })
}

/// Every operator is handled above; this keeps the match total without a panic.
fn unreachable_op<'a>(literal: &Literal<'a>) -> Result<Test, nom::Err<PError<'a>>> {
    Err(PError::failure(literal.at, "unsupported operator"))
}

/// `==` with one literal or `in` with several: the field equals any of them.
fn equality<'a>(field: &Field, items: &[Literal<'a>]) -> Result<Test, nom::Err<PError<'a>>> {
    let texts = || items.iter().map(|l| l.as_str().to_owned()).collect();
    Ok(match field {
        Field::Kind => Test::Kind(items.iter().map(kind_literal).collect::<Result<_, _>>()?),
        Field::Host => Test::Host(items.iter().map(|l| Glob::new(l.as_str())).collect()),
        Field::Source => Test::Source(items.iter().map(net_literal).collect::<Result<_, _>>()?),
        Field::Facility | Field::Severity | Field::Level => {
            let number_field = NumberField::of(field).unwrap_or(NumberField::Severity);
            let mut mask = 0u32;
            for literal in items {
                mask |= 1 << number_literal(number_field, literal)?;
            }
            Test::NumberIn {
                field: number_field,
                mask,
            }
        }
        Field::TrapName => Test::TrapName(
            items
                .iter()
                .map(|l| TrapNameLiteral::new(l.as_str()))
                .collect(),
        ),
        Field::TrapOid => Test::Text {
            field: Field::TrapOid,
            values: items.iter().map(|l| strip_dot(l.as_str()).into()).collect(),
        },
        Field::Varbind(varbind) => Test::VarbindEq {
            varbind: varbind.clone(),
            values: texts(),
        },
        _ => Test::Text {
            field: field.clone(),
            values: texts(),
        },
    })
}

/// `<`, `<=`, `>`, `>=` (the operator was already checked against the field).
fn ordering<'a>(
    field: &Field,
    cmp: Cmp,
    literal: &Literal<'a>,
) -> Result<Test, nom::Err<PError<'a>>> {
    if let Some(number_field) = NumberField::of(field) {
        return Ok(Test::Number {
            field: number_field,
            cmp,
            value: number_literal(number_field, literal)?,
        });
    }
    let Field::Varbind(varbind) = field else {
        return unreachable_op(literal);
    };
    let number = match literal.value {
        LiteralValue::Int(n) => Ok(i128::from(n)),
        _ => literal.as_str().parse::<i128>(),
    };
    match number {
        Ok(value) => Ok(Test::VarbindCmp {
            varbind: varbind.clone(),
            cmp,
            value,
        }),
        Err(_) => Err(PError::failure(
            literal.at,
            format!("expected a number, found {}", literal.token),
        )),
    }
}

fn regex_test<'a>(field: &Field, literal: &Literal<'a>) -> Result<Test, nom::Err<PError<'a>>> {
    match Regex::new(literal.as_str()) {
        Ok(regex) => Ok(Test::Regex {
            field: field.clone(),
            capture: regex.capture_names().flatten().next().is_some(),
            regex,
        }),
        Err(error) => Err(PError::failure(
            literal.at,
            format!("invalid regex: {}", regex_error_message(&error)),
        )),
    }
}

/// The one line of a regex error that says what is wrong (the rest is an ASCII-art pointer that
/// does not survive a `file:line:col: message` line).
fn regex_error_message(error: &regex::Error) -> String {
    match error {
        regex::Error::Syntax(text) => text
            .lines()
            .find_map(|line| line.strip_prefix("error: "))
            .unwrap_or(text)
            .to_owned(),
        other => other.to_string(),
    }
}

fn kind_literal<'a>(literal: &Literal<'a>) -> Result<EventKind, nom::Err<PError<'a>>> {
    EventKind::parse(literal.as_str()).ok_or_else(|| {
        PError::failure(
            literal.at,
            format!(
                "unknown kind {} (expected \"syslog\" or \"trap\")",
                literal.token
            ),
        )
    })
}

fn net_literal<'a>(literal: &Literal<'a>) -> Result<IpNet, nom::Err<PError<'a>>> {
    match &literal.value {
        LiteralValue::Net(net) => Ok(*net),
        _ => parse_net(literal.as_str()).ok_or_else(|| {
            PError::failure(
                literal.at,
                format!("invalid address or network {}", literal.token),
            )
        }),
    }
}

/// A facility, severity or level from a number or a name.
fn number_literal<'a>(
    field: NumberField,
    literal: &Literal<'a>,
) -> Result<u8, nom::Err<PError<'a>>> {
    let text = literal.as_str();
    let (found, problem) = match field {
        NumberField::Level => (
            Level::parse(&text.to_ascii_lowercase()).map(Level::code),
            "level (expected none, low, warning or critical)",
        ),
        NumberField::Severity => (
            number_in(text, 7).or_else(|| severity_by_name(text)),
            "severity (expected 0 to 7 or emerg, alert, crit, err, warning, notice, info, debug)",
        ),
        NumberField::Facility => (
            number_in(text, 23).or_else(|| facility_by_name(text)),
            "facility (expected 0 to 23 or a name such as auth, daemon or local0)",
        ),
    };
    found
        .ok_or_else(|| PError::failure(literal.at, format!("unknown {problem}: {}", literal.token)))
}

fn number_in(text: &str, max: u8) -> Option<u8> {
    text.parse::<u8>().ok().filter(|&n| n <= max)
}

/// RFC 5424 §6.2.1 table 2, with the aliases syslog.conf and rsyslog accept.
fn severity_by_name(name: &str) -> Option<u8> {
    Some(match name.to_ascii_lowercase().as_str() {
        "emerg" | "emergency" | "panic" => 0,
        "alert" => 1,
        "crit" | "critical" => 2,
        "err" | "error" => 3,
        "warning" | "warn" => 4,
        "notice" => 5,
        "info" | "informational" => 6,
        "debug" => 7,
        _ => return None,
    })
}

/// RFC 5424 §6.2.1 table 1, named as syslog.conf names them.
fn facility_by_name(name: &str) -> Option<u8> {
    const NAMES: [&str; 16] = [
        "kern",
        "user",
        "mail",
        "daemon",
        "auth",
        "syslog",
        "lpr",
        "news",
        "uucp",
        "cron",
        "authpriv",
        "ftp",
        "ntp",
        "security",
        "console",
        "solaris-cron",
    ];
    let name = name.to_ascii_lowercase();
    if let Some(index) = NAMES.iter().position(|n| *n == name) {
        return u8::try_from(index).ok();
    }
    let local = name.strip_prefix("local")?;
    number_in(local, 7)
        .filter(|_| local.len() == 1)
        .map(|n| 16 + n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_drop_the_module_only() {
        assert_eq!(short_name("IF-MIB::linkDown"), "linkDown");
        assert_eq!(short_name("ifIndex.2"), "ifIndex.2");
        assert_eq!(short_name("A:::b"), "b");
        assert_eq!(short_name("A::b:c"), "b:c");
        assert_eq!(short_name(":x"), ":x");
        assert_eq!(short_name("::"), "");
    }
    use crate::event::{StructuredElement, Transport, TrapInfo};
    use proptest::prelude::*;

    fn syslog_event() -> Event {
        let mut event = Event::new(
            0,
            "192.0.2.7:514".parse().unwrap(),
            Transport::Udp,
            EventKind::Syslog,
        );
        event.host = "Web-01.example.com".into();
        event.facility = Some(4);
        event.severity = Some(3);
        event.level = Level::Low;
        event.app = Some("sshd".into());
        event.procid = Some("1234".into());
        event.message = "Failed password for root from 203.0.113.9 port 22 ssh2".into();
        event.structured_data = vec![
            StructuredElement {
                id: "origin@32473".into(),
                params: vec![
                    ("ip".into(), "10.0.0.1".into()),
                    ("ip".into(), "10.0.0.2".into()),
                ],
            },
            StructuredElement {
                id: "origin@32473".into(),
                params: vec![("software".into(), "later".into())],
            },
        ];
        event
    }

    fn trap_event() -> Event {
        let mut event = Event::new(
            0,
            "[::ffff:198.51.100.3]:162".parse().unwrap(),
            Transport::Udp,
            EventKind::Trap,
        );
        event.host = "switch-1".into();
        event.level = Level::Warning;
        event.message = "linkDown".into();
        let varbind = |oid: &str, name: Option<&str>, value: &str| Varbind {
            oid: oid.into(),
            name: name.map(str::to_owned),
            value_type: "x".into(),
            value: value.into(),
        };
        event.trap = Some(TrapInfo {
            version: "v2c".into(),
            community: None,
            user: None,
            trap_oid: ".1.3.6.1.6.3.1.1.5.3".into(),
            trap_name: Some("IF-MIB::linkDown".into()),
            agent: None,
            uptime: None,
            varbinds: vec![
                varbind("1.3.6.1.2.1.1.3.0", Some("sysUpTime.0"), "12345"),
                varbind("1.3.6.1.2.1.2.2.1.1.2", Some("ifIndex.2"), "2"),
                varbind("1.3.6.1.2.1.2.2.1.7.2", Some("ifAdminStatus.2"), "up(1)"),
                varbind("1.3.6.1.2.1.2.2.1.8.2", Some("ifOperStatus.2"), "down(2)"),
                varbind("1.3.6.1.2.1.2.2.1.2.2", Some("ifDescr.2"), "eth0"),
                varbind("1.3.6.1.4.1.9.9.1", None, "42"),
            ],
        });
        event
    }

    fn parse(text: &str) -> Condition {
        Condition::parse(text).unwrap_or_else(|e| panic!("{text:?}: {} at {}", e, e.offset))
    }

    fn eval(text: &str, event: &Event, category: Option<&str>) -> (bool, Captures) {
        let subject = Subject { event, category };
        let mut captures = Vec::new();
        let matched = parse(text).matches(&subject, &mut captures);
        (matched, captures)
    }

    /// Table-driven: each condition against `event`, expecting `expected`.
    fn check(event: &Event, cases: &[(&str, bool)]) {
        for &(text, expected) in cases {
            let (matched, _) = eval(text, event, Some("auth"));
            assert_eq!(matched, expected, "{text}");
        }
    }

    fn check_error(text: &str, offset: usize, message: &str) {
        let error = Condition::parse(text).expect_err(text);
        assert_eq!(error.offset, offset, "{text}: {}", error.message);
        assert!(
            error.message.contains(message),
            "{text}: {:?} lacks {message:?}",
            error.message
        );
    }

    #[test]
    fn contract_examples() {
        let event = syslog_event();
        let (matched, captures) = eval(
            r#"app == "sshd" and message =~ "Failed password for .* from (?P<ip>[0-9a-f.:]+)""#,
            &event,
            None,
        );
        assert!(matched);
        assert_eq!(captures, vec![("ip".into(), "203.0.113.9".into())]);

        let mut backup = syslog_event();
        backup.app = Some("backup".into());
        backup.message = "Nightly Backup OK".into();
        check(
            &backup,
            &[(
                r#"app == "backup" and message =~ "(?i)backup (ok|succeeded)""#,
                true,
            )],
        );
        check(&trap_event(), &[(r#"trap_name == "linkDown""#, true)]);

        let mut info = syslog_event();
        info.severity = Some(6);
        check(
            &info,
            &[
                ("source in 192.0.2.0/24 and severity >= 6", true),
                (r#"kind == "syslog" and severity <= 1"#, false),
                (
                    r#"kind == "syslog" and severity >= 3 and severity <= 4"#,
                    false,
                ),
            ],
        );
        check(
            &event,
            &[
                (
                    r#"kind == "syslog" and severity >= 3 and severity <= 4"#,
                    true,
                ),
                ("source in 192.0.2.0/24 and severity >= 6", false),
            ],
        );
    }

    #[test]
    fn string_fields_and_operators() {
        check(
            &syslog_event(),
            &[
                (r#"app == "sshd""#, true),
                (r#"app == "SSHD""#, false),
                (r#"app != "sshd""#, false),
                (r#"app != "cron""#, true),
                (r#"app in ["cron", "sshd"]"#, true),
                (r#"app not in ["cron", "sshd"]"#, false),
                (r#"app not in ["cron"]"#, true),
                (r#"app in []"#, false),
                (r#"app =~ "^ss""#, true),
                (r#"app !~ "^ss""#, false),
                (r#"app !~ "^cr""#, true),
                ("procid == '1234'", true),
                ("procid == 1234", true),
                (r#"message =~ "port \d+""#, true),
                (r#"message == "Failed""#, false),
                (r#"category == "auth""#, true),
                (r#"category in ["auth", "kernel"]"#, true),
                (r#"category != "auth""#, false),
                (r#"kind == "syslog""#, true),
                (r#"kind == "trap""#, false),
                (r#"kind != "trap""#, true),
                (r#"kind in ["trap", "syslog"]"#, true),
                (r#"sd.origin@32473.ip == "10.0.0.1""#, true),
                (r#"sd.origin@32473.ip == "10.0.0.2""#, false),
                (r#"sd.origin@32473.software == "later""#, false),
                (r#"sd.origin@32473.software != "later""#, true),
                (r#"sd.origin@32473.ip =~ "^10\.""#, true),
            ],
        );
    }

    #[test]
    fn missing_values() {
        let mut event = syslog_event();
        event.app = None;
        event.severity = None;
        event.facility = None;
        check(
            &event,
            &[
                (r#"app == "sshd""#, false),
                (r#"app != "sshd""#, true),
                (r#"app =~ ".*""#, false),
                (r#"app !~ ".*""#, true),
                (r#"app in ["sshd"]"#, false),
                (r#"app not in ["sshd"]"#, true),
                (r#"msgid == "x""#, false),
                ("severity <= 7", false),
                ("severity >= 0", false),
                ("severity == 3", false),
                ("severity != 3", true),
                ("facility > 0", false),
                (r#"trap_name == "linkDown""#, false),
                (r#"trap_oid == "1.3""#, false),
                (r#"trap_oid != "1.3""#, true),
                ("varbind.ifIndex == 2", false),
                ("varbind.ifIndex > 0", false),
                ("varbind.ifIndex != 2", true),
                (r#"sd.nope.x == "y""#, false),
                (r#"sd.nope.x != "y""#, true),
            ],
        );
        let (matched, _) = eval(r#"category == "auth""#, &event, None);
        assert!(!matched);
        let (matched, _) = eval(r#"category != "auth""#, &event, None);
        assert!(matched);
    }

    #[test]
    fn precedence_and_parentheses() {
        check(
            &syslog_event(),
            &[
                // not > and > or
                (r#"app == "x" and app == "y" or app == "sshd""#, true),
                (r#"app == "sshd" or app == "x" and app == "y""#, true),
                (r#"(app == "sshd" or app == "x") and app == "y""#, false),
                (r#"not app == "x" and app == "sshd""#, true),
                (r#"not (app == "sshd" and severity == 3)"#, false),
                (r#"not app == "sshd" or severity == 3"#, true),
                (r#"!(app == "x") && severity == 3 || app == "y""#, true),
                (r#"! ! app == "sshd""#, true),
                (r#"not not not app == "sshd""#, false),
                (r#"((app == "sshd"))"#, true),
                (r#"app=="sshd"&&severity<=3"#, true),
                ("severity == 3 and\n  facility == 4", true),
            ],
        );
    }

    #[test]
    fn severity_facility_level_names_and_numbers() {
        check(
            &syslog_event(),
            &[
                ("severity == 3", true),
                (r#"severity == "err""#, true),
                (r#"severity == "error""#, true),
                (r#"severity == "ERR""#, true),
                (r#"severity <= "err""#, true),
                (r#"severity < "err""#, false),
                (r#"severity > "crit""#, true),
                (r#"severity >= "warning""#, false),
                (r#"severity in ["emerg", "alert", 3]"#, true),
                (r#"severity not in ["emerg", "alert", 3]"#, false),
                ("severity < 4", true),
                ("severity > 3", false),
                ("severity >= 3", true),
                ("severity != 3", false),
                ("facility == 4", true),
                (r#"facility == "auth""#, true),
                (r#"facility == "security""#, false),
                (r#"facility in ["authpriv", "auth"]"#, true),
                (r#"facility < "local0""#, true),
                (r#"level == "low""#, true),
                (r#"level >= "low""#, true),
                (r#"level > "low""#, false),
                (r#"level < "warning""#, true),
                (r#"level in ["none", "low"]"#, true),
            ],
        );
        for (name, number) in [
            ("emerg", 0),
            ("panic", 0),
            ("alert", 1),
            ("critical", 2),
            ("warn", 4),
            ("notice", 5),
            ("informational", 6),
            ("debug", 7),
        ] {
            assert_eq!(severity_by_name(name), Some(number), "{name}");
        }
        for (name, number) in [
            ("kern", 0),
            ("mail", 2),
            ("cron", 9),
            ("authpriv", 10),
            ("solaris-cron", 15),
            ("local0", 16),
            ("local7", 23),
        ] {
            assert_eq!(facility_by_name(name), Some(number), "{name}");
        }
        assert_eq!(facility_by_name("local8"), None);
        assert_eq!(facility_by_name("local00"), None);
    }

    #[test]
    fn host_globs_are_case_insensitive() {
        check(
            &syslog_event(),
            &[
                (r#"host == "web-01.example.com""#, true),
                (r#"host == "WEB-01.EXAMPLE.COM""#, true),
                (r#"host == "web-*""#, true),
                (r#"host == "*.example.com""#, true),
                (r#"host == "web-0?.example.*""#, true),
                (r#"host == "web-?.example.com""#, false),
                (r#"host == "*""#, true),
                (r#"host == "web""#, false),
                (r#"host != "web-*""#, false),
                (r#"host in ["db-*", "*example*"]"#, true),
                (r#"host not in ["db-*"]"#, true),
                (r#"host =~ "^Web""#, true),
            ],
        );
        let glob = Glob::new("a*b*c");
        assert!(glob.matches("aXXbYYc"));
        assert!(glob.matches("abc"));
        assert!(!glob.matches("acb"));
        assert!(Glob::new("ÄR*").matches("är-1"));
    }

    #[test]
    fn source_networks() {
        check(
            &syslog_event(),
            &[
                ("source == 192.0.2.7", true),
                (r#"source == "192.0.2.7""#, true),
                ("source == 192.0.2.8", false),
                ("source != 192.0.2.8", true),
                ("source in 192.0.2.0/24", true),
                (r#"source in "192.0.2.0/24""#, true),
                ("source in 192.0.3.0/24", false),
                ("source not in 192.0.3.0/24", true),
                ("source in [10.0.0.0/8, 192.0.2.7]", true),
                ("source in [10.0.0.0/8, 192.0.2.8]", false),
                ("source in 2001:db8::/32", false),
            ],
        );
        let mut v6 = syslog_event();
        v6.source = "[2001:db8::5]:514".parse().unwrap();
        check(
            &v6,
            &[
                ("source in 2001:db8::/32", true),
                ("source == 2001:db8::5", true),
                ("source in [fe80::/10, 2001:db8::/64]", true),
                ("source in 192.0.2.0/24", false),
            ],
        );
        check(
            &trap_event(),
            &[
                ("source in 198.51.100.0/24", true),
                ("source == 198.51.100.3", true),
                ("source in 192.0.2.0/24", false),
            ],
        );
    }

    #[test]
    fn traps_and_varbinds() {
        check(
            &trap_event(),
            &[
                (r#"kind == "trap""#, true),
                (r#"trap_name == "linkDown""#, true),
                (r#"trap_name == "IF-MIB::linkDown""#, true),
                (r#"trap_name == "OTHER-MIB::linkDown""#, false),
                (r#"trap_name == "linkUp""#, false),
                (r#"trap_name in ["linkUp", "linkDown"]"#, true),
                (r#"trap_name != "linkDown""#, false),
                (r#"trap_name =~ "^IF-MIB::""#, true),
                (r#"trap_oid == "1.3.6.1.6.3.1.1.5.3""#, true),
                (r#"trap_oid == ".1.3.6.1.6.3.1.1.5.3""#, true),
                (r#"trap_oid == "1.3.6.1.6.3.1.1.5.4""#, false),
                (r#"trap_oid in ["1.3.6.1.6.3.1.1.5.3"]"#, true),
                (r#"trap_oid =~ "^1\.3\.6\.1\.6\.3\.1\.1\.5\.""#, true),
                (r#"varbind.ifDescr == "eth0""#, true),
                (r#"varbind.IF-MIB::ifDescr == "eth0""#, true),
                (r#"varbind.ifDescr =~ "^eth""#, true),
                ("varbind.ifIndex == 2", true),
                (r#"varbind.ifIndex == "2""#, true),
                ("varbind.ifIndex > 1", true),
                ("varbind.ifIndex >= 3", false),
                (r#"varbind.ifAdminStatus == "up""#, true),
                ("varbind.ifAdminStatus == 1", true),
                (r#"varbind.ifAdminStatus == "up(1)""#, true),
                (r#"varbind.ifAdminStatus == "down""#, false),
                (
                    r#"varbind.ifOperStatus in ["down", "lowerLayerDown"]"#,
                    true,
                ),
                ("varbind.ifOperStatus > 1", true),
                ("varbind.ifOperStatus < 2", false),
                ("varbind.ifDescr > 1", false),
                ("varbind.ifIn == 2", false),
                ("varbind.1.3.6.1.4.1.9.9 == 42", true),
                ("varbind..1.3.6.1.4.1.9.9.1 == 42", true),
                ("varbind.1.3.6.1.4.1.9.9.1 == 42", true),
                ("varbind.1.3.6.1.4.1.9.9.1 < 100", true),
                ("varbind.1.3.6.1.4.1.9 == 42", true),
                ("varbind.1.3.6.1.4.1.99 == 42", false),
                ("varbind.sysUpTime > 12000", true),
                (r#"app == "x""#, false),
            ],
        );
    }

    #[test]
    fn captures() {
        let event = syslog_event();
        let text = r#"message =~ "from (?<ip>\S+) port (?P<port>\d+)" and app == "sshd""#;
        let (matched, captures) = eval(text, &event, None);
        assert!(matched);
        assert_eq!(
            captures,
            vec![
                ("ip".into(), "203.0.113.9".into()),
                ("port".into(), "22".into())
            ]
        );
        assert_eq!(parse(text).capture_names(), vec!["ip", "port"]);

        // A failed match leaves what was there before, even when a regex matched first.
        let condition = parse(r#"message =~ "from (?P<ip>\S+)" and app == "cron""#);
        let mut captures = vec![("keep".to_owned(), "me".to_owned())];
        let subject = Subject {
            event: &event,
            category: None,
        };
        assert!(!condition.matches(&subject, &mut captures));
        assert_eq!(captures, vec![("keep".into(), "me".into())]);

        // Captures under `not` never survive; under `or` only the matching branch's do.
        let (matched, captures) = eval(r#"not message !~ "(?P<x>root)""#, &event, None);
        assert!(matched);
        assert!(captures.is_empty());
        let (matched, captures) = eval(
            r#"(message =~ "(?P<a>nomatch)" or message =~ "(?P<b>root)")"#,
            &event,
            None,
        );
        assert!(matched);
        assert_eq!(captures, vec![("b".into(), "root".into())]);
        let names = parse(r#"message !~ "(?P<x>a)" or app =~ "(?P<y>b)(?P<x>c)""#).capture_names();
        assert_eq!(names, vec!["x", "y"]);
    }

    #[test]
    fn literals_and_escapes() {
        let mut event = syslog_event();
        event.message = "say \"hi\"\tto 'them' \\ now\n".into();
        check(
            &event,
            &[
                (r#"message == "say \"hi\"\tto 'them' \\ now\n""#, true),
                (r#"message == 'say "hi"\tto \'them\' \\ now\n'"#, true),
                (r#"message =~ "\\\\ now""#, true),
                (r#"message =~ "\t""#, true),
            ],
        );
    }

    #[test]
    fn index_hints() {
        let hints = parse(
            r#"kind == "syslog" and app in ["sshd", "cron"] and (host == "Web-01" and app == "sshd")"#,
        )
        .index_hints();
        assert_eq!(
            hints,
            IndexHints {
                kind: Some(EventKind::Syslog),
                app: Some(vec!["sshd".into()]),
                host: Some(vec!["web-01".into()]),
                ..IndexHints::default()
            }
        );
        let hints = parse(r#"host in ["Web-*", "b?"] and severity <= 2"#).index_hints();
        assert_eq!(hints.host_prefixes, Some(vec!["web-".into(), "b".into()]));
        assert_eq!(hints.severities, Some(0b111));
        // `or` keeps what every branch knows.
        let hints = parse(r#"(app == "a" or app == "b") and message =~ "x|y""#).index_hints();
        assert_eq!(hints.app, Some(vec!["a".into(), "b".into()]));
        let hints =
            parse(r#"message =~ "No space left" or message =~ "filesystem full$""#).index_hints();
        assert_eq!(
            hints.message_literals,
            Some(vec!["No space left".into(), "filesystem full".into()])
        );
        let hints = parse(r#"(app == "a" and severity <= 3) or (app == "b" and severity == 5)"#)
            .index_hints();
        assert_eq!(hints.app, Some(vec!["a".into(), "b".into()]));
        assert_eq!(hints.severities, Some(0b10_1111));
        let hints = parse(r#"severity in [3, 5] and severity > 3"#).index_hints();
        assert_eq!(hints.severities, Some(0b10_0000));
        let hints = parse(r#"trap_name in ["IF-MIB::linkDown", "linkUp"]"#).index_hints();
        assert_eq!(
            hints.trap_name,
            Some(vec!["linkDown".into(), "linkUp".into()])
        );
        assert_eq!(hints.kind, None);

        for text in [
            r#"app == "sshd" or kind == "syslog""#,
            r#"not app == "sshd""#,
            r#"app != "sshd""#,
            r#"host == "*-web""#,
            r#"kind in ["syslog", "trap"]"#,
            r#"message !~ "Failed password""#,
        ] {
            assert_eq!(parse(text).index_hints(), IndexHints::default(), "{text}");
        }
    }

    #[test]
    fn message_literals() {
        let literals = |text: &str| parse(text).index_hints().message_literals;
        assert_eq!(
            literals(
                r#"app == "sshd" and message =~ "Failed password for .* from (?P<ip>[0-9a-f.:]+)""#
            ),
            Some(vec!["Failed password for ".into()])
        );
        assert_eq!(
            literals(r#"message =~ "(link|port) down""#),
            Some(vec!["link down".into(), "port down".into()])
        );
        assert_eq!(
            literals(r#"message =~ ".*segfault""#),
            Some(vec!["segfault".into()])
        );
        assert_eq!(literals(r#"message =~ "(?i)backup (ok|succeeded)""#), None);
        assert_eq!(literals(r#"message =~ "(?si:backup)""#), None);
        assert_eq!(literals(r#"message =~ ".*""#), None);
        assert_eq!(literals(r#"message =~ "ab""#), None);
        assert_eq!(literals(r#"message =~ "abc|x""#), None);
        assert_eq!(literals(r#"message =~ "[a-z]{5}""#), None);
        assert_eq!(
            literals(r#"message =~ "(?P<id>id)entity""#),
            Some(vec!["identity".into()])
        );
        assert_eq!(literals(r#"app =~ "sshd""#), None);
    }

    #[test]
    fn error_positions() {
        check_error("", 0, "empty condition");
        check_error("   ", 3, "empty condition");
        check_error(
            r#"app == "x" and foo == 1"#,
            15,
            "unknown field `foo` (known: kind, host",
        );
        check_error("varbind. == 1", 0, "unknown field");
        check_error("sd.x == 1", 0, "unknown field");
        check_error(r#"app < "x""#, 4, "operator `<` is not defined for `app`");
        check_error(
            r#"host >= "x""#,
            5,
            "operator `>=` is not defined for `host`",
        );
        check_error(
            r#"kind =~ "x""#,
            5,
            "operator `=~` is not defined for `kind`",
        );
        check_error(
            "source < 10.0.0.1",
            7,
            "operator `<` is not defined for `source`",
        );
        check_error(r#"severity !~ "x""#, 9, "operator `!~` is not defined");
        check_error(
            r#"message =~ "(unclosed""#,
            11,
            "invalid regex: unclosed group",
        );
        check_error(r#"app == "sshd"#, 7, "unterminated string");
        check_error("app == 'sshd", 7, "unterminated string");
        check_error(r#"app == "x\"#, 7, "unterminated string");
        check_error(r#"app "x""#, 4, "expected an operator");
        check_error(r#"app = "x""#, 4, "expected an operator");
        check_error("app ==", 6, "expected a value");
        check_error("app == )", 7, "expected a value");
        check_error(r#"app == "x" and"#, 14, "expected a field name");
        check_error(r#"app == "x" or )"#, 14, "expected a field name");
        check_error(r#"(app == "x""#, 11, "expected `)`");
        check_error(r#"app == "x")"#, 10, "unexpected `)`");
        check_error(r#"app == "x" app == "y""#, 11, "unexpected `app`");
        check_error("source in 10.0.0.0/33", 10, "invalid address or network");
        check_error("source == 300.1.1.1", 10, "invalid address or network");
        check_error(r#"source == "nope""#, 10, "invalid address or network");
        check_error(r#"severity == "loud""#, 12, "unknown severity");
        check_error("severity == 8", 12, "unknown severity");
        check_error(r#"facility in ["auth", "local9"]"#, 21, "unknown facility");
        check_error("facility == 24", 12, "unknown facility");
        check_error(r#"level >= "urgent""#, 9, "unknown level");
        check_error(r#"kind == "snmp""#, 8, "unknown kind");
        check_error("app == sshd", 7, "unquoted value `sshd`");
        check_error(r#"app in "x""#, 7, "takes a list");
        check_error(r#"app == ["x"]"#, 7, "use `in` for a list");
        check_error(r#"app in ["x" "y"]"#, 12, "expected `,` or `]`");
        check_error(r#"app in [["x"]]"#, 8, "lists cannot be nested");
        check_error(r#"varbind.ifIndex > "x""#, 18, "expected a number");
        check_error("app == 99999999999999999999999", 7, "too large");
        check_error(&"(".repeat(100), MAX_NESTING, "nested more than");
        check_error(&"!".repeat(10_000), MAX_NESTING, "nested more than");
        check_error(&"not ".repeat(100), 4 * MAX_NESTING, "nested more than");
    }

    #[test]
    fn deep_but_allowed_nesting_and_long_chains() {
        let depth = MAX_NESTING - 1;
        let nested = format!("{}app == \"sshd\"{}", "(".repeat(depth), ")".repeat(depth));
        check(&syslog_event(), &[(nested.as_str(), true)]);
        let chain = vec![r#"app == "sshd""#; 5_000].join(" and ");
        check(&syslog_event(), &[(chain.as_str(), true)]);
        let chain = vec![r#"app == "x""#; 5_000].join(" || ");
        check(&syslog_event(), &[(chain.as_str(), false)]);
    }

    #[test]
    fn regex_error_is_one_line() {
        let error = Condition::parse(r#"message =~ "a{2,1}""#).unwrap_err();
        assert!(!error.message.contains('\n'), "{}", error.message);
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in "\\PC{0,80}") {
            let _ = Condition::parse(&text);
        }

        #[test]
        fn token_soup_never_panics(
            tokens in proptest::collection::vec(
                prop_oneof![
                    Just("app"), Just("host"), Just("source"), Just("severity"), Just("level"),
                    Just("varbind.ifIndex"), Just("sd.a.b"), Just("trap_name"), Just("message"),
                    Just("=="), Just("!="), Just("<="), Just("=~"), Just("!~"), Just("in"),
                    Just("not"), Just("and"), Just("or"), Just("("), Just(")"), Just("["),
                    Just("]"), Just(","), Just("\"x\""), Just("'(?P<a>b)'"), Just("3"),
                    Just("10.0.0.0/8"), Just("\"err\""), Just("\"*\""), Just("!"), Just("\""),
                ],
                0..16,
            )
        ) {
            let text = tokens.join(" ");
            if let Ok(condition) = Condition::parse(&text) {
                let mut captures = Vec::new();
                for event in [syslog_event(), trap_event()] {
                    let subject = Subject { event: &event, category: None };
                    let _ = condition.matches(&subject, &mut captures);
                    let _ = condition.index_hints();
                }
            }
        }
    }
}
