//! `/api/v1/incidents`: open (by hand or from an alert), list and search (the knowledge base
//! is `?kb=true`), read, qualify (`PATCH`), resolve, transfer, close, the related
//! knowledge-base entries, one incident as PDF, and the export of a period as CSV or JSON.
//!
//! Who may call each route is `roles::ENDPOINTS`; who may change one incident (qualify,
//! resolve) is `roles::may_edit_incident`, checked inside the store's update so the check
//! and the write see the same record. Opening from an alert needs `ActOnAlerts` too. The
//! lifecycle itself (which state allows what) is `crate::incidents::lifecycle`: a refused
//! transition is a 409, a bad field a 400.
//!
//! Mail: a final resolution and the closing tell the followers and the opener, a transfer
//! the new assignees and the managers of the category — through the notifier's outbox
//! ([`crate::notify::IncidentMailer`]), never by this module itself.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::api::{nonempty, page_limit, parse_cursor};
use super::roles::{Permission, may_edit_incident};
use super::{ApiError, AppState, blocking};
use crate::accounts::{Role, User};
use crate::event::now_ns;
use crate::incidents::{
    Incident, IncidentError, IncidentJson, IncidentPatch, IncidentQuery, IncidentState,
    LifecycleError, NewIncident, Severity, Source, export, lifecycle, pdf, search,
};
use crate::notify::IncidentNews;
use crate::rules::parse_instant;

/// Routes (mounted under `/api/v1`, behind `auth::require_user`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/incidents", get(list).post(create))
        .route("/incidents/export", get(export_period))
        .route("/incidents/{id}", get(get_one).patch(qualify))
        .route("/incidents/{id}/related", get(related))
        .route("/incidents/{id}/pdf", get(as_pdf))
        .route("/incidents/{id}/resolve", post(resolve))
        .route("/incidents/{id}/transfer", post(transfer))
        .route("/incidents/{id}/close", post(close))
}

impl From<IncidentError> for ApiError {
    fn from(error: IncidentError) -> ApiError {
        match error {
            IncidentError::NotFound(_) => ApiError::NotFound,
            IncidentError::Lifecycle(error @ LifecycleError::Invalid { .. }) => {
                ApiError::BadRequest(error.to_string())
            }
            IncidentError::Lifecycle(error @ LifecycleError::NotAllowed { .. }) => {
                ApiError::Conflict(error.to_string())
            }
            error => ApiError::Internal(error.to_string()),
        }
    }
}

impl From<LifecycleError> for ApiError {
    fn from(error: LifecycleError) -> ApiError {
        IncidentError::from(error).into()
    }
}

fn incident_id(id: &str) -> Result<u64, ApiError> {
    id.parse().map_err(|_| ApiError::NotFound)
}

fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(b)| b)
        .map_err(|e| ApiError::BadRequest(e.body_text()))
}

/// Names among `names` that are no user.
fn unknown_users(state: &AppState, names: &[String]) -> Result<(), ApiError> {
    let unknown: Vec<&str> = names
        .iter()
        .filter(|n| !matches!(state.accounts.user(n.trim()), Ok(Some(_))))
        .map(String::as_str)
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "unknown users: {}",
            unknown.join(", ")
        )))
    }
}

/// Queues mail about `incident` to `names` when a notifier runs (never fails the request).
fn tell(state: &AppState, incident: &Incident, news: IncidentNews, names: Vec<String>, by: &str) {
    match &state.incident_mail {
        Some(mailer) => {
            mailer.tell(incident, &news, &names, by);
        }
        None => {
            tracing::debug!(incident = %incident.reference, "No notifier: incident mail not sent.")
        }
    }
}

/// The followers and the opener: who hears of a resolution and of the closing.
fn followers_and_opener(incident: &Incident) -> Vec<String> {
    let mut names = incident.followers.clone();
    names.push(incident.opened_by.clone());
    names
}

/// Query string of `GET /api/v1/incidents`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentsParams {
    /// One state or a comma-separated list.
    pub state: Option<String>,
    pub category: Option<String>,
    pub host: Option<String>,
    /// Words that must all appear in title, description, resolutions, reference, category
    /// or host.
    pub q: Option<String>,
    /// `true`: only the knowledge base (closed incidents kept there).
    pub kb: Option<bool>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

fn time_param(name: &str, value: &Option<String>) -> Result<Option<i64>, ApiError> {
    nonempty(value)
        .map(|t| parse_instant(&t).map_err(|e| ApiError::BadRequest(format!("{name}: {e}"))))
        .transpose()
}

impl IncidentsParams {
    fn to_query(&self) -> Result<IncidentQuery, ApiError> {
        let states = match nonempty(&self.state) {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(|s| {
                    IncidentState::parse(s.trim()).ok_or_else(|| {
                        ApiError::BadRequest(format!(
                            "state: {s:?} is not one of open, in_progress, resolved, closed"
                        ))
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(IncidentQuery {
            states,
            category: nonempty(&self.category).map(|c| c.to_lowercase()),
            host: nonempty(&self.host).map(|h| h.to_ascii_lowercase()),
            words: nonempty(&self.q)
                .map(|q| search::words(&q))
                .unwrap_or_default(),
            knowledge_base_only: self.kb.unwrap_or(false),
            since_ns: time_param("since", &self.since)?,
            until_ns: time_param("until", &self.until)?,
            before_id: parse_cursor(&self.cursor)?,
            limit: page_limit(self.limit),
        })
    }
}

/// Response of `GET /api/v1/incidents`: incidents without their history (read one for it).
#[derive(Debug, Serialize)]
pub struct IncidentsPage {
    pub incidents: Vec<IncidentJson>,
    pub next_cursor: Option<String>,
}

fn listed(incident: &Incident) -> IncidentJson {
    let mut json = incident.to_json();
    json.history.clear();
    json
}

async fn list(
    State(state): State<AppState>,
    params: Result<Query<IncidentsParams>, QueryRejection>,
) -> Result<Json<IncidentsPage>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let query = params.to_query()?;
    blocking(move || {
        let page = query
            .run(&state.incidents)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok(Json(IncidentsPage {
            incidents: page.incidents.iter().map(listed).collect(),
            next_cursor: page.next_cursor.map(|id| id.to_string()),
        }))
    })
    .await
}

/// Body of `POST /api/v1/incidents`. With `alert_id`, the alert prefills title,
/// description, category, host, severity and date (fields sent win), and the source is
/// `alert`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewIncidentBody {
    pub title: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub severity: Option<Severity>,
    pub source: Option<Source>,
    pub alert_id: Option<u64>,
    pub host: Option<String>,
    /// When it happened (RFC 3339); now when absent.
    pub occurred_at: Option<String>,
    #[serde(default)]
    pub followers: Vec<String>,
}

/// The new incident an alert suggests (its message, category, date), under what was sent.
fn prefill_from_alert(body: NewIncidentBody, alert: &crate::alerts::Alert) -> NewIncident {
    let title: String = alert.summary.chars().take(lifecycle::MAX_TITLE).collect();
    NewIncident {
        title: body.title.unwrap_or(title),
        description: body.description.unwrap_or_else(|| {
            format!(
                "Alert #{} ({}, rule {}) on {}: {}\nFirst seen {}, {} event(s).",
                alert.id,
                alert.level.as_str(),
                alert.rule,
                alert.host,
                alert.summary,
                crate::event::format_ns(alert.first_seen_ns),
                alert.count
            )
        }),
        category: body.category.or_else(|| alert.category.clone()),
        severity: body.severity.or(Some(Severity::of_level(alert.level))),
        source: Source::Alert,
        alert_ids: vec![alert.id],
        host: body.host.or_else(|| Some(alert.host.clone())),
        occurred_at_ns: Some(alert.first_seen_ns),
        followers: body.followers,
    }
}

async fn create(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    body: Result<Json<NewIncidentBody>, JsonRejection>,
) -> Result<(StatusCode, Json<IncidentJson>), ApiError> {
    let body = json_body(body)?;
    if body.alert_id.is_some() && !Permission::ActOnAlerts.allows(user.role) {
        return Err(ApiError::Forbidden);
    }
    let occurred_at_ns = time_param("occurred_at", &body.occurred_at)?;
    blocking(move || {
        unknown_users(&state, &body.followers)?;
        let new = match body.alert_id {
            Some(alert_id) => {
                let alert = crate::alerts::get(&state.store, alert_id)
                    .map_err(|e| ApiError::Internal(e.to_string()))?
                    .ok_or_else(|| ApiError::BadRequest(format!("no alert {alert_id}")))?;
                prefill_from_alert(body, &alert)
            }
            None => NewIncident {
                title: body.title.unwrap_or_default(),
                description: body.description.unwrap_or_default(),
                category: body.category,
                severity: body.severity,
                source: body.source.unwrap_or(Source::Contact),
                alert_ids: Vec::new(),
                host: body.host,
                occurred_at_ns,
                followers: body.followers,
            },
        };
        let incident = state.incidents.create(&new, &user.name, now_ns())?;
        Ok((StatusCode::CREATED, Json(incident.to_json())))
    })
    .await
}

/// One incident with whether the caller may change it (`may_edit`).
async fn get_one(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = incident_id(&id)?;
    blocking(move || {
        let incident = state.incidents.get(id)?.ok_or(ApiError::NotFound)?;
        let mut json = serde_json::to_value(incident.to_json())
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        json["may_edit"] = Value::Bool(may_edit_incident(&user, &incident));
        Ok(Json(json))
    })
    .await
}

/// Body of `PATCH /api/v1/incidents/{id}`: the fields sent change (`host: null` clears it).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    pub title: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub severity: Option<Severity>,
    #[serde(default, deserialize_with = "present")]
    pub host: Option<Option<String>>,
    pub followers: Option<Vec<String>>,
    pub knowledge_base: Option<bool>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

async fn qualify(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    Path(id): Path<String>,
    body: Result<Json<PatchBody>, JsonRejection>,
) -> Result<Json<IncidentJson>, ApiError> {
    let id = incident_id(&id)?;
    let body = json_body(body)?;
    // The knowledge base is kept by those who close incidents.
    if body.knowledge_base.is_some() && !Permission::ManageIncidents.allows(user.role) {
        return Err(ApiError::Forbidden);
    }
    let patch = IncidentPatch {
        title: body.title,
        description: body.description,
        category: body.category,
        severity: body.severity,
        host: body.host,
        followers: body.followers,
        knowledge_base: body.knowledge_base,
    };
    blocking(move || {
        if let Some(followers) = &patch.followers {
            unknown_users(&state, followers)?;
        }
        let incident = state.incidents.update(id, |incident| {
            if !may_edit_incident(&user, incident) {
                return Err(ApiError::Forbidden);
            }
            lifecycle::qualify(incident, &patch, &user.name, now_ns())?;
            Ok(())
        })?;
        Ok(Json(incident.to_json()))
    })
    .await
}

/// Body of `POST /api/v1/incidents/{id}/resolve`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolveBody {
    pub text: String,
    /// `true` resolves the incident; otherwise it is in progress.
    #[serde(rename = "final", default)]
    pub final_: bool,
}

async fn resolve(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    Path(id): Path<String>,
    body: Result<Json<ResolveBody>, JsonRejection>,
) -> Result<Json<IncidentJson>, ApiError> {
    let id = incident_id(&id)?;
    let body = json_body(body)?;
    blocking(move || {
        let incident = state.incidents.update(id, |incident| {
            if !may_edit_incident(&user, incident) {
                return Err(ApiError::Forbidden);
            }
            lifecycle::resolve(incident, &user.name, &body.text, body.final_, now_ns())?;
            Ok(())
        })?;
        if body.final_ {
            let news = IncidentNews::Resolved {
                by: user.name.clone(),
            };
            tell(
                &state,
                &incident,
                news,
                followers_and_opener(&incident),
                &user.name,
            );
        }
        Ok(Json(incident.to_json()))
    })
    .await
}

/// Body of `POST /api/v1/incidents/{id}/transfer`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferBody {
    /// User names (typically from the on-call schedule): the new assignees.
    pub to: Vec<String>,
    pub comment: Option<String>,
}

async fn transfer(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    Path(id): Path<String>,
    body: Result<Json<TransferBody>, JsonRejection>,
) -> Result<Json<IncidentJson>, ApiError> {
    let id = incident_id(&id)?;
    let body = json_body(body)?;
    blocking(move || {
        if body.to.len() > lifecycle::MAX_PEOPLE {
            return Err(LifecycleError::Invalid {
                field: "to",
                reason: format!("at most {} users", lifecycle::MAX_PEOPLE),
            }
            .into());
        }
        unknown_users(&state, &body.to)?;
        let incident = state.incidents.update(id, |incident| {
            lifecycle::transfer(
                incident,
                &body.to,
                &user.name,
                body.comment.as_deref(),
                now_ns(),
            )?;
            Ok::<(), ApiError>(())
        })?;
        // The assignees, and the managers of its category ("managers of that type notified").
        let mut names = incident.assignees.clone();
        if let Ok(users) = state.accounts.users() {
            names.extend(
                users
                    .into_iter()
                    .filter(|u| {
                        u.role == Role::Manager && u.categories.contains(&incident.category)
                    })
                    .map(|u| u.name),
            );
        }
        let news = IncidentNews::Transferred {
            by: user.name.clone(),
            comment: body.comment.clone().filter(|c| !c.trim().is_empty()),
        };
        tell(&state, &incident, news, names, &user.name);
        Ok(Json(incident.to_json()))
    })
    .await
}

/// Body of `POST /api/v1/incidents/{id}/close`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloseBody {
    /// Keep it in the knowledge base.
    #[serde(default)]
    pub knowledge_base: bool,
    pub comment: Option<String>,
}

async fn close(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    Path(id): Path<String>,
    body: Option<Json<CloseBody>>,
) -> Result<Json<IncidentJson>, ApiError> {
    let id = incident_id(&id)?;
    let body = body.map(|Json(b)| b).unwrap_or_default();
    blocking(move || {
        let incident = state.incidents.update(id, |incident| {
            lifecycle::close(
                incident,
                &user.name,
                body.knowledge_base,
                body.comment.as_deref(),
                now_ns(),
            )?;
            Ok::<(), ApiError>(())
        })?;
        let news = IncidentNews::Closed {
            by: user.name.clone(),
        };
        tell(
            &state,
            &incident,
            news,
            followers_and_opener(&incident),
            &user.name,
        );
        Ok(Json(incident.to_json()))
    })
    .await
}

/// Response of `GET /api/v1/incidents/{id}/related`.
#[derive(Debug, Serialize)]
pub struct RelatedPage {
    pub incidents: Vec<IncidentJson>,
}

async fn related(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RelatedPage>, ApiError> {
    let id = incident_id(&id)?;
    blocking(move || {
        let incident = state.incidents.get(id)?.ok_or(ApiError::NotFound)?;
        let related = search::related(&state.incidents, &incident)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok(Json(RelatedPage {
            incidents: related.iter().map(listed).collect(),
        }))
    })
    .await
}

fn attachment(content_type: &'static str, disposition: String, body: Vec<u8>) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

async fn as_pdf(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = incident_id(&id)?;
    blocking(move || {
        let incident = state.incidents.get(id)?.ok_or(ApiError::NotFound)?;
        let name = incident.reference.replace('/', "-");
        Ok(attachment(
            "application/pdf",
            format!("inline; filename=\"incident-{name}.pdf\""),
            pdf::render(&incident),
        ))
    })
    .await
}

/// Query string of `GET /api/v1/incidents/export`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    /// `csv` (default) or `json`.
    pub format: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
}

/// The incidents opened in the period, oldest first; `X-Trapline-Truncated: true` when more
/// than `export::MAX_EXPORT` were left out.
async fn export_period(
    State(state): State<AppState>,
    params: Result<Query<ExportParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let since = time_param("since", &params.since)?;
    let until = time_param("until", &params.until)?;
    let format = nonempty(&params.format).unwrap_or_else(|| "csv".into());
    if format != "csv" && format != "json" {
        return Err(ApiError::BadRequest("format: csv or json".into()));
    }
    blocking(move || {
        let (incidents, cut) = export::period(&state.incidents, since, until)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let mut response = if format == "csv" {
            attachment(
                "text/csv; charset=utf-8",
                "attachment; filename=\"incidents.csv\"".into(),
                export::to_csv(&incidents).into_bytes(),
            )
        } else {
            let json: Vec<IncidentJson> = incidents.iter().map(Incident::to_json).collect();
            attachment(
                "application/json",
                "attachment; filename=\"incidents.json\"".into(),
                serde_json::to_vec(&json).map_err(|e| ApiError::Internal(e.to_string()))?,
            )
        };
        if cut {
            response
                .headers_mut()
                .insert("x-trapline-truncated", HeaderValue::from_static("true"));
        }
        Ok(response)
    })
    .await
}
