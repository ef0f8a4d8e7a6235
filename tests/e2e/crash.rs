//! Crash safety (issue 8): trapline is killed with SIGKILL at a random moment under load, 20
//! times on the same data directory. Every restart must open the store, and nothing a client
//! was told had happened may be missing afterwards:
//! - alert acknowledgements answered `200`, incidents and users answered `201`;
//! - notifications the API listed (they sit in the outbox; the webhook is unreachable);
//! - events: at least as many as `trapline_events_stored_total` counted before the kill (the
//!   counter moves only after the flush), and the ones that are there are the oldest ones sent
//!   (a prefix of the sender's sequence: what a crash loses is the newest, unflushed tail).
//!
//! `TRAPLINE_CRASH_SEED` replays a failing run's kill moments (the seed is printed).

use std::collections::BTreeSet;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::harness::{Instance, add_user_with_token, metric_sum, prepare_data_dir};

const ROUNDS: usize = 20;

const RULES: &str = r#"
[[rule]]
name = "boom"
when = 'app == "boom" and message =~ "^(?P<dev>\\S+) "'
key = "{host}/{dev}"
level = "critical"
category = "power"
summary = "Power lost on {dev}"
notify = ["webhook:dead"]
"#;

/// Port 9 (discard) on loopback: nobody listens, so notifications stay in the outbox.
const CONFIG: &str = r#"
[notify]
base_url = "http://trapline.test"
group_wait = "0s"
retry_initial = "1s"
retry_max = "2s"
give_up_after = "1h"

[[notify.webhooks]]
name = "dead"
url = "http://127.0.0.1:9/hook"
timeout = "1s"
"#;

/// What clients were told before a kill, and so must be there after every restart.
#[derive(Default)]
struct Promised {
    acked_alerts: BTreeSet<u64>,
    incidents: BTreeSet<u64>,
    users: BTreeSet<String>,
    notifications: BTreeSet<u64>,
    /// Per round: `trapline_events_stored_total` last read before the kill, and how many load
    /// messages were sent in all.
    events: Vec<(f64, u64)>,
}

#[test]
fn sigkill_under_load_loses_nothing_acknowledged_twenty_times() {
    let seed = std::env::var("TRAPLINE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    eprintln!("crash test seed: TRAPLINE_CRASH_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    let (dir, token) = prepare_data_dir();
    let admin = add_user_with_token(dir.path(), "boss", "admin");
    let args = write_config(dir.path());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let promised = Mutex::new(Promised::default());
    let (mut dir, mut token) = (dir, token);
    for round in 0..ROUNDS {
        let tl = Instance::start_in(dir, token, &args);
        check_promises(&tl, &admin, &promised.lock().unwrap());
        let kill_after = Duration::from_millis(rng.random_range(200..1500));
        let (counted, sent) = load_and_act(&tl, &admin, round, kill_after, &promised);
        promised.lock().unwrap().events.push((counted, sent));
        (dir, token) = tl.kill();
    }
    let mut tl = Instance::start_in(dir, token, &args);
    let promised = promised.into_inner().unwrap();
    check_promises(&tl, &admin, &promised);
    for round in 0..ROUNDS {
        check_events(&tl, round, promised.events[round]);
    }
    // The test proves something only if every kind of promise was made along the way.
    assert!(!promised.acked_alerts.is_empty(), "no alert was acked");
    assert!(!promised.incidents.is_empty(), "no incident was opened");
    assert!(!promised.users.is_empty(), "no user was added");
    assert!(
        !promised.notifications.is_empty(),
        "no notification was queued"
    );
    assert_eq!(
        tl.stop(),
        0,
        "graceful stop after 20 crashes:\n{}",
        tl.log()
    );
}

/// Writes the rules and config into `dir`; returns the extra `run` arguments.
fn write_config(dir: &Path) -> Vec<String> {
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("crash.toml"), RULES).unwrap();
    let config = dir.join("trapline.toml");
    std::fs::write(&config, CONFIG).unwrap();
    vec![
        "--config".into(),
        config.to_str().unwrap().into(),
        "--rules".into(),
        rules.to_str().unwrap().into(),
    ]
}

/// Runs load and client actions against `tl` for `kill_after`, then SIGKILLs it (the actions
/// may be mid-request). Returns the last stored count read and the load messages sent.
fn load_and_act(
    tl: &Instance,
    admin: &str,
    round: usize,
    kill_after: Duration,
    promised: &Mutex<Promised>,
) -> (f64, u64) {
    let stop = AtomicBool::new(false);
    let sent = AtomicU64::new(0);
    let counted = Mutex::new(0.0);
    let pid = tl.child.as_ref().unwrap().id() as i32;
    std::thread::scope(|scope| {
        scope.spawn(|| send_load(tl.syslog_udp, round, &stop, &sent));
        scope.spawn(|| act(tl, admin, round, &stop, &counted, promised));
        std::thread::sleep(kill_after);
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
        stop.store(true, Ordering::SeqCst);
    });
    let counted = *counted.lock().unwrap();
    (counted, sent.load(Ordering::SeqCst))
}

/// About 4,000 messages a second from host `crash-ROUND` numbered from 0, and every 50th a
/// power alarm from host `boom-ROUND` that raises an alert (and so a notification).
fn send_load(to: SocketAddr, round: usize, stop: &AtomicBool, sent: &AtomicU64) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut seq = 0u64;
    while !stop.load(Ordering::SeqCst) {
        for _ in 0..20 {
            let line = format!("<13>Nov 23 10:00:00 crash-{round} load: seq {seq}");
            if sock.send_to(line.as_bytes(), to).is_err() {
                return;
            }
            seq += 1;
            sent.store(seq, Ordering::SeqCst);
            if seq.is_multiple_of(50) {
                let alarm = format!("<9>Nov 23 10:00:00 boom-{round} boom: ups{seq} down");
                let _ = sock.send_to(alarm.as_bytes(), to);
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Acks alerts, opens incidents, adds users, lists notifications and reads the stored-events
/// counter in a loop until the instance dies; records each success as a promise.
fn act(
    tl: &Instance,
    admin: &str,
    round: usize,
    stop: &AtomicBool,
    counted: &Mutex<f64>,
    promised: &Mutex<Promised>,
) {
    let op = tl.token.clone();
    let mut i = 0;
    while !stop.load(Ordering::SeqCst) {
        i += 1;
        let Ok((200, body)) = tl.try_send_as(
            &op,
            "GET",
            &format!("/api/v1/alerts?state=open&host=boom-{round}&limit=5"),
            None,
        ) else {
            return;
        };
        for alert in body["alerts"].as_array().into_iter().flatten() {
            let id = alert["id"].as_u64().unwrap();
            match tl.try_send_as(&op, "POST", &format!("/api/v1/alerts/{id}/ack"), None) {
                Ok((200, _)) => {
                    promised.lock().unwrap().acked_alerts.insert(id);
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
        let incident = json!({"title": format!("crash {round}/{i}"), "category": "test"});
        match tl.try_send_as(&op, "POST", "/api/v1/incidents", Some(incident)) {
            Ok((201, body)) => {
                let id = body["id"].as_u64().unwrap();
                promised.lock().unwrap().incidents.insert(id);
            }
            Ok((status, body)) => panic!("incident: {status} {body}"),
            Err(_) => return,
        }
        if i % 3 == 0 {
            let name = format!("u{round}x{i}");
            let user = json!({"name": name, "role": "viewer", "password": "password-123"});
            match tl.try_send_as(admin, "POST", "/api/v1/users", Some(user)) {
                Ok((201, _)) => {
                    promised.lock().unwrap().users.insert(name);
                }
                Ok((status, body)) => panic!("user: {status} {body}"),
                Err(_) => return,
            }
        }
        match tl.try_send_as(&op, "GET", "/api/v1/notifications?limit=1000", None) {
            Ok((200, body)) => {
                let ids = body["notifications"].as_array().into_iter().flatten();
                let ids = ids.filter_map(|n| n["id"].as_u64());
                promised.lock().unwrap().notifications.extend(ids);
            }
            Ok((status, body)) => panic!("notifications: {status} {body}"),
            Err(_) => return,
        }
        match tl.client_get_text("/metrics") {
            Ok(text) => {
                *counted.lock().unwrap() = metric_sum(&text, "trapline_events_stored_total", "")
            }
            Err(_) => return,
        }
    }
}

/// Everything promised so far is in the restarted instance.
fn check_promises(tl: &Instance, admin: &str, promised: &Promised) {
    for id in &promised.acked_alerts {
        let (status, alert) = tl.api(&format!("/api/v1/alerts/{id}"));
        assert_eq!(status, 200, "acked alert {id} is gone");
        assert_eq!(alert["state"], "acked", "alert {id}: {alert}");
    }
    for id in &promised.incidents {
        let (status, incident) = tl.api(&format!("/api/v1/incidents/{id}"));
        assert_eq!(status, 200, "incident {id} is gone: {incident}");
    }
    let (status, users) = tl.send_as(admin, "GET", "/api/v1/users", None);
    assert_eq!(status, 200);
    let names: BTreeSet<String> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap().to_string())
        .collect();
    let missing: Vec<_> = promised.users.difference(&names).collect();
    assert!(missing.is_empty(), "users lost: {missing:?}");
    let listed = all_notification_ids(tl);
    let missing: Vec<_> = promised.notifications.difference(&listed).collect();
    assert!(missing.is_empty(), "notifications lost: {missing:?}");
    if let Some(&last) = promised.events.last() {
        check_events(tl, promised.events.len() - 1, last);
    }
}

fn all_notification_ids(tl: &Instance) -> BTreeSet<u64> {
    let mut ids = BTreeSet::new();
    let mut cursor = String::new();
    loop {
        let (status, body) = tl.api(&format!("/api/v1/notifications?limit=1000{cursor}"));
        assert_eq!(status, 200, "{body}");
        let page = body["notifications"].as_array().unwrap();
        ids.extend(page.iter().filter_map(|n| n["id"].as_u64()));
        match body["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return ids,
        }
    }
}

/// The load events of `round` that survived: at least as many as were counted as stored, and
/// the oldest ones (sequence numbers 0..n without a gap).
fn check_events(tl: &Instance, round: usize, (counted, sent): (f64, u64)) {
    let load = tl.events(&format!("host=crash-{round}"));
    let alarms = tl.events(&format!("host=boom-{round}"));
    let mut seqs: Vec<u64> = load
        .iter()
        .map(|e| seq_of(e).unwrap_or_else(|| panic!("not a load message: {e}")))
        .collect();
    seqs.sort_unstable();
    let kept = seqs.len() as u64;
    assert!(
        (kept + alarms.len() as u64) as f64 >= counted,
        "round {round}: {kept} load + {} alarm events kept, but {counted} were counted as stored",
        alarms.len()
    );
    let expected: Vec<u64> = (0..kept).collect();
    assert!(
        seqs == expected,
        "round {round}: the kept events are not the oldest {kept} sent (gaps or duplicates)"
    );
    eprintln!(
        "round {round}: sent {sent}, kept {kept}, counted {counted} (incl. alarms), lost {}",
        sent.saturating_sub(kept)
    );
}

fn seq_of(event: &Value) -> Option<u64> {
    event["message"]
        .as_str()?
        .strip_prefix("seq ")?
        .parse()
        .ok()
}
