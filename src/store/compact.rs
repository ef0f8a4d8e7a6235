//! Compaction: giving the space retention freed back to the file system.
//!
//! sled 0.34 reuses freed pages inside its files but never shrinks them (sled#1333), so after
//! retention the store stops growing but does not get smaller. [`Store::compact_dir`] rewrites
//! every tree into a fresh sled directory beside the store (`DIR.compacting`), checks the copy
//! (it opens as a store with the same events and the same number of entries per tree), and
//! swaps it in: an atomic exchange of the two directories where the file system has one
//! (`renameat2(RENAME_EXCHANGE)`), else two renames. The old files are removed only after the
//! swap. If the copy is not smaller, the store is left as it was.
//!
//! Offline only: the store's lock is held throughout, so a running trapline makes it fail
//! with [`StoreError::Locked`], and no trapline can start on either directory meanwhile.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use tracing::{info, warn};

use super::lock::LockFile;
use super::{Store, StoreError, StoreOptions, open_sled};

/// What a compaction did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactReport {
    /// Bytes the store's files took on disk before (allocated blocks, as `du` counts).
    pub before_bytes: u64,
    /// The same after (equal to `before_bytes` when the copy was not swapped in).
    pub after_bytes: u64,
    /// Events in the store (the same before and after).
    pub events: u64,
    pub trees: u64,
    pub entries: u64,
    /// Whether the rewritten store replaced the old one (not when it was not smaller).
    pub swapped: bool,
}

impl Store {
    /// Rewrites the (not running) store in `dir` into fresh files and swaps them in when
    /// smaller; see the module docs.
    pub fn compact_dir(dir: &Path, options: &StoreOptions) -> Result<CompactReport, StoreError> {
        let old = Store::open(dir, options)?;
        old.flush()?;
        let before_bytes = disk_bytes(dir)?;
        let events = old.event_count_estimate();
        let copy_dir = sibling(dir, "compacting");
        if copy_dir.exists() {
            // A copy left by an interrupted compaction; we hold the store's lock, so it is ours.
            warn!(dir = %copy_dir.display(), "Removing the copy of an interrupted compaction.");
            remove_dir(&copy_dir)?;
        }
        let (trees, entries) = copy_trees(&old, &copy_dir, options)?;
        let copy = Store::open(&copy_dir, options)?;
        let copied_events = copy.event_count_estimate();
        let (copied_trees, copied_entries) = count_entries(&copy.inner.db)?;
        if (copied_events, copied_trees, copied_entries) != (events, trees, entries) {
            drop(copy);
            remove_dir(&copy_dir)?;
            return Err(StoreError::Codec(format!(
                "compaction copy differs: {copied_events} events, {copied_trees} trees, {copied_entries} entries instead of {events}, {trees}, {entries}; the store was left as it was"
            )));
        }
        copy.flush()?;
        let after_bytes = disk_bytes(&copy_dir)?;
        let mut report = CompactReport {
            before_bytes,
            after_bytes: before_bytes,
            events,
            trees,
            entries,
            swapped: false,
        };
        if after_bytes >= before_bytes {
            drop(copy);
            remove_dir(&copy_dir)?;
            info!(
                before_bytes,
                after_bytes, "The store is compact already; left as it was."
            );
            return Ok(report);
        }
        // sled must be closed before its directory moves (it may still write by path), but
        // the locks are held across the swap: nobody opens either directory in between. (A
        // process that took a lock in the instant between close and re-lock makes this fail
        // before anything moved.)
        drop(copy);
        let _copy_lock = LockFile::acquire(&copy_dir.join("LOCK"))?;
        drop(old);
        let _store_lock = LockFile::acquire(&dir.join("LOCK"))?;
        exchange(dir, &copy_dir)?;
        remove_dir(&copy_dir)?;
        report.after_bytes = after_bytes;
        report.swapped = true;
        info!(before_bytes, after_bytes, events, "Compacted the store.");
        Ok(report)
    }
}

/// `DIR.suffix` next to `dir`.
fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir.as_os_str().to_owned();
    name.push(format!(".{suffix}"));
    PathBuf::from(name)
}

/// Copies every tree of `store` into a new sled database in `to`; returns (trees, entries).
fn copy_trees(store: &Store, to: &Path, options: &StoreOptions) -> Result<(u64, u64), StoreError> {
    std::fs::create_dir_all(to).map_err(|source| StoreError::Io {
        path: to.to_path_buf(),
        source,
    })?;
    let _lock = LockFile::acquire(&to.join("LOCK"))?;
    let db = open_sled(to, options)?;
    let (mut trees, mut entries) = (0u64, 0u64);
    for name in store.inner.db.tree_names() {
        let from = store.inner.db.open_tree(&name)?;
        let into = db.open_tree(&name)?;
        let mut batch = sled::Batch::default();
        let (mut n, mut bytes) = (0usize, 0usize);
        for item in from.iter() {
            let (key, value) = item?;
            bytes += key.len() + value.len();
            batch.insert(key, value);
            n += 1;
            entries += 1;
            if n >= 4096 || bytes >= 16 << 20 {
                into.apply_batch(std::mem::take(&mut batch))?;
                (n, bytes) = (0, 0);
            }
        }
        into.apply_batch(batch)?;
        trees += 1;
    }
    db.flush()?;
    Ok((trees, entries))
}

fn count_entries(db: &sled::Db) -> Result<(u64, u64), StoreError> {
    let (mut trees, mut entries) = (0u64, 0u64);
    for name in db.tree_names() {
        trees += 1;
        entries += db.open_tree(&name)?.len() as u64;
    }
    Ok((trees, entries))
}

/// Bytes allocated on disk for the files under `dir` (what `du` reports).
pub(crate) fn disk_bytes(dir: &Path) -> Result<u64, StoreError> {
    let io = |source| StoreError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut total = 0;
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let meta = entry.map_err(io)?.metadata().map_err(io)?;
        total += if meta.is_dir() {
            0
        } else {
            meta.blocks() * 512
        };
    }
    // sled keeps its blobs in one subdirectory.
    let blobs = dir.join("blobs");
    if blobs.is_dir() {
        total += disk_bytes(&blobs)?;
    }
    Ok(total)
}

fn remove_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::remove_dir_all(dir).map_err(|source| StoreError::Io {
        path: dir.to_path_buf(),
        source,
    })
}

/// Swaps two directories: atomically where the file system can, else with two renames
/// through a third name (a crash in between leaves both under names that say what they are).
fn exchange(a: &Path, b: &Path) -> Result<(), StoreError> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| {
        CString::new(p.as_os_str().as_bytes()).map_err(|_| StoreError::Io {
            path: p.to_path_buf(),
            source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
        })
    };
    let (ca, cb) = (c(a)?, c(b)?);
    // SAFETY: two NUL-terminated paths that outlive the call; no other memory is passed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let error = std::io::Error::last_os_error();
    if !matches!(
        error.raw_os_error(),
        Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP)
    ) {
        return Err(StoreError::Io {
            path: a.to_path_buf(),
            source: error,
        });
    }
    let aside = sibling(a, "before-compact");
    let rename = |from: &Path, to: &Path| {
        std::fs::rename(from, to).map_err(|source| StoreError::Io {
            path: from.to_path_buf(),
            source,
        })
    };
    rename(a, &aside)?;
    rename(b, a)?;
    rename(&aside, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::{all, options, synthetic};

    #[test]
    fn compaction_after_retention_keeps_every_event_and_shrinks_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let kept = {
            let store = Store::open(&path, &options(200)).unwrap();
            let mut writer = store.writer();
            for chunk in 0..40u64 {
                let mut events: Vec<_> = (0..1000)
                    .map(|i| synthetic(chunk * 1000 + i, (chunk * 1000 + i) as i64))
                    .collect();
                writer.append(&mut events).unwrap();
            }
            writer.close().unwrap();
            store.records("users").unwrap().put("alice", b"{}").unwrap();
            let report = store
                .apply_retention(None, Some(store.stored_block_bytes() / 10), 0)
                .unwrap();
            assert!(report.deleted_events > 30_000, "{report:?}");
            all(&store)
        };
        let report = Store::compact_dir(&path, &options(200)).unwrap();
        assert!(report.swapped, "{report:?}");
        assert!(report.after_bytes < report.before_bytes, "{report:?}");
        assert_eq!(report.events, kept.len() as u64);
        assert!(!sibling(&path, "compacting").exists());
        let store = Store::open(&path, &options(200)).unwrap();
        assert_eq!(all(&store), kept);
        assert_eq!(
            store
                .records("users")
                .unwrap()
                .get("alice")
                .unwrap()
                .as_deref(),
            Some(&b"{}"[..])
        );
        assert!(disk_bytes(&path).unwrap() <= report.after_bytes + 4096 * 4);
        // A second compaction finds nothing to gain and leaves the store as it is.
        drop(store);
        let again = Store::compact_dir(&path, &options(200)).unwrap();
        assert_eq!(again.events, kept.len() as u64);
        assert!(again.after_bytes <= report.after_bytes + 4096 * 4 || !again.swapped);
    }

    #[test]
    fn a_store_in_use_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _store = Store::open(dir.path(), &options(100)).unwrap();
        let err = Store::compact_dir(dir.path(), &options(100)).err().unwrap();
        assert!(matches!(err, StoreError::Locked { .. }), "{err}");
    }
}
