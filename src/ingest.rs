//! The bounded hand-off between the listeners and the store writer.
//!
//! Listeners decode inline (the cheap work stays on the thread that read the bytes) and hand
//! events over in chunks, never one by one: a cross-thread hand-off costs microseconds, so it is
//! paid once per receive batch. The queue is bounded in *events* by a semaphore: a UDP listener
//! that finds it full drops the chunk and counts it (`trapline_events_dropped_total{reason=
//! "queue_full"}`), because blocking would only move the loss into the kernel where nobody counts
//! it; a TCP connection instead waits, which pushes back on the sender through TCP flow control.
//!
//! This module does no decoding and no storage; it only moves `Vec<Event>` chunks.

use std::net::SocketAddr;
use std::sync::Arc;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use tokio::sync::Semaphore;

use crate::event::{Event, Transport};
use crate::metrics::metrics;
use crate::normalize::Normalizer;

/// A chunk of events travelling to the store writer, with its queue permits.
pub struct Chunk {
    pub events: Vec<Event>,
    permits: u32,
}

/// The sending side, shared by every listener.
pub struct Ingest {
    normalizer: Normalizer,
    tx: Sender<Chunk>,
    room: Arc<Semaphore>,
    capacity: usize,
}

/// The receiving side, owned by the store writer.
pub struct IngestReceiver {
    rx: Receiver<Chunk>,
    room: Arc<Semaphore>,
}

/// What [`IngestReceiver::poll`] found.
pub enum Polled {
    Chunk(Chunk),
    Empty,
    Closed,
}

/// Why a chunk could not be queued.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SubmitError {
    #[error("ingest queue full")]
    QueueFull,
    #[error("ingest queue closed (shutting down)")]
    Closed,
}

/// Creates the queue, bounded at `capacity_events` waiting events.
pub fn channel(normalizer: Normalizer, capacity_events: usize) -> (Ingest, IngestReceiver) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let capacity = capacity_events.clamp(1, Semaphore::MAX_PERMITS);
    let room = Arc::new(Semaphore::new(capacity));
    (
        Ingest {
            normalizer,
            tx,
            room: room.clone(),
            capacity,
        },
        IngestReceiver { rx, room },
    )
}

impl Ingest {
    /// The normalizer listeners use to turn bytes into events.
    pub fn normalizer(&self) -> &Normalizer {
        &self.normalizer
    }

    /// Decodes one syslog datagram or frame (never fails: what does not parse is kept raw).
    pub fn syslog_event(
        &self,
        bytes: &[u8],
        peer: SocketAddr,
        transport: Transport,
        received_at_ns: i64,
    ) -> Event {
        self.normalizer
            .syslog(bytes, peer, transport, received_at_ns)
    }

    /// Queues a chunk without waiting; on a full queue the chunk is dropped and counted.
    pub fn try_submit(&self, events: Vec<Event>) -> Result<(), SubmitError> {
        if events.is_empty() {
            return Ok(());
        }
        let n = events.len();
        let permits = u32::try_from(n.min(self.capacity)).unwrap_or(u32::MAX);
        match self.room.try_acquire_many(permits) {
            Ok(permit) => {
                permit.forget();
                self.send(events, permits)
            }
            Err(tokio::sync::TryAcquireError::NoPermits) => {
                metrics()
                    .events_dropped
                    .with_label_values(&["queue_full"])
                    .inc_by(n as u64);
                Err(SubmitError::QueueFull)
            }
            Err(tokio::sync::TryAcquireError::Closed) => {
                metrics()
                    .events_dropped
                    .with_label_values(&["shutdown"])
                    .inc_by(n as u64);
                Err(SubmitError::Closed)
            }
        }
    }

    /// Queues a chunk, waiting for room (used by TCP, which can push back on its sender).
    pub async fn submit(&self, events: Vec<Event>) -> Result<(), SubmitError> {
        if events.is_empty() {
            return Ok(());
        }
        let permits = u32::try_from(events.len().min(self.capacity)).unwrap_or(u32::MAX);
        match self.room.acquire_many(permits).await {
            Ok(permit) => {
                permit.forget();
                self.send(events, permits)
            }
            Err(_) => {
                metrics()
                    .events_dropped
                    .with_label_values(&["shutdown"])
                    .inc_by(events.len() as u64);
                Err(SubmitError::Closed)
            }
        }
    }

    fn send(&self, events: Vec<Event>, permits: u32) -> Result<(), SubmitError> {
        let n = events.len();
        metrics().ingest_queue_depth.add(n as i64);
        self.tx.send(Chunk { events, permits }).map_err(|lost| {
            metrics().ingest_queue_depth.sub(n as i64);
            metrics()
                .events_dropped
                .with_label_values(&["shutdown"])
                .inc_by(lost.0.events.len() as u64);
            SubmitError::Closed
        })
    }
}

impl IngestReceiver {
    /// Takes the next chunk, waiting up to `timeout`: `Ok(None)` on time-out, `Err(())` once
    /// every sender is gone and the queue is empty.
    #[allow(clippy::result_unit_err)]
    pub fn recv_timeout(&mut self, timeout: std::time::Duration) -> Result<Option<Chunk>, ()> {
        match self.rx.recv_timeout(timeout) {
            Ok(chunk) => Ok(Some(self.release(chunk))),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(()),
        }
    }

    /// Takes a chunk without waiting, telling an empty queue from a closed one (every sender
    /// gone and nothing left).
    pub fn poll(&mut self) -> Polled {
        match self.rx.try_recv() {
            Ok(chunk) => Polled::Chunk(self.release(chunk)),
            Err(crossbeam_channel::TryRecvError::Empty) => Polled::Empty,
            Err(crossbeam_channel::TryRecvError::Disconnected) => Polled::Closed,
        }
    }

    /// Takes a chunk if one is waiting.
    pub fn try_recv(&mut self) -> Option<Chunk> {
        self.rx.try_recv().ok().map(|chunk| self.release(chunk))
    }

    fn release(&self, chunk: Chunk) -> Chunk {
        metrics().ingest_queue_depth.sub(chunk.events.len() as i64);
        self.room.add_permits(chunk.permits as usize);
        chunk
    }
}
