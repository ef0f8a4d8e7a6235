//! Notifications end to end (issue 6): the real binary mails a real SMTP server (aiosmtpd,
//! Debian's python3-aiosmtpd, started here on a free port by `tests/fixtures/smtp_sink.py`)
//! and calls a real HTTP receiver on loopback. Alerts are raised with `logger`; the on-call
//! schedule and users are set through the API.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Instance, add_user_with_token, logger, prepare_data_dir};

/// A running aiosmtpd that writes every accepted message to a directory as JSON.
struct SmtpSink {
    child: Option<Child>,
    dir: tempfile::TempDir,
    port: u16,
}

/// A loopback port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl SmtpSink {
    fn start() -> SmtpSink {
        SmtpSink::start_on(free_port())
    }

    fn start_on(port: u16) -> SmtpSink {
        SmtpSink::start_with(port, &[])
    }

    /// A sink that speaks TLS (`mode` starttls or tls) with the given certificate and key.
    fn start_tls(mode: &str, cert: &Path, key: &Path) -> SmtpSink {
        let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
        SmtpSink::start_with(free_port(), &["--tls", mode, "--cert", cert, "--key", key])
    }

    fn start_with(port: u16, extra: &[&str]) -> SmtpSink {
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/smtp_sink.py");
        let child = Command::new("/usr/bin/python3")
            .arg(script)
            .args(["--dir", dir.path().to_str().unwrap()])
            .args(["--port", &port.to_string()])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("/usr/bin/python3 with aiosmtpd (Debian python3-aiosmtpd) runs");
        let sink = SmtpSink {
            child: Some(child),
            dir,
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        sink
    }

    /// Every message received so far, in order.
    fn mails(&self) -> Vec<Value> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        paths
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }

    /// Messages to `to`.
    fn mails_to(&self, to: &str) -> Vec<Value> {
        self.mails()
            .into_iter()
            .filter(|m| m["to"].as_array().unwrap().iter().any(|t| t == to))
            .collect()
    }

    /// Waits until `to` has at least `n` messages; returns them.
    fn wait_mails_to(&self, to: &str, n: usize, tl: &Instance) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mails = self.mails_to(to);
            if mails.len() >= n {
                return mails;
            }
            assert!(
                Instant::now() < deadline,
                "{to} got {} of {n} mails: {mails:#?}\nall: {:#?}\nlog:\n{}",
                mails.len(),
                self.mails(),
                tl.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

const RULES: &str = r#"
[[rule]]
name = "boom"
when = 'app == "boom" and message =~ "^(?P<dev>\\S+) "'
key = "{dev}"
clear_when = 'app == "boomok" and message =~ "^(?P<dev>\\S+)"'
level = "critical"
category = "power"
summary = "Power lost on {dev}"

[[rule]]
name = "hooked"
when = 'app == "hooked"'
level = "warning"
summary = "Hooked {host}"
notify = ["webhook:am"]
"#;

/// A data directory with an admin, the config (SMTP on `smtp_port`, short delays, webhook
/// `am` at `webhook_url`) and the rules; returns (dir, operator token, admin token, config).
fn prepare(smtp_port: u16, webhook_url: &str) -> (tempfile::TempDir, String, String, PathBuf) {
    let (dir, token) = prepare_data_dir();
    let admin = add_user_with_token(dir.path(), "boss", "admin");
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("notify.toml"), RULES).unwrap();
    let config = dir.path().join("trapline.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[smtp]
server = "127.0.0.1:{smtp_port}"
security = "none"
from = "trapline@example.net"
timeout = "2s"

[notify]
base_url = "http://trapline.test"
group_wait = "2s"
retry_initial = "1s"
retry_max = "2s"
give_up_after = "1h"

[[notify.webhooks]]
name = "am"
url = "{webhook_url}"
format = "alertmanager"
timeout = "2s"
"#
        ),
    )
    .unwrap();
    (dir, token, admin, config)
}

fn start(dir: tempfile::TempDir, token: String, config: &Path) -> Instance {
    let rules = dir.path().join("rules");
    let rules = rules.to_str().unwrap().to_string();
    let config = config.to_str().unwrap().to_string();
    Instance::start_in(dir, token, &["--config", &config, "--rules", &rules])
}

/// Creates on-call users with addresses and the schedule: alice rank 1, bob rank 2 (now
/// until tomorrow), `escalate_after` as given; carol is an operator to transfer to.
fn staff(tl: &Instance, admin: &str, escalate_after: &str) {
    for (name, role) in [("alice", "oncall"), ("bob", "oncall"), ("carol", "oncall")] {
        let (status, body) = tl.send_as(
            admin,
            "POST",
            "/api/v1/users",
            Some(json!({"name": name, "role": role, "password": "password-123", "email": format!("{name}@example.net")})),
        );
        assert_eq!(status, 201, "{body}");
    }
    let now = chrono::Utc::now();
    let start = (now - chrono::Duration::hours(1)).to_rfc3339();
    let end = (now + chrono::Duration::hours(24)).to_rfc3339();
    let (status, body) = tl.send_as(
        admin,
        "PUT",
        "/api/v1/oncall",
        Some(json!({
            "shifts": [
                {"user": "alice", "start": start, "end": end, "rank": 1},
                {"user": "bob", "start": start, "end": end, "rank": 2},
            ],
            "escalate_after": escalate_after,
        })),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["now"][0]["users"], json!(["alice"]));
    // Everybody may see who is on call; only admins may change it.
    let (status, _) = tl.send("GET", "/api/v1/oncall", None);
    assert_eq!(status, 200);
    let (status, _) = tl.send("PUT", "/api/v1/oncall", Some(json!({"shifts": []})));
    assert_eq!(status, 403);
    // The notifier reads the schedule and addresses every second.
    std::thread::sleep(Duration::from_millis(1500));
}

fn raise(tl: &Instance, app: &str, message: &str) {
    let port = tl.syslog_udp.port().to_string();
    logger(&[
        "-n",
        "127.0.0.1",
        "-P",
        &port,
        "--udp",
        "--rfc3164",
        "-t",
        app,
        "-p",
        "user.err",
        message,
    ]);
}

fn alert_id(tl: &Instance, key: &str) -> u64 {
    tl.wait_alert("", |a| a["key"] == key)["id"]
        .as_u64()
        .unwrap()
}

fn notifications(tl: &Instance, token: &str) -> Vec<Value> {
    let (status, body) = tl.send_as(token, "GET", "/api/v1/notifications?limit=1000", None);
    assert_eq!(status, 200, "{body}");
    body["notifications"].as_array().unwrap().clone()
}

#[test]
fn oncall_mail_groups_escalates_without_ack_stops_on_ack_and_tells_the_resolve() {
    let smtp = SmtpSink::start();
    let (dir, token, admin, config) = prepare(smtp.port, "http://127.0.0.1:9/unused");
    let tl = start(dir, token, &config);
    staff(&tl, &admin, "5s");

    // Three critical alerts within group_wait: one mail to rank 1.
    raise(
        &tl,
        "boom",
        "ups1 input lost <script>alert('x')</script> & \"more\"",
    );
    raise(&tl, "boom", "ups2 input lost");
    raise(&tl, "boom", "ups3 input lost");
    let ups1 = alert_id(&tl, "ups1");
    let ups2 = alert_id(&tl, "ups2");
    let ups3 = alert_id(&tl, "ups3");
    let first = &smtp.wait_mails_to("alice@example.net", 1, &tl)[0];
    // ups2 and ups3 are acknowledged now (before escalate_after): no escalation for them.
    for id in [ups2, ups3] {
        let (status, body) = tl.send("POST", &format!("/api/v1/alerts/{id}/ack"), Some(json!({})));
        assert_eq!(status, 200, "{body}");
    }
    let subject = first["subject"].as_str().unwrap();
    assert!(subject.starts_with("[CRITICAL] 3 alerts — "), "{subject}");
    let text = first["text"].as_str().unwrap();
    let html = first["html"].as_str().unwrap();
    for ups in ["ups1", "ups2", "ups3"] {
        assert!(text.contains(&format!("Power lost on {ups}")), "{text}");
    }
    assert!(
        text.contains(&format!("http://trapline.test/?alert={ups1}")),
        "{text}"
    );
    assert!(
        text.contains("ups1 input lost <script>alert('x')</script> & \"more\""),
        "the latest message, as sent: {text}"
    );
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;more&quot;"),
        "{html}"
    );
    assert!(
        html.contains(&format!("href=\"http://trapline.test/?alert={ups1}\"")),
        "{html}"
    );

    // Nobody acknowledged ups1 within 5 s: rank 2 is told, about ups1 only.
    let escalated = &smtp.wait_mails_to("bob@example.net", 1, &tl)[0];
    let subject = escalated["subject"].as_str().unwrap();
    assert!(subject.starts_with("[ESCALATED][CRITICAL] "), "{subject}");
    assert!(subject.contains("Power lost on ups1"), "{subject}");
    let text = escalated["text"].as_str().unwrap();
    assert!(text.contains("escalated to on-call rank 2"), "{text}");
    assert!(
        !text.contains("ups2") && !text.contains("ups3"),
        "acked alerts do not escalate: {text}"
    );

    // The resolve notice reaches both, also for the acked alert (alice was told of it).
    raise(&tl, "boomok", "ups1 back");
    raise(&tl, "boomok", "ups2 back");
    let alice = smtp.wait_mails_to("alice@example.net", 2, &tl);
    let bob = smtp.wait_mails_to("bob@example.net", 2, &tl);
    let resolved = alice.last().unwrap();
    assert!(
        resolved["subject"]
            .as_str()
            .unwrap()
            .starts_with("[RESOLVED]"),
        "{resolved}"
    );
    let text = resolved["text"].as_str().unwrap();
    assert!(
        text.contains("Power lost on ups1") && text.contains("Power lost on ups2"),
        "{text}"
    );
    assert!(
        bob.last().unwrap()["subject"]
            .as_str()
            .unwrap()
            .starts_with("[RESOLVED][CRITICAL] ")
    );
    assert!(
        bob.last().unwrap()["text"]
            .as_str()
            .unwrap()
            .contains("ups1")
    );
    // No more than that: one group, one escalation, one resolve each.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        smtp.mails_to("alice@example.net").len(),
        2,
        "{:#?}",
        smtp.mails()
    );
    assert_eq!(
        smtp.mails_to("bob@example.net").len(),
        2,
        "{:#?}",
        smtp.mails()
    );

    // The log shows each notification; operators and admins may read it, others not.
    let log = notifications(&tl, &tl.token);
    assert_eq!(log.len(), 4, "{log:#?}");
    assert!(
        log.iter()
            .all(|n| n["status"] == "delivered" && n["attempts"] == 1)
    );
    let kinds: Vec<&str> = log.iter().map(|n| n["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"escalation") && kinds.contains(&"firing"));
    assert_eq!(notifications(&tl, &admin).len(), 4);
    assert!(tl.metric_sum("trapline_notifications_total", "outcome=\"sent\"") >= 4.0);
}

#[test]
fn transfer_mails_the_chosen_people_with_the_comment() {
    let smtp = SmtpSink::start();
    let (dir, token, admin, config) = prepare(smtp.port, "http://127.0.0.1:9/unused");
    let tl = start(dir, token, &config);
    staff(&tl, &admin, "1h");
    raise(&tl, "boom", "pdu7 breaker tripped");
    let id = alert_id(&tl, "pdu7");
    let (status, body) = tl.send(
        "POST",
        &format!("/api/v1/alerts/{id}/transfer"),
        Some(json!({"to": ["carol"], "comment": "please check the PSU <now>"})),
    );
    assert_eq!(status, 200, "{body}");
    let mail = &smtp.wait_mails_to("carol@example.net", 1, &tl)[0];
    assert!(
        mail["subject"]
            .as_str()
            .unwrap()
            .starts_with("[TRANSFERRED][CRITICAL] "),
        "{mail}"
    );
    let text = mail["text"].as_str().unwrap();
    assert!(
        text.contains("Transferred to you by tester: please check the PSU <now>"),
        "{text}"
    );
    assert!(
        mail["html"]
            .as_str()
            .unwrap()
            .contains("please check the PSU &lt;now&gt;")
    );
    // In the alert's history.
    let alert = tl.wait_alert("", |a| a["id"] == id);
    let last = alert["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "transfer");
    assert!(
        last["detail"]
            .as_str()
            .unwrap()
            .contains("to carol: please check the PSU")
    );
    // carol is told when it resolves, as is alice (rank 1) who got the first mail.
    smtp.wait_mails_to("alice@example.net", 1, &tl);
    raise(&tl, "boomok", "pdu7 ok");
    let carol = smtp.wait_mails_to("carol@example.net", 2, &tl);
    assert!(
        carol[1]["subject"]
            .as_str()
            .unwrap()
            .starts_with("[RESOLVED]")
    );
}

#[test]
fn mail_server_down_retries_and_the_outbox_survives_sigterm_and_restart() {
    let port = free_port();
    let (dir, token, admin, config) = prepare(port, "http://127.0.0.1:9/unused");
    let tl = start(dir, token, &config);
    staff(&tl, &admin, "1h");
    raise(&tl, "boom", "rack9 on battery");
    alert_id(&tl, "rack9");
    // The server is down: attempts fail and are retried.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log = notifications(&tl, &admin);
        if let Some(n) = log.first()
            && n["attempts"].as_u64().unwrap() >= 2
        {
            assert_eq!(n["status"], "pending", "{n}");
            assert_eq!(n["log"][0]["outcome"], "error");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no retries: {log:#?}\n{}",
            tl.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(tl.metric_sum("trapline_notifications_total", "outcome=\"retry\"") >= 1.0);
    assert!(tl.metric_sum("trapline_notify_outbox_pending", "") >= 1.0);
    // SIGTERM, then the server comes up, then trapline starts again: the pending mail goes
    // out once, and the alert is not mailed a second time.
    let rules = tl.dir.path().join("rules").to_str().unwrap().to_string();
    let config = config.to_str().unwrap().to_string();
    let tl = tl.restart_with(&["--config", &config, "--rules", &rules]);
    let smtp = SmtpSink::start_on(port);
    let mails = smtp.wait_mails_to("alice@example.net", 1, &tl);
    assert!(
        mails[0]["text"]
            .as_str()
            .unwrap()
            .contains("rack9 on battery")
    );
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(smtp.mails().len(), 1, "{:#?}", smtp.mails());
    let log = notifications(&tl, &admin);
    assert_eq!(log.len(), 1, "{log:#?}");
    assert_eq!(log[0]["status"], "delivered");
    assert!(log[0]["attempts"].as_u64().unwrap() >= 3, "{log:#?}");
}

/// A webhook receiver on loopback: answers 500 to the first `fail_first` calls, then 200;
/// keeps every body.
struct Receiver {
    url: String,
    bodies: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    fn start(fail_first: usize) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let seen = bodies.clone();
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { continue };
                let body = read_request(&stream);
                seen.lock()
                    .unwrap()
                    .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                let status = if n < fail_first {
                    "500 Internal Server Error"
                } else {
                    "200 OK"
                };
                let mut stream = stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
        });
        Receiver { url, bodies }
    }

    fn wait(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let bodies = self.bodies.lock().unwrap().clone();
            if bodies.len() >= n {
                return bodies;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} webhook calls",
                bodies.len()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Reads one HTTP/1.1 request with a Content-Length body; returns the body.
fn read_request(stream: &TcpStream) -> Vec<u8> {
    let mut reader = BufReader::new(stream);
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    body
}

#[test]
fn webhooks_get_the_alertmanager_payload_and_a_failing_receiver_is_retried() {
    let smtp = SmtpSink::start();
    let receiver = Receiver::start(1);
    let (dir, token, admin, config) = prepare(smtp.port, &receiver.url);
    let tl = start(dir, token, &config);
    raise(&tl, "hooked", "something to hook");
    let bodies = receiver.wait(2);
    assert_eq!(bodies[0], bodies[1], "the retry sends the same payload");
    let payload = &bodies[1];
    assert_eq!(payload["version"], "4");
    assert_eq!(payload["status"], "firing");
    assert_eq!(payload["receiver"], "am");
    assert_eq!(payload["externalURL"], "http://trapline.test");
    let alert = &payload["alerts"][0];
    assert_eq!(alert["labels"]["alertname"], "hooked");
    assert_eq!(alert["labels"]["severity"], "warning");
    assert!(
        alert["annotations"]["summary"]
            .as_str()
            .unwrap()
            .starts_with("Hooked ")
    );
    assert!(
        alert["annotations"]["description"]
            .as_str()
            .unwrap()
            .contains("something to hook")
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = notifications(&tl, &admin);
        if log.first().is_some_and(|n| n["status"] == "delivered") {
            assert_eq!(log[0]["channel"], "webhook");
            assert_eq!(log[0]["attempts"], 2);
            assert!(log[0]["log"][0]["error"].as_str().unwrap().contains("500"));
            break;
        }
        assert!(Instant::now() < deadline, "{log:#?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // A warning alert with a webhook route mails nobody.
    assert!(smtp.mails().is_empty());
}

/// A self-signed certificate for 127.0.0.1 (PEM cert, PEM key), written into `dir`.
fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    let (cert_path, key_path) = (dir.join("smtp-cert.pem"), dir.join("smtp-key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (cert_path, key_path)
}

#[test]
fn mail_goes_over_starttls_and_implicit_tls_trusting_the_configured_ca() {
    for security in ["starttls", "tls"] {
        let (dir, token) = prepare_data_dir();
        let (cert, key) = self_signed(dir.path());
        let smtp = SmtpSink::start_tls(security, &cert, &key);
        let rules = dir.path().join("rules");
        std::fs::create_dir_all(&rules).unwrap();
        std::fs::write(
            rules.join("mail.toml"),
            r#"
[[rule]]
name = "tlsmail"
when = 'app == "tlsmail"'
level = "critical"
summary = "Secure {host}"
notify = ["mail:ops@example.net"]
"#,
        )
        .unwrap();
        let config = dir.path().join("trapline.toml");
        std::fs::write(
            &config,
            format!(
                r#"
[smtp]
server = "127.0.0.1:{port}"
security = "{security}"
from = "trapline@example.net"
timeout = "5s"
ca_file = "{ca}"

[notify]
group_wait = "1s"
retry_initial = "1s"
retry_max = "2s"
"#,
                port = smtp.port,
                ca = cert.display(),
            ),
        )
        .unwrap();
        let tl = start(dir, token, &config);
        raise(&tl, "tlsmail", "over an encrypted line");
        let mail = &smtp.wait_mails_to("ops@example.net", 1, &tl)[0];
        assert_eq!(mail["tls"], true, "{security}: {mail}");
        assert!(
            mail["subject"].as_str().unwrap().contains("Secure"),
            "{security}: {mail}"
        );
    }
}

/// `[reports] mail = ["week"]`: last week's availability report goes to every manager with an
/// address, through the outbox, once (a restart does not send it again).
#[test]
fn last_weeks_availability_report_is_mailed_to_managers_once() {
    let smtp = SmtpSink::start();
    let (dir, token) = prepare_data_dir();
    let data = dir.path().join("data");
    let (code, _, err) = crate::harness::trapline(
        &[
            "user",
            "add",
            "mia",
            "--role",
            "manager",
            "--email",
            "mia@example.net",
            "--data",
            data.to_str().unwrap(),
        ],
        Some("password-123\n"),
    );
    assert_eq!(code, 0, "{err}");
    let config = dir.path().join("trapline.toml");
    std::fs::write(
        &config,
        format!(
            "[smtp]\nserver = \"127.0.0.1:{}\"\nsecurity = \"none\"\nfrom = \"trapline@example.net\"\n\n[reports]\nmail = [\"week\"]\n",
            smtp.port
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap().to_string();
    let tl = Instance::start_in(dir, token.clone(), &["--config", &config]);
    let mails = smtp.wait_mails_to("mia@example.net", 1, &tl);
    let subject = mails[0]["subject"].as_str().unwrap();
    assert!(
        subject.starts_with("[REPORT] Availability, week "),
        "{subject}"
    );
    assert!(
        mails[0]["text"]
            .as_str()
            .unwrap()
            .contains("Availability per host"),
        "{}",
        mails[0]["text"]
    );
    // Kept as sent: a restart does not mail the same week again.
    let tl = tl.restart_with(&["--config", &config]);
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(smtp.mails_to("mia@example.net").len(), 1, "{}", tl.log());
}
