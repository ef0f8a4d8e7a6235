//! Rules and alerts end to end: the contract's example rules in a rules directory, driven by
//! `logger` and `snmptrap`, checked through `/api/v1/alerts` and `/metrics`; reload by file
//! change and SIGHUP; maintenance windows from files and the API; state across a restart.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{
    Instance, add_user_with_token, logger, netsnmp, prepare_data_dir, short_hostname, trapline,
};

/// The contract's example, as written, plus rules for the other stateful kinds.
const CONTRACT_RULES: &str = r#"
[[rule]]
name = "ssh-bruteforce"
when = 'app == "sshd" and message =~ "Failed password for .* from (?P<ip>[0-9a-f.:]+)"'
threshold = { count = 5, within = "60s", by = "{ip}" }
level = "critical"
category = "security"
summary = "SSH brute force from {ip} on {host}"

[[rule]]
name = "nightly-backup"
expect = { when = 'app == "backup" and message =~ "(?i)backup (ok|succeeded)"', every = "24h", hosts = ["db1", "db2"] }
level = "critical"
category = "backup"
summary = "No successful backup from {host} within 24h"

[[rule]]
name = "link-down"
when = 'trap_name == "linkDown"'
key = "{host}/if/{varbind.ifIndex}"
clear_when = 'trap_name == "linkUp"'
level = "warning"
category = "network"
summary = "Interface {varbind.ifDescr} down on {host}"

[[rule]]
name = "drop-debug-from-lab"
when = 'source in 192.0.2.0/24 and severity >= 6'
action = "drop"

[[maintenance]]
name = "db upgrade"
start = "2026-11-22T22:00:00Z"
end = "2026-11-23T02:00:00Z"
hosts = ["db*"]
"#;

/// Starts an instance on `rules` (written to DIR/rules/NAME) with extra files.
fn start_with_rules(files: &[(&str, &str)]) -> Instance {
    let (dir, token) = prepare_data_dir();
    start_with_rules_in(dir, token, files)
}

/// [`start_with_rules`] on a data directory prepared by the caller (extra users, tokens).
fn start_with_rules_in(dir: tempfile::TempDir, token: String, files: &[(&str, &str)]) -> Instance {
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    for (name, text) in files {
        std::fs::write(rules.join(name), text).unwrap();
    }
    let rules = rules.to_str().unwrap().to_string();
    let mut tl = Instance::start_in(dir, token, &["--rules", &rules]);
    tl.trap_udp = Some(tl.wait_for_listener("trap-udp"));
    tl
}

fn rules_dir(tl: &Instance) -> std::path::PathBuf {
    tl.dir.path().join("rules")
}

/// Sends one RFC 3164 message over UDP with `logger`.
fn send(tl: &Instance, tag: &str, priority: &str, message: &str) {
    let port = tl.syslog_udp.port().to_string();
    logger(&[
        "-n",
        "127.0.0.1",
        "-P",
        &port,
        "--udp",
        "--rfc3164",
        "-t",
        tag,
        "-p",
        priority,
        message,
    ]);
}

fn default_pack() -> &'static str {
    include_str!("../../rules/00-default.toml")
}

#[test]
fn threshold_raises_one_alert_per_source_and_folds_the_rest() {
    let tl = start_with_rules(&[
        ("00-default.toml", default_pack()),
        ("10-contract.toml", CONTRACT_RULES),
    ]);
    let host = short_hostname();
    for i in 0..4 {
        send(
            &tl,
            "sshd",
            "auth.info",
            &format!(
                "Failed password for root from 203.0.113.9 port {} ssh2",
                40000 + i
            ),
        );
    }
    // Four are below the threshold: events, no alert.
    tl.wait_events("q=203.0.113.9", 4);
    std::thread::sleep(Duration::from_millis(400));
    assert!(tl.alerts("").iter().all(|a| a["rule"] != "ssh-bruteforce"));

    send(
        &tl,
        "sshd",
        "auth.info",
        "Failed password for root from 203.0.113.9 port 40004 ssh2",
    );
    let alert = tl.wait_alert("state=open", |a| a["rule"] == "ssh-bruteforce");
    assert_eq!(alert["level"], "critical");
    assert_eq!(alert["category"], "security");
    assert_eq!(
        alert["summary"],
        format!("SSH brute force from 203.0.113.9 on {host}")
    );
    assert_eq!(alert["count"], 5);
    assert_eq!(alert["event_ids"].as_array().unwrap().len(), 5);
    assert_eq!(alert["host"], host.as_str());

    // More from the same source fold into the same alert; another source is another group.
    send(
        &tl,
        "sshd",
        "auth.info",
        "Failed password for root from 203.0.113.9 port 40005 ssh2",
    );
    let id = alert["id"].as_u64().unwrap();
    let folded = tl.wait_alert("state=open", |a| a["id"] == id && a["count"] == 6);
    assert!(folded["last_seen"].as_str() >= alert["last_seen"].as_str());
    for i in 0..3 {
        send(
            &tl,
            "sshd",
            "auth.info",
            &format!("Failed password for admin from 198.51.100.7 port {i} ssh2"),
        );
    }
    tl.wait_events("q=198.51.100.7", 3);
    std::thread::sleep(Duration::from_millis(300));
    let brute: Vec<Value> = tl
        .alerts("")
        .into_iter()
        .filter(|a| a["rule"] == "ssh-bruteforce")
        .collect();
    assert_eq!(brute.len(), 1, "{brute:#?}");

    let (status, one) = tl.api(&format!("/api/v1/alerts/{id}"));
    assert_eq!(status, 200);
    assert_eq!(one["key"], folded["key"]);
    assert_eq!(one["history"][0]["action"], "raised");
    assert_eq!(tl.api("/api/v1/alerts/999999").0, 404);
    assert!(tl.metric_sum("trapline_rule_matches_total", "rule=\"ssh-bruteforce\"") >= 9.0);
    assert_eq!(
        tl.metric_sum("trapline_alerts_raised_total", "level=\"critical\""),
        1.0
    );
    assert!(tl.metric_sum("trapline_alerts_open", "level=\"critical\"") >= 1.0);
}

#[test]
fn severity_levels_raise_and_dedup_alerts_from_the_default_pack() {
    let tl = start_with_rules(&[("00-default.toml", default_pack())]);
    send(&tl, "disk", "daemon.err", "sda1 read error at sector 42");
    send(&tl, "disk", "daemon.err", "sda1 read error at sector 42");
    send(&tl, "app", "daemon.info", "just information");
    let alert = tl.wait_alert("state=open", |a| {
        a["summary"] == "sda1 read error at sector 42" && a["count"] == 2
    });
    assert_eq!(alert["level"], "low");
    assert_eq!(alert["rule"], "syslog-error-warning");
    tl.wait_events("q=just information", 1);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        tl.alerts("")
            .iter()
            .all(|a| a["summary"] != "just information")
    );
    assert_eq!(tl.alerts("level=low&state=open").len(), 1);
}

#[test]
fn link_up_trap_clears_the_link_down_alert_with_the_same_key() {
    let tl = start_with_rules(&[("10-contract.toml", CONTRACT_RULES)]);
    let to = tl.trap_udp.unwrap().to_string();
    let trap = |oid: &str, descr: &str| {
        let args = [
            "-v",
            "2c",
            "-c",
            "public",
            &to,
            "",
            oid,
            "1.3.6.1.2.1.2.2.1.1.7",
            "i",
            "7",
            "1.3.6.1.2.1.2.2.1.2.7",
            "s",
            descr,
        ];
        assert_eq!(netsnmp("snmptrap", &args), 0);
    };
    trap("1.3.6.1.6.3.1.1.5.3", "Gi0/7");
    let alert = tl.wait_alert("", |a| a["rule"] == "link-down");
    assert_eq!(alert["state"], "open");
    assert_eq!(alert["level"], "warning");
    assert_eq!(alert["key"], "127.0.0.1/if/7");
    assert_eq!(alert["summary"], "Interface Gi0/7 down on 127.0.0.1");
    trap("1.3.6.1.6.3.1.1.5.4", "Gi0/7");
    let cleared = tl.wait_alert("state=cleared", |a| a["id"] == alert["id"]);
    let last = cleared["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["action"], "cleared");
    assert!(
        tl.alerts("state=open")
            .iter()
            .all(|a| a["rule"] != "link-down")
    );
}

#[test]
fn drop_rule_keeps_events_out_of_the_store_and_counts_them() {
    let drop_local_debug = r#"
[[rule]]
name = "drop-local-debug"
when = 'source in 127.0.0.0/8 and severity >= 7'
action = "drop"
"#;
    let tl = start_with_rules(&[
        ("00-default.toml", default_pack()),
        ("10-drop.toml", drop_local_debug),
    ]);
    send(&tl, "noisy", "user.debug", "debug chatter");
    send(&tl, "noisy", "user.info", "info kept");
    tl.wait_events("q=info kept", 1);
    tl.wait_metric(
        "trapline_rule_drops_total",
        "rule=\"drop-local-debug\"",
        1.0,
    );
    assert!(tl.events("q=debug chatter").is_empty());
    assert_eq!(tl.metric_sum("trapline_events_dropped_total", ""), 0.0);
}

#[test]
fn expectation_raises_for_a_silent_host_and_clears_when_it_reports() {
    let host = short_hostname();
    let rules = format!(
        r#"
[[rule]]
name = "heartbeat"
expect = {{ when = 'app == "backup" and message =~ "(?i)backup (ok|succeeded)"', every = "2s", hosts = ["{host}"] }}
level = "critical"
category = "backup"
summary = "No successful backup from {{host}}"
"#
    );
    let tl = start_with_rules(&[("10-expect.toml", &rules)]);
    let alert = tl.wait_alert("state=open", |a| a["rule"] == "heartbeat");
    assert_eq!(
        alert["summary"],
        format!("No successful backup from {host}")
    );
    assert_eq!(alert["level"], "critical");
    send(&tl, "backup", "daemon.info", "Backup OK: 42 files");
    tl.wait_alert("state=cleared", |a| a["id"] == alert["id"]);
}

#[test]
fn untouched_alerts_expire_by_themselves() {
    let rules = r#"
[[rule]]
name = "transient"
when = 'app == "flappy"'
level = "warning"
expire_after = "1s"
"#;
    let tl = start_with_rules(&[("10-expire.toml", rules)]);
    send(&tl, "flappy", "daemon.warning", "something odd");
    let alert = tl.wait_alert("", |a| a["rule"] == "transient");
    let expired = tl.wait_alert("state=cleared", |a| a["id"] == alert["id"]);
    let last = expired["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["action"], "expired");
}

#[test]
fn maintenance_windows_from_files_and_the_api_suppress_alerts() {
    let host = short_hostname();
    let now = chrono::Utc::now();
    let file_window = format!(
        r#"
[[rule]]
name = "crit"
when = 'app == "svc"'
level = "critical"

[[maintenance]]
name = "file window"
start = "{}"
end = "{}"
hosts = ["{host}"]
rules = ["crit"]
"#,
        (now - chrono::Duration::minutes(5)).to_rfc3339(),
        (now + chrono::Duration::hours(1)).to_rfc3339(),
    );
    let api_rule = r#"
[[rule]]
name = "warn"
when = 'app == "api-svc"'
level = "warning"
category = "db"
"#;
    let tl = start_with_rules(&[("10-window.toml", &file_window), ("20-warn.toml", api_rule)]);
    send(&tl, "svc", "daemon.err", "down during the file window");
    let suppressed = tl.wait_alert("state=suppressed", |a| a["rule"] == "crit");
    assert!(suppressed["history"].to_string().contains("file window"));

    let window = json!({
        "name": "api window",
        "start": (now - chrono::Duration::minutes(1)).to_rfc3339(),
        "end": (now + chrono::Duration::hours(1)).to_rfc3339(),
        "categories": ["db"],
    });
    let (status, created) = tl.send("POST", "/api/v1/maintenance", Some(window));
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let (_, list) = tl.api("/api/v1/maintenance");
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"api window") && names.contains(&"file window"),
        "{names:?}"
    );
    send(&tl, "api-svc", "daemon.err", "first during the api window");
    tl.wait_alert("state=suppressed", |a| a["rule"] == "warn");

    let (status, _) = tl.send("DELETE", &format!("/api/v1/maintenance/{id}"), None);
    assert_eq!(status, 204);
    assert_eq!(
        tl.send("DELETE", &format!("/api/v1/maintenance/{id}"), None)
            .0,
        404
    );
    send(&tl, "api-svc", "daemon.err", "after the api window");
    let open = tl.wait_alert("state=open", |a| a["rule"] == "warn");
    assert_eq!(open["summary"], "after the api window");
    let (status, body) = tl.send(
        "POST",
        "/api/v1/maintenance",
        Some(json!({"name": "x", "start": "yesterday", "end": "later"})),
    );
    assert_eq!(status, 400, "{body}");
    assert!(tl.metric_sum("trapline_alerts_suppressed_total", "reason=\"maintenance\"") >= 2.0);
}

#[test]
fn an_open_parent_alert_inhibits_alerts_from_the_hosts_behind_it() {
    let host = short_hostname();
    let rules = format!(
        r#"
[[rule]]
name = "core-router-down"
when = 'app == "core"'
level = "critical"
inhibit = {{ hosts = ["{host}"], when = 'app == "edge"' }}

[[rule]]
name = "edge-unreachable"
when = 'app == "edge"'
level = "warning"
"#
    );
    let tl = start_with_rules(&[("10-inhibit.toml", &rules)]);
    send(
        &tl,
        "edge",
        "daemon.err",
        "edge unreachable before the core went down",
    );
    tl.wait_alert("state=open", |a| a["rule"] == "edge-unreachable");
    send(&tl, "core", "daemon.crit", "core router down");
    tl.wait_alert("state=open", |a| a["rule"] == "core-router-down");
    send(
        &tl,
        "edge",
        "daemon.err",
        "edge unreachable while the core is down",
    );
    let inhibited = tl.wait_alert("state=suppressed", |a| a["rule"] == "edge-unreachable");
    assert!(
        inhibited["history"]
            .to_string()
            .contains("inhibited by alert")
    );
}

fn wait_log(tl: &Instance, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !tl.log().contains(needle) {
        assert!(
            Instant::now() < deadline,
            "no {needle:?} in the log:\n{}",
            tl.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn reload_takes_good_rules_and_refuses_bad_ones_keeping_the_old() {
    let first = r#"
[[rule]]
name = "first"
when = 'app == "reloadapp"'
level = "warning"
summary = "first rule"
"#;
    let tl = start_with_rules(&[("10-first.toml", first)]);
    let dir = rules_dir(&tl);
    // A bad file: refused with file:line:col, the old rules stay.
    std::fs::write(
        dir.join("20-bad.toml"),
        "[[rule]]\nname = \"bad\"\nwhen = 'app === \"x\"'\n",
    )
    .unwrap();
    tl.wait_metric("trapline_rules_reload_total", "outcome=\"error\"", 1.0);
    wait_log(&tl, "20-bad.toml:3:");
    send(&tl, "reloadapp", "daemon.warning", "still the first rule");
    tl.wait_alert("", |a| a["summary"] == "first rule");

    // Fixing it (and changing the first rule) is taken at once.
    std::fs::remove_file(dir.join("20-bad.toml")).unwrap();
    std::fs::write(
        dir.join("10-first.toml"),
        first.replace("first rule", "second version"),
    )
    .unwrap();
    tl.wait_metric("trapline_rules_reload_total", "outcome=\"success\"", 1.0);
    send(&tl, "reloadapp", "daemon.warning", "now the second version");
    tl.wait_alert("", |a| a["summary"] == "second version");

    // SIGHUP reloads too.
    let before = tl.metric_sum("trapline_rules_reload_total", "outcome=\"success\"");
    unsafe {
        libc::kill(tl.child.as_ref().unwrap().id() as i32, libc::SIGHUP);
    }
    tl.wait_metric(
        "trapline_rules_reload_total",
        "outcome=\"success\"",
        before + 1.0,
    );
}

#[test]
fn alerts_and_threshold_windows_survive_a_restart() {
    let tl = start_with_rules(&[("10-contract.toml", CONTRACT_RULES)]);
    for i in 0..3 {
        send(
            &tl,
            "sshd",
            "auth.info",
            &format!("Failed password for x from 192.0.2.200 port {i} ssh2"),
        );
    }
    tl.wait_events("q=192.0.2.200", 3);
    // Let the windows be written (at most every second), then restart.
    std::thread::sleep(Duration::from_millis(1500));
    let rules = rules_dir(&tl).display().to_string();
    let mut tl = tl.restart_with(&["--rules", &rules]);
    tl.trap_udp = Some(tl.wait_for_listener("trap-udp"));
    // The window started before the restart: two more reach the threshold of five.
    for i in 3..5 {
        send(
            &tl,
            "sshd",
            "auth.info",
            &format!("Failed password for x from 192.0.2.200 port {i} ssh2"),
        );
    }
    let alert = tl.wait_alert("state=open", |a| a["rule"] == "ssh-bruteforce");
    assert_eq!(alert["count"], 5);
    // The same alert is still open after another restart.
    let mut tl = tl.restart_with(&["--rules", &rules]);
    tl.trap_udp = Some(tl.wait_for_listener("trap-udp"));
    let again = tl.wait_alert("state=open", |a| a["rule"] == "ssh-bruteforce");
    assert_eq!(again["id"], alert["id"]);
}

#[test]
fn check_rules_points_at_each_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = "[[rule]]\nname = \"r1\"\nwhen = 'app == \"x\" and bogus == 1'\n\n[[rule]]\nname = \"r2\"\nwhen = 'message =~ \"(unclosed\"'\n\n[[rule]]\nname = \"r3\"\nwhen = 'app == \"y\"'\nsummary = \"{nope}\"\nthreshold = { count = 3, within = \"soon\" }\ncolour = \"red\"\n";
    std::fs::write(dir.path().join("10-bad.toml"), bad).unwrap();
    let (code, out, _) = trapline(&["check-rules", dir.path().to_str().unwrap()], None);
    assert_eq!(code, 1, "{out}");
    let file = dir.path().join("10-bad.toml");
    let file = file.display();
    // Unknown keys are refused by the TOML layer first: the whole file is reported there.
    assert!(
        out.contains(&format!("{file}:14:1: unknown field `colour`")),
        "{out}"
    );
    std::fs::write(
        dir.path().join("10-bad.toml"),
        bad.replace("colour = \"red\"\n", ""),
    )
    .unwrap();
    let (code, out, _) = trapline(&["check-rules", dir.path().to_str().unwrap()], None);
    assert_eq!(code, 1);
    assert!(
        out.contains(&format!("{file}:3:24: unknown field")),
        "{out}"
    );
    assert!(
        out.contains(&format!("{file}:7:20: invalid regex")),
        "{out}"
    );
    assert!(
        out.contains(&format!("{file}:12:13: unknown template variable")),
        "{out}"
    );
    assert!(
        out.contains(&format!("{file}:13:")) && out.contains("soon"),
        "{out}"
    );
    let good = dir.path().join("good");
    std::fs::create_dir(&good).unwrap();
    std::fs::write(good.join("10-contract.toml"), CONTRACT_RULES).unwrap();
    let (code, out, _) = trapline(&["check-rules", good.to_str().unwrap()], None);
    assert_eq!((code, out.trim()), (0, "ok"));
}

#[test]
fn the_default_pack_passes_its_own_tests() {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let mut cases: Vec<String> = std::fs::read_dir(rules.join("tests"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .filter(|p| p.ends_with(".toml"))
        .collect();
    cases.sort();
    assert!(!cases.is_empty());
    let mut args = vec!["test-rules", rules.to_str().unwrap()];
    args.extend(cases.iter().map(String::as_str));
    let (code, out, err) = trapline(&args, None);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains(" 0 failed"), "{out}");
    // And a failing case is reported as such.
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("fail.toml");
    std::fs::write(
        &case,
        "[[case]]\nname = \"wrong level\"\n[[case.input]]\nsyslog = \"<11>Nov 23 10:00:00 h1 app: broken\"\n[[case.expect]]\nrule = \"syslog-error-warning\"\nlevel = \"critical\"\n",
    )
    .unwrap();
    let (code, out, _) = trapline(
        &[
            "test-rules",
            rules.to_str().unwrap(),
            case.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL") && out.contains("unexpected:"), "{out}");
}

#[test]
fn operators_ack_snooze_transfer_archive_and_delete_alerts_through_the_api() {
    let (dir, tester_token) = prepare_data_dir();
    let admin = add_user_with_token(dir.path(), "adam", "admin");
    let operator = add_user_with_token(dir.path(), "olga", "operator");
    let viewer = add_user_with_token(dir.path(), "victor", "viewer");
    add_user_with_token(dir.path(), "oncall-bob", "oncall");
    let tl = start_with_rules_in(dir, tester_token, &[("00-default.toml", default_pack())]);
    send(&tl, "db", "daemon.err", "replication broken");
    let alert = tl.wait_alert("state=open", |a| a["summary"] == "replication broken");
    let id = alert["id"].as_u64().unwrap();
    let path = |action: &str| format!("/api/v1/alerts/{id}/{action}");

    // Only operators act on alerts (the origin design's matrix).
    assert_eq!(
        tl.send_as(&admin, "POST", &path("ack"), None).0,
        403,
        "admin"
    );
    assert_eq!(
        tl.send_as(&viewer, "POST", &path("ack"), None).0,
        403,
        "viewer"
    );
    let (status, acked) = tl.send_as(
        &operator,
        "POST",
        &path("ack"),
        Some(json!({"comment": "on it"})),
    );
    assert_eq!(status, 200, "{acked}");
    assert_eq!(acked["state"], "acked");
    let last = acked["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (
            last["by"].as_str(),
            last["action"].as_str(),
            last["detail"].as_str()
        ),
        (Some("olga"), Some("ack"), Some("on it"))
    );
    // More events fold into the acked alert; it stays acked.
    send(&tl, "db", "daemon.err", "replication broken");
    tl.wait_alert("state=acked", |a| a["id"] == id && a["count"] == 2);

    let (status, body) = tl.send_as(
        &operator,
        "POST",
        &path("transfer"),
        Some(json!({"to": ["nobody"]})),
    );
    assert_eq!(status, 400, "{body}");
    let (status, moved) = tl.send_as(
        &operator,
        "POST",
        &path("transfer"),
        Some(json!({"to": ["oncall-bob"]})),
    );
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["transferred_to"], json!(["oncall-bob"]));

    assert_eq!(
        tl.send_as(&operator, "POST", &path("snooze"), Some(json!({})))
            .0,
        400
    );
    let (status, snoozed) = tl.send_as(
        &operator,
        "POST",
        &path("snooze"),
        Some(json!({"for": "1s"})),
    );
    assert_eq!(status, 200, "{snoozed}");
    assert_eq!(snoozed["state"], "snoozed");
    // The snooze ends by itself.
    tl.wait_alert("state=open", |a| a["id"] == id);

    let (status, archived) = tl.send_as(&operator, "POST", &path("archive"), None);
    assert_eq!(
        (status, archived["state"].as_str()),
        (200, Some("archived"))
    );
    let (status, err) = tl.send_as(&operator, "POST", &path("ack"), None);
    assert_eq!(status, 409, "{err}");
    assert!(err["detail"].as_str().unwrap().contains("archived"));
    // A new event with the same key is a new alert; the archived one can be deleted.
    send(&tl, "db", "daemon.err", "replication broken");
    let fresh = tl.wait_alert("state=open", |a| a["summary"] == "replication broken");
    assert_ne!(fresh["id"], id);
    let (status, deleted) = tl.send_as(&operator, "POST", &path("delete"), None);
    assert_eq!((status, deleted["state"].as_str()), (200, Some("deleted")));
    assert_eq!(
        tl.send_as(&operator, "POST", "/api/v1/alerts/999999/ack", None)
            .0,
        404
    );
    assert_eq!(
        tl.send_as(&operator, "POST", &path("frobnicate"), None).0,
        404
    );
}

#[test]
fn the_alert_stream_pushes_a_new_alert_and_its_changes() {
    use std::io::{BufRead, BufReader};
    let (dir, token) = prepare_data_dir(); // an operator: may view alerts and act on them
    let tl = start_with_rules_in(dir, token.clone(), &[("00-default.toml", default_pack())]);
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let response = client
        .get(tl.url("/api/v1/alerts/stream"))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(response).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let next_alert = |what: &str| -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut event = String::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no stream event for {what}"));
            if let Some(name) = line.strip_prefix("event: ") {
                event = name.to_string();
            } else if let Some(data) = line.strip_prefix("data: ")
                && event == "alert"
            {
                return serde_json::from_str(data).unwrap();
            }
        }
    };
    let sent = Instant::now();
    send(
        &tl,
        "pager",
        "daemon.alert",
        "<script>alert(1)</script> pump failed",
    );
    let raised = next_alert("the new alert");
    // Well within the contract's 1 s for the live page (events are stored, then the alert
    // is written within ~100 ms); logged, not asserted, as timing is for benchmarks.
    eprintln!(
        "alert streamed {:?} after logger was started",
        sent.elapsed()
    );
    assert_eq!(raised["state"], "open");
    assert_eq!(raised["level"], "critical");
    assert_eq!(raised["summary"], "<script>alert(1)</script> pump failed");
    let id = raised["id"].as_u64().unwrap();
    let (status, _) = tl.send("POST", &format!("/api/v1/alerts/{id}/ack"), None);
    assert_eq!(status, 200);
    let acked = next_alert("the ack");
    assert_eq!(
        (acked["id"].as_u64(), acked["state"].as_str()),
        (Some(id), Some("acked"))
    );
}

#[test]
fn bulk_actions_act_on_a_selection_and_lists_filter_by_text() {
    let tl = start_with_rules(&[("00-default.toml", default_pack())]);
    send(&tl, "db", "daemon.alert", "disk one failed");
    send(&tl, "db", "daemon.alert", "disk two failed");
    send(&tl, "web", "daemon.alert", "pump three failed");
    tl.wait_alert("state=open", |a| a["summary"] == "pump three failed");
    tl.wait_alert("state=open", |a| a["summary"] == "disk one failed");

    // Free text: every word, any case, in summary, host, rule, category or key.
    let disks = tl.alerts("state=open&q=DISK%20failed");
    assert_eq!(disks.len(), 2, "{disks:?}");
    assert!(tl.alerts("state=open&q=disk%20pump").is_empty());
    // Compact lists carry no history and only the newest event id.
    for alert in tl.alerts("state=open&compact=true") {
        assert_eq!(alert["history"], json!([]), "{alert}");
        assert!(alert["event_ids"].as_array().unwrap().len() <= 1);
    }

    let ids: Vec<u64> = disks.iter().map(|a| a["id"].as_u64().unwrap()).collect();
    let (status, outcome) = tl.send(
        "POST",
        "/api/v1/alerts/bulk/ack",
        Some(json!({"ids": [ids[0], ids[1], 999_999], "comment": "on it"})),
    );
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(outcome["done"].as_array().unwrap().len(), 2, "{outcome}");
    assert_eq!(
        outcome["failed"],
        json!([{"id": 999_999, "error": "no alert 999999"}])
    );
    for id in &ids {
        let (_, alert) = tl.api(&format!("/api/v1/alerts/{id}"));
        assert_eq!(alert["state"], "acked");
        let last = alert["history"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(
            (last["action"].as_str(), last["detail"].as_str()),
            (Some("ack"), Some("on it"))
        );
    }
    // What an action needs is checked once for the whole selection.
    let (status, _) = tl.send(
        "POST",
        "/api/v1/alerts/bulk/snooze",
        Some(json!({"ids": ids})),
    );
    assert_eq!(status, 400);
    let (status, _) = tl.send("POST", "/api/v1/alerts/bulk/ack", Some(json!({"ids": []})));
    assert_eq!(status, 400);
    let (status, snoozed) = tl.send(
        "POST",
        "/api/v1/alerts/bulk/snooze",
        Some(json!({"ids": ids, "for": "1h"})),
    );
    assert_eq!(status, 200, "{snoozed}");
    assert!(
        snoozed["done"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["state"] == "snoozed")
    );
}
