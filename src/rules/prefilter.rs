//! Which rules can possibly match an event, without evaluating them all.
//!
//! With thousands of rules, evaluating every `when` for every event would make the rule count
//! the cost of ingest. Each rule is filed under the most selective necessary condition its
//! `when` has (see [`IndexHints`]): a trap name, an app, an exact host, literals its message
//! regex cannot match without, or at least its kind. An event then looks up only the lists its
//! own fields select — hash lookups plus one Aho-Corasick scan of the message — and the rules
//! found are evaluated in file order. Rules without any hint are evaluated for every event.

use aho_corasick::AhoCorasick;
use rustc_hash::FxHashMap;

use super::Rule;
use super::condition::IndexHints;
use crate::event::{Event, EventKind};

/// The rule index of one [`super::RuleSet`].
#[derive(Default)]
pub struct Prefilter {
    always: Vec<usize>,
    by_kind: [Vec<usize>; 2],
    by_app: FxHashMap<String, Vec<usize>>,
    by_trap_name: FxHashMap<String, Vec<usize>>,
    by_host: FxHashMap<String, Vec<usize>>,
    literals: Option<AhoCorasick>,
    /// Rules per literal pattern of `literals`.
    literal_rules: Vec<usize>,
}

impl Prefilter {
    /// Files every rule with a `when` under its most selective hint.
    pub fn build(rules: &[Rule]) -> Prefilter {
        let mut index = Prefilter::default();
        let mut patterns: Vec<String> = Vec::new();
        for (position, rule) in rules.iter().enumerate() {
            let Some(when) = &rule.when else { continue };
            let hints = when.index_hints();
            index.file(position, hints, &mut patterns);
        }
        if !patterns.is_empty() {
            match AhoCorasick::new(&patterns) {
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
        if !self.by_host.is_empty() {
            lowered.clear();
            lowered.extend(event.host.chars().flat_map(char::to_lowercase));
            if let Some(rules) = self.by_host.get(lowered.as_str()) {
                out.extend_from_slice(rules);
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

fn kind_slot(kind: EventKind) -> usize {
    match kind {
        EventKind::Syslog => 0,
        EventKind::Trap => 1,
    }
}
