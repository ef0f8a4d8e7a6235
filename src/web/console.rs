//! The operators' console: its pages (`/`, `/events`, `/events/{id}`, `/hosts`,
//! `/hosts/{host}`, `/oncall`, `/notifications`, `/incidents`, `/incidents/{id}`, `/reports`,
//! `/users`, `/logins`, `/about`) and its
//! embedded assets (`/assets/…`).
//!
//! Each page is a shell ([`super::pages::console`]) around a static skeleton from `ui/`; the
//! embedded script (`ui/app.js`) fills it from the JSON API and keeps the alert page live
//! over `GET /api/v1/alerts/stream`. So there is one way data reaches the screen — JSON put
//! into DOM text nodes — and device text never becomes markup. The appliance runs without
//! internet: the stylesheet and the script are compiled into the binary, fonts are the
//! system's and icons are characters.
//!
//! Pages authenticate by session (no session → the login form) and are checked against the
//! same permissions as the API ([`PAGES`]): a page the role may not open is a 403 page, and
//! the menu lists only the pages the role may open.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use super::login::session_user;
use super::pages::{self, Shell};
use super::roles::Permission;
use super::{ApiError, AppState};
use crate::accounts::User;
use crate::event::now_ns;

/// One console page: path (as routed), menu label (`None`: not in the menu), the permission
/// it needs, its `data-page` name and its skeleton.
pub struct Page {
    pub path: &'static str,
    pub title: &'static str,
    pub in_menu: bool,
    pub permission: Permission,
    pub name: &'static str,
    skeleton: &'static str,
}

/// Every console page. `/` is the alert page for those who may see alerts; others land on
/// the first page of this table their role may open (admins: users; on-call people and
/// viewers: the on-call schedule).
pub const PAGES: &[Page] = &[
    Page {
        path: "/",
        title: "Alerts",
        in_menu: true,
        permission: Permission::ViewAlerts,
        name: "alerts",
        skeleton: include_str!("ui/alerts.html"),
    },
    Page {
        path: "/events",
        title: "Events",
        in_menu: true,
        permission: Permission::ViewEvents,
        name: "events",
        skeleton: include_str!("ui/events.html"),
    },
    Page {
        path: "/events/{id}",
        title: "Event",
        in_menu: false,
        permission: Permission::ViewEvents,
        name: "event",
        skeleton: include_str!("ui/event.html"),
    },
    Page {
        path: "/hosts",
        title: "Equipment",
        in_menu: true,
        permission: Permission::ViewEquipment,
        name: "hosts",
        skeleton: include_str!("ui/hosts.html"),
    },
    Page {
        path: "/hosts/{id}",
        title: "Host",
        in_menu: false,
        permission: Permission::ViewEquipment,
        name: "host",
        skeleton: include_str!("ui/host.html"),
    },
    Page {
        path: "/users",
        title: "Users",
        in_menu: true,
        permission: Permission::ManageUsers,
        name: "users",
        skeleton: include_str!("ui/users.html"),
    },
    Page {
        path: "/logins",
        title: "Logins",
        in_menu: true,
        permission: Permission::ViewLogins,
        name: "logins",
        skeleton: include_str!("ui/logins.html"),
    },
    Page {
        path: "/oncall",
        title: "On call",
        in_menu: true,
        permission: Permission::ViewOncall,
        name: "oncall",
        skeleton: include_str!("ui/oncall.html"),
    },
    Page {
        path: "/notifications",
        title: "Notifications",
        in_menu: true,
        permission: Permission::ViewNotifications,
        name: "notifications",
        skeleton: include_str!("ui/notifications.html"),
    },
    Page {
        path: "/incidents",
        title: "Incidents",
        in_menu: true,
        permission: Permission::FollowIncidents,
        name: "incidents",
        skeleton: include_str!("ui/incidents.html"),
    },
    Page {
        path: "/incidents/{id}",
        title: "Incident",
        in_menu: false,
        permission: Permission::FollowIncidents,
        name: "incident",
        skeleton: include_str!("ui/incident.html"),
    },
    Page {
        path: "/reports",
        title: "Reports",
        in_menu: true,
        permission: Permission::ViewReports,
        name: "reports",
        skeleton: include_str!("ui/reports.html"),
    },
    Page {
        path: "/about",
        title: "About",
        in_menu: true,
        permission: Permission::ViewSystem,
        name: "about",
        skeleton: include_str!("ui/about.html"),
    },
];

/// The page of a role that may open none of [`PAGES`] (today every role may open the on-call
/// schedule; kept for roles a later table may leave without a page).
const WELCOME: &str = include_str!("ui/welcome.html");

/// Routes of the console's pages and assets (no API auth: pages authenticate by session).
pub fn router() -> Router<AppState> {
    let mut router = Router::new().route("/assets/{name}", get(asset));
    for (index, page) in PAGES.iter().enumerate() {
        let handler =
            move |state: State<AppState>, headers: HeaderMap, argument: Option<Path<String>>| {
                show(state, headers, index, argument.map(|Path(a)| a))
            };
        router = router.route(page.path, get(handler));
    }
    router
}

/// Serves page `index` of [`PAGES`] to the session's user.
async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    index: usize,
    argument: Option<String>,
) -> Result<Response, ApiError> {
    let Some((session, user)) = session_user(&state, &headers).await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    let page = &PAGES[index];
    if !page.permission.allows(user.role) {
        if page.path == "/" {
            return landing(&state, &session, &user).await;
        }
        return Ok(pages::html(
            StatusCode::FORBIDDEN,
            pages::console_error("trapline — forbidden", "Your role may not open this page."),
        ));
    }
    render(
        &state,
        &session,
        &user,
        page.name,
        page.title,
        argument.as_deref(),
        page.skeleton,
    )
    .await
}

/// `/` for a role without the alert page: the first page it may open, or a welcome page.
async fn landing(
    state: &AppState,
    session: &super::session::Session,
    user: &User,
) -> Result<Response, ApiError> {
    match PAGES
        .iter()
        .filter(|p| p.permission != Permission::ViewSystem)
        .find(|p| p.in_menu && p.path != "/" && p.permission.allows(user.role))
    {
        Some(page) => Ok(Redirect::to(page.path).into_response()),
        None => render(state, session, user, "welcome", "Welcome", None, WELCOME).await,
    }
}

async fn render(
    state: &AppState,
    session: &super::session::Session,
    user: &User,
    name: &str,
    title: &str,
    argument: Option<&str>,
    skeleton: &str,
) -> Result<Response, ApiError> {
    let others = other_sessions(state, session, user).await?;
    let menu: Vec<(&str, &str)> = PAGES
        .iter()
        .filter(|p| p.in_menu && p.permission.allows(user.role))
        .map(|p| (p.path, p.title))
        .collect();
    let permissions: Vec<String> = Permission::ALL
        .iter()
        .filter(|p| p.allows(user.role))
        .map(|p| format!("{p:?}"))
        .collect();
    let body = pages::console(&Shell {
        user,
        csrf: &session.record.csrf_token,
        page: name,
        title,
        argument,
        menu: &menu,
        permissions: &permissions,
        others: &others,
        skeleton,
    });
    Ok(pages::html(StatusCode::OK, body))
}

/// The user's other live sessions ("also logged in from …").
async fn other_sessions(
    state: &AppState,
    session: &super::session::Session,
    user: &User,
) -> Result<Vec<super::session::SessionRecord>, ApiError> {
    let sessions = state.sessions.clone();
    let name = user.name.clone();
    let key = session.key.clone();
    Ok(
        tokio::task::spawn_blocking(move || sessions.of_user(&name, now_ns()))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))??
            .into_iter()
            .filter(|s| s.key != key)
            .map(|s| s.record)
            .collect(),
    )
}

/// One embedded asset: name, content type, bytes.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("ui/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("ui/app.js"),
    ),
];

/// A short hash of every asset, computed once: asset URLs carry it (`?v=`), so a browser
/// may cache an asset for a long time and still fetches a new build's at once.
fn assets_version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        use sha2::Digest;
        let mut digest = sha2::Sha256::new();
        for (name, _, body) in ASSETS {
            digest.update(name.as_bytes());
            digest.update(body.as_bytes());
        }
        digest
            .finalize()
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect()
    })
}

/// The URL of an embedded asset, with the build's version.
pub fn asset_url(name: &str) -> String {
    format!("/assets/{name}?v={}", assets_version())
}

async fn asset(Path(name): Path<String>) -> Response {
    let Some((_, content_type, body)) = ASSETS.iter().find(|(n, _, _)| *n == name) else {
        return (StatusCode::NOT_FOUND, "no such asset\n").into_response();
    };
    let mut response = (StatusCode::OK, *body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
