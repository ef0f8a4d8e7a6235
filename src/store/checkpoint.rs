//! Checkpoints: a way for another thread (a backup) to have the writer thread make everything
//! it holds in memory durable, at a point between two chunks.
//!
//! The writer keeps an open block of events, and its stage (alerts, equipment) keeps changes it
//! writes on its own cadence. [`Store::checkpoint`] posts a request; [`run_writer_with`] answers
//! it between chunks: the stage persists, the open block is sealed, sled flushes, and the
//! requester gets the next event id. Every event with a smaller id is then in a sealed, durable
//! block, and every alert change those events caused is written. When no writer loop runs (an
//! offline command), the requester flushes by itself.
//!
//! This module does not decide what a backup contains (see `backup`).
//!
//! [`run_writer_with`]: super::run_writer_with

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use super::{Store, StoreError};

/// Pending checkpoint requests; one per store.
#[derive(Default)]
pub(super) struct Checkpoints {
    /// Set by a requester; the writer loop checks it (one atomic load per loop).
    wanted: AtomicBool,
    /// A writer loop runs and answers requests.
    served: AtomicBool,
    waiting: Mutex<Vec<mpsc::SyncSender<Result<u64, String>>>>,
}

impl Checkpoints {
    fn take_waiting(&self) -> Vec<mpsc::SyncSender<Result<u64, String>>> {
        std::mem::take(
            &mut *self
                .waiting
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }
}

impl Store {
    /// Makes everything appended so far durable and returns the next event id: every event
    /// with a smaller id is in a sealed, flushed block, and the writer's stage has written
    /// what it kept in memory about those events. Waits at most `timeout` for the writer.
    pub fn checkpoint(&self, timeout: Duration) -> Result<u64, StoreError> {
        let points = &self.inner.checkpoints;
        if !points.served.load(Ordering::Acquire) {
            return self.checkpoint_here();
        }
        let (tx, rx) = mpsc::sync_channel(1);
        points
            .waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(tx);
        points.wanted.store(true, Ordering::Release);
        let started = Instant::now();
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(answer) => return answer.map_err(StoreError::Checkpoint),
                Err(mpsc::RecvTimeoutError::Disconnected) => return self.checkpoint_here(),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    // The writer loop ended between our check and our request.
                    if !points.served.load(Ordering::Acquire) {
                        return self.checkpoint_here();
                    }
                    if started.elapsed() >= timeout {
                        return Err(StoreError::Checkpoint(format!(
                            "the store writer did not answer within {timeout:?}"
                        )));
                    }
                }
            }
        }
    }

    /// No writer loop: nothing is held in memory but what sled has not flushed.
    fn checkpoint_here(&self) -> Result<u64, StoreError> {
        self.flush()?;
        Ok(self.inner.next_id.load(Ordering::Acquire))
    }

    /// For the writer loop: from now on it answers checkpoints (`true`), or it has stopped
    /// (`false`: everything is flushed; whoever still waits is answered).
    pub(super) fn serve_checkpoints(&self, serving: bool) {
        let points = &self.inner.checkpoints;
        points.served.store(serving, Ordering::Release);
        if !serving {
            let next_id = self.inner.next_id.load(Ordering::Acquire);
            for tx in points.take_waiting() {
                let _ = tx.try_send(Ok(next_id));
            }
        }
    }

    /// For the writer loop: whether a checkpoint was asked for since the last answer.
    pub(super) fn checkpoint_wanted(&self) -> bool {
        self.inner.checkpoints.wanted.load(Ordering::Acquire)
            && self.inner.checkpoints.wanted.swap(false, Ordering::AcqRel)
    }

    /// For the writer loop: answers everyone waiting with the result of its checkpoint.
    pub(super) fn answer_checkpoints(&self, result: Result<u64, StoreError>) {
        let answer = result.map_err(|e| e.to_string());
        for tx in self.inner.checkpoints.take_waiting() {
            let _ = tx.try_send(answer.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{all, options, synthetic};
    use super::super::{ChunkStage, Store, run_writer_with};
    use crate::config::SourceTable;
    use crate::event::{Event, now_ns};
    use crate::normalize::{LevelTable, Normalizer};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    /// Counts checkpoints, to see the stage is asked to persist.
    struct Counting(Arc<AtomicU64>);

    impl ChunkStage for Counting {
        fn before_store(&mut self, _: &mut Vec<Event>) {}
        fn after_store(&mut self, _: &[Event]) {}
        fn tick(&mut self) {}
        fn checkpoint(&mut self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
        fn close(&mut self) {}
    }

    #[test]
    fn checkpoint_seals_the_open_block_and_returns_the_next_id() {
        let dir = tempfile::tempdir().unwrap();
        // Blocks that never seal by age: only the checkpoint can make these events visible.
        let opts = super::super::StoreOptions {
            block_max_age: Duration::from_secs(3600),
            ..options(10_000)
        };
        let store = Store::open(dir.path(), &opts).unwrap();
        let normalizer = Normalizer::new(SourceTable::new(Vec::new()), LevelTable::default());
        let (ingest, receiver) = crate::ingest::channel(normalizer, 100_000);
        let calls = Arc::new(AtomicU64::new(0));
        let thread = {
            let store = store.clone();
            let mut stage = Counting(calls.clone());
            std::thread::spawn(move || run_writer_with(store, receiver, &mut stage))
        };
        ingest
            .try_submit((0..25).map(|i| synthetic(i, now_ns())).collect())
            .unwrap();
        // The chunk may not have been taken yet; the checkpoint covers what the writer has.
        let mut next = store.checkpoint(Duration::from_secs(30)).unwrap();
        while next < 26 {
            next = store.checkpoint(Duration::from_secs(30)).unwrap();
        }
        assert_eq!(next, 26);
        assert_eq!(all(&store).len(), 25, "the open block was sealed");
        assert!(calls.load(Ordering::Relaxed) >= 1, "the stage persisted");
        drop(ingest);
        thread.join().unwrap();
        // No writer loop any more: the requester flushes by itself.
        assert_eq!(store.checkpoint(Duration::from_secs(1)).unwrap(), 26);
    }
}
