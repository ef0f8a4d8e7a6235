//! `trapline backup`, `restore` and `compact` on real data directories: a backup taken from
//! the running appliance (over its control socket) and one taken while it is stopped are
//! restored into fresh directories, a trapline is started on them, and the API must give back
//! the same events, alerts, users and tokens.

use std::net::UdpSocket;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Instance, add_user_with_token, logger, prepare_data_dir, trapline};

fn data(dir: &Path) -> String {
    dir.join("data").to_str().unwrap().to_string()
}

/// `logger` over UDP to the instance, RFC 3164 with a tag.
fn send(tl: &Instance, priority: &str, message: &str) {
    logger(&[
        "-n",
        "127.0.0.1",
        "-P",
        &tl.syslog_udp.port().to_string(),
        "--udp",
        "--rfc3164",
        "-t",
        "backup-test",
        "-p",
        priority,
        message,
    ]);
}

/// The number nearest before the word `label` in a command's output (`12 events`,
/// `4096 bytes before`).
fn number_before(text: &str, label: &str) -> u64 {
    let words: Vec<&str> = text.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| w.trim_matches(|c: char| !c.is_alphanumeric()) == label)
        .unwrap_or_else(|| panic!("no {label:?} in {text:?}"));
    words[..at]
        .iter()
        .rev()
        .find_map(|w| w.trim_matches(|c: char| !c.is_ascii_digit()).parse().ok())
        .unwrap_or_else(|| panic!("no number before {label:?} in {text:?}"))
}

/// The number after `label` (`… ids below 42) …`).
fn number_after(text: &str, label: &str) -> u64 {
    let rest = &text[text
        .find(label)
        .unwrap_or_else(|| panic!("no {label:?} in {text}"))
        + label.len()..];
    rest.split_whitespace()
        .next()
        .unwrap()
        .trim_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .unwrap()
}

fn ids(events: &[Value]) -> Vec<u64> {
    events
        .iter()
        .map(|e| e["id"].as_str().unwrap().parse().unwrap())
        .collect()
}

#[test]
fn online_backup_restores_into_a_fresh_directory_with_the_same_events_alerts_and_tokens() {
    let (dir, token) = prepare_data_dir();
    let admin = add_user_with_token(dir.path(), "boss", "admin");
    let mut tl = Instance::start_in(dir, token.clone(), &[]);
    for i in 0..5 {
        send(&tl, "local0.info", &format!("routine line {i}"));
    }
    send(&tl, "local0.alert", "core switch down");
    send(&tl, "local0.emerg", "power feed A lost");
    tl.wait_events("", 7);
    let alert = tl.wait_alert("", |a| {
        a["summary"]
            .as_str()
            .is_some_and(|s| s.contains("core switch down"))
    });
    let id = alert["id"]
        .as_str()
        .map_or_else(|| alert["id"].to_string(), str::to_string);
    let (status, body) = tl.send("POST", &format!("/api/v1/alerts/{id}/ack"), None);
    assert_eq!(status, 200, "{body}");
    // A user made through the API while trapline runs (a record written online).
    let (status, body) = tl.send_as(
        &admin,
        "POST",
        "/api/v1/users",
        Some(json!({"name": "olga", "role": "operator", "password": "password-123"})),
    );
    assert_eq!(status, 201, "{body}");
    tl.wait_alert("", |a| a["id"] == alert["id"] && a["state"] == "acked");
    let events = tl.events("");
    let alerts = tl.alerts("");
    assert!(alerts.len() >= 2, "{alerts:#?}");

    // Backup while it runs: the running process makes it.
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("trapline.backup");
    let file_arg = file.to_str().unwrap();
    let live = data(tl.dir.path());
    let (code, out, err) = trapline(&["backup", "--out", file_arg, "--data", &live], None);
    assert_eq!(code, 0, "backup failed: {out}{err}\n{}", tl.log());
    assert!(out.contains("made by the running trapline"), "{out}");
    assert_eq!(number_before(&out, "events"), events.len() as u64, "{out}");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600,
        "the backup holds password hashes"
    );
    assert!(!work.path().join("trapline.backup.tmp").exists());
    assert!(tl.log().contains("Backup requested on the control socket"));

    // Restoring over the live store is refused, naming the holder, and changes nothing.
    let (code, out, err) = trapline(
        &["restore", "--from", file_arg, "--data", &live, "--force"],
        None,
    );
    let pid = tl.child.as_ref().unwrap().id().to_string();
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("live") && err.contains(&pid), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(tl.events("").len(), events.len());
    assert_eq!(tl.stop(), 0, "{}", tl.log());

    // Restore into a fresh directory and start trapline on it.
    let fresh = tempfile::tempdir().unwrap();
    let (code, out, err) = trapline(
        &["restore", "--from", file_arg, "--data", &data(fresh.path())],
        None,
    );
    assert_eq!(code, 0, "restore failed: {out}{err}");
    assert_eq!(number_before(&out, "events"), events.len() as u64, "{out}");
    let restored = Instance::start_in(fresh, token, &[]);
    assert_eq!(
        restored.events(""),
        events,
        "the same events, ids and fields"
    );
    assert_eq!(
        restored.alerts(""),
        alerts,
        "the same alerts, states and history"
    );
    let (status, acked) = restored.api(&format!("/api/v1/alerts/{id}"));
    assert_eq!(status, 200);
    assert_eq!(acked["state"], "acked");
    let last = acked["history"].as_array().unwrap().last().unwrap();
    assert_eq!(
        (last["by"].as_str(), last["action"].as_str()),
        (Some("tester"), Some("ack"))
    );
    // Both tokens work (the operator's above), and the user made online is there.
    let (status, users) = restored.send_as(&admin, "GET", "/api/v1/users", None);
    assert_eq!(status, 200, "{users}");
    assert!(users.to_string().contains("\"olga\""), "{users}");
    // New events continue the ids.
    send(&restored, "local0.info", "after the restore");
    let after = restored.wait_events("", events.len() + 1);
    assert_eq!(after[0]["message"], "after the restore");
    assert!(ids(&after)[0] > ids(&events)[0]);
}

#[test]
fn a_backup_taken_while_events_flow_holds_whole_readable_events_only() {
    let tl = Instance::start();
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let sender = {
        let (stop, sent, target) = (stop.clone(), sent.clone(), tl.syslog_udp);
        std::thread::spawn(move || {
            let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..50 {
                    let line = format!("<13>Nov 23 10:00:00 flow{} app: message {i}", i % 5);
                    sock.send_to(line.as_bytes(), target).unwrap();
                    i += 1;
                }
                sent.store(i, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    tl.wait_events("", 1000);
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("flow.backup");
    let (code, out, err) = trapline(
        &[
            "backup",
            "--out",
            file.to_str().unwrap(),
            "--data",
            &data(tl.dir.path()),
        ],
        None,
    );
    let sent_during = sent.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    sender.join().unwrap();
    assert_eq!(code, 0, "{out}{err}");
    let in_backup = number_before(&out, "events");
    let watermark = number_after(&out, "ids below");
    assert!(in_backup >= 1000, "{out}");

    let fresh = tempfile::tempdir().unwrap();
    let (code, out, err) = trapline(
        &[
            "restore",
            "--from",
            file.to_str().unwrap(),
            "--data",
            &data(fresh.path()),
        ],
        None,
    );
    assert_eq!(code, 0, "{out}{err}");
    let restored = Instance::start_in(fresh, tl.token.clone(), &[]);
    let copy = restored.events("");
    // Whole blocks up to the watermark: every id below it, none above, counts agree.
    assert_eq!(copy.len() as u64, in_backup);
    assert_eq!(ids(&copy), (1..watermark).rev().collect::<Vec<_>>());
    // Each is the event the running instance stored under that id.
    let original: std::collections::HashMap<u64, Value> = tl
        .wait_events("", copy.len())
        .into_iter()
        .map(|e| (e["id"].as_str().unwrap().parse().unwrap(), e))
        .collect();
    for event in &copy {
        let id: u64 = event["id"].as_str().unwrap().parse().unwrap();
        assert_eq!(Some(event), original.get(&id), "event {id}");
    }
    assert!(
        sent_during >= in_backup,
        "{sent_during} sent, {in_backup} in the backup"
    );
}

/// Retention frees space inside the store; `compact` gives it back to the file system. Also
/// a backup of a stopped store, restored, gives the same events.
#[test]
fn backup_while_stopped_and_compact_after_retention_keep_every_remaining_event() {
    let (dir, token) = prepare_data_dir();
    let config = dir.path().join("retention.toml");
    // Retention runs only at start (then hourly), and keeps about 64 KiB of blocks.
    std::fs::write(
        &config,
        "[retention]\nmax_bytes = \"64KiB\"\ninterval = \"1h\"\n",
    )
    .unwrap();
    let config = config.to_str().unwrap().to_string();
    let tl = Instance::start_in(dir, token.clone(), &["--config", &config]);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut sent = 0usize;
    for burst in 0..20u64 {
        for i in 0..500u64 {
            // Hex noise so the blocks do not compress to nothing.
            let noise: String = (0..8)
                .map(|k| {
                    format!(
                        "{:016x}",
                        (burst * 500 + i + 1)
                            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                            .rotate_left(k * 7)
                    )
                })
                .collect();
            let line = format!("<13>Nov 23 10:00:00 bulk app: {burst}/{i} {noise}");
            sock.send_to(line.as_bytes(), tl.syslog_udp).unwrap();
            sent += 1;
        }
        // One burst per block: wait until it is stored before the next.
        tl.wait_metric("trapline_events_stored_total", "", sent as f64);
    }
    let tl = tl.restart_with(&["--config", &config]);
    tl.wait_metric("trapline_retention_deleted_events_total", "size", 1.0);
    let remaining = tl.events("");
    assert!(
        !remaining.is_empty() && remaining.len() < sent,
        "{} of {sent}",
        remaining.len()
    );
    let mut tl = tl;
    assert_eq!(tl.stop(), 0);
    let stopped = data(tl.dir.path());

    // Backup while stopped: this process opens the store.
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("stopped.backup");
    let (code, out, err) = trapline(
        &[
            "backup",
            "--out",
            file.to_str().unwrap(),
            "--data",
            &stopped,
        ],
        None,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("store not running"), "{out}");
    assert_eq!(
        number_before(&out, "events"),
        remaining.len() as u64,
        "{out}"
    );

    // Compact: not larger, every remaining event still there.
    let (code, out, err) = trapline(&["compact", "--data", &stopped], None);
    assert_eq!(code, 0, "{out}{err}");
    let before = number_before(&out, "before");
    let after = number_before(&out, "after");
    // 10,000 events went in, ~1,500 are left: the rewrite is smaller (and never larger).
    assert!(out.starts_with("compacted") && after < before, "{out}");
    let store_bytes = du(&tl.dir.path().join("data/store"));
    assert!(store_bytes <= before, "{store_bytes} > {before}: {out}");
    assert!(!tl.dir.path().join("data/store.compacting").exists());
    let dir = std::mem::replace(&mut tl.dir, tempfile::tempdir().unwrap());
    let compacted = Instance::start_in(dir, token.clone(), &["--config", &config]);
    assert_eq!(compacted.events(""), remaining);

    // Compact refuses a live store, naming the holder.
    let (code, _, err) = trapline(&["compact", "--data", &data(compacted.dir.path())], None);
    assert_eq!(code, 1);
    assert!(err.contains("live") && err.contains("pid"), "{err}");

    // The stopped-store backup restores to the same events.
    let fresh = tempfile::tempdir().unwrap();
    let (code, out, err) = trapline(
        &[
            "restore",
            "--from",
            file.to_str().unwrap(),
            "--data",
            &data(fresh.path()),
        ],
        None,
    );
    assert_eq!(code, 0, "{out}{err}");
    let restored = Instance::start_in(fresh, token, &[]);
    assert_eq!(restored.events(""), remaining);
}

/// Restore checks the whole file before it touches anything, and never overwrites a store
/// without --force (which keeps the old one aside).
#[test]
fn restore_refuses_damaged_files_and_keeps_what_was_there() {
    let (dir, _) = prepare_data_dir();
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("b.backup");
    let file_arg = file.to_str().unwrap();
    let source = data(dir.path());
    let (code, out, err) = trapline(&["backup", "--out", file_arg, "--data", &source], None);
    assert_eq!(code, 0, "{out}{err}");
    let bytes = std::fs::read(&file).unwrap();

    let target = tempfile::tempdir().unwrap();
    let target_data = data(target.path());
    let truncated = work.path().join("truncated.backup");
    std::fs::write(&truncated, &bytes[..bytes.len() - 100]).unwrap();
    let mut damaged = bytes.clone();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0x01;
    let damaged_file = work.path().join("damaged.backup");
    std::fs::write(&damaged_file, &damaged).unwrap();
    for (path, says) in [(&truncated, "incomplete"), (&damaged_file, "damaged")] {
        let (code, out, err) = trapline(
            &[
                "restore",
                "--from",
                path.to_str().unwrap(),
                "--data",
                &target_data,
            ],
            None,
        );
        assert_eq!(code, 1, "{out}{err}");
        assert!(err.contains(says), "{err}");
        assert!(!Path::new(&target_data).exists(), "nothing was written");
    }

    // Restoring over an existing (stopped) store: refused without --force, kept aside with it.
    let (code, _, err) = trapline(&["restore", "--from", file_arg, "--data", &source], None);
    assert_eq!(code, 1);
    assert!(
        err.contains("not empty") && err.contains("--force"),
        "{err}"
    );
    let (code, out, err) = trapline(
        &["restore", "--from", file_arg, "--data", &source, "--force"],
        None,
    );
    assert_eq!(code, 0, "{out}{err}");
    let aside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("data.before-restore-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert!(dir.path().join(&aside[0]).join("store").is_dir());
    assert!(out.contains(&aside[0]), "{out}");
}

/// Bytes allocated for the files of a store directory (as `du` counts them).
fn du(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        total += if meta.is_dir() {
            du(&entry.path())
        } else {
            meta.blocks() * 512
        };
    }
    total
}
