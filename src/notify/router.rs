//! [`Router`]: which alert changes become messages, to whom, and when — pure, with the time
//! passed in, so escalation, grouping and rate limits are tested with a simulated clock.
//!
//! Per alert it tracks a [`Tracked`]: who was told (for resolve notices and repeats), the
//! on-call rank reached, when the next rank is due and when the next reminder is. Messages
//! are grouped in [`Batch`]es per (recipient, kind): the first alert opens a batch due
//! `group_wait` later, the ones that follow join it, and it leaves as one message. A batch
//! that a rate limit holds back stays open and keeps collecting, so a storm becomes a few
//! long mails, never a mail bomb — and every hold-up is counted (`rate_limited`).
//!
//! Silences: an ack stops escalation and reminders until the alert clears ("ack until
//! clear"); a snooze or a maintenance window holds everything but the resolve notice; an alert
//! acked, snoozed or silenced before its batch left is taken out of it. A resolve notice goes
//! to everybody who was told, whatever the state in between.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};
use tracing::warn;

use super::{AlertDigest, Kind, Recipient, Signal};
use crate::alerts::AlertState;
use crate::event::Level;
use crate::metrics::metrics;
use crate::rules::NotifyTarget;

/// What the router needs to know about the world: routing lists, the schedule, addresses,
/// silences. Implemented over the live rules, store and accounts by `service`, and by tests.
pub trait Directory {
    /// The rule's `notify` list; `None` when the rule has none (default routing).
    fn targets(&self, rule: &str) -> Option<Vec<NotifyTarget>>;
    /// Users holding `rank` at `at_ns`.
    fn on_call(&self, rank: u8, at_ns: i64) -> Vec<String>;
    /// The lowest rank above `rank` held by somebody at `at_ns`.
    fn next_rank_above(&self, rank: u8, at_ns: i64) -> Option<u8>;
    /// How long a rank has to acknowledge before the next is told.
    fn escalate_after(&self) -> Duration;
    /// A user's mail address.
    fn email_of(&self, user: &str) -> Option<String>;
    /// Whether a maintenance window covers the alert now.
    fn silenced(&self, alert: &AlertDigest, at_ns: i64) -> bool;
}

/// Limits and delays of the router (from `[notify]`).
#[derive(Debug, Clone)]
pub struct RouterOptions {
    pub group_wait: Duration,
    pub repeat_interval: Option<Duration>,
    pub max_per_minute: u32,
    pub max_per_recipient_per_hour: u32,
    /// Alerts listed in one message; the rest are counted ("and 9,950 more").
    pub max_alerts_per_message: usize,
    /// Alerts tracked at most (the engine bounds active alerts at 10,000 + overflow).
    pub max_tracked: usize,
}

impl Default for RouterOptions {
    fn default() -> RouterOptions {
        RouterOptions {
            group_wait: Duration::from_secs(10),
            repeat_interval: Some(Duration::from_secs(4 * 3600)),
            max_per_minute: 120,
            max_per_recipient_per_hour: 30,
            max_alerts_per_message: 50,
            max_tracked: 20_000,
        }
    }
}

/// What the router remembers about one notified alert (persisted in `notify_tracking`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tracked {
    pub alert: AlertDigest,
    /// Everybody a message about this alert went to.
    pub notified: BTreeSet<Recipient>,
    /// Whether on-call ranks are told (escalation applies).
    pub via_oncall: bool,
    /// The highest on-call rank told so far (0: none).
    pub rank: u8,
    pub escalate_at_ns: Option<i64>,
    pub repeat_at_ns: Option<i64>,
}

/// Messages being gathered for one recipient.
#[derive(Debug, Clone)]
struct Batch {
    due_ns: i64,
    alerts: Vec<AlertDigest>,
    ids: FxHashSet<u64>,
    /// Alerts beyond `max_alerts_per_message`, counted only.
    more: u64,
    /// Held back by a rate limit at least once (counted once).
    deferred: bool,
    note: Option<String>,
}

/// One message to write and deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub recipient: Recipient,
    pub kind: Kind,
    pub alerts: Vec<AlertDigest>,
    /// Alerts of the group not listed.
    pub more: u64,
    /// A line for the reader (the transfer's comment, the escalation's reason).
    pub note: Option<String>,
}

/// Sliding-window rate limits: all messages per minute and each recipient's per hour.
#[derive(Debug, Default)]
struct Limiter {
    global: VecDeque<i64>,
    by_recipient: FxHashMap<Recipient, VecDeque<i64>>,
}

const MINUTE_NS: i64 = 60_000_000_000;
const HOUR_NS: i64 = 3_600_000_000_000;

impl Limiter {
    fn allow(&mut self, options: &RouterOptions, recipient: &Recipient, now_ns: i64) -> bool {
        while self
            .global
            .front()
            .is_some_and(|t| *t <= now_ns - MINUTE_NS)
        {
            self.global.pop_front();
        }
        if self.global.len() >= options.max_per_minute as usize {
            return false;
        }
        let sent = self.by_recipient.entry(recipient.clone()).or_default();
        while sent.front().is_some_and(|t| *t <= now_ns - HOUR_NS) {
            sent.pop_front();
        }
        if sent.len() >= options.max_per_recipient_per_hour as usize {
            return false;
        }
        sent.push_back(now_ns);
        self.global.push_back(now_ns);
        true
    }

    /// Forgets recipients with nothing sent in the last hour (bounds the map).
    fn prune(&mut self, now_ns: i64) {
        self.by_recipient
            .retain(|_, sent| sent.back().is_some_and(|t| *t > now_ns - HOUR_NS));
    }
}

/// See the module documentation.
pub struct Router {
    options: RouterOptions,
    tracked: FxHashMap<u64, Tracked>,
    batches: BTreeMap<(Recipient, Kind), Batch>,
    limiter: Limiter,
    /// Tracking records to write (changed) and to remove (alert ended).
    dirty: FxHashSet<u64>,
    ended: Vec<u64>,
}

fn ns(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

impl Router {
    pub fn new(options: RouterOptions) -> Router {
        Router {
            options,
            tracked: FxHashMap::default(),
            batches: BTreeMap::new(),
            limiter: Limiter::default(),
            dirty: FxHashSet::default(),
            ended: Vec::new(),
        }
    }

    /// Takes back what was tracked before a restart. A record nobody was told about yet is
    /// left out: its alert is routed again as new, so a message lost with the batch that was
    /// still gathering it goes out after all.
    pub fn restore(&mut self, tracked: impl IntoIterator<Item = Tracked>) {
        for t in tracked {
            if !t.notified.is_empty() {
                self.tracked.insert(t.alert.id, t);
            }
        }
    }

    /// Ids of the alerts tracked (to find those that ended while trapline was down).
    pub fn tracked_ids(&self) -> Vec<u64> {
        self.tracked.keys().copied().collect()
    }

    /// What is tracked for alert `id`.
    pub fn tracked(&self, id: u64) -> Option<&Tracked> {
        self.tracked.get(&id)
    }

    /// Number of alerts tracked and messages being gathered (for the benchmark and gauges).
    pub fn sizes(&self) -> (usize, usize) {
        (self.tracked.len(), self.batches.len())
    }

    /// Tracking records changed since the last call, and the ids whose alert ended.
    pub fn take_changes(&mut self) -> (Vec<Tracked>, Vec<u64>) {
        let changed = self
            .dirty
            .drain()
            .filter_map(|id| self.tracked.get(&id).cloned())
            .collect();
        (changed, std::mem::take(&mut self.ended))
    }

    /// Takes one signal from the engine.
    pub fn signal(&mut self, signal: Signal, now_ns: i64, dir: &dyn Directory) {
        match signal {
            Signal::Alert(alert) => self.observe(alert, now_ns, dir),
            Signal::Transfer {
                alert,
                by,
                to,
                comment,
            } => self.transfer(alert, &by, &to, comment.as_deref(), now_ns, dir),
        }
    }

    /// An alert as just written.
    pub fn observe(&mut self, alert: AlertDigest, now_ns: i64, dir: &dyn Directory) {
        let id = alert.id;
        if !alert.state.is_active() {
            self.end(alert, now_ns);
            return;
        }
        let Some(tracked) = self.tracked.get_mut(&id) else {
            if alert.state == AlertState::Open {
                self.start(alert, now_ns, dir);
            }
            return;
        };
        let was = tracked.alert.state;
        let now_state = alert.state;
        tracked.alert = alert;
        match now_state {
            AlertState::Acked | AlertState::Snoozed | AlertState::Suppressed
                if was != now_state =>
            {
                tracked.escalate_at_ns = None;
                tracked.repeat_at_ns = None;
                self.dirty.insert(id);
                self.withdraw(id);
            }
            AlertState::Open if was != AlertState::Open => {
                // Back from a snooze or a maintenance window: tell again, restart the clocks.
                tracked.escalate_at_ns = tracked
                    .via_oncall
                    .then(|| now_ns.saturating_add(ns(dir.escalate_after())));
                tracked.repeat_at_ns = self
                    .options
                    .repeat_interval
                    .map(|r| now_ns.saturating_add(ns(r)));
                let again: Vec<Recipient> = tracked.notified.iter().cloned().collect();
                let digest = tracked.alert.clone();
                self.dirty.insert(id);
                for recipient in again {
                    self.add(recipient, Kind::Firing, &digest, now_ns, dir, None);
                }
            }
            _ => {}
        }
    }

    /// A new open alert: route it if its rule (or its level) says so.
    fn start(&mut self, alert: AlertDigest, now_ns: i64, dir: &dyn Directory) {
        let targets = match dir.targets(&alert.rule) {
            Some(targets) => targets,
            None if alert.level == Level::Critical => vec![NotifyTarget::OnCall],
            None => return,
        };
        if targets.is_empty() {
            return;
        }
        if self.tracked.len() >= self.options.max_tracked {
            warn!(
                alert = alert.id,
                "Too many alerts tracked for notification; this one is not notified."
            );
            metrics()
                .notifications
                .with_label_values(&["mail", "dropped"])
                .inc();
            return;
        }
        let mut tracked = Tracked {
            alert: alert.clone(),
            notified: BTreeSet::new(),
            via_oncall: false,
            rank: 0,
            escalate_at_ns: None,
            repeat_at_ns: self
                .options
                .repeat_interval
                .map(|r| now_ns.saturating_add(ns(r))),
        };
        let mut recipients = BTreeSet::new();
        for target in &targets {
            match target {
                NotifyTarget::OnCall => {
                    tracked.via_oncall = true;
                    if let Some(rank) = dir.next_rank_above(0, now_ns) {
                        tracked.rank = rank;
                        recipients.extend(users_to_mail(&dir.on_call(rank, now_ns), dir));
                    }
                    tracked.escalate_at_ns = Some(now_ns.saturating_add(ns(dir.escalate_after())));
                }
                NotifyTarget::Mail(address) => {
                    recipients.insert(Recipient::Mail(address.clone()));
                }
                NotifyTarget::User(user) => {
                    recipients.extend(users_to_mail(std::slice::from_ref(user), dir))
                }
                NotifyTarget::Webhook(name) => {
                    recipients.insert(Recipient::Webhook(name.clone()));
                }
            }
        }
        if recipients.is_empty() {
            warn!(alert = alert.id, rule = %alert.rule, "Nobody to notify (no one on call with a mail address?).");
            metrics()
                .notifications
                .with_label_values(&["mail", "no_recipient"])
                .inc();
        }
        self.tracked.insert(alert.id, tracked);
        for recipient in recipients {
            self.add(recipient, Kind::Firing, &alert, now_ns, dir, None);
        }
    }

    /// The alert cleared, was archived or deleted: resolve notices to everybody told.
    fn end(&mut self, alert: AlertDigest, now_ns: i64) {
        let Some(tracked) = self.tracked.remove(&alert.id) else {
            return;
        };
        self.withdraw(alert.id);
        self.dirty.remove(&alert.id);
        self.ended.push(alert.id);
        for recipient in tracked.notified {
            self.gather(recipient, Kind::Resolved, &alert, now_ns, None);
        }
    }

    /// An operator handed `alert` to users: each gets a message at the next tick (no group
    /// wait: a person chose them), and they are told when it resolves.
    fn transfer(
        &mut self,
        alert: AlertDigest,
        by: &str,
        to: &[String],
        comment: Option<&str>,
        now_ns: i64,
        dir: &dyn Directory,
    ) {
        let recipients = users_to_mail(to, dir);
        if recipients.is_empty() {
            metrics()
                .notifications
                .with_label_values(&["mail", "no_recipient"])
                .inc();
            warn!(
                alert = alert.id,
                "Transfer to users without a mail address: nobody mailed."
            );
            return;
        }
        let note = match comment {
            Some(c) if !c.trim().is_empty() => format!("Transferred to you by {by}: {c}"),
            _ => format!("Transferred to you by {by}."),
        };
        let tracked = self.tracked.entry(alert.id).or_insert_with(|| Tracked {
            alert: alert.clone(),
            notified: BTreeSet::new(),
            via_oncall: false,
            rank: 0,
            escalate_at_ns: None,
            repeat_at_ns: None,
        });
        tracked.alert = alert.clone();
        for recipient in recipients {
            let key = (recipient.clone(), Kind::Transfer);
            let batch = self.batches.entry(key).or_insert_with(|| Batch {
                due_ns: now_ns,
                alerts: Vec::new(),
                ids: FxHashSet::default(),
                more: 0,
                deferred: false,
                note: None,
            });
            batch.note = Some(note.clone());
            push(batch, &alert, self.options.max_alerts_per_message);
        }
    }

    /// Adds `alert` to the recipient's gathering batch of `kind`, unless it is silenced.
    fn add(
        &mut self,
        recipient: Recipient,
        kind: Kind,
        alert: &AlertDigest,
        now_ns: i64,
        dir: &dyn Directory,
        note: Option<String>,
    ) {
        if dir.silenced(alert, now_ns) {
            return;
        }
        self.gather(recipient, kind, alert, now_ns, note);
    }

    fn gather(
        &mut self,
        recipient: Recipient,
        kind: Kind,
        alert: &AlertDigest,
        now_ns: i64,
        note: Option<String>,
    ) {
        let due_ns = now_ns.saturating_add(ns(self.options.group_wait));
        let batch = self
            .batches
            .entry((recipient, kind))
            .or_insert_with(|| Batch {
                due_ns,
                alerts: Vec::new(),
                ids: FxHashSet::default(),
                more: 0,
                deferred: false,
                note: None,
            });
        if note.is_some() {
            batch.note = note;
        }
        push(batch, alert, self.options.max_alerts_per_message);
    }

    /// Takes an alert out of every batch still gathering (acked, snoozed or silenced before
    /// its message left); resolve notices and transfers stay.
    fn withdraw(&mut self, id: u64) {
        self.batches.retain(|(_, kind), batch| {
            if matches!(kind, Kind::Resolved | Kind::Transfer) || !batch.ids.remove(&id) {
                return true;
            }
            match batch.alerts.iter().position(|a| a.id == id) {
                Some(at) => {
                    batch.alerts.remove(at);
                }
                None => batch.more = batch.more.saturating_sub(1),
            }
            !batch.alerts.is_empty() || batch.more > 0
        });
    }

    /// Time-driven work: escalations and reminders that are due, then the batches that are
    /// due and allowed by the rate limits. Returns the messages to send now.
    pub fn tick(&mut self, now_ns: i64, dir: &dyn Directory) -> Vec<Outgoing> {
        self.escalate(now_ns, dir);
        self.remind(now_ns, dir);
        self.flush(now_ns)
    }

    fn escalate(&mut self, now_ns: i64, dir: &dyn Directory) {
        let due: Vec<u64> = self
            .tracked
            .values()
            .filter(|t| t.alert.state == AlertState::Open)
            .filter(|t| t.escalate_at_ns.is_some_and(|at| at <= now_ns))
            .map(|t| t.alert.id)
            .collect();
        for id in due {
            let Some(tracked) = self.tracked.get_mut(&id) else {
                continue;
            };
            self.dirty.insert(id);
            let Some(rank) = dir.next_rank_above(tracked.rank, now_ns) else {
                tracked.escalate_at_ns = None; // nobody further: the last rank keeps it
                continue;
            };
            let after = dir.escalate_after();
            tracked.rank = rank;
            tracked.escalate_at_ns = Some(now_ns.saturating_add(ns(after)));
            let alert = tracked.alert.clone();
            let note = format!(
                "Nobody acknowledged within {}: escalated to on-call rank {rank}.",
                humantime::format_duration(after)
            );
            for recipient in users_to_mail(&dir.on_call(rank, now_ns), dir) {
                self.add(
                    recipient,
                    Kind::Escalation,
                    &alert,
                    now_ns,
                    dir,
                    Some(note.clone()),
                );
            }
        }
    }

    fn remind(&mut self, now_ns: i64, dir: &dyn Directory) {
        let Some(every) = self.options.repeat_interval else {
            return;
        };
        let due: Vec<u64> = self
            .tracked
            .values()
            .filter(|t| t.alert.state == AlertState::Open)
            .filter(|t| t.repeat_at_ns.is_some_and(|at| at <= now_ns))
            .map(|t| t.alert.id)
            .collect();
        for id in due {
            let Some(tracked) = self.tracked.get_mut(&id) else {
                continue;
            };
            tracked.repeat_at_ns = Some(now_ns.saturating_add(ns(every)));
            self.dirty.insert(id);
            let alert = tracked.alert.clone();
            let to: Vec<Recipient> = tracked.notified.iter().cloned().collect();
            for recipient in to {
                self.add(recipient, Kind::Repeat, &alert, now_ns, dir, None);
            }
        }
    }

    fn flush(&mut self, now_ns: i64) -> Vec<Outgoing> {
        let due: Vec<(Recipient, Kind)> = self
            .batches
            .iter()
            .filter(|(_, b)| b.due_ns <= now_ns)
            .map(|(k, _)| k.clone())
            .collect();
        let mut out = Vec::new();
        for key in due {
            if !self.limiter.allow(&self.options, &key.0, now_ns) {
                if let Some(batch) = self.batches.get_mut(&key)
                    && !batch.deferred
                {
                    batch.deferred = true;
                    metrics()
                        .notifications
                        .with_label_values(&[key.0.channel(), "rate_limited"])
                        .inc();
                    warn!(
                        channel = key.0.channel(),
                        kind = key.1.as_str(),
                        "Rate limit reached; alerts wait and are grouped into the next message."
                    );
                }
                continue;
            }
            let Some(batch) = self.batches.remove(&key) else {
                continue;
            };
            let (recipient, kind) = key;
            if kind != Kind::Resolved {
                for id in &batch.ids {
                    if let Some(tracked) = self.tracked.get_mut(id) {
                        tracked.notified.insert(recipient.clone());
                        self.dirty.insert(*id);
                    }
                }
            }
            out.push(Outgoing {
                recipient,
                kind,
                alerts: batch.alerts,
                more: batch.more,
                note: batch.note,
            });
        }
        self.limiter.prune(now_ns);
        out
    }
}

/// Adds (or refreshes) an alert in a batch, listing at most `max` alerts.
fn push(batch: &mut Batch, alert: &AlertDigest, max: usize) {
    if !batch.ids.insert(alert.id) {
        if let Some(listed) = batch.alerts.iter_mut().find(|a| a.id == alert.id) {
            *listed = alert.clone();
        }
        return;
    }
    if batch.alerts.len() < max {
        batch.alerts.push(alert.clone());
    } else {
        batch.more += 1;
    }
}

/// The mail recipients of users (those without an address are skipped and counted).
fn users_to_mail(users: &[String], dir: &dyn Directory) -> Vec<Recipient> {
    users
        .iter()
        .filter_map(|user| match dir.email_of(user) {
            Some(address) => Some(Recipient::Mail(address)),
            None => {
                warn!(%user, "User has no mail address; not notified.");
                metrics()
                    .notifications
                    .with_label_values(&["mail", "no_recipient"])
                    .inc();
                None
            }
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub const S: i64 = 1_000_000_000;

    /// A directory with a fixed schedule: rank → users, emails `user@x`, rules' notify lists.
    #[derive(Default)]
    pub struct FakeDirectory {
        pub ranks: BTreeMap<u8, Vec<String>>,
        pub routes: BTreeMap<String, Vec<NotifyTarget>>,
        pub silenced_hosts: Vec<String>,
    }

    impl Directory for FakeDirectory {
        fn targets(&self, rule: &str) -> Option<Vec<NotifyTarget>> {
            self.routes.get(rule).cloned()
        }
        fn on_call(&self, rank: u8, _at: i64) -> Vec<String> {
            self.ranks.get(&rank).cloned().unwrap_or_default()
        }
        fn next_rank_above(&self, rank: u8, _at: i64) -> Option<u8> {
            self.ranks.keys().copied().find(|r| *r > rank)
        }
        fn escalate_after(&self) -> Duration {
            Duration::from_secs(600)
        }
        fn email_of(&self, user: &str) -> Option<String> {
            (user != "nomail").then(|| format!("{user}@x"))
        }
        fn silenced(&self, alert: &AlertDigest, _at: i64) -> bool {
            self.silenced_hosts.contains(&alert.host)
        }
    }

    pub fn oncall_directory() -> FakeDirectory {
        FakeDirectory {
            ranks: [(1, vec!["alice".into()]), (2, vec!["bob".into()])]
                .into_iter()
                .collect(),
            ..Default::default()
        }
    }

    pub fn digest(id: u64, level: Level, state: AlertState) -> AlertDigest {
        AlertDigest {
            id,
            rule: "r".into(),
            state,
            level,
            category: None,
            host: format!("host{id}"),
            summary: format!("summary {id}"),
            count: 1,
            first_seen_ns: 0,
            last_seen_ns: 0,
            latest_event: None,
            latest_message: None,
        }
    }

    fn options() -> RouterOptions {
        RouterOptions {
            group_wait: Duration::from_secs(10),
            repeat_interval: None,
            ..RouterOptions::default()
        }
    }

    /// (recipient, kind, alert ids) of each message.
    fn sent(out: &[Outgoing]) -> Vec<(String, Kind, Vec<u64>)> {
        out.iter()
            .map(|o| {
                (
                    o.recipient.target().to_string(),
                    o.kind,
                    o.alerts.iter().map(|a| a.id).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn critical_alerts_go_to_rank_one_grouped_then_escalate_to_rank_two_without_ack() {
        let dir = oncall_directory();
        let mut r = Router::new(options());
        r.observe(digest(1, Level::Critical, AlertState::Open), 0, &dir);
        r.observe(digest(2, Level::Critical, AlertState::Open), 5 * S, &dir);
        r.observe(digest(3, Level::Warning, AlertState::Open), 5 * S, &dir); // not routed
        assert!(r.tick(9 * S, &dir).is_empty(), "group_wait not over");
        assert_eq!(
            sent(&r.tick(10 * S, &dir)),
            [("alice@x".into(), Kind::Firing, vec![1, 2])]
        );
        assert!(r.tick(599 * S, &dir).is_empty());
        r.tick(600 * S, &dir); // alert 1 escalates: gathered for bob
        // Alert 2 escalates at 605 s and joins the message still gathering.
        let out = r.tick(610 * S, &dir);
        assert_eq!(sent(&out), [("bob@x".into(), Kind::Escalation, vec![1, 2])]);
        assert!(out[0].note.as_deref().unwrap().contains("rank 2"));
        // Nobody above rank 2: no further messages.
        assert!(r.tick(1300 * S, &dir).is_empty());
        assert!(r.tick(1400 * S, &dir).is_empty());
    }

    #[test]
    fn an_ack_stops_the_escalation_and_the_resolve_notice_reaches_everybody_told() {
        let dir = oncall_directory();
        let mut r = Router::new(options());
        r.observe(digest(1, Level::Critical, AlertState::Open), 0, &dir);
        assert_eq!(r.tick(10 * S, &dir).len(), 1);
        r.observe(digest(1, Level::Critical, AlertState::Acked), 20 * S, &dir);
        for t in [600, 700, 2000] {
            assert!(r.tick(t * S, &dir).is_empty(), "at {t}s");
        }
        r.observe(
            digest(1, Level::Critical, AlertState::Cleared),
            2100 * S,
            &dir,
        );
        assert_eq!(
            sent(&r.tick(2110 * S, &dir)),
            [("alice@x".into(), Kind::Resolved, vec![1])]
        );
        let (changed, ended) = r.take_changes();
        assert!(changed.is_empty());
        assert_eq!(ended, [1]);
    }

    #[test]
    fn an_alert_acked_or_cleared_before_its_group_left_is_not_mailed() {
        let dir = oncall_directory();
        let mut r = Router::new(options());
        r.observe(digest(1, Level::Critical, AlertState::Open), 0, &dir);
        r.observe(digest(2, Level::Critical, AlertState::Open), 0, &dir);
        r.observe(digest(1, Level::Critical, AlertState::Acked), S, &dir);
        r.observe(digest(2, Level::Critical, AlertState::Cleared), S, &dir);
        assert!(r.tick(10 * S, &dir).is_empty());
    }

    #[test]
    fn rules_route_to_addresses_users_and_webhooks_and_an_empty_list_to_nobody() {
        let mut dir = oncall_directory();
        dir.routes.insert(
            "r".into(),
            vec![
                NotifyTarget::Mail("team@x".into()),
                NotifyTarget::Webhook("chat".into()),
                NotifyTarget::User("carol".into()),
            ],
        );
        dir.routes.insert("quiet".into(), vec![]);
        let mut r = Router::new(options());
        r.observe(digest(1, Level::Low, AlertState::Open), 0, &dir);
        let mut quiet = digest(2, Level::Critical, AlertState::Open);
        quiet.rule = "quiet".into();
        r.observe(quiet, 0, &dir);
        let out = sent(&r.tick(10 * S, &dir));
        assert_eq!(
            out,
            [
                ("carol@x".into(), Kind::Firing, vec![1]),
                ("team@x".into(), Kind::Firing, vec![1]),
                ("chat".into(), Kind::Firing, vec![1]),
            ]
        );
        // No on-call target: no escalation.
        assert!(r.tick(700 * S, &dir).is_empty());
    }

    #[test]
    fn rate_limits_hold_messages_back_and_keep_grouping_them() {
        let dir = oncall_directory();
        let mut r = Router::new(RouterOptions {
            max_per_recipient_per_hour: 2,
            max_alerts_per_message: 3,
            ..options()
        });
        let mut mails = 0;
        let mut listed = 0;
        let mut more = 0;
        // 100 alerts a second for 100 s.
        for second in 0..100 {
            for i in 0..100 {
                let id = second * 100 + i + 1;
                r.observe(
                    digest(id, Level::Critical, AlertState::Open),
                    second as i64 * S,
                    &dir,
                );
            }
            for out in r.tick(second as i64 * S, &dir) {
                mails += 1;
                listed += out.alerts.len() as u64;
                more += out.more;
            }
        }
        assert_eq!(mails, 2, "the per-recipient limit");
        assert_eq!(listed, 6);
        // The second message carries everything gathered while it was held back.
        assert!(more > 1000, "{more}");
        // An hour after the first, the rest goes in one more message.
        let out = r.tick(3600 * S + 10 * S, &dir);
        assert_eq!(out.len(), 1);
        assert!(out[0].more > 5000);
    }

    #[test]
    fn transfers_mail_the_chosen_users_with_the_comment_and_they_hear_the_resolve() {
        let dir = oncall_directory();
        let mut r = Router::new(options());
        let alert = digest(7, Level::Warning, AlertState::Open);
        r.signal(
            Signal::Transfer {
                alert: alert.clone(),
                by: "olga".into(),
                to: vec!["dave".into(), "nomail".into()],
                comment: Some("please look".into()),
            },
            0,
            &dir,
        );
        let out = r.tick(0, &dir);
        assert_eq!(sent(&out), [("dave@x".into(), Kind::Transfer, vec![7])]);
        assert_eq!(
            out[0].note.as_deref(),
            Some("Transferred to you by olga: please look")
        );
        r.observe(digest(7, Level::Warning, AlertState::Cleared), S, &dir);
        assert_eq!(
            sent(&r.tick(20 * S, &dir)),
            [("dave@x".into(), Kind::Resolved, vec![7])]
        );
    }

    #[test]
    fn snoozes_and_maintenance_silence_and_the_end_of_a_snooze_tells_again() {
        let mut dir = oncall_directory();
        let mut r = Router::new(RouterOptions {
            repeat_interval: Some(Duration::from_secs(100)),
            ..options()
        });
        r.observe(digest(1, Level::Critical, AlertState::Open), 0, &dir);
        assert_eq!(r.tick(10 * S, &dir).len(), 1);
        r.observe(
            digest(1, Level::Critical, AlertState::Snoozed),
            20 * S,
            &dir,
        );
        assert!(
            r.tick(1000 * S, &dir).is_empty(),
            "no reminder or escalation while snoozed"
        );
        r.observe(digest(1, Level::Critical, AlertState::Open), 1000 * S, &dir);
        assert_eq!(
            sent(&r.tick(1010 * S, &dir)),
            [("alice@x".into(), Kind::Firing, vec![1])]
        );
        // A reminder after repeat_interval, unless a maintenance window covers the host.
        assert_eq!(sent(&r.tick(1100 * S, &dir)), [], "gathering the reminder");
        assert_eq!(
            sent(&r.tick(1110 * S, &dir)),
            [("alice@x".into(), Kind::Repeat, vec![1])]
        );
        dir.silenced_hosts.push("host1".into());
        r.tick(1210 * S, &dir);
        assert!(r.tick(1230 * S, &dir).is_empty());
        r.observe(
            digest(1, Level::Critical, AlertState::Cleared),
            1300 * S,
            &dir,
        );
        assert_eq!(
            sent(&r.tick(1310 * S, &dir)),
            [("alice@x".into(), Kind::Resolved, vec![1])],
            "the resolve notice is not silenced"
        );
    }

    #[test]
    fn restored_tracking_keeps_escalating_and_untold_alerts_are_routed_again() {
        let dir = oncall_directory();
        let mut r = Router::new(options());
        r.observe(digest(1, Level::Critical, AlertState::Open), 0, &dir);
        r.tick(10 * S, &dir);
        let (changed, _) = r.take_changes();
        assert_eq!(changed.len(), 1);
        let mut again = Router::new(options());
        again.restore(changed);
        // The same alert as seen at start-up: already told, not mailed again.
        again.observe(digest(1, Level::Critical, AlertState::Open), 20 * S, &dir);
        assert!(again.tick(30 * S, &dir).is_empty());
        again.tick(600 * S, &dir);
        assert_eq!(
            sent(&again.tick(610 * S, &dir)),
            [("bob@x".into(), Kind::Escalation, vec![1])]
        );
    }
}
