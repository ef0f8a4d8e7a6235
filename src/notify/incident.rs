//! Mail about incidents: on transfer to the new assignees (and the managers of its
//! category), at resolution and at closing to the followers and the opener — written to the
//! same [`Outbox`] as alert notifications, so it is durable before delivery, retried,
//! listed in the notification log and counted like every other message.
//!
//! [`IncidentMailer`] is a handle the web layer holds (made by
//! [`super::NotifyService::incident_mailer`]); it looks addresses up in the accounts, renders
//! the mail (every incident text escaped in the HTML body) and wakes the delivery task.
//! Users without an address are skipped and counted (`no_recipient`), as for alerts.

use std::fmt::Write;
use std::sync::{Arc, Mutex};

use super::outbox::{Body, NewNotification};
use super::{Kind, Outbox, Recipient};
use crate::accounts::Accounts;
use crate::event::now_ns;
use crate::incidents::Incident;
use crate::metrics::metrics;
use crate::web::pages::escape;

/// What happened to the incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncidentNews {
    /// Handed to the recipients by `by`, with a comment.
    Transferred { by: String, comment: Option<String> },
    /// A final resolution line by `by`.
    Resolved { by: String },
    /// Closed by `by`.
    Closed { by: String },
}

impl IncidentNews {
    fn tag(&self) -> &'static str {
        match self {
            IncidentNews::Transferred { .. } => "TRANSFERRED",
            IncidentNews::Resolved { .. } => "RESOLVED",
            IncidentNews::Closed { .. } => "CLOSED",
        }
    }

    fn sentence(&self) -> String {
        match self {
            IncidentNews::Transferred { by, comment: None } => {
                format!("{by} transferred this incident to you.")
            }
            IncidentNews::Transferred {
                by,
                comment: Some(c),
            } => format!("{by} transferred this incident to you: {c}"),
            IncidentNews::Resolved { by } => format!("{by} resolved this incident."),
            IncidentNews::Closed { by } => format!("{by} closed this incident."),
        }
    }
}

/// See the module documentation; cheap to clone.
#[derive(Clone)]
pub struct IncidentMailer {
    pub(super) outbox: Arc<Mutex<Outbox>>,
    pub(super) wake: Arc<tokio::sync::Notify>,
    pub(super) accounts: Arc<Accounts>,
    pub(super) base_url: String,
}

/// The mail's subject: `[INCIDENT RESOLVED] 2026/NETWORK/3: Core switch down`.
pub fn subject(incident: &Incident, news: &IncidentNews) -> String {
    let title: String = incident
        .title
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(150)
        .collect();
    format!("[INCIDENT {}] {}: {title}", news.tag(), incident.reference)
}

/// The text and HTML bodies.
pub fn bodies(incident: &Incident, news: &IncidentNews, base_url: &str) -> (String, String) {
    let url = format!("{base_url}/incidents/{}", incident.id);
    let last = incident.resolutions.last();
    let mut text = String::new();
    let _ = writeln!(text, "{}\n", news.sentence());
    let _ = writeln!(text, "{} — {}", incident.reference, incident.title);
    let _ = writeln!(
        text,
        "State: {}; severity: {}; category: {}; host: {}",
        incident.state.as_str(),
        incident.severity.as_str(),
        incident.category,
        incident.host.as_deref().unwrap_or("-")
    );
    if !incident.description.is_empty() {
        let _ = writeln!(text, "\n{}", incident.description);
    }
    if let Some(r) = last {
        let _ = writeln!(text, "\nLatest resolution line ({}):\n{}", r.by, r.text);
    }
    let _ = writeln!(text, "\n{url}\n\n-- \ntrapline {base_url}/");
    let mut html = String::from("<!doctype html><html><body>");
    let _ = write!(
        html,
        "<p>{}</p><h2>{} — {}</h2><p>State: {}; severity: {}; category: {}; host: {}</p>",
        escape(&news.sentence()),
        escape(&incident.reference),
        escape(&incident.title),
        incident.state.as_str(),
        incident.severity.as_str(),
        escape(&incident.category),
        escape(incident.host.as_deref().unwrap_or("-"))
    );
    if !incident.description.is_empty() {
        let _ = write!(html, "<pre>{}</pre>", escape(&incident.description));
    }
    if let Some(r) = last {
        let _ = write!(
            html,
            "<p>Latest resolution line ({}):</p><pre>{}</pre>",
            escape(&r.by),
            escape(&r.text)
        );
    }
    let _ = write!(
        html,
        "<p><a href=\"{0}\">{0}</a></p></body></html>",
        escape(&url)
    );
    (text, html)
}

impl IncidentMailer {
    /// Queues a scheduled report to each of `addresses` (kind `report`); returns how many
    /// were queued.
    pub fn mail_report(
        &self,
        addresses: &[String],
        subject: &str,
        text: &str,
        html: &str,
    ) -> usize {
        let mut queued = 0;
        for address in addresses {
            let new = NewNotification {
                recipient: Recipient::Mail(address.clone()),
                kind: Kind::Report,
                subject: subject.to_string(),
                body: Body::Mail {
                    text: text.to_string(),
                    html: html.to_string(),
                },
                alert_ids: Vec::new(),
                more: 0,
            };
            let written = self
                .outbox
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .enqueue(new, now_ns());
            match written {
                Ok(_) => queued += 1,
                Err(error) => tracing::error!(%error, "Report mail not written."),
            }
        }
        if queued > 0 {
            self.wake.notify_one();
        }
        queued
    }

    /// Queues one mail per user of `names` with an address (duplicates and `except`, the one
    /// who acted, left out); returns how many were queued. Never fails the caller: a mail
    /// that cannot be written is logged and counted.
    pub fn tell(
        &self,
        incident: &Incident,
        news: &IncidentNews,
        names: &[String],
        except: &str,
    ) -> usize {
        let mut seen: Vec<&str> = Vec::new();
        let mut queued = 0;
        let (text, html) = bodies(incident, news, &self.base_url);
        let subject = subject(incident, news);
        for name in names {
            if name == except || seen.contains(&name.as_str()) {
                continue;
            }
            seen.push(name);
            let address = match self.accounts.user(name) {
                Ok(Some(user)) => user.email,
                Ok(None) => None,
                Err(error) => {
                    tracing::warn!(%error, user = %name, "Cannot read a user for an incident mail.");
                    None
                }
            };
            let Some(address) = address else {
                metrics()
                    .notifications
                    .with_label_values(&["mail", "no_recipient"])
                    .inc();
                tracing::info!(user = %name, incident = %incident.reference, "No mail address: not told of the incident.");
                continue;
            };
            let new = NewNotification {
                recipient: Recipient::Mail(address),
                kind: Kind::Incident,
                subject: subject.clone(),
                body: Body::Mail {
                    text: text.clone(),
                    html: html.clone(),
                },
                alert_ids: incident.alert_ids.clone(),
                more: 0,
            };
            let written = self
                .outbox
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .enqueue(new, now_ns());
            match written {
                Ok(_) => queued += 1,
                Err(error) => {
                    tracing::error!(%error, incident = %incident.reference, "Incident mail not written.")
                }
            }
        }
        if queued > 0 {
            self.wake.notify_one();
        }
        queued
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incidents::{NewIncident, Source, lifecycle};

    #[test]
    fn mails_name_the_incident_and_escape_its_text() {
        let mut incident = lifecycle::open(
            &NewIncident {
                title: "<script>x</script>".into(),
                description: "a & b".into(),
                category: Some("network".into()),
                severity: None,
                source: Source::Contact,
                alert_ids: Vec::new(),
                host: None,
                occurred_at_ns: None,
                followers: Vec::new(),
            },
            3,
            "2026/NETWORK/3".into(),
            "viv",
            0,
        )
        .unwrap();
        lifecycle::resolve(&mut incident, "otto", "swapped <it>", true, 1).unwrap();
        let news = IncidentNews::Resolved { by: "otto".into() };
        assert_eq!(
            subject(&incident, &news),
            "[INCIDENT RESOLVED] 2026/NETWORK/3: <script>x</script>"
        );
        let (text, html) = bodies(&incident, &news, "http://t.example");
        assert!(text.contains("otto resolved this incident."));
        assert!(text.contains("http://t.example/incidents/3"));
        assert!(text.contains("swapped <it>"));
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;") && html.contains("a &amp; b"));
    }
}
