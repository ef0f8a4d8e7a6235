//! Logging in and out: `GET|POST /login`, `POST /logout`, the failed login limiter and the
//! login audit (`GET /api/v1/logins`).
//!
//! A login is: the form's CSRF token matches the login cookie (double submit: the form and
//! its cookie come from the same `GET /login`, and a SameSite=Strict cookie is never sent
//! by another site's form) → neither the user name nor the client address is blocked by
//! [`LoginLimiter`] → the password is checked (argon2, on the blocking pool) → a session
//! starts ([`super::session`]) and the browser is sent to `/` with `303 See Other`. A wrong
//! user name and a wrong password get the same answer, status and (argon2) time. Every
//! attempt is written to the [`LoginAudit`]; only the first refusal of a blocked name or
//! address is, so a flood of refused attempts costs no store writes.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use axum::extract::{ConnectInfo, FromRequest, Query, State};
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::{Deserialize, Serialize};

use super::session::{self, SESSION_COOKIE, secrets_match};
use super::{ApiError, AppState, pages};
use crate::accounts::{Role, User};
use crate::event::{format_ns, now_ns};
use crate::store::{RecordTree, Store, StoreError};

const NS_PER_SEC: i64 = 1_000_000_000;

/// Failed logins allowed per user name, and per client address, within [`FAILURE_WINDOW_NS`].
pub const MAX_FAILURES: u32 = 5;
/// The window in which failures count.
pub const FAILURE_WINDOW_NS: i64 = 5 * 60 * NS_PER_SEC;
/// How long a name or an address is refused (429) once it reached [`MAX_FAILURES`].
pub const BLOCK_NS: i64 = 5 * 60 * NS_PER_SEC;
/// Most names (and, separately, addresses) the limiter tracks; beyond, the stalest entry goes.
/// 10,000 entries are well under a megabyte.
pub const MAX_TRACKED: usize = 10_000;

/// Cookie of the login form's CSRF token (sent to `/login` only).
pub const LOGIN_CSRF_COOKIE: &str = "trapline_login_csrf";
/// Longest user name and password looked at; longer ones fail without an argon2 check.
const MAX_NAME_BYTES: usize = 64;
const MAX_PASSWORD_BYTES: usize = 1024;

/// The generic failure message: never says whether the user exists.
const WRONG_CREDENTIALS: &str = "Wrong user name or password.";

/// Routes of the pages (no API auth: they authenticate by session themselves).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
}

/// The client's IP address (axum's `ConnectInfo`; unspecified when served without it).
pub fn client_address<B>(request: &Request<B>) -> IpAddr {
    address_of(request.extensions())
}

fn address_of(extensions: &axum::http::Extensions) -> IpAddr {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

// ---------------------------------------------------------------------------------------------
// Rate limiting

#[derive(Debug, Clone, Copy)]
struct Failures {
    window_start_ns: i64,
    count: u32,
    blocked_until_ns: i64,
    /// Whether the refusal during the current block was already audited.
    refusal_recorded: bool,
}

/// A refused attempt: how long to wait, and whether it is the first refusal of this block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub retry_after_secs: u64,
    pub first: bool,
}

/// Failed logins per user name and per client address (bounded maps, in memory: a restart
/// forgets them, which costs an attacker a restart of ours).
#[derive(Default)]
pub struct LoginLimiter {
    by_name: Mutex<HashMap<String, Failures>>,
    by_address: Mutex<HashMap<IpAddr, Failures>>,
}

fn name_key(name: &str) -> String {
    let mut end = name.len().min(MAX_NAME_BYTES);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_ascii_lowercase()
}

fn check_one<K: std::hash::Hash + Eq>(
    map: &mut HashMap<K, Failures>,
    key: &K,
    now_ns: i64,
) -> Option<Refused> {
    let entry = map.get_mut(key)?;
    if entry.blocked_until_ns <= now_ns {
        return None;
    }
    let first = !entry.refusal_recorded;
    entry.refusal_recorded = true;
    let wait_ns = entry.blocked_until_ns - now_ns;
    Some(Refused {
        retry_after_secs: u64::try_from(wait_ns.div_euclid(NS_PER_SEC) + 1).unwrap_or(1),
        first,
    })
}

fn fail_one<K: std::hash::Hash + Eq + Clone>(map: &mut HashMap<K, Failures>, key: K, now_ns: i64) {
    if map.len() >= MAX_TRACKED && !map.contains_key(&key) {
        map.retain(|_, f| {
            now_ns - f.window_start_ns < FAILURE_WINDOW_NS || f.blocked_until_ns > now_ns
        });
        if map.len() >= MAX_TRACKED {
            // Still full: an attack with many names or addresses. Forget the stalest entry
            // (an O(n) scan, only in this case) rather than grow.
            if let Some(stalest) = map
                .iter()
                .filter(|(_, f)| f.blocked_until_ns <= now_ns)
                .min_by_key(|(_, f)| f.window_start_ns)
                .or_else(|| map.iter().min_by_key(|(_, f)| f.blocked_until_ns))
                .map(|(k, _)| k.clone())
            {
                map.remove(&stalest);
            }
        }
    }
    let entry = map.entry(key).or_insert(Failures {
        window_start_ns: now_ns,
        count: 0,
        blocked_until_ns: 0,
        refusal_recorded: false,
    });
    if now_ns - entry.window_start_ns >= FAILURE_WINDOW_NS {
        *entry = Failures {
            window_start_ns: now_ns,
            count: 0,
            blocked_until_ns: 0,
            refusal_recorded: false,
        };
    }
    entry.count += 1;
    if entry.count >= MAX_FAILURES {
        entry.blocked_until_ns = now_ns + BLOCK_NS;
        entry.refusal_recorded = false;
        // The next window starts after the block.
        entry.window_start_ns = entry.blocked_until_ns;
        entry.count = 0;
    }
}

impl LoginLimiter {
    /// `Err` when the name or the address is blocked now.
    pub fn check(&self, name: &str, address: IpAddr, now_ns: i64) -> Result<(), Refused> {
        let by_name = check_one(&mut lock(&self.by_name), &name_key(name), now_ns);
        let by_address = check_one(&mut lock(&self.by_address), &address, now_ns);
        match (by_name, by_address) {
            (None, None) => Ok(()),
            (Some(r), None) | (None, Some(r)) => Err(r),
            (Some(a), Some(b)) => Err(Refused {
                retry_after_secs: a.retry_after_secs.max(b.retry_after_secs),
                first: a.first || b.first,
            }),
        }
    }

    /// Counts a failed login against the name and the address.
    pub fn failed(&self, name: &str, address: IpAddr, now_ns: i64) {
        fail_one(&mut lock(&self.by_name), name_key(name), now_ns);
        fail_one(&mut lock(&self.by_address), address, now_ns);
    }

    /// A successful login clears the name's failures (not the address's: one valid account
    /// must not reset the count of an address that guesses others).
    pub fn succeeded(&self, name: &str) {
        lock(&self.by_name).remove(&name_key(name));
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------------------------------------
// Audit

/// How a login attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginOutcome {
    Success,
    Failure,
    /// Refused without a password check: too many failures (recorded once per block).
    RateLimited,
}

/// One login attempt, as stored in the `logins` record tree and returned by the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRecord {
    /// RFC 3339 UTC.
    pub at: String,
    /// As typed (at most 64 bytes), also for unknown users.
    pub user: String,
    /// The user's role when the user exists.
    pub role: Option<Role>,
    /// The client's IP address.
    pub address: String,
    pub outcome: LoginOutcome,
}

/// Newest login attempts kept; older ones are removed as new ones come.
pub const MAX_LOGIN_RECORDS: usize = 10_000;
/// Records beyond the bound before a trim runs (one trim per this many attempts).
const TRIM_SLACK: usize = 100;

/// Every login and failed login, newest kept, over the `logins` record tree. Keys are the time
/// (20 digits of Unix ns) and a sequence number, so key order is time order.
pub struct LoginAudit {
    tree: RecordTree,
    seq: AtomicU64,
    len: AtomicUsize,
    max_records: usize,
}

impl LoginAudit {
    /// Opens the `logins` record tree of `store`.
    pub fn open(store: &Store) -> Result<LoginAudit, StoreError> {
        LoginAudit::open_with_max(store, MAX_LOGIN_RECORDS)
    }

    fn open_with_max(store: &Store, max_records: usize) -> Result<LoginAudit, StoreError> {
        let tree = store.records("logins")?;
        let len = tree.iter_rev(None).count();
        Ok(LoginAudit {
            tree,
            seq: AtomicU64::new(0),
            len: AtomicUsize::new(len),
            max_records,
        })
    }

    /// Records one attempt (durably), trimming to the newest [`MAX_LOGIN_RECORDS`] (once more
    /// than `TRIM_SLACK` beyond, so a trim is one batch per hundred attempts).
    pub fn record(&self, at_ns: i64, record: &LoginRecord) -> Result<(), StoreError> {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) % 1_000_000;
        let key = format!("{:020}-{seq:06}", at_ns.max(0));
        let json = serde_json::to_vec(record).expect("a login record serializes");
        self.tree.put(&key, &json)?;
        if self.len.fetch_add(1, Ordering::Relaxed) + 1 > self.max_records + TRIM_SLACK {
            let old: Vec<String> = self
                .tree
                .iter_rev(None)
                .skip(self.max_records)
                .filter_map(|item| item.ok().map(|(key, _)| key))
                .collect();
            let removed = old.len();
            self.tree.apply_batch(Vec::new(), old)?;
            self.len.fetch_sub(removed, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Up to `limit` records older than the cursor `before` (a key), newest first, and the
    /// cursor of the next page.
    pub fn newest(
        &self,
        before: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<LoginRecord>, Option<String>), StoreError> {
        let mut records = Vec::new();
        let mut last_key = None;
        for item in self.tree.iter_rev(before) {
            let (key, bytes) = item?;
            if records.len() == limit {
                return Ok((records, last_key));
            }
            if let Ok(record) = serde_json::from_slice(&bytes) {
                records.push(record);
                last_key = Some(key);
            }
        }
        Ok((records, None))
    }

    fn record_logged(&self, at_ns: i64, record: LoginRecord) {
        if let Err(error) = self.record(at_ns, &record) {
            tracing::error!(%error, user = %record.user, "Could not record a login attempt.");
        }
    }
}

/// Query string of `GET /api/v1/logins`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginsParams {
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

/// Response of `GET /api/v1/logins`.
#[derive(Debug, Serialize)]
pub struct LoginsPage {
    pub logins: Vec<LoginRecord>,
    pub next_cursor: Option<String>,
}

/// `GET /api/v1/logins` (admins; see `roles`): the login audit, newest first.
pub async fn list_logins(
    State(state): State<AppState>,
    params: Result<Query<LoginsParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<LoginsPage>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = super::api::page_limit(params.limit);
    let cursor = params.cursor.filter(|c| !c.is_empty());
    if cursor
        .as_ref()
        .is_some_and(|c| c.len() != 27 || !c.bytes().all(|b| b.is_ascii_digit() || b == b'-'))
    {
        return Err(ApiError::BadRequest(
            "cursor: not a cursor from next_cursor".into(),
        ));
    }
    let audit = state.logins.clone();
    let (logins, next_cursor) =
        tokio::task::spawn_blocking(move || audit.newest(cursor.as_deref(), limit))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(LoginsPage {
        logins,
        next_cursor,
    }))
}

// ---------------------------------------------------------------------------------------------
// Pages

/// The session of a request's cookie and its (current) user; `None` when there is no live
/// session or its user no longer exists (the session is then ended).
pub async fn session_user(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(session::Session, User)>, ApiError> {
    let Some(cookie) = session::cookie_value(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let cookie = cookie.to_string();
    let sessions = state.sessions.clone();
    let accounts = state.accounts.clone();
    tokio::task::spawn_blocking(move || {
        let Some(session) = sessions.get(&cookie, now_ns())? else {
            return Ok(None);
        };
        match accounts.user(&session.record.user) {
            Ok(Some(user)) => Ok(Some((session, user))),
            Ok(None) => {
                sessions.remove(&session.key)?;
                Ok(None)
            }
            Err(error) => Err(ApiError::Internal(error.to_string())),
        }
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        ApiError::Internal(error.to_string())
    }
}

/// The login form with a fresh CSRF token in the form and in its cookie (or the one the
/// browser already has, so two open tabs both work).
fn login_form_response(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    username: &str,
    error: Option<&str>,
) -> Response {
    let csrf = session::cookie_value(headers, LOGIN_CSRF_COOKIE)
        .filter(|c| {
            c.len() == 43
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
        })
        .map(str::to_string)
        .unwrap_or_else(|| session::random_token(32));
    let mut response = pages::html(status, pages::login_form(&csrf, username, error));
    response.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(
            LOGIN_CSRF_COOKIE,
            &csrf,
            "/login",
            Some(3600),
            state.sessions.secure,
        ),
    );
    response
}

async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if session_user(&state, &headers).await?.is_some() {
        return Ok(Redirect::to("/").into_response());
    }
    Ok(login_form_response(
        &state,
        &headers,
        StatusCode::OK,
        "",
        None,
    ))
}

/// Body of `POST /login`.
#[derive(Debug, Default, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub csrf: String,
}

async fn login(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let address = client_address(&request);
    let (parts, body) = request.into_parts();
    let headers = parts.headers.clone();
    let form =
        Form::<LoginForm>::from_request(axum::extract::Request::from_parts(parts, body), &())
            .await
            .map(|Form(form)| form)
            .unwrap_or_default();
    let expected = session::cookie_value(&headers, LOGIN_CSRF_COOKIE).unwrap_or("");
    if !secrets_match(&form.csrf, expected) {
        return Ok(login_form_response(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            &form.username,
            Some("The login form had expired. Please log in again."),
        ));
    }
    let now = now_ns();
    let username = form.username.trim().to_string();
    if let Err(refused) = state.login_limiter.check(&username, address, now) {
        if refused.first {
            tracing::warn!(user = %name_key(&username), %address, "Login refused: too many failures.");
            let audit = state.logins.clone();
            let accounts = state.accounts.clone();
            let user = name_key(&username);
            tokio::task::spawn_blocking(move || {
                let role = accounts.user(&user).ok().flatten().map(|u| u.role);
                audit.record_logged(
                    now,
                    LoginRecord {
                        at: format_ns(now),
                        user,
                        role,
                        address: address.to_string(),
                        outcome: LoginOutcome::RateLimited,
                    },
                );
            })
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        }
        let mut response = pages::html(
            StatusCode::TOO_MANY_REQUESTS,
            pages::too_many_attempts(refused.retry_after_secs),
        );
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(refused.retry_after_secs),
        );
        return Ok(response);
    }

    let accounts = state.accounts.clone();
    let sessions = state.sessions.clone();
    let audit = state.logins.clone();
    let name = username.clone();
    let password = form.password;
    let outcome = tokio::task::spawn_blocking(move || {
        let name_ok = !name.is_empty() && name.len() <= MAX_NAME_BYTES;
        let verified = if name_ok && password.len() <= MAX_PASSWORD_BYTES {
            accounts
                .verify_password(&name, &password)
                .map_err(|e| ApiError::Internal(e.to_string()))?
        } else {
            None
        };
        let at = format_ns(now);
        match verified {
            Some(user) => {
                let (cookie, _) = sessions.create(&user.name, user.role, address, now)?;
                audit.record_logged(
                    now,
                    LoginRecord {
                        at,
                        user: user.name.clone(),
                        role: Some(user.role),
                        address: address.to_string(),
                        outcome: LoginOutcome::Success,
                    },
                );
                Ok::<_, ApiError>(Some((user, cookie)))
            }
            None => {
                let role = if name_ok {
                    accounts.user(&name).ok().flatten().map(|u| u.role)
                } else {
                    None
                };
                audit.record_logged(
                    now,
                    LoginRecord {
                        at,
                        user: name_key(&name),
                        role,
                        address: address.to_string(),
                        outcome: LoginOutcome::Failure,
                    },
                );
                Ok(None)
            }
        }
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;

    match outcome {
        Some((user, cookie)) => {
            state.login_limiter.succeeded(&user.name);
            tracing::info!(user = %user.name, role = user.role.as_str(), %address, "Logged in.");
            let mut response = Redirect::to("/").into_response();
            let headers = response.headers_mut();
            headers.append(header::SET_COOKIE, state.sessions.cookie(&cookie));
            headers.append(
                header::SET_COOKIE,
                session::set_cookie(
                    LOGIN_CSRF_COOKIE,
                    "",
                    "/login",
                    Some(0),
                    state.sessions.secure,
                ),
            );
            Ok(response)
        }
        None => {
            state.login_limiter.failed(&username, address, now);
            tracing::info!(user = %name_key(&username), %address, "Failed login.");
            Ok(login_form_response(
                &state,
                &headers,
                StatusCode::UNAUTHORIZED,
                &username,
                Some(WRONG_CREDENTIALS),
            ))
        }
    }
}

/// Body of `POST /logout`.
#[derive(Debug, Default, Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    pub csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<LogoutForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, ApiError> {
    let Some((session, user)) = session_user(&state, &headers).await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    let sent = headers
        .get(super::auth::CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or(form.ok().map(|Form(f)| f.csrf))
        .unwrap_or_default();
    if !secrets_match(&sent, &session.record.csrf_token) {
        return Err(ApiError::Csrf);
    }
    let sessions = state.sessions.clone();
    let key = session.key.clone();
    tokio::task::spawn_blocking(move || sessions.remove(&key))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    tracing::info!(user = %user.name, "Logged out.");
    let mut response = Redirect::to("/login").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, state.sessions.clearing_cookie());
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_800_000_000 * NS_PER_SEC;

    #[test]
    fn five_failures_block_a_name_and_an_address_for_five_minutes() {
        let limiter = LoginLimiter::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for i in 0..MAX_FAILURES {
            assert!(limiter.check("olga", a, T0 + i64::from(i)).is_ok());
            limiter.failed("olga", a, T0 + i64::from(i));
        }
        let refused = limiter.check("olga", b, T0 + 10).unwrap_err();
        assert!(refused.first);
        assert_eq!(refused.retry_after_secs, 300);
        assert!(!limiter.check("OLGA", b, T0 + 11).unwrap_err().first);
        // The address is blocked for any name.
        assert!(limiter.check("max", a, T0 + 12).is_err());
        assert!(limiter.check("max", b, T0 + 12).is_ok());
        // Five minutes later both may try again.
        assert!(limiter.check("olga", a, T0 + 4 + BLOCK_NS).is_ok());
    }

    #[test]
    fn failures_spread_over_more_than_the_window_do_not_block() {
        let limiter = LoginLimiter::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        for i in 0..20 {
            let now = T0 + i * (FAILURE_WINDOW_NS / 2);
            assert!(limiter.check("olga", a, now).is_ok(), "attempt {i}");
            limiter.failed("olga", a, now);
        }
        // A success clears the name's count.
        for i in 0..MAX_FAILURES - 1 {
            limiter.failed("max", "192.0.2.9".parse().unwrap(), T0 + i64::from(i));
        }
        limiter.succeeded("max");
        limiter.failed("max", "192.0.2.8".parse().unwrap(), T0 + 10);
        assert!(
            limiter
                .check("max", "192.0.2.8".parse().unwrap(), T0 + 11)
                .is_ok()
        );
    }

    #[test]
    fn limiter_memory_is_bounded() {
        let limiter = LoginLimiter::default();
        for i in 0..(MAX_TRACKED as u32 + 50) {
            let addr = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            limiter.failed(&format!("user{i}"), addr, T0);
        }
        assert!(lock(&limiter.by_name).len() <= MAX_TRACKED);
        assert!(lock(&limiter.by_address).len() <= MAX_TRACKED);
    }

    #[test]
    fn audit_keeps_the_newest_records_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(
            &dir.path().join("store"),
            &crate::store::StoreOptions::default(),
        )
        .unwrap();
        let audit = LoginAudit::open(&store).unwrap();
        for i in 0..5 {
            audit
                .record(
                    T0 + i,
                    &LoginRecord {
                        at: format_ns(T0 + i),
                        user: format!("u{i}"),
                        role: None,
                        address: "192.0.2.1".into(),
                        outcome: LoginOutcome::Failure,
                    },
                )
                .unwrap();
        }
        let (page, cursor) = audit.newest(None, 3).unwrap();
        let names: Vec<_> = page.iter().map(|r| r.user.as_str()).collect();
        assert_eq!(names, ["u4", "u3", "u2"]);
        let (rest, end) = audit.newest(cursor.as_deref(), 3).unwrap();
        let names: Vec<_> = rest.iter().map(|r| r.user.as_str()).collect();
        assert_eq!(names, ["u1", "u0"]);
        assert_eq!(end, None);

        // Bounded: with room for 3, a trim keeps the newest 3 once the slack is used up.
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(
            &dir.path().join("store"),
            &crate::store::StoreOptions::default(),
        )
        .unwrap();
        let audit = LoginAudit::open_with_max(&store, 3).unwrap();
        let record = |i: i64| LoginRecord {
            at: format_ns(T0 + i),
            user: format!("u{i}"),
            role: Some(Role::Viewer),
            address: "192.0.2.1".into(),
            outcome: LoginOutcome::Success,
        };
        for i in 0..(3 + TRIM_SLACK as i64 + 1) {
            audit.record(T0 + i, &record(i)).unwrap();
        }
        let (all, _) = audit.newest(None, 1000).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].user, format!("u{}", 3 + TRIM_SLACK));
    }
}
