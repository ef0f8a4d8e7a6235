//! Retention: deleting whole blocks (with their summaries and index entries) by age and size.
//!
//! Age: a block goes when its newest event is older than `now - max_age`. Every summary is
//! checked rather than stopping at the first young block, because receive times are not
//! strictly ordered by id (a wall-clock step would otherwise pin old blocks forever).
//! Size: sled 0.34 returns freed space late or never (sled#1333), so deciding on
//! `size_on_disk()` would delete everything; the decision uses the sum of stored block sizes
//! from the summaries, and `trapline_store_size_bytes` reports `size_on_disk()` for operators.
//!
//! Work is done in batches of [`BATCH_BLOCKS`] blocks so the writer is never held up for long.
//! This module does not decide *when* retention runs (the app's retention task does).

use std::sync::atomic::Ordering;
use std::time::Duration;

use tracing::warn;

use super::codec::{self, BlockSummary};
use super::{Store, StoreError, key_u64};
use crate::metrics::metrics;

/// Blocks deleted per batch (~1,000 events each).
const BATCH_BLOCKS: usize = 64;

/// What one retention pass removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionReport {
    pub deleted_blocks: u64,
    /// Events removed, both reasons together.
    pub deleted_events: u64,
    pub deleted_by_age: u64,
    pub deleted_by_size: u64,
    /// Stored block bytes after the pass (what `max_bytes` is compared with).
    pub stored_block_bytes: u64,
}

impl Store {
    /// Deletes blocks older than `max_age`, then the oldest blocks while the stored block bytes
    /// exceed `max_bytes`. `now_ns` is passed in so tests can move time.
    pub fn apply_retention(
        &self,
        max_age: Option<Duration>,
        max_bytes: Option<u64>,
        now_ns: i64,
    ) -> Result<RetentionReport, StoreError> {
        // A backup copying the event trees waits for this pass, and this pass for it.
        let _maintenance = self
            .inner
            .block_maintenance
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut report = RetentionReport::default();
        if let Some(max_age) = max_age {
            let cutoff =
                now_ns.saturating_sub(i64::try_from(max_age.as_nanos()).unwrap_or(i64::MAX));
            let expired = self.expired_blocks(cutoff)?;
            for batch in expired.chunks(BATCH_BLOCKS) {
                let (blocks, events) = self.delete_blocks(batch)?;
                report.deleted_blocks += blocks;
                report.deleted_by_age += events;
            }
            metrics()
                .retention_deleted_events
                .with_label_values(&["age"])
                .inc_by(report.deleted_by_age);
        }
        if let Some(max_bytes) = max_bytes {
            while self.stored_block_bytes() > max_bytes {
                let excess = self.stored_block_bytes() - max_bytes;
                let oldest = self.oldest_blocks(excess, BATCH_BLOCKS)?;
                if oldest.is_empty() {
                    break;
                }
                let (blocks, events) = self.delete_blocks(&oldest)?;
                report.deleted_blocks += blocks;
                report.deleted_by_size += events;
            }
            metrics()
                .retention_deleted_events
                .with_label_values(&["size"])
                .inc_by(report.deleted_by_size);
        }
        report.deleted_events = report.deleted_by_age + report.deleted_by_size;
        report.stored_block_bytes = self.stored_block_bytes();
        match self.inner.db.size_on_disk() {
            Ok(size) => metrics()
                .store_size_bytes
                .set(i64::try_from(size).unwrap_or(i64::MAX)),
            Err(error) => warn!(%error, "Cannot read the store size."),
        }
        Ok(report)
    }

    /// Keys of blocks whose newest event is older than `cutoff_ns`.
    fn expired_blocks(&self, cutoff_ns: i64) -> Result<Vec<u64>, StoreError> {
        let mut keys = Vec::new();
        for item in self.inner.block_dir.iter() {
            let (key, value) = item?;
            let expired = BlockSummary::decode(&value).is_ok_and(|s| s.max_rx_ns < cutoff_ns);
            if let (true, Some(k)) = (expired, key_u64(&key)) {
                keys.push(k);
            }
        }
        Ok(keys)
    }

    /// The oldest blocks that together free at least `excess` bytes, at most `n` of them.
    fn oldest_blocks(&self, excess: u64, n: usize) -> Result<Vec<u64>, StoreError> {
        let (mut keys, mut freed) = (Vec::with_capacity(n), 0u64);
        for item in self.inner.block_dir.iter().take(n) {
            let (key, value) = item?;
            keys.extend(key_u64(&key));
            // An unreadable summary counts as nothing freed: keep going to the next block.
            freed += BlockSummary::decode(&value).map_or(0, |s| s.stored_bytes);
            if freed >= excess {
                break;
            }
        }
        Ok(keys)
    }

    /// Deletes blocks, then their summaries and index entries; returns (blocks, events) removed.
    ///
    /// The block goes first: a crash in between leaves a summary without block, which `open`
    /// removes, rather than a block without summary, which `open` would bring back.
    fn delete_blocks(&self, keys: &[u64]) -> Result<(u64, u64), StoreError> {
        let inner = &self.inner;
        let (mut blocks, mut events, mut bytes) = (0u64, 0u64, 0u64);
        for &key in keys {
            let summary = inner
                .block_dir
                .get(key.to_be_bytes())?
                .and_then(|v| BlockSummary::decode(&v).ok());
            let Some(value) = inner.blocks.remove(key.to_be_bytes())? else {
                inner.remove_block_entries(key, summary.as_ref(), &[])?;
                continue;
            };
            // A "many hosts" summary does not list them: take them from the block itself.
            let decoded = match &summary {
                Some(s) if !s.many_hosts => None,
                _ => codec::decode_block(&value).ok(),
            };
            let (count, extra_hosts) = match (&summary, decoded) {
                (Some(s), Some(evs)) => (s.count, codec::summarize(&evs, 0).1),
                (Some(s), None) => (s.count, Vec::new()),
                (None, Some(evs)) => (evs.len() as u64, codec::summarize(&evs, 0).1),
                (None, None) => (0, Vec::new()),
            };
            inner.remove_block_entries(key, summary.as_ref(), &extra_hosts)?;
            blocks += 1;
            events += count;
            bytes += summary
                .as_ref()
                .map_or(value.len() as u64, |s| s.stored_bytes);
        }
        sub_saturating(&inner.event_count, events);
        sub_saturating(&inner.block_bytes, bytes);
        Ok((blocks, events))
    }
}

fn sub_saturating(counter: &std::sync::atomic::AtomicU64, n: u64) {
    let _ = counter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
        Some(v.saturating_sub(n))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, Level};
    use crate::store::EventQuery;
    use crate::store::tests::{all, options, synthetic};

    const HOUR: i64 = 3_600_000_000_000;

    /// 10 blocks of 100 events; block `b` received during hour `b`; block 3 has 80 hosts.
    fn populate(store: &Store) {
        let mut writer = store.writer();
        for b in 0..10i64 {
            let mut events: Vec<Event> = (0..100)
                .map(|i| synthetic((b * 100 + i) as u64, b * HOUR + i))
                .collect();
            if b == 3 {
                for (i, e) in events.iter_mut().enumerate() {
                    e.host = format!("many-{}", i % 80);
                }
            }
            writer.append(&mut events).unwrap();
        }
        writer.close().unwrap();
    }

    /// Every index entry points at a stored block, and every block has its summary.
    fn assert_consistent(store: &Store) {
        let inner = &store.inner;
        for tree in [&inner.idx_host, &inner.idx_level, &inner.idx_kind] {
            for key in tree.iter().keys() {
                let block = key_u64(&key.unwrap()).unwrap();
                assert!(
                    inner.blocks.contains_key(block.to_be_bytes()).unwrap(),
                    "dangling index entry {block}"
                );
            }
        }
        assert_eq!(inner.blocks.len(), inner.block_dir.len());
    }

    #[test]
    fn age_retention_deletes_old_blocks_and_their_index_entries() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &options(100)).unwrap();
        populate(&store);
        let report = store
            .apply_retention(Some(Duration::from_secs(5 * 3600)), None, 10 * HOUR)
            .unwrap();
        // Blocks 0..=4 have their newest event before hour 5.
        assert_eq!(
            (
                report.deleted_blocks,
                report.deleted_by_age,
                report.deleted_events
            ),
            (5, 500, 500)
        );
        let events = all(&store);
        assert_eq!(events.len(), 500);
        assert!(events.iter().all(|e| e.id > 500));
        assert_eq!(store.event_count_estimate(), 500);
        assert_consistent(&store);
        let q = EventQuery {
            host: Some("many-7".into()),
            limit: 10,
            ..Default::default()
        };
        assert!(store.query_events(&q).unwrap().events.is_empty());
        let q = EventQuery {
            level: Some(Level::Critical),
            limit: 1000,
            ..Default::default()
        };
        assert!(
            store
                .query_events(&q)
                .unwrap()
                .events
                .iter()
                .all(|e| e.id > 500)
        );
        // Nothing more is old enough.
        let again = store
            .apply_retention(Some(Duration::from_secs(5 * 3600)), None, 10 * HOUR)
            .unwrap();
        assert_eq!(again.deleted_events, 0);
    }

    #[test]
    fn size_retention_deletes_the_oldest_blocks_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &options(100)).unwrap();
        populate(&store);
        let total = store.stored_block_bytes();
        let report = store.apply_retention(None, Some(total / 2), 0).unwrap();
        assert!(
            report.stored_block_bytes <= total / 2,
            "{report:?} of {total}"
        );
        assert_eq!(report.deleted_by_size, report.deleted_events);
        let left = all(&store);
        let oldest_left = left.last().unwrap().id;
        assert_eq!(left.len() as u64, 1000 - report.deleted_events);
        assert_eq!(
            left.len() as u64,
            1001 - oldest_left,
            "only the oldest were removed"
        );
        assert!(left.len() < 1000 && !left.is_empty());
        assert_consistent(&store);
        // Reopen agrees on the counters.
        drop(store);
        let store = Store::open(dir.path(), &options(100)).unwrap();
        assert_eq!(store.event_count_estimate(), left.len() as u64);
        assert_eq!(store.stored_block_bytes(), report.stored_block_bytes);
    }
}
