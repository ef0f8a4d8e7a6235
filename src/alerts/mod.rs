//! Alerts: what operators act on, raised and folded from events by the rules.
//!
//! An [`Alert`] gathers every event with the same dedup key while it is active (open, acked,
//! snoozed or suppressed): its `count`, `last_seen` and `event_ids` grow instead of a new alert
//! appearing for each repetition. [`AlertEngine`] owns the active alerts and every piece of
//! rule state that outlives one event — threshold windows, expectations, maintenance windows
//! made through the API — and persists them so a restart changes nothing an operator sees.
//!
//! It runs on the pipeline thread, right after the events are stored (so alerts can name event
//! ids); the web layer reads persisted alerts and changes them through the same engine.

mod actions;
mod engine;
mod expect;
mod query;

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

pub use actions::{ActionError, AlertAction};
pub use engine::{AlertEngine, Change, ChangeKind, EngineOptions, Notice};
pub use query::{AlertPage, AlertQuery, get};

use crate::event::{EventId, Level, format_ns};

/// Told of every alert the engine writes and of every operator action, right after the write:
/// how notifications follow alerts without the engine knowing about mail. Called with the
/// engine's lock held (on the store writer thread for rule changes, on a web task for
/// actions), so an implementation must only hand the news over (a channel), never block and
/// never call back into the engine.
pub trait AlertObserver: Send + Sync {
    /// `alert` was written as it is now (raised, folded, state changed, cleared, …).
    fn written(&self, alert: &Alert);
    /// An operator applied `action` to `alert` (called after [`AlertObserver::written`]).
    fn acted(&self, alert: &Alert, action: &AlertAction, by: &str, comment: Option<&str>);
}

/// Several observers told in turn (what [`AlertEngine::add_observer`] builds), so the engine
/// keeps one observer slot however many parts follow alerts.
pub struct Observers(pub Vec<std::sync::Arc<dyn AlertObserver>>);

impl AlertObserver for Observers {
    fn written(&self, alert: &Alert) {
        for observer in &self.0 {
            observer.written(alert);
        }
    }

    fn acted(&self, alert: &Alert, action: &AlertAction, by: &str, comment: Option<&str>) {
        for observer in &self.0 {
            observer.acted(alert, action, by, comment);
        }
    }
}

/// Where an alert is in its life (the contract's `state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    Open,
    Acked,
    Snoozed,
    Suppressed,
    Cleared,
    Archived,
    Deleted,
}

impl AlertState {
    pub const ALL: [AlertState; 7] = [
        AlertState::Open,
        AlertState::Acked,
        AlertState::Snoozed,
        AlertState::Suppressed,
        AlertState::Cleared,
        AlertState::Archived,
        AlertState::Deleted,
    ];

    /// Active alerts take new events with their key; the others are history.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            AlertState::Open | AlertState::Acked | AlertState::Snoozed | AlertState::Suppressed
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Open => "open",
            AlertState::Acked => "acked",
            AlertState::Snoozed => "snoozed",
            AlertState::Suppressed => "suppressed",
            AlertState::Cleared => "cleared",
            AlertState::Archived => "archived",
            AlertState::Deleted => "deleted",
        }
    }

    pub fn parse(text: &str) -> Option<AlertState> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// One line of an alert's history: who did what, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub at_ns: i64,
    /// A user name, or `trapline` for what the rules did.
    pub by: String,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Most event ids an alert remembers (newest first); `count` keeps counting beyond.
pub const MAX_EVENT_IDS: usize = 100;
/// Most history lines an alert keeps (the first one, raising it, is always kept).
pub const MAX_HISTORY: usize = 200;

/// An alert as stored (times in Unix nanoseconds); [`AlertJson`] is its API form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub id: u64,
    pub key: String,
    pub rule: String,
    pub state: AlertState,
    pub level: Level,
    pub category: Option<String>,
    pub host: String,
    pub summary: String,
    pub count: u64,
    pub first_seen_ns: i64,
    pub last_seen_ns: i64,
    /// Newest first; a deque because every folded event goes in at the front.
    pub event_ids: VecDeque<EventId>,
    pub history: Vec<HistoryEntry>,
    /// From the rule's `expire_after`, kept with the alert so a reload does not change it.
    #[serde(default)]
    pub expire_after_ms: Option<u64>,
    /// Last time an event or a person touched it (what `expire_after` counts from).
    #[serde(default)]
    pub touched_ns: i64,
    /// A snoozed alert comes back (state open) at this time.
    #[serde(default)]
    pub snoozed_until_ns: Option<i64>,
    /// The on-call people it was transferred to (the latest transfer).
    #[serde(default)]
    pub transferred_to: Vec<String>,
}

impl Alert {
    /// Appends a history line, keeping the first and the newest `MAX_HISTORY - 1`.
    pub fn record(&mut self, at_ns: i64, by: &str, action: &str, detail: Option<String>) {
        if self.history.len() >= MAX_HISTORY {
            self.history.remove(1);
        }
        self.history.push(HistoryEntry {
            at_ns,
            by: by.to_string(),
            action: action.to_string(),
            detail,
        });
        self.touched_ns = self.touched_ns.max(at_ns);
    }

    /// Adds one event: count, last seen, newest-first ids (bounded).
    pub fn fold(&mut self, event_id: Option<EventId>, at_ns: i64) {
        self.count += 1;
        self.last_seen_ns = self.last_seen_ns.max(at_ns);
        self.touched_ns = self.touched_ns.max(at_ns);
        if let Some(id) = event_id {
            self.event_ids.push_front(id);
            self.event_ids.truncate(MAX_EVENT_IDS);
        }
    }

    /// The contract's alert JSON.
    pub fn to_json(&self) -> AlertJson {
        AlertJson {
            id: self.id,
            key: self.key.clone(),
            rule: self.rule.clone(),
            state: self.state,
            level: self.level,
            category: self.category.clone(),
            host: self.host.clone(),
            summary: self.summary.clone(),
            count: self.count,
            first_seen: format_ns(self.first_seen_ns),
            last_seen: format_ns(self.last_seen_ns),
            event_ids: self.event_ids.iter().copied().collect(),
            snoozed_until: self.snoozed_until_ns.map(format_ns),
            transferred_to: self.transferred_to.clone(),
            history: self
                .history
                .iter()
                .map(|h| HistoryJson {
                    at: format_ns(h.at_ns),
                    by: h.by.clone(),
                    action: h.action.clone(),
                    detail: h.detail.clone(),
                })
                .collect(),
        }
    }
}

/// The contract's alert JSON (`GET /api/v1/alerts`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlertJson {
    pub id: u64,
    pub key: String,
    pub rule: String,
    pub state: AlertState,
    pub level: Level,
    pub category: Option<String>,
    pub host: String,
    pub summary: String,
    pub count: u64,
    pub first_seen: String,
    pub last_seen: String,
    pub event_ids: Vec<EventId>,
    /// When a snoozed alert comes back (null unless snoozed).
    pub snoozed_until: Option<String>,
    pub transferred_to: Vec<String>,
    pub history: Vec<HistoryJson>,
}

/// One history line in the API.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HistoryJson {
    pub at: String,
    pub by: String,
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Record-tree key of alert `id`: zero-padded so key order is id order.
pub fn record_key(id: u64) -> String {
    format!("{id:020}")
}
