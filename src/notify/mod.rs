//! Notifications: who hears about an alert, and the mail or webhook call that tells them —
//! once, quickly, and never lost to a mail server that is down or a restart.
//!
//! The parts, in the order an alert goes through them:
//! - [`AlertObserver`](crate::alerts::AlertObserver) (`service::Inbox`): the alert engine
//!   announces every alert it writes and every operator action; the inbox turns them into
//!   [`Signal`]s on a bounded channel (when it is full, a flag makes the router re-read every
//!   active alert instead: nothing is missed for long, and the engine never waits).
//! - `router` ([`Router`]): pure decisions with the time as an argument — which alerts notify
//!   whom (the rule's `notify` list, or critical alerts to on-call rank 1), escalation to the
//!   next rank after `escalate_after` without an ack, grouping (`group_wait`), repeats, rate
//!   limits, silences (acks, snoozes, maintenance), resolve notices to those told, transfers.
//!   Out come [`Outgoing`] messages: one recipient, many alerts.
//! - `templates`: an [`Outgoing`] → a mail (subject, text, HTML with every device string
//!   escaped) or a webhook body (trapline's JSON or Alertmanager's).
//! - `outbox` ([`Outbox`]): every message is written to the store first (record tree
//!   `notify_outbox`), then delivered; failed attempts back off exponentially until
//!   `give_up_after`, when an alert says so. Every attempt is kept (the notification log).
//! - `mail` ([`Mailer`]: lettre, tokio, rustls) and `webhook` ([`WebhookSender`]: reqwest):
//!   one attempt each, nothing else.
//! - `service`: the router thread and the delivery task, wired by `app.rs`.
//!
//! What this module does not do: decide alert states (the engine does), know the schedule's
//! format (`crate::oncall`), or serve HTTP (`web::notify` reads the outbox and the schedule).

pub mod incident;
pub mod mail;
pub mod outbox;
pub mod router;
pub mod service;
pub mod templates;
pub mod webhook;

use serde::{Deserialize, Serialize};

pub use incident::{IncidentMailer, IncidentNews};
pub use mail::{MailError, Mailer};
pub use outbox::{Notification, Outbox, OutboxError, OutboxOptions};
pub use router::{Directory, Outgoing, Router, RouterOptions};
pub use service::{NotifyService, ServiceContext};
pub use webhook::{WebhookError, WebhookSender};

use crate::alerts::{Alert, AlertState};
use crate::event::{EventId, Level};

/// What the notifier keeps of an alert: enough to decide about it and to write a mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertDigest {
    pub id: u64,
    pub rule: String,
    pub state: AlertState,
    pub level: Level,
    pub category: Option<String>,
    pub host: String,
    pub summary: String,
    pub count: u64,
    pub first_seen_ns: i64,
    pub last_seen_ns: i64,
    /// The newest event folded into the alert (its message goes into the mail).
    pub latest_event: Option<EventId>,
    /// That event's message, looked up just before a mail is written (not stored).
    #[serde(skip)]
    pub latest_message: Option<String>,
}

impl From<&Alert> for AlertDigest {
    fn from(alert: &Alert) -> AlertDigest {
        AlertDigest {
            id: alert.id,
            rule: alert.rule.clone(),
            state: alert.state,
            level: alert.level,
            category: alert.category.clone(),
            host: alert.host.clone(),
            summary: alert.summary.clone(),
            count: alert.count,
            first_seen_ns: alert.first_seen_ns,
            last_seen_ns: alert.last_seen_ns,
            latest_event: alert.event_ids.front().copied(),
            latest_message: None,
        }
    }
}

/// Where one message goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "channel", content = "to", rename_all = "lowercase")]
pub enum Recipient {
    /// A mail address.
    Mail(String),
    /// A `[[notify.webhooks]]` receiver by name.
    Webhook(String),
}

impl Recipient {
    /// The metric label and log name of the channel.
    pub fn channel(&self) -> &'static str {
        match self {
            Recipient::Mail(_) => "mail",
            Recipient::Webhook(_) => "webhook",
        }
    }

    /// The address or the webhook's name.
    pub fn target(&self) -> &str {
        match self {
            Recipient::Mail(address) | Recipient::Webhook(address) => address,
        }
    }
}

/// Why a message is sent (it shapes the subject and the webhook's `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// New alerts.
    Firing,
    /// Nobody acknowledged within `escalate_after`: the next on-call rank is told.
    Escalation,
    /// Still open after `repeat_interval`.
    Repeat,
    /// The alerts cleared (or were archived or deleted) after the recipient was told.
    Resolved,
    /// An operator handed the alert to the recipient.
    Transfer,
    /// Something about trapline itself (e.g. notifications given up).
    System,
    /// An incident was transferred, resolved or closed (`notify::incident`).
    Incident,
    /// A scheduled availability report (`availability::schedule`).
    Report,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Firing => "firing",
            Kind::Escalation => "escalation",
            Kind::Repeat => "repeat",
            Kind::Resolved => "resolved",
            Kind::Transfer => "transfer",
            Kind::System => "system",
            Kind::Incident => "incident",
            Kind::Report => "report",
        }
    }
}

/// News from the alert engine for the router.
#[derive(Debug, Clone)]
pub enum Signal {
    /// The alert as just written.
    Alert(AlertDigest),
    /// An operator transferred the alert to users, with a comment.
    Transfer {
        alert: AlertDigest,
        by: String,
        to: Vec<String>,
        comment: Option<String>,
    },
}
