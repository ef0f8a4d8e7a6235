//! Incidents: tickets that people open, qualify, hand over, resolve and close — the origin
//! design's follow-up of what went wrong, from the first phone call to the knowledge base.
//!
//! - [`Incident`] is the stored record (times in Unix nanoseconds); [`IncidentJson`] its API
//!   form (the contract's fields plus `host`, `occurred_at`, `opened_at`, `closed_at`,
//!   `history`).
//! - `lifecycle`: the rules, as pure functions over an incident and the time
//!   ([`lifecycle::open`], [`lifecycle::qualify`], [`lifecycle::resolve`],
//!   [`lifecycle::transfer`], [`lifecycle::close`]); every change is a history line (who,
//!   when, what). Refusals are a [`LifecycleError`].
//! - `store` ([`IncidentStore`]): record trees `incidents` (id → JSON) and
//!   `incident_counters` (the next id, and one counter per year and category for the
//!   reference `YEAR/CATEGORY/N`).
//! - `search`: lists (filters, paging) and the knowledge base (closed incidents kept there,
//!   searched by lowercase words over title, description and resolutions; bounded scans).
//! - `export`: CSV and JSON lines for a period; `pdf`: one incident as a PDF (pdf-writer,
//!   the standard fonts, nothing external); `archive`: old closed incidents moved to
//!   `DATA/archive/incidents-YYYY.jsonl`.
//!
//! What this module does not do: decide who may edit (that is `web::roles`), send mail
//! (`notify::incident` renders and queues it) or know HTTP.

pub mod archive;
pub mod export;
pub mod lifecycle;
pub mod pdf;
pub mod search;
pub mod store;

use serde::{Deserialize, Serialize};

pub use lifecycle::{IncidentPatch, LifecycleError, NewIncident};
pub use search::{IncidentPage, IncidentQuery};
pub use store::{IncidentError, IncidentStore};

use crate::event::format_ns;

/// How bad it is, as the origin design colours it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Green,
    Orange,
    Red,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Green, Severity::Orange, Severity::Red];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Green => "green",
            Severity::Orange => "orange",
            Severity::Red => "red",
        }
    }

    pub fn parse(text: &str) -> Option<Severity> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The severity an incident opened from an alert starts with: critical is red, warning
    /// orange, the rest green (the opener qualifies it afterwards).
    pub fn of_level(level: crate::event::Level) -> Severity {
        match level {
            crate::event::Level::Critical => Severity::Red,
            crate::event::Level::Warning => Severity::Orange,
            _ => Severity::Green,
        }
    }
}

/// How trapline learnt of the incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Opened from an alert (its message, category and date prefilled).
    Alert,
    /// Somebody called or wrote.
    Contact,
    /// Somebody saw it (a screen, a blinking light).
    Visual,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Alert => "alert",
            Source::Contact => "contact",
            Source::Visual => "visual",
        }
    }

    pub fn parse(text: &str) -> Option<Source> {
        [Source::Alert, Source::Contact, Source::Visual]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// Where an incident is in its life (the contract's `state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentState {
    /// Opened, nothing done yet.
    Open,
    /// A resolution line that is not final was added.
    InProgress,
    /// A final resolution line was added: waiting for an operator to close it.
    Resolved,
    /// Closed by an operator; changes no more (but for leaving the knowledge base).
    Closed,
}

impl IncidentState {
    pub const ALL: [IncidentState; 4] = [
        IncidentState::Open,
        IncidentState::InProgress,
        IncidentState::Resolved,
        IncidentState::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IncidentState::Open => "open",
            IncidentState::InProgress => "in_progress",
            IncidentState::Resolved => "resolved",
            IncidentState::Closed => "closed",
        }
    }

    pub fn parse(text: &str) -> Option<IncidentState> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// One resolution line: what somebody did about it, and whether that settles it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    pub by: String,
    pub at_ns: i64,
    pub text: String,
    /// A final line resolves the incident; another one sets it in progress.
    #[serde(rename = "final")]
    pub final_: bool,
}

/// One line of an incident's history: who changed what, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub at_ns: i64,
    pub by: String,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// An incident as stored; see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    pub id: u64,
    /// `YEAR/CATEGORY/N`, given at opening and never changed (a re-qualified category keeps
    /// the reference people already quote).
    pub reference: String,
    pub title: String,
    pub description: String,
    /// Lower case (the reference shows it in upper case).
    pub category: String,
    pub severity: Severity,
    pub source: Source,
    pub alert_ids: Vec<u64>,
    /// The host concerned, when known (links the knowledge base's entries of that host).
    pub host: Option<String>,
    pub state: IncidentState,
    pub opened_by: String,
    pub opened_at_ns: i64,
    /// When it happened (from the alert's first event, or as told), which may precede the
    /// opening.
    pub occurred_at_ns: i64,
    /// Who works on it (on-call people it was transferred to).
    pub assignees: Vec<String>,
    /// Who is told of its resolution and closing.
    pub followers: Vec<String>,
    pub resolutions: Vec<Resolution>,
    /// Kept in the knowledge base (closed incidents only).
    pub knowledge_base: bool,
    pub closed_at_ns: Option<i64>,
    pub closed_by: Option<String>,
    pub updated_at_ns: i64,
    pub history: Vec<Change>,
}

/// The contract's incident JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IncidentJson {
    pub id: u64,
    pub reference: String,
    pub title: String,
    pub description: String,
    pub category: String,
    pub severity: Severity,
    pub source: Source,
    pub alert_ids: Vec<u64>,
    pub host: Option<String>,
    pub state: IncidentState,
    pub opened_by: String,
    pub opened_at: String,
    pub occurred_at: String,
    pub assignees: Vec<String>,
    pub followers: Vec<String>,
    pub resolutions: Vec<ResolutionJson>,
    pub knowledge_base: bool,
    pub closed_at: Option<String>,
    pub closed_by: Option<String>,
    pub updated_at: String,
    pub history: Vec<ChangeJson>,
}

/// A resolution line in the API.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResolutionJson {
    pub by: String,
    pub at: String,
    pub text: String,
    #[serde(rename = "final")]
    pub final_: bool,
}

/// A history line in the API.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangeJson {
    pub at: String,
    pub by: String,
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Incident {
    /// The API form.
    pub fn to_json(&self) -> IncidentJson {
        IncidentJson {
            id: self.id,
            reference: self.reference.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            category: self.category.clone(),
            severity: self.severity,
            source: self.source,
            alert_ids: self.alert_ids.clone(),
            host: self.host.clone(),
            state: self.state,
            opened_by: self.opened_by.clone(),
            opened_at: format_ns(self.opened_at_ns),
            occurred_at: format_ns(self.occurred_at_ns),
            assignees: self.assignees.clone(),
            followers: self.followers.clone(),
            resolutions: self
                .resolutions
                .iter()
                .map(|r| ResolutionJson {
                    by: r.by.clone(),
                    at: format_ns(r.at_ns),
                    text: r.text.clone(),
                    final_: r.final_,
                })
                .collect(),
            knowledge_base: self.knowledge_base,
            closed_at: self.closed_at_ns.map(format_ns),
            closed_by: self.closed_by.clone(),
            updated_at: format_ns(self.updated_at_ns),
            history: self
                .history
                .iter()
                .map(|c| ChangeJson {
                    at: format_ns(c.at_ns),
                    by: c.by.clone(),
                    action: c.action.clone(),
                    detail: c.detail.clone(),
                })
                .collect(),
        }
    }

    /// Everything the knowledge base searches, lower case: title, description, resolutions,
    /// reference, category and host.
    pub fn searchable_text(&self) -> String {
        let mut text = format!(
            "{} {} {} {} {}",
            self.title,
            self.description,
            self.reference,
            self.category,
            self.host.as_deref().unwrap_or("")
        );
        for r in &self.resolutions {
            text.push(' ');
            text.push_str(&r.text);
        }
        text.to_lowercase()
    }
}

/// Record-tree key of incident `id`: zero-padded so key order is id order.
pub fn record_key(id: u64) -> String {
    format!("{id:020}")
}
