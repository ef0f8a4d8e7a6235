//! Consistent backups of a store, and restoring one into a fresh store directory.
//!
//! [`Store::write_backup`] works on a store in use (the running appliance) as well as on one
//! opened by an offline command. It copies every sled tree in two phases:
//!
//! 1. a checkpoint ([`Store::checkpoint`]: the writer seals its open block, the alert engine
//!    and the inventory write what they keep in memory, sled flushes), then every record tree,
//!    in reverse name order — so `incidents` is read before `incident_counters` (a counter is
//!    written before its incident, so the backup never holds an incident its counter has not
//!    passed), and `availability_meta` before `alerts` (a restored recorder re-reads the
//!    alerts after the last one it saw, never skips one);
//! 2. a second checkpoint, whose next event id is the *watermark*, then the event trees, cut
//!    at the watermark: blocks never change once written, so every block below it is complete
//!    and durable, and blocks the writer seals meanwhile are left out with their summaries and
//!    index entries. Retention waits for this phase (`block_maintenance`), so no block is half
//!    deleted in the copy. Every event an alert of phase 1 names is below the watermark.
//!
//! Then the files the caller lists (the incident archive). The result: events, summaries and
//! indexes exactly as at the watermark; records as of phase 1 (each record tree's writes are
//! whole records, so none is torn).
//!
//! [`restore_store`] writes a backup's trees into a new directory with one sled batch per
//! few thousand entries, flushes, and opens the result as a [`Store`] (which reconciles and
//! counts the events) before returning. It never writes into a directory that holds anything.
//!
//! This module does not know where data directories are or who is asking (see `crate::backup`).

pub mod format;

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tracing::info;

use super::codec::BlockSummary;
use super::lock::LockFile;
use super::{Store, StoreError, StoreOptions, key_u64, open_sled};
use crate::event::now_ns;
pub use format::{BackupInfo, BackupReader, BackupWriter, FormatError, Item, ItemCounts, Progress};

/// How long a backup waits for the writer thread to answer a checkpoint.
const CHECKPOINT_TIMEOUT: Duration = Duration::from_secs(60);
/// The event trees, in the order they are copied (after every record tree).
const EVENT_TREES: [&str; 6] = [
    "meta",
    "blocks",
    "block_dir",
    "idx_host",
    "idx_level",
    "idx_kind",
];
/// Progress is reported at least every this many records.
const PROGRESS_EVERY: u64 = 512;
/// A restore applies one sled batch per this many entries or bytes.
const RESTORE_BATCH_ENTRIES: usize = 4096;
const RESTORE_BATCH_BYTES: usize = 16 << 20;

/// Why a backup or restore of the store failed.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{} is not empty; a restore only writes a fresh store", .0.display())]
    NotEmpty(PathBuf),
    #[error(
        "the restored store holds {found} events, the backup {expected}: the restore is not trustworthy"
    )]
    EventCount { expected: u64, found: u64 },
}

/// A file beside the store to include (a path relative to the data directory, and where it is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupFile {
    pub name: String,
    pub source: PathBuf,
}

/// What a backup holds: printed by the CLI, sent by the daemon when it is done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BackupSummary {
    pub counts: ItemCounts,
    /// Events in the backup's blocks.
    pub events: u64,
    /// Every event below this id that the store held is in the backup; none above.
    pub watermark_id: u64,
    pub created_ns: i64,
}

/// What a restore wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreReport {
    pub info: BackupInfo,
    pub counts: ItemCounts,
    /// Events in the restored store (counted by opening it).
    pub events: u64,
}

fn is_event_tree(name: &[u8]) -> bool {
    EVENT_TREES.iter().any(|t| t.as_bytes() == name)
}

impl Store {
    /// Writes a consistent backup of the whole store, then `files`, to `out` (see the module
    /// docs for what "consistent" means here). `progress` is called as records are copied.
    pub fn write_backup<W: Write>(
        &self,
        out: W,
        files: &[BackupFile],
        progress: &mut dyn FnMut(Progress),
    ) -> Result<(W, BackupSummary), SnapshotError> {
        let created_ns = now_ns();
        self.checkpoint(CHECKPOINT_TIMEOUT)?;
        let mut writer = BackupWriter::new(out, created_ns)?;
        let mut names = self.inner.db.tree_names();
        names.sort();
        for name in names.iter().rev().filter(|n| !is_event_tree(n)) {
            let tree = self.inner.db.open_tree(name).map_err(StoreError::from)?;
            writer.begin_tree(name)?;
            for item in tree.iter() {
                let (key, value) = item.map_err(StoreError::from)?;
                write_entry(&mut writer, &key, &value, progress)?;
            }
        }
        let watermark_id = self.checkpoint(CHECKPOINT_TIMEOUT)?;
        let events = self.write_event_trees(&mut writer, watermark_id, progress)?;
        for file in files {
            let io = |error| SnapshotError::Io {
                path: file.source.clone(),
                error,
            };
            let content = std::fs::File::open(&file.source).map_err(io)?;
            let len = content.metadata().map_err(io)?.len();
            writer.file(&file.name, len, content)?;
            progress(writer.progress());
        }
        let last = writer.progress();
        let (out, counts) = writer.finish()?;
        progress(last);
        info!(
            trees = counts.trees,
            entries = counts.entries,
            files = counts.files,
            events,
            watermark_id,
            "Backup written."
        );
        Ok((
            out,
            BackupSummary {
                counts,
                events,
                watermark_id,
                created_ns,
            },
        ))
    }

    /// Phase 2: the event trees below `watermark` (ids), with retention held off. Returns the
    /// number of events in the copied blocks.
    fn write_event_trees<W: Write>(
        &self,
        writer: &mut BackupWriter<W>,
        watermark: u64,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<u64, SnapshotError> {
        let _maintenance = self
            .inner
            .block_maintenance
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut events = 0u64;
        for name in EVENT_TREES {
            let tree = self.inner.db.open_tree(name).map_err(StoreError::from)?;
            writer.begin_tree(name.as_bytes())?;
            for item in tree.iter() {
                let (key, value) = item.map_err(StoreError::from)?;
                // Every key of these trees but `meta`'s ends in the block key; later blocks,
                // sealed while this copy runs, are not part of this backup.
                if name != "meta" && key_u64(&key).is_some_and(|block| block >= watermark) {
                    continue;
                }
                if name == "block_dir" {
                    events += BlockSummary::decode(&value).map_or(0, |s| s.count);
                }
                write_entry(writer, &key, &value, progress)?;
            }
        }
        Ok(events)
    }
}

fn write_entry<W: Write>(
    writer: &mut BackupWriter<W>,
    key: &[u8],
    value: &[u8],
    progress: &mut dyn FnMut(Progress),
) -> Result<(), SnapshotError> {
    writer.entry(key, value)?;
    let now = writer.progress();
    if now.records.is_multiple_of(PROGRESS_EVERY) {
        progress(now);
    }
    Ok(())
}

/// Writes the backup read by `reader` into `store_dir` (which must not exist or be empty) and
/// its files under `files_dir`, then opens the new store to check it. `progress` is called as
/// records are written.
pub fn restore_store<R: Read + Seek>(
    mut reader: BackupReader<R>,
    store_dir: &Path,
    files_dir: &Path,
    options: &StoreOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<RestoreReport, SnapshotError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| SnapshotError::Io { path, error }
    };
    if std::fs::read_dir(store_dir).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(SnapshotError::NotEmpty(store_dir.to_path_buf()));
    }
    std::fs::create_dir_all(store_dir).map_err(io(store_dir))?;
    let expected_events = {
        let lock = LockFile::acquire(&store_dir.join("LOCK"))?;
        let db = open_sled(store_dir, options)?;
        let expected = import_items(&mut reader, &db, files_dir, progress)?;
        db.flush().map_err(StoreError::from)?;
        drop(db);
        drop(lock);
        expected
    };
    let store = Store::open(store_dir, options)?;
    let events = store.event_count_estimate();
    if events != expected_events {
        return Err(SnapshotError::EventCount {
            expected: expected_events,
            found: events,
        });
    }
    Ok(RestoreReport {
        info: reader.info().clone(),
        counts: reader.counts(),
        events,
    })
}

/// Writes every item into `db` and `files_dir`; returns the events the block summaries count.
fn import_items<R: Read>(
    reader: &mut BackupReader<R>,
    db: &sled::Db,
    files_dir: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<u64, SnapshotError> {
    let mut tree: Option<(sled::Tree, bool)> = None;
    let mut batch = PendingBatch::default();
    let mut done = Progress::default();
    let mut events = 0u64;
    while let Some(item) = reader.next_item()? {
        match item {
            Item::Tree(name) => {
                batch.apply(tree.as_ref().map(|t| &t.0))?;
                let is_summaries = name == b"block_dir";
                tree = Some((db.open_tree(&name).map_err(StoreError::from)?, is_summaries));
            }
            Item::Entry { key, value } => {
                let Some((_, is_summaries)) = &tree else {
                    return Err(FormatError::Malformed("an entry outside a tree".into()).into());
                };
                if *is_summaries {
                    events += BlockSummary::decode(&value).map_or(0, |s| s.count);
                }
                done.records += 1;
                done.bytes_in += (key.len() + value.len()) as u64;
                batch.push(key, value);
                if batch.is_full() {
                    batch.apply(tree.as_ref().map(|t| &t.0))?;
                    progress(done);
                }
            }
            Item::File { path, len } => {
                batch.apply(tree.as_ref().map(|t| &t.0))?;
                tree = None;
                restore_file(reader, &files_dir.join(&path))?;
                done.records += 1;
                done.bytes_in += len;
                progress(done);
            }
        }
    }
    batch.apply(tree.as_ref().map(|t| &t.0))?;
    progress(done);
    Ok(events)
}

fn restore_file<R: Read>(reader: &mut BackupReader<R>, path: &Path) -> Result<(), SnapshotError> {
    let io = |error| SnapshotError::Io {
        path: path.to_path_buf(),
        error,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io)?;
    reader.copy_file(&mut file)?;
    file.sync_all().map_err(io)?;
    Ok(())
}

/// Entries gathered for one sled batch.
#[derive(Default)]
struct PendingBatch {
    batch: sled::Batch,
    entries: usize,
    bytes: usize,
}

impl PendingBatch {
    fn push(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.entries += 1;
        self.bytes += key.len() + value.len();
        self.batch.insert(key, value);
    }

    fn is_full(&self) -> bool {
        self.entries >= RESTORE_BATCH_ENTRIES || self.bytes >= RESTORE_BATCH_BYTES
    }

    fn apply(&mut self, tree: Option<&sled::Tree>) -> Result<(), StoreError> {
        let pending = std::mem::take(self);
        if let Some(tree) = tree
            && pending.entries > 0
        {
            tree.apply_batch(pending.batch)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use crate::store::tests::{all, options, synthetic};
    use std::io::Cursor;

    fn populate(store: &Store, n: u64) {
        let mut writer = store.writer();
        let mut events: Vec<Event> = (0..n).map(|i| synthetic(i, 1_000 + i as i64)).collect();
        writer.append(&mut events).unwrap();
        writer.close().unwrap();
        let users = store.records("users").unwrap();
        users.put("alice", b"{\"role\":\"admin\"}").unwrap();
        users.put("bob", b"{\"role\":\"viewer\"}").unwrap();
        store.records("incidents").unwrap().put("1", b"{}").unwrap();
    }

    /// Every tree's entries, by name (the default tree included).
    type Entries = Vec<(Vec<u8>, Vec<u8>)>;

    fn dump(store: &Store) -> Vec<(Vec<u8>, Entries)> {
        let mut names = store.inner.db.tree_names();
        names.sort();
        names
            .into_iter()
            .map(|name| {
                let tree = store.inner.db.open_tree(&name).unwrap();
                let entries = tree
                    .iter()
                    .map(|kv| {
                        let (k, v) = kv.unwrap();
                        (k.to_vec(), v.to_vec())
                    })
                    .collect();
                (name.to_vec(), entries)
            })
            .collect()
    }

    #[test]
    fn backup_and_restore_give_back_every_tree_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("a"), &options(100)).unwrap();
        populate(&store, 1050);
        let archived = dir.path().join("incidents-2025.jsonl");
        std::fs::write(&archived, b"{\"id\":1}\n").unwrap();
        let files = [BackupFile {
            name: "archive/incidents-2025.jsonl".into(),
            source: archived,
        }];
        let mut calls = 0;
        let (bytes, summary) = store
            .write_backup(Vec::new(), &files, &mut |_| calls += 1)
            .unwrap();
        assert!(calls > 0);
        assert_eq!(summary.events, 1050);
        assert_eq!(summary.watermark_id, 1051);
        assert_eq!(summary.counts.files, 1);

        let restored_dir = dir.path().join("b");
        let reader = BackupReader::open(Cursor::new(bytes)).unwrap();
        let report = restore_store(
            reader,
            &restored_dir.join("store"),
            &restored_dir,
            &options(100),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(report.events, 1050);
        assert_eq!(report.counts, summary.counts);
        assert_eq!(
            std::fs::read(restored_dir.join("archive/incidents-2025.jsonl")).unwrap(),
            b"{\"id\":1}\n"
        );
        let restored = Store::open(&restored_dir.join("store"), &options(100)).unwrap();
        assert_eq!(dump(&restored), dump(&store));
        assert_eq!(all(&restored), all(&store));
        // The restored store continues the ids.
        let mut writer = restored.writer();
        let mut one = vec![synthetic(1, 5)];
        writer.append(&mut one).unwrap();
        writer.close().unwrap();
        assert_eq!(one[0].id, 1051);
    }

    #[test]
    fn blocks_sealed_after_the_watermark_are_left_out_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &options(100)).unwrap();
        populate(&store, 300);
        // A block written after the checkpoint (as the writer would while the copy runs) is
        // not in the copy, nor are its summary and index entries.
        let mut buf = BackupWriter::new(Vec::new(), 0).unwrap();
        let late = {
            let mut writer = store.writer();
            writer
                .append(&mut (0..50).map(|i| synthetic(i, 9)).collect::<Vec<_>>())
                .unwrap();
            writer.close().unwrap();
            301
        };
        let events = store
            .write_event_trees(&mut buf, late, &mut |_| {})
            .unwrap();
        assert_eq!(events, 300);
        let (bytes, _) = buf.finish().unwrap();
        let mut reader = BackupReader::open(Cursor::new(bytes)).unwrap();
        let mut tree = Vec::new();
        while let Some(item) = reader.next_item().unwrap() {
            match item {
                Item::Tree(name) => tree = name,
                Item::Entry { key, .. } if tree != b"meta" => {
                    assert!(key_u64(&key).unwrap() < late, "{tree:?} {key:?}")
                }
                _ => {}
            }
        }
    }

    #[test]
    fn restore_refuses_a_directory_that_holds_anything() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("a"), &options(100)).unwrap();
        populate(&store, 10);
        let (bytes, _) = store.write_backup(Vec::new(), &[], &mut |_| {}).unwrap();
        let target = dir.path().join("b");
        std::fs::create_dir_all(&target).unwrap();
        std::fs::write(target.join("keep-me"), b"x").unwrap();
        let reader = BackupReader::open(Cursor::new(bytes)).unwrap();
        let err = restore_store(reader, &target, dir.path(), &options(100), &mut |_| {})
            .err()
            .unwrap();
        assert!(matches!(err, SnapshotError::NotEmpty(_)), "{err}");
        assert_eq!(std::fs::read(target.join("keep-me")).unwrap(), b"x");
    }
}
