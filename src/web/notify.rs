//! `/api/v1/notifications` (the notification log) and `/api/v1/oncall` (the contract's
//! on-call schedule).
//!
//! Both read the store directly — the outbox's record tree, the schedule record — so they
//! need nothing from the running notifier; a schedule saved here is picked up by the notifier
//! within a second.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};

use super::api::{nonempty, page_limit, parse_cursor};
use super::{ApiError, AppState};
use crate::accounts::User;
use crate::event::now_ns;
use crate::notify::Outbox;
use crate::notify::outbox::{NotificationJson, Status};
use crate::oncall::{OnCallNext, OnCallNow, RotationJson, ScheduleJson, ScheduleStore, ShiftJson};

/// Routes (mounted under `/api/v1`; permissions in `roles::ENDPOINTS`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/notifications", get(list_notifications))
        .route("/oncall", get(get_oncall).put(put_oncall))
}

/// Query string of `GET /api/v1/notifications`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationsParams {
    /// pending | delivered | failed
    pub status: Option<String>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

/// Response of `GET /api/v1/notifications`.
#[derive(Debug, Serialize)]
pub struct NotificationsPage {
    pub notifications: Vec<NotificationJson>,
    pub next_cursor: Option<String>,
}

async fn list_notifications(
    State(state): State<AppState>,
    params: Result<Query<NotificationsParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<NotificationsPage>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let status = nonempty(&params.status)
        .map(|s| {
            Status::parse(&s).ok_or_else(|| {
                ApiError::BadRequest("status: expected pending, delivered or failed".into())
            })
        })
        .transpose()?;
    let before = parse_cursor(&params.cursor)?;
    let limit = page_limit(params.limit);
    let store = state.store.clone();
    let (list, next) = tokio::task::spawn_blocking(move || {
        let tree = Outbox::tree(&store)?;
        Outbox::list(&tree, before, status, limit)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(NotificationsPage {
        notifications: list.iter().map(|n| n.to_json()).collect(),
        next_cursor: next.map(|id| id.to_string()),
    }))
}

/// Response of `GET /api/v1/oncall`: the contract's schedule plus who is on call now and
/// who comes next at each rank.
#[derive(Debug, Serialize)]
pub struct OnCallPage {
    pub shifts: Vec<ShiftJson>,
    pub rotations: Vec<RotationJson>,
    pub escalate_after: String,
    pub now: Vec<OnCallNow>,
    pub next: Vec<OnCallNext>,
}

/// Body of `PUT /api/v1/oncall`. `now` and `next` are accepted and ignored, so what a GET
/// returned can be sent back changed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnCallPut {
    #[serde(default)]
    pub shifts: Vec<ShiftJson>,
    #[serde(default)]
    pub rotations: Vec<RotationJson>,
    pub escalate_after: Option<String>,
    #[serde(default, rename = "now")]
    pub _now: Option<serde_json::Value>,
    #[serde(default, rename = "next")]
    pub _next: Option<serde_json::Value>,
}

fn page(json: ScheduleJson) -> Result<OnCallPage, ApiError> {
    let schedule = json
        .validate(|_| true)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let now = now_ns();
    Ok(OnCallPage {
        now: schedule.now(now),
        next: schedule.next(now),
        escalate_after: json
            .escalate_after
            .clone()
            .unwrap_or_else(|| humantime::format_duration(schedule.escalate_after).to_string()),
        shifts: json.shifts,
        rotations: json.rotations,
    })
}

async fn get_oncall(State(state): State<AppState>) -> Result<Json<OnCallPage>, ApiError> {
    let store = state.store.clone();
    let json = tokio::task::spawn_blocking(move || ScheduleStore::open(&store)?.load_json())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(page(json)?))
}

async fn put_oncall(
    State(state): State<AppState>,
    Extension(admin): Extension<User>,
    body: Result<Json<OnCallPut>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<OnCallPage>, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let json = ScheduleJson {
        shifts: body.shifts,
        rotations: body.rotations,
        escalate_after: body.escalate_after,
    };
    let store = state.store.clone();
    let accounts = state.accounts.clone();
    let saved = json.clone();
    tokio::task::spawn_blocking(move || -> Result<(), ApiError> {
        let users: Vec<String> = accounts
            .users()
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .into_iter()
            .map(|u| u.name)
            .collect();
        saved
            .validate(|name| users.iter().any(|u| u == name))
            .map_err(|e| ApiError::BadRequest(e.to_string()))?;
        ScheduleStore::open(&store)
            .and_then(|s| s.save(&saved))
            .map_err(|e| ApiError::Internal(e.to_string()))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    tracing::info!(by = %admin.name, shifts = json.shifts.len(), rotations = json.rotations.len(), "On-call schedule changed.");
    Ok(Json(page(json)?))
}
