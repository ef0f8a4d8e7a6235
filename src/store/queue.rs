//! Disk-backed FIFO queues of opaque messages, bounded in bytes: what `crate::forward` keeps
//! for an upstream until it has taken them.
//!
//! One sled tree per queue (`forward/NAME`), keys are sequence numbers (u64 big-endian, so key
//! order is arrival order), values the messages. The store writer thread appends (one sled
//! batch per call, no flush of its own: the store's group commit, or sled's periodic flush,
//! makes it durable — see `ARCHITECTURE.md`); a sender reads in order from any position and
//! removes what it delivered. When an append would pass the byte bound, the oldest messages
//! go first and are reported to the caller, which counts them: nothing leaves silently.
//!
//! Both sides remove from the head (the sender what it delivered, an append what overflows);
//! each side counts only what its own removal returned, so the byte and length figures stay
//! exact without a lock between them. This module does not interpret the messages.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::{Store, StoreError, key_u64};

/// One queue; cheap to clone (the writer and the sender share it).
#[derive(Clone)]
pub struct DiskQueue {
    inner: Arc<QueueInner>,
}

struct QueueInner {
    tree: sled::Tree,
    max_bytes: u64,
    /// The next sequence number; the lock also serializes appends.
    next_seq: Mutex<u64>,
    /// Sum of the stored messages' lengths.
    bytes: AtomicU64,
    /// Messages stored.
    len: AtomicU64,
}

/// What an append did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Messages now in the queue from this call.
    pub added: u64,
    /// Messages dropped to stay within the bound (older queued ones first, then the oldest
    /// of this call when the call alone does not fit).
    pub dropped: u64,
}

impl Store {
    /// The queue of forward `name` (tree `forward/NAME`), created on first use, holding at
    /// most `max_bytes` of messages. Opening counts what an earlier run left in it.
    pub fn forward_queue(&self, name: &str, max_bytes: u64) -> Result<DiskQueue, StoreError> {
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !valid {
            return Err(StoreError::BadQueueName(name.to_string()));
        }
        let tree = self.inner.db.open_tree(format!("forward/{name}"))?;
        let (mut bytes, mut len) = (0u64, 0u64);
        for item in tree.iter() {
            let (_, value) = item?;
            bytes += value.len() as u64;
            len += 1;
        }
        let next_seq = match tree.last()? {
            Some((key, _)) => key_u64(&key).map_or(1, |k| k.saturating_add(1)),
            None => 1,
        };
        Ok(DiskQueue {
            inner: Arc::new(QueueInner {
                tree,
                max_bytes,
                next_seq: Mutex::new(next_seq),
                bytes: AtomicU64::new(bytes),
                len: AtomicU64::new(len),
            }),
        })
    }

    /// Names of the forward queues in the store that hold messages, with their lengths (to
    /// warn about queues of forwards no longer configured).
    pub fn forward_queues(&self) -> Result<Vec<(String, usize)>, StoreError> {
        let mut queues = Vec::new();
        for name in self.inner.db.tree_names() {
            let Some(queue) = name.strip_prefix(b"forward/") else {
                continue;
            };
            let len = self.inner.db.open_tree(&name)?.len();
            if len > 0 {
                queues.push((String::from_utf8_lossy(queue).into_owned(), len));
            }
        }
        Ok(queues)
    }
}

impl DiskQueue {
    /// Appends `messages` in order, dropping the oldest as needed to stay within the bound.
    pub fn append(&self, messages: &[Vec<u8>]) -> Result<Appended, StoreError> {
        let inner = &*self.inner;
        let mut next_seq = inner
            .next_seq
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // The newest messages that fit in the bound on their own.
        let mut incoming = 0u64;
        let keep_from = messages
            .iter()
            .rposition(|m| {
                incoming += m.len() as u64;
                incoming > inner.max_bytes
            })
            .map_or(0, |i| i + 1);
        let kept = &messages[keep_from..];
        let incoming: u64 = kept.iter().map(|m| m.len() as u64).sum();
        let mut dropped = keep_from as u64;
        while inner.bytes.load(Ordering::Acquire) + incoming > inner.max_bytes {
            match inner.tree.pop_min()? {
                Some((_, value)) => {
                    inner.bytes.fetch_sub(value.len() as u64, Ordering::AcqRel);
                    inner.len.fetch_sub(1, Ordering::AcqRel);
                    dropped += 1;
                }
                None => break,
            }
        }
        let mut batch = sled::Batch::default();
        for message in kept {
            batch.insert(&next_seq.to_be_bytes(), message.as_slice());
            *next_seq += 1;
        }
        inner.tree.apply_batch(batch)?;
        inner.bytes.fetch_add(incoming, Ordering::AcqRel);
        inner.len.fetch_add(kept.len() as u64, Ordering::AcqRel);
        Ok(Appended {
            added: kept.len() as u64,
            dropped,
        })
    }

    /// Up to `max_messages` messages (and about `max_bytes`, at least one) with sequence
    /// numbers from `from` on, in order.
    pub fn read_from(
        &self,
        from: u64,
        max_messages: usize,
        max_bytes: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for item in self.inner.tree.range(from.to_be_bytes()..) {
            let (key, value) = item?;
            let Some(seq) = key_u64(&key) else { continue };
            if out.len() >= max_messages || (!out.is_empty() && bytes + value.len() > max_bytes) {
                break;
            }
            bytes += value.len();
            out.push((seq, value.to_vec()));
        }
        Ok(out)
    }

    /// Removes every message up to and including sequence number `seq` (what was
    /// delivered); returns how many were still there.
    pub fn remove_through(&self, seq: u64) -> Result<u64, StoreError> {
        let inner = &*self.inner;
        let mut removed = 0;
        for key in inner.tree.range(..=seq.to_be_bytes()).keys() {
            if let Some(value) = inner.tree.remove(key?)? {
                inner.bytes.fetch_sub(value.len() as u64, Ordering::AcqRel);
                inner.len.fetch_sub(1, Ordering::AcqRel);
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// The sequence number of the oldest message; 0 when the queue is empty.
    pub fn first_seq(&self) -> Result<u64, StoreError> {
        Ok(self
            .inner
            .tree
            .first()?
            .and_then(|(key, _)| key_u64(&key))
            .unwrap_or(0))
    }

    /// Messages in the queue.
    pub fn len(&self) -> u64 {
        self.inner.len.load(Ordering::Acquire)
    }

    /// True when the queue holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of messages in the queue.
    pub fn bytes(&self) -> u64 {
        self.inner.bytes.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Store, StoreOptions};
    use super::*;

    fn message(i: u32) -> Vec<u8> {
        format!("message {i:04}").into_bytes() // 12 bytes
    }

    fn seqs_and_texts(queue: &DiskQueue) -> Vec<(u64, String)> {
        queue
            .read_from(0, usize::MAX, usize::MAX)
            .unwrap()
            .into_iter()
            .map(|(seq, m)| (seq, String::from_utf8(m).unwrap()))
            .collect()
    }

    #[test]
    fn appends_read_in_order_from_any_position_and_removal_acknowledges() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &StoreOptions::default()).unwrap();
        let queue = store.forward_queue("siem", 1 << 20).unwrap();
        assert!(queue.is_empty());
        assert_eq!(queue.first_seq().unwrap(), 0);
        let added = queue
            .append(&(0..10).map(message).collect::<Vec<_>>())
            .unwrap();
        assert_eq!(
            added,
            Appended {
                added: 10,
                dropped: 0
            }
        );
        assert_eq!((queue.len(), queue.bytes()), (10, 120));
        let first = queue
            .read_from(queue.first_seq().unwrap(), 4, usize::MAX)
            .unwrap();
        assert_eq!(
            first.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
        // Reading does not remove; a reader can go on past what it has not acknowledged yet.
        let next = queue.read_from(5, 100, 30).unwrap();
        assert_eq!(next.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [5, 6]);
        assert_eq!(queue.read_from(5, 100, 1).unwrap().len(), 1, "at least one");
        assert_eq!(queue.remove_through(4).unwrap(), 4);
        assert_eq!(
            queue.remove_through(4).unwrap(),
            0,
            "removing twice is harmless"
        );
        assert_eq!(
            (queue.len(), queue.bytes(), queue.first_seq().unwrap()),
            (6, 72, 5)
        );
        assert_eq!(seqs_and_texts(&queue)[0], (5, "message 0004".to_string()));
    }

    #[test]
    fn the_bound_drops_the_oldest_and_says_how_many() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &StoreOptions::default()).unwrap();
        // Room for 5 messages of 12 bytes.
        let queue = store.forward_queue("small", 60).unwrap();
        let batch = |range: std::ops::Range<u32>| range.map(message).collect::<Vec<_>>();
        assert_eq!(queue.append(&batch(0..4)).unwrap().dropped, 0);
        assert_eq!(
            queue.append(&batch(4..7)).unwrap(),
            Appended {
                added: 3,
                dropped: 2
            }
        );
        let texts: Vec<String> = seqs_and_texts(&queue).into_iter().map(|(_, t)| t).collect();
        assert_eq!(
            texts,
            (2..7)
                .map(|i| format!("message {i:04}"))
                .collect::<Vec<_>>()
        );
        // A batch larger than the whole bound keeps only its newest messages.
        assert_eq!(
            queue.append(&batch(7..15)).unwrap(),
            Appended {
                added: 5,
                dropped: 8
            }
        );
        let kept = seqs_and_texts(&queue);
        assert_eq!(kept.first().unwrap(), &(8, "message 0010".to_string()));
        assert_eq!(kept.last().unwrap(), &(12, "message 0014".to_string()));
        assert_eq!((queue.len(), queue.bytes()), (5, 60));
    }

    #[test]
    fn a_reopened_queue_keeps_its_messages_and_continues_the_sequence() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path(), &StoreOptions::default()).unwrap();
            let queue = store.forward_queue("siem", 1 << 20).unwrap();
            queue
                .append(&(0..3).map(message).collect::<Vec<_>>())
                .unwrap();
            queue.remove_through(1).unwrap();
            store.forward_queue("empty", 1 << 20).unwrap();
            assert!(store.forward_queue("bad/name", 1).is_err());
        }
        let store = Store::open(dir.path(), &StoreOptions::default()).unwrap();
        assert_eq!(store.forward_queues().unwrap(), [("siem".to_string(), 2)]);
        let queue = store.forward_queue("siem", 1 << 20).unwrap();
        assert_eq!((queue.len(), queue.bytes()), (2, 24));
        queue.append(&[message(3)]).unwrap();
        assert_eq!(
            seqs_and_texts(&queue),
            [
                (2, "message 0001".to_string()),
                (3, "message 0002".to_string()),
                (4, "message 0003".to_string())
            ]
        );
    }
}
