//! The web UI through the real binary: log in with the form, use the session, log out
//! (issue 5, "The operators' console": authentication).
//!
//! Cookies are handled by hand rather than with a cookie jar, so the test also checks what
//! the server sends in `Set-Cookie`.

use std::time::Duration;

use reqwest::blocking::{Client, Response};
use reqwest::header;

use crate::harness::{Instance, TESTER_PASSWORD, add_user_with_token, prepare_data_dir};

/// The value of cookie `name` set by `response`, with the whole `Set-Cookie` line.
fn set_cookie(response: &Response, name: &str) -> Option<(String, String)> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|line| {
            let value = line.split(';').next().unwrap()[name.len() + 1..].to_string();
            (value, line.to_string())
        })
}

/// The `value` of the hidden input named `csrf` in a page.
fn hidden_csrf(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    page[at..].split('"').next().unwrap().to_string()
}

#[test]
fn an_operator_logs_in_with_the_form_sees_the_console_and_logs_out() {
    let (dir, token) = prepare_data_dir();
    let admin = add_user_with_token(dir.path(), "adam", "admin");
    let tl = Instance::start_in(dir, token, &[]);
    let client = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    // Without a session, the console sends to the login form.
    let home = client.get(tl.url("/")).send().unwrap();
    assert_eq!(home.status(), 303);
    assert_eq!(home.headers()[header::LOCATION], "/login");

    let form = client.get(tl.url("/login")).send().unwrap();
    assert_eq!(form.status(), 200);
    assert_eq!(
        form.headers()["content-security-policy"],
        "default-src 'self'"
    );
    let (login_csrf, _) = set_cookie(&form, "trapline_login_csrf").unwrap();
    let page = form.text().unwrap();
    assert!(page.contains("name=\"username\"") && page.contains("name=\"password\""));
    assert_eq!(hidden_csrf(&page), login_csrf);

    // A wrong password: the form again, 401, no session.
    let wrong = client
        .post(tl.url("/login"))
        .header(header::COOKIE, format!("trapline_login_csrf={login_csrf}"))
        .form(&[
            ("username", "tester"),
            ("password", "not-the-password"),
            ("csrf", &login_csrf),
        ])
        .send()
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(set_cookie(&wrong, "trapline_session").is_none());
    assert!(
        wrong
            .text()
            .unwrap()
            .contains("Wrong user name or password.")
    );

    let login = client
        .post(tl.url("/login"))
        .header(header::COOKIE, format!("trapline_login_csrf={login_csrf}"))
        .form(&[
            ("username", "tester"),
            ("password", TESTER_PASSWORD),
            ("csrf", &login_csrf),
        ])
        .send()
        .unwrap();
    assert_eq!(login.status(), 303);
    assert_eq!(login.headers()[header::LOCATION], "/");
    let (session, line) = set_cookie(&login, "trapline_session").unwrap();
    assert!(
        line.contains("HttpOnly") && line.contains("SameSite=Strict") && line.contains("Path=/"),
        "{line}"
    );
    let cookie = format!("trapline_session={session}");

    let home = client
        .get(tl.url("/"))
        .header(header::COOKIE, &cookie)
        .send()
        .unwrap();
    assert_eq!(home.status(), 200);
    assert_eq!(home.headers()["x-frame-options"], "DENY");
    let page = home.text().unwrap();
    assert!(page.contains("logged in as tester (operator)"), "{page}");
    let csrf = hidden_csrf(&page);

    // The session works on the API; changing state needs its CSRF token.
    let alerts = client
        .get(tl.url("/api/v1/alerts"))
        .header(header::COOKIE, &cookie)
        .send()
        .unwrap();
    assert_eq!(alerts.status(), 200);
    let window = serde_json::json!({
        "name": "e2e", "start": "2030-01-01T00:00:00Z", "end": "2030-01-02T00:00:00Z"
    });
    let refused = client
        .post(tl.url("/api/v1/maintenance"))
        .header(header::COOKIE, &cookie)
        .json(&window)
        .send()
        .unwrap();
    assert_eq!(refused.status(), 403);
    let created = client
        .post(tl.url("/api/v1/maintenance"))
        .header(header::COOKIE, &cookie)
        .header("X-CSRF-Token", &csrf)
        .json(&window)
        .send()
        .unwrap();
    assert_eq!(created.status(), 201);

    // Admins see the logins, with the client's address.
    let (status, audit) = tl.send_as(&admin, "GET", "/api/v1/logins", None);
    assert_eq!(status, 200, "{audit}");
    let logins = audit["logins"].as_array().unwrap();
    assert_eq!(logins[0]["user"], "tester");
    assert_eq!(logins[0]["outcome"], "success");
    assert_eq!(logins[0]["role"], "operator");
    assert_eq!(logins[0]["address"], "127.0.0.1");
    assert_eq!(logins[1]["outcome"], "failure");
    assert_eq!(tl.api("/api/v1/logins").0, 403, "operators do not");

    let logout = client
        .post(tl.url("/logout"))
        .header(header::COOKIE, &cookie)
        .form(&[("csrf", &csrf)])
        .send()
        .unwrap();
    assert_eq!(logout.status(), 303);
    let home = client
        .get(tl.url("/"))
        .header(header::COOKIE, &cookie)
        .send()
        .unwrap();
    assert_eq!(home.status(), 303, "the session ended on the server");
}
