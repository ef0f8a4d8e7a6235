//! `/api/v1/hosts`: the equipment inventory — hosts seen and described, one host, editing and
//! forgetting it, and its timeline of events and alerts.
//!
//! The inventory lives in memory ([`crate::equipment::Equipment`], filled by the store writer);
//! open-alert counts come from the alert engine's active alerts
//! ([`crate::alerts::AlertEngine::active_counts`]), so a page of hosts reads no records. The
//! timeline merges two store queries (events by host, alerts by host), newest first.
//!
//! Who may call what is `roles::ENDPOINTS`; the one finer check — setting `zone` needs
//! `AdministerEquipment` — asks the same table.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Extension, Json, Router};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::api::{EventJson, nonempty, page_limit};
use super::roles::Permission;
use super::{ApiError, AppState, blocking};
use crate::accounts::User;
use crate::alerts::{Alert, AlertQuery};
use crate::equipment::{EquipmentError, Host, HostPatch, HostQuery, LevelCounts};
use crate::event::{Event, Level, format_ns, now_ns};
use crate::pipeline::lock;
use crate::store::EventQuery;

/// Routes (mounted under `/api/v1`, behind `auth::require_user`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/hosts", get(list_hosts))
        .route(
            "/hosts/{host}",
            get(get_host).patch(edit_host).delete(forget_host),
        )
        .route("/hosts/{host}/timeline", get(timeline))
}

/// Counts per level in the API.
#[derive(Debug, Serialize)]
pub struct LevelCountsJson {
    pub critical: u64,
    pub warning: u64,
    pub low: u64,
    pub none: u64,
}

impl From<LevelCounts> for LevelCountsJson {
    fn from(counts: LevelCounts) -> LevelCountsJson {
        LevelCountsJson {
            critical: counts.of(Level::Critical),
            warning: counts.of(Level::Warning),
            low: counts.of(Level::Low),
            none: counts.of(Level::None),
        }
    }
}

/// One host in the API. Details are `null` when not set; the sightings (`first_seen`,
/// `last_seen`, `source`) are `null` for a host described before it ever sent anything.
#[derive(Debug, Serialize)]
pub struct HostJson {
    /// The host name events carry (the key of every `/hosts/{host}` route).
    pub host: String,
    /// Display name (show `host` when null).
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub address: Option<String>,
    pub location: Option<String>,
    /// Criticality zone (lower case), set by managers.
    pub zone: Option<String>,
    pub comments: Option<String>,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    /// Events received from it since it was first seen (retention does not lower this).
    pub events: u64,
    pub events_by_level: LevelCountsJson,
    /// Active alerts (open, acked, snoozed, suppressed) on this host.
    pub open_alerts: u64,
    pub open_alerts_by_level: LevelCountsJson,
    /// The sender (IP address) of the latest event.
    pub source: Option<String>,
    pub updated_by: Option<String>,
    pub updated_at: Option<String>,
}

impl HostJson {
    fn new(host: Host, open_alerts: [u64; 4]) -> HostJson {
        let open = LevelCounts(open_alerts);
        let seen = host.sightings;
        let details = host.details;
        HostJson {
            host: host.host,
            name: details.name,
            kind: details.kind,
            address: details.address,
            location: details.location,
            zone: details.zone,
            comments: details.comments,
            first_seen: seen.as_ref().map(|s| format_ns(s.first_seen_ns)),
            last_seen: seen.as_ref().map(|s| format_ns(s.last_seen_ns)),
            events: seen.as_ref().map_or(0, |s| s.events),
            events_by_level: seen
                .as_ref()
                .map(|s| s.events_by_level)
                .unwrap_or_default()
                .into(),
            open_alerts: open.total(),
            open_alerts_by_level: open.into(),
            source: seen.as_ref().map(|s| s.source.to_string()),
            updated_by: details.updated_by,
            updated_at: details.updated_at_ns.map(format_ns),
        }
    }
}

/// Hosts in the API, with their open-alert counts (one pass over the active alerts).
fn with_open_alerts(state: &AppState, hosts: Vec<Host>) -> Vec<HostJson> {
    let names: Vec<&str> = hosts.iter().map(|h| h.host.as_str()).collect();
    let counts = lock(&state.alerts).active_counts(&names);
    hosts
        .into_iter()
        .zip(counts)
        .map(|(host, open)| HostJson::new(host, open))
        .collect()
}

fn host_path(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    path.map(|Path(host)| host)
        .map_err(|e| ApiError::BadRequest(e.body_text()))
}

impl From<EquipmentError> for ApiError {
    fn from(error: EquipmentError) -> ApiError {
        match error {
            EquipmentError::Invalid { .. } => ApiError::BadRequest(error.to_string()),
            EquipmentError::Full { .. } => ApiError::Conflict(error.to_string()),
            EquipmentError::Store(error) => ApiError::Internal(error.to_string()),
        }
    }
}

/// Query string of `GET /api/v1/hosts`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostsParams {
    /// Text in the host name or any detail (case-insensitive).
    pub q: Option<String>,
    /// Exact criticality zone (case-insensitive).
    pub zone: Option<String>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

/// Response of `GET /api/v1/hosts`.
#[derive(Debug, Serialize)]
pub struct HostsPage {
    pub hosts: Vec<HostJson>,
    pub next_cursor: Option<String>,
}

/// The list's cursor: the last (display name, host) of the page, as base64url JSON so any
/// host name survives a query string.
fn encode_host_cursor(after: &(String, String)) -> String {
    let json = serde_json::to_vec(after).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

fn decode_host_cursor(cursor: &str) -> Result<(String, String), ApiError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or_else(|| ApiError::BadRequest("cursor: not a cursor from next_cursor".into()))
}

impl HostsParams {
    fn to_query(&self) -> Result<HostQuery, ApiError> {
        Ok(HostQuery {
            text: nonempty(&self.q),
            zone: nonempty(&self.zone),
            after: nonempty(&self.cursor)
                .map(|c| decode_host_cursor(&c))
                .transpose()?,
            limit: page_limit(self.limit),
        })
    }
}

async fn list_hosts(
    State(state): State<AppState>,
    params: Result<Query<HostsParams>, QueryRejection>,
) -> Result<Json<HostsPage>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let query = params.to_query()?;
    blocking(move || {
        let page = state.equipment.list(&query);
        Ok(Json(HostsPage {
            hosts: with_open_alerts(&state, page.hosts),
            next_cursor: page.next_after.as_ref().map(encode_host_cursor),
        }))
    })
    .await
}

async fn get_host(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<HostJson>, ApiError> {
    let host = host_path(path)?;
    let found = state.equipment.host(&host).ok_or(ApiError::NotFound)?;
    Ok(Json(with_open_alerts(&state, vec![found]).remove(0)))
}

/// `PATCH /api/v1/hosts/{host}`: changes the fields sent (`null` or blank clears one). A host
/// not seen yet is added to the inventory (pre-provisioning); it takes its sightings when it
/// first sends.
async fn edit_host(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<HostPatch>, JsonRejection>,
) -> Result<Json<HostJson>, ApiError> {
    let host = host_path(path)?;
    let Json(patch) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    if patch.sets_zone() && !Permission::AdministerEquipment.allows(user.role) {
        return Err(ApiError::Forbidden);
    }
    if patch.is_empty() {
        return Err(ApiError::BadRequest(
            "nothing to change: send name, type, address, location, zone or comments".into(),
        ));
    }
    let patch = patch.validated()?;
    blocking(move || {
        let edited = state.equipment.edit(&host, patch, &user.name, now_ns())?;
        tracing::info!(host = %edited.host, by = %user.name, "Host details changed.");
        Ok(Json(with_open_alerts(&state, vec![edited]).remove(0)))
    })
    .await
}

/// `DELETE /api/v1/hosts/{host}`: forgets the host; it is discovered afresh if it sends again.
async fn forget_host(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let host = host_path(path)?;
    blocking(move || {
        if state.equipment.forget(&host)? {
            tracing::info!(%host, by = %user.name, "Host forgotten.");
            Ok(StatusCode::NO_CONTENT)
        } else {
            Err(ApiError::NotFound)
        }
    })
    .await
}

/// Query string of `GET /api/v1/hosts/{host}/timeline`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimelineParams {
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

/// Response of `GET /api/v1/hosts/{host}/timeline`: events and alerts, newest first, each
/// `{"type": "event" | "alert", "at": …}` plus the event's or alert's own JSON. An alert is
/// placed at the time it was raised (`first_seen`).
#[derive(Debug, Serialize)]
pub struct TimelinePage {
    pub host: String,
    pub items: Vec<Value>,
    pub next_cursor: Option<String>,
}

/// Where one of the timeline's two streams stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    /// Not started: from the newest.
    Newest,
    /// Continue with ids below this.
    Before(u64),
    /// Nothing older.
    Done,
}

impl Position {
    fn parse(text: &str) -> Option<Position> {
        match text {
            "n" => Some(Position::Newest),
            "x" => Some(Position::Done),
            id => id.parse().ok().map(Position::Before),
        }
    }

    fn encode(self) -> String {
        match self {
            Position::Newest => "n".into(),
            Position::Before(id) => id.to_string(),
            Position::Done => "x".into(),
        }
    }

    fn before_id(self) -> Option<u64> {
        match self {
            Position::Before(id) => Some(id),
            _ => None,
        }
    }

    /// Where the stream stands after `taken` of the `fetched` items were used: below the last
    /// one used, or the page's own continuation (`more`) when all were.
    fn after(self, taken: Option<u64>, fetched: usize, used: usize, more: Option<u64>) -> Position {
        if used == fetched {
            return more.map_or(Position::Done, Position::Before);
        }
        taken.map_or(self, Position::Before)
    }
}

/// The timeline's cursor: `EVENTS.ALERTS`, each `n` (from the newest), an id to continue
/// below, or `x` (no more).
fn parse_timeline_cursor(cursor: Option<String>) -> Result<(Position, Position), ApiError> {
    let Some(cursor) = cursor else {
        return Ok((Position::Newest, Position::Newest));
    };
    cursor
        .split_once('.')
        .and_then(|(e, a)| Some((Position::parse(e)?, Position::parse(a)?)))
        .ok_or_else(|| ApiError::BadRequest("cursor: not a cursor from next_cursor".into()))
}

async fn timeline(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    params: Result<Query<TimelineParams>, QueryRejection>,
) -> Result<Json<TimelinePage>, ApiError> {
    let host = host_path(path)?;
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let (events_at, alerts_at) = parse_timeline_cursor(nonempty(&params.cursor))?;
    let limit = page_limit(params.limit);
    blocking(move || {
        let internal = |e: crate::store::StoreError| ApiError::Internal(e.to_string());
        let (events, more_events) = match events_at {
            Position::Done => (Vec::new(), None),
            at => {
                let page = state
                    .store
                    .query_events(&EventQuery {
                        host: Some(host.clone()),
                        before_id: at.before_id(),
                        limit,
                        ..EventQuery::default()
                    })
                    .map_err(internal)?;
                (page.events, page.next_cursor)
            }
        };
        let (alerts, more_alerts) = match alerts_at {
            Position::Done => (Vec::new(), None),
            at => {
                let page = AlertQuery {
                    host: Some(host.clone()),
                    before_id: at.before_id(),
                    limit,
                    ..AlertQuery::default()
                }
                .run(&state.store)
                .map_err(internal)?;
                (page.alerts, page.next_cursor)
            }
        };
        let merged = merge_newest_first(&events, &alerts, limit);
        let events_next = events_at.after(
            merged.last_event,
            events.len(),
            merged.events_used,
            more_events,
        );
        let alerts_next = alerts_at.after(
            merged.last_alert,
            alerts.len(),
            merged.alerts_used,
            more_alerts,
        );
        let next_cursor = (events_next != Position::Done || alerts_next != Position::Done)
            .then(|| format!("{}.{}", events_next.encode(), alerts_next.encode()));
        Ok(Json(TimelinePage {
            host,
            items: merged.items,
            next_cursor,
        }))
    })
    .await
}

/// The first `limit` items of two newest-first streams, and how far into each it went.
struct Merged {
    items: Vec<Value>,
    events_used: usize,
    alerts_used: usize,
    last_event: Option<u64>,
    last_alert: Option<u64>,
}

/// A two-way merge by time (an alert before the event that raised it, at the same instant).
/// It takes a prefix of each stream, so continuing each below its last used id neither
/// repeats nor skips anything.
fn merge_newest_first(events: &[Event], alerts: &[Alert], limit: usize) -> Merged {
    let mut merged = Merged {
        items: Vec::with_capacity(limit.min(events.len() + alerts.len())),
        events_used: 0,
        alerts_used: 0,
        last_event: None,
        last_alert: None,
    };
    while merged.items.len() < limit {
        let event = events.get(merged.events_used);
        let alert = alerts.get(merged.alerts_used);
        let take_alert = match (event, alert) {
            (None, None) => break,
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (Some(e), Some(a)) => a.first_seen_ns >= e.received_at_ns,
        };
        if take_alert {
            let alert = &alerts[merged.alerts_used];
            merged.alerts_used += 1;
            merged.last_alert = Some(alert.id);
            merged.items.push(tagged(
                "alert",
                alert.first_seen_ns,
                serde_json::to_value(alert.to_json()),
            ));
        } else {
            let event = &events[merged.events_used];
            merged.events_used += 1;
            merged.last_event = Some(event.id);
            merged.items.push(tagged(
                "event",
                event.received_at_ns,
                serde_json::to_value(EventJson::from(event)),
            ));
        }
    }
    merged
}

/// `{"type": kind, "at": …}` followed by the item's own fields.
fn tagged(kind: &str, at_ns: i64, item: serde_json::Result<Value>) -> Value {
    let mut object = serde_json::Map::new();
    object.insert("type".into(), Value::from(kind));
    object.insert("at".into(), Value::from(format_ns(at_ns)));
    if let Ok(Value::Object(fields)) = item {
        object.extend(fields);
    }
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventKind, Transport};

    fn event(id: u64, at_ns: i64) -> Event {
        let mut event = Event::new(
            at_ns,
            "192.0.2.1:514".parse().unwrap(),
            Transport::Udp,
            EventKind::Syslog,
        );
        event.id = id;
        event
    }

    fn alert(id: u64, at_ns: i64) -> Alert {
        Alert {
            id,
            key: format!("k{id}"),
            rule: "default".into(),
            state: crate::alerts::AlertState::Open,
            level: Level::Critical,
            category: None,
            host: "192.0.2.1".into(),
            summary: "s".into(),
            count: 1,
            first_seen_ns: at_ns,
            last_seen_ns: at_ns,
            event_ids: Default::default(),
            history: Vec::new(),
            expire_after_ms: None,
            touched_ns: at_ns,
            snoozed_until_ns: None,
            transferred_to: Vec::new(),
        }
    }

    #[test]
    fn merge_is_newest_first_and_continues_where_it_stopped() {
        let events = [event(9, 90), event(8, 50), event(7, 10)];
        let alerts = [alert(3, 50), alert(2, 20)];
        let merged = merge_newest_first(&events, &alerts, 3);
        let kinds: Vec<(String, String)> = merged
            .items
            .iter()
            .map(|i| (i["type"].as_str().unwrap().into(), i["id"].to_string()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("event".into(), "\"9\"".into()),
                ("alert".into(), "3".into()),
                ("event".into(), "\"8\"".into())
            ]
        );
        assert_eq!((merged.events_used, merged.alerts_used), (2, 1));
        let events_next =
            Position::Newest.after(merged.last_event, events.len(), merged.events_used, None);
        let alerts_next =
            Position::Newest.after(merged.last_alert, alerts.len(), merged.alerts_used, None);
        assert_eq!(events_next, Position::Before(8));
        assert_eq!(alerts_next, Position::Before(3));
        // A stream used up with nothing older is done; one not touched stays where it was.
        assert_eq!(Position::Before(5).after(None, 2, 2, None), Position::Done);
        assert_eq!(
            Position::Before(5).after(None, 2, 2, Some(4)),
            Position::Before(4)
        );
        assert_eq!(
            Position::Before(5).after(None, 2, 0, None),
            Position::Before(5)
        );
        assert_eq!(merged.items[0]["at"], format_ns(90));
    }

    #[test]
    fn cursors_round_trip_and_junk_is_refused() {
        assert_eq!(
            parse_timeline_cursor(Some("12.x".into())).unwrap(),
            (Position::Before(12), Position::Done)
        );
        assert_eq!(
            parse_timeline_cursor(None).unwrap(),
            (Position::Newest, Position::Newest)
        );
        for junk in ["", "12", "a.b", "1.2.3"] {
            assert!(parse_timeline_cursor(Some(junk.into())).is_err(), "{junk}");
        }
        let after = ("Core & Co".to_string(), "core/1?x=1".to_string());
        assert_eq!(
            decode_host_cursor(&encode_host_cursor(&after)).unwrap(),
            after
        );
        assert!(decode_host_cursor("not base64!").is_err());
    }
}
