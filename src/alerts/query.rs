//! Reading persisted alerts for the API: newest first, filtered, paged by id.
//!
//! The engine writes every change within one pipeline tick (tens of milliseconds), so reading
//! the store shows what operators need without taking the engine's lock on every page view.

use super::{Alert, AlertState, record_key};
use crate::event::Level;
use crate::store::{Store, StoreError};

/// Filters of `GET /api/v1/alerts`.
#[derive(Debug, Clone, Default)]
pub struct AlertQuery {
    pub states: Vec<AlertState>,
    pub level: Option<Level>,
    /// Exact host, case-insensitive.
    pub host: Option<String>,
    /// Category, case-insensitive.
    pub category: Option<String>,
    /// Words that must all appear (case-insensitive) in the summary, host, rule, category or key.
    pub text: Vec<String>,
    /// Only alerts with an id below this (the cursor of the previous page).
    pub before_id: Option<u64>,
    pub limit: usize,
}

/// One page of alerts and the cursor for the next one.
#[derive(Debug)]
pub struct AlertPage {
    pub alerts: Vec<Alert>,
    pub next_cursor: Option<u64>,
}

/// Alerts scanned at most per page, so a rare filter cannot make one request read everything.
const MAX_SCANNED: usize = 200_000;

impl AlertQuery {
    pub fn run(&self, store: &Store) -> Result<AlertPage, StoreError> {
        let tree = store.records("alerts")?;
        let before = self.before_id.map(record_key);
        let mut alerts = Vec::new();
        let mut last_scanned = None;
        let mut truncated = false;
        for (scanned, item) in tree.iter_rev(before.as_deref()).enumerate() {
            if scanned >= MAX_SCANNED || alerts.len() >= self.limit {
                truncated = true;
                break;
            }
            let (_, bytes) = item?;
            let Ok(alert) = serde_json::from_slice::<Alert>(&bytes) else {
                continue;
            };
            last_scanned = Some(alert.id);
            if self.matches(&alert) {
                alerts.push(alert);
            }
        }
        // A page cut short by the limit (or the scan bound) continues below the last id read.
        let next_cursor = if truncated { last_scanned } else { None };
        Ok(AlertPage {
            alerts,
            next_cursor,
        })
    }

    fn matches(&self, alert: &Alert) -> bool {
        (self.states.is_empty() || self.states.contains(&alert.state))
            && self.level.is_none_or(|l| alert.level == l)
            && self
                .host
                .as_deref()
                .is_none_or(|h| alert.host.eq_ignore_ascii_case(h))
            && self.category.as_deref().is_none_or(|c| {
                alert
                    .category
                    .as_deref()
                    .is_some_and(|own| own.eq_ignore_ascii_case(c))
            })
            && (self.text.is_empty() || self.text_matches(alert))
    }

    fn text_matches(&self, alert: &Alert) -> bool {
        let haystack = format!(
            "{} {} {} {} {}",
            alert.summary,
            alert.host,
            alert.rule,
            alert.category.as_deref().unwrap_or(""),
            alert.key
        )
        .to_lowercase();
        self.text
            .iter()
            .all(|word| haystack.contains(word.as_str()))
    }
}

/// One alert by id.
pub fn get(store: &Store, id: u64) -> Result<Option<Alert>, StoreError> {
    let tree = store.records("alerts")?;
    Ok(tree
        .get(&record_key(id))?
        .and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}
