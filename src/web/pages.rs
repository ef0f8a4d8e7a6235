//! HTML pages: the login form and the console's page shell.
//!
//! Pages are small enough to be written as format strings; every dynamic string goes through
//! [`escape`]. Every HTML response goes through [`html`], which adds the security headers
//! (a strict Content-Security-Policy, no framing, no sniffing, no cross-site referrer) and
//! `Cache-Control: no-store` (pages carry CSRF tokens and user data). The console's data is
//! never rendered here: pages are shells that the embedded script (`super::console`) fills
//! from the JSON API with DOM text nodes, so device text never becomes markup. Handlers live
//! in `super::login` and `super::console`; this module only renders.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::session::SessionRecord;
use crate::accounts::User;
use crate::event::format_ns;

/// Escapes text for HTML element content and double-quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An HTML response with trapline's security headers.
pub fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CONTENT_SECURITY_POLICY, "default-src 'self'"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

fn page(title: &str, body: &str) -> String {
    page_with(title, "", "", body)
}

/// The document around a body: the embedded stylesheet always, `head_extra` (already
/// escaped) and `body_attributes` (already escaped) where given.
fn page_with(title: &str, head_extra: &str, body_attributes: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light dark\">\n\
         <link rel=\"stylesheet\" href=\"{css}\">\n{head_extra}\
         <title>{}</title>\n</head>\n<body{body_attributes}>\n{body}</body>\n</html>\n",
        escape(title),
        css = super::console::asset_url("app.css"),
    )
}

/// The login form; `error` is shown above it, `username` refilled.
pub fn login_form(csrf: &str, username: &str, error: Option<&str>) -> String {
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>\n", escape(e)))
        .unwrap_or_default();
    page(
        "trapline — log in",
        &format!(
            "<main class=\"login\">\n<h1 class=\"brand\">trapline</h1>\n{error}<form method=\"post\" action=\"/login\" class=\"card\">\n\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
             <label>User name <input name=\"username\" value=\"{username}\" autocomplete=\"username\" required autofocus></label>\n\
             <label>Password <input type=\"password\" name=\"password\" autocomplete=\"current-password\" required></label>\n\
             <button type=\"submit\" class=\"primary\">Log in</button>\n</form>\n</main>\n",
            csrf = escape(csrf),
            username = escape(username),
        ),
    )
}

/// A one-line notice per other live session of the user ("also logged in from … since …").
pub fn other_sessions_notice(others: &[SessionRecord]) -> String {
    others
        .iter()
        .map(|other| {
            format!(
                "<p class=\"notice\">You are also logged in from {} since {}.</p>\n",
                escape(&other.address),
                escape(&format_ns(other.created_ns)),
            )
        })
        .collect()
}

/// What the console's shell needs to know of the page it wraps.
pub struct Shell<'a> {
    pub user: &'a User,
    pub csrf: &'a str,
    /// The page's name (`data-page`, which the script dispatches on) and title.
    pub page: &'a str,
    pub title: &'a str,
    /// The page's own argument (an event id, a host name), raw: escaped here.
    pub argument: Option<&'a str>,
    /// Menu entries the user's role may open: (path, label).
    pub menu: &'a [(&'a str, &'a str)],
    /// The permissions of the user's role, for the script to show only what the role may do
    /// (the server checks every call anyway).
    pub permissions: &'a [String],
    pub others: &'a [SessionRecord],
    /// The page's static skeleton (embedded, no device text).
    pub skeleton: &'a str,
}

/// A console page: the top bar (menu, theme switch, user, log out), notices, the page's
/// skeleton, and the embedded script.
pub fn console(shell: &Shell<'_>) -> String {
    let menu: String = shell
        .menu
        .iter()
        .map(|(path, label)| {
            let current = if *label == shell.title {
                " aria-current=\"page\""
            } else {
                ""
            };
            format!(
                "<a href=\"{}\"{current}>{}</a>",
                escape(path),
                escape(label)
            )
        })
        .collect();
    let head = format!(
        "<meta name=\"csrf-token\" content=\"{}\">\n\
         <script src=\"{}\" defer></script>\n",
        escape(shell.csrf),
        super::console::asset_url("app.js"),
    );
    let body_attributes = format!(
        " data-page=\"{page}\" data-user=\"{user}\" data-role=\"{role}\" \
         data-permissions=\"{permissions}\"{argument}",
        page = escape(shell.page),
        user = escape(&shell.user.name),
        role = escape(shell.user.role.as_str()),
        permissions = escape(&shell.permissions.join(" ")),
        argument = shell
            .argument
            .map(|a| format!(" data-argument=\"{}\"", escape(a)))
            .unwrap_or_default(),
    );
    let body = format!(
        "<header class=\"top\">\n<a class=\"brand\" href=\"/\">trapline</a>\n\
         <nav class=\"menu\">{menu}</nav>\n<span class=\"spacer\"></span>\n\
         <button type=\"button\" id=\"theme\" class=\"ghost\" title=\"Light or dark\">◐</button>\n\
         <span class=\"who\" title=\"logged in as {name} ({role})\">{name} · {role}</span>\n\
         <form method=\"post\" action=\"/logout\" class=\"logout\">\n\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
         <button type=\"submit\" class=\"ghost\">Log out</button>\n</form>\n</header>\n\
         <div class=\"notices\">{notice}</div>\n<main id=\"main\">\n{skeleton}</main>\n",
        name = escape(&shell.user.name),
        role = escape(shell.user.role.as_str()),
        csrf = escape(shell.csrf),
        notice = other_sessions_notice(shell.others),
        skeleton = shell.skeleton,
    );
    page_with(
        &format!("{} — trapline", shell.title),
        &head,
        &body_attributes,
        &body,
    )
}

/// A console-styled error page (403, 404) for a signed-in user.
pub fn console_error(title: &str, text: &str) -> String {
    page(
        title,
        &format!(
            "<main class=\"login\">\n<h1 class=\"brand\">trapline</h1>\n\
             <p class=\"error\" role=\"alert\">{}</p>\n<p><a href=\"/\">Back</a></p>\n</main>\n",
            escape(text)
        ),
    )
}

/// The page of a refused login (too many failures): no form until the wait is over.
pub fn too_many_attempts(retry_after_secs: u64) -> String {
    let minutes = retry_after_secs.div_ceil(60);
    page(
        "trapline — log in",
        &format!(
            "<h1>trapline</h1>\n<p class=\"error\" role=\"alert\">Too many failed logins. \
             Try again in {minutes} minute{s}.</p>\n<p><a href=\"/login\">Back to the login form</a></p>\n",
            s = if minutes == 1 { "" } else { "s" }
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert!(login_form("t", "<script>", Some("<b>")).contains("&lt;script&gt;"));
        assert!(!login_form("t", "<script>", Some("<b>")).contains("<b>"));
    }
}
