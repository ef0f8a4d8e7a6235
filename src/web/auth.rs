//! Authentication and authorization of the JSON API: bearer tokens or the session cookie,
//! CSRF for session requests that change state, and the role check of `super::roles`.
//!
//! [`require_user`] runs on every `/api/v1` route. It finds the user (a bearer token, or the
//! web UI's session cookie when there is no `Authorization` header), refuses a session request
//! with an unsafe method (POST, PUT, PATCH, DELETE) whose `X-CSRF-Token` header is not the
//! session's token, then refuses a user whose role lacks the route's permission. The verified
//! [`User`] and how it was authenticated ([`AuthMethod`]) go into the request's extensions.
//! Bearer requests need no CSRF token: browsers never attach a bearer token by themselves.
//!
//! [`require_token`] (bearer only, any role) guards `/metrics` when the config asks for it.
//! Checks run on the blocking pool: the first check of a token is an argon2 verification, and
//! a session lookup may write to the store.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::session::secrets_match;
use super::{ApiError, AppState, login, roles};
use crate::accounts::User;

/// Header that carries the session's CSRF token on API calls.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How the request's user was authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMethod {
    Bearer,
    /// The session's storage key.
    Session(String),
}

fn bearer_token(headers: &HeaderMap) -> Option<Result<String, ApiError>> {
    let value = headers.get(header::AUTHORIZATION)?;
    let token = value.to_str().ok().and_then(|value| {
        value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(|token| token.trim().to_string())
    });
    Some(token.ok_or(ApiError::Unauthorized))
}

async fn verify_bearer(state: &AppState, token: String) -> Result<User, ApiError> {
    let accounts = state.accounts.clone();
    match tokio::task::spawn_blocking(move || accounts.verify_token(&token)).await {
        Ok(Ok(Some(user))) => Ok(user),
        Ok(Ok(None)) => Err(ApiError::Unauthorized),
        Ok(Err(error)) => Err(ApiError::Internal(error.to_string())),
        Err(error) => Err(ApiError::Internal(error.to_string())),
    }
}

/// Whether a method may change state (and so needs a CSRF token through a session).
fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Middleware for `/api/v1`: authenticates (bearer or session + CSRF), then checks the role
/// against the route's permission. 401 without credentials, 403 for a missing CSRF token or
/// a role the route does not allow; JSON errors throughout.
pub async fn require_user(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match authorize(&state, request).await {
        Ok(request) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

async fn authorize(state: &AppState, mut request: Request) -> Result<Request, ApiError> {
    let (user, method) = match bearer_token(request.headers()) {
        Some(token) => (verify_bearer(state, token?).await?, AuthMethod::Bearer),
        None => {
            let (session, user) = login::session_user(state, request.headers())
                .await?
                .ok_or(ApiError::Unauthorized)?;
            if is_unsafe(request.method()) {
                let sent = request
                    .headers()
                    .get(CSRF_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if !secrets_match(sent, &session.record.csrf_token) {
                    return Err(ApiError::Csrf);
                }
            }
            (user, AuthMethod::Session(session.key))
        }
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    match roles::permission_for(request.method(), &route) {
        Some(permission) if permission.allows(user.role) => {}
        Some(_) => return Err(ApiError::Forbidden),
        None => {
            tracing::error!(method = %request.method(), route, "Route has no entry in the roles table; refused.");
            return Err(ApiError::Forbidden);
        }
    }
    request.extensions_mut().insert::<User>(user);
    request.extensions_mut().insert(method);
    Ok(request)
}

/// Middleware: rejects requests without a valid `Authorization: Bearer TOKEN` (any role).
pub async fn require_token(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let token = match bearer_token(request.headers()) {
        Some(Ok(token)) => token,
        Some(Err(error)) => return error.into_response(),
        None => return ApiError::Unauthorized.into_response(),
    };
    match verify_bearer(&state, token).await {
        Ok(user) => {
            request.extensions_mut().insert::<User>(user);
            next.run(request).await
        }
        Err(error) => error.into_response(),
    }
}
