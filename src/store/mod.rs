//! The event store: the only module that knows sled.
//!
//! Events are kept in compressed blocks of up to `block_events` events (or `block_max_age` of
//! traffic), the design measured in `notes/block-store.md`. The trees of one sled database:
//!
//! - `blocks`: first event id (u64 BE) → block value (see [`codec`]);
//! - `block_dir`: same key → a small summary (counts per level and kind, id and time bounds,
//!   hosts), so queries and retention can skip blocks without decompressing them;
//! - `idx_host` (`host \0 key`), `idx_level` (`level key`), `idx_kind` (`kind key`) → (), so a
//!   query by host, level or kind walks only the blocks that hold a match;
//! - `meta`: the next event id, kept so ids never go back even when retention empties the store;
//! - `rec/NAME`: small durable records for the rest of the app ([`RecordTree`]);
//! - `forward/NAME`: a forward's queue of messages for its upstream ([`DiskQueue`]).
//!
//! Entry points: [`Store::open`] (takes the `LOCK` file, classifies a corrupt store),
//! [`Store::writer`] → [`EventWriter`] (the single writer thread, group-commit flushing),
//! [`Store::query_events`] / [`Store::get_event`], [`Store::apply_retention`] and
//! [`Store::records`].
//!
//! Invariants: ids are strictly increasing, also across restarts; a block's summary and index
//! entries are written before the block (reconciled at open); `trapline_events_stored_total`
//! counts an event only after the flush that made it durable. This module does not parse, does
//! not decide levels, and hands no sled type to its callers.

pub mod backup;
mod checkpoint;
mod codec;
mod compact;
mod events;
mod lock;
mod query;
mod queue;
mod records;
mod retention;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tracing::{info, warn};

pub use compact::CompactReport;
pub use events::{ChunkStage, EventWriter, StoreOnly, run_writer, run_writer_with};
pub use query::{EventPage, EventQuery};
pub use queue::{Appended, DiskQueue};
pub use records::RecordTree;
pub use retention::RetentionReport;

use codec::BlockSummary;
use lock::LockFile;

/// How the store sizes its blocks, cache and flushes (from `[ingest]` in the config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// sled page cache; capped because sled's default (1 GiB) makes RSS grow with the database.
    pub cache_bytes: u64,
    /// Events per block: ~1024 measured best between write cost and sparse-host query cost.
    pub block_events: usize,
    /// A block younger than this waits for more events; older ones are sealed by `tick`.
    pub block_max_age: Duration,
    /// Least time between two group-commit flushes.
    pub flush_interval: Duration,
}

impl Default for StoreOptions {
    /// The measured recommendation: 64 MB cache, 1024 events or 100 ms per block, 50 ms flushes.
    fn default() -> StoreOptions {
        StoreOptions {
            cache_bytes: 64 << 20,
            block_events: 1024,
            block_max_age: Duration::from_millis(100),
            flush_interval: Duration::from_millis(50),
        }
    }
}

/// What can go wrong in the store, separated by what an operator has to do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process (or another `Store` in this one) has the directory open.
    #[error("store {} is locked by another process ({holder})", path.display())]
    Locked { path: PathBuf, holder: String },
    /// sled found damaged data when opening: restore a backup or move the store aside.
    #[error("store {} is corrupt: {detail}", path.display())]
    Corrupt { path: PathBuf, detail: String },
    /// The file system failed (permissions, disk full, …) on `path`.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// sled failed after open (I/O while running, or a bug).
    #[error("store: {0}")]
    Sled(#[from] sled::Error),
    /// A block could not be encoded or compressed.
    #[error("store encoding: {0}")]
    Codec(String),
    /// A record tree name outside `[a-z0-9_]+`.
    #[error("invalid record tree name {0:?} (use a-z, 0-9 and _)")]
    BadName(String),
    /// The writer thread could not make its pending events durable for a checkpoint.
    #[error("checkpoint failed: {0}")]
    Checkpoint(String),
    /// A queue name outside `[A-Za-z0-9_.-]+`.
    #[error("invalid queue name {0:?} (use A-Z, a-z, 0-9, '_', '-' and '.')")]
    BadQueueName(String),
}

impl From<codec::CodecError> for StoreError {
    fn from(e: codec::CodecError) -> StoreError {
        StoreError::Codec(e.0)
    }
}

/// An exclusive hold on a store directory, released when dropped ([`Store::lock_dir`]).
#[derive(Debug)]
pub struct StoreLock {
    _lock: LockFile,
}

/// A handle to an open store; cheap to clone and shared by the writer, queries and retention.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    db: sled::Db,
    blocks: sled::Tree,
    block_dir: sled::Tree,
    idx_host: sled::Tree,
    idx_level: sled::Tree,
    idx_kind: sled::Tree,
    meta: sled::Tree,
    options: StoreOptions,
    /// Events in all stored blocks (kept from the summaries; retention subtracts).
    event_count: AtomicU64,
    /// Sum of stored block value lengths, what size-based retention compares with `max_bytes`.
    block_bytes: AtomicU64,
    /// The next id to hand out: recovered at open, advanced by the writer.
    next_id: AtomicU64,
    writer_taken: AtomicBool,
    /// Requests to the writer loop to make everything durable (backups).
    checkpoints: checkpoint::Checkpoints,
    /// Held by whatever deletes or copies whole blocks (retention, a backup's event trees),
    /// so a backup never copies half of a retention pass.
    block_maintenance: std::sync::Mutex<()>,
    /// Declared last so it is released after sled has closed its files.
    _lock: LockFile,
}

const META_NEXT_ID: &[u8] = b"next_id";

impl Store {
    /// Opens (or creates) the store in `dir`, refusing a directory another process holds and
    /// reporting on-disk damage as [`StoreError::Corrupt`] rather than panicking.
    pub fn open(dir: &Path, options: &StoreOptions) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let lock = LockFile::acquire(&dir.join("LOCK"))?;
        let db = open_sled(dir, options)?;
        let tree = |name: &str| db.open_tree(name).map_err(|e| classify_open_error(dir, e));
        let mut inner = Inner {
            dir: dir.to_path_buf(),
            blocks: tree("blocks")?,
            block_dir: tree("block_dir")?,
            idx_host: tree("idx_host")?,
            idx_level: tree("idx_level")?,
            idx_kind: tree("idx_kind")?,
            meta: tree("meta")?,
            db,
            options: options.clone(),
            event_count: AtomicU64::new(0),
            block_bytes: AtomicU64::new(0),
            next_id: AtomicU64::new(1),
            writer_taken: AtomicBool::new(false),
            checkpoints: Default::default(),
            block_maintenance: Default::default(),
            _lock: lock,
        };
        match inner.db.size_on_disk() {
            Ok(size) => crate::metrics::metrics()
                .store_size_bytes
                .set(i64::try_from(size).unwrap_or(i64::MAX)),
            Err(error) => warn!(%error, "Cannot read the store size."),
        }
        inner.reconcile().map_err(|e| match e {
            StoreError::Sled(e) => classify_open_error(dir, e),
            other => other,
        })?;
        info!(
            store = %dir.display(),
            events = inner.event_count.load(Ordering::Relaxed),
            next_id = inner.next_id.load(Ordering::Relaxed),
            "Opened the event store."
        );
        Ok(Store {
            inner: Arc::new(inner),
        })
    }

    /// Renames a (corrupt) store directory to `DIR.corrupt-<unix seconds>` so the app can start
    /// empty and the damaged data stays available for inspection. Refuses a store in use.
    pub fn move_aside(dir: &Path) -> Result<PathBuf, StoreError> {
        if let Some(holder) = LockFile::is_held(&dir.join("LOCK"))? {
            return Err(StoreError::Locked {
                path: dir.join("LOCK"),
                holder,
            });
        }
        let secs = crate::event::now_ns() / 1_000_000_000;
        let mut name = dir.as_os_str().to_owned();
        name.push(format!(".corrupt-{secs}"));
        let target = PathBuf::from(name);
        std::fs::rename(dir, &target).map_err(|source| StoreError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        warn!(from = %dir.display(), to = %target.display(), "Moved the store aside.");
        Ok(target)
    }

    /// Holds the lock of the store in `dir` without opening it (a restore keeps a running
    /// trapline off the directory it is about to replace); refused like a second `open`.
    pub fn lock_dir(dir: &Path) -> Result<StoreLock, StoreError> {
        Ok(StoreLock {
            _lock: LockFile::acquire(&dir.join("LOCK"))?,
        })
    }

    /// The store's single [`EventWriter`]; see its docs. A second call while one is alive logs an
    /// error (two writers would interleave ids); the app creates exactly one.
    pub fn writer(&self) -> EventWriter {
        if self.inner.writer_taken.swap(true, Ordering::AcqRel) {
            tracing::error!("A second store writer was created; event ids may interleave.");
        }
        EventWriter::new(self.clone())
    }

    /// Makes everything written so far durable (sled `flush`, i.e. fsync of its log).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.inner.db.flush()?;
        Ok(())
    }

    /// Events held in stored blocks (from the block summaries, so it costs nothing).
    pub fn event_count_estimate(&self) -> u64 {
        self.inner.event_count.load(Ordering::Relaxed)
    }

    /// Bytes of stored (compressed) block values: the figure size retention works with.
    pub fn stored_block_bytes(&self) -> u64 {
        self.inner.block_bytes.load(Ordering::Relaxed)
    }

    /// sled's own view of the directory size, which lags deletions (sled reclaims space late).
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.inner.db.size_on_disk()?)
    }

    /// The directory this store lives in.
    pub fn path(&self) -> &Path {
        &self.inner.dir
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Err(error) = self.db.flush() {
            warn!(%error, store = %self.dir.display(), "Final store flush failed.");
        }
    }
}

fn open_sled(dir: &Path, options: &StoreOptions) -> Result<sled::Db, StoreError> {
    // Callers hold our own `LOCK` first, so another process is already excluded; a busy sled
    // lock here is this process's previous handle, whose background flusher lets go of the
    // file a moment after the `Db` is dropped (restore and compact reopen what they wrote).
    let mut attempts = 0;
    loop {
        match open_sled_once(dir, options) {
            // sled words it "could not acquire lock on …" (an `Other` error around EWOULDBLOCK).
            Err(StoreError::Io { source, .. })
                if source.to_string().contains("could not acquire lock") && attempts < 250 =>
            {
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

fn open_sled_once(dir: &Path, options: &StoreOptions) -> Result<sled::Db, StoreError> {
    let config = sled::Config::new()
        .path(dir)
        .cache_capacity(options.cache_bytes);
    // sled 0.34 has open reports of panics on damaged files (sled#1410); a store that cannot be
    // read must be an error naming the path, not a crash of the appliance.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| config.open())) {
        Ok(result) => result.map_err(|e| classify_open_error(dir, e)),
        Err(panic) => {
            let detail = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "sled panicked while opening".into());
            Err(StoreError::Corrupt {
                path: dir.to_path_buf(),
                detail,
            })
        }
    }
}

/// Sorts sled's open-time errors: damage (or files sled cannot read) is `Corrupt`, a failing
/// file system is `Io`.
fn classify_open_error(dir: &Path, error: sled::Error) -> StoreError {
    match error {
        // `Unsupported` at open is what sled says when its files do not look like a sled store.
        sled::Error::Corruption { .. }
        | sled::Error::ReportableBug(_)
        | sled::Error::Unsupported(_) => StoreError::Corrupt {
            path: dir.to_path_buf(),
            detail: error.to_string(),
        },
        // sled reports some undecodable files (e.g. a garbage `conf`) as InvalidData I/O errors.
        sled::Error::Io(source) if is_damage(&source) => StoreError::Corrupt {
            path: dir.to_path_buf(),
            detail: source.to_string(),
        },
        sled::Error::Io(source) => StoreError::Io {
            path: dir.to_path_buf(),
            source,
        },
        other => StoreError::Sled(other),
    }
}

fn is_damage(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
    )
}

impl Inner {
    /// Brings the trees back in line after an unclean stop and recovers counters and the next id.
    ///
    /// Summaries are written before their block, so a crash can leave a summary (and index
    /// entries) for a block that never made it: those are removed (host entries of a "many
    /// hosts" summary are not listed and stay; queries skip entries without a summary, and a
    /// later block reusing the key only costs one extra candidate). Should sled ever persist a
    /// block without its summary, the summary and index entries are rebuilt from the block.
    fn reconcile(&mut self) -> Result<(), StoreError> {
        let (mut count, mut bytes, mut last_key) = (0u64, 0u64, None::<u64>);
        for item in self.block_dir.iter() {
            let (key, value) = item?;
            let Some(block_key) = key_u64(&key) else {
                continue;
            };
            let summary = BlockSummary::decode(&value).ok();
            if !self.blocks.contains_key(&key)? {
                warn!(
                    block = block_key,
                    "Removing the summary of a block that was never written."
                );
                self.remove_block_entries(block_key, summary.as_ref(), &[])?;
                continue;
            }
            match summary {
                Some(s) => {
                    count += s.count;
                    bytes += s.stored_bytes;
                }
                None => warn!(
                    block = block_key,
                    "Unreadable block summary; queries decode the block."
                ),
            }
            last_key = Some(block_key);
        }
        let tail_start = last_key.map_or(0, |k| k.saturating_add(1));
        for item in self.blocks.range(tail_start.to_be_bytes()..) {
            let (key, value) = item?;
            let Some(block_key) = key_u64(&key) else {
                continue;
            };
            match codec::decode_block(&value) {
                Ok(events) if !events.is_empty() => {
                    let (summary, hosts) = codec::summarize(&events, value.len() as u64);
                    warn!(
                        block = block_key,
                        "Rebuilding the summary of a block written without one."
                    );
                    self.write_block_entries(block_key, &summary, &hosts)?;
                    count += summary.count;
                    bytes += summary.stored_bytes;
                }
                _ => warn!(
                    block = block_key,
                    "Undecodable block without summary; it is skipped."
                ),
            }
        }
        self.event_count.store(count, Ordering::Relaxed);
        self.block_bytes.store(bytes, Ordering::Relaxed);
        self.next_id
            .store(self.recover_next_id()?, Ordering::Relaxed);
        Ok(())
    }

    /// One past the last stored id, or the persisted counter if that is larger.
    fn recover_next_id(&self) -> Result<u64, StoreError> {
        let from_meta = self
            .meta
            .get(META_NEXT_ID)?
            .as_deref()
            .and_then(key_u64)
            .unwrap_or(1);
        let from_blocks = match self.blocks.last()? {
            Some((key, value)) => match codec::decode_block(&value) {
                Ok(events) => events.last().map_or(0, |e| e.id + 1),
                Err(_) => self
                    .block_dir
                    .get(&key)?
                    .and_then(|s| BlockSummary::decode(&s).ok())
                    .map_or(0, |s| s.last_id + 1),
            },
            None => 0,
        };
        Ok(from_meta.max(from_blocks).max(1))
    }

    /// Writes a block's summary and index entries (one batch per tree).
    fn write_block_entries(
        &self,
        key: u64,
        summary: &BlockSummary,
        hosts: &[String],
    ) -> Result<(), StoreError> {
        let k = key.to_be_bytes();
        let mut by_host = sled::Batch::default();
        for host in hosts {
            by_host.insert(host_index_key(host, key), &[]);
        }
        self.idx_host.apply_batch(by_host)?;
        self.idx_level
            .apply_batch(code_batch(&summary.level_counts, key, true))?;
        self.idx_kind
            .apply_batch(code_batch(&summary.kind_counts, key, true))?;
        self.block_dir.insert(k, summary.encode())?;
        Ok(())
    }

    /// Removes a block's summary and index entries. `hosts` adds hosts the summary does not list.
    fn remove_block_entries(
        &self,
        key: u64,
        summary: Option<&BlockSummary>,
        hosts: &[String],
    ) -> Result<(), StoreError> {
        let mut by_host = sled::Batch::default();
        for host in summary
            .map(|s| s.hosts.as_slice())
            .unwrap_or_default()
            .iter()
            .chain(hosts)
        {
            by_host.remove(host_index_key(host, key));
        }
        self.idx_host.apply_batch(by_host)?;
        let all_levels = [1; Level::ALL.len()];
        let all_kinds = [1; EventKind::ALL.len()];
        self.idx_level
            .apply_batch(code_batch(&all_levels, key, false))?;
        self.idx_kind
            .apply_batch(code_batch(&all_kinds, key, false))?;
        self.block_dir.remove(key.to_be_bytes())?;
        Ok(())
    }
}

use crate::event::{EventKind, Level};

/// `host \0 key`: all blocks of one host sit together, oldest first.
fn host_index_key(host: &str, key: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(host.len() + 9);
    k.extend_from_slice(host.as_bytes());
    k.push(0);
    k.extend_from_slice(&key.to_be_bytes());
    k
}

/// `code key` entries for every code with a non-zero count (insert) or every code (remove).
fn code_batch(counts: &[u64], key: u64, insert: bool) -> sled::Batch {
    let mut batch = sled::Batch::default();
    for (code, n) in counts.iter().enumerate() {
        let mut k = [0u8; 9];
        k[0] = code as u8;
        k[1..].copy_from_slice(&key.to_be_bytes());
        if !insert {
            batch.remove(&k[..]);
        } else if *n > 0 {
            batch.insert(&k[..], &[]);
        }
    }
    batch
}

/// The u64 in the last 8 bytes of a key (block keys, index keys, the meta counter).
fn key_u64(bytes: &[u8]) -> Option<u64> {
    let tail: [u8; 8] = bytes.get(bytes.len().checked_sub(8)?..)?.try_into().ok()?;
    Some(u64::from_be_bytes(tail))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::event::{Event, Transport};
    use std::io::BufRead;

    /// Small blocks and short ages so tests seal by size and by age.
    pub(crate) fn options(block_events: usize) -> StoreOptions {
        StoreOptions {
            cache_bytes: 8 << 20,
            block_events,
            block_max_age: Duration::from_millis(5),
            flush_interval: Duration::from_millis(2),
        }
    }

    /// A varied syslog event: 7 common hosts and a rare one, skewed levels, some traps (never
    /// trap + low: that series is reserved for the metrics test).
    pub(crate) fn synthetic(i: u64, received_at_ns: i64) -> Event {
        let kind = if i.is_multiple_of(13) {
            EventKind::Trap
        } else {
            EventKind::Syslog
        };
        let mut e = Event::new(
            received_at_ns,
            "192.0.2.10:514".parse().unwrap(),
            Transport::Udp,
            kind,
        );
        e.host = if i.is_multiple_of(997) {
            "Rare-Host".into()
        } else {
            format!("host-{}", i % 7)
        };
        e.level = match (kind, i % 10) {
            (EventKind::Trap, n) if n < 5 => Level::Warning,
            (EventKind::Trap, _) => Level::Critical,
            (_, 0..=5) => Level::None,
            (_, 6..=7) => Level::Low,
            (_, 8) => Level::Warning,
            _ => Level::Critical,
        };
        e.severity = Some((i % 8) as u8);
        e.facility = Some(1);
        e.app = (!i.is_multiple_of(3)).then(|| format!("app{}", i % 5));
        let state = if i.is_multiple_of(2) { "up" } else { "DOWN" };
        e.message = format!(
            "Interface ge-0/0/{} changed state to {state}, seq {i}",
            i % 48
        );
        e
    }

    pub(crate) fn all(store: &Store) -> Vec<Event> {
        store
            .query_events(&EventQuery {
                limit: usize::MAX,
                ..Default::default()
            })
            .unwrap()
            .events
    }

    #[test]
    fn ids_keep_increasing_across_reopen_and_close_makes_everything_visible() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        {
            let store = Store::open(&path, &options(1000)).unwrap();
            let mut writer = store.writer();
            let mut events: Vec<Event> =
                (0..2500).map(|i| synthetic(i, 1_000 + i as i64)).collect();
            writer.append(&mut events).unwrap();
            assert_eq!(events.first().unwrap().id, 1);
            assert!(events.windows(2).all(|w| w[1].id == w[0].id + 1));
            writer.close().unwrap();
        }
        let store = Store::open(&path, &options(1000)).unwrap();
        assert_eq!(store.event_count_estimate(), 2500);
        let ids: Vec<u64> = all(&store).iter().map(|e| e.id).collect();
        assert_eq!(ids, (1..=2500).rev().collect::<Vec<_>>());
        // Retention empties the store; ids must still not go back.
        let report = store.apply_retention(None, Some(0), 0).unwrap();
        assert_eq!(report.deleted_events, 2500);
        assert_eq!(store.event_count_estimate(), 0);
        drop(store);
        let store = Store::open(&path, &options(1000)).unwrap();
        assert!(all(&store).is_empty());
        let mut writer = store.writer();
        let mut more = vec![synthetic(1, 5)];
        writer.append(&mut more).unwrap();
        writer.close().unwrap();
        assert_eq!(more[0].id, 2501);
        assert_eq!(store.get_event(2501).unwrap().unwrap(), more[0]);
    }

    #[test]
    fn second_open_in_process_is_locked_naming_the_pid() {
        let dir = tempfile::tempdir().unwrap();
        let first = Store::open(dir.path(), &StoreOptions::default()).unwrap();
        let err = Store::open(dir.path(), &StoreOptions::default())
            .err()
            .unwrap();
        let text = err.to_string();
        assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
        assert!(
            text.contains("locked") && text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        assert!(matches!(
            Store::move_aside(dir.path()),
            Err(StoreError::Locked { .. })
        ));
        drop(first);
        Store::open(dir.path(), &StoreOptions::default()).unwrap();
    }

    const HOLD_ENV: &str = "TRAPLINE_TEST_HOLD_STORE";

    /// Not a test on its own: the child process of `second_process_is_refused_naming_the_holder`.
    #[test]
    fn lock_holder_child() {
        let Some(dir) = std::env::var_os(HOLD_ENV) else {
            return;
        };
        let _store = Store::open(Path::new(&dir), &StoreOptions::default()).unwrap();
        println!("HOLDING");
        // Hold the store until the parent closes our stdin.
        let _ = std::io::stdin().lock().lines().count();
    }

    #[test]
    fn second_process_is_refused_naming_the_holder() {
        use std::process::{Command, Stdio};
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "store::tests::lock_holder_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(HOLD_ENV, dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let holding = stdout
            .lines()
            .map_while(Result::ok)
            .any(|line| line.contains("HOLDING"));
        assert!(holding, "child did not open the store");
        let err = Store::open(dir.path(), &StoreOptions::default())
            .err()
            .unwrap();
        let text = err.to_string();
        drop(child.stdin.take());
        let _ = child.wait();
        assert!(
            text.contains("locked") && text.contains(&format!("pid {}", child.id())),
            "{text}"
        );
        // The child is gone, and with it the lock.
        Store::open(dir.path(), &StoreOptions::default()).unwrap();
    }

    const WRITE_ENV: &str = "TRAPLINE_TEST_WRITE_STORE";

    /// Not a test on its own: the child of `sigkill_loses_no_acknowledged_event`. Writes until
    /// killed and prints every new durable id.
    #[test]
    fn crash_writer_child() {
        let Some(dir) = std::env::var_os(WRITE_ENV) else {
            return;
        };
        let opts = StoreOptions {
            flush_interval: Duration::from_millis(5),
            ..options(256)
        };
        let store = Store::open(Path::new(&dir), &opts).unwrap();
        let mut writer = store.writer();
        let (mut i, mut reported) = (0u64, 0u64);
        loop {
            let mut chunk: Vec<Event> = (i..i + 100).map(|j| synthetic(j, j as i64)).collect();
            writer.append(&mut chunk).unwrap();
            if i == 0 {
                println!("START {}", chunk[0].id);
            }
            writer.tick();
            i += 100;
            let durable = writer.durable_id();
            if durable > reported {
                println!("DURABLE {durable}");
                reported = durable;
            }
        }
    }

    #[test]
    fn sigkill_loses_no_acknowledged_event() {
        use std::process::{Command, Stdio};
        let dir = tempfile::tempdir().unwrap();
        let mut acked_ranges = Vec::new();
        for round in 0..3 {
            let mut child = Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "store::tests::crash_writer_child",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(WRITE_ENV, dir.path())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
            let (mut start, mut acked) = (0u64, 0u64);
            for line in stdout.lines().map_while(Result::ok) {
                // libtest prints its "test … ..." header on the same line as our first output.
                if let Some(id) = line.split("START ").nth(1) {
                    start = id.parse().unwrap();
                }
                if let Some(id) = line.split("DURABLE ").nth(1) {
                    acked = id.parse().unwrap();
                    if acked >= 20_000 * (round + 1) {
                        break;
                    }
                }
            }
            child.kill().unwrap();
            let _ = child.wait();
            assert!(
                start > 0 && acked >= start,
                "round {round}: the child acknowledged nothing"
            );
            let store = Store::open(dir.path(), &options(256)).unwrap();
            let ids: Vec<u64> = all(&store).iter().map(|e| e.id).collect();
            // Every id acknowledged in every round so far is there (a crash may lose only the
            // unacknowledged tail, which can leave a gap before the next round's ids).
            acked_ranges.push(start..=acked);
            let have: std::collections::HashSet<u64> = ids.iter().copied().collect();
            for range in &acked_ranges {
                let missing = range.clone().filter(|id| !have.contains(id)).count();
                assert_eq!(
                    missing, 0,
                    "round {round}: {missing} acknowledged events of {range:?} lost"
                );
            }
            assert!(ids.windows(2).all(|w| w[0] > w[1]));
            assert_eq!(store.event_count_estimate(), ids.len() as u64);
        }
    }

    #[test]
    fn corrupt_store_names_the_path_and_can_be_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        {
            let store = Store::open(&path, &options(100)).unwrap();
            let mut writer = store.writer();
            writer
                .append(&mut (0..500).map(|i| synthetic(i, i as i64)).collect::<Vec<_>>())
                .unwrap();
            writer.close().unwrap();
        }
        for entry in std::fs::read_dir(&path).unwrap() {
            let file = entry.unwrap().path();
            if file.is_file() && file.file_name().unwrap() != "LOCK" {
                std::fs::write(&file, vec![0xA5u8; 4096]).unwrap();
            }
        }
        let err = Store::open(&path, &options(100)).err().unwrap();
        let text = err.to_string();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
        assert!(text.contains(path.to_str().unwrap()), "{text}");
        let moved = Store::move_aside(&path).unwrap();
        assert!(
            moved
                .to_str()
                .unwrap()
                .starts_with(&format!("{}.corrupt-", path.display())),
            "{moved:?}"
        );
        assert!(moved.join("LOCK").exists() && !path.exists());
        let store = Store::open(&path, &options(100)).unwrap();
        assert!(all(&store).is_empty());
    }

    #[test]
    fn undecodable_block_is_skipped_and_dangling_entries_are_reconciled() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        {
            let store = Store::open(&path, &options(100)).unwrap();
            let mut writer = store.writer();
            writer
                .append(&mut (0..300).map(|i| synthetic(i, i as i64)).collect::<Vec<_>>())
                .unwrap();
            writer.close().unwrap();
            // Damage the middle block; leave a summary + index entry for a block never written.
            store
                .inner
                .blocks
                .insert(101u64.to_be_bytes(), &b"\x01garbage"[..])
                .unwrap();
            let (ghost, hosts) = codec::summarize(&[synthetic(5, 5)], 10);
            let mut ghost = ghost;
            ghost.first_id = 9000;
            store
                .inner
                .write_block_entries(9000, &ghost, &hosts)
                .unwrap();
            let ids: Vec<u64> = all(&store).iter().map(|e| e.id).collect();
            assert_eq!(
                ids,
                (201..=300).rev().chain((1..=100).rev()).collect::<Vec<_>>()
            );
            assert_eq!(store.get_event(150).unwrap(), None);
        }
        let store = Store::open(&path, &options(100)).unwrap();
        assert!(
            store
                .inner
                .block_dir
                .get(9000u64.to_be_bytes())
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .inner
                .idx_level
                .iter()
                .keys()
                .all(|k| key_u64(&k.unwrap()) != Some(9000))
        );
        let q = EventQuery {
            host: Some("host-5".into()),
            limit: 1000,
            ..Default::default()
        };
        assert!(
            store
                .query_events(&q)
                .unwrap()
                .events
                .iter()
                .all(|e| e.id <= 300)
        );
    }
}

/// A throughput check to run by hand (not a timed assertion):
/// `cargo test --lib store::bench -- --ignored --nocapture` (`TRAPLINE_BENCH_EVENTS=N` to resize).
#[cfg(test)]
mod bench {
    use std::time::Instant;

    use super::tests::synthetic;
    use super::*;
    use crate::event::Event;

    fn cpu_seconds() -> f64 {
        // SAFETY: getrusage fills the struct we pass; no other memory is touched.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        tv(usage.ru_utime) + tv(usage.ru_stime)
    }

    fn dir_bytes(dir: &Path) -> u64 {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| match e.metadata() {
                        Ok(m) if m.is_dir() => dir_bytes(&e.path()),
                        Ok(m) => m.len(),
                        Err(_) => 0,
                    })
                    .sum()
            })
            .unwrap_or(0)
    }

    /// A chunk of 512 varied events (digits redrawn so zstd cannot just repeat whole lines).
    fn chunk(start: u64, base_ns: i64) -> Vec<Event> {
        (start..start + 512)
            .map(|i| {
                let mut e = synthetic(i, base_ns + i as i64 * 1_800_000);
                let r = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                e.host = if i % 10_000 == 0 { "rare-host-01".into() } else { format!("host-{:02}", r % 40) };
                e.message = format!(
                    "%LINK-3-UPDOWN: Interface GigabitEthernet{}/0/{}, changed state to {} (pid {}, {} ms)",
                    r % 4,
                    (r >> 8) % 48,
                    if r & 1 == 0 { "up" } else { "down" },
                    (r >> 16) % 65_536,
                    (r >> 32) % 10_000
                );
                e
            })
            .collect()
    }

    #[test]
    #[ignore]
    fn throughput() {
        let wanted: u64 = std::env::var("TRAPLINE_BENCH_EVENTS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2_000_000);
        let n = wanted.div_ceil(512) * 512;
        let dir = tempfile::tempdir().unwrap();
        let base_ns = crate::event::now_ns() - 3_600_000_000_000;

        let (t, cpu) = (Instant::now(), cpu_seconds());
        let mut raw_bytes = 0usize;
        for start in (0..n).step_by(512) {
            raw_bytes += chunk(start, base_ns)
                .iter()
                .map(Event::approx_bytes)
                .sum::<usize>();
        }
        let (gen_s, gen_cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - cpu);

        let store = Store::open(dir.path(), &StoreOptions::default()).unwrap();
        let (t, cpu) = (Instant::now(), cpu_seconds());
        let mut writer = store.writer();
        for start in (0..n).step_by(512) {
            writer.append(&mut chunk(start, base_ns)).unwrap();
            writer.tick();
        }
        writer.close().unwrap();
        let (total_s, total_cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - cpu);
        let store_s = (total_s - gen_s).max(1e-9);
        let stored = store.stored_block_bytes();
        drop(store);
        let disk = dir_bytes(dir.path());
        println!("events: {n} ({} B/event in memory)", raw_bytes as u64 / n);
        println!("generate only: {gen_s:.2} s, {gen_cpu:.2} CPU-s");
        println!(
            "generate + store: {total_s:.2} s, {total_cpu:.2} CPU-s → store alone ≈ {:.0} events/s, {:.2} CPU-s per million",
            n as f64 / store_s,
            (total_cpu - gen_cpu) / (n as f64 / 1e6)
        );
        println!(
            "stored blocks: {:.1} B/event; on disk after close: {disk} B = {:.1} B/event",
            stored as f64 / n as f64,
            disk as f64 / n as f64
        );

        let t = Instant::now();
        let store = Store::open(dir.path(), &StoreOptions::default()).unwrap();
        println!(
            "reopen: {:.1} ms, {} events",
            t.elapsed().as_secs_f64() * 1e3,
            store.event_count_estimate()
        );
        let time = |name: &str, q: EventQuery| {
            let t = Instant::now();
            let page = store.query_events(&q).unwrap();
            println!(
                "{name}: {} events in {:.2} ms",
                page.events.len(),
                t.elapsed().as_secs_f64() * 1e3
            );
        };
        let q = |limit| EventQuery {
            limit,
            ..Default::default()
        };
        time("newest 100", q(100));
        time(
            "newest 100, common host",
            EventQuery {
                host: Some("host-07".into()),
                ..q(100)
            },
        );
        time(
            "newest 100, rare host",
            EventQuery {
                host: Some("rare-host-01".into()),
                ..q(100)
            },
        );
        time(
            "newest 100, critical",
            EventQuery {
                level: Some(Level::Critical),
                ..q(100)
            },
        );
        time(
            "last 5 min, 1000",
            EventQuery {
                since_ns: Some(base_ns + (n as i64 * 1_800_000) - 300_000_000_000),
                ..q(1000)
            },
        );
        time(
            "text scan, no match (all blocks)",
            EventQuery {
                text: Some("no such text".into()),
                ..q(100)
            },
        );
        let t = Instant::now();
        let report = store
            .apply_retention(None, Some(store.stored_block_bytes() / 2), 0)
            .unwrap();
        println!(
            "size retention of half: {} events in {:.0} ms",
            report.deleted_events,
            t.elapsed().as_secs_f64() * 1e3
        );
    }
}
