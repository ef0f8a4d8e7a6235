//! HTML pages: the login form and the home page (a placeholder for the live alert page).
//!
//! Pages are small enough to be written as format strings; every dynamic string goes through
//! [`escape`]. Every HTML response goes through [`html`], which adds the security headers
//! (a strict Content-Security-Policy, no framing, no sniffing, no cross-site referrer) and
//! `Cache-Control: no-store` (pages carry CSRF tokens and user data). Handlers live in
//! `super::login`; this module only renders.

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
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(title)
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
            "<h1>trapline</h1>\n{error}<form method=\"post\" action=\"/login\">\n\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
             <label>User name <input name=\"username\" value=\"{username}\" autocomplete=\"username\" required autofocus></label>\n\
             <label>Password <input type=\"password\" name=\"password\" autocomplete=\"current-password\" required></label>\n\
             <button type=\"submit\">Log in</button>\n</form>\n",
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

/// The home page of a logged-in user (the live alert page replaces its body next).
pub fn home(user: &User, csrf: &str, others: &[SessionRecord]) -> String {
    page(
        "trapline",
        &format!(
            "<header>\n<h1>trapline — logged in as {name} ({role})</h1>\n\
             <form method=\"post\" action=\"/logout\">\n\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
             <button type=\"submit\">Log out</button>\n</form>\n</header>\n{notice}",
            name = escape(&user.name),
            role = escape(user.role.as_str()),
            csrf = escape(csrf),
            notice = other_sessions_notice(others),
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
