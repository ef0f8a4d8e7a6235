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
                let oldest = self.oldest_blocks(BATCH_BLOCKS)?;
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

    fn oldest_blocks(&self, n: usize) -> Result<Vec<u64>, StoreError> {
        let mut keys = Vec::with_capacity(n);
        for item in self.inner.blocks.iter().keys().take(n) {
            keys.extend(key_u64(&item?));
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
