//! Runs the real `trapline` binary in a fresh temporary directory on loopback port 0 and talks
//! to it over HTTP. Every test gets its own instance.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Path of the binary under test (built by cargo for integration tests).
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_trapline"))
}

/// Runs a `trapline` subcommand to completion; returns (exit code, stdout, stderr).
pub fn trapline(args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut child = Command::new(binary())
        .args(args)
        .env_remove("TRAPLINE_ADMIN_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("trapline binary starts");
    {
        let mut input = child.stdin.take().unwrap();
        // The command may exit before it reads (a refused argument): a broken pipe is fine.
        if let Some(text) = stdin {
            let _ = input.write_all(text.as_bytes());
        }
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A running `trapline run`.
pub struct Instance {
    pub dir: tempfile::TempDir,
    pub child: Option<Child>,
    pub log: Arc<Mutex<String>>,
    pub syslog_udp: SocketAddr,
    pub syslog_tcp: SocketAddr,
    pub http: SocketAddr,
    /// Set by tests that use the trap listener (`wait_for_listener("trap-udp")`).
    pub trap_udp: Option<SocketAddr>,
    pub token: String,
    client: reqwest::blocking::Client,
}

/// Password of the `tester` user of [`prepare_data_dir`].
pub const TESTER_PASSWORD: &str = "test-password-1";

/// Creates a data directory with an operator `tester` and an API token for it (the store must
/// not be open by a running instance when the CLI touches it). An operator, because the role
/// matrix gives events and alerts to operators and managers, not to admins.
pub fn prepare_data_dir() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let (code, _, err) = trapline(
        &[
            "user", "add", "tester", "--role", "operator", "--data", data,
        ],
        Some(&format!("{TESTER_PASSWORD}\n")),
    );
    assert_eq!(code, 0, "user add failed: {err}");
    let (code, out, err) = trapline(&["token", "create", "tester", "--data", data], None);
    assert_eq!(code, 0, "token create failed: {err}");
    (dir, out.trim().to_string())
}

impl Instance {
    /// Starts a fresh instance with listeners on 127.0.0.1 port 0.
    pub fn start() -> Instance {
        let (dir, token) = prepare_data_dir();
        Instance::start_in(dir, token, &[])
    }

    /// Starts an instance on an existing data directory, with extra `run` arguments.
    pub fn start_in(dir: tempfile::TempDir, token: String, extra: &[&str]) -> Instance {
        let (child, log) = spawn_run(dir.path(), extra);
        let mut instance = Instance {
            dir,
            child: Some(child),
            log,
            syslog_udp: "0.0.0.0:0".parse().unwrap(),
            syslog_tcp: "0.0.0.0:0".parse().unwrap(),
            http: "0.0.0.0:0".parse().unwrap(),
            trap_udp: None,
            token,
            client: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
        };
        instance.syslog_udp = instance.wait_for_listener("syslog-udp");
        instance.syslog_tcp = instance.wait_for_listener("syslog-tcp");
        instance.http = instance.wait_for_listener("http");
        instance.wait_ready();
        instance
    }

    /// Reads `listening kind=KIND addr=ADDR` from the log.
    pub fn wait_for_listener(&mut self, kind: &str) -> SocketAddr {
        let needle = format!("listening kind={kind} addr=");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(addr) = self.log.lock().unwrap().lines().find_map(|line| {
                line.find(&needle).map(|at| {
                    line[at + needle.len()..]
                        .split_whitespace()
                        .next()
                        .unwrap()
                        .to_string()
                })
            }) {
                return addr.parse().unwrap();
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "trapline exited ({status}) before listening on {kind}:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no `{needle}` in the log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(resp) = self.client.get(self.url("/readyz")).send()
                && resp.status() == 200
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("never ready:\n{}", self.log());
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.http, path)
    }

    /// GET with the bearer token; returns (status, JSON body).
    pub fn api(&self, path_and_query: &str) -> (u16, Value) {
        let resp = self
            .client
            .get(self.url(path_and_query))
            .bearer_auth(&self.token)
            .send()
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().unwrap_or(Value::Null))
    }

    /// A request with a JSON body (or none) and the bearer token; returns (status, JSON body).
    pub fn send(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.send_as(&self.token, method, path, body)
    }

    /// Like [`Instance::send`] with another user's token.
    pub fn send_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.try_send_as(token, method, path, body)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// Like [`Instance::send_as`], but a failed connection (a killed instance) is an error
    /// instead of a panic; a body that is not JSON reads as `null`.
    pub fn try_send_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), reqwest::Error> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let resp = request.send()?;
        let status = resp.status().as_u16();
        Ok((status, resp.json().unwrap_or(Value::Null)))
    }

    /// The alerts matching `query` (first page, newest first).
    pub fn alerts(&self, query: &str) -> Vec<Value> {
        let (status, body) = self.api(&format!("/api/v1/alerts?limit=1000&{query}"));
        assert_eq!(status, 200, "{body}");
        body["alerts"].as_array().unwrap().clone()
    }

    /// Waits until an alert matching `query` satisfies `pred`; returns it.
    pub fn wait_alert(&self, query: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let alerts = self.alerts(query);
            if let Some(found) = alerts.iter().find(|a| pred(a)) {
                return found.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no matching alert for {query:?}; alerts: {alerts:#?}\nlog:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// GET without authentication; returns (status, text).
    pub fn get_text(&self, path: &str) -> (u16, String) {
        let resp = self.client.get(self.url(path)).send().unwrap();
        (resp.status().as_u16(), resp.text().unwrap())
    }

    /// GET without authentication; a failed connection is an error instead of a panic.
    pub fn client_get_text(&self, path: &str) -> Result<String, reqwest::Error> {
        self.client.get(self.url(path)).send()?.text()
    }

    /// The `/metrics` text.
    pub fn metrics(&self) -> String {
        let (status, text) = self.get_text("/metrics");
        assert_eq!(status, 200);
        text
    }

    /// Sum of a metric over all its label sets, optionally only those whose labels contain `filter`.
    pub fn metric_sum(&self, name: &str, filter: &str) -> f64 {
        metric_sum(&self.metrics(), name, filter)
    }

    /// Every event matching `query` (follows cursors), newest first.
    pub fn events(&self, query: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let sep = if query.is_empty() { "" } else { "&" };
            let path = match &cursor {
                Some(c) => format!("/api/v1/events?limit=1000{sep}{query}&cursor={c}"),
                None => format!("/api/v1/events?limit=1000{sep}{query}"),
            };
            let (status, body) = self.api(&path);
            assert_eq!(status, 200, "{path}: {body}");
            all.extend(body["events"].as_array().unwrap().iter().cloned());
            match body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => return all,
            }
        }
    }

    /// Waits until `query` returns at least `n` events (events become visible within ~100 ms).
    pub fn wait_events(&self, query: &str, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let events = self.events(query);
            if events.len() >= n {
                return events;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {n} events for {query:?}:\n{}",
                events.len(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until a metric sum reaches `at_least`.
    pub fn wait_metric(&self, name: &str, filter: &str, at_least: f64) -> f64 {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let value = self.metric_sum(name, filter);
            if value >= at_least {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "{name}{{{filter}}} = {value}, wanted >= {at_least}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM and wait; returns the exit code.
    pub fn stop(&mut self) -> i32 {
        let mut child = self.child.take().expect("running");
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("did not stop within 30 s after SIGTERM:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL (no chance to flush) and reap; returns the data directory and token, to start
    /// another instance on what the dead one left behind.
    pub fn kill(mut self) -> (tempfile::TempDir, String) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        (dir, self.token.clone())
    }

    /// Stops this instance and starts another on the same data directory.
    pub fn restart(self) -> Instance {
        self.restart_with(&[])
    }

    /// Like [`Instance::restart`], with extra `run` arguments for the new instance.
    pub fn restart_with(mut self, extra: &[&str]) -> Instance {
        assert_eq!(self.stop(), 0, "graceful stop exits 0:\n{}", self.log());
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        let token = self.token.clone();
        Instance::start_in(dir, token, extra)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts `trapline run` on `dir/data`, collecting its stderr into a shared string.
pub fn spawn_run(dir: &Path, extra: &[&str]) -> (Child, Arc<Mutex<String>>) {
    let data = dir.join("data");
    // Every listener on loopback port 0, unless `extra` sets it.
    let mut args: Vec<&str> = vec!["run", "--data", data.to_str().unwrap()];
    for flag in ["--syslog-udp", "--syslog-tcp", "--trap-udp", "--http"] {
        if !extra.contains(&flag) {
            args.extend([flag, "127.0.0.1:0"]);
        }
    }
    args.extend(extra);
    let mut child = Command::new(binary())
        .args(&args)
        .env("TRAPLINE_LOG", "info")
        .env_remove("TRAPLINE_ADMIN_PASSWORD")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("trapline run starts");
    let log = Arc::new(Mutex::new(String::new()));
    let stderr = child.stderr.take().unwrap();
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let mut log = sink.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    (child, log)
}

/// Sum of the samples of `name` whose label set contains `filter`.
pub fn metric_sum(text: &str, name: &str, filter: &str) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| line.starts_with(name) && line[name.len()..].starts_with(['{', ' ']))
        .filter(|line| line.contains(filter))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Adds a user with `role` to a (stopped) data directory and returns a token for it.
pub fn add_user_with_token(dir: &Path, name: &str, role: &str) -> String {
    let data = dir.join("data");
    let data = data.to_str().unwrap();
    let (code, _, err) = trapline(
        &["user", "add", name, "--role", role, "--data", data],
        Some("another-password-2\n"),
    );
    assert_eq!(code, 0, "user add failed: {err}");
    let (code, out, err) = trapline(&["token", "create", name, "--data", data], None);
    assert_eq!(code, 0, "token create failed: {err}");
    out.trim().to_string()
}

/// Runs a net-snmp command (numeric OIDs: no MIBs needed); returns its exit code.
pub fn netsnmp(tool: &str, args: &[&str]) -> i32 {
    let out = Command::new(tool)
        .args(args)
        .env("MIBS", "")
        .env("MIBDIRS", "")
        .output()
        .unwrap_or_else(|e| panic!("{tool} (Debian package snmp) is installed: {e}"));
    out.status.code().unwrap_or(-1)
}

/// The short host name `logger --rfc3164` puts in its messages.
pub fn short_hostname() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    name.trim().split('.').next().unwrap().to_string()
}

/// Runs `logger` against an instance; panics with its stderr on failure.
pub fn logger(args: &[&str]) {
    let out = Command::new("logger")
        .args(args)
        .output()
        .expect("logger (util-linux) is installed");
    assert!(
        out.status.success(),
        "logger {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
