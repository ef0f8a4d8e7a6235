//! Messages from [`Outgoing`]s: mail subjects and bodies (text and HTML), webhook JSON.
//!
//! Everything here is device text (host, summary, the latest message): the HTML body escapes
//! every such string ([`crate::web::pages::escape`]), the subject has control characters
//! (CR/LF: header injection) replaced and is cut at [`MAX_SUBJECT_CHARS`], and messages are
//! cut at [`MAX_MESSAGE_CHARS`] — a message is bounded by the number of alerts listed
//! (`max_alerts_per_message`) times these. Templates are Rust format strings on purpose: the
//! shape of a mail is part of the product and is tested, not a file an operator edits.

use std::fmt::Write;

use serde_json::{Value, json};

use super::{AlertDigest, Kind, Outgoing};
use crate::config::WebhookFormat;
use crate::event::{Level, format_ns};
use crate::web::pages::escape;

/// Longest subject.
pub const MAX_SUBJECT_CHARS: usize = 200;
/// Longest event message quoted per alert.
pub const MAX_MESSAGE_CHARS: usize = 1000;

/// A mail ready for the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailContent {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The console link of an alert.
pub fn alert_url(base_url: &str, id: u64) -> String {
    format!("{base_url}/?alert={id}")
}

/// One line, no control characters, at most `max` characters (`…` when cut).
fn one_line(text: &str, max: usize) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match clean.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &clean[..at]),
        None => clean,
    }
}

/// A message quoted in a mail: at most [`MAX_MESSAGE_CHARS`], control characters but
/// newlines and tabs replaced.
fn quoted(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                ' '
            } else {
                c
            }
        })
        .collect();
    match clean.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((at, _)) => format!("{}…", &clean[..at]),
        None => clean,
    }
}

fn level_tag(level: Level) -> String {
    level.as_str().to_ascii_uppercase()
}

fn highest_level(alerts: &[AlertDigest]) -> Level {
    alerts.iter().map(|a| a.level).max().unwrap_or(Level::None)
}

/// The subject: kind, level, host and summary (`[CRITICAL] db1: Disk full`), or the first
/// alert and a count for a group (`[CRITICAL] 12 alerts — db1: Disk full, …`).
pub fn subject(out: &Outgoing) -> String {
    let total = out.alerts.len() as u64 + out.more;
    let prefix = match out.kind {
        Kind::Firing | Kind::System | Kind::Incident | Kind::Report => String::new(),
        Kind::Escalation => "[ESCALATED]".into(),
        Kind::Repeat => "[REMINDER]".into(),
        Kind::Resolved => "[RESOLVED]".into(),
        Kind::Transfer => "[TRANSFERRED]".into(),
    };
    let level = level_tag(highest_level(&out.alerts));
    let text = match out.alerts.first() {
        None => format!("{prefix}[{level}] {total} alerts"),
        Some(first) if total == 1 => {
            format!("{prefix}[{level}] {}: {}", first.host, first.summary)
        }
        Some(first) => format!(
            "{prefix}[{level}] {total} alerts — {}: {}, …",
            first.host, first.summary
        ),
    };
    one_line(&text, MAX_SUBJECT_CHARS)
}

fn intro(out: &Outgoing) -> &'static str {
    match out.kind {
        Kind::Firing => "New alerts need attention.",
        Kind::Escalation => "These alerts were not acknowledged in time and are escalated to you.",
        Kind::Repeat => "These alerts are still open.",
        Kind::Resolved => "These alerts are resolved.",
        Kind::Transfer => "An alert was transferred to you.",
        Kind::System | Kind::Incident | Kind::Report => "A message from trapline.",
    }
}

/// The whole mail for `out`.
pub fn mail(out: &Outgoing, base_url: &str) -> MailContent {
    MailContent {
        subject: subject(out),
        text: text_body(out, base_url),
        html: html_body(out, base_url),
    }
}

fn text_body(out: &Outgoing, base_url: &str) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "{}", intro(out));
    if let Some(note) = &out.note {
        let _ = writeln!(t, "\n{}", quoted(note));
    }
    for a in &out.alerts {
        let _ = writeln!(
            t,
            "\n[{}] {} — {}",
            level_tag(a.level),
            one_line(&a.host, 255),
            one_line(&a.summary, 500)
        );
        let _ = writeln!(
            t,
            "  state {}, rule {}{}, {} event(s), first seen {}, last seen {}",
            a.state.as_str(),
            one_line(&a.rule, 100),
            a.category
                .as_deref()
                .map(|c| format!(", category {}", one_line(c, 100)))
                .unwrap_or_default(),
            a.count,
            format_ns(a.first_seen_ns),
            format_ns(a.last_seen_ns)
        );
        if let Some(message) = &a.latest_message {
            let _ = writeln!(t, "  latest message: {}", quoted(message));
        }
        let _ = writeln!(t, "  {}", alert_url(base_url, a.id));
    }
    if out.more > 0 {
        let _ = writeln!(t, "\n… and {} more alert(s): {base_url}/", out.more);
    }
    let _ = writeln!(t, "\n-- \ntrapline {base_url}/");
    t
}

fn html_body(out: &Outgoing, base_url: &str) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html><body style=\"font-family:sans-serif\"><p>{}</p>",
        escape(intro(out))
    );
    if let Some(note) = &out.note {
        let _ = write!(h, "<p><strong>{}</strong></p>", escape(&quoted(note)));
    }
    let _ = write!(
        h,
        "<table cellpadding=\"4\" style=\"border-collapse:collapse\"><tr><th align=\"left\">Level</th><th align=\"left\">Host</th><th align=\"left\">Summary</th><th align=\"left\">State</th><th align=\"left\">Events</th><th align=\"left\">Last seen</th></tr>"
    );
    for a in &out.alerts {
        let url = escape(&alert_url(base_url, a.id));
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td><a href=\"{url}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&level_tag(a.level)),
            escape(&one_line(&a.host, 255)),
            escape(&one_line(&a.summary, 500)),
            escape(a.state.as_str()),
            a.count,
            escape(&format_ns(a.last_seen_ns)),
        );
        if let Some(message) = &a.latest_message {
            let _ = write!(
                h,
                "<tr><td></td><td colspan=\"5\"><pre style=\"white-space:pre-wrap;margin:0\">{}</pre></td></tr>",
                escape(&quoted(message))
            );
        }
    }
    h.push_str("</table>");
    if out.more > 0 {
        let _ = write!(
            h,
            "<p>… and {} more alert(s): <a href=\"{}/\">open the console</a></p>",
            out.more,
            escape(base_url)
        );
    }
    let _ = write!(
        h,
        "<p style=\"color:#777\">trapline — <a href=\"{0}/\">{0}</a></p></body></html>",
        escape(base_url)
    );
    h
}

/// The JSON body of a webhook call for `out`.
pub fn webhook(out: &Outgoing, base_url: &str, receiver: &str, format: WebhookFormat) -> Value {
    match format {
        WebhookFormat::Trapline => trapline_payload(out, base_url, receiver),
        WebhookFormat::Alertmanager => alertmanager_payload(out, base_url, receiver),
    }
}

fn alert_json(a: &AlertDigest, base_url: &str) -> Value {
    json!({
        "id": a.id,
        "rule": a.rule,
        "state": a.state.as_str(),
        "level": a.level.as_str(),
        "category": a.category,
        "host": a.host,
        "summary": a.summary,
        "count": a.count,
        "first_seen": format_ns(a.first_seen_ns),
        "last_seen": format_ns(a.last_seen_ns),
        "latest_message": a.latest_message.as_deref().map(quoted),
        "url": alert_url(base_url, a.id),
    })
}

fn trapline_payload(out: &Outgoing, base_url: &str, receiver: &str) -> Value {
    json!({
        "version": 1,
        "receiver": receiver,
        "kind": out.kind.as_str(),
        "subject": subject(out),
        "note": out.note,
        "alerts": out.alerts.iter().map(|a| alert_json(a, base_url)).collect::<Vec<_>>(),
        "more": out.more,
        "console": format!("{base_url}/"),
    })
}

/// Alertmanager's webhook payload (version 4), so receivers written for Alertmanager —
/// chat bridges, SMS gateways — take trapline's calls unchanged.
fn alertmanager_payload(out: &Outgoing, base_url: &str, receiver: &str) -> Value {
    let resolved = out.kind == Kind::Resolved;
    let status = if resolved { "resolved" } else { "firing" };
    let alerts: Vec<Value> = out
        .alerts
        .iter()
        .map(|a| {
            let mut labels = json!({
                "alertname": a.rule,
                "host": a.host,
                "instance": a.host,
                "severity": a.level.as_str(),
                "trapline_alert_id": a.id.to_string(),
            });
            if let Some(category) = &a.category {
                labels["category"] = json!(category);
            }
            let mut annotations = json!({"summary": a.summary});
            if let Some(message) = &a.latest_message {
                annotations["description"] = json!(quoted(message));
            }
            if let Some(note) = &out.note {
                annotations["note"] = json!(note);
            }
            json!({
                "status": status,
                "labels": labels,
                "annotations": annotations,
                "startsAt": chrono_rfc3339(a.first_seen_ns),
                "endsAt": if resolved { chrono_rfc3339(a.last_seen_ns) } else { "0001-01-01T00:00:00Z".to_string() },
                "generatorURL": alert_url(base_url, a.id),
                "fingerprint": format!("{:016x}", a.id),
            })
        })
        .collect();
    let common_severity = highest_level(&out.alerts).as_str();
    json!({
        "version": "4",
        "groupKey": format!("{{}}:{{receiver=\"{receiver}\",kind=\"{}\"}}", out.kind.as_str()),
        "truncatedAlerts": out.more,
        "status": status,
        "receiver": receiver,
        "groupLabels": {},
        "commonLabels": {"severity": common_severity},
        "commonAnnotations": {},
        "externalURL": base_url,
        "alerts": alerts,
    })
}

/// RFC 3339 with second precision, as Alertmanager writes times.
fn chrono_rfc3339(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::AlertState;
    use crate::notify::Recipient;
    use crate::notify::router::tests::digest;

    fn outgoing(kind: Kind, alerts: Vec<AlertDigest>, more: u64) -> Outgoing {
        Outgoing {
            recipient: Recipient::Mail("a@x".into()),
            kind,
            alerts,
            more,
            note: None,
        }
    }

    #[test]
    fn subject_names_level_host_and_summary_and_device_text_is_escaped_in_html() {
        let mut a = digest(42, Level::Critical, AlertState::Open);
        a.host = "rtr\"1".into();
        a.summary = "<script>alert('x')</script> &\r\nBcc: evil@x".into();
        a.latest_message = Some("line <b>1</b>\nline 2".into());
        let m = mail(
            &outgoing(Kind::Firing, vec![a.clone()], 0),
            "https://tl.example",
        );
        assert!(
            m.subject.starts_with("[CRITICAL] rtr\"1: <script>"),
            "{}",
            m.subject
        );
        assert!(!m.subject.contains('\n') && !m.subject.contains('\r'));
        assert!(m.text.contains("latest message: line <b>1</b>\nline 2"));
        assert!(m.text.contains("https://tl.example/?alert=42"));
        assert!(!m.html.contains("<script>") && !m.html.contains("<b>1"));
        assert!(
            m.html
                .contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp;")
        );
        assert!(m.html.contains("rtr&quot;1"));
        assert!(m.html.contains("href=\"https://tl.example/?alert=42\""));

        let group = outgoing(
            Kind::Resolved,
            vec![a.clone(), digest(2, Level::Warning, AlertState::Cleared)],
            8,
        );
        assert!(subject(&group).starts_with("[RESOLVED][CRITICAL] 10 alerts — rtr\"1:"));
        assert!(
            mail(&group, "http://x")
                .text
                .contains("… and 8 more alert(s)")
        );
        let long = digest(3, Level::Low, AlertState::Open);
        let mut long = long;
        long.summary = "x".repeat(1000);
        assert!(
            subject(&outgoing(Kind::Firing, vec![long], 0))
                .chars()
                .count()
                <= MAX_SUBJECT_CHARS + 1
        );
    }

    #[test]
    fn alertmanager_payload_has_the_fields_receivers_read() {
        let a = digest(5, Level::Warning, AlertState::Cleared);
        let v = webhook(
            &outgoing(Kind::Resolved, vec![a], 0),
            "http://x",
            "chat",
            WebhookFormat::Alertmanager,
        );
        assert_eq!(v["version"], "4");
        assert_eq!(v["status"], "resolved");
        assert_eq!(v["receiver"], "chat");
        assert_eq!(v["alerts"][0]["labels"]["alertname"], "r");
        assert_eq!(v["alerts"][0]["labels"]["severity"], "warning");
        assert_eq!(v["alerts"][0]["annotations"]["summary"], "summary 5");
        assert_eq!(v["alerts"][0]["generatorURL"], "http://x/?alert=5");
        let v = webhook(
            &outgoing(
                Kind::Firing,
                vec![digest(6, Level::Critical, AlertState::Open)],
                2,
            ),
            "http://x",
            "chat",
            WebhookFormat::Trapline,
        );
        assert_eq!(v["kind"], "firing");
        assert_eq!(v["alerts"][0]["id"], 6);
        assert_eq!(v["more"], 2);
    }
}
