//! Equipment end to end (issue 5): hosts discovered from real `logger` traffic, described
//! through the API by an operator and a manager, and everything still there after a restart;
//! the host's timeline shows its events and the alert one of them raised.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Instance, add_user_with_token, logger, prepare_data_dir, short_hostname};

/// Sends one message over UDP with `logger`; `rfc5424=nohost` leaves the host out, so trapline
/// names the event after the sender's address (127.0.0.1): a second host from one machine.
fn send_syslog(tl: &Instance, format: &str, priority: &str, message: &str) {
    let port = tl.syslog_udp.port().to_string();
    logger(&[
        "-n",
        "127.0.0.1",
        "-P",
        &port,
        "--udp",
        format,
        "-t",
        "equipment",
        "-p",
        priority,
        message,
    ]);
}

/// Waits until `GET /api/v1/hosts/{host}` answers and satisfies `pred`; returns the host.
fn wait_host(tl: &Instance, host: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = tl.api(&format!("/api/v1/hosts/{host}"));
        if status == 200 && pred(&body) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "host {host} never matched; last answer {status} {body}\nlog:\n{}",
            tl.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn hosts_are_discovered_described_and_kept_across_a_restart() {
    let (dir, operator) = prepare_data_dir();
    let manager = add_user_with_token(dir.path(), "boss", "manager");
    let tl = Instance::start_in(dir, operator.clone(), &[]);
    let named = short_hostname();
    let relay = "127.0.0.1";

    send_syslog(&tl, "--rfc3164", "daemon.info", "equipment check: started");
    send_syslog(&tl, "--rfc3164", "daemon.info", "equipment check: running");
    send_syslog(
        &tl,
        "--rfc3164",
        "user.alert",
        "equipment check: power supply 2 failed",
    );
    send_syslog(
        &tl,
        "--rfc5424=nohost",
        "daemon.info",
        "equipment check: relay",
    );

    let host = wait_host(&tl, &named, |h| h["events"] == 3 && h["open_alerts"] == 1);
    assert_eq!(host["events_by_level"]["critical"], 1);
    assert_eq!(host["events_by_level"]["none"], 2);
    assert_eq!(host["open_alerts_by_level"]["critical"], 1);
    assert_eq!(host["source"], relay);
    wait_host(&tl, relay, |h| h["events"] == 1);
    let (status, list) = tl.api("/api/v1/hosts");
    assert_eq!(status, 200, "{list}");
    let listed: Vec<&str> = list["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["host"].as_str().unwrap())
        .collect();
    assert!(
        listed.contains(&named.as_str()) && listed.contains(&relay),
        "{listed:?}"
    );

    // The operator describes the host; the zone is the manager's to set.
    let path = format!("/api/v1/hosts/{named}");
    let (status, edited) = tl.send(
        "PATCH",
        &path,
        Some(json!({"location": "Room 2, rack 4", "comments": "spare PSU on site"})),
    );
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["updated_by"], "tester");
    let (status, refused) = tl.send("PATCH", &path, Some(json!({"zone": "critical"})));
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["error"], "forbidden");
    let (status, zoned) = tl.send_as(&manager, "PATCH", &path, Some(json!({"zone": "critical"})));
    assert_eq!(status, 200, "{zoned}");
    let (status, bad) = tl.send("PATCH", &path, Some(json!({"colour": "red"})));
    assert_eq!(status, 400, "{bad}");

    // Everything survives a graceful restart, and counting goes on from there.
    let tl = tl.restart();
    let host = wait_host(&tl, &named, |_| true);
    assert_eq!(host["location"], "Room 2, rack 4");
    assert_eq!(host["comments"], "spare PSU on site");
    assert_eq!(host["zone"], "critical");
    assert_eq!(host["updated_by"], "boss");
    assert_eq!(host["events"], 3);
    assert_eq!(host["open_alerts"], 1);
    wait_host(&tl, relay, |h| h["events"] == 1);
    send_syslog(
        &tl,
        "--rfc3164",
        "daemon.info",
        "equipment check: after restart",
    );
    wait_host(&tl, &named, |h| {
        h["events"] == 4 && h["location"] == "Room 2, rack 4"
    });

    // The timeline: newest first, the events and the alert the critical one raised. (The
    // inventory counts an event as soon as the writer has it; queries see it once its block is
    // sealed, within ~100 ms.)
    tl.wait_events(&format!("host={named}"), 4);
    let (status, timeline) = tl.api(&format!("{path}/timeline"));
    assert_eq!(status, 200, "{timeline}");
    let items = timeline["items"].as_array().unwrap();
    let messages: Vec<&str> = items
        .iter()
        .filter(|i| i["type"] == "event")
        .map(|i| i["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        [
            "equipment check: after restart",
            "equipment check: power supply 2 failed",
            "equipment check: running",
            "equipment check: started",
        ]
    );
    let alerts: Vec<&Value> = items.iter().filter(|i| i["type"] == "alert").collect();
    assert_eq!(alerts.len(), 1, "{items:#?}");
    assert_eq!(alerts[0]["level"], "critical");
    assert!(
        alerts[0]["summary"]
            .as_str()
            .unwrap()
            .contains("power supply 2 failed")
    );
    assert!(items.iter().all(|i| i["host"] == named.as_str()));

    // Forgetting is the manager's.
    let (status, _) = tl.send("DELETE", &format!("/api/v1/hosts/{relay}"), None);
    assert_eq!(status, 403);
    let (status, _) = tl.send_as(&manager, "DELETE", &format!("/api/v1/hosts/{relay}"), None);
    assert_eq!(status, 204);
    let (status, _) = tl.api(&format!("/api/v1/hosts/{relay}"));
    assert_eq!(status, 404);
}
