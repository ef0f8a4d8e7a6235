//! What operators do to alerts: acknowledge, snooze, transfer, archive, delete.
//!
//! Every action is a state change recorded in the alert's history (who, what, when, comment)
//! and written at once — an operator's click must survive a crash even if the next event does
//! not come for hours. Active alerts change in memory (the engine keeps folding events into
//! them); archiving or deleting a cleared alert reads it from the store. A snoozed alert comes
//! back by itself (state open) when its time is up, checked on every engine tick.

use super::engine::AlertEngine;
use super::{Alert, AlertState, ChangeKind, record_key};
use crate::store::StoreError;

/// One operator action (the last path segment of `POST /api/v1/alerts/{id}/{action}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertAction {
    /// Someone is on it: stays active, leaves the "open" count.
    Ack,
    /// Put aside until a time; then it is open again.
    Snooze { until_ns: i64 },
    /// Handed to on-call people (mail comes with notifications).
    Transfer { to: Vec<String> },
    /// Done with: kept for the record, takes no more events.
    Archive,
    /// Thrown away (the console asks "archive instead?" first).
    Delete,
}

impl AlertAction {
    pub fn name(&self) -> &'static str {
        match self {
            AlertAction::Ack => "ack",
            AlertAction::Snooze { .. } => "snooze",
            AlertAction::Transfer { .. } => "transfer",
            AlertAction::Archive => "archive",
            AlertAction::Delete => "delete",
        }
    }

    /// The states this action may start from.
    fn allowed_from(&self, state: AlertState) -> bool {
        match self {
            AlertAction::Ack | AlertAction::Snooze { .. } | AlertAction::Transfer { .. } => {
                state.is_active()
            }
            AlertAction::Archive => state != AlertState::Deleted && state != AlertState::Archived,
            AlertAction::Delete => state != AlertState::Deleted,
        }
    }
}

/// Why an action was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("no alert {0}")]
    NotFound(u64),
    #[error("cannot {action} an alert that is {state}")]
    NotAllowed {
        action: &'static str,
        state: &'static str,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AlertEngine {
    /// Applies `action` by `by` to alert `id`; returns the alert as it is now.
    pub fn act(
        &mut self,
        id: u64,
        action: &AlertAction,
        by: &str,
        comment: Option<String>,
        now_ns: i64,
    ) -> Result<Alert, ActionError> {
        let told = comment.clone();
        let alert = if self.active.contains_key(&id) {
            self.act_on_active(id, action, by, comment, now_ns)?
        } else {
            let mut alert = self.stored(id)?.ok_or(ActionError::NotFound(id))?;
            check(action, alert.state)?;
            apply(&mut alert, action, by, comment, now_ns);
            self.write_now(&alert)?;
            if let Some(observer) = &self.observer {
                observer.written(&alert);
            }
            alert
        };
        if let Some(observer) = &self.observer {
            observer.acted(&alert, action, by, told.as_deref());
        }
        Ok(alert)
    }

    fn act_on_active(
        &mut self,
        id: u64,
        action: &AlertAction,
        by: &str,
        comment: Option<String>,
        now_ns: i64,
    ) -> Result<Alert, ActionError> {
        let alert = self.active.get_mut(&id).ok_or(ActionError::NotFound(id))?;
        check(action, alert.state)?;
        apply(alert, action, by, comment, now_ns);
        let alert = alert.clone();
        if alert.state.is_active() {
            self.dirty.insert(id);
        } else {
            self.active.remove(&id);
            self.by_key.remove(&alert.key);
            self.dirty.remove(&id);
            self.folded.remove(&id);
            self.finished.push(alert.clone());
        }
        self.persist(now_ns)?;
        Ok(alert)
    }

    /// Snoozed alerts whose time is up are open again.
    pub(super) fn end_snoozes(&mut self, now_ns: i64) {
        let due: Vec<u64> = self
            .active
            .values()
            .filter(|a| a.state == AlertState::Snoozed)
            .filter(|a| a.snoozed_until_ns.is_some_and(|t| t <= now_ns))
            .map(|a| a.id)
            .collect();
        for id in due {
            if let Some(alert) = self.active.get_mut(&id) {
                alert.state = AlertState::Open;
                alert.snoozed_until_ns = None;
                alert.record(now_ns, "trapline", "snooze ended", None);
                let snapshot = alert.clone();
                self.dirty.insert(id);
                self.note(ChangeKind::Raised, now_ns, &snapshot);
            }
        }
    }

    fn stored(&self, id: u64) -> Result<Option<Alert>, StoreError> {
        let Some(p) = &self.persistence else {
            return Ok(None);
        };
        Ok(p.alerts
            .get(&record_key(id))?
            .and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }

    fn write_now(&self, alert: &Alert) -> Result<(), StoreError> {
        if let Some(p) = &self.persistence {
            let bytes = serde_json::to_vec(alert).unwrap_or_default();
            p.alerts.put(&record_key(alert.id), &bytes)?;
        }
        Ok(())
    }
}

fn check(action: &AlertAction, state: AlertState) -> Result<(), ActionError> {
    if action.allowed_from(state) {
        Ok(())
    } else {
        Err(ActionError::NotAllowed {
            action: action.name(),
            state: state.as_str(),
        })
    }
}

fn apply(alert: &mut Alert, action: &AlertAction, by: &str, comment: Option<String>, now: i64) {
    let mut detail = comment;
    match action {
        AlertAction::Ack => alert.state = AlertState::Acked,
        AlertAction::Snooze { until_ns } => {
            alert.state = AlertState::Snoozed;
            alert.snoozed_until_ns = Some(*until_ns);
            let until = crate::event::format_ns(*until_ns);
            detail = Some(match detail {
                Some(c) => format!("until {until}: {c}"),
                None => format!("until {until}"),
            });
        }
        AlertAction::Transfer { to } => {
            alert.transferred_to = to.clone();
            let names = to.join(", ");
            detail = Some(match detail {
                Some(c) => format!("to {names}: {c}"),
                None => format!("to {names}"),
            });
        }
        AlertAction::Archive => alert.state = AlertState::Archived,
        AlertAction::Delete => alert.state = AlertState::Deleted,
    }
    if !matches!(action, AlertAction::Snooze { .. }) && alert.state != AlertState::Snoozed {
        alert.snoozed_until_ns = None;
    }
    alert.record(now, by, action.name(), detail);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::EngineOptions;
    use crate::event::{Event, EventKind, Transport};
    use crate::rules::{Scratch, load_texts};

    const S: i64 = 1_000_000_000;

    fn engine_with_alert(store: &crate::store::Store) -> (AlertEngine, crate::rules::RuleSet, u64) {
        let rules = load_texts([(
            "r.toml",
            "[[rule]]\nname = \"e\"\nwhen = 'severity <= 3'\nlevel = \"warning\"\n",
        )])
        .unwrap();
        let mut engine = AlertEngine::open(store, EngineOptions::default()).unwrap();
        let mut e = Event::new(
            S,
            "192.0.2.1:514".parse().unwrap(),
            Transport::Udp,
            EventKind::Syslog,
        );
        e.severity = Some(3);
        e.message = "boom".into();
        e.id = 7;
        let verdict = rules.qualify(&mut e, &mut Scratch::default());
        engine.observe(&rules, &e, &verdict);
        let id = engine.active().next().unwrap().id;
        (engine, rules, id)
    }

    #[test]
    fn ack_snooze_and_the_snooze_ends_by_itself() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(dir.path(), &Default::default()).unwrap();
        let (mut engine, rules, id) = engine_with_alert(&store);
        let acked = engine
            .act(
                id,
                &AlertAction::Ack,
                "alice",
                Some("looking".into()),
                2 * S,
            )
            .unwrap();
        assert_eq!(acked.state, AlertState::Acked);
        let last = acked.history.last().unwrap();
        assert_eq!(
            (
                last.by.as_str(),
                last.action.as_str(),
                last.detail.as_deref()
            ),
            ("alice", "ack", Some("looking"))
        );
        // Written at once: visible to the API's reader.
        assert_eq!(
            crate::alerts::get(&store, id).unwrap().unwrap().state,
            AlertState::Acked
        );

        let snoozed = engine
            .act(
                id,
                &AlertAction::Snooze { until_ns: 60 * S },
                "alice",
                None,
                3 * S,
            )
            .unwrap();
        assert_eq!(snoozed.state, AlertState::Snoozed);
        engine.tick(&rules, 59 * S);
        assert_eq!(engine.active().next().unwrap().state, AlertState::Snoozed);
        engine.tick(&rules, 60 * S);
        let back = engine.active().next().unwrap();
        assert_eq!(
            (back.state, back.snoozed_until_ns),
            (AlertState::Open, None)
        );
        assert_eq!(back.history.last().unwrap().action, "snooze ended");
    }

    #[test]
    fn archive_and_delete_take_alerts_out_and_wrong_transitions_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(dir.path(), &Default::default()).unwrap();
        let (mut engine, _rules, id) = engine_with_alert(&store);
        let transferred = engine
            .act(
                id,
                &AlertAction::Transfer {
                    to: vec!["bob".into()],
                },
                "alice",
                None,
                2 * S,
            )
            .unwrap();
        assert_eq!(transferred.transferred_to, ["bob"]);
        let archived = engine
            .act(id, &AlertAction::Archive, "alice", None, 3 * S)
            .unwrap();
        assert_eq!(archived.state, AlertState::Archived);
        assert_eq!(engine.active().count(), 0);
        assert!(matches!(
            engine.act(id, &AlertAction::Ack, "alice", None, 4 * S),
            Err(ActionError::NotAllowed {
                action: "ack",
                state: "archived"
            })
        ));
        // A stored (not active) alert can still be deleted.
        let deleted = engine
            .act(id, &AlertAction::Delete, "alice", None, 5 * S)
            .unwrap();
        assert_eq!(deleted.state, AlertState::Deleted);
        engine.persist_all().unwrap();
        assert_eq!(
            crate::alerts::get(&store, id).unwrap().unwrap().state,
            AlertState::Deleted
        );
        assert!(matches!(
            engine.act(999, &AlertAction::Ack, "a", None, 0),
            Err(ActionError::NotFound(999))
        ));
    }
}
