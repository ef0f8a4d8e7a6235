//! The incident lifecycle as pure functions: an incident, who acts, the time in; the incident
//! changed (with a history line) or a [`LifecycleError`] out. No store, no clock, no roles.
//!
//! ```text
//! open ──resolution (not final)──► in_progress ──resolution (final)──► resolved ──close──► closed
//!   └───────────────resolution (final)──────────────────────────────────┘   │
//!                      ▲──────────── resolution (not final): reopened ───────┘
//! ```
//! Qualifying (title, description, category, severity, host, followers) and transferring
//! work until the incident is closed; closing needs it resolved. A closed incident changes
//! no more, but for leaving or entering the knowledge base.
//!
//! Every text is bounded here (titles, descriptions, resolution lines, name lists), so a
//! record never grows without limit whatever a client sends.

use super::{Change, Incident, IncidentState, Resolution, Severity, Source};

/// Longest title, in characters.
pub const MAX_TITLE: usize = 200;
/// Longest description or resolution line, in characters (device output pasted in fits).
pub const MAX_TEXT: usize = 10_000;
/// Longest category, in characters.
pub const MAX_CATEGORY: usize = 40;
/// Most assignees or followers.
pub const MAX_PEOPLE: usize = 50;
/// Most alerts an incident names.
pub const MAX_ALERTS: usize = 100;
/// Most resolution lines.
pub const MAX_RESOLUTIONS: usize = 500;
/// Most history lines kept (the first, opening it, always stays).
pub const MAX_HISTORY: usize = 1000;
/// Longest host name.
pub const MAX_HOST: usize = 255;
/// The category of an incident opened without one (qualify it later; its reference keeps
/// `GENERAL`).
pub const DEFAULT_CATEGORY: &str = "general";

/// Why a change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    /// A field is missing, too long or malformed.
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// The state does not allow it (e.g. closing an incident that is not resolved).
    #[error("cannot {action} an incident that is {state}")]
    NotAllowed {
        action: &'static str,
        state: &'static str,
    },
}

fn invalid(field: &'static str, reason: impl Into<String>) -> LifecycleError {
    LifecycleError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// What opening an incident needs; the rest is set by [`open`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIncident {
    pub title: String,
    pub description: String,
    pub category: Option<String>,
    pub severity: Option<Severity>,
    pub source: Source,
    pub alert_ids: Vec<u64>,
    pub host: Option<String>,
    /// When it happened; the opening time when `None`.
    pub occurred_at_ns: Option<i64>,
    pub followers: Vec<String>,
}

/// A qualification: each `Some` field is set, the others stay. `host: Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub severity: Option<Severity>,
    pub host: Option<Option<String>>,
    pub followers: Option<Vec<String>>,
    pub knowledge_base: Option<bool>,
}

impl IncidentPatch {
    /// True when it changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == IncidentPatch::default()
    }

    /// True when it changes only the knowledge-base flag (what a closed incident allows).
    pub fn only_knowledge_base(&self) -> bool {
        self.knowledge_base.is_some()
            && IncidentPatch {
                knowledge_base: None,
                ..self.clone()
            }
            .is_empty()
    }
}

/// The category as stored: trimmed, lower case, 1 to [`MAX_CATEGORY`] letters, digits, `-`,
/// `_` or `.` (it becomes a path segment of the reference, so no `/`).
pub fn normalize_category(text: &str) -> Result<String, LifecycleError> {
    let category = text.trim().to_lowercase();
    if category.is_empty() || category.chars().count() > MAX_CATEGORY {
        return Err(invalid(
            "category",
            format!("1 to {MAX_CATEGORY} characters"),
        ));
    }
    if !category
        .chars()
        .all(|c| c.is_alphanumeric() || "-_.".contains(c))
    {
        return Err(invalid("category", "letters, digits, '-', '_' or '.' only"));
    }
    Ok(category)
}

/// The reference of the `n`th incident of `category` opened in `year`: `2026/NETWORK/12`.
pub fn reference(year: i32, category: &str, n: u64) -> String {
    format!("{year}/{}/{n}", category.to_uppercase())
}

/// The calendar year (UTC) of a time, which numbers references.
pub fn year_of(at_ns: i64) -> i32 {
    use chrono::Datelike;
    chrono::DateTime::from_timestamp_nanos(at_ns).year()
}

fn title(text: &str) -> Result<String, LifecycleError> {
    let text = one_line(text);
    if text.is_empty() || text.chars().count() > MAX_TITLE {
        return Err(invalid("title", format!("1 to {MAX_TITLE} characters")));
    }
    Ok(text)
}

/// Control characters (a device's escape sequences) become spaces; runs of blanks shrink.
fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn long_text(field: &'static str, text: &str, required: bool) -> Result<String, LifecycleError> {
    let text: String = text
        .trim()
        .chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                ' '
            } else {
                c
            }
        })
        .collect();
    if required && text.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if text.chars().count() > MAX_TEXT {
        return Err(invalid(field, format!("at most {MAX_TEXT} characters")));
    }
    Ok(text)
}

fn host(text: Option<&str>) -> Result<Option<String>, LifecycleError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if text.len() > MAX_HOST || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            "host",
            format!("one word, at most {MAX_HOST} bytes"),
        ));
    }
    Ok(Some(text.to_ascii_lowercase()))
}

/// User names: trimmed, deduplicated, in order, at most [`MAX_PEOPLE`], each 1 to 64
/// characters (whether they exist is the caller's check: it knows the accounts).
pub fn people(field: &'static str, names: &[String]) -> Result<Vec<String>, LifecycleError> {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        let name = name.trim();
        if name.is_empty() || name.len() > 64 {
            return Err(invalid(field, "user names of 1 to 64 characters"));
        }
        if !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
    }
    if out.len() > MAX_PEOPLE {
        return Err(invalid(field, format!("at most {MAX_PEOPLE} users")));
    }
    Ok(out)
}

/// Appends a history line, keeping the first and the newest `MAX_HISTORY - 1`.
fn record(incident: &mut Incident, at_ns: i64, by: &str, action: &str, detail: Option<String>) {
    if incident.history.len() >= MAX_HISTORY {
        incident.history.remove(1);
    }
    incident.history.push(Change {
        at_ns,
        by: by.to_string(),
        action: action.to_string(),
        detail,
    });
    incident.updated_at_ns = incident.updated_at_ns.max(at_ns);
}

/// The checked fields of a new incident, before it has an id and a reference: the store
/// needs the category and the year to number it.
pub fn validate_new(new: &NewIncident) -> Result<NewIncident, LifecycleError> {
    if new.alert_ids.len() > MAX_ALERTS {
        return Err(invalid("alert_ids", format!("at most {MAX_ALERTS}")));
    }
    if new.source == Source::Alert && new.alert_ids.is_empty() {
        return Err(invalid("source", "alert needs the alert it comes from"));
    }
    Ok(NewIncident {
        title: title(&new.title)?,
        description: long_text("description", &new.description, false)?,
        category: Some(normalize_category(
            new.category.as_deref().unwrap_or(DEFAULT_CATEGORY),
        )?),
        severity: new.severity,
        source: new.source,
        alert_ids: new.alert_ids.clone(),
        host: host(new.host.as_deref())?,
        occurred_at_ns: new.occurred_at_ns,
        followers: people("followers", &new.followers)?,
    })
}

/// A new incident with `id` and `reference`, opened by `by` at `now_ns`, state open. The
/// severity is orange until qualified (neither "all is fine" nor "all hands").
pub fn open(
    new: &NewIncident,
    id: u64,
    reference: String,
    by: &str,
    now_ns: i64,
) -> Result<Incident, LifecycleError> {
    let new = validate_new(new)?;
    let mut incident = Incident {
        id,
        reference,
        title: new.title,
        description: new.description,
        category: new.category.unwrap_or_else(|| DEFAULT_CATEGORY.into()),
        severity: new.severity.unwrap_or(Severity::Orange),
        source: new.source,
        alert_ids: new.alert_ids,
        host: new.host,
        state: IncidentState::Open,
        opened_by: by.to_string(),
        opened_at_ns: now_ns,
        occurred_at_ns: new.occurred_at_ns.unwrap_or(now_ns),
        assignees: Vec::new(),
        followers: new.followers,
        resolutions: Vec::new(),
        knowledge_base: false,
        closed_at_ns: None,
        closed_by: None,
        updated_at_ns: now_ns,
        history: Vec::new(),
    };
    let detail = format!("{} ({})", incident.reference, incident.source.as_str());
    record(&mut incident, now_ns, by, "open", Some(detail));
    Ok(incident)
}

fn not_allowed(action: &'static str, state: IncidentState) -> LifecycleError {
    LifecycleError::NotAllowed {
        action,
        state: state.as_str(),
    }
}

/// Applies a qualification; records one history line naming the fields changed. A closed
/// incident takes only `knowledge_base`; an open one cannot enter the knowledge base.
pub fn qualify(
    incident: &mut Incident,
    patch: &IncidentPatch,
    by: &str,
    now_ns: i64,
) -> Result<(), LifecycleError> {
    if patch.is_empty() {
        return Err(invalid(
            "body",
            "nothing to change: send title, description, category, severity, host, followers or knowledge_base",
        ));
    }
    if incident.state == IncidentState::Closed && !patch.only_knowledge_base() {
        return Err(not_allowed("modify", incident.state));
    }
    if patch.knowledge_base == Some(true) && incident.state != IncidentState::Closed {
        return Err(invalid(
            "knowledge_base",
            "only closed incidents enter the knowledge base (close it with knowledge_base)",
        ));
    }
    // Check everything before changing anything: a refused patch leaves no trace.
    let new_title = patch.title.as_deref().map(title).transpose()?;
    let new_description = patch
        .description
        .as_deref()
        .map(|d| long_text("description", d, false))
        .transpose()?;
    let new_category = patch
        .category
        .as_deref()
        .map(normalize_category)
        .transpose()?;
    let new_host = patch
        .host
        .as_ref()
        .map(|h| host(h.as_deref()))
        .transpose()?;
    let new_followers = patch
        .followers
        .as_deref()
        .map(|f| people("followers", f))
        .transpose()?;
    let mut changed = Vec::new();
    if let Some(v) = new_title {
        incident.title = v;
        changed.push("title".to_string());
    }
    if let Some(v) = new_description {
        incident.description = v;
        changed.push("description".to_string());
    }
    if let Some(v) = new_category {
        changed.push(format!("category {v}"));
        incident.category = v;
    }
    if let Some(v) = patch.severity {
        incident.severity = v;
        changed.push(format!("severity {}", v.as_str()));
    }
    if let Some(v) = new_host {
        changed.push(format!("host {}", v.as_deref().unwrap_or("-")));
        incident.host = v;
    }
    if let Some(v) = new_followers {
        changed.push(format!("followers {}", v.join(", ")));
        incident.followers = v;
    }
    if let Some(v) = patch.knowledge_base {
        incident.knowledge_base = v;
        changed.push(format!("knowledge base {}", if v { "in" } else { "out" }));
    }
    record(incident, now_ns, by, "qualify", Some(changed.join("; ")));
    Ok(())
}

/// Adds a resolution line: a final one resolves the incident, another sets it in progress
/// (also reopening a resolved one: the fix did not hold).
pub fn resolve(
    incident: &mut Incident,
    by: &str,
    text: &str,
    final_: bool,
    now_ns: i64,
) -> Result<(), LifecycleError> {
    if incident.state == IncidentState::Closed {
        return Err(not_allowed("resolve", incident.state));
    }
    if incident.resolutions.len() >= MAX_RESOLUTIONS {
        return Err(invalid(
            "text",
            format!("at most {MAX_RESOLUTIONS} resolution lines"),
        ));
    }
    let text = long_text("text", text, true)?;
    incident.resolutions.push(Resolution {
        by: by.to_string(),
        at_ns: now_ns,
        text,
        final_,
    });
    incident.state = if final_ {
        IncidentState::Resolved
    } else {
        IncidentState::InProgress
    };
    let action = if final_ { "resolve" } else { "progress" };
    record(incident, now_ns, by, action, None);
    Ok(())
}

/// Hands the incident to `to` (they become its assignees), with an optional comment. Not
/// once resolved: a resolved incident waits for closing, or a new resolution line.
pub fn transfer(
    incident: &mut Incident,
    to: &[String],
    by: &str,
    comment: Option<&str>,
    now_ns: i64,
) -> Result<(), LifecycleError> {
    if matches!(
        incident.state,
        IncidentState::Resolved | IncidentState::Closed
    ) {
        return Err(not_allowed("transfer", incident.state));
    }
    let to = people("to", to)?;
    if to.is_empty() {
        return Err(invalid("to", "at least one user"));
    }
    let comment = comment
        .map(|c| long_text("comment", c, false))
        .transpose()?
        .filter(|c| !c.is_empty());
    let detail = match &comment {
        Some(c) => format!("to {}: {c}", to.join(", ")),
        None => format!("to {}", to.join(", ")),
    };
    incident.assignees = to;
    record(incident, now_ns, by, "transfer", Some(detail));
    Ok(())
}

/// Closes a resolved incident, into the knowledge base or not.
pub fn close(
    incident: &mut Incident,
    by: &str,
    knowledge_base: bool,
    comment: Option<&str>,
    now_ns: i64,
) -> Result<(), LifecycleError> {
    if incident.state != IncidentState::Resolved {
        return Err(not_allowed("close", incident.state));
    }
    let comment = comment
        .map(|c| long_text("comment", c, false))
        .transpose()?
        .filter(|c| !c.is_empty());
    incident.state = IncidentState::Closed;
    incident.knowledge_base = knowledge_base;
    incident.closed_at_ns = Some(now_ns);
    incident.closed_by = Some(by.to_string());
    let kb = knowledge_base.then_some("into the knowledge base");
    let detail = match (kb, comment) {
        (Some(kb), Some(c)) => Some(format!("{kb}: {c}")),
        (Some(kb), None) => Some(kb.to_string()),
        (None, c) => c,
    };
    record(incident, now_ns, by, "close", detail);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;
    /// 2026-11-23T00:00:00Z.
    const T: i64 = 1_795_392_000 * S;

    fn new(title: &str) -> NewIncident {
        NewIncident {
            title: title.into(),
            description: "the description".into(),
            category: Some(" Network ".into()),
            severity: None,
            source: Source::Contact,
            alert_ids: Vec::new(),
            host: Some("Router1".into()),
            occurred_at_ns: None,
            followers: vec!["ann".into(), " ann ".into(), "bob".into()],
        }
    }

    fn opened() -> Incident {
        open(
            &new("Link down"),
            1,
            reference(2026, "network", 1),
            "viv",
            T,
        )
        .unwrap()
    }

    #[test]
    fn opening_checks_and_normalizes_fields() {
        let i = opened();
        assert_eq!(
            (i.state, i.severity, i.category.as_str(), i.host.as_deref()),
            (
                IncidentState::Open,
                Severity::Orange,
                "network",
                Some("router1")
            )
        );
        assert_eq!(i.reference, "2026/NETWORK/1");
        assert_eq!(i.followers, ["ann", "bob"]);
        assert_eq!(i.occurred_at_ns, T);
        assert_eq!(i.history[0].action, "open");
        let check = |n: NewIncident| open(&n, 1, "r".into(), "x", T).unwrap_err();
        assert!(matches!(
            check(new("  ")),
            LifecycleError::Invalid { field: "title", .. }
        ));
        assert!(matches!(
            check(new(&"x".repeat(MAX_TITLE + 1))),
            LifecycleError::Invalid { field: "title", .. }
        ));
        let mut bad = new("t");
        bad.category = Some("a/b".into());
        assert!(matches!(
            check(bad),
            LifecycleError::Invalid {
                field: "category",
                ..
            }
        ));
        let mut bad = new("t");
        bad.source = Source::Alert;
        assert!(matches!(
            check(bad),
            LifecycleError::Invalid {
                field: "source",
                ..
            }
        ));
        let mut no_category = new("t");
        no_category.category = None;
        assert_eq!(
            open(&no_category, 2, "r".into(), "x", T).unwrap().category,
            DEFAULT_CATEGORY
        );
        // Control characters in a title become spaces.
        assert_eq!(
            open(&new("a\u{1b}[31mb\n c"), 3, "r".into(), "x", T)
                .unwrap()
                .title,
            "a [31mb c"
        );
    }

    #[test]
    fn resolution_lines_move_the_state_and_closing_needs_resolved() {
        let mut i = opened();
        assert_eq!(
            close(&mut i, "olga", false, None, T + S),
            Err(LifecycleError::NotAllowed {
                action: "close",
                state: "open"
            })
        );
        resolve(&mut i, "otto", "rebooted the switch", false, T + S).unwrap();
        assert_eq!(i.state, IncidentState::InProgress);
        resolve(&mut i, "otto", "replaced the SFP", true, T + 2 * S).unwrap();
        assert_eq!(i.state, IncidentState::Resolved);
        assert_eq!(
            transfer(&mut i, &["otto".into()], "olga", None, T + 3 * S),
            Err(LifecycleError::NotAllowed {
                action: "transfer",
                state: "resolved"
            })
        );
        // A line that is not final reopens it; a final one resolves it again.
        resolve(&mut i, "otto", "it failed again", false, T + 3 * S).unwrap();
        assert_eq!(i.state, IncidentState::InProgress);
        resolve(&mut i, "otto", "second SFP", true, T + 4 * S).unwrap();
        assert!(resolve(&mut i, "otto", "  ", true, T + 4 * S).is_err());
        close(&mut i, "olga", true, Some("good write-up"), T + 5 * S).unwrap();
        assert_eq!(i.state, IncidentState::Closed);
        assert!(i.knowledge_base);
        assert_eq!(
            (i.closed_by.as_deref(), i.closed_at_ns),
            (Some("olga"), Some(T + 5 * S))
        );
        assert_eq!(
            close(&mut i, "olga", true, None, T + 6 * S),
            Err(LifecycleError::NotAllowed {
                action: "close",
                state: "closed"
            })
        );
        assert!(resolve(&mut i, "otto", "more", true, T + 6 * S).is_err());
        let actions: Vec<&str> = i.history.iter().map(|c| c.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "open", "progress", "resolve", "progress", "resolve", "close"
            ]
        );
        assert_eq!(i.resolutions.len(), 4);
        assert!(i.resolutions[1].final_);
    }

    #[test]
    fn qualify_and_transfer_record_who_changed_what() {
        let mut i = opened();
        let patch = IncidentPatch {
            severity: Some(Severity::Red),
            category: Some("Security".into()),
            host: Some(None),
            ..IncidentPatch::default()
        };
        qualify(&mut i, &patch, "mona", T + S).unwrap();
        assert_eq!(
            (i.severity, i.category.as_str(), i.host.as_deref()),
            (Severity::Red, "security", None)
        );
        assert_eq!(i.reference, "2026/NETWORK/1", "the reference never changes");
        let last = i.history.last().unwrap();
        assert_eq!(
            (last.by.as_str(), last.action.as_str()),
            ("mona", "qualify")
        );
        assert_eq!(
            last.detail.as_deref(),
            Some("category security; severity red; host -")
        );
        assert!(qualify(&mut i, &IncidentPatch::default(), "mona", T).is_err());
        // A refused patch changes nothing.
        let bad = IncidentPatch {
            title: Some("new title".into()),
            category: Some("no/slash".into()),
            ..IncidentPatch::default()
        };
        assert!(qualify(&mut i, &bad, "mona", T).is_err());
        assert_eq!(i.title, "Link down");
        let kb = IncidentPatch {
            knowledge_base: Some(true),
            ..IncidentPatch::default()
        };
        assert!(matches!(
            qualify(&mut i, &kb, "olga", T),
            Err(LifecycleError::Invalid {
                field: "knowledge_base",
                ..
            })
        ));

        transfer(
            &mut i,
            &["otto".into(), "otto".into()],
            "olga",
            Some("please"),
            T + 2 * S,
        )
        .unwrap();
        assert_eq!(i.assignees, ["otto"]);
        assert_eq!(
            i.history.last().unwrap().detail.as_deref(),
            Some("to otto: please")
        );
        assert!(transfer(&mut i, &[], "olga", None, T).is_err());

        resolve(&mut i, "otto", "done", true, T + 3 * S).unwrap();
        close(&mut i, "olga", false, None, T + 4 * S).unwrap();
        // Closed: only the knowledge-base flag moves.
        assert!(matches!(
            qualify(&mut i, &patch, "olga", T + 5 * S),
            Err(LifecycleError::NotAllowed {
                action: "modify",
                ..
            })
        ));
        qualify(&mut i, &kb, "olga", T + 5 * S).unwrap();
        assert!(i.knowledge_base);
    }

    #[test]
    fn references_use_the_year_and_the_upper_case_category() {
        assert_eq!(reference(2026, "network", 7), "2026/NETWORK/7");
        assert_eq!(year_of(T), 2026);
        assert_eq!(year_of(T - 365 * 86_400 * S), 2025);
        assert_eq!(
            normalize_category("Data-Centre_2").unwrap(),
            "data-centre_2"
        );
    }

    #[test]
    fn history_is_bounded_and_keeps_the_opening() {
        let mut i = opened();
        for n in 0..(MAX_HISTORY + 10) {
            let patch = IncidentPatch {
                title: Some(format!("title {n}")),
                ..IncidentPatch::default()
            };
            qualify(&mut i, &patch, "mona", T + n as i64).unwrap();
        }
        assert_eq!(i.history.len(), MAX_HISTORY);
        assert_eq!(i.history[0].action, "open");
    }
}
