//! Incidents end to end (issue 7): an alert raised by `logger` becomes an incident, which is
//! qualified, transferred, resolved and closed into the knowledge base through the real
//! binary's API; the knowledge base finds it, its PDF reads back with `pdftotext` (Debian
//! poppler-utils), and the mails at transfer, resolution and closing are in the
//! notification log (delivery itself is `notify.rs`'s subject: no SMTP server here).

use std::process::Command;

use serde_json::{Value, json};

use crate::harness::{Instance, add_user_with_token, logger, prepare_data_dir};

fn notifications(tl: &Instance, token: &str) -> Vec<Value> {
    let (status, body) = tl.send_as(token, "GET", "/api/v1/notifications?limit=1000", None);
    assert_eq!(status, 200, "{body}");
    body["notifications"].as_array().unwrap().clone()
}

#[test]
fn an_alert_becomes_an_incident_that_ends_in_the_knowledge_base_and_prints_as_pdf() {
    let (dir, operator) = prepare_data_dir();
    let admin = add_user_with_token(dir.path(), "boss", "admin");
    let oncall = add_user_with_token(dir.path(), "otto", "oncall");
    let viewer = add_user_with_token(dir.path(), "vera", "viewer");
    let tl = Instance::start_in(dir, operator, &[]);
    for (name, email) in [("otto", "otto@example.net"), ("vera", "vera@example.net")] {
        let (status, body) = tl.send_as(
            &admin,
            "PATCH",
            &format!("/api/v1/users/{name}"),
            Some(json!({ "email": email })),
        );
        assert_eq!(status, 200, "{body}");
    }

    // A critical syslog message raises an alert.
    logger(&[
        "-n",
        "127.0.0.1",
        "-P",
        &tl.syslog_udp.port().to_string(),
        "--udp",
        "--rfc3164",
        "-t",
        "ospfd",
        "-p",
        "daemon.alert",
        "Neighbor 10.0.0.2 went down: dead timer expired",
    ]);
    let alert = tl.wait_alert("", |a| a["level"] == "critical");
    let alert_id = alert["id"].as_u64().unwrap();

    // The operator opens an incident from it: prefilled.
    let (status, incident) = tl.send(
        "POST",
        "/api/v1/incidents",
        Some(json!({ "alert_id": alert_id, "followers": ["vera"] })),
    );
    assert_eq!(status, 201, "{incident}");
    assert_eq!(incident["source"], "alert");
    assert_eq!(incident["alert_ids"], json!([alert_id]));
    assert_eq!(incident["severity"], "red");
    assert_eq!(incident["title"], alert["summary"]);
    assert_eq!(incident["occurred_at"], alert["first_seen"]);
    let id = incident["id"].as_u64().unwrap();
    let path = |tail: &str| format!("/api/v1/incidents/{id}{tail}");
    // A viewer may not open from an alert.
    let (status, _) = tl.send_as(
        &viewer,
        "POST",
        "/api/v1/incidents",
        Some(json!({ "alert_id": alert_id })),
    );
    assert_eq!(status, 403);

    // Qualify, transfer to on-call (mailed), resolve (final, mailed), close into the KB.
    let (status, body) = tl.send(
        "PATCH",
        &path(""),
        Some(json!({"category": "network", "title": "OSPF adjacency lost on core"})),
    );
    assert_eq!(status, 200, "{body}");
    let (status, _) = tl.send_as(
        &oncall,
        "POST",
        &path("/resolve"),
        Some(json!({"text": "x"})),
    );
    assert_eq!(status, 403, "not transferred to otto yet");
    let (status, body) = tl.send(
        "POST",
        &path("/transfer"),
        Some(json!({"to": ["otto"], "comment": "please check the fibre"})),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = tl.send_as(
        &oncall,
        "POST",
        &path("/resolve"),
        Some(json!({"text": "Dirty connector on the fibre patch to core2; cleaned it, adjacency back.", "final": true})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "resolved");
    let (status, body) = tl.send(
        "POST",
        &path("/close"),
        Some(json!({"knowledge_base": true})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["state"], &body["knowledge_base"]),
        (&json!("closed"), &json!(true))
    );
    let reference = body["reference"].as_str().unwrap().to_string();
    // YEAR/CATEGORY/N with the category it was opened with (re-qualifying keeps it).
    let year = chrono::Utc::now().format("%Y").to_string();
    let parts: Vec<&str> = reference.split('/').collect();
    assert_eq!(
        (parts.len(), parts[0], parts[2]),
        (3, year.as_str(), "1"),
        "{reference}"
    );

    // The knowledge base finds it, for any role that follows incidents.
    let (status, kb) = tl.send_as(
        &viewer,
        "GET",
        "/api/v1/incidents?kb=true&q=connector+fibre",
        None,
    );
    assert_eq!(status, 200, "{kb}");
    assert_eq!(kb["incidents"][0]["id"], id);

    // Mails: transfer to otto, resolution and closing to the follower vera (and the opener,
    // who acted himself and is left out).
    let mails: Vec<(String, String)> = notifications(&tl, &tl.token)
        .iter()
        .filter(|n| n["kind"] == "incident")
        .map(|n| {
            (
                n["recipient"].as_str().unwrap().to_string(),
                n["subject"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let has = |to: &str, tag: &str| {
        mails
            .iter()
            .any(|(r, s)| r == to && s.starts_with(&format!("[INCIDENT {tag}] {reference}")))
    };
    assert!(has("otto@example.net", "TRANSFERRED"), "{mails:?}");
    assert!(has("vera@example.net", "RESOLVED"), "{mails:?}");
    assert!(has("vera@example.net", "CLOSED"), "{mails:?}");

    // The PDF reads back with pdftotext.
    let response = reqwest::blocking::Client::new()
        .get(tl.url(&path("/pdf")))
        .bearer_auth(&viewer)
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    let bytes = response.bytes().unwrap();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &bytes).unwrap();
    let out = Command::new("pdftotext")
        .args([file.path().to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (Debian poppler-utils) is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for expected in [
        reference.as_str(),
        "OSPF adjacency lost on core",
        "Dirty connector on the fibre patch",
        "closed",
        "otto",
    ] {
        assert!(text.contains(expected), "{expected:?} not in:\n{text}");
    }

    // The CSV export of the period lists it.
    let (status, _) = tl.get_text("/api/v1/incidents/export?format=csv");
    assert_eq!(status, 401, "the export needs credentials");
    let csv = reqwest::blocking::Client::new()
        .get(tl.url("/api/v1/incidents/export?format=csv&since=2000-01-01T00:00:00Z"))
        .bearer_auth(&tl.token)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(csv.contains(&reference), "{csv}");
}
