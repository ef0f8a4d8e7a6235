//! `/api/v1/reports/…` and `/api/v1/outages`: availability reports (JSON, CSV, SVG), the
//! alert statistics, and manual outage entries.
//!
//! A report's window is the `period` (day | week | month | quarter | year, default day)
//! containing `at` (default now) in the reports' time zone (`[reports] timezone`), or a
//! custom `since`/`until`. The figures are computed by `crate::availability::report` from
//! the `outages` records on the blocking pool; this file only parses, checks and renders.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};

use super::api::nonempty;
use super::{ApiError, AppState, blocking};
use crate::accounts::User;
use crate::availability::period::{self, Period};
use crate::availability::report::{self, ReportScope};
use crate::availability::{
    AvailabilityError, AvailabilityReport, ManualOutage, OutageJson, Span, chart, summary,
};
use crate::event::now_ns;

/// Longest custom range: ten years (a report over all of a year's outages stays cheap;
/// beyond that is a typo).
const MAX_RANGE_NS: i64 = 10 * 366 * 86_400 * 1_000_000_000;

/// Routes (mounted under `/api/v1`, behind `auth::require_user`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/reports/availability", get(availability))
        .route("/reports/availability.svg", get(availability_svg))
        .route("/reports/summary", get(summary_json))
        .route("/reports/summary.svg", get(summary_svg))
        .route("/outages", get(list_outages).post(add_outage))
        .route("/outages/{id}", delete(remove_outage))
}

/// Query string of the report routes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportParams {
    pub period: Option<String>,
    pub at: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub host: Option<String>,
    pub service: Option<String>,
    /// `json` (default) or `csv` (availability only).
    pub format: Option<String>,
}

fn instant(name: &str, value: &Option<String>) -> Result<Option<i64>, ApiError> {
    nonempty(value)
        .map(|t| {
            crate::rules::parse_instant(&t)
                .map_err(|e| ApiError::BadRequest(format!("{name}: {e}")))
        })
        .transpose()
}

impl ReportParams {
    /// The period (`None` for a custom range) and window asked for.
    fn window(&self, tz: chrono_tz::Tz, now: i64) -> Result<(Option<Period>, Span), ApiError> {
        let since = instant("since", &self.since)?;
        let until = instant("until", &self.until)?;
        match (since, until) {
            (Some(since), Some(until)) => {
                if nonempty(&self.period).is_some() || nonempty(&self.at).is_some() {
                    return Err(ApiError::BadRequest(
                        "give either period (and at) or since and until".into(),
                    ));
                }
                if until <= since || until - since > MAX_RANGE_NS {
                    return Err(ApiError::BadRequest(
                        "until must come after since, at most ten years later".into(),
                    ));
                }
                Ok((None, Span::new(since, until)))
            }
            (None, None) => {
                let name = nonempty(&self.period).unwrap_or_else(|| "day".into());
                let period = Period::parse(&name).ok_or_else(|| {
                    ApiError::BadRequest(
                        "period: expected day, week, month, quarter or year".into(),
                    )
                })?;
                let at = instant("at", &self.at)?.unwrap_or(now);
                Ok((Some(period), period::window(period, at, tz)))
            }
            _ => Err(ApiError::BadRequest("since and until go together".into())),
        }
    }

    fn scope(&self, tz: chrono_tz::Tz, now: i64) -> Result<ReportScope, ApiError> {
        let (period, window) = self.window(tz, now)?;
        Ok(ReportScope {
            period,
            window,
            timezone: tz,
            host: nonempty(&self.host),
            service: nonempty(&self.service),
        })
    }

    fn csv(&self) -> Result<bool, ApiError> {
        match nonempty(&self.format).as_deref() {
            None | Some("json") => Ok(false),
            Some("csv") => Ok(true),
            Some(_) => Err(ApiError::BadRequest("format: expected json or csv".into())),
        }
    }
}

fn params(params: Result<Query<ReportParams>, QueryRejection>) -> Result<ReportParams, ApiError> {
    params
        .map(|Query(p)| p)
        .map_err(|e| ApiError::BadRequest(e.body_text()))
}

impl From<AvailabilityError> for ApiError {
    fn from(error: AvailabilityError) -> ApiError {
        match error {
            AvailabilityError::Invalid(detail) => ApiError::BadRequest(detail),
            AvailabilityError::NotFound => ApiError::NotFound,
            AvailabilityError::NotManual => ApiError::Conflict(error.to_string()),
            AvailabilityError::Store(error) => ApiError::Internal(error.to_string()),
        }
    }
}

/// The availability report of `params`.
async fn build_report(
    state: &AppState,
    params: &ReportParams,
) -> Result<AvailabilityReport, ApiError> {
    let now = now_ns();
    let scope = params.scope(state.report_timezone, now)?;
    let outages = state.outages.clone();
    blocking(move || {
        let found = outages
            .overlapping(scope.window, now)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok(report::build(&scope, &found, now))
    })
    .await
}

/// `GET /api/v1/reports/availability` (`format=csv` for a spreadsheet).
async fn availability(
    State(state): State<AppState>,
    query: Result<Query<ReportParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = params(query)?;
    let csv = params.csv()?;
    let report = build_report(&state, &params).await?;
    if !csv {
        return Ok(Json(report).into_response());
    }
    let name = format!(
        "attachment; filename=\"availability-{}-{}.csv\"",
        report.period,
        report.since.get(..10).unwrap_or("")
    );
    let mut response = report::to_csv(&report).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&name) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

fn svg(body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml; charset=utf-8"),
            // An SVG opened on its own is a document: no script may run in it either.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
        ],
        body,
    )
        .into_response()
}

/// `GET /api/v1/reports/availability.svg`: the least available hosts as bars.
async fn availability_svg(
    State(state): State<AppState>,
    query: Result<Query<ReportParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let report = build_report(&state, &params(query)?).await?;
    Ok(svg(chart::availability_chart(&report)))
}

/// The alert statistics of `params`.
async fn build_summary(
    state: &AppState,
    params: &ReportParams,
) -> Result<summary::AlertSummary, ApiError> {
    let tz = state.report_timezone;
    let (period, window) = params.window(tz, now_ns())?;
    let store = state.store.clone();
    blocking(move || {
        let buckets = period::buckets(window, period, tz);
        summary::summarize(
            &store,
            period.map_or("custom", Period::as_str),
            tz,
            &buckets,
        )
        .map_err(|e| ApiError::Internal(e.to_string()))
    })
    .await
}

/// `GET /api/v1/reports/summary`: alerts per level per bucket and per category.
async fn summary_json(
    State(state): State<AppState>,
    query: Result<Query<ReportParams>, QueryRejection>,
) -> Result<Json<summary::AlertSummary>, ApiError> {
    Ok(Json(build_summary(&state, &params(query)?).await?))
}

/// `GET /api/v1/reports/summary.svg`: the same as stacked columns.
async fn summary_svg(
    State(state): State<AppState>,
    query: Result<Query<ReportParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let summary = build_summary(&state, &params(query)?).await?;
    Ok(svg(chart::alerts_chart(&summary)))
}

/// Response of `GET /api/v1/outages`.
#[derive(Debug, Serialize)]
pub struct OutagesPage {
    pub since: String,
    pub until: String,
    pub outages: Vec<OutageJson>,
}

/// `GET /api/v1/outages`: outages (alert-derived and manual) overlapping the window (default:
/// this month), by start.
async fn list_outages(
    State(state): State<AppState>,
    query: Result<Query<ReportParams>, QueryRejection>,
) -> Result<Json<OutagesPage>, ApiError> {
    let mut params = params(query)?;
    if nonempty(&params.since).is_none() && nonempty(&params.period).is_none() {
        params.period = Some("month".into());
    }
    let now = now_ns();
    let scope = params.scope(state.report_timezone, now)?;
    let outages = state.outages.clone();
    blocking(move || {
        let found = outages
            .overlapping(scope.window, now)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok(Json(OutagesPage {
            since: crate::event::format_ns(scope.window.start_ns),
            until: crate::event::format_ns(scope.window.end_ns),
            outages: found
                .iter()
                .filter(|o| {
                    scope
                        .host
                        .as_deref()
                        .is_none_or(|h| o.host.eq_ignore_ascii_case(h))
                })
                .filter(|o| scope.service.as_deref().is_none_or(|s| o.service == s))
                .map(|o| o.to_json(now))
                .collect(),
        }))
    })
    .await
}

/// Body of `POST /api/v1/outages`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOutage {
    pub host: String,
    pub service: Option<String>,
    pub start: String,
    /// Absent: still down (set it later by removing and re-entering).
    pub end: Option<String>,
    pub reason: String,
}

/// `POST /api/v1/outages`: records a manual outage (who and when are the caller and now).
async fn add_outage(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    body: Result<Json<NewOutage>, JsonRejection>,
) -> Result<(StatusCode, Json<OutageJson>), ApiError> {
    let Json(body) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let entry = ManualOutage {
        host: body.host,
        service: body.service,
        start_ns: instant("start", &Some(body.start))?
            .ok_or_else(|| ApiError::BadRequest("start: required".into()))?,
        end_ns: instant("end", &body.end)?,
        reason: body.reason,
    };
    let outages = state.outages.clone();
    blocking(move || {
        let now = now_ns();
        let outage = outages.add_manual(entry, &user.name, now)?;
        tracing::info!(id = %outage.id, host = %outage.host, by = %user.name, "Manual outage recorded.");
        Ok((StatusCode::CREATED, Json(outage.to_json(now))))
    })
    .await
}

/// `DELETE /api/v1/outages/{id}`: removes a manual outage (409 for one from an alert).
async fn remove_outage(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(id) = path.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let outages = state.outages.clone();
    blocking(move || {
        let removed = outages.remove_manual(&id)?;
        tracing::info!(id = %removed.id, host = %removed.host, by = %user.name, "Manual outage removed.");
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_a_period_or_a_custom_range() {
        let utc = chrono_tz::UTC;
        let now = crate::rules::parse_instant("2026-11-25T12:00:00Z").unwrap();
        let p = |period: Option<&str>,
                 at: Option<&str>,
                 since: Option<&str>,
                 until: Option<&str>| ReportParams {
            period: period.map(Into::into),
            at: at.map(Into::into),
            since: since.map(Into::into),
            until: until.map(Into::into),
            ..Default::default()
        };
        let (period, day) = p(None, None, None, None).window(utc, now).unwrap();
        assert_eq!(period, Some(Period::Day));
        assert_eq!(day.len_ns(), 86_400_000_000_000);
        let (_, week) = p(Some("week"), Some("2026-11-01T00:00:00Z"), None, None)
            .window(utc, now)
            .unwrap();
        assert_eq!(
            week.start_ns,
            crate::rules::parse_instant("2026-10-26T00:00:00Z").unwrap()
        );
        let (period, custom) = p(
            None,
            None,
            Some("2026-11-01T00:00:00Z"),
            Some("2026-11-02T00:00:00Z"),
        )
        .window(utc, now)
        .unwrap();
        assert_eq!((period, custom.len_ns()), (None, 86_400_000_000_000));
        assert!(
            p(Some("decade"), None, None, None)
                .window(utc, now)
                .is_err()
        );
        assert!(
            p(None, None, Some("2026-11-01T00:00:00Z"), None)
                .window(utc, now)
                .is_err()
        );
        assert!(
            p(
                None,
                None,
                Some("2026-11-02T00:00:00Z"),
                Some("2026-11-01T00:00:00Z")
            )
            .window(utc, now)
            .is_err()
        );
        assert!(
            p(
                Some("day"),
                None,
                Some("2026-11-01T00:00:00Z"),
                Some("2026-11-02T00:00:00Z")
            )
            .window(utc, now)
            .is_err()
        );
    }
}
