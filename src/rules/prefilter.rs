//! Which rules can possibly match an event, without evaluating them all.
//!
//! With thousands of rules, evaluating every `when` for every event would make the rule count
//! the cost of ingest. Each rule is filed under the most selective necessary condition its
//! `when` has (see [`IndexHints`]): a trap name, an app, an exact host, literals its message
//! regex cannot match without, a host glob's prefix, the severities it accepts, or at least its
//! kind. An event then looks up only the lists its
//! own fields select — hash lookups plus one Aho-Corasick scan of the message — and the rules
//! found are evaluated in file order. Rules without any hint are evaluated for every event.

use aho_corasick::{AhoCorasick, AhoCorasickKind};
use rustc_hash::FxHashMap;

use super::Rule;
use super::condition::{Condition, IndexHints, fold};
use crate::event::{Event, EventKind};

/// The rule index of one [`super::RuleSet`].
#[derive(Default)]
pub struct Prefilter {
    always: Vec<usize>,
    by_kind: [Vec<usize>; 2],
    by_app: FxHashMap<String, Vec<usize>>,
    by_trap_name: FxHashMap<String, Vec<usize>>,
    by_host: FxHashMap<String, Vec<usize>>,
    /// Host-glob rules by the first (up to) `HOST_PREFIX` characters of the glob's literal prefix.
    by_host_prefix: FxHashMap<String, Vec<usize>>,
    by_severity: [Vec<usize>; 8],
    literals: Option<AhoCorasick>,
    /// Rules per literal pattern of `literals`.
    literal_rules: Vec<usize>,
}

impl Prefilter {
    /// Files every rule with a `when` under its most selective hint.
    pub fn build(rules: &[Rule]) -> Prefilter {
        Prefilter::over(
            rules
                .iter()
                .enumerate()
                .filter_map(|(i, r)| r.when.as_ref().map(|w| (i, w))),
        )
    }

    /// The same index over any conditions (`clear_when`, `expect.when`), by rule position.
    pub fn over<'a>(conditions: impl Iterator<Item = (usize, &'a Condition)>) -> Prefilter {
        let mut index = Prefilter::default();
        let mut patterns: Vec<String> = Vec::new();
        for (position, condition) in conditions {
            index.file(position, condition.index_hints(), &mut patterns);
        }
        if !patterns.is_empty() {
            // A DFA makes the overlapping scan several times faster than the default NFA; its
            // memory grows with the patterns, so large sets keep the automatic choice.
            let kind = (patterns.len() <= MAX_DFA_PATTERNS).then_some(AhoCorasickKind::DFA);
            match AhoCorasick::builder().kind(kind).build(&patterns) {
                Ok(automaton) => index.literals = Some(automaton),
                Err(_) => {
                    // Cannot happen for plain literals; fall back to evaluating those rules always.
                    index.always.append(&mut index.literal_rules);
                    index.always.sort_unstable();
                    index.always.dedup();
                }
            }
        }
        index
    }

    fn file(&mut self, position: usize, hints: IndexHints, patterns: &mut Vec<String>) {
        let add = |map: &mut FxHashMap<String, Vec<usize>>, values: Vec<String>| {
            for value in values {
                map.entry(value).or_default().push(position);
            }
        };
        if let Some(names) = hints.trap_name {
            add(&mut self.by_trap_name, names);
        } else if let Some(apps) = hints.app {
            add(&mut self.by_app, apps);
        } else if let Some(hosts) = hints.host {
            add(&mut self.by_host, hosts);
        } else if let Some(literals) = hints.message_literals {
            for literal in literals {
                patterns.push(literal);
                self.literal_rules.push(position);
            }
        } else if let Some(prefixes) = hints.host_prefixes {
            let keys = prefixes
                .iter()
                .map(|p| p.chars().take(HOST_PREFIX).collect());
            add(&mut self.by_host_prefix, keys.collect());
        } else if let Some(mask) = hints.severities {
            for severity in 0..8 {
                if mask & (1 << severity) != 0 {
                    self.by_severity[severity].push(position);
                }
            }
        } else if let Some(kind) = hints.kind {
            self.by_kind[kind_slot(kind)].push(position);
        } else {
            self.always.push(position);
        }
    }

    /// Fills `out` with the positions of the rules that may match `event`, in rule order.
    pub fn candidates(&self, event: &Event, out: &mut Vec<usize>, lowered: &mut String) {
        out.clear();
        out.extend_from_slice(&self.always);
        out.extend_from_slice(&self.by_kind[kind_slot(event.kind)]);
        if let Some(app) = &event.app
            && let Some(rules) = self.by_app.get(app.as_str())
        {
            out.extend_from_slice(rules);
        }
        if let Some(name) = event.trap.as_ref().and_then(|t| t.trap_name.as_deref()) {
            let short = name.rsplit_once("::").map_or(name, |(_, short)| short);
            if let Some(rules) = self.by_trap_name.get(short) {
                out.extend_from_slice(rules);
            }
        }
        if let Some(severity) = event.severity
            && let Some(rules) = self.by_severity.get(usize::from(severity))
        {
            out.extend_from_slice(rules);
        }
        if !self.by_host.is_empty() || !self.by_host_prefix.is_empty() {
            let host = lower_case(&event.host, lowered);
            if let Some(rules) = self.by_host.get(host) {
                out.extend_from_slice(rules);
            }
            if !self.by_host_prefix.is_empty() {
                for (at, c) in host.char_indices().take(HOST_PREFIX) {
                    if let Some(rules) = self.by_host_prefix.get(&host[..at + c.len_utf8()]) {
                        out.extend_from_slice(rules);
                    }
                }
            }
        }
        if let Some(automaton) = &self.literals {
            for found in automaton.find_overlapping_iter(event.message.as_str()) {
                out.push(self.literal_rules[found.pattern().as_usize()]);
            }
        }
        out.sort_unstable();
        out.dedup();
    }
}

/// Most literal patterns scanned with a DFA (a few MiB at most).
const MAX_DFA_PATTERNS: usize = 500;

/// Characters of a host glob's literal prefix used as its index key: enough to separate
/// `core-*` from `edge-*`, few enough that three lookups cover every key length.
const HOST_PREFIX: usize = 3;

/// `host` folded character by character exactly as [`Glob`](super::Glob) folds patterns and
/// text, copied into `buffer` only when it has upper-case characters. Full Unicode lower-casing
/// is not the same: `İ` lower-cases to two characters, which `Glob` keeps as they are, so a
/// rule `host == "İstanbul-rtr"` matched `İstanbul-RTR` but was filed under a key the event's
/// host never produced, and never ran (found by the rule_condition fuzz target's index check).
fn lower_case<'a>(host: &'a str, buffer: &'a mut String) -> &'a str {
    if host.is_ascii() && !host.bytes().any(|b| b.is_ascii_uppercase()) {
        return host;
    }
    buffer.clear();
    buffer.extend(host.chars().map(fold));
    buffer
}

fn kind_slot(kind: EventKind) -> usize {
    match kind {
        EventKind::Syslog => 0,
        EventKind::Trap => 1,
    }
}
