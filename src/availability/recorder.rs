//! [`OutageRecorder`]: turns the alert engine's writes into outage records.
//!
//! - `Tap` is one of the engine's [`AlertObserver`]s (beside the notifier's inbox): for every
//!   alert written it works out the alert's unavailable span from its history
//!   ([`outage_span`], cheap, no I/O) and `try_send`s it on a bounded channel; when the
//!   channel is full it raises a flag and the recorder re-reads the alerts instead (a resync),
//!   so the engine never waits and nothing is missed for good.
//! - The recorder thread (`availability`) keeps only alerts whose rule has `availability =
//!   true` (and no overflow alerts: they stand for many hosts), writes them in batches to the
//!   `outages` tree, and remembers the highest alert id it has seen (tree
//!   `availability_meta`), so at start-up it reads only the alerts written since (plus the
//!   engine's active alerts and the alerts behind still-open outages): a restart, or a crash
//!   between an alert's write and its outage's, loses nothing.
//!
//! Writes are idempotent (an outage's key is its alert's id) and an ended outage never opens
//! again (a cleared, archived or deleted alert never becomes active again), so a stale
//! message arriving after a resync cannot undo a newer state.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use rustc_hash::FxHashMap;
use tracing::{error, info, warn};

use super::record::{Origin, Outage, OutageStore, alert_key};
use crate::alerts::{Alert, AlertAction, AlertObserver, AlertState, record_key};
use crate::pipeline::{SharedAlerts, lock};
use crate::rules::reload::ActiveRules;
use crate::store::{RecordTree, Store, StoreError};

/// Alert writes buffered before a resync is needed.
const TAP_CAPACITY: usize = 16_384;
/// How often the recorder wakes to write what it gathered.
const WRITE_EVERY: Duration = Duration::from_millis(200);
/// How often the outage tree is pruned to its bound.
const PRUNE_EVERY: Duration = Duration::from_secs(3_600);
/// Alert records read at most when catching up at start-up or after an overflow.
const MAX_CATCH_UP: usize = 200_000;

/// An alert's unavailable time as its history tells it: `(start, end)`, `end` `None` while
/// it lasts; `None` when the alert never made anything unavailable (suppressed by a
/// maintenance window or an inhibiting parent all its life).
///
/// Unavailable from "raised" (unless suppressed at once) or "reopened" (after its
/// suppression ended) until it "cleared", "expired", or an operator archived or deleted it
/// while active (then nothing will clear it: the person has said it is dealt with). Acks,
/// snoozes and transfers change nothing: the thing is still down.
pub fn outage_span(alert: &Alert) -> Option<(i64, Option<i64>)> {
    let mut start = None;
    for entry in &alert.history {
        match entry.action.as_str() {
            "raised" | "reopened" => {
                start.get_or_insert(entry.at_ns);
            }
            "suppressed" if start == Some(entry.at_ns) => start = None,
            "cleared" | "expired" | "archive" | "delete" => {
                return start.map(|s| (s, Some(entry.at_ns.max(s))));
            }
            _ => {}
        }
    }
    if start.is_none() && alert.state.is_active() && alert.state != AlertState::Suppressed {
        // History cut short (the first line is always kept, so this is a hand-made alert).
        start = Some(alert.first_seen_ns);
    }
    start.map(|s| (s, None))
}

/// What the recorder needs of one written alert.
#[derive(Debug, Clone)]
struct Seen {
    alert_id: u64,
    rule: String,
    key: String,
    host: String,
    start_ns: i64,
    end_ns: Option<i64>,
}

impl Seen {
    fn of(alert: &Alert) -> Option<Seen> {
        let (start_ns, end_ns) = outage_span(alert)?;
        Some(Seen {
            alert_id: alert.id,
            rule: alert.rule.clone(),
            key: alert.key.clone(),
            host: alert.host.clone(),
            start_ns,
            end_ns,
        })
    }

    fn into_outage(self) -> Outage {
        Outage {
            id: alert_key(self.alert_id),
            host: self.host,
            service: self.key,
            start_ns: self.start_ns,
            end_ns: self.end_ns,
            origin: Origin::Alert {
                alert_id: self.alert_id,
                rule: self.rule,
            },
        }
    }
}

/// The engine's observer: hands spans over, never blocks.
struct Tap {
    tx: Sender<Seen>,
    resync: Arc<AtomicBool>,
}

impl AlertObserver for Tap {
    fn written(&self, alert: &Alert) {
        let Some(seen) = Seen::of(alert) else { return };
        if let Err(TrySendError::Full(_)) = self.tx.try_send(seen) {
            self.resync.store(true, Ordering::Release);
        }
    }

    fn acted(&self, _: &Alert, _: &AlertAction, _: &str, _: Option<&str>) {}
}

/// The running recorder; see the module documentation.
pub struct OutageRecorder {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// What the recorder thread works with.
struct Recorder {
    store: Store,
    outages: OutageStore,
    meta: RecordTree,
    rules: ActiveRules,
    alerts: SharedAlerts,
    /// Outages read or written, by alert id: whether each has ended (an ended one is final).
    ended: FxHashMap<u64, bool>,
    synced_alert_id: u64,
}

impl OutageRecorder {
    /// Catches up with the alerts written while trapline was down, attaches the tap to the
    /// engine and starts the recorder thread. Call before the store writer starts.
    pub fn start(
        store: &Store,
        rules: ActiveRules,
        alerts: SharedAlerts,
    ) -> Result<OutageRecorder, StoreError> {
        let (tx, rx) = crossbeam_channel::bounded(TAP_CAPACITY);
        let resync = Arc::new(AtomicBool::new(false));
        let mut recorder = Recorder::open(store, rules, alerts)?;
        lock(&recorder.alerts).add_observer(Arc::new(Tap {
            tx,
            resync: resync.clone(),
        }));
        recorder.catch_up()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("availability".into())
            .spawn(move || recorder.run(rx, resync, flag))
            .expect("availability thread can be spawned");
        Ok(OutageRecorder {
            stop,
            thread: Some(thread),
        })
    }

    /// Writes what is gathered and stops. Call after the store writer has stopped.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            error!("The availability thread panicked.");
        }
    }
}

impl Recorder {
    fn open(
        store: &Store,
        rules: ActiveRules,
        alerts: SharedAlerts,
    ) -> Result<Recorder, StoreError> {
        let outages = OutageStore::open(store)?;
        let meta = store.records("availability_meta")?;
        let synced_alert_id = meta
            .get("synced_alert_id")?
            .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map_or(0, u64::from_be_bytes);
        let ended = outages
            .all()?
            .into_iter()
            .filter_map(|o| match o.origin {
                Origin::Alert { alert_id, .. } => Some((alert_id, o.end_ns.is_some())),
                Origin::Manual { .. } => None,
            })
            .collect();
        Ok(Recorder {
            store: store.clone(),
            outages,
            meta,
            rules,
            alerts,
            ended,
            synced_alert_id,
        })
    }

    fn run(mut self, rx: Receiver<Seen>, resync: Arc<AtomicBool>, stop: Arc<AtomicBool>) {
        let mut last_prune = Instant::now();
        let mut gathered = Vec::new();
        loop {
            let stopping = stop.load(Ordering::Acquire);
            match rx.recv_timeout(WRITE_EVERY) {
                Ok(seen) => gathered.push(seen),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            gathered.extend(rx.try_iter().take(TAP_CAPACITY));
            if let Err(error) = self.record(std::mem::take(&mut gathered)) {
                error!(%error, "Cannot write outages; they are read again from the alerts.");
                resync.store(true, Ordering::Release);
            }
            if resync.swap(false, Ordering::AcqRel) {
                warn!(
                    "Alert changes came faster than outages were written: reading the alerts again."
                );
                if let Err(error) = self.catch_up() {
                    error!(%error, "Cannot read the alerts to catch up; trying again.");
                    resync.store(true, Ordering::Release);
                }
            }
            if last_prune.elapsed() >= PRUNE_EVERY {
                last_prune = Instant::now();
                match self.outages.prune() {
                    Ok(0) => {}
                    Ok(n) => info!(
                        removed = n,
                        "Outages beyond the bound removed (oldest first)."
                    ),
                    Err(error) => warn!(%error, "Cannot prune outages."),
                }
            }
            if stopping && rx.is_empty() {
                break;
            }
        }
    }

    /// Writes the outages of the qualifying alerts in `seen` (one batch, one flush) and
    /// moves the synced alert id forward.
    fn record(&mut self, seen: Vec<Seen>) -> Result<(), StoreError> {
        if seen.is_empty() {
            return Ok(());
        }
        let rules = self.rules.current();
        let highest = seen.iter().map(|s| s.alert_id).max().unwrap_or(0);
        let mut latest: FxHashMap<u64, Seen> = FxHashMap::default();
        for s in seen {
            let known = self.ended.get(&s.alert_id).copied();
            let qualifies = known.is_some()
                || (!s.key.ends_with("|overflow")
                    && rules
                        .position(&s.rule)
                        .is_some_and(|i| rules.rule(i).availability));
            // An ended outage is final: a stale "still open" cannot reopen it.
            if !qualifies || known == Some(true) {
                continue;
            }
            match latest.get(&s.alert_id) {
                Some(kept) if kept.end_ns.is_some() => {}
                _ => {
                    latest.insert(s.alert_id, s);
                }
            }
        }
        let outages: Vec<Outage> = latest.into_values().map(Seen::into_outage).collect();
        self.outages.put_all(&outages)?;
        for o in &outages {
            if let Origin::Alert { alert_id, .. } = o.origin {
                self.ended.insert(alert_id, o.end_ns.is_some());
            }
        }
        if highest > self.synced_alert_id {
            self.synced_alert_id = highest;
            self.meta.put("synced_alert_id", &highest.to_be_bytes())?;
        }
        Ok(())
    }

    /// Reads what the tap may have missed: the engine's active alerts, the alerts behind
    /// open outages, and every alert written after the synced id.
    fn catch_up(&mut self) -> Result<(), StoreError> {
        let mut seen: Vec<Seen> = lock(&self.alerts).active().filter_map(Seen::of).collect();
        let alerts = self.store.records("alerts")?;
        let open: Vec<u64> = self
            .ended
            .iter()
            .filter(|(_, ended)| !**ended)
            .map(|(id, _)| *id)
            .collect();
        for id in open {
            if let Some(alert) = alerts
                .get(&record_key(id))?
                .and_then(|b| serde_json::from_slice::<Alert>(&b).ok())
            {
                seen.extend(Seen::of(&alert));
            }
        }
        for item in alerts.iter_rev(None).take(MAX_CATCH_UP) {
            let (_, bytes) = item?;
            let Ok(alert) = serde_json::from_slice::<Alert>(&bytes) else {
                continue;
            };
            if alert.id <= self.synced_alert_id {
                break;
            }
            seen.extend(Seen::of(&alert));
        }
        self.record(seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::{AlertEngine, EngineOptions, HistoryEntry};
    use crate::event::{Event, EventKind, Transport};
    use crate::rules::{RuleSet, Scratch, load_texts};
    use crate::store::StoreOptions;

    const S: i64 = 1_000_000_000;
    const RULES: &str = r#"
[[rule]]
name = "port-down"
when = 'app == "port" and message =~ "(?P<port>\d+) down"'
key = "{host}/port/{port}"
clear_when = 'app == "port" and message =~ "(?P<port>\d+) up"'
level = "warning"
availability = true

[[rule]]
name = "disk-warning"
when = 'app == "disk"'
level = "warning"
"#;

    fn feed(engine: &mut AlertEngine, rules: &RuleSet, id: u64, at: i64, app: &str, message: &str) {
        let mut e = Event::with_host(
            at * S,
            "192.0.2.1:514".parse().unwrap(),
            Transport::Udp,
            EventKind::Syslog,
            "sw1".into(),
        );
        e.app = Some(app.into());
        e.message = message.into();
        let verdict = rules.qualify(&mut e, &mut Scratch::default());
        e.id = id;
        engine.observe(rules, &e, &verdict);
        engine.persist(at * S).unwrap();
    }

    /// Waits (≤ 5 s) until the outage of alert `id` looks as `expected` wants.
    fn wait_for(
        outages: &OutageStore,
        id: u64,
        expected: impl Fn(Option<&Outage>) -> bool,
    ) -> Option<Outage> {
        for _ in 0..100 {
            let found = outages.get(&alert_key(id)).unwrap();
            if expected(found.as_ref()) {
                return found;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "outage of alert {id} never came right: {:?}",
            outages.get(&alert_key(id))
        );
    }

    #[test]
    fn qualifying_alerts_become_outages_across_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store"), &StoreOptions::default()).unwrap();
        let active = ActiveRules::new(load_texts([("r.toml", RULES)]).unwrap());
        let rules = active.current();
        let engine = Arc::new(std::sync::Mutex::new(
            AlertEngine::open(&store, EngineOptions::default()).unwrap(),
        ));
        let outages = OutageStore::open(&store).unwrap();
        let recorder = OutageRecorder::start(&store, active.clone(), engine.clone()).unwrap();
        feed(&mut lock(&engine), &rules, 1, 100, "port", "port 3 down");
        feed(&mut lock(&engine), &rules, 2, 101, "disk", "disk 91% full");
        let open = wait_for(&outages, 1, |o| o.is_some()).unwrap();
        assert_eq!(
            (open.host.as_str(), open.service.as_str()),
            ("sw1", "sw1/port/3")
        );
        assert_eq!((open.start_ns, open.end_ns), (100 * S, None));
        // The disk alert's rule does not say availability: no outage.
        assert!(outages.get(&alert_key(2)).unwrap().is_none());
        recorder.stop();

        // Cleared while the recorder is not running; a new port goes down and up too.
        feed(&mut lock(&engine), &rules, 3, 160, "port", "port 3 up");
        feed(&mut lock(&engine), &rules, 4, 170, "port", "port 4 down");
        feed(&mut lock(&engine), &rules, 5, 175, "port", "port 4 up");
        let recorder = OutageRecorder::start(&store, active, engine.clone()).unwrap();
        let closed = wait_for(&outages, 1, |o| o.is_some_and(|o| o.end_ns.is_some())).unwrap();
        assert_eq!(closed.end_ns, Some(160 * S));
        let missed = wait_for(&outages, 3, |o| o.is_some()).unwrap();
        assert_eq!((missed.start_ns, missed.end_ns), (170 * S, Some(175 * S)));
        recorder.stop();
    }

    fn alert(history: &[(&str, i64)], state: AlertState) -> Alert {
        let mut alert: Alert = serde_json::from_value(serde_json::json!({
            "id": 1, "key": "r1/if/3", "rule": "snmp-link-down", "state": "open",
            "level": "warning", "category": "network", "host": "r1", "summary": "down",
            "count": 1, "first_seen_ns": 100, "last_seen_ns": 100, "event_ids": [], "history": []
        }))
        .unwrap();
        alert.state = state;
        alert.history = history
            .iter()
            .map(|(action, at)| HistoryEntry {
                at_ns: *at,
                by: "trapline".into(),
                action: action.to_string(),
                detail: None,
            })
            .collect();
        alert
    }

    #[test]
    fn an_alerts_history_gives_its_unavailable_span() {
        use AlertState::*;
        let check = |history: &[(&str, i64)], state, expected| {
            assert_eq!(outage_span(&alert(history, state)), expected, "{history:?}");
        };
        check(&[("raised", 100)], Open, Some((100, None)));
        check(&[("raised", 100), ("ack", 150)], Acked, Some((100, None)));
        check(
            &[("raised", 100), ("cleared", 300)],
            Cleared,
            Some((100, Some(300))),
        );
        check(
            &[("raised", 100), ("expired", 300)],
            Cleared,
            Some((100, Some(300))),
        );
        check(
            &[("raised", 100), ("archive", 250)],
            Archived,
            Some((100, Some(250))),
        );
        // Archiving after the clear does not move the end.
        check(
            &[("raised", 100), ("cleared", 300), ("archive", 900)],
            Archived,
            Some((100, Some(300))),
        );
        // Suppressed by maintenance: not an outage, until it reopens.
        check(&[("raised", 100), ("suppressed", 100)], Suppressed, None);
        check(
            &[("raised", 100), ("suppressed", 100), ("cleared", 200)],
            Cleared,
            None,
        );
        check(
            &[("raised", 100), ("suppressed", 100), ("reopened", 500)],
            Open,
            Some((500, None)),
        );
        check(
            &[
                ("raised", 100),
                ("suppressed", 100),
                ("reopened", 500),
                ("cleared", 700),
            ],
            Cleared,
            Some((500, Some(700))),
        );
    }
}
