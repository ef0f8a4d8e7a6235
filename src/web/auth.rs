//! Bearer-token authentication for the JSON API.
//!
//! The verified [`User`] is put into the request's extensions for handlers that need it. Token
//! checks run on the blocking pool because the first check of a token is an argon2 verification.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState};
use crate::accounts::User;

/// Middleware: rejects requests without a valid `Authorization: Bearer TOKEN`.
pub async fn require_token(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
        })
        .map(|token| token.trim().to_string());
    let Some(token) = token else {
        return ApiError::Unauthorized.into_response();
    };
    let accounts = state.accounts.clone();
    let verified = tokio::task::spawn_blocking(move || accounts.verify_token(&token)).await;
    match verified {
        Ok(Ok(Some(user))) => {
            request.extensions_mut().insert::<User>(user);
            next.run(request).await
        }
        Ok(Ok(None)) => ApiError::Unauthorized.into_response(),
        Ok(Err(error)) => ApiError::Internal(error.to_string()).into_response(),
        Err(error) => ApiError::Internal(error.to_string()).into_response(),
    }
}
