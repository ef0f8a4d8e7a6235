//! [`NotifyService`]: the running notifier — the engine's observer, the router thread and the
//! delivery task — started and stopped by `app.rs`.
//!
//! - `Inbox` is the engine's [`AlertObserver`]: it puts a [`Signal`] on a bounded channel
//!   and never blocks; when the channel is full it raises a flag and the router re-reads
//!   every active alert (a resync) instead of missing one.
//! - The router thread (`notify-router`) feeds signals to the [`Router`], ticks it every
//!   250 ms, renders what is due (`templates`) into the [`Outbox`] and writes the router's
//!   tracking records (tree `notify_tracking`), so a restart neither forgets who was told
//!   nor tells them twice. At start it takes back the tracking records and compares them with
//!   the engine's active alerts: an alert that cleared while trapline was down gets its
//!   resolve notice; one raised but not yet mailed is routed again.
//! - The delivery task (tokio) takes due notifications from the outbox, makes one attempt
//!   each (mail or webhook) and records the outcome; a notification given up raises the
//!   warning alert `trapline-notify` so somebody sees it on the console.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use rustc_hash::{FxHashMap, FxHashSet};
use tracing::{error, info, warn};

use super::outbox::{AfterAttempt, Body, NewNotification, Notification, OutboxOptions};
use super::router::{Directory, Tracked};
use super::{AlertDigest, Mailer, Outbox, Outgoing, Recipient, Router, RouterOptions, Signal};
use super::{WebhookSender, templates};
use crate::accounts::Accounts;
use crate::alerts::{Alert, AlertAction, AlertObserver, AlertState, Notice, record_key};
use crate::config::{NotifySettings, SmtpSettings, WebhookSettings};
use crate::event::{Level, now_ns};
use crate::metrics::metrics;
use crate::oncall::{Schedule, ScheduleStore};
use crate::pipeline::{SharedAlerts, lock};
use crate::rules::reload::ActiveRules;
use crate::rules::{Maintenance, NotifyTarget, RuleSet};
use crate::store::{RecordTree, Store, StoreError};

/// Signals the inbox holds before it asks for a resync.
const INBOX_CAPACITY: usize = 65_536;
/// How often the router looks at the clock.
const TICK_EVERY: Duration = Duration::from_millis(250);
/// How often the schedule, addresses, rules and maintenance windows are read again.
const REFRESH_EVERY: Duration = Duration::from_secs(1);
/// Notifications attempted per round of the delivery task.
const DELIVERY_BATCH: usize = 8;
/// The rule name of the alert raised when notifications are given up.
pub const FAILURE_RULE: &str = "trapline-notify";

/// Why the notifier could not start.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("[smtp]: {0}")]
    Mail(#[from] super::MailError),
    #[error("webhooks: {0}")]
    Webhook(#[from] super::WebhookError),
}

/// Everything the notifier needs from the rest of trapline.
#[derive(Clone)]
pub struct ServiceContext {
    pub store: Store,
    pub accounts: Arc<Accounts>,
    pub rules: ActiveRules,
    pub alerts: SharedAlerts,
    pub notify: NotifySettings,
    pub smtp: Option<SmtpSettings>,
}

/// The engine's observer: hands news to the router thread, never blocks.
struct Inbox {
    tx: Sender<Signal>,
    resync: Arc<AtomicBool>,
}

impl AlertObserver for Inbox {
    fn written(&self, alert: &Alert) {
        if let Err(TrySendError::Full(_)) = self.tx.try_send(Signal::Alert(alert.into())) {
            self.resync.store(true, Ordering::Release);
            metrics().notify_signals_dropped.inc();
        }
    }

    fn acted(&self, alert: &Alert, action: &AlertAction, by: &str, comment: Option<&str>) {
        let AlertAction::Transfer { to } = action else {
            return;
        };
        let signal = Signal::Transfer {
            alert: alert.into(),
            by: by.to_string(),
            to: to.clone(),
            comment: comment.map(str::to_string),
        };
        if self.tx.try_send(signal).is_err() {
            metrics().notify_signals_dropped.inc();
            error!(
                alert = alert.id,
                "Notifier inbox full: the transfer mail is not sent."
            );
        }
    }
}

/// The running notifier; see the module documentation.
pub struct NotifyService {
    stop: Arc<AtomicBool>,
    /// For incident mails (`incident_mailer`): the same outbox and wake-up as alerts'.
    mailer: super::IncidentMailer,
    router: Option<JoinHandle<()>>,
    delivery_stop: tokio::sync::watch::Sender<bool>,
    delivery: tokio::task::JoinHandle<()>,
}

fn lock_outbox(outbox: &Mutex<Outbox>) -> MutexGuard<'_, Outbox> {
    outbox.lock().unwrap_or_else(|p| p.into_inner())
}

impl NotifyService {
    /// Opens the outbox, attaches the inbox to the alert engine and starts the router thread
    /// and the delivery task (call inside the tokio runtime).
    pub fn start(ctx: ServiceContext) -> Result<NotifyService, NotifyError> {
        let mailer = ctx
            .smtp
            .as_ref()
            .map(Mailer::new)
            .transpose()?
            .map(Arc::new);
        match &mailer {
            Some(m) => info!(
                server = m.server(),
                "Mail notifications go through this SMTP server."
            ),
            None => warn!("No [smtp] section: mail notifications will fail (webhooks still work)."),
        }
        let sender = WebhookSender::new()?;
        let outbox = Arc::new(Mutex::new(Outbox::open(
            &ctx.store,
            OutboxOptions {
                retry_initial: ctx.notify.retry_initial,
                retry_max: ctx.notify.retry_max,
                give_up_after: ctx.notify.give_up_after,
                outbox_max: ctx.notify.outbox_max,
                log_max: ctx.notify.log_max,
            },
        )?));
        let pending = lock_outbox(&outbox).pending_len();
        if pending > 0 {
            info!(
                pending,
                "Notifications from before the restart will be delivered."
            );
        }
        let (tx, rx) = crossbeam_channel::bounded(INBOX_CAPACITY);
        let resync = Arc::new(AtomicBool::new(false));
        lock(&ctx.alerts).set_observer(Arc::new(Inbox {
            tx,
            resync: resync.clone(),
        }));
        let wake = Arc::new(tokio::sync::Notify::new());
        let stop = Arc::new(AtomicBool::new(false));
        let router = RouterThread {
            ctx: ctx.clone(),
            tracking: ctx.store.records("notify_tracking")?,
            outbox: outbox.clone(),
            wake: wake.clone(),
            rx,
            resync,
            stop: stop.clone(),
        };
        let router = std::thread::Builder::new()
            .name("notify-router".into())
            .spawn(move || router.run())
            .expect("notify router thread can be spawned");
        let (delivery_stop, stop_rx) = tokio::sync::watch::channel(false);
        let incident_mailer = super::IncidentMailer {
            outbox: outbox.clone(),
            wake: wake.clone(),
            accounts: ctx.accounts.clone(),
            base_url: ctx.notify.base_url.clone(),
        };
        let delivery = Delivery {
            ctx,
            outbox,
            wake,
            mailer,
            sender,
        };
        let delivery = tokio::spawn(delivery.run(stop_rx));
        Ok(NotifyService {
            stop,
            mailer: incident_mailer,
            router: Some(router),
            delivery_stop,
            delivery,
        })
    }

    /// A handle that queues incident mails in this notifier's outbox (the web layer's).
    pub fn incident_mailer(&self) -> super::IncidentMailer {
        self.mailer.clone()
    }

    /// Stops after the attempt under way; pending notifications stay in the outbox for the
    /// next start. Call after the store writer has stopped (its last alert changes are in).
    pub async fn stop(mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(router) = self.router.take() {
            let joined = tokio::task::spawn_blocking(move || router.join()).await;
            if !matches!(joined, Ok(Ok(()))) {
                error!("The notify router thread panicked.");
            }
        }
        let _ = self.delivery_stop.send(true);
        if tokio::time::timeout(Duration::from_secs(10), &mut self.delivery)
            .await
            .is_err()
        {
            warn!("Notification delivery did not stop within 10 s.");
            self.delivery.abort();
        }
    }
}

/// The live [`Directory`]: rules, schedule, addresses and maintenance windows, re-read every
/// [`REFRESH_EVERY`].
struct LiveDirectory {
    rules: Arc<RuleSet>,
    schedule: Schedule,
    windows: Vec<Maintenance>,
    emails: FxHashMap<String, Option<String>>,
    refreshed: Option<Instant>,
}

impl LiveDirectory {
    fn refresh(&mut self, ctx: &ServiceContext, schedules: &ScheduleStore) {
        if self.refreshed.is_some_and(|t| t.elapsed() < REFRESH_EVERY) {
            return;
        }
        self.refreshed = Some(Instant::now());
        self.rules = ctx.rules.current();
        match schedules.load() {
            Ok(schedule) => self.schedule = schedule,
            Err(error) => warn!(%error, "Cannot read the on-call schedule; keeping the last one."),
        }
        self.windows = lock(&ctx.alerts).maintenance_windows(&self.rules);
        match ctx.accounts.users() {
            Ok(users) => {
                self.emails = users.into_iter().map(|u| (u.name, u.email)).collect();
            }
            Err(error) => warn!(%error, "Cannot read users; keeping the last addresses."),
        }
    }
}

impl Directory for LiveDirectory {
    fn targets(&self, rule: &str) -> Option<Vec<NotifyTarget>> {
        self.rules
            .position(rule)
            .and_then(|i| self.rules.rule(i).notify.clone())
    }

    fn on_call(&self, rank: u8, at_ns: i64) -> Vec<String> {
        self.schedule.on_call(rank, at_ns)
    }

    fn next_rank_above(&self, rank: u8, at_ns: i64) -> Option<u8> {
        self.schedule.next_rank_above(rank, at_ns)
    }

    fn escalate_after(&self) -> Duration {
        self.schedule.escalate_after
    }

    fn email_of(&self, user: &str) -> Option<String> {
        self.emails.get(user).cloned().flatten()
    }

    fn silenced(&self, alert: &AlertDigest, at_ns: i64) -> bool {
        self.windows
            .iter()
            .any(|w| w.covers(at_ns, &alert.host, alert.category.as_deref(), &alert.rule))
    }
}

/// The router thread's state.
struct RouterThread {
    ctx: ServiceContext,
    tracking: RecordTree,
    outbox: Arc<Mutex<Outbox>>,
    wake: Arc<tokio::sync::Notify>,
    rx: Receiver<Signal>,
    resync: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl RouterThread {
    fn run(self) {
        let schedules = match ScheduleStore::open(&self.ctx.store) {
            Ok(s) => s,
            Err(error) => {
                error!(%error, "Cannot open the on-call schedule; notifications are off.");
                return;
            }
        };
        let mut dir = LiveDirectory {
            rules: self.ctx.rules.current(),
            schedule: Schedule::default(),
            windows: Vec::new(),
            emails: FxHashMap::default(),
            refreshed: None,
        };
        dir.refresh(&self.ctx, &schedules);
        let n = &self.ctx.notify;
        let mut router = Router::new(RouterOptions {
            group_wait: n.group_wait,
            repeat_interval: n.repeat_interval,
            max_per_minute: n.max_per_minute,
            max_per_recipient_per_hour: n.max_per_recipient_per_hour,
            ..RouterOptions::default()
        });
        router.restore(self.load_tracking());
        self.reconcile(&mut router, &dir);
        let mut last_tick = Instant::now();
        while !self.stop.load(Ordering::Acquire) {
            match self.rx.recv_timeout(TICK_EVERY) {
                Ok(signal) => {
                    let now = now_ns();
                    router.signal(signal, now, &dir);
                    for signal in self.rx.try_iter().take(10_000) {
                        router.signal(signal, now, &dir);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if last_tick.elapsed() < TICK_EVERY {
                continue;
            }
            last_tick = Instant::now();
            dir.refresh(&self.ctx, &schedules);
            if self.resync.swap(false, Ordering::AcqRel) {
                warn!("Notifier inbox overflowed; re-reading every active alert.");
                self.reconcile(&mut router, &dir);
            }
            let out = router.tick(now_ns(), &dir);
            if !out.is_empty() {
                self.enqueue(out);
                self.wake.notify_one();
            }
            self.save_tracking(&mut router);
        }
        // Signals already in the inbox (the writer's last changes) are taken, so the tracking
        // written now is current; messages still gathering are routed again at the next start.
        let now = now_ns();
        for signal in self.rx.try_iter() {
            router.signal(signal, now, &dir);
        }
        self.save_tracking(&mut router);
    }

    fn load_tracking(&self) -> Vec<Tracked> {
        match self.tracking.list() {
            Ok(records) => records
                .into_iter()
                .filter_map(|(_, bytes)| serde_json::from_slice(&bytes).ok())
                .collect(),
            Err(error) => {
                error!(%error, "Cannot read notification tracking; starting afresh.");
                Vec::new()
            }
        }
    }

    fn save_tracking(&self, router: &mut Router) {
        let (changed, ended) = router.take_changes();
        if changed.is_empty() && ended.is_empty() {
            return;
        }
        let puts = changed.iter().map(|t| {
            (
                record_key(t.alert.id),
                serde_json::to_vec(t).unwrap_or_default(),
            )
        });
        let removes = ended.iter().map(|id| record_key(*id));
        if let Err(error) = self.tracking.apply_batch(puts, removes) {
            error!(%error, "Cannot write notification tracking.");
        }
    }

    /// Compares the router with the engine: every active alert is observed again, and a
    /// tracked alert no longer active is looked up in the store (its end is told).
    fn reconcile(&self, router: &mut Router, dir: &LiveDirectory) {
        let now = now_ns();
        let active: Vec<AlertDigest> = lock(&self.ctx.alerts)
            .active()
            .map(AlertDigest::from)
            .collect();
        let ids: FxHashSet<u64> = active.iter().map(|a| a.id).collect();
        for alert in active {
            router.observe(alert, now, dir);
        }
        for id in router.tracked_ids() {
            if ids.contains(&id) {
                continue;
            }
            let ended = match crate::alerts::get(&self.ctx.store, id) {
                Ok(Some(alert)) if !alert.state.is_active() => AlertDigest::from(&alert),
                Ok(Some(_)) => continue, // raised meanwhile: the inbox has it
                Ok(None) | Err(_) => match router.tracked(id) {
                    Some(t) => AlertDigest {
                        state: AlertState::Deleted,
                        ..t.alert.clone()
                    },
                    None => continue,
                },
            };
            router.observe(ended, now, dir);
        }
    }

    /// Renders each message and writes it to the outbox.
    fn enqueue(&self, out: Vec<Outgoing>) {
        let base_url = &self.ctx.notify.base_url;
        for mut message in out {
            for alert in &mut message.alerts {
                alert.latest_message = alert
                    .latest_event
                    .and_then(|id| self.ctx.store.get_event(id).ok().flatten())
                    .map(|event| event.message);
            }
            let new = match render(&message, base_url, &self.ctx.notify.webhooks) {
                Some(new) => new,
                None => {
                    warn!(
                        webhook = message.recipient.target(),
                        "No [[notify.webhooks]] with this name; not notified."
                    );
                    metrics()
                        .notifications
                        .with_label_values(&["webhook", "no_recipient"])
                        .inc();
                    continue;
                }
            };
            if let Err(error) = lock_outbox(&self.outbox).enqueue(new, now_ns()) {
                error!(%error, recipient = message.recipient.target(), "Notification not written.");
            }
        }
    }
}

/// The outbox entry of `message`; `None` for a webhook that is not configured.
fn render(
    message: &Outgoing,
    base_url: &str,
    webhooks: &[WebhookSettings],
) -> Option<NewNotification> {
    let subject = templates::subject(message);
    let body = match &message.recipient {
        Recipient::Mail(_) => {
            let mail = templates::mail(message, base_url);
            Body::Mail {
                text: mail.text,
                html: mail.html,
            }
        }
        Recipient::Webhook(name) => {
            let hook = webhooks.iter().find(|w| &w.name == name)?;
            Body::Webhook {
                json: templates::webhook(message, base_url, name, hook.format).to_string(),
            }
        }
    };
    Some(NewNotification {
        recipient: message.recipient.clone(),
        kind: message.kind,
        subject,
        body,
        alert_ids: message.alerts.iter().map(|a| a.id).collect(),
        more: message.more,
    })
}

/// The delivery task's state.
struct Delivery {
    ctx: ServiceContext,
    outbox: Arc<Mutex<Outbox>>,
    wake: Arc<tokio::sync::Notify>,
    mailer: Option<Arc<Mailer>>,
    sender: WebhookSender,
}

impl Delivery {
    async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            let due = lock_outbox(&self.outbox).take_due(now_ns(), DELIVERY_BATCH);
            if due.is_empty() {
                let next = lock_outbox(&self.outbox).next_due_ns();
                let wait = next.map_or(Duration::from_secs(1), |at| {
                    Duration::from_nanos(at.saturating_sub(now_ns()).clamp(0, 1_000_000_000) as u64)
                });
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => return,
                }
                continue;
            }
            for notification in due {
                self.attempt(notification).await;
            }
        }
    }

    async fn attempt(&self, n: Notification) {
        let outcome = match (&n.recipient, &n.body) {
            (Recipient::Mail(to), Body::Mail { text, html }) => match &self.mailer {
                Some(mailer) => mailer
                    .send(to, &n.subject, text, html)
                    .await
                    .map_err(|e| e.to_string()),
                None => {
                    let failed = lock_outbox(&self.outbox).fail_now(
                        n.id,
                        "no [smtp] section in the configuration",
                        now_ns(),
                    );
                    if let Err(error) = failed {
                        error!(%error, "Cannot write a notification.");
                    }
                    return;
                }
            },
            (Recipient::Webhook(name), Body::Webhook { json }) => {
                match self.ctx.notify.webhooks.iter().find(|w| &w.name == name) {
                    Some(hook) => self
                        .sender
                        .send(&hook.url, json, hook.timeout)
                        .await
                        .map_err(|e| e.to_string()),
                    None => Err(format!("no webhook named {name:?} is configured")),
                }
            }
            _ => Err("recipient and body do not match".into()),
        };
        let recorded = lock_outbox(&self.outbox).record(n.id, outcome, now_ns());
        match recorded {
            Ok(Some((n, AfterAttempt::Delivered))) => {
                info!(
                    id = n.id,
                    channel = n.recipient.channel(),
                    kind = n.kind.as_str(),
                    attempts = n.attempts,
                    "Notification delivered."
                )
            }
            Ok(Some((n, AfterAttempt::Retry { at_ns }))) => {
                let error = n
                    .log
                    .last()
                    .and_then(|a| a.error.clone())
                    .unwrap_or_default();
                let in_secs = (at_ns - now_ns()).max(0) / 1_000_000_000;
                warn!(id = n.id, channel = n.recipient.channel(), attempts = n.attempts, retry_in_s = in_secs, %error, "Notification not delivered; will retry.");
            }
            Ok(Some((n, AfterAttempt::GaveUp))) => self.gave_up(&n),
            Ok(None) => {}
            Err(error) => error!(%error, "Cannot record a notification attempt."),
        }
    }

    /// Raises (or folds into) the warning alert that says notifications to a recipient are
    /// being given up.
    fn gave_up(&self, n: &Notification) {
        let error = n
            .log
            .last()
            .and_then(|a| a.error.clone())
            .unwrap_or_default();
        error!(id = n.id, channel = n.recipient.channel(), attempts = n.attempts, %error, "Notification given up.");
        let key = format!(
            "{FAILURE_RULE}|{}|{}",
            n.recipient.channel(),
            n.recipient.target()
        );
        let summary = format!(
            "Notifications by {} to {} could not be delivered (gave up after {} attempts: {error})",
            n.recipient.channel(),
            n.recipient.target(),
            n.attempts
        );
        let rules = self.ctx.rules.current();
        let mut engine = lock(&self.ctx.alerts);
        engine.raise_notice(
            &rules,
            &Notice {
                rule: FAILURE_RULE,
                key: &key,
                level: Level::Warning,
                category: "trapline",
                host: "trapline",
                summary: &summary,
                at_ns: now_ns(),
            },
        );
        if let Err(error) = engine.persist(now_ns()) {
            error!(%error, "Could not write the notification failure alert.");
        }
    }
}
