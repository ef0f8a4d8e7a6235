//! Start, stop, restart, and exclusive use of the store.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use crate::harness::{Instance, spawn_run};

#[test]
fn events_survive_sigterm_and_restart_with_increasing_ids() {
    let tl = Instance::start();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..500 {
        sock.send_to(
            format!("<13>Nov 23 10:00:00 keep app: before restart {i}").as_bytes(),
            tl.syslog_udp,
        )
        .unwrap();
    }
    tl.wait_events("", 500);
    let tl = tl.restart();
    let before = tl.events("");
    assert_eq!(
        before.len(),
        500,
        "all 500 events are back after the restart"
    );
    let max_before: u64 = before
        .iter()
        .map(|e| e["id"].as_str().unwrap().parse::<u64>().unwrap())
        .max()
        .unwrap();
    sock.send_to(
        b"<13>Nov 23 10:00:01 keep app: after restart",
        tl.syslog_udp,
    )
    .unwrap();
    let after = tl.wait_events("", 501);
    let newest = &after[0];
    assert_eq!(newest["message"], "after restart");
    assert!(newest["id"].as_str().unwrap().parse::<u64>().unwrap() > max_before);
}

#[test]
fn graceful_stop_stores_what_was_queued() {
    let mut tl = Instance::start();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..2000 {
        sock.send_to(
            format!("<13>Nov 23 10:00:00 h app: burst {i}").as_bytes(),
            tl.syslog_udp,
        )
        .unwrap();
    }
    // Stop as soon as everything was read from the socket (a busy machine may take a while
    // to read a 2,000-datagram burst): whatever was read must be flushed before exit, whether
    // or not it was stored yet.
    tl.wait_metric("trapline_datagrams_received_total", "syslog-udp", 2000.0);
    assert_eq!(tl.stop(), 0);
    let log = tl.log();
    assert!(log.contains("Stopped."), "{log}");
    let dir = std::mem::replace(&mut tl.dir, tempfile::tempdir().unwrap());
    let tl = Instance::start_in(dir, tl.token.clone(), &[]);
    assert_eq!(tl.events("").len(), 2000);
}

#[test]
fn second_process_on_the_same_store_is_refused_with_a_clear_error() {
    let tl = Instance::start();
    let (mut second, log) = spawn_run(tl.dir.path(), &[]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "second instance did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    std::thread::sleep(Duration::from_millis(100));
    let log = log.lock().unwrap().clone();
    assert_eq!(status.code(), Some(1), "{log}");
    let pid = tl.child.as_ref().unwrap().id().to_string();
    assert!(
        log.contains("locked") && log.contains(&pid),
        "error names the lock holder (pid {pid}): {log}"
    );
    assert!(!log.contains("panicked"), "{log}");
    // The first instance is unaffected.
    assert_eq!(tl.get_text("/healthz").0, 200);
}

#[test]
fn first_start_creates_admin_with_a_private_password_file() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, log) = spawn_run(dir.path(), &[]);
    let path = dir.path().join("data/initial-admin-password");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !log.lock().unwrap().contains("listening kind=http") {
        assert!(Instant::now() < deadline, "{}", log.lock().unwrap());
        std::thread::sleep(Duration::from_millis(20));
    }
    let password = std::fs::read_to_string(&path).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let log = log.lock().unwrap().clone();
    assert!(log.contains("initial-admin-password"), "{log}");
    assert!(
        !log.contains(password.trim()),
        "the password itself is never logged"
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn corrupt_store_is_refused_naming_the_path_unless_moved_aside() {
    let (dir, token) = crate::harness::prepare_data_dir();
    let store_dir = dir.path().join("data/store");
    // Overwrite every sled file with garbage.
    for entry in std::fs::read_dir(&store_dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() && path.file_name().unwrap() != "LOCK" {
            std::fs::write(&path, vec![0xA5u8; 4096]).unwrap();
        }
    }
    let (mut child, log) = spawn_run(dir.path(), &[]);
    let status = child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let text = log.lock().unwrap().clone();
    assert_eq!(status.code(), Some(1), "{text}");
    assert!(
        text.contains(store_dir.to_str().unwrap()),
        "error names the store path: {text}"
    );
    assert!(
        text.contains("--move-corrupt-store"),
        "error says how to go on: {text}"
    );
    assert!(!text.contains("panicked"), "{text}");

    let tl = crate::harness::Instance::start_in(dir, token, &["--move-corrupt-store"]);
    assert!(
        tl.log().contains("Moved the corrupt store aside"),
        "{}",
        tl.log()
    );
    let moved = std::fs::read_dir(tl.dir.path().join("data"))
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("store.corrupt-")
        });
    assert!(moved, "the corrupt store was kept aside for inspection");
}
