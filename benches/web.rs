//! Web performance: time to first byte of the console and the list endpoints over a big store,
//! and the live alert stream (SSE) fanned out to many browsers during an alert burst.
//!
//! The store is built in a temporary directory through the real write path (rules before
//! storing, `EventWriter`, then `AlertEngine::observe` and `persist`, as `pipeline::RuleStage`
//! runs them): N events from the loghub fixture corpus, every 100th a line that a bench rule
//! turns into its own alert, until there are the wanted open alerts. The real router
//! (`web::serve`) then runs on 127.0.0.1:0 on a 2-worker runtime, as `trapline run` does, and a
//! real HTTP client (reqwest) measures:
//!
//! - TTFB (until the response headers; axum computes the whole body first, so this is the
//!   server's time) and total time of `GET /` with a session cookie and of the alerts and
//!   events endpoints with a bearer token; and, to show where the time goes, the alert query
//!   and its JSON encoding called in-process;
//! - SSE: C clients on `/api/v1/alerts/stream`, then R new alerts per second for S seconds
//!   through the engine, persisted every 100 ms as the pipeline does; per burst second the
//!   p50/p99/max lag from the start of the engine's write (`persist`) to a client reading the
//!   alert, `lagged` notices, and the process RSS before, at peak during and after.
//!
//! ```text
//! cargo bench --bench web -- [--events N] [--alerts N] [--requests N] [--clients N] [--secs S] [--rate R]
//! ```
//! Defaults: 1,000,000 events, 10,000 open alerts, 200 requests, 100 clients, 10 s at 1,000/s.
//! Under `cargo test` (no `--bench` argument) it runs a small smoke round instead. The client
//! runs in the same process on the same cores, so its own work (and memory) is in the figures.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use trapline::accounts::{Accounts, Role};
use trapline::alerts::{AlertEngine, AlertQuery, AlertState, EngineOptions};
use trapline::config::SourceTable;
use trapline::event::{Event, Transport, now_ns};
use trapline::normalize::{LevelTable, Normalizer};
use trapline::pipeline::{RuleStage, SharedAlerts, lock};
use trapline::rules::load_texts;
use trapline::rules::reload::ActiveRules;
use trapline::store::{ChunkStage, EventWriter, Store, StoreOptions};
use trapline::web::{AppState, serve};

const LINUX: &str = include_str!("../tests/fixtures/syslog/loghub_linux_2k.log");
const OPENSSH: &str = include_str!("../tests/fixtures/syslog/loghub_openssh_2k.log");

/// One alert per unit: the default key (rule, host, summary) differs for every unit number.
const BENCH_RULES: &str = r#"
[[rule]]
name = "unit-failed"
when = 'app == "benchd" and message =~ "unit (?P<unit>\\d+) failed"'
level = "critical"
category = "bench"
summary = "Unit {unit} failed on {host}"
"#;

/// Unit numbers of the burst start here, far above the stored alerts'.
const BURST_BASE: u64 = 100_000_000;
/// The pipeline writes changed alerts this often (`pipeline::PERSIST_EVERY`).
const PERSIST_EVERY: Duration = Duration::from_millis(100);
const PASSWORD: &str = "bench-password-1";

struct Options {
    events: usize,
    alerts: usize,
    requests: usize,
    clients: usize,
    secs: u64,
    rate: u64,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let smoke = !args.iter().any(|a| a == "--bench");
    let mut o = if smoke {
        Options {
            events: 10_000,
            alerts: 100,
            requests: 20,
            clients: 10,
            secs: 1,
            rate: 1_000,
        }
    } else {
        Options {
            events: 1_000_000,
            alerts: 10_000,
            requests: 200,
            clients: 100,
            secs: 10,
            rate: 1_000,
        }
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || -> usize {
            it.next()
                .and_then(|v| v.replace('_', "").parse().ok())
                .unwrap_or_else(|| panic!("{arg} needs a number"))
        };
        match arg.as_str() {
            "--events" => o.events = value(),
            "--alerts" => o.alerts = value(),
            "--requests" => o.requests = value(),
            "--clients" => o.clients = value(),
            "--secs" => o.secs = value() as u64,
            "--rate" => o.rate = value() as u64,
            _ => {}
        }
    }
    o
}

/// The process's resident memory in MiB (`VmRSS` of `/proc/self/status`).
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Everything the benchmark drives: the store, its single writer, the rules stage.
struct Pipeline {
    store: Store,
    writer: EventWriter,
    stage: RuleStage,
    alerts: SharedAlerts,
    equipment: trapline::equipment::Equipment,
    rules: ActiveRules,
    normalizer: Normalizer,
    peer: SocketAddr,
}

impl Pipeline {
    fn open(dir: &std::path::Path) -> Pipeline {
        let store = Store::open(&dir.join("store"), &StoreOptions::default()).expect("store");
        let rules = ActiveRules::new(load_texts([("bench.toml", BENCH_RULES)]).expect("rules"));
        // Room for the stored alerts and the burst's: beyond `max_active` new alerts would fold
        // into one overflow alert and the stream would carry nothing to measure.
        let options = EngineOptions {
            max_active: 1_000_000,
            ..EngineOptions::default()
        };
        let alerts: SharedAlerts = Arc::new(Mutex::new(
            AlertEngine::open(&store, options).expect("engine"),
        ));
        let equipment = trapline::equipment::Equipment::open(&store).expect("equipment");
        Pipeline {
            writer: store.writer(),
            stage: RuleStage::new(rules.clone(), alerts.clone(), equipment.clone()),
            equipment,
            store,
            alerts,
            rules,
            normalizer: Normalizer::new(SourceTable::new(Vec::new()), LevelTable::default()),
            peer: "192.0.2.1:514".parse().expect("address"),
        }
    }

    fn event(&self, line: &str, received_ns: i64) -> Event {
        self.normalizer
            .syslog(line.as_bytes(), self.peer, Transport::Udp, received_ns)
    }

    /// A line the bench rule raises its own alert for.
    fn alert_event(&self, unit: u64, received_ns: i64) -> Event {
        let line = format!(
            "<11>Nov 23 10:00:00 host{} benchd: unit {unit} failed",
            unit % 100
        );
        self.event(&line, received_ns)
    }

    /// One chunk through rules, store and alerts, as the writer thread does.
    fn write(&mut self, mut chunk: Vec<Event>) {
        self.stage.before_store(&mut chunk);
        self.writer.append(&mut chunk).expect("append");
        self.stage.after_store(&chunk);
        self.writer.tick();
    }

    /// Stores `events` events, every 100th (up to `alerts`) raising an alert; times spread
    /// over the last `events × 50 ms`.
    fn fill(&mut self, events: usize, alerts: usize) {
        let lines: Vec<String> = LINUX
            .lines()
            .chain(OPENSSH.lines())
            .filter(|l| !l.trim().is_empty())
            .map(|l| format!("<13>{l}"))
            .collect();
        let start_ns = now_ns() - events as i64 * 50_000_000;
        let mut raised = 0u64;
        let mut chunk = Vec::with_capacity(1024);
        for i in 0..events {
            let at = start_ns + i as i64 * 50_000_000;
            let alert_due = i % 100 == 0 || events - i <= alerts - raised as usize;
            if alert_due && (raised as usize) < alerts {
                raised += 1;
                chunk.push(self.alert_event(raised, at));
            } else {
                chunk.push(self.event(&lines[i % lines.len()], at));
            }
            if chunk.len() == 1024 {
                self.write(std::mem::take(&mut chunk));
                self.stage.tick();
            }
        }
        self.write(chunk);
        self.writer.sync().expect("sync");
        lock(&self.alerts).persist_all().expect("persist");
    }
}

/// Percentile `p` (0–100) of sorted samples.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// TTFB and total times of `n` GETs of `path` (after 3 warm-up requests).
fn time_requests(
    client: &reqwest::blocking::Client,
    url: &str,
    auth: &dyn Fn(reqwest::blocking::RequestBuilder) -> reqwest::blocking::RequestBuilder,
    n: usize,
) -> (Vec<Duration>, Vec<Duration>, usize) {
    let (mut ttfb, mut total, mut bytes) = (Vec::new(), Vec::new(), 0);
    for i in 0..n + 3 {
        let started = Instant::now();
        let response = auth(client.get(url)).send().expect("request");
        let first = started.elapsed();
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        bytes = response.bytes().expect("body").len();
        if i >= 3 {
            ttfb.push(first);
            total.push(started.elapsed());
        }
    }
    ttfb.sort();
    total.sort();
    (ttfb, total, bytes)
}

/// Times an in-process step `n` times (sorted).
fn time_calls(n: usize, mut step: impl FnMut()) -> Vec<Duration> {
    let mut times: Vec<Duration> = (0..n)
        .map(|_| {
            let started = Instant::now();
            step();
            started.elapsed()
        })
        .collect();
    times.sort();
    times
}

fn ttfb_table(state: &AppState, addr: SocketAddr, token: &str, o: &Options) {
    let (cookie, _) = state
        .sessions
        .create(
            "bench",
            Role::Operator,
            "127.0.0.1".parse().expect("ip"),
            now_ns(),
        )
        .expect("session");
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    let session = |r: reqwest::blocking::RequestBuilder| {
        r.header("Cookie", format!("trapline_session={cookie}"))
    };
    let bearer = |r: reqwest::blocking::RequestBuilder| r.bearer_auth(token);
    type Auth<'a> =
        &'a dyn Fn(reqwest::blocking::RequestBuilder) -> reqwest::blocking::RequestBuilder;
    let none = |r: reqwest::blocking::RequestBuilder| r;
    // `/healthz` and `limit=1` are the floor: HTTP and routing, then bearer auth and the
    // blocking-pool hops every API request makes.
    let requests: [(&str, Auth); 7] = [
        ("/healthz", &none),
        ("/api/v1/alerts?limit=1", &bearer),
        ("/", &session),
        ("/api/v1/alerts?limit=100", &bearer),
        ("/api/v1/alerts?limit=1000", &bearer),
        (
            "/api/v1/alerts?state=open&level=critical&limit=100",
            &bearer,
        ),
        ("/api/v1/events?limit=100", &bearer),
    ];
    println!(
        "\n{:<52} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}",
        "request (HTTP, keep-alive)", "TTFB p50", "p95", "p99", "total p50", "p99", "body bytes"
    );
    for (path, auth) in requests {
        let url = format!("http://{addr}{path}");
        let (ttfb, total, bytes) = time_requests(&client, &url, auth, o.requests);
        println!(
            "GET {:<48} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}",
            path,
            ms(percentile(&ttfb, 50.0)),
            ms(percentile(&ttfb, 95.0)),
            ms(percentile(&ttfb, 99.0)),
            ms(percentile(&total, 50.0)),
            ms(percentile(&total, 99.0)),
            bytes
        );
    }
    // Where the alerts' time goes: the store read + JSON decode of each record, then the
    // response's JSON encoding.
    for limit in [100, 1000] {
        let query = AlertQuery {
            limit,
            ..AlertQuery::default()
        };
        let read = time_calls(o.requests, || {
            std::hint::black_box(query.run(&state.store).expect("query"));
        });
        let page = query.run(&state.store).expect("query");
        let encode = time_calls(o.requests, || {
            let json: Vec<_> = page.alerts.iter().map(|a| a.to_json()).collect();
            std::hint::black_box(serde_json::to_vec(&json).expect("json"));
        });
        println!(
            "  in-process, limit={limit:<5} AlertQuery::run p50 {} ms p99 {} ms; to_json+encode p50 {} ms p99 {} ms",
            ms(percentile(&read, 50.0)),
            ms(percentile(&read, 99.0)),
            ms(percentile(&encode, 50.0)),
            ms(percentile(&encode, 99.0)),
        );
    }
}

/// Lag histogram resolution and range: 0.1 ms buckets up to 10 s (the last bucket holds more).
const BUCKET_US: u64 = 100;
const BUCKETS: usize = 100_000;

/// What the SSE clients saw, in fixed-size atomics allocated before the burst, so the clients'
/// own memory does not grow with what they receive and the RSS figures are the server's.
struct Deliveries {
    start: Instant,
    per_batch: u64,
    batches_per_sec: u64,
    /// When each batch's write (`persist`) started, in ns since `start` (0 = not yet).
    writes_ns: Vec<AtomicU64>,
    /// Per burst second, a histogram of lags.
    histogram: Vec<AtomicU32>,
    max_us: Vec<AtomicU64>,
    lagged: AtomicU64,
    connected: AtomicUsize,
}

impl Deliveries {
    fn new(o: &Options, per_batch: u64, batches: u64) -> Deliveries {
        let batches_per_sec = batches / o.secs.max(1);
        Deliveries {
            start: Instant::now(),
            per_batch,
            batches_per_sec,
            writes_ns: (0..batches).map(|_| AtomicU64::new(0)).collect(),
            histogram: (0..o.secs as usize * BUCKETS)
                .map(|_| AtomicU32::new(0))
                .collect(),
            max_us: (0..o.secs).map(|_| AtomicU64::new(0)).collect(),
            lagged: AtomicU64::new(0),
            connected: AtomicUsize::new(0),
        }
    }

    fn since_start_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// Notes that a client read burst alert `unit` now.
    fn delivered(&self, unit: u64) {
        let now = self.since_start_ns();
        let batch = ((unit - BURST_BASE - 1) / self.per_batch) as usize;
        let Some(written) = self.writes_ns.get(batch) else {
            return;
        };
        let lag_us = now.saturating_sub(written.load(Ordering::Acquire)) / 1000;
        let second = (batch as u64 / self.batches_per_sec).min(self.max_us.len() as u64 - 1);
        let bucket = ((lag_us / BUCKET_US) as usize).min(BUCKETS - 1);
        self.histogram[second as usize * BUCKETS + bucket].fetch_add(1, Ordering::Relaxed);
        self.max_us[second as usize].fetch_max(lag_us, Ordering::Relaxed);
    }

    /// (deliveries, p50, p99, max) of burst second `second`.
    fn second(&self, second: usize) -> (u64, Duration, Duration, Duration) {
        let counts: Vec<u64> = self.histogram[second * BUCKETS..(second + 1) * BUCKETS]
            .iter()
            .map(|c| u64::from(c.load(Ordering::Relaxed)))
            .collect();
        let total: u64 = counts.iter().sum();
        let quantile = |q: f64| {
            let wanted = (q * total as f64).ceil().max(1.0) as u64;
            let mut seen = 0;
            for (bucket, n) in counts.iter().enumerate() {
                seen += n;
                if seen >= wanted {
                    return Duration::from_micros((bucket as u64 + 1) * BUCKET_US);
                }
            }
            Duration::ZERO
        };
        let max = Duration::from_micros(self.max_us[second].load(Ordering::Relaxed));
        (total, quantile(0.5), quantile(0.99), max)
    }
}

/// The unit number in an `event: alert` frame's JSON (its summary "Unit N failed on …").
fn unit_of(frame: &str) -> Option<u64> {
    let at = frame.find("\"summary\":\"Unit ")? + 16;
    let digits: String = frame[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// One browser: reads the stream until `stop`, noting every burst alert it gets.
async fn sse_client(url: String, token: String, seen: Arc<Deliveries>, stop: Arc<AtomicBool>) {
    let client = reqwest::Client::new();
    let mut response = client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("stream");
    assert!(response.status().is_success());
    seen.connected.fetch_add(1, Ordering::AcqRel);
    let mut buffer = String::new();
    while !stop.load(Ordering::Acquire) {
        let chunk = match tokio::time::timeout(Duration::from_millis(200), response.chunk()).await {
            Ok(Ok(Some(chunk))) => chunk,
            Ok(_) => break,
            Err(_) => continue,
        };
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        let mut consumed = 0;
        while let Some(end) = buffer[consumed..].find("\n\n") {
            let frame = &buffer[consumed..consumed + end];
            if frame.starts_with("event: lagged") || frame.contains("\nevent: lagged") {
                seen.lagged.fetch_add(1, Ordering::Relaxed);
            } else if let Some(unit) = unit_of(frame).filter(|u| *u > BURST_BASE) {
                seen.delivered(unit);
            }
            consumed += end + 2;
        }
        buffer.drain(..consumed);
    }
}

/// CPU seconds (user + system) per thread group of this process: the server's runtime
/// (`http-*`), the SSE clients' (`sse-client`), the main thread (the burst: rules, store,
/// alert engine, feed) and the rest (sled, the store's flusher, reqwest's).
fn cpu_by_group() -> [f64; 4] {
    let mut groups = [0.0; 4];
    let main_tid = std::process::id().to_string();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return groups;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = &stat[open + 1..close];
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        let ticks: f64 =
            fields[11].parse::<f64>().unwrap_or(0.0) + fields[12].parse::<f64>().unwrap_or(0.0);
        let group = if name.starts_with("http-") {
            0
        } else if name.starts_with("sse-client") {
            1
        } else if task.file_name().to_string_lossy() == main_tid {
            2
        } else {
            3
        };
        groups[group] += ticks / 100.0; // USER_HZ
    }
    groups
}

/// Busy CPU seconds of the whole machine so far (`/proc/stat`: everything but idle and
/// iowait), to tell how much of the machine other processes took during the burst.
fn machine_busy_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|t| t.parse().ok())
        .collect();
    let busy: f64 = ticks
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, t)| t)
        .sum();
    busy / 100.0 // USER_HZ
}

/// Raises `rate` alerts a second for `secs` seconds, persisting every 100 ms as the pipeline
/// does, and notes when each batch's write starts; returns the RSS at the end of each second.
fn burst(pipeline: &mut Pipeline, seen: &Deliveries) -> Vec<f64> {
    let started = Instant::now();
    let mut unit = BURST_BASE;
    let mut rss = Vec::new();
    for (batch, written) in seen.writes_ns.iter().enumerate() {
        let due = started + PERSIST_EVERY * batch as u32;
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        let chunk: Vec<Event> = (0..seen.per_batch)
            .map(|_| {
                unit += 1;
                pipeline.alert_event(unit, now_ns())
            })
            .collect();
        pipeline.write(chunk);
        written.store(seen.since_start_ns(), Ordering::Release);
        lock(&pipeline.alerts).persist(now_ns()).expect("persist");
        if (batch as u64 + 1).is_multiple_of(seen.batches_per_sec) {
            rss.push(rss_mib());
        }
    }
    rss
}

/// Serializing one alert as an SSE frame, as `stream_alerts` does for every client.
fn frame_cost(state: &AppState) -> Duration {
    let page = AlertQuery {
        limit: 1,
        ..AlertQuery::default()
    }
    .run(&state.store)
    .expect("query");
    let json = page.alerts[0].to_json();
    let n = 20_000;
    let started = Instant::now();
    for _ in 0..n {
        let _frame = std::hint::black_box(
            axum::response::sse::Event::default()
                .event("alert")
                .json_data(&json)
                .expect("json"),
        );
    }
    started.elapsed() / n
}

fn sse_table(
    state: &AppState,
    pipeline: &mut Pipeline,
    addr: SocketAddr,
    token: &str,
    o: &Options,
) {
    let clients_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("sse-client")
        .enable_all()
        .build()
        .expect("client runtime");
    let per_batch = (o.rate as f64 * PERSIST_EVERY.as_secs_f64())
        .round()
        .max(1.0) as u64;
    let batches = o.secs * (1000 / PERSIST_EVERY.as_millis() as u64);
    let seen = Arc::new(Deliveries::new(o, per_batch, batches));
    let stop = Arc::new(AtomicBool::new(false));
    let url = format!("http://{addr}/api/v1/alerts/stream");
    let tasks: Vec<_> = (0..o.clients)
        .map(|_| {
            clients_rt.spawn(sse_client(
                url.clone(),
                token.to_string(),
                seen.clone(),
                stop.clone(),
            ))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.connected.load(Ordering::Acquire) < o.clients {
        assert!(Instant::now() < deadline, "SSE clients did not connect");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(state.alert_feed.receiver_count(), o.clients);
    std::thread::sleep(Duration::from_millis(500));
    let rss_before = rss_mib();
    let cpu_before = cpu_by_group();
    let machine_before = machine_busy_secs();
    let burst_started = Instant::now();
    let rss = burst(pipeline, &seen);
    let burst_wall = burst_started.elapsed().as_secs_f64();
    let cpu_after = cpu_by_group();
    let machine_busy = machine_busy_secs() - machine_before;
    std::thread::sleep(Duration::from_secs(2)); // the last deliveries
    let rss_after_burst = rss_mib();
    stop.store(true, Ordering::Release);
    clients_rt.block_on(async {
        for task in tasks {
            let _ = task.await;
        }
    });
    drop(clients_rt);
    std::thread::sleep(Duration::from_millis(500));
    let rss_after = rss_mib();

    let alerts = per_batch * batches;
    println!(
        "\nSSE: {} clients, {} alerts/s for {} s ({} alerts, written every {} ms); lag = client read − start of the engine's write",
        o.clients,
        o.rate,
        o.secs,
        alerts,
        PERSIST_EVERY.as_millis()
    );
    println!(
        "{:>6} {:>10} {:>9} {:>9} {:>9} {:>12}",
        "second", "delivered", "p50 ms", "p99 ms", "max ms", "RSS MiB (end)"
    );
    let mut delivered = 0;
    for second in 0..o.secs as usize {
        let (n, p50, p99, max) = seen.second(second);
        delivered += n;
        println!(
            "{:>6} {:>10} {:>9} {:>9} {:>9} {:>12.0}",
            second + 1,
            n,
            ms(p50),
            ms(p99),
            ms(max),
            rss.get(second).copied().unwrap_or_default()
        );
    }
    let expected = alerts * o.clients as u64;
    println!(
        "delivered {} of {} ({} missing), lagged notices: {}",
        delivered,
        expected,
        expected.saturating_sub(delivered),
        seen.lagged.load(Ordering::Relaxed)
    );
    println!(
        "RSS MiB: before {rss_before:.0}, 2 s after the burst {rss_after_burst:.0}, after the clients left {rss_after:.0}"
    );
    let used: Vec<f64> = cpu_before
        .iter()
        .zip(cpu_after)
        .map(|(b, a)| a - b)
        .collect();
    println!(
        "CPU during the {burst_wall:.1} s burst (2 cores = {:.0} CPU-s): server (axum, SSE encoding) {:.2} s, SSE clients {:.2} s, engine+store (burst thread) {:.2} s, other threads {:.2} s",
        2.0 * burst_wall,
        used[0],
        used[1],
        used[2],
        used[3]
    );
    println!(
        "machine busy during the burst: {machine_busy:.2} CPU-s, of which other processes {:.2}",
        machine_busy - used.iter().sum::<f64>()
    );
    let frame = frame_cost(state);
    println!(
        "one alert → JSON text: {:.1} µs, done once per change by the engine (serializing per client instead would cost {:.2} CPU-s/s at {} deliveries/s)",
        frame.as_secs_f64() * 1e6,
        frame.as_secs_f64() * (o.rate * o.clients as u64) as f64,
        o.rate * o.clients as u64
    );
}

fn main() {
    let o = options();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut pipeline = Pipeline::open(dir.path());
    let started = Instant::now();
    pipeline.fill(o.events, o.alerts);
    let open = lock(&pipeline.alerts)
        .active()
        .filter(|a| a.state == AlertState::Open)
        .count();
    assert_eq!(open, o.alerts, "open alerts after the fill");
    println!(
        "store: {} events, {} open alerts, built in {:.1} s; {:.1} MiB of blocks; RSS {:.0} MiB",
        o.events,
        open,
        started.elapsed().as_secs_f64(),
        pipeline.store.stored_block_bytes() as f64 / (1 << 20) as f64,
        rss_mib()
    );

    let accounts = Arc::new(Accounts::new(&pipeline.store).expect("accounts"));
    accounts
        .add_user("bench", Role::Operator, PASSWORD)
        .expect("user");
    let token = accounts.create_token("bench").expect("token");
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("http-server")
        .enable_all()
        .build()
        .expect("server runtime");
    let state = AppState::new(
        pipeline.store.clone(),
        accounts,
        pipeline.rules.clone(),
        pipeline.alerts.clone(),
        pipeline.equipment.clone(),
        Arc::new(AtomicBool::new(true)),
        false,
    )
    .expect("state");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (addr, server) = server_rt
        .block_on(serve(
            "127.0.0.1:0".parse().expect("addr"),
            state.clone(),
            async {
                let _ = stop_rx.await;
            },
        ))
        .expect("serve");

    ttfb_table(&state, addr, &token, &o);
    sse_table(&state, &mut pipeline, addr, &token, &o);

    let _ = stop_tx.send(());
    let _ = server_rt.block_on(server);
}
