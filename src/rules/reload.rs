//! The rules in force, and replacing them atomically.
//!
//! [`ActiveRules`] is what the pipeline reads for every chunk: a pointer swap makes a new set
//! visible at once, so a chunk is always evaluated by one whole rule set. The [`Reloader`]
//! thread loads the rules directory again on SIGHUP and whenever a file in it changes (checked
//! every second by name, size and modification time — no inotify, so it also works on network
//! and overlay file systems). A set that does not compile is refused: its errors are logged and
//! counted in `trapline_rules_reload_total{outcome="error"}`, and the previous set stays.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use tracing::{error, info};

use super::{LoadContext, RuleSet, load_dir_with};
use crate::metrics::metrics;

/// The rule set in force; cheap to clone and to read.
#[derive(Clone)]
pub struct ActiveRules {
    current: Arc<RwLock<Arc<RuleSet>>>,
}

impl ActiveRules {
    pub fn new(rules: RuleSet) -> ActiveRules {
        ActiveRules {
            current: Arc::new(RwLock::new(Arc::new(rules))),
        }
    }

    /// The set in force now (keeps it alive while the caller uses it).
    pub fn current(&self) -> Arc<RuleSet> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn replace(&self, rules: RuleSet) {
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(rules);
    }
}

/// Loads `dir` (names checked against `context`) and, if it compiles, puts it in force; logs
/// and counts the outcome.
pub fn reload(dir: &Path, context: &LoadContext, active: &ActiveRules) -> bool {
    let outcome = match load_dir_with(dir, context) {
        Ok(rules) => {
            info!(dir = %dir.display(), rules = rules.rules().len(), "Rules reloaded.");
            active.replace(rules);
            true
        }
        Err(errors) => {
            for e in &errors {
                error!("{e}");
            }
            error!(dir = %dir.display(), errors = errors.len(), "Rules refused; the previous rules stay in force.");
            false
        }
    };
    metrics()
        .rules_reload
        .with_label_values(&[if outcome { "success" } else { "error" }])
        .inc();
    outcome
}

/// Name, size and modification time of every file of the directory: a change means reload.
fn fingerprint(dir: &Path) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let meta = entry.metadata().ok()?;
            Some((entry.path(), meta.len(), meta.modified().ok()))
        })
        .collect();
    files.sort();
    files
}

/// The background thread that watches the rules directory.
pub struct Reloader {
    requested: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Reloader {
    /// Starts watching `dir` (polling every `interval`); `context` is what the configuration
    /// defines for the rules to name (it does not change while trapline runs).
    pub fn spawn(
        dir: PathBuf,
        context: LoadContext,
        active: ActiveRules,
        interval: Duration,
    ) -> Reloader {
        let requested = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (req, halt) = (requested.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("rules-reload".into())
            .spawn(move || {
                let mut seen = fingerprint(&dir);
                let step = Duration::from_millis(50);
                let mut waited = Duration::ZERO;
                while !halt.load(Ordering::Acquire) {
                    std::thread::sleep(step);
                    waited += step;
                    let asked = req.swap(false, Ordering::AcqRel);
                    if !asked && waited < interval {
                        continue;
                    }
                    waited = Duration::ZERO;
                    let now = fingerprint(&dir);
                    if asked || now != seen {
                        // Let an editor finish writing before reading.
                        if !asked {
                            std::thread::sleep(Duration::from_millis(100));
                        }
                        seen = fingerprint(&dir);
                        reload(&dir, &context, &active);
                    }
                }
            })
            .expect("rules reload thread can be spawned");
        Reloader {
            requested,
            stop,
            thread: Some(thread),
        }
    }

    /// Asks for a reload now (SIGHUP).
    pub fn request(&self) {
        self.requested.store(true, Ordering::Release);
    }

    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
