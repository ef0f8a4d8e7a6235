//! `/api/v1/alerts` and `/api/v1/maintenance`.
//!
//! Alerts are read from the store (the engine writes every change within ~100 ms); maintenance
//! windows are changed through the alert engine, which persists them and applies them to the
//! next alert at once.

use axum::extract::{Path, Query, State};
use axum::routing::{delete, get};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};

use super::api::{nonempty, page_limit, parse_cursor, parse_level};
use super::{ApiError, AppState};
use crate::accounts::User;
use crate::alerts::{ActionError, AlertAction, AlertJson, AlertQuery, AlertState};
use crate::event::format_ns;
use crate::pipeline::lock;
use crate::rules::{Maintenance, parse_instant};

/// Routes (mounted under `/api/v1`, behind `auth::require_user`; who may call each one is
/// `roles::ENDPOINTS`: reading alerts is operators' and managers', acting on them operators',
/// maintenance windows operators' and admins').
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/alerts", get(list_alerts))
        .route("/alerts/stream", get(stream_alerts))
        .route("/alerts/{id}", get(get_alert))
        .route("/alerts/{id}/{action}", axum::routing::post(act_on_alert))
        .route("/alerts/bulk/{action}", axum::routing::post(act_on_alerts))
        .route(
            "/maintenance",
            get(list_maintenance)
                .post(create_maintenance)
                .delete(delete_maintenance_by_query),
        )
        .route("/maintenance/{id}", delete(delete_maintenance))
}

/// Query string of `GET /api/v1/alerts`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsParams {
    /// One state or a comma-separated list (`open,acked`).
    pub state: Option<String>,
    pub level: Option<String>,
    pub host: Option<String>,
    pub category: Option<String>,
    /// Words that must all appear in the summary, host, rule, category or key.
    pub q: Option<String>,
    /// `true`: without history and with only the newest event id — what a list needs; the
    /// console loads every active alert this way and fetches one alert whole when opened.
    pub compact: Option<bool>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

/// Response of `GET /api/v1/alerts`.
#[derive(Debug, Serialize)]
pub struct AlertsPage {
    pub alerts: Vec<AlertJson>,
    pub next_cursor: Option<String>,
}

impl AlertsParams {
    fn to_query(&self) -> Result<AlertQuery, ApiError> {
        let states = match nonempty(&self.state) {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(|s| {
                    AlertState::parse(s.trim()).ok_or_else(|| {
                        ApiError::BadRequest(format!(
                            "state: {s:?} is not one of open, acked, snoozed, suppressed, cleared, archived, deleted"
                        ))
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(AlertQuery {
            states,
            level: parse_level(&self.level)?,
            host: nonempty(&self.host),
            category: nonempty(&self.category),
            text: nonempty(&self.q)
                .map(|q| q.split_whitespace().map(str::to_lowercase).collect())
                .unwrap_or_default(),
            before_id: parse_cursor(&self.cursor)?,
            limit: page_limit(self.limit),
        })
    }
}

async fn list_alerts(
    State(state): State<AppState>,
    params: Result<Query<AlertsParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AlertsPage>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let query = params.to_query()?;
    let compact = params.compact.unwrap_or(false);
    let store = state.store.clone();
    let page = super::blocking(move || Ok(query.run(&store)?)).await?;
    Ok(Json(AlertsPage {
        alerts: page
            .alerts
            .iter()
            .map(|a| {
                let mut json = a.to_json();
                if compact {
                    json.history.clear();
                    json.event_ids.truncate(1);
                }
                json
            })
            .collect(),
        next_cursor: page.next_cursor.map(|id| id.to_string()),
    }))
}

/// `GET /api/v1/alerts/stream`: Server-Sent Events, one `event: alert` (the alert JSON) per
/// change, `event: lagged` when this client fell behind (it should reload the list), and a
/// keep-alive comment every 15 s so proxies keep the connection open.
async fn stream_alerts(State(state): State<AppState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    use axum::response::sse::{Event, KeepAlive, Sse};
    use tokio::sync::broadcast::error::RecvError;
    let receiver = state.alert_feed.subscribe();
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        let event = match receiver.recv().await {
            Ok(json) => Event::default().event("alert").data(&*json),
            Err(RecvError::Lagged(missed)) => {
                Event::default().event("lagged").data(missed.to_string())
            }
            Err(RecvError::Closed) => return None,
        };
        Some((Ok::<_, std::convert::Infallible>(event), receiver))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(std::time::Duration::from_secs(15)))
        .into_response()
}

async fn get_alert(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<AlertJson>, ApiError> {
    let id: u64 = id.parse().map_err(|_| ApiError::NotFound)?;
    let store = state.store.clone();
    let alert = super::blocking(move || Ok(crate::alerts::get(&store, id)?)).await?;
    alert.map(|a| Json(a.to_json())).ok_or(ApiError::NotFound)
}

/// A maintenance window in the API.
#[derive(Debug, Serialize)]
pub struct MaintenanceJson {
    pub id: String,
    pub name: String,
    pub start: String,
    pub end: String,
    pub hosts: Vec<String>,
    pub categories: Vec<String>,
    pub rules: Vec<String>,
    /// `file` for windows from rule files (change them there), `api` otherwise.
    pub origin: &'static str,
    pub created_by: Option<String>,
    pub active: bool,
}

impl MaintenanceJson {
    fn from(window: &Maintenance, now_ns: i64) -> MaintenanceJson {
        MaintenanceJson {
            id: window.id.clone(),
            name: window.name.clone(),
            start: format_ns(window.start_ns),
            end: format_ns(window.end_ns),
            hosts: window.hosts.clone(),
            categories: window.categories.clone(),
            rules: window.rules.clone(),
            origin: if window.id.starts_with("file:") {
                "file"
            } else {
                "api"
            },
            created_by: window.created_by.clone(),
            active: (window.start_ns..window.end_ns).contains(&now_ns),
        }
    }
}

/// Body of `POST /api/v1/maintenance`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMaintenance {
    pub name: String,
    pub start: String,
    pub end: String,
    #[serde(default)]
    pub hosts: Vec<String>,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub rules: Vec<String>,
}

/// Longest accepted name and scope lists: everything from a client is bounded.
const MAX_NAME: usize = 200;
const MAX_SCOPE: usize = 1000;

async fn list_maintenance(State(state): State<AppState>) -> Json<Vec<MaintenanceJson>> {
    let rules = state.rules.current();
    let now = crate::event::now_ns();
    let windows = lock(&state.alerts).maintenance_windows(&rules);
    Json(
        windows
            .iter()
            .map(|w| MaintenanceJson::from(w, now))
            .collect(),
    )
}

/// Body of `POST /api/v1/alerts/{id}/{action}` (every field optional but what the action needs).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    /// Recorded in the alert's history.
    pub comment: Option<String>,
    /// snooze: until this time (RFC 3339)…
    pub until: Option<String>,
    /// …or for this long (`30m`, `2h`).
    #[serde(rename = "for")]
    pub for_: Option<String>,
    /// transfer: user names.
    #[serde(default)]
    pub to: Vec<String>,
}

const MAX_COMMENT: usize = 2000;
/// Longest snooze: a forgotten alert must come back within a month.
const MAX_SNOOZE_NS: i64 = 31 * 86_400 * 1_000_000_000;

async fn act_on_alert(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    Path((id, action)): Path<(String, String)>,
    body: Option<Json<ActionBody>>,
) -> Result<Json<AlertJson>, ApiError> {
    let id: u64 = id.parse().map_err(|_| ApiError::NotFound)?;
    let body = body.map(|Json(b)| b).unwrap_or_default();
    let now = crate::event::now_ns();
    let action = parse_action(&state, &action, &body, now).await?;
    let alerts = state.alerts.clone();
    let by = user.name.clone();
    let result =
        tokio::task::spawn_blocking(move || lock(&alerts).act(id, &action, &by, body.comment, now))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
    result
        .map(|alert| Json(alert.to_json()))
        .map_err(action_error)
}

/// Body of `POST /api/v1/alerts/bulk/{action}`: the ids, and what the action needs.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkBody {
    pub ids: Vec<u64>,
    pub comment: Option<String>,
    pub until: Option<String>,
    #[serde(rename = "for")]
    pub for_: Option<String>,
    #[serde(default)]
    pub to: Vec<String>,
}

/// Response of a bulk action: the alerts as they are now, and those it could not change.
#[derive(Debug, Serialize)]
pub struct BulkOutcome {
    pub done: Vec<AlertJson>,
    pub failed: Vec<BulkFailure>,
}

/// One alert a bulk action left alone, and why (`not found`, or its state does not allow it).
#[derive(Debug, Serialize)]
pub struct BulkFailure {
    pub id: u64,
    pub error: String,
}

/// Most alerts in one bulk action: a selection on the console is at most what it loaded.
const MAX_BULK: usize = 10_000;

/// `POST /api/v1/alerts/bulk/{action}`: one action on a selection, each alert recorded as if
/// acted on alone; alerts that cannot take it are listed in `failed`, the others are done.
async fn act_on_alerts(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    Path(action): Path<String>,
    body: Result<Json<BulkBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<BulkOutcome>, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    if body.ids.is_empty() || body.ids.len() > MAX_BULK {
        return Err(ApiError::BadRequest(format!(
            "ids: 1 to {MAX_BULK} alert ids"
        )));
    }
    let single = ActionBody {
        comment: body.comment,
        until: body.until,
        for_: body.for_,
        to: body.to,
    };
    let now = crate::event::now_ns();
    let action = parse_action(&state, &action, &single, now).await?;
    let alerts = state.alerts.clone();
    let by = user.name.clone();
    let ids = body.ids;
    let comment = single.comment;
    tokio::task::spawn_blocking(move || {
        let mut engine = lock(&alerts);
        let mut outcome = BulkOutcome {
            done: Vec::new(),
            failed: Vec::new(),
        };
        for id in ids {
            match engine.act(id, &action, &by, comment.clone(), now) {
                Ok(alert) => outcome.done.push(alert.to_json()),
                Err(ActionError::Store(error)) => {
                    return Err(ApiError::Internal(error.to_string()));
                }
                Err(error) => outcome.failed.push(BulkFailure {
                    id,
                    error: error.to_string(),
                }),
            }
        }
        Ok(Json(outcome))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
}

/// The action of a path segment, checked with its body (comment size, snooze time, transfer
/// targets).
async fn parse_action(
    state: &AppState,
    action: &str,
    body: &ActionBody,
    now: i64,
) -> Result<AlertAction, ApiError> {
    if body
        .comment
        .as_ref()
        .is_some_and(|c| c.chars().count() > MAX_COMMENT)
    {
        return Err(ApiError::BadRequest(format!(
            "comment: at most {MAX_COMMENT} characters"
        )));
    }
    Ok(match action {
        "ack" => AlertAction::Ack,
        "archive" => AlertAction::Archive,
        "delete" => AlertAction::Delete,
        "snooze" => AlertAction::Snooze {
            until_ns: snooze_until(body, now)?,
        },
        "transfer" => AlertAction::Transfer {
            to: transfer_targets(state, body).await?,
        },
        _ => return Err(ApiError::NotFound),
    })
}

fn action_error(error: ActionError) -> ApiError {
    match error {
        ActionError::NotFound(_) => ApiError::NotFound,
        error @ ActionError::NotAllowed { .. } => ApiError::Conflict(error.to_string()),
        ActionError::Store(error) => ApiError::Internal(error.to_string()),
    }
}

fn snooze_until(body: &ActionBody, now: i64) -> Result<i64, ApiError> {
    let until = match (&body.until, &body.for_) {
        (Some(until), None) => {
            parse_instant(until).map_err(|e| ApiError::BadRequest(format!("until: {e}")))?
        }
        (None, Some(duration)) => {
            let d = crate::config::parse_duration(duration)
                .map_err(|e| ApiError::BadRequest(format!("for: {e}")))?;
            now.saturating_add(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        }
        _ => {
            return Err(ApiError::BadRequest(
                "snooze needs `until` (RFC 3339) or `for` (e.g. \"30m\")".into(),
            ));
        }
    };
    if until <= now || until - now > MAX_SNOOZE_NS {
        return Err(ApiError::BadRequest(
            "snooze: until must be in the future, within 31 days".into(),
        ));
    }
    Ok(until)
}

/// The users of a transfer: at least one, each existing.
async fn transfer_targets(state: &AppState, body: &ActionBody) -> Result<Vec<String>, ApiError> {
    if body.to.is_empty() || body.to.len() > 50 {
        return Err(ApiError::BadRequest(
            "transfer needs `to`: 1 to 50 user names".into(),
        ));
    }
    let accounts = state.accounts.clone();
    let names = body.to.clone();
    let unknown = tokio::task::spawn_blocking(move || {
        names
            .iter()
            .filter(|n| !matches!(accounts.user(n), Ok(Some(_))))
            .cloned()
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    if !unknown.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "unknown users: {}",
            unknown.join(", ")
        )));
    }
    Ok(body.to.clone())
}

async fn create_maintenance(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    body: Result<Json<NewMaintenance>, axum::extract::rejection::JsonRejection>,
) -> Result<(axum::http::StatusCode, Json<MaintenanceJson>), ApiError> {
    let Json(body) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(ApiError::BadRequest(format!(
            "name: 1 to {MAX_NAME} characters"
        )));
    }
    if body.hosts.len() + body.categories.len() + body.rules.len() > MAX_SCOPE {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_SCOPE} hosts, categories and rules"
        )));
    }
    let start =
        parse_instant(&body.start).map_err(|e| ApiError::BadRequest(format!("start: {e}")))?;
    let end = parse_instant(&body.end).map_err(|e| ApiError::BadRequest(format!("end: {e}")))?;
    if end <= start {
        return Err(ApiError::BadRequest("end must be after start".into()));
    }
    let window = Maintenance {
        id: String::new(),
        name: name.to_string(),
        start_ns: start,
        end_ns: end,
        hosts: body.hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
        categories: body.categories,
        rules: body.rules,
        created_by: Some(user.name.clone()),
    };
    let alerts = state.alerts.clone();
    let created = super::blocking(move || Ok(lock(&alerts).add_maintenance(window)?)).await?;
    tracing::info!(id = %created.id, name = %created.name, by = %user.name, "Maintenance window created.");
    Ok((
        axum::http::StatusCode::CREATED,
        Json(MaintenanceJson::from(&created, crate::event::now_ns())),
    ))
}

/// `?id=` of `DELETE /api/v1/maintenance`.
#[derive(Debug, Deserialize)]
pub struct MaintenanceId {
    pub id: String,
}

async fn delete_maintenance_by_query(
    state: State<AppState>,
    user: Extension<User>,
    Query(MaintenanceId { id }): Query<MaintenanceId>,
) -> Result<axum::http::StatusCode, ApiError> {
    delete_maintenance(state, user, Path(id)).await
}

async fn delete_maintenance(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    Path(id): Path<String>,
) -> Result<axum::http::StatusCode, ApiError> {
    if id.starts_with("file:") {
        return Err(ApiError::BadRequest(
            "this window comes from a rule file; remove it there".into(),
        ));
    }
    let alerts = state.alerts.clone();
    let id_for_log = id.clone();
    let removed = super::blocking(move || Ok(lock(&alerts).remove_maintenance(&id)?)).await?;
    if removed {
        tracing::info!(id = %id_for_log, by = %user.name, "Maintenance window removed.");
        Ok(axum::http::StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}
