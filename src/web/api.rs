//! `/api/v1`: the JSON API (events today; alerts, incidents and the rest as their issues land).
//!
//! Every route here requires a bearer token or a session ([`super::auth::require_user`]) and
//! the permission `super::roles::ENDPOINTS` gives it. Lists are newest first and page with
//! `limit` and an opaque `cursor` returned as `next_cursor`.

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router, middleware};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{ApiError, AppState, auth};
use crate::event::{Event, EventKind, Level, TrapInfo, format_ns};
use crate::store::EventQuery;

/// Default and largest page sizes.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

/// Routes under `/api/v1`.
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/events", get(list_events))
        .route("/events/{id}", get(get_event))
        .route(
            "/openapi.json",
            get(|| async { Json(super::openapi::document()) }),
        )
        .merge(super::alerts::router())
        .merge(super::hosts::router())
        .route("/logins", get(super::login::list_logins))
        .merge(super::users::router())
        .route("/system", get(super::system::system))
        .merge(super::notify::router())
        .merge(super::incidents::router())
        .merge(super::reports::router())
        .route_layer(middleware::from_fn_with_state(state, auth::require_user))
}

/// Query string of `GET /api/v1/events`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsParams {
    pub host: Option<String>,
    pub kind: Option<String>,
    pub level: Option<String>,
    pub q: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

/// Response of `GET /api/v1/events`.
#[derive(Debug, Serialize)]
pub struct EventsPage {
    pub events: Vec<EventJson>,
    pub next_cursor: Option<String>,
}

fn parse_time(name: &str, text: &str) -> Result<i64, ApiError> {
    crate::rules::parse_instant(text).map_err(|e| ApiError::BadRequest(format!("{name}: {e}")))
}

/// A query parameter's value, trimmed; `None` when missing or blank (an empty form field).
pub(super) fn nonempty(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `limit` of a list endpoint: the default when absent, clamped to 1..=`MAX_LIMIT`.
pub(super) fn page_limit(limit: Option<usize>) -> usize {
    limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
}

/// `level=` of a list endpoint.
pub(super) fn parse_level(value: &Option<String>) -> Result<Option<Level>, ApiError> {
    nonempty(value)
        .map(|l| {
            Level::parse(&l).ok_or_else(|| {
                ApiError::BadRequest("level: expected critical, warning, low or none".into())
            })
        })
        .transpose()
}

/// `cursor=` of a list endpoint paged by numeric id.
pub(super) fn parse_cursor(value: &Option<String>) -> Result<Option<u64>, ApiError> {
    nonempty(value)
        .map(|c| {
            c.parse::<u64>()
                .map_err(|_| ApiError::BadRequest("cursor: not a cursor from next_cursor".into()))
        })
        .transpose()
}

impl EventsParams {
    /// Validates the parameters into a store query.
    pub fn to_query(&self) -> Result<EventQuery, ApiError> {
        let kind = nonempty(&self.kind)
            .map(|k| {
                EventKind::parse(&k)
                    .ok_or_else(|| ApiError::BadRequest("kind: expected syslog or trap".into()))
            })
            .transpose()?;
        let since_ns = nonempty(&self.since)
            .map(|t| parse_time("since", &t))
            .transpose()?;
        let until_ns = nonempty(&self.until)
            .map(|t| parse_time("until", &t))
            .transpose()?;
        Ok(EventQuery {
            host: nonempty(&self.host),
            kind,
            level: parse_level(&self.level)?,
            text: nonempty(&self.q),
            since_ns,
            until_ns,
            before_id: parse_cursor(&self.cursor)?,
            limit: page_limit(self.limit),
        })
    }
}

async fn list_events(
    State(state): State<AppState>,
    params: Result<Query<EventsParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<EventsPage>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let query = params.to_query()?;
    let store = state.store.clone();
    let page = tokio::task::spawn_blocking(move || store.query_events(&query))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(EventsPage {
        events: page.events.iter().map(EventJson::from).collect(),
        next_cursor: page.next_cursor.map(|id| id.to_string()),
    }))
}

async fn get_event(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<EventJson>, ApiError> {
    let id: u64 = id.parse().map_err(|_| ApiError::NotFound)?;
    let store = state.store.clone();
    let event = tokio::task::spawn_blocking(move || store.get_event(id))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    event
        .map(|e| Json(EventJson::from(&e)))
        .ok_or(ApiError::NotFound)
}

/// The contract's event JSON.
#[derive(Debug, Serialize)]
pub struct EventJson {
    pub id: String,
    pub received_at: String,
    pub source: String,
    pub transport: &'static str,
    pub kind: &'static str,
    pub facility: Option<u8>,
    pub severity: Option<u8>,
    pub level: &'static str,
    pub host: String,
    pub app: Option<String>,
    pub procid: Option<String>,
    pub msgid: Option<String>,
    pub timestamp: Option<String>,
    pub message: String,
    pub structured_data: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trap: Option<TrapInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
}

impl From<&Event> for EventJson {
    fn from(event: &Event) -> EventJson {
        // SD-IDs become keys; a repeated SD-ID merges its parameters (later values win).
        let mut structured_data = Map::new();
        for element in &event.structured_data {
            let entry = structured_data
                .entry(element.id.clone())
                .or_insert_with(|| json!({}));
            if let Value::Object(params) = entry {
                for (name, value) in &element.params {
                    params.insert(name.clone(), Value::String(value.clone()));
                }
            }
        }
        EventJson {
            id: event.id.to_string(),
            received_at: format_ns(event.received_at_ns),
            source: event.source.to_string(),
            transport: event.transport.as_str(),
            kind: event.kind.as_str(),
            facility: event.facility,
            severity: event.severity,
            level: event.level.as_str(),
            host: event.host.clone(),
            app: event.app.clone(),
            procid: event.procid.clone(),
            msgid: event.msgid.clone(),
            timestamp: event.timestamp.clone(),
            message: event.message.clone(),
            structured_data,
            trap: event.trap.clone(),
            raw: event
                .raw
                .as_ref()
                .map(|raw| base64::engine::general_purpose::STANDARD.encode(raw)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{StructuredElement, Transport};

    #[test]
    fn event_json_has_contract_fields() {
        let mut event = Event::new(
            1_700_000_000_000_000_000,
            "192.0.2.1:514".parse().unwrap(),
            Transport::Udp,
            EventKind::Syslog,
        );
        event.id = 42;
        event.structured_data = vec![StructuredElement {
            id: "ex@1".into(),
            params: vec![("a".into(), "\"b\"".into())],
        }];
        event.raw = Some(vec![0xff, 0x00]);
        let json = serde_json::to_value(EventJson::from(&event)).unwrap();
        assert_eq!(json["id"], "42");
        assert_eq!(json["received_at"], "2023-11-14T22:13:20.000000Z");
        assert_eq!(json["source"], "192.0.2.1:514");
        assert_eq!(json["transport"], "udp");
        assert_eq!(json["kind"], "syslog");
        assert_eq!(json["level"], "none");
        assert_eq!(json["host"], "192.0.2.1");
        assert_eq!(json["structured_data"]["ex@1"]["a"], "\"b\"");
        assert_eq!(json["raw"], "/wA=");
        assert!(json.get("trap").is_none());
    }

    #[test]
    fn params_are_validated() {
        let bad = |p: EventsParams| p.to_query().is_err();
        assert!(bad(EventsParams {
            kind: Some("mail".into()),
            ..Default::default()
        }));
        assert!(bad(EventsParams {
            level: Some("urgent".into()),
            ..Default::default()
        }));
        assert!(bad(EventsParams {
            since: Some("yesterday".into()),
            ..Default::default()
        }));
        assert!(bad(EventsParams {
            cursor: Some("abc".into()),
            ..Default::default()
        }));
        let q = EventsParams {
            level: Some("critical".into()),
            limit: Some(5000),
            since: Some("2026-11-23T00:00:00Z".into()),
            ..Default::default()
        }
        .to_query()
        .unwrap();
        assert_eq!(q.limit, MAX_LIMIT);
        assert_eq!(q.level, Some(Level::Critical));
        assert!(q.since_ns.is_some());
    }
}
