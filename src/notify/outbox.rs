//! [`Outbox`]: every notification is written to the store before anybody tries to deliver it,
//! and stays there — pending, then delivered or failed — with each attempt.
//!
//! Record tree `notify_outbox`, key = zero-padded id (key order is creation order), value =
//! the [`Notification`] as JSON, rewritten (and flushed) at every attempt: a restart or a crash
//! finds the pending ones and delivers them, and a delivered one is never sent twice by the
//! outbox (a crash between the server's "250 OK" and our write can still repeat one: mail is
//! at-least-once). Failed attempts back off exponentially (`retry_initial`, doubling up to
//! `retry_max`); after `give_up_after` the notification is marked failed and the caller raises
//! an alert. Bounded: at most `outbox_max` pending (new ones beyond are dropped and counted),
//! the newest `log_max` finished ones kept for the log, 20 attempts listed per notification.

use std::collections::BTreeSet;
use std::time::Duration;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::{Kind, Recipient};
use crate::event::format_ns;
use crate::metrics::metrics;
use crate::store::{RecordTree, Store, StoreError};

/// Attempts listed per notification (the first ones and the newest are what matter).
pub const MAX_ATTEMPTS_LISTED: usize = 20;
/// Longest error text kept per attempt.
const MAX_ERROR_CHARS: usize = 500;

/// Delays and bounds of the outbox (from `[notify]`).
#[derive(Debug, Clone)]
pub struct OutboxOptions {
    pub retry_initial: Duration,
    pub retry_max: Duration,
    pub give_up_after: Duration,
    pub outbox_max: usize,
    pub log_max: usize,
}

impl Default for OutboxOptions {
    fn default() -> OutboxOptions {
        OutboxOptions {
            retry_initial: Duration::from_secs(10),
            retry_max: Duration::from_secs(600),
            give_up_after: Duration::from_secs(86_400),
            outbox_max: 10_000,
            log_max: 10_000,
        }
    }
}

/// Where a notification is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Delivered,
    Failed,
}

impl Status {
    pub fn parse(text: &str) -> Option<Status> {
        match text {
            "pending" => Some(Status::Pending),
            "delivered" => Some(Status::Delivered),
            "failed" => Some(Status::Failed),
            _ => None,
        }
    }
}

/// One delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub at_ns: i64,
    /// `None` when it was delivered.
    pub error: Option<String>,
}

/// What is delivered: a mail's two bodies, or a webhook's JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Body {
    Mail { text: String, html: String },
    Webhook { json: String },
}

/// One notification: a message to one recipient about one or more alerts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub id: u64,
    pub recipient: Recipient,
    pub kind: Kind,
    pub subject: String,
    pub body: Body,
    /// Alerts listed in the message.
    pub alert_ids: Vec<u64>,
    /// Alerts of the group not listed.
    #[serde(default)]
    pub more: u64,
    pub created_ns: i64,
    pub status: Status,
    pub next_attempt_ns: i64,
    pub attempts: u32,
    /// The first attempt and the newest ones (at most [`MAX_ATTEMPTS_LISTED`]).
    pub log: Vec<Attempt>,
    pub finished_ns: Option<i64>,
}

/// The API form of a notification (no bodies: the log lists, it does not re-send).
#[derive(Debug, Clone, Serialize)]
pub struct NotificationJson {
    pub id: u64,
    pub channel: &'static str,
    pub recipient: String,
    pub kind: &'static str,
    pub subject: String,
    pub alert_ids: Vec<u64>,
    pub more: u64,
    pub created_at: String,
    pub status: Status,
    pub attempts: u32,
    pub next_attempt_at: Option<String>,
    pub finished_at: Option<String>,
    pub log: Vec<AttemptJson>,
}

/// One attempt in the API.
#[derive(Debug, Clone, Serialize)]
pub struct AttemptJson {
    pub at: String,
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Notification {
    pub fn to_json(&self) -> NotificationJson {
        NotificationJson {
            id: self.id,
            channel: self.recipient.channel(),
            recipient: self.recipient.target().to_string(),
            kind: self.kind.as_str(),
            subject: self.subject.clone(),
            alert_ids: self.alert_ids.clone(),
            more: self.more,
            created_at: format_ns(self.created_ns),
            status: self.status,
            attempts: self.attempts,
            next_attempt_at: (self.status == Status::Pending)
                .then(|| format_ns(self.next_attempt_ns)),
            finished_at: self.finished_ns.map(format_ns),
            log: self
                .log
                .iter()
                .map(|a| AttemptJson {
                    at: format_ns(a.at_ns),
                    outcome: if a.error.is_none() { "sent" } else { "error" },
                    error: a.error.clone(),
                })
                .collect(),
        }
    }
}

/// A notification to write (the outbox gives it its id and times).
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub recipient: Recipient,
    pub kind: Kind,
    pub subject: String,
    pub body: Body,
    pub alert_ids: Vec<u64>,
    pub more: u64,
}

/// Why a notification was not written.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("the outbox is full ({0} notifications waiting)")]
    Full(usize),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an attempt's outcome did to a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterAttempt {
    Delivered,
    /// Another attempt at this time.
    Retry {
        at_ns: i64,
    },
    /// `give_up_after` passed: marked failed.
    GaveUp,
}

/// See the module documentation.
pub struct Outbox {
    tree: RecordTree,
    options: OutboxOptions,
    /// Pending notifications by (next attempt, id), and their records.
    queue: BTreeSet<(i64, u64)>,
    pending: FxHashMap<u64, Notification>,
    /// Notifications taken by [`Outbox::take_due`] whose attempt is under way.
    in_flight: FxHashMap<u64, i64>,
    next_id: u64,
    /// Records in the tree (pending + finished), to know when to prune.
    stored: usize,
}

/// Record key of notification `id`.
fn key(id: u64) -> String {
    format!("{id:020}")
}

impl Outbox {
    /// Opens the outbox: pending notifications are queued again (a restart delivers them).
    pub fn open(store: &Store, options: OutboxOptions) -> Result<Outbox, StoreError> {
        let tree = store.records("notify_outbox")?;
        let mut outbox = Outbox {
            tree,
            options,
            queue: BTreeSet::new(),
            pending: FxHashMap::default(),
            in_flight: FxHashMap::default(),
            next_id: 1,
            stored: 0,
        };
        for item in outbox.tree.iter_rev(None) {
            let (k, bytes) = item?;
            outbox.stored += 1;
            match serde_json::from_slice::<Notification>(&bytes) {
                Ok(n) => {
                    outbox.next_id = outbox.next_id.max(n.id + 1);
                    if n.status == Status::Pending {
                        outbox.queue.insert((n.next_attempt_ns, n.id));
                        outbox.pending.insert(n.id, n);
                    }
                }
                Err(error) => tracing::warn!(key = %k, %error, "Unreadable notification skipped."),
            }
        }
        outbox.update_gauge();
        Ok(outbox)
    }

    /// Number of pending notifications.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Records held (pending and finished).
    pub fn stored_len(&self) -> usize {
        self.stored
    }

    /// The earliest next attempt among pending notifications not under way.
    pub fn next_due_ns(&self) -> Option<i64> {
        self.queue
            .iter()
            .find(|(_, id)| !self.in_flight.contains_key(id))
            .map(|(at, _)| *at)
    }

    /// Writes a new notification (durably) and queues it for delivery now.
    pub fn enqueue(
        &mut self,
        new: NewNotification,
        now_ns: i64,
    ) -> Result<Notification, OutboxError> {
        if self.pending.len() >= self.options.outbox_max {
            metrics()
                .notifications
                .with_label_values(&[new.recipient.channel(), "dropped"])
                .inc();
            return Err(OutboxError::Full(self.pending.len()));
        }
        let id = self.next_id;
        self.next_id += 1;
        let n = Notification {
            id,
            recipient: new.recipient,
            kind: new.kind,
            subject: new.subject,
            body: new.body,
            alert_ids: new.alert_ids,
            more: new.more,
            created_ns: now_ns,
            status: Status::Pending,
            next_attempt_ns: now_ns,
            attempts: 0,
            log: Vec::new(),
            finished_ns: None,
        };
        self.write(&n)?;
        self.stored += 1;
        self.queue.insert((n.next_attempt_ns, id));
        self.pending.insert(id, n.clone());
        self.update_gauge();
        self.prune()?;
        Ok(n)
    }

    /// Up to `max` pending notifications due at `now_ns`, marked as under way.
    pub fn take_due(&mut self, now_ns: i64, max: usize) -> Vec<Notification> {
        let due: Vec<u64> = self
            .queue
            .iter()
            .take_while(|(at, _)| *at <= now_ns)
            .map(|(_, id)| *id)
            .filter(|id| !self.in_flight.contains_key(id))
            .take(max)
            .collect();
        due.into_iter()
            .filter_map(|id| {
                let n = self.pending.get(&id)?;
                self.in_flight.insert(id, n.next_attempt_ns);
                Some(n.clone())
            })
            .collect()
    }

    /// Records the outcome of an attempt at `id` (`Err` = the error text): delivered, retry
    /// later (exponential backoff), or given up. Counted in `trapline_notifications_total`.
    pub fn record(
        &mut self,
        id: u64,
        outcome: Result<(), String>,
        now_ns: i64,
    ) -> Result<Option<(Notification, AfterAttempt)>, StoreError> {
        self.in_flight.remove(&id);
        let Some(mut n) = self.pending.remove(&id) else {
            return Ok(None);
        };
        self.queue.remove(&(n.next_attempt_ns, id));
        n.attempts += 1;
        let error = outcome
            .err()
            .map(|e| e.chars().take(MAX_ERROR_CHARS).collect::<String>());
        if n.log.len() >= MAX_ATTEMPTS_LISTED {
            n.log.remove(1);
        }
        n.log.push(Attempt {
            at_ns: now_ns,
            error: error.clone(),
        });
        let channel = n.recipient.channel();
        let after = match error {
            None => {
                n.status = Status::Delivered;
                n.finished_ns = Some(now_ns);
                metrics()
                    .notifications
                    .with_label_values(&[channel, "sent"])
                    .inc();
                AfterAttempt::Delivered
            }
            Some(_) if now_ns.saturating_sub(n.created_ns) >= ns(self.options.give_up_after) => {
                n.status = Status::Failed;
                n.finished_ns = Some(now_ns);
                metrics()
                    .notifications
                    .with_label_values(&[channel, "failed"])
                    .inc();
                AfterAttempt::GaveUp
            }
            Some(_) => {
                let at_ns = now_ns.saturating_add(ns(backoff(&self.options, n.attempts)));
                // The last retry comes no later than the give-up time, so a notification is
                // tried once more right when the deadline passes rather than long after.
                let deadline = n.created_ns.saturating_add(ns(self.options.give_up_after));
                let at_ns = at_ns.min(deadline.max(now_ns));
                n.next_attempt_ns = at_ns;
                metrics()
                    .notifications
                    .with_label_values(&[channel, "retry"])
                    .inc();
                AfterAttempt::Retry { at_ns }
            }
        };
        self.write(&n)?;
        if n.status == Status::Pending {
            self.queue.insert((n.next_attempt_ns, id));
            self.pending.insert(id, n.clone());
        }
        self.update_gauge();
        Ok(Some((n, after)))
    }

    /// Marks a pending notification failed at once (e.g. mail with no `[smtp]` configured).
    pub fn fail_now(&mut self, id: u64, error: &str, now_ns: i64) -> Result<(), StoreError> {
        self.in_flight.remove(&id);
        let Some(mut n) = self.pending.remove(&id) else {
            return Ok(());
        };
        self.queue.remove(&(n.next_attempt_ns, id));
        n.attempts += 1;
        n.log.push(Attempt {
            at_ns: now_ns,
            error: Some(error.to_string()),
        });
        n.status = Status::Failed;
        n.finished_ns = Some(now_ns);
        metrics()
            .notifications
            .with_label_values(&[n.recipient.channel(), "failed"])
            .inc();
        self.write(&n)?;
        self.update_gauge();
        Ok(())
    }

    /// Notifications newest first, below id `before`, with `status` if given.
    pub fn list(
        tree: &RecordTree,
        before: Option<u64>,
        status: Option<Status>,
        limit: usize,
    ) -> Result<(Vec<Notification>, Option<u64>), StoreError> {
        let before = before.map(key);
        let mut out = Vec::new();
        let mut last = None;
        for item in tree.iter_rev(before.as_deref()) {
            let (_, bytes) = item?;
            let Ok(n) = serde_json::from_slice::<Notification>(&bytes) else {
                continue;
            };
            if status.is_some_and(|s| s != n.status) {
                continue;
            }
            if out.len() == limit {
                return Ok((out, last));
            }
            last = Some(n.id);
            out.push(n);
        }
        Ok((out, None))
    }

    /// The record tree (for the API's reader).
    pub fn tree(store: &Store) -> Result<RecordTree, StoreError> {
        store.records("notify_outbox")
    }

    fn write(&self, n: &Notification) -> Result<(), StoreError> {
        self.tree
            .put(&key(n.id), &serde_json::to_vec(n).unwrap_or_default())
    }

    /// Removes the oldest finished notifications beyond `log_max` (pending ones stay).
    fn prune(&mut self) -> Result<(), StoreError> {
        let limit = self.options.log_max + self.pending.len();
        // Prune in steps of a tenth, so a full log costs one batch now and then.
        if self.stored <= limit + self.options.log_max / 10 {
            return Ok(());
        }
        let excess = self.stored - limit;
        let mut removes = Vec::with_capacity(excess);
        for (k, bytes) in self.tree.list()? {
            if removes.len() >= excess {
                break;
            }
            let pending = serde_json::from_slice::<Notification>(&bytes)
                .map(|n| n.status == Status::Pending)
                .unwrap_or(false);
            if !pending {
                removes.push(k);
            }
        }
        self.stored -= removes.len();
        self.tree.apply_batch(std::iter::empty(), removes)
    }

    fn update_gauge(&self) {
        metrics()
            .notify_outbox_pending
            .set(self.pending.len() as i64);
    }
}

fn ns(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// Delay after failed attempt number `attempts` (1-based): `retry_initial` × 2^(attempts−1),
/// at most `retry_max`.
pub fn backoff(options: &OutboxOptions, attempts: u32) -> Duration {
    let factor = 1u32
        .checked_shl(attempts.saturating_sub(1).min(30))
        .unwrap_or(u32::MAX);
    options
        .retry_initial
        .checked_mul(factor)
        .unwrap_or(options.retry_max)
        .min(options.retry_max)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    fn options() -> OutboxOptions {
        OutboxOptions {
            retry_initial: Duration::from_secs(10),
            retry_max: Duration::from_secs(60),
            give_up_after: Duration::from_secs(300),
            outbox_max: 3,
            log_max: 10,
        }
    }

    fn new(to: &str) -> NewNotification {
        NewNotification {
            recipient: Recipient::Mail(to.into()),
            kind: Kind::Firing,
            subject: "s".into(),
            body: Body::Mail {
                text: "t".into(),
                html: "h".into(),
            },
            alert_ids: vec![1],
            more: 0,
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let o = options();
        let secs: Vec<u64> = (1..=6).map(|n| backoff(&o, n).as_secs()).collect();
        assert_eq!(secs, [10, 20, 40, 60, 60, 60]);
        assert_eq!(backoff(&o, 400).as_secs(), 60);
    }

    #[test]
    fn retries_back_off_survive_reopening_and_give_up_after_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &Default::default()).unwrap();
        let mut outbox = Outbox::open(&store, options()).unwrap();
        let id = outbox.enqueue(new("a@x"), 0).unwrap().id;
        let due = outbox.take_due(0, 10);
        assert_eq!(due.len(), 1);
        assert!(outbox.take_due(0, 10).is_empty(), "under way");
        let (_, after) = outbox
            .record(id, Err("refused".into()), S)
            .unwrap()
            .unwrap();
        assert_eq!(after, AfterAttempt::Retry { at_ns: 11 * S });
        assert!(outbox.take_due(10 * S, 10).is_empty());
        drop(outbox);

        let mut outbox = Outbox::open(&store, options()).unwrap();
        assert_eq!(outbox.pending_len(), 1);
        assert_eq!(outbox.next_due_ns(), Some(11 * S));
        let mut at = 11 * S;
        let mut waits = Vec::new();
        loop {
            assert_eq!(outbox.take_due(at, 10).len(), 1, "at {at}");
            match outbox
                .record(id, Err("refused".into()), at)
                .unwrap()
                .unwrap()
                .1
            {
                AfterAttempt::Retry { at_ns } => {
                    waits.push((at_ns - at) / S);
                    at = at_ns;
                }
                AfterAttempt::GaveUp => break,
                AfterAttempt::Delivered => unreachable!(),
            }
        }
        assert_eq!(
            waits,
            [20, 40, 60, 60, 60, 49],
            "the last retry lands on the deadline"
        );
        let (list, _) = Outbox::list(&outbox.tree, None, None, 10).unwrap();
        assert_eq!(list[0].status, Status::Failed);
        assert_eq!(list[0].attempts, 8);
        assert_eq!(outbox.pending_len(), 0);
    }

    #[test]
    fn a_full_outbox_refuses_and_delivered_ones_are_pruned_beyond_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &Default::default()).unwrap();
        let mut outbox = Outbox::open(&store, options()).unwrap();
        for _ in 0..3 {
            outbox.enqueue(new("a@x"), 0).unwrap();
        }
        assert!(matches!(
            outbox.enqueue(new("a@x"), 0),
            Err(OutboxError::Full(3))
        ));
        for n in outbox.take_due(0, 10) {
            outbox.record(n.id, Ok(()), S).unwrap();
        }
        for i in 0..30 {
            let n = outbox.enqueue(new("b@x"), i * S).unwrap();
            outbox.take_due(i * S, 1);
            outbox.record(n.id, Ok(()), i * S).unwrap();
        }
        assert!(outbox.stored_len() <= 12, "{}", outbox.stored_len());
        let (list, next) = Outbox::list(&outbox.tree, None, Some(Status::Delivered), 5).unwrap();
        assert_eq!(list.len(), 5);
        assert!(list[0].id > list[4].id, "newest first");
        let (older, _) = Outbox::list(&outbox.tree, next, None, 5).unwrap();
        assert!(older[0].id < list[4].id);
    }
}
