//! `/api/v1/users`: the admins' user management (the contract's `GET|POST /api/v1/users`,
//! `PATCH|DELETE /api/v1/users/{name}`).
//!
//! Passwords go in, never out: the JSON of a user has no hash. Removing a user revokes its
//! tokens and ends its sessions; the last admin can neither go nor lose the role (409), so
//! there is always someone who can manage users.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, patch};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Deserializer, Serialize};

use super::{ApiError, AppState};
use crate::accounts::{AccountError, Role, User, UserChange};

/// Routes (mounted under `/api/v1`; admins only, see `roles::ENDPOINTS`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/users", get(list_users).post(create_user))
        .route("/users/{name}", patch(update_user).delete(delete_user))
}

/// A user in the API.
#[derive(Debug, Serialize)]
pub struct UserJson {
    pub name: String,
    pub role: Role,
    pub email: Option<String>,
    pub created_at: String,
    /// The incident categories a manager answers for.
    pub categories: Vec<String>,
}

impl From<&User> for UserJson {
    fn from(user: &User) -> UserJson {
        UserJson {
            name: user.name.clone(),
            role: user.role,
            email: user.email.clone(),
            created_at: user.created_at.clone(),
            categories: user.categories.clone(),
        }
    }
}

/// Body of `POST /api/v1/users`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub name: String,
    pub role: Role,
    pub password: String,
    pub email: Option<String>,
}

/// Body of `PATCH /api/v1/users/{name}`: absent fields stay; `"email": null` removes it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub role: Option<Role>,
    #[serde(default, deserialize_with = "present")]
    pub email: Option<Option<String>>,
    pub password: Option<String>,
    /// Incident categories (managers edit the incidents of these).
    pub categories: Option<Vec<String>>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Longest password accepted (argon2 would take any; the bound keeps requests small).
const MAX_PASSWORD: usize = 1024;

fn account_error(error: AccountError) -> ApiError {
    match error {
        AccountError::NoSuchUser(_) => ApiError::NotFound,
        error @ (AccountError::UserExists(_) | AccountError::LastAdmin(_)) => {
            ApiError::Conflict(error.to_string())
        }
        error @ (AccountError::BadName(_)
        | AccountError::BadRole(_)
        | AccountError::WeakPassword
        | AccountError::BadEmail(_)
        | AccountError::BadCategory(_)) => ApiError::BadRequest(error.to_string()),
        error => ApiError::Internal(error.to_string()),
    }
}

/// Runs an accounts call on the blocking pool (argon2 hashing is slow on purpose).
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AccountError> + Send + 'static,
) -> Result<T, ApiError> {
    super::blocking(move || work().map_err(account_error)).await
}

async fn list_users(State(state): State<AppState>) -> Result<Json<Vec<UserJson>>, ApiError> {
    let accounts = state.accounts.clone();
    let users = blocking(move || accounts.users()).await?;
    Ok(Json(users.iter().map(UserJson::from).collect()))
}

async fn create_user(
    State(state): State<AppState>,
    Extension(admin): Extension<User>,
    body: Result<Json<NewUser>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<UserJson>), ApiError> {
    let Json(body) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    if body.password.len() > MAX_PASSWORD {
        return Err(ApiError::BadRequest(format!(
            "password: at most {MAX_PASSWORD} bytes"
        )));
    }
    let accounts = state.accounts.clone();
    let user = blocking(move || {
        accounts.add_user(&body.name, body.role, &body.password)?;
        let change = UserChange {
            email: Some(body.email),
            ..UserChange::default()
        };
        match accounts.update_user(&body.name, &change) {
            Ok(user) => Ok(user),
            Err(error) => {
                // A bad address refuses the whole request: no half-made user stays behind.
                accounts.remove_user(&body.name)?;
                Err(error)
            }
        }
    })
    .await?;
    tracing::info!(user = %user.name, role = user.role.as_str(), by = %admin.name, "User created.");
    Ok((StatusCode::CREATED, Json(UserJson::from(&user))))
}

async fn update_user(
    State(state): State<AppState>,
    Extension(admin): Extension<User>,
    Path(name): Path<String>,
    body: Result<Json<UserPatch>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<UserJson>, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    if body
        .password
        .as_ref()
        .is_some_and(|p| p.len() > MAX_PASSWORD)
    {
        return Err(ApiError::BadRequest(format!(
            "password: at most {MAX_PASSWORD} bytes"
        )));
    }
    let change = UserChange {
        role: body.role,
        email: body.email,
        password: body.password,
        categories: body.categories,
    };
    let accounts = state.accounts.clone();
    let user = blocking(move || accounts.update_user(&name, &change)).await?;
    tracing::info!(user = %user.name, role = user.role.as_str(), by = %admin.name, "User changed.");
    Ok(Json(UserJson::from(&user)))
}

async fn delete_user(
    State(state): State<AppState>,
    Extension(admin): Extension<User>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let accounts = state.accounts.clone();
    let removed = name.clone();
    blocking(move || accounts.remove_user(&removed)).await?;
    tracing::info!(user = %name, by = %admin.name, "User removed.");
    Ok(StatusCode::NO_CONTENT)
}
