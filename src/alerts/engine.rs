//! [`AlertEngine`]: raising, folding and clearing alerts, and the rule state behind them.
//!
//! The engine is driven by two calls: [`AlertEngine::observe`] for each stored event (with the
//! rules' [`Verdict`]) and [`AlertEngine::tick`] with the current time (expectations that came
//! due, alerts that expired, maintenance windows that ended). Times always come from the
//! caller — the receive time of events, the clock for ticks — so `test-rules` and `replay` can
//! drive the same engine with the timestamps of a test case.
//!
//! Every size is bounded: active alerts (beyond `max_active` a rule's new alerts fold into one
//! overflow alert), threshold groups, expected hosts, and each alert's ids and history.

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};
use tracing::warn;

use super::expect::last_ended_window;
use super::{Alert, AlertState, record_key};
use crate::event::{Event, EventId, EventKind, Level, Transport};
use crate::metrics::metrics;
use crate::rules::{Captures, ExpectSchedule, Maintenance, Rule, RuleSet, Subject, Verdict};
use crate::store::{RecordTree, Store, StoreError};

/// Limits of the engine (config `[alerts]`).
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Active alerts beyond which a rule's new alerts fold into its overflow alert.
    pub max_active: usize,
    /// Threshold groups kept across all rules (the oldest idle ones go first).
    pub max_threshold_groups: usize,
    /// Hosts remembered per `expect` rule without a host list.
    pub max_expected_hosts: usize,
    /// Keep a journal of changes (for `test-rules` and `replay`).
    pub journal: bool,
}

impl Default for EngineOptions {
    fn default() -> EngineOptions {
        EngineOptions {
            max_active: 10_000,
            max_threshold_groups: 100_000,
            max_expected_hosts: 10_000,
            journal: false,
        }
    }
}

/// What happened to an alert (the journal of `test-rules` and `replay`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Raised,
    Folded,
    Suppressed,
    Cleared,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Raised => "raised",
            ChangeKind::Folded => "folded",
            ChangeKind::Suppressed => "suppressed",
            ChangeKind::Cleared => "cleared",
        }
    }
}

/// One journal entry: the alert as it was right after the change.
#[derive(Debug, Clone)]
pub struct Change {
    pub kind: ChangeKind,
    pub at_ns: i64,
    pub alert: Alert,
}

/// Events of one threshold group inside the window: (received at, event id).
type Window = VecDeque<(i64, EventId)>;

/// What an `expect` rule remembers about one host.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct HostSeen {
    last_ns: Option<i64>,
    /// The `last_ns` (or arming time) an alert was already raised for: one alert per miss.
    raised_for: Option<i64>,
}

/// State of one `expect` rule.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ExpectState {
    /// When the rule was first seen: a listed host that never reported is late from here on.
    armed_ns: i64,
    /// Daily windows ending at or before this were checked.
    checked_until_ns: i64,
    hosts: BTreeMap<String, HostSeen>,
}

/// One threshold group as persisted: rule, group, events in the window.
type StoredWindow = (String, String, Vec<(i64, EventId)>);

/// The persisted form of the stateful windows.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Windows {
    thresholds: Vec<StoredWindow>,
    expects: BTreeMap<String, ExpectState>,
}

/// Where the engine keeps its state (none for `test-rules`).
pub(super) struct Persistence {
    pub(super) alerts: RecordTree,
    windows: RecordTree,
    maintenance: RecordTree,
}

/// Who changes alerts automatically (history `by`).
const BY_RULES: &str = "trapline";
/// How often the stateful windows are written (they change with nearly every matching event).
const WINDOWS_EVERY_NS: i64 = 1_000_000_000;
/// How often alerts that only folded events are written (new alerts and state changes are
/// written at the next persist, within ~100 ms).
const FOLDS_EVERY_NS: i64 = 1_000_000_000;

/// Active alerts and rule state; see the module documentation.
pub struct AlertEngine {
    options: EngineOptions,
    pub(super) active: FxHashMap<u64, Alert>,
    pub(super) by_key: FxHashMap<String, u64>,
    next_id: u64,
    pub(super) dirty: FxHashSet<u64>,
    /// Alerts that only took more events (count, last seen): written at most every
    /// `FOLDS_EVERY_NS`, because under a flood the same alerts fold thousands of times a second.
    pub(super) folded: FxHashSet<u64>,
    folds_written_ns: i64,
    /// Alerts that left the active set and still have to be written.
    pub(super) finished: Vec<Alert>,
    thresholds: FxHashMap<(String, String), Window>,
    expects: FxHashMap<String, ExpectState>,
    windows_dirty: bool,
    windows_written_ns: i64,
    api_windows: Vec<Maintenance>,
    journal: Vec<Change>,
    pub(super) persistence: Option<Persistence>,
    captures: Captures,
    summary_buffer: String,
    key_buffer: String,
    scratch: crate::rules::Scratch,
    candidates: Vec<usize>,
    /// Where written changes are announced (the web's live stream); `None` offline.
    feed: Option<tokio::sync::broadcast::Sender<std::sync::Arc<str>>>,
    /// Told of every written alert and operator action (the notifier); `None` offline.
    pub(super) observer: Option<std::sync::Arc<dyn super::AlertObserver>>,
}

impl AlertEngine {
    /// An engine without persistence (rule tests, replay).
    pub fn in_memory(options: EngineOptions) -> AlertEngine {
        AlertEngine {
            options,
            active: FxHashMap::default(),
            by_key: FxHashMap::default(),
            next_id: 1,
            dirty: FxHashSet::default(),
            folded: FxHashSet::default(),
            folds_written_ns: 0,
            finished: Vec::new(),
            thresholds: FxHashMap::default(),
            expects: FxHashMap::default(),
            windows_dirty: false,
            windows_written_ns: 0,
            api_windows: Vec::new(),
            journal: Vec::new(),
            persistence: None,
            captures: Captures::new(),
            summary_buffer: String::new(),
            key_buffer: String::new(),
            scratch: crate::rules::Scratch::default(),
            candidates: Vec::new(),
            feed: None,
            observer: None,
        }
    }

    /// Opens the engine on the store: active alerts, windows and API maintenance windows.
    pub fn open(store: &Store, options: EngineOptions) -> Result<AlertEngine, StoreError> {
        let persistence = Persistence {
            alerts: store.records("alerts")?,
            windows: store.records("rule_windows")?,
            maintenance: store.records("maintenance")?,
        };
        let mut engine = AlertEngine::in_memory(options);
        for item in persistence.alerts.iter_rev(None) {
            let (key, bytes) = item?;
            match serde_json::from_slice::<Alert>(&bytes) {
                Ok(alert) => {
                    engine.next_id = engine.next_id.max(alert.id + 1);
                    if alert.state.is_active() {
                        engine.by_key.insert(alert.key.clone(), alert.id);
                        engine.active.insert(alert.id, alert);
                    }
                }
                Err(error) => warn!(%key, %error, "Unreadable alert record skipped."),
            }
        }
        if let Some(bytes) = persistence.windows.get("windows")? {
            match serde_json::from_slice::<Windows>(&bytes) {
                Ok(windows) => {
                    for (rule, group, events) in windows.thresholds {
                        engine.thresholds.insert((rule, group), events.into());
                    }
                    engine.expects = windows.expects.into_iter().collect();
                }
                Err(error) => warn!(%error, "Unreadable rule windows; starting them afresh."),
            }
        }
        for (key, bytes) in persistence.maintenance.list()? {
            match serde_json::from_slice::<Maintenance>(&bytes) {
                Ok(window) => engine.api_windows.push(window),
                Err(error) => warn!(%key, %error, "Unreadable maintenance window skipped."),
            }
        }
        engine.persistence = Some(persistence);
        engine.update_gauges();
        Ok(engine)
    }

    /// The active alert with `key`.
    pub fn active_by_key(&self, key: &str) -> Option<&Alert> {
        self.by_key.get(key).and_then(|id| self.active.get(id))
    }

    /// Every active alert (any order).
    pub fn active(&self) -> impl Iterator<Item = &Alert> {
        self.active.values()
    }

    /// Active alerts (open, acked, snoozed, suppressed) of each of `hosts`, per level (indexed
    /// by [`Level::code`]), in the order of `hosts`. Exact host names, as the alerts carry
    /// them.
    ///
    /// One pass over the active alerts (at most `max_active`, plus one overflow alert per
    /// rule), so the equipment pages cost microseconds without a per-host index to keep in
    /// step with every raise, clear and action.
    pub fn active_counts(&self, hosts: &[&str]) -> Vec<[u64; 4]> {
        let mut counts = vec![[0u64; 4]; hosts.len()];
        let index: FxHashMap<&str, usize> =
            hosts.iter().enumerate().map(|(i, h)| (*h, i)).collect();
        for alert in self.active.values() {
            if let Some(&i) = index.get(alert.host.as_str()) {
                counts[i][alert.level.code() as usize] += 1;
            }
        }
        counts
    }

    /// Announces every alert change on `feed` when it is written (see `persist`), as the
    /// alert's JSON text: serialized once here, shared by every subscriber (a hundred open
    /// consoles must not cost a hundred serializations per change).
    pub fn set_change_feed(&mut self, feed: tokio::sync::broadcast::Sender<std::sync::Arc<str>>) {
        self.feed = Some(feed);
    }

    /// Tells `observer` of every alert written from now on and of every operator action.
    pub fn set_observer(&mut self, observer: std::sync::Arc<dyn super::AlertObserver>) {
        self.observer = Some(observer);
    }

    /// Adds `observer` beside the one already set (if any): both are told of everything,
    /// in the order they were attached (the notifier, then the availability recorder).
    pub fn add_observer(&mut self, observer: std::sync::Arc<dyn super::AlertObserver>) {
        self.observer = Some(match self.observer.take() {
            None => observer,
            Some(first) => std::sync::Arc::new(super::Observers(vec![first, observer])),
        });
    }

    /// Raises (or folds into) an alert that trapline reports about itself rather than a rule
    /// about an event — e.g. a notification that could not be delivered. Maintenance windows
    /// and the active-alert bound apply as to any alert.
    pub fn raise_notice(&mut self, rules: &RuleSet, notice: &Notice<'_>) {
        self.raise_or_fold(
            rules,
            Raise {
                rule: notice.rule,
                key: Cow::Borrowed(notice.key),
                level: notice.level,
                category: Some(notice.category),
                host: notice.host,
                summary: Cow::Borrowed(notice.summary),
                expire_after: None,
                event: None,
                count: 1,
                event_ids: &[],
                at_ns: notice.at_ns,
            },
        );
    }

    /// Takes the journal (only filled with `EngineOptions::journal`).
    pub fn take_journal(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.journal)
    }

    /// Feeds one stored event and the rules' verdict about it.
    pub fn observe(&mut self, rules: &RuleSet, event: &Event, verdict: &Verdict) {
        let at = event.received_at_ns;
        if !rules.expect_rules().is_empty() {
            self.observe_expectations(rules, event);
        }
        if !rules.clear_rules().is_empty() {
            self.observe_clears(rules, event);
        }
        for &index in &verdict.counted_by {
            if verdict.rule != Some(index) {
                self.observe_threshold(rules, rules.rule(index), event, verdict);
            }
        }
        let rule = verdict.rule.map(|i| rules.rule(i));
        if let Some(rule) = rule {
            if rule.action != crate::rules::Action::Alert {
                return;
            }
            if rule.threshold.is_some() {
                self.observe_threshold(rules, rule, event, verdict);
                return;
            }
        }
        if event.level < Level::Low {
            return;
        }
        let category = rules.category_of(verdict);
        let subject = Subject { event, category };
        let name = rule.map_or("default", |r| r.name.as_str());
        // Rendered into reused buffers: most events fold into an alert that exists, and then
        // nothing needs to be allocated.
        let mut summary = std::mem::take(&mut self.summary_buffer);
        let mut key = std::mem::take(&mut self.key_buffer);
        summary.clear();
        key.clear();
        match rule.and_then(|r| r.summary.as_ref()) {
            Some(template) => {
                render_into(template, &subject, &verdict.captures, name, 1, &mut summary)
            }
            None => push_default_summary(&event.message, &mut summary),
        }
        match rule.and_then(|r| r.key.as_ref()) {
            Some(template) => render_into(template, &subject, &verdict.captures, name, 1, &mut key),
            None => push_default_key(name, &event.host, &summary, &mut key),
        }
        self.raise_or_fold(
            rules,
            Raise {
                rule: name,
                key: Cow::Borrowed(&key),
                level: event.level,
                category,
                host: &event.host,
                summary: Cow::Borrowed(&summary),
                expire_after: rule.and_then(|r| r.expire_after),
                event: Some(event),
                count: 1,
                event_ids: &[event.id],
                at_ns: at,
            },
        );
        self.summary_buffer = summary;
        self.key_buffer = key;
    }

    fn observe_threshold(
        &mut self,
        rules: &RuleSet,
        rule: &Rule,
        event: &Event,
        verdict: &Verdict,
    ) {
        let Some(threshold) = &rule.threshold else {
            return;
        };
        let category = rule.category.as_deref().or(rules.category_of(verdict));
        let subject = Subject { event, category };
        let group = threshold.by.as_ref().map_or_else(String::new, |by| {
            render(by, &subject, &verdict.captures, &rule.name, 0)
        });
        let at = event.received_at_ns;
        let within = duration_ns(threshold.within);
        let slot = (rule.name.clone(), group);
        if !self.thresholds.contains_key(&slot)
            && self.thresholds.len() >= self.options.max_threshold_groups
        {
            self.prune_thresholds(at, rules);
            if self.thresholds.len() >= self.options.max_threshold_groups {
                warn!(rule = %rule.name, "Too many threshold groups; this event is not counted.");
                return;
            }
        }
        let window = self.thresholds.entry(slot).or_default();
        window.push_back((at, event.id));
        while window.front().is_some_and(|(t, _)| *t <= at - within) {
            window.pop_front();
        }
        while window.len() > threshold.count as usize {
            window.pop_front();
        }
        self.windows_dirty = true;
        let in_window = window.len() as u64;
        if in_window < u64::from(threshold.count) {
            return;
        }
        let ids: Vec<EventId> = window.iter().rev().map(|(_, id)| *id).collect();
        let level = rule.level.unwrap_or(Level::Warning);
        let summary = match &rule.summary {
            Some(t) => render(t, &subject, &verdict.captures, &rule.name, in_window),
            None => format!(
                "{in_window} events matching rule {} within {}",
                rule.name,
                humantime::format_duration(threshold.within)
            ),
        };
        let key = match &rule.key {
            Some(t) => render(t, &subject, &verdict.captures, &rule.name, in_window),
            None => default_key(&rule.name, &event.host, &summary),
        };
        // A new alert takes the whole window; an open one just this event.
        let new = !self.by_key.contains_key(&key);
        self.raise_or_fold(
            rules,
            Raise {
                rule: &rule.name,
                key: Cow::Owned(key),
                level,
                category,
                host: &event.host,
                summary: Cow::Owned(summary),
                expire_after: rule.expire_after,
                event: Some(event),
                count: if new { in_window } else { 1 },
                event_ids: if new { &ids } else { &ids[..1] },
                at_ns: at,
            },
        );
    }

    fn prune_thresholds(&mut self, now_ns: i64, rules: &RuleSet) {
        self.thresholds.retain(|(rule, _), window| {
            let within = rules
                .position(rule)
                .and_then(|i| rules.rule(i).threshold.as_ref())
                .map(|t| duration_ns(t.within));
            match (within, window.back()) {
                (Some(within), Some((last, _))) => *last > now_ns - within,
                _ => false,
            }
        });
        self.windows_dirty = true;
    }

    fn observe_clears(&mut self, rules: &RuleSet, event: &Event) {
        let mut candidates = std::mem::take(&mut self.candidates);
        rules.clear_candidates(event, &mut candidates, &mut self.scratch);
        for &index in &candidates {
            let rule = rules.rule(index);
            let Some(clear_when) = &rule.clear_when else {
                continue;
            };
            let subject = Subject {
                event,
                category: rule.category.as_deref(),
            };
            self.captures.clear();
            if !clear_when.matches(&subject, &mut self.captures) {
                continue;
            }
            let captures = std::mem::take(&mut self.captures);
            let key = match &rule.key {
                Some(t) => render(t, &subject, &captures, &rule.name, 0),
                None => {
                    let summary = match &rule.summary {
                        Some(t) => render(t, &subject, &captures, &rule.name, 0),
                        None => default_summary(&event.message),
                    };
                    default_key(&rule.name, &event.host, &summary)
                }
            };
            self.captures = captures;
            let detail = format!(
                "event {} matched clear_when of rule {}",
                event.id, rule.name
            );
            self.clear(&key, event.received_at_ns, BY_RULES, "cleared", detail);
        }
        self.candidates = candidates;
    }

    fn observe_expectations(&mut self, rules: &RuleSet, event: &Event) {
        let at = event.received_at_ns;
        let mut candidates = std::mem::take(&mut self.candidates);
        rules.expect_candidates(event, &mut candidates, &mut self.scratch);
        for &index in &candidates {
            let rule = rules.rule(index);
            let Some(expect) = &rule.expect else { continue };
            let subject = Subject {
                event,
                category: rule.category.as_deref(),
            };
            self.captures.clear();
            if !expect.when.matches(&subject, &mut self.captures) {
                continue;
            }
            let host = match &expect.hosts {
                Some(hosts) => match hosts.iter().find(|h| h.eq_ignore_ascii_case(&event.host)) {
                    Some(listed) => listed.clone(),
                    None => continue,
                },
                None => event.host.clone(),
            };
            let limit = self.options.max_expected_hosts;
            let state = self
                .expects
                .entry(rule.name.clone())
                .or_insert_with(|| ExpectState {
                    armed_ns: at,
                    checked_until_ns: at,
                    hosts: BTreeMap::new(),
                });
            if !state.hosts.contains_key(&host) && state.hosts.len() >= limit {
                continue;
            }
            let seen = state.hosts.entry(host.clone()).or_default();
            seen.last_ns = Some(seen.last_ns.map_or(at, |t| t.max(at)));
            self.windows_dirty = true;
            let key = expect_key(rule, &host);
            let detail = format!("event {} arrived from {host}", event.id);
            self.clear(&key, at, BY_RULES, "cleared", detail);
        }
        self.candidates = candidates;
    }

    /// Time-driven work: due expectations, expired alerts, ended maintenance windows, gauges.
    pub fn tick(&mut self, rules: &RuleSet, now_ns: i64) {
        self.arm_expectations(rules, now_ns);
        self.check_expectations(rules, now_ns);
        self.expire_alerts(now_ns);
        self.end_snoozes(now_ns);
        self.end_maintenance(now_ns);
        self.update_gauges();
    }

    /// Starts the clock of `expect` rules with a host list, so a host that never reports at
    /// all is noticed too.
    fn arm_expectations(&mut self, rules: &RuleSet, now_ns: i64) {
        for &index in rules.expect_rules() {
            let rule = rules.rule(index);
            if !self.expects.contains_key(&rule.name) {
                self.expects.insert(
                    rule.name.clone(),
                    ExpectState {
                        armed_ns: now_ns,
                        checked_until_ns: now_ns,
                        hosts: BTreeMap::new(),
                    },
                );
                self.windows_dirty = true;
            }
        }
    }

    fn check_expectations(&mut self, rules: &RuleSet, now_ns: i64) {
        let mut due: Vec<(usize, String, String)> = Vec::new();
        for &index in rules.expect_rules() {
            let rule = rules.rule(index);
            let Some(expect) = &rule.expect else { continue };
            let Some(state) = self.expects.get_mut(&rule.name) else {
                continue;
            };
            if let Some(hosts) = &expect.hosts {
                for host in hosts {
                    state.hosts.entry(host.clone()).or_default();
                }
            }
            match &expect.schedule {
                ExpectSchedule::Every(every) => {
                    let every = duration_ns(*every);
                    for (host, seen) in state.hosts.iter_mut() {
                        let since = seen.last_ns.unwrap_or(state.armed_ns);
                        if now_ns - since >= every && seen.raised_for != Some(since) {
                            seen.raised_for = Some(since);
                            let human = humantime::format_duration(Duration::from_nanos(
                                every.max(0) as u64,
                            ));
                            due.push((index, host.clone(), format!("nothing within {human}")));
                        }
                    }
                }
                ExpectSchedule::Daily {
                    from,
                    to,
                    timezone,
                    days,
                } => {
                    let Some(window) =
                        last_ended_window(now_ns, *from, *to, *timezone, days.as_deref())
                    else {
                        continue;
                    };
                    if window.end_ns <= state.checked_until_ns {
                        continue;
                    }
                    state.checked_until_ns = window.end_ns;
                    for (host, seen) in state.hosts.iter() {
                        if seen.last_ns.is_none_or(|t| t < window.start_ns) {
                            due.push((
                                index,
                                host.clone(),
                                format!("nothing between {from} and {to} ({timezone})"),
                            ));
                        }
                    }
                }
            }
            self.windows_dirty = true;
        }
        for (index, host, detail) in due {
            self.raise_expectation(rules, index, &host, detail, now_ns);
        }
    }

    fn raise_expectation(
        &mut self,
        rules: &RuleSet,
        index: usize,
        host: &str,
        detail: String,
        now_ns: i64,
    ) {
        let rule = rules.rule(index);
        let event = placeholder_event(host, now_ns);
        let subject = Subject {
            event: &event,
            category: rule.category.as_deref(),
        };
        let summary = match &rule.summary {
            Some(t) => render(t, &subject, &Captures::new(), &rule.name, 0),
            None => format!(
                "No event matching rule {} from {host} ({detail})",
                rule.name
            ),
        };
        let key = expect_key(rule, host);
        self.raise_or_fold(
            rules,
            Raise {
                rule: &rule.name,
                key: Cow::Owned(key),
                level: rule.level.unwrap_or(Level::Warning),
                category: rule.category.as_deref(),
                host,
                summary: Cow::Owned(summary),
                expire_after: rule.expire_after,
                event: Some(&event),
                count: 0,
                event_ids: &[],
                at_ns: now_ns,
            },
        );
    }

    fn expire_alerts(&mut self, now_ns: i64) {
        let expired: Vec<String> = self
            .active
            .values()
            .filter(|a| {
                a.expire_after_ms.is_some_and(|ms| {
                    now_ns.saturating_sub(a.touched_ns) >= (ms as i64).saturating_mul(1_000_000)
                })
            })
            .map(|a| a.key.clone())
            .collect();
        for key in expired {
            self.clear(
                &key,
                now_ns,
                BY_RULES,
                "expired",
                "expire_after elapsed".into(),
            );
        }
    }

    fn end_maintenance(&mut self, now_ns: i64) {
        let ended: Vec<String> = self
            .api_windows
            .iter()
            .filter(|w| w.end_ns <= now_ns)
            .map(|w| w.id.clone())
            .collect();
        for id in ended {
            if let Err(error) = self.remove_maintenance(&id) {
                warn!(%error, %id, "Could not remove an ended maintenance window.");
            }
        }
    }

    fn update_gauges(&self) {
        let mut open = [0i64; 4];
        for alert in self.active.values() {
            if alert.state == AlertState::Open {
                open[alert.level.code() as usize] += 1;
            }
        }
        let gauge = &metrics().alerts_open;
        for level in Level::ALL.into_iter().filter(|l| *l != Level::None) {
            gauge
                .with_label_values(&[level.as_str()])
                .set(open[level.code() as usize]);
        }
    }

    /// Maintenance windows from the rule files and the API.
    pub fn maintenance_windows(&self, rules: &RuleSet) -> Vec<Maintenance> {
        rules
            .maintenance()
            .iter()
            .chain(&self.api_windows)
            .cloned()
            .collect()
    }

    /// Adds a window made through the API (its id is assigned here) and persists it.
    pub fn add_maintenance(&mut self, mut window: Maintenance) -> Result<Maintenance, StoreError> {
        let next = self
            .api_windows
            .iter()
            .filter_map(|w| w.id.parse::<u64>().ok())
            .max()
            .unwrap_or(0)
            + 1;
        window.id = next.to_string();
        if let Some(p) = &self.persistence {
            let bytes = serde_json::to_vec(&window).unwrap_or_default();
            p.maintenance.put(&window.id, &bytes)?;
        }
        self.api_windows.push(window.clone());
        Ok(window)
    }

    /// Removes an API window; false if there is none with that id.
    pub fn remove_maintenance(&mut self, id: &str) -> Result<bool, StoreError> {
        let before = self.api_windows.len();
        self.api_windows.retain(|w| w.id != id);
        if self.api_windows.len() == before {
            return Ok(false);
        }
        if let Some(p) = &self.persistence {
            p.maintenance.remove(id)?;
        }
        Ok(true)
    }

    /// Why a new alert would be suppressed: a maintenance window or an inhibiting alert.
    fn suppression(&self, rules: &RuleSet, raise: &Raise<'_>) -> Option<(&'static str, String)> {
        let covering = rules
            .maintenance()
            .iter()
            .chain(&self.api_windows)
            .find(|w| w.covers(raise.at_ns, raise.host, raise.category, raise.rule));
        if let Some(window) = covering {
            return Some((
                "maintenance",
                format!("maintenance window {:?}", window.name),
            ));
        }
        for &index in rules.inhibit_rules() {
            let parent = rules.rule(index);
            let Some(inhibit) = &parent.inhibit else {
                continue;
            };
            if parent.name == raise.rule || !inhibit.hosts.iter().any(|g| g.matches(raise.host)) {
                continue;
            }
            if let (Some(when), Some(event)) = (&inhibit.when, raise.event) {
                let subject = Subject {
                    event,
                    category: raise.category,
                };
                if !when.matches(&subject, &mut Captures::new()) {
                    continue;
                }
            }
            let inhibiting = self.active.values().find(|a| {
                a.rule == parent.name
                    && matches!(
                        a.state,
                        AlertState::Open | AlertState::Acked | AlertState::Snoozed
                    )
            });
            if let Some(alert) = inhibiting {
                return Some((
                    "inhibited",
                    format!(
                        "inhibited by alert {} ({}) on {}",
                        alert.id, alert.rule, alert.host
                    ),
                ));
            }
        }
        None
    }

    fn raise_or_fold(&mut self, rules: &RuleSet, raise: Raise<'_>) {
        if let Some(&id) = self.by_key.get(raise.key.as_ref()) {
            self.fold_into(rules, id, &raise);
            return;
        }
        if self.active.len() >= self.options.max_active {
            self.overflow(rules, raise);
            return;
        }
        self.create(rules, &raise);
    }

    /// Makes a new active alert from `raise` (open, or suppressed by maintenance/inhibition).
    fn create(&mut self, rules: &RuleSet, raise: &Raise<'_>) {
        let suppressed = self.suppression(rules, raise);
        let id = self.next_id;
        self.next_id += 1;
        let mut alert = Alert {
            id,
            key: raise.key.to_string(),
            rule: raise.rule.to_string(),
            state: AlertState::Open,
            level: raise.level,
            category: raise.category.map(str::to_string),
            host: raise.host.to_string(),
            summary: raise.summary.to_string(),
            count: raise.count,
            first_seen_ns: raise.at_ns,
            last_seen_ns: raise.at_ns,
            event_ids: raise
                .event_ids
                .iter()
                .copied()
                .take(super::MAX_EVENT_IDS)
                .collect(),
            history: Vec::new(),
            expire_after_ms: raise.expire_after.map(|d| d.as_millis() as u64),
            touched_ns: raise.at_ns,
            snoozed_until_ns: None,
            transferred_to: Vec::new(),
        };
        alert.record(
            raise.at_ns,
            BY_RULES,
            "raised",
            Some(format!("rule {}", raise.rule)),
        );
        let kind = match suppressed {
            Some((reason, detail)) => {
                alert.state = AlertState::Suppressed;
                alert.record(raise.at_ns, BY_RULES, "suppressed", Some(detail));
                metrics()
                    .alerts_suppressed
                    .with_label_values(&[reason])
                    .inc();
                ChangeKind::Suppressed
            }
            None => ChangeKind::Raised,
        };
        metrics()
            .alerts_raised
            .with_label_values(&[raise.level.as_str()])
            .inc();
        self.by_key.insert(alert.key.clone(), id);
        self.note(kind, raise.at_ns, &alert);
        self.active.insert(id, alert);
        self.dirty.insert(id);
    }

    fn fold_into(&mut self, rules: &RuleSet, id: u64, raise: &Raise<'_>) {
        let reopen = {
            let Some(alert) = self.active.get(&id) else {
                return;
            };
            alert.state == AlertState::Suppressed && self.suppression(rules, raise).is_none()
        };
        let journal = self.options.journal;
        let Some(alert) = self.active.get_mut(&id) else {
            return;
        };
        alert.count += raise.count.saturating_sub(1);
        if raise.count == 0 {
            alert.touched_ns = alert.touched_ns.max(raise.at_ns);
            alert.last_seen_ns = alert.last_seen_ns.max(raise.at_ns);
        } else {
            for event_id in raise.event_ids.iter().rev() {
                alert.event_ids.push_front(*event_id);
            }
            alert.event_ids.truncate(super::MAX_EVENT_IDS);
            alert.fold(None, raise.at_ns);
        }
        if raise.level > alert.level {
            alert.level = raise.level;
        }
        if reopen {
            alert.state = AlertState::Open;
            alert.record(
                raise.at_ns,
                BY_RULES,
                "reopened",
                Some("no longer suppressed".into()),
            );
            self.dirty.insert(id);
        } else {
            self.folded.insert(id);
        }
        if journal {
            let snapshot = alert.clone();
            self.note(ChangeKind::Folded, raise.at_ns, &snapshot);
        }
    }

    /// Folds `raise` into its rule's overflow alert (made even beyond the limit: one per rule).
    fn overflow(&mut self, rules: &RuleSet, raise: Raise<'_>) {
        metrics().alerts_overflow.inc();
        let key = format!("{}|overflow", raise.rule);
        if !self.by_key.contains_key(&key) {
            warn!(
                rule = raise.rule,
                limit = self.options.max_active,
                "Too many active alerts; this rule's new alerts fold into one overflow alert."
            );
        }
        let summary = format!(
            "More than {} active alerts: new alerts of rule {} are folded here",
            self.options.max_active, raise.rule
        );
        let overflow = Raise {
            key: Cow::Owned(key),
            summary: Cow::Owned(summary),
            host: "trapline",
            ..raise
        };
        match self.by_key.get(overflow.key.as_ref()) {
            Some(&id) => self.fold_into(rules, id, &overflow),
            // Made even beyond the limit: at most one per rule.
            None => self.create(rules, &overflow),
        }
    }

    /// Clears the active alert with `key`, if any.
    fn clear(&mut self, key: &str, at_ns: i64, by: &str, action: &str, detail: String) {
        let Some(id) = self.by_key.remove(key) else {
            return;
        };
        let Some(mut alert) = self.active.remove(&id) else {
            return;
        };
        alert.state = AlertState::Cleared;
        alert.record(at_ns, by, action, Some(detail));
        self.dirty.remove(&id);
        self.folded.remove(&id);
        self.note(ChangeKind::Cleared, at_ns, &alert);
        self.finished.push(alert);
    }

    pub(super) fn note(&mut self, kind: ChangeKind, at_ns: i64, alert: &Alert) {
        if self.options.journal {
            self.journal.push(Change {
                kind,
                at_ns,
                alert: alert.clone(),
            });
        }
    }

    /// Writes what changed since the last call (alerts at once, windows at most every second).
    pub fn persist(&mut self, now_ns: i64) -> Result<(), StoreError> {
        let Some(p) = &self.persistence else {
            self.dirty.clear();
            self.folded.clear();
            self.finished.clear();
            return Ok(());
        };
        if !self.folded.is_empty() && now_ns - self.folds_written_ns >= FOLDS_EVERY_NS {
            self.dirty.extend(self.folded.drain());
            self.folds_written_ns = now_ns;
        }
        if !self.dirty.is_empty() || !self.finished.is_empty() {
            let feed = self.feed.as_ref().filter(|f| f.receiver_count() > 0);
            let finished = std::mem::take(&mut self.finished);
            let changed = self
                .dirty
                .drain()
                .filter_map(|id| self.active.get(&id))
                .chain(&finished);
            let mut puts: Vec<(String, Vec<u8>)> = Vec::new();
            for alert in changed {
                if let Some(observer) = &self.observer {
                    observer.written(alert);
                }
                if let Some(feed) = feed
                    && let Ok(json) = serde_json::to_string(&alert.to_json())
                {
                    let _ = feed.send(std::sync::Arc::from(json));
                }
                let bytes = serde_json::to_vec(alert).unwrap_or_default();
                puts.push((record_key(alert.id), bytes));
            }
            p.alerts.apply_batch(puts, std::iter::empty())?;
        }
        if self.windows_dirty && now_ns - self.windows_written_ns >= WINDOWS_EVERY_NS {
            let windows = Windows {
                thresholds: self
                    .thresholds
                    .iter()
                    .map(|((rule, group), w)| {
                        (rule.clone(), group.clone(), w.iter().copied().collect())
                    })
                    .collect(),
                expects: self
                    .expects
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            };
            p.windows
                .put("windows", &serde_json::to_vec(&windows).unwrap_or_default())?;
            self.windows_dirty = false;
            self.windows_written_ns = now_ns;
        }
        Ok(())
    }

    /// Writes everything now and keeps the usual cadence afterwards: a backup's checkpoint,
    /// so the copy holds every fold and window of the events it holds.
    pub fn persist_now(&mut self, now_ns: i64) -> Result<(), StoreError> {
        self.windows_written_ns = i64::MIN / 2;
        self.folds_written_ns = i64::MIN / 2;
        self.persist(now_ns)
    }

    /// Writes everything now (graceful stop).
    pub fn persist_all(&mut self) -> Result<(), StoreError> {
        self.windows_written_ns = i64::MIN / 2;
        self.folds_written_ns = i64::MIN / 2;
        self.persist(i64::MAX / 2)
    }
}

/// An alert trapline raises about itself ([`AlertEngine::raise_notice`]).
#[derive(Debug, Clone, Copy)]
pub struct Notice<'a> {
    /// Shown as the alert's rule (not a rule of the rule files).
    pub rule: &'a str,
    /// Dedup key: the same key folds into the open alert.
    pub key: &'a str,
    pub level: Level,
    pub category: &'a str,
    pub host: &'a str,
    pub summary: &'a str,
    pub at_ns: i64,
}

/// Everything needed to raise or fold one alert.
struct Raise<'a> {
    rule: &'a str,
    key: Cow<'a, str>,
    level: Level,
    category: Option<&'a str>,
    host: &'a str,
    summary: Cow<'a, str>,
    expire_after: Option<Duration>,
    event: Option<&'a Event>,
    /// Events this raise adds (0 for expectations, which have no event).
    count: u64,
    event_ids: &'a [EventId],
    at_ns: i64,
}

/// Longest summary taken from a message when the rule has no `summary`.
const MAX_DEFAULT_SUMMARY: usize = 300;

fn default_summary(message: &str) -> String {
    let mut out = String::new();
    push_default_summary(message, &mut out);
    out
}

/// The first line of the message, at most `MAX_DEFAULT_SUMMARY` characters.
fn push_default_summary(message: &str, out: &mut String) {
    let line = message.lines().next().unwrap_or("").trim();
    match line.char_indices().nth(MAX_DEFAULT_SUMMARY) {
        Some((at, _)) => {
            out.push_str(&line[..at]);
            out.push('…');
        }
        None => out.push_str(line),
    }
}

/// The contract's default dedup key: rule + host + summary.
fn default_key(rule: &str, host: &str, summary: &str) -> String {
    let mut out = String::new();
    push_default_key(rule, host, summary, &mut out);
    out
}

fn push_default_key(rule: &str, host: &str, summary: &str, out: &mut String) {
    out.reserve(rule.len() + host.len() + summary.len() + 2);
    out.push_str(rule);
    out.push('|');
    out.push_str(host);
    out.push('|');
    out.push_str(summary);
}

fn expect_key(rule: &Rule, host: &str) -> String {
    match &rule.key {
        Some(t) => {
            let event = placeholder_event(host, 0);
            let subject = Subject {
                event: &event,
                category: rule.category.as_deref(),
            };
            render(t, &subject, &Captures::new(), &rule.name, 0)
        }
        None => format!("{}|{host}|expect", rule.name),
    }
}

/// The event an expectation's templates are rendered against: only the host is known.
fn placeholder_event(host: &str, at_ns: i64) -> Event {
    let nowhere = SocketAddr::from(([0, 0, 0, 0], 0));
    Event::with_host(
        at_ns,
        nowhere,
        Transport::Udp,
        EventKind::Syslog,
        host.to_string(),
    )
}

fn render(
    template: &crate::rules::Template,
    subject: &Subject<'_>,
    captures: &Captures,
    rule: &str,
    count: u64,
) -> String {
    let mut out = String::new();
    render_into(template, subject, captures, rule, count, &mut out);
    out
}

/// Renders a rule's template with the extras every rule may use (`rule`, `count`).
fn render_into(
    template: &crate::rules::Template,
    subject: &Subject<'_>,
    captures: &Captures,
    rule: &str,
    count: u64,
    out: &mut String,
) {
    let count = count.to_string();
    template.render(subject, captures, &[("rule", rule), ("count", &count)], out);
}

fn duration_ns(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Scratch, load_texts};

    const S: i64 = 1_000_000_000;

    struct Bench {
        rules: RuleSet,
        engine: AlertEngine,
        scratch: Scratch,
        next_id: u64,
    }

    impl Bench {
        fn new(text: &str) -> Bench {
            Bench::with(text, EngineOptions::default())
        }

        fn with(text: &str, options: EngineOptions) -> Bench {
            Bench {
                rules: load_texts([("t.toml", text)]).unwrap(),
                engine: AlertEngine::in_memory(EngineOptions {
                    journal: true,
                    ..options
                }),
                scratch: Scratch::default(),
                next_id: 1,
            }
        }

        fn event(&mut self, at: i64, host: &str, app: &str, severity: u8, message: &str) -> u64 {
            let mut e = Event::with_host(
                at * S,
                "192.0.2.1:514".parse().unwrap(),
                Transport::Udp,
                EventKind::Syslog,
                host.into(),
            );
            e.app = Some(app.into());
            e.severity = Some(severity);
            e.level = crate::normalize::LevelTable::default().level_for(Some(severity));
            e.message = message.into();
            let verdict = self.rules.qualify(&mut e, &mut self.scratch);
            if verdict.drop {
                return 0;
            }
            e.id = self.next_id;
            self.next_id += 1;
            self.engine.observe(&self.rules, &e, &verdict);
            e.id
        }

        fn tick(&mut self, at: i64) {
            self.engine.tick(&self.rules, at * S);
        }

        fn changes(&mut self) -> Vec<(ChangeKind, String, u64)> {
            self.engine
                .take_journal()
                .into_iter()
                .filter(|c| c.kind != ChangeKind::Folded)
                .map(|c| (c.kind, c.alert.summary, c.alert.count))
                .collect()
        }

        fn only_active(&self) -> Alert {
            let active: Vec<&Alert> = self.engine.active().collect();
            assert_eq!(active.len(), 1, "{active:#?}");
            active[0].clone()
        }
    }

    #[test]
    fn same_key_folds_newest_ids_first_and_other_keys_raise() {
        let mut b = Bench::new(
            "[[rule]]\nname = \"err\"\nwhen = 'severity <= 4'\nsummary = \"{app} failed\"\n",
        );
        let first = b.event(1, "h1", "cron", 3, "x");
        let second = b.event(2, "h1", "cron", 3, "y");
        b.event(3, "h2", "cron", 3, "z");
        let changes = b.changes();
        assert_eq!(changes.len(), 2, "{changes:?}");
        let alert = b.engine.active_by_key("err|h1|cron failed").unwrap();
        assert_eq!((alert.count, alert.level), (2, Level::Low));
        assert_eq!(alert.event_ids, [second, first]);
        assert_eq!((alert.first_seen_ns, alert.last_seen_ns), (S, 2 * S));
        assert_eq!(alert.history[0].action, "raised");
    }

    #[test]
    fn threshold_slides_its_window_and_raises_once_per_group() {
        let mut b = Bench::new(
            r#"
[[rule]]
name = "brute"
when = 'app == "sshd" and message =~ "from (?P<ip>\\S+)"'
threshold = { count = 3, within = "10s", by = "{ip}" }
level = "critical"
summary = "{count} failures from {ip}"
"#,
        );
        b.event(0, "h", "sshd", 6, "fail from 1.1.1.1");
        b.event(5, "h", "sshd", 6, "fail from 1.1.1.1");
        b.event(11, "h", "sshd", 6, "fail from 1.1.1.1"); // the first left the window
        b.event(12, "h", "sshd", 6, "fail from 2.2.2.2");
        assert!(b.changes().is_empty());
        b.event(13, "h", "sshd", 6, "fail from 1.1.1.1");
        b.event(14, "h", "sshd", 6, "fail from 1.1.1.1");
        assert_eq!(
            b.changes(),
            vec![(ChangeKind::Raised, "3 failures from 1.1.1.1".into(), 3)]
        );
        let alert = b.only_active();
        assert_eq!(
            (alert.count, alert.level, alert.event_ids.len()),
            (4, Level::Critical, 4)
        );
    }

    #[test]
    fn clear_when_clears_the_alert_with_the_same_key_only() {
        let mut b = Bench::new(
            r#"
[[rule]]
name = "link"
when = 'message =~ "(?P<port>\\S+) down"'
clear_when = 'message =~ "(?P<port>\\S+) up"'
key = "{host}/{port}"
level = "warning"
"#,
        );
        b.event(1, "sw1", "ifmgr", 5, "Gi0/1 down");
        b.event(2, "sw1", "ifmgr", 5, "Gi0/2 down");
        b.event(3, "sw1", "ifmgr", 5, "Gi0/1 up");
        b.event(4, "sw2", "ifmgr", 5, "Gi0/2 up");
        let kinds: Vec<ChangeKind> = b.changes().into_iter().map(|c| c.0).collect();
        assert_eq!(
            kinds,
            [ChangeKind::Raised, ChangeKind::Raised, ChangeKind::Cleared]
        );
        assert_eq!(b.only_active().key, "sw1/Gi0/2");
        // A new down after the clear is a new alert.
        b.event(5, "sw1", "ifmgr", 5, "Gi0/1 down");
        assert_eq!(b.engine.active().count(), 2);
    }

    #[test]
    fn expectations_raise_once_per_miss_and_clear_on_return() {
        let mut b = Bench::new(
            r#"
[[rule]]
name = "hb"
expect = { when = 'app == "backup"', every = "10s", hosts = ["db1", "db2"] }
summary = "no backup from {host}"
"#,
        );
        b.tick(0); // armed
        b.event(5, "DB1", "backup", 6, "ok");
        b.tick(9);
        assert!(b.changes().is_empty());
        b.tick(10); // db2 never reported: 10 s since arming
        b.tick(11);
        assert_eq!(
            b.changes(),
            vec![(ChangeKind::Raised, "no backup from db2".into(), 0)]
        );
        b.tick(15); // db1: 10 s since its report
        b.tick(16);
        assert_eq!(
            b.changes(),
            vec![(ChangeKind::Raised, "no backup from db1".into(), 0)]
        );
        b.event(17, "db1", "backup", 6, "ok");
        assert_eq!(
            b.changes(),
            vec![(ChangeKind::Cleared, "no backup from db1".into(), 0)]
        );
        b.event(18, "db3", "backup", 6, "not listed");
        b.tick(40);
        let raised: Vec<String> = b.changes().into_iter().map(|c| c.1).collect();
        assert_eq!(raised, ["no backup from db1"]); // db2 is still the same open alert
    }

    #[test]
    fn daily_windows_are_checked_when_they_end() {
        let mut b = Bench::new(
            r#"
[[rule]]
name = "nightly"
expect = { when = 'app == "backup"', between = "01:00-02:00", hosts = ["db1"] }
"#,
        );
        let day = 86_400;
        let t0 = 1_795_392_000; // 2026-11-23T00:00:00Z
        b.tick(t0);
        b.event(t0 + 3600 + 60, "db1", "backup", 6, "ok"); // inside the window
        b.tick(t0 + 2 * 3600 + 1);
        assert!(b.changes().is_empty());
        // Nothing in the next night's window: raised when it ends, cleared when the backup comes.
        b.tick(t0 + day + 2 * 3600 + 1);
        b.event(t0 + day + 3 * 3600, "db1", "backup", 6, "late");
        let kinds: Vec<ChangeKind> = b.changes().into_iter().map(|c| c.0).collect();
        assert_eq!(kinds, [ChangeKind::Raised, ChangeKind::Cleared]);
        // Each window is checked once.
        b.tick(t0 + day + 2 * 3600 + 5);
        assert!(b.changes().is_empty());
    }

    #[test]
    fn maintenance_suppresses_and_the_alert_reopens_after_it() {
        let mut b = Bench::new(
            r#"
[[rule]]
name = "err"
when = 'severity <= 3'
summary = "broken"

[[maintenance]]
name = "upgrade"
start = "1970-01-01T00:00:10Z"
end = "1970-01-01T00:00:20Z"
hosts = ["db*"]
"#,
        );
        b.event(12, "DB1", "x", 3, "m");
        b.event(13, "web1", "x", 3, "m");
        let kinds: Vec<ChangeKind> = b.changes().into_iter().map(|c| c.0).collect();
        assert_eq!(kinds, [ChangeKind::Suppressed, ChangeKind::Raised]);
        b.event(15, "db1", "x", 3, "m");
        let alert = b.engine.active_by_key("err|db1|broken").unwrap().clone();
        assert_eq!(alert.state, AlertState::Suppressed);
        b.event(25, "db1", "x", 3, "m");
        let alert = b.engine.active_by_key("err|db1|broken").unwrap();
        assert_eq!(alert.state, AlertState::Open);
        assert_eq!(alert.history.last().unwrap().action, "reopened");
    }

    #[test]
    fn an_open_parent_inhibits_children_on_the_listed_hosts() {
        let mut b = Bench::new(
            r#"
[[rule]]
name = "core"
when = 'app == "core"'
level = "critical"
inhibit = { hosts = ["edge-*"] }

[[rule]]
name = "edge"
when = 'app == "edge"'
level = "warning"
"#,
        );
        b.event(1, "edge-1", "edge", 6, "a");
        b.event(2, "core-1", "core", 6, "down");
        b.event(3, "edge-2", "edge", 6, "b");
        b.event(4, "other", "edge", 6, "c");
        let kinds: Vec<ChangeKind> = b.changes().into_iter().map(|c| c.0).collect();
        assert_eq!(
            kinds,
            [
                ChangeKind::Raised,
                ChangeKind::Raised,
                ChangeKind::Suppressed,
                ChangeKind::Raised
            ]
        );
    }

    #[test]
    fn alerts_expire_after_their_lifetime_without_events() {
        let mut b = Bench::new(
            "[[rule]]\nname = \"t\"\nwhen = 'app == \"a\"'\nlevel = \"low\"\nexpire_after = \"10s\"\n",
        );
        b.event(0, "h", "a", 6, "x");
        b.event(8, "h", "a", 6, "x");
        b.tick(17);
        assert_eq!(b.engine.active().count(), 1);
        b.tick(18);
        assert_eq!(b.engine.active().count(), 0);
        let last = b.engine.take_journal().pop().unwrap();
        assert_eq!(last.alert.history.last().unwrap().action, "expired");
    }

    #[test]
    fn beyond_the_active_limit_new_alerts_fold_into_one_overflow_alert() {
        let mut b = Bench::with(
            "[[rule]]\nname = \"e\"\nwhen = 'severity <= 3'\n",
            EngineOptions {
                max_active: 3,
                ..EngineOptions::default()
            },
        );
        for i in 0..10 {
            b.event(i, "h", "a", 3, &format!("message {i}"));
        }
        assert_eq!(b.engine.active().count(), 4);
        let overflow = b.engine.active_by_key("e|overflow").unwrap();
        assert_eq!(overflow.count, 7);
    }

    #[test]
    fn alerts_and_windows_survive_reopening_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let rules = load_texts([(
            "t.toml",
            "[[rule]]\nname = \"b\"\nwhen = 'app == \"sshd\"'\nthreshold = { count = 3, within = \"1h\" }\n\n[[rule]]\nname = \"e\"\nwhen = 'severity <= 3'\n",
        )])
        .unwrap();
        let mut scratch = Scratch::default();
        let mut feed = |engine: &mut AlertEngine, id: u64, app: &str, severity: u8| {
            let mut e = Event::new(
                id as i64 * S,
                "192.0.2.1:514".parse().unwrap(),
                Transport::Udp,
                EventKind::Syslog,
            );
            e.app = Some(app.into());
            e.severity = Some(severity);
            e.level = crate::normalize::LevelTable::default().level_for(Some(severity));
            e.message = "m".into();
            e.id = id;
            let v = rules.qualify(&mut e, &mut scratch);
            engine.observe(&rules, &e, &v);
        };
        {
            let store = Store::open(dir.path(), &crate::store::StoreOptions::default()).unwrap();
            let mut engine = AlertEngine::open(&store, EngineOptions::default()).unwrap();
            feed(&mut engine, 1, "cron", 3);
            feed(&mut engine, 2, "sshd", 6);
            feed(&mut engine, 3, "sshd", 6);
            engine.persist_all().unwrap();
        }
        let store = Store::open(dir.path(), &crate::store::StoreOptions::default()).unwrap();
        let mut engine = AlertEngine::open(&store, EngineOptions::default()).unwrap();
        assert_eq!(engine.active().count(), 1);
        feed(&mut engine, 4, "cron", 3);
        feed(&mut engine, 5, "sshd", 6);
        assert_eq!(
            engine.active().count(),
            2,
            "the third sshd event completes the window"
        );
        let folded = engine.active_by_key("e|192.0.2.1|m").unwrap();
        assert_eq!((folded.id, folded.count), (1, 2));
        engine.persist_all().unwrap();
        let page = crate::alerts::AlertQuery {
            limit: 10,
            ..Default::default()
        }
        .run(&store)
        .unwrap();
        assert_eq!(page.alerts.len(), 2);
        assert!(page.alerts[0].id > page.alerts[1].id, "newest first");
    }

    #[test]
    fn active_counts_are_per_host_and_level() {
        let mut b = Bench::new("");
        b.event(1, "core-1", "app", 1, "power supply failed");
        b.event(2, "core-1", "app", 4, "fan slow");
        b.event(3, "core-1", "app", 4, "fan slow");
        b.event(4, "edge-1", "app", 1, "link flapping");
        b.event(5, "edge-1", "app", 6, "just info");
        let counts = b.engine.active_counts(&["core-1", "edge-1", "nobody"]);
        let at = |level: Level| level.code() as usize;
        assert_eq!(counts[0][at(Level::Critical)], 1);
        assert_eq!(counts[0][at(Level::Low)], 1, "the second fan message folds");
        assert_eq!(counts[1][at(Level::Critical)], 1);
        assert_eq!(counts[1].iter().sum::<u64>(), 1);
        assert_eq!(counts[2], [0; 4]);
    }
}
