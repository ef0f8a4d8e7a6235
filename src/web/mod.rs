//! HTTP: health, readiness, Prometheus metrics, the JSON API and the web UI's pages (axum).
//!
//! The only module that knows HTTP. One cloneable [`AppState`]; each resource file owns its
//! routes, request/response types and handlers; one [`ApiError`] turns failures into the
//! contract's `{"error": …, "detail": …}` bodies (details are logged, never a stack trace).
//! Handlers read the store through its query API; they never see sled.
//!
//! Who may call what: `auth` authenticates (bearer token or session cookie, CSRF) and checks
//! the route against `roles`, the one table of permissions. `session` keeps the web UI's
//! server-side sessions, `login` the login and logout pages, the failed-login limiter and the
//! login audit, `pages` renders HTML with the security headers. `tls` serves the same
//! router over HTTPS when the config names a certificate.

pub mod alerts;
pub mod api;
pub mod auth;
pub mod console;
pub mod hosts;
pub mod incidents;
pub mod login;
pub mod notify;
pub mod openapi;
pub mod pages;
pub mod reports;
pub mod roles;
pub mod session;
pub mod system;
#[cfg(test)]
mod tests;
pub mod tls;
pub mod users;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::accounts::Accounts;
use crate::metrics::{self, metrics};
use crate::store::Store;

/// Everything a handler may need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub accounts: Arc<Accounts>,
    /// The rules in force (maintenance windows from rule files).
    pub rules: crate::rules::reload::ActiveRules,
    /// The alert engine, for operator actions and API maintenance windows.
    pub alerts: crate::pipeline::SharedAlerts,
    /// The host inventory the store writer fills (`/api/v1/hosts`).
    pub equipment: crate::equipment::Equipment,
    /// Set once the listeners are bound and the store is open.
    pub ready: Arc<AtomicBool>,
    /// Whether `/metrics` needs a bearer token too.
    pub metrics_require_token: bool,
    /// The web UI's sessions (record tree `sessions`).
    pub sessions: Arc<session::Sessions>,
    /// Every login attempt (record tree `logins`).
    pub logins: Arc<login::LoginAudit>,
    /// Failed logins per user name and client address.
    pub login_limiter: Arc<login::LoginLimiter>,
    /// Every alert change as the engine writes it (new alerts within ~100 ms, folds at most
    /// every second), for `GET /api/v1/alerts/stream`.
    pub alert_feed: AlertFeed,
    /// When this process started serving (Unix ns), for `GET /api/v1/system`.
    pub started_ns: i64,
    /// Incident tickets (record trees `incidents`, `incident_counters`).
    pub incidents: Arc<crate::incidents::IncidentStore>,
    /// Queues incident mails in the notifier's outbox; `None` without a notifier (tests).
    pub incident_mail: Option<crate::notify::IncidentMailer>,
    /// Outages (record tree `outages`) for the reports and manual entries.
    pub outages: crate::availability::OutageStore,
    /// The time zone report periods are cut in (`[reports] timezone`; UTC unless set with
    /// [`AppState::with_report_timezone`]).
    pub report_timezone: chrono_tz::Tz,
}

/// The broadcast of alert changes (each alert's JSON text, serialized once); a subscriber that falls behind by more than
/// [`ALERT_FEED_CAPACITY`] changes is told so (`event: lagged`) and reloads the list.
pub type AlertFeed = tokio::sync::broadcast::Sender<Arc<str>>;

/// Changes buffered per subscriber.
pub const ALERT_FEED_CAPACITY: usize = 4096;

impl AppState {
    /// The state over an open store: opens the session and login-audit record trees.
    pub fn new(
        store: Store,
        accounts: Arc<Accounts>,
        rules: crate::rules::reload::ActiveRules,
        alerts: crate::pipeline::SharedAlerts,
        equipment: crate::equipment::Equipment,
        ready: Arc<AtomicBool>,
        metrics_require_token: bool,
    ) -> Result<AppState, crate::store::StoreError> {
        let (alert_feed, _) = tokio::sync::broadcast::channel(ALERT_FEED_CAPACITY);
        crate::pipeline::lock(&alerts).set_change_feed(alert_feed.clone());
        Ok(AppState {
            alert_feed,
            started_ns: crate::event::now_ns(),
            sessions: Arc::new(session::Sessions::open(&store, false)?),
            logins: Arc::new(login::LoginAudit::open(&store)?),
            incidents: Arc::new(crate::incidents::IncidentStore::open(&store)?),
            incident_mail: None,
            outages: crate::availability::OutageStore::open(&store)?,
            report_timezone: chrono_tz::UTC,
            login_limiter: Arc::default(),
            store,
            accounts,
            rules,
            alerts,
            equipment,
            ready,
            metrics_require_token,
        })
    }

    /// Sends incident mails through `mailer` (the running notifier's outbox).
    pub fn with_incident_mailer(mut self, mailer: crate::notify::IncidentMailer) -> AppState {
        self.incident_mail = Some(mailer);
        self
    }

    /// Cuts report periods in `timezone` (`[reports] timezone`).
    pub fn with_report_timezone(mut self, timezone: chrono_tz::Tz) -> AppState {
        self.report_timezone = timezone;
        self
    }

    /// Marks the session and login cookies `Secure`, so a browser never sends them over plain
    /// HTTP: for when trapline serves HTTPS itself (`[http] tls_cert`).
    pub fn with_secure_cookies(mut self) -> Result<AppState, crate::store::StoreError> {
        self.sessions = Arc::new(session::Sessions::open(&self.store, true)?);
        Ok(self)
    }
}

/// An API failure, rendered as `{"error": "...", "detail": ...}` with a fitting status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("unauthorized")]
    Unauthorized,
    #[error("forbidden")]
    Forbidden,
    /// A state-changing request through a session without the session's CSRF token.
    #[error("forbidden")]
    Csrf,
    #[error("not found")]
    NotFound,
    #[error("bad request")]
    BadRequest(String),
    /// The request is valid but conflicts with the resource's state (e.g. ack an archived alert).
    #[error("conflict")]
    Conflict(String),
    #[error("internal error")]
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, detail) = match &self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, serde_json::Value::Null),
            ApiError::Forbidden => (StatusCode::FORBIDDEN, serde_json::Value::Null),
            ApiError::Csrf => (
                StatusCode::FORBIDDEN,
                json!("missing or wrong CSRF token (header X-CSRF-Token or form field csrf)"),
            ),
            ApiError::NotFound => (StatusCode::NOT_FOUND, serde_json::Value::Null),
            ApiError::BadRequest(detail) => (StatusCode::BAD_REQUEST, json!(detail)),
            ApiError::Conflict(detail) => (StatusCode::CONFLICT, json!(detail)),
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "Internal error while serving a request.");
                (StatusCode::INTERNAL_SERVER_ERROR, serde_json::Value::Null)
            }
        };
        let mut response = (
            status,
            axum::Json(json!({"error": self.to_string(), "detail": detail})),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Runs store or argon2 work on tokio's blocking pool (handlers never block a worker); a
/// panicked task is an internal error.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let metrics_route = if state.metrics_require_token {
        Router::new()
            .route("/metrics", get(metrics_text))
            .route_layer(middleware::from_fn_with_state(
                state.clone(),
                auth::require_token,
            ))
    } else {
        Router::new().route("/metrics", get(metrics_text))
    };
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .merge(metrics_route)
        .merge(login::router())
        .merge(console::router())
        .nest("/api/v1", api::router(state.clone()))
        .fallback(|| async { ApiError::NotFound })
        .layer(middleware::from_fn(count_requests))
        .with_state(state)
}

async fn readyz(State(state): State<AppState>) -> Response {
    if state.ready.load(Ordering::Acquire) {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting\n").into_response()
    }
}

async fn metrics_text() -> Response {
    crate::listen::kernel_drops::refresh();
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        metrics().render(),
    )
        .into_response()
}

/// Counts requests by route template (never the raw URI: labels stay bounded).
async fn count_requests(request: Request, next: Next) -> Response {
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "other".into());
    let response = next.run(request).await;
    metrics()
        .http_requests
        .with_label_values(&[&path, response.status().as_str()])
        .inc();
    response
}

/// Binds the HTTP listener; returns the bound address and the server future's task.
pub async fn serve(
    addr: SocketAddr,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    });
    Ok((bound, task))
}

/// [`serve`] over HTTPS: the same router behind a [`tls::TlsListener`] with `config`.
pub async fn serve_tls(
    addr: SocketAddr,
    state: AppState,
    config: Arc<rustls::ServerConfig>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>)> {
    use axum::serve::ListenerExt;
    let tcp = tokio::net::TcpListener::bind(addr).await?;
    let listener = tls::TlsListener::new(tcp, config)?;
    let bound = axum::serve::Listener::local_addr(&listener)?;
    // `tap_io` (doing nothing) is how axum gives a custom listener's peer address to
    // `ConnectInfo<SocketAddr>`, which the login limiter and audit use.
    let listener = listener.tap_io(|_| {});
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    });
    Ok((bound, task))
}
