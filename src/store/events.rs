//! Writing events: the single [`EventWriter`], its group-commit flusher, and [`run_writer`].
//!
//! The writer assigns ids and encodes each event straight into the open block (no copies),
//! seals the block when it holds `block_events` events or is older than `block_max_age`, and
//! writes summary, index entries and block to sled. It never waits for the disk: a flusher
//! thread calls `db.flush()` at most every `flush_interval` while sealed blocks are waiting,
//! and only when a flush has returned are those blocks' events acknowledged — counted in
//! `trapline_events_stored_total` and observed in `trapline_ingest_latency_seconds` — because
//! "stored" means durable. `close` does the same synchronously for a graceful stop.
//!
//! This module does not read events back (see `query`) and does not delete them (`retention`).

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracing::{error, warn};

use super::codec::{BlockEncoder, SummaryBuilder};
use super::{META_NEXT_ID, Store, StoreError};
use crate::event::{Event, EventKind, Level, now_ns};
use crate::ingest::{IngestReceiver, Polled};
use crate::metrics::metrics;

const N_LEVELS: usize = Level::ALL.len();
const N_KINDS: usize = EventKind::ALL.len();

/// Appends events to the store; there is exactly one, owned by the store writer thread.
///
/// Durability is asynchronous: after `append` returns, the events are visible to queries once
/// their block is sealed, and durable (and counted as stored) after the next group flush.
pub struct EventWriter {
    store: Store,
    next_id: u64,
    encoder: Option<BlockEncoder>,
    summary: SummaryBuilder,
    acks: BlockAcks,
    opened_at: Instant,
    flusher: Flusher,
}

/// What to acknowledge for one block once it is durable.
#[derive(Default)]
struct BlockAcks {
    last_id: u64,
    counts: [[u64; N_LEVELS]; N_KINDS],
    received_at_ns: Vec<i64>,
}

impl BlockAcks {
    fn push(&mut self, e: &Event) {
        self.last_id = e.id;
        self.counts[e.kind.code() as usize][e.level.code() as usize] += 1;
        self.received_at_ns.push(e.received_at_ns);
    }

    fn len(&self) -> usize {
        self.received_at_ns.len()
    }

    /// Counts the block's events as stored and observes their latency.
    fn acknowledge(&self, now_ns: i64) {
        let m = metrics();
        for kind in EventKind::ALL {
            for level in Level::ALL {
                let n = self.counts[kind.code() as usize][level.code() as usize];
                if n > 0 {
                    m.events_stored
                        .with_label_values(&[kind.as_str(), level.as_str()])
                        .inc_by(n);
                }
            }
        }
        for rx in &self.received_at_ns {
            m.ingest_latency
                .observe(now_ns.saturating_sub(*rx).max(0) as f64 / 1e9);
        }
    }
}

impl EventWriter {
    pub(super) fn new(store: Store) -> EventWriter {
        let encoder = match BlockEncoder::new() {
            Ok(encoder) => Some(encoder),
            Err(error) => {
                error!(%error, "Cannot create the block compressor; events will be dropped.");
                None
            }
        };
        let flusher = Flusher::start(store.clone());
        EventWriter {
            next_id: store.inner.next_id.load(Ordering::Acquire),
            store,
            encoder,
            summary: SummaryBuilder::default(),
            acks: BlockAcks::default(),
            opened_at: Instant::now(),
            flusher,
        }
    }

    /// Assigns each event its id (strictly increasing) and adds it to the open block, sealing
    /// full blocks as it goes.
    ///
    /// On `Err` the caller counts this call's events as dropped (`reason="store_error"`); events
    /// of earlier calls that were lost in the same block are counted here. (When a call spans a
    /// block that was written and one that failed, the caller's count is an over-count.)
    pub fn append(&mut self, events: &mut [Event]) -> Result<(), StoreError> {
        let mut first_error = None;
        let mut from_this_call = 0usize;
        for event in events.iter_mut() {
            event.id = self.next_id;
            self.next_id += 1;
            self.push(event);
            from_this_call += 1;
            if self.open_len() >= self.store.inner.options.block_events.max(1) {
                let n = self.acks.len();
                if let Err(error) = self.seal_inner(n - from_this_call.min(n)) {
                    first_error.get_or_insert(error);
                }
                from_this_call = 0;
            }
        }
        self.store
            .inner
            .next_id
            .store(self.next_id, Ordering::Release);
        match first_error {
            None => Ok(()),
            Some(error) => {
                // The caller drops this call's events still in the open block too: discard them
                // so the count matches what was lost.
                if from_this_call > 0 {
                    self.discard_open();
                }
                Err(error)
            }
        }
    }

    /// Seals the open block if it is older than `block_max_age`. Call it regularly (the writer
    /// loop does, between chunks); failures are logged and counted here.
    pub fn tick(&mut self) {
        if self.open_len() > 0 && self.opened_at.elapsed() >= self.store.inner.options.block_max_age
        {
            let n = self.acks.len();
            if let Err(error) = self.seal_inner(n) {
                error!(%error, "Could not write an event block.");
            }
        }
    }

    /// Seals the open block and waits until everything appended is durable and acknowledged.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        let n = self.acks.len();
        self.seal_inner(n)?;
        self.flusher.flush_now()
    }

    /// Graceful stop: seals, flushes and acknowledges everything, and stops the flusher.
    pub fn close(mut self) -> Result<(), StoreError> {
        let n = self.acks.len();
        let sealed = self.seal_inner(n);
        self.flusher.stop();
        let flushed = self.flusher.flush_now();
        sealed.and(flushed)
    }

    /// The highest id known to be durable (0 when none yet).
    pub fn durable_id(&self) -> u64 {
        self.flusher.shared.lock().durable_id
    }

    fn open_len(&self) -> usize {
        self.acks.len()
    }

    fn push(&mut self, event: &Event) {
        if self.acks.len() == 0 {
            self.opened_at = Instant::now();
        }
        if let Some(encoder) = &mut self.encoder {
            encoder.push(event);
        }
        self.summary.push(event);
        self.acks.push(event);
    }

    fn discard_open(&mut self) {
        if let Some(encoder) = &mut self.encoder {
            let _ = encoder.finish();
        }
        self.summary = SummaryBuilder::default();
        self.acks = BlockAcks::default();
    }

    /// Writes the open block. On failure the block is discarded and `counted_here` of its
    /// events (those the caller will not count) are counted as dropped.
    fn seal_inner(&mut self, counted_here: usize) -> Result<(), StoreError> {
        if self.acks.len() == 0 {
            return Ok(());
        }
        let acks = std::mem::take(&mut self.acks);
        let result = self.write_open_block();
        match result {
            Ok(()) => {
                metrics().store_blocks_written.inc();
                self.flusher.push(acks);
                Ok(())
            }
            Err(error) => {
                metrics()
                    .events_dropped
                    .with_label_values(&["store_error"])
                    .inc_by(counted_here as u64);
                Err(error)
            }
        }
    }

    fn write_open_block(&mut self) -> Result<(), StoreError> {
        let encoder = self
            .encoder
            .as_mut()
            .ok_or_else(|| StoreError::Codec("no block compressor".into()))?;
        let value = encoder.finish();
        let (summary, hosts) = self
            .summary
            .finish(value.as_ref().map_or(0, |v| v.len() as u64));
        let value = value?;
        let inner = &self.store.inner;
        let key = summary.first_id;
        // Summary and index first: a block is never visible without them (see `reconcile`).
        inner.write_block_entries(key, &summary, &hosts)?;
        inner.blocks.insert(key.to_be_bytes(), value)?;
        inner
            .meta
            .insert(META_NEXT_ID, &self.next_id.to_be_bytes())?;
        inner
            .event_count
            .fetch_add(summary.count, Ordering::Relaxed);
        inner
            .block_bytes
            .fetch_add(summary.stored_bytes, Ordering::Relaxed);
        Ok(())
    }
}

impl Drop for EventWriter {
    /// A writer dropped without `close` still stops its flusher; unflushed blocks are flushed by
    /// sled's own timer, and are not counted as stored.
    fn drop(&mut self) {
        self.flusher.stop();
        self.store
            .inner
            .writer_taken
            .store(false, Ordering::Release);
    }
}

/// The group-commit flusher thread and the queue of sealed, not yet durable blocks.
struct Flusher {
    store: Store,
    shared: Arc<FlushShared>,
    thread: Option<JoinHandle<()>>,
}

struct FlushShared {
    state: Mutex<FlushState>,
    wake: Condvar,
}

#[derive(Default)]
struct FlushState {
    pending: VecDeque<BlockAcks>,
    durable_id: u64,
    stop: bool,
}

impl FlushShared {
    /// The state, even if a thread panicked while holding it (it holds only plain data).
    fn lock(&self) -> MutexGuard<'_, FlushState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Flusher {
    fn start(store: Store) -> Flusher {
        let shared = Arc::new(FlushShared {
            state: Mutex::default(),
            wake: Condvar::new(),
        });
        let for_thread = shared.clone();
        let store_for_sync = store.clone();
        let thread = std::thread::Builder::new()
            .name("store-flusher".into())
            .spawn(move || flush_loop(&store, &for_thread))
            .map_err(
                |error| error!(%error, "Cannot start the store flusher; flushing on close only."),
            )
            .ok();
        Flusher {
            store: store_for_sync,
            shared,
            thread,
        }
    }

    fn push(&self, acks: BlockAcks) {
        self.shared.lock().pending.push_back(acks);
        self.shared.wake.notify_one();
    }

    fn stop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    /// Flushes and acknowledges everything pending, on the caller's thread.
    fn flush_now(&self) -> Result<(), StoreError> {
        flush_once(&self.store, &self.shared)
    }
}

/// One group commit: note the newest sealed block, flush, then acknowledge up to that block.
fn flush_once(store: &Store, shared: &FlushShared) -> Result<(), StoreError> {
    let Some(watermark) = shared.lock().pending.back().map(|b| b.last_id) else {
        return Ok(());
    };
    let started = Instant::now();
    store.inner.db.flush()?;
    let m = metrics();
    m.store_flushes.inc();
    m.store_flush_seconds
        .observe(started.elapsed().as_secs_f64());
    let done: Vec<BlockAcks> = {
        let mut state = shared.lock();
        let n = state
            .pending
            .iter()
            .take_while(|b| b.last_id <= watermark)
            .count();
        state.durable_id = state.durable_id.max(watermark);
        state.pending.drain(..n).collect()
    };
    let now = now_ns();
    for block in &done {
        block.acknowledge(now);
    }
    Ok(())
}

fn flush_loop(store: &Store, shared: &FlushShared) {
    let interval = store.inner.options.flush_interval;
    let mut last_flush = Instant::now();
    loop {
        {
            let mut state = shared.lock();
            loop {
                if state.stop {
                    return;
                }
                let due = last_flush + interval;
                let now = Instant::now();
                if !state.pending.is_empty() && now >= due {
                    break;
                }
                let wait = if state.pending.is_empty() {
                    Duration::from_secs(3600)
                } else {
                    due - now
                };
                state = shared
                    .wake
                    .wait_timeout(state, wait)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
        }
        last_flush = Instant::now();
        if let Err(error) = flush_once(store, shared) {
            warn!(%error, "Store flush failed; retrying at the next interval.");
        }
    }
}

/// Work done on the writer thread around storing each chunk: the rules (which may change
/// levels and drop events) before, the alerts (which need the assigned ids) after.
pub trait ChunkStage {
    /// Called before the chunk is stored; may change or remove events.
    fn before_store(&mut self, events: &mut Vec<Event>);
    /// Called once the chunk's events have their ids (and are in the open block).
    fn after_store(&mut self, events: &[Event]);
    /// Called about every `block_max_age / 4` (at least every 50 ms), with or without traffic.
    fn tick(&mut self);
    /// Called for a checkpoint (a backup is starting): write now what is kept in memory and
    /// would otherwise be written later, without changing the usual cadence afterwards.
    fn checkpoint(&mut self) {}
    /// Called once after the last chunk, before the store is closed.
    fn close(&mut self);
}

/// No stage: events are stored as they come.
pub struct StoreOnly;

impl ChunkStage for StoreOnly {
    fn before_store(&mut self, _: &mut Vec<Event>) {}
    fn after_store(&mut self, _: &[Event]) {}
    fn tick(&mut self) {}
    fn close(&mut self) {}
}

/// Drives an [`EventWriter`] from the ingest queue until every sender is gone, then closes it.
/// Failures are logged and the events counted as dropped (`reason="store_error"`); never panics.
pub fn run_writer(store: Store, rx: IngestReceiver) {
    run_writer_with(store, rx, &mut StoreOnly);
}

/// [`run_writer`] with a stage around each chunk (see [`ChunkStage`]).
pub fn run_writer_with(store: Store, mut rx: IngestReceiver, stage: &mut dyn ChunkStage) {
    // The writer polls instead of blocking on the queue: a blocked receiver would be woken (a
    // futex syscall and a context switch) by every chunk a listener sends, which cost more CPU
    // than the work itself at a few hundred thousand messages per second. Polling every
    // `POLL_BUSY` while traffic flows adds at most that much latency; after `BUSY_FOR` without
    // a chunk it polls every `POLL_IDLE`, so an idle appliance is really idle.
    const POLL_BUSY: Duration = Duration::from_millis(2);
    const POLL_IDLE: Duration = Duration::from_millis(25);
    const BUSY_FOR: Duration = Duration::from_millis(200);
    let tick = (store.inner.options.block_max_age / 4)
        .clamp(Duration::from_millis(1), Duration::from_millis(50));
    let mut writer = store.writer();
    let mut last_tick = std::time::Instant::now();
    let mut last_chunk = std::time::Instant::now();
    store.serve_checkpoints(true);
    loop {
        if store.checkpoint_wanted() {
            stage.checkpoint();
            let synced = writer.sync().map(|()| writer.next_id);
            store.answer_checkpoints(synced);
        }
        let idle = match rx.poll() {
            Polled::Chunk(mut chunk) => {
                stage.before_store(&mut chunk.events);
                match writer.append(&mut chunk.events) {
                    Ok(()) => stage.after_store(&chunk.events),
                    Err(error) => {
                        error!(%error, events = chunk.events.len(), "Could not store events.");
                        metrics()
                            .events_dropped
                            .with_label_values(&["store_error"])
                            .inc_by(chunk.events.len() as u64);
                    }
                }
                last_chunk = std::time::Instant::now();
                false
            }
            Polled::Empty => true,
            Polled::Closed => break,
        };
        if last_tick.elapsed() >= tick {
            writer.tick();
            stage.tick();
            last_tick = std::time::Instant::now();
        }
        if idle {
            let busy = last_chunk.elapsed() < BUSY_FOR;
            std::thread::sleep(if busy { POLL_BUSY } else { POLL_IDLE });
        }
    }
    stage.close();
    if let Err(error) = writer.close() {
        error!(%error, "Could not flush the store while stopping.");
    }
    store.serve_checkpoints(false);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SourceTable;
    use crate::normalize::{LevelTable, Normalizer};
    use crate::store::StoreOptions;
    use crate::store::tests::{all, options, synthetic};

    fn stored(kind: EventKind, level: Level) -> u64 {
        metrics()
            .events_stored
            .with_label_values(&[kind.as_str(), level.as_str()])
            .get()
    }

    #[test]
    fn events_count_as_stored_only_after_the_flush() {
        let dir = tempfile::tempdir().unwrap();
        let opts = StoreOptions {
            flush_interval: Duration::from_secs(3600),
            ..options(10)
        };
        let store = Store::open(dir.path(), &opts).unwrap();
        let mut writer = store.writer();
        // trap + low is used by no other test, so the counter is ours alone.
        let before = stored(EventKind::Trap, Level::Low);
        let mut events: Vec<Event> = (0..25)
            .map(|i| {
                let mut e = synthetic(i, now_ns());
                (e.kind, e.level) = (EventKind::Trap, Level::Low);
                e
            })
            .collect();
        writer.append(&mut events).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(all(&store).len(), 20, "two sealed blocks are visible");
        assert_eq!(
            stored(EventKind::Trap, Level::Low),
            before,
            "nothing counted before the flush"
        );
        assert_eq!(writer.durable_id(), 0);
        writer.sync().unwrap();
        assert_eq!(stored(EventKind::Trap, Level::Low), before + 25);
        assert_eq!(writer.durable_id(), 25);
        writer.close().unwrap();
        assert_eq!(
            stored(EventKind::Trap, Level::Low),
            before + 25,
            "each event is counted once"
        );
    }

    #[test]
    fn background_flusher_acknowledges_without_sync() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &options(10)).unwrap();
        let mut writer = store.writer();
        writer
            .append(&mut (0..30).map(|i| synthetic(i, now_ns())).collect::<Vec<_>>())
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while writer.durable_id() < 30 {
            assert!(Instant::now() < deadline, "flusher did not run");
            std::thread::sleep(Duration::from_millis(2));
        }
        writer.close().unwrap();
    }

    #[test]
    fn tick_seals_only_blocks_older_than_max_age() {
        let dir = tempfile::tempdir().unwrap();
        let opts = StoreOptions {
            block_max_age: Duration::from_millis(30),
            ..options(1000)
        };
        let store = Store::open(dir.path(), &opts).unwrap();
        let mut writer = store.writer();
        writer
            .append(&mut (0..5).map(|i| synthetic(i, i as i64)).collect::<Vec<_>>())
            .unwrap();
        writer.tick();
        assert!(all(&store).is_empty(), "a young block stays open");
        std::thread::sleep(Duration::from_millis(40));
        writer.tick();
        assert_eq!(all(&store).len(), 5);
        writer.close().unwrap();
    }

    #[test]
    fn run_writer_stores_everything_queued_then_closes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &options(64)).unwrap();
        let normalizer = Normalizer::new(SourceTable::new(Vec::new()), LevelTable::default());
        let (ingest, receiver) = crate::ingest::channel(normalizer, 100_000);
        let thread = {
            let store = store.clone();
            std::thread::spawn(move || run_writer(store, receiver))
        };
        for c in 0..20u64 {
            ingest
                .try_submit((0..50).map(|i| synthetic(c * 50 + i, now_ns())).collect())
                .unwrap();
        }
        drop(ingest);
        thread.join().unwrap();
        let ids: Vec<u64> = all(&store).iter().map(|e| e.id).collect();
        assert_eq!(ids, (1..=1000).rev().collect::<Vec<_>>());
        // The writer is released: a new one continues the ids.
        let mut writer = store.writer();
        let mut one = vec![synthetic(0, 0)];
        writer.append(&mut one).unwrap();
        assert_eq!(one[0].id, 1001);
        writer.close().unwrap();
    }
}
