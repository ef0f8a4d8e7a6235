//! The command line: config checks, users, tokens, and API authentication.

use std::io::Write;

use crate::harness::{Instance, trapline};

#[test]
fn check_config_accepts_the_defaults_and_reports_file_line_col() {
    let (code, out, _) = trapline(&["check-config"], None);
    assert_eq!((code, out.trim()), (0, "ok"));
    let mut file = tempfile::NamedTempFile::new().unwrap();
    write!(
        file,
        "data = \"/tmp/x\"\n\n[listen]\nsyslog_upd = \":514\"\n"
    )
    .unwrap();
    let path = file.path().to_str().unwrap().to_string();
    let (code, out, _) = trapline(&["check-config", "--config", &path], None);
    assert_eq!(code, 1);
    assert!(out.starts_with(&format!("{path}:4:1: ")), "{out}");
    assert!(out.contains("syslog_upd"), "{out}");
}

#[test]
fn check_rules_checks_the_shipped_pack_and_points_at_errors() {
    let repo_rules = concat!(env!("CARGO_MANIFEST_DIR"), "/rules");
    let (code, out, _) = trapline(&["check-rules", repo_rules], None);
    assert_eq!((code, out.trim()), (0, "ok"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("10-bad.toml"),
        "[[rule]]\nname = \"x\"\nlevel = = 1\n",
    )
    .unwrap();
    let (code, out, _) = trapline(&["check-rules", dir.path().to_str().unwrap()], None);
    assert_eq!(code, 1);
    assert!(out.contains("10-bad.toml:3:"), "{out}");
}

#[test]
fn user_add_rejects_bad_roles_and_short_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let data = data.to_str().unwrap();
    let (code, _, err) = trapline(
        &["user", "add", "bob", "--role", "king", "--data", data],
        Some("longenough\n"),
    );
    assert_eq!(code, 1);
    assert!(err.contains("unknown role"), "{err}");
    let (code, _, err) = trapline(
        &["user", "add", "bob", "--role", "viewer", "--data", data],
        Some("short\n"),
    );
    assert_eq!(code, 1);
    assert!(err.contains("at least 8"), "{err}");
    let (code, out, _) = trapline(
        &["user", "add", "bob", "--role", "viewer", "--data", data],
        Some("longenough\n"),
    );
    assert_eq!(code, 0);
    assert!(out.contains("bob"));
    let (code, _, err) = trapline(&["token", "create", "nobody", "--data", data], None);
    assert_eq!(code, 1);
    assert!(err.contains("no such user"), "{err}");
}

#[test]
fn api_requires_a_valid_token_and_health_does_not() {
    let tl = Instance::start();
    assert_eq!(tl.get_text("/healthz"), (200, "ok\n".to_string()));
    assert_eq!(tl.get_text("/readyz").0, 200);
    let (status, body) = tl.get_text("/api/v1/events");
    assert_eq!(status, 401);
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"], "unauthorized");
    let client = reqwest::blocking::Client::new();
    let resp = client
        .get(tl.url("/api/v1/events"))
        .bearer_auth("tl_0000_forged")
        .send()
        .unwrap();
    assert_eq!(resp.status(), 401);
    let (status, body) = tl.api("/api/v1/events?level=urgent");
    assert_eq!(status, 400);
    assert!(body["detail"].as_str().unwrap().contains("level"), "{body}");
    let (status, body) = tl.api("/api/v1/events");
    assert_eq!(status, 200);
    assert!(body["events"].as_array().unwrap().is_empty());
    assert_eq!(tl.api("/api/v1/events/999999").0, 404);
}

#[test]
fn check_config_reports_bad_snmp_users_and_bad_mibs() {
    let dir = tempfile::tempdir().unwrap();
    let mibs = dir.path().join("mibs");
    std::fs::create_dir(&mibs).unwrap();
    std::fs::write(
        mibs.join("BROKEN-MIB.txt"),
        "BROKEN-MIB DEFINITIONS ::= BEGIN\n  foo OBJECT IDENTIFIER ::= { bar baz }\nEND\n",
    )
    .unwrap();
    let config = dir.path().join("t.toml");
    std::fs::write(
        &config,
        format!(
            "mib_dirs = [{:?}]\n[[snmp.users]]\nname = \"u\"\nauth = \"SHA-999\"\nauth_key = \"longenough\"\n",
            mibs.to_str().unwrap()
        ),
    )
    .unwrap();
    let (code, out, _) = trapline(
        &["check-config", "--config", config.to_str().unwrap()],
        None,
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("[snmp]") && out.contains("SHA-999"), "{out}");
    assert!(
        out.contains("BROKEN-MIB.txt:2:"),
        "MIB errors carry file:line:col: {out}"
    );
}
