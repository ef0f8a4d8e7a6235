//! The rules, alerts and equipment stage of the store writer thread.
//!
//! Each chunk from the ingest queue goes: rules ([`RuleSet::qualify`]: level, category, drop)
//! → store (ids assigned) → alerts ([`AlertEngine::observe`]) → equipment
//! ([`Equipment::observe`]: the hosts' sightings). Doing this on the single writer
//! thread keeps events and alerts in one order without locks on the hot path: the engine's mutex
//! is taken once per chunk, and the web layer only takes it for operator actions. The rule set is
//! fetched once per chunk, so a reload never splits a chunk between two sets.
//!
//! Forwarding happens in the rules step, before events the rules drop are removed (a rule can
//! relay what it keeps out of the store): the [`Forwarder`] formats the selected events and
//! appends them to the forwards' disk queues, once per chunk — never a socket on this thread.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tracing::error;

use crate::alerts::AlertEngine;
use crate::equipment::Equipment;
use crate::event::{Event, now_ns};
use crate::forward::Forwarder;
use crate::rules::reload::ActiveRules;
use crate::rules::{Scratch, Verdict};
use crate::store::ChunkStage;

/// The engine shared between the pipeline thread and the web layer.
pub type SharedAlerts = Arc<Mutex<AlertEngine>>;

/// Locks the engine, recovering from a panic elsewhere (its state stays usable).
pub fn lock(alerts: &SharedAlerts) -> MutexGuard<'_, AlertEngine> {
    alerts
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Rules before storing, alerts and equipment after (see the module documentation).
pub struct RuleStage {
    rules: ActiveRules,
    alerts: SharedAlerts,
    equipment: Equipment,
    forwarder: Forwarder,
    scratch: Scratch,
    verdicts: Vec<Verdict>,
    current: Option<Arc<crate::rules::RuleSet>>,
    last_tick: Instant,
    last_persist: Instant,
}

/// How often expectations, expiry and ended maintenance windows are looked at.
const TICK_EVERY: Duration = Duration::from_millis(250);
/// How often changed alerts are written (one batch and one flush each time): an alert shows
/// in the API at most this long after the event that raised it was stored.
const PERSIST_EVERY: Duration = Duration::from_millis(100);

impl RuleStage {
    pub fn new(rules: ActiveRules, alerts: SharedAlerts, equipment: Equipment) -> RuleStage {
        RuleStage {
            rules,
            alerts,
            equipment,
            forwarder: Forwarder::none(),
            scratch: Scratch::default(),
            verdicts: Vec::new(),
            current: None,
            last_tick: Instant::now(),
            last_persist: Instant::now(),
        }
    }

    /// Relays the events rules select (`forward = [...]`) through `forwarder`.
    pub fn with_forwarder(mut self, forwarder: Forwarder) -> RuleStage {
        self.forwarder = forwarder;
        self
    }
}

impl ChunkStage for RuleStage {
    fn before_store(&mut self, events: &mut Vec<Event>) {
        let rules = self.rules.current();
        self.verdicts.clear();
        let mut any_dropped = false;
        for event in events.iter_mut() {
            let verdict = rules.qualify(event, &mut self.scratch);
            if !verdict.forward.is_empty() {
                self.forwarder.stage(event, verdict.forward);
            }
            any_dropped |= verdict.drop;
            self.verdicts.push(verdict);
        }
        if !self.forwarder.is_empty() {
            self.forwarder.commit();
        }
        if any_dropped {
            let mut verdicts = self.verdicts.iter();
            events.retain(|_| verdicts.next().is_some_and(|v| !v.drop));
            self.verdicts.retain(|v| !v.drop);
        }
        self.current = Some(rules);
    }

    fn after_store(&mut self, events: &[Event]) {
        let Some(rules) = self.current.take() else {
            return;
        };
        {
            let mut engine = lock(&self.alerts);
            for (event, verdict) in events.iter().zip(&self.verdicts) {
                engine.observe(&rules, event, verdict);
            }
        }
        // After the engine's lock is released: the web layer never holds both either.
        self.equipment.observe(events);
    }

    fn tick(&mut self) {
        let timed_work = self.last_tick.elapsed() >= TICK_EVERY;
        if !timed_work && self.last_persist.elapsed() < PERSIST_EVERY {
            return;
        }
        let now = now_ns();
        let mut engine = lock(&self.alerts);
        if timed_work {
            self.last_tick = Instant::now();
            engine.tick(&self.rules.current(), now);
        }
        self.last_persist = Instant::now();
        if let Err(error) = engine.persist(now) {
            error!(%error, "Could not write alerts.");
        }
        drop(engine);
        // At most once a second (the inventory keeps its own cadence).
        if let Err(error) = self.equipment.persist_if_due(now) {
            error!(%error, "Could not write the equipment inventory.");
        }
    }

    fn checkpoint(&mut self) {
        if let Err(error) = lock(&self.alerts).persist_now(now_ns()) {
            error!(%error, "Could not write alerts for a checkpoint.");
        }
        if let Err(error) = self.equipment.persist_all() {
            error!(%error, "Could not write the equipment inventory for a checkpoint.");
        }
    }

    fn close(&mut self) {
        if let Err(error) = lock(&self.alerts).persist_all() {
            error!(%error, "Could not write alerts while stopping.");
        }
        if let Err(error) = self.equipment.persist_all() {
            error!(%error, "Could not write the equipment inventory while stopping.");
        }
    }
}
