//! Forwarding: rules relay selected events to upstream syslog servers (a SIEM, a central
//! relay) over UDP, TCP or TLS, in RFC 5424 or RFC 3164, through a queue on disk that
//! outlives an upstream outage and a restart.
//!
//! Two sides per `[[forward]]`, meeting at its [`DiskQueue`] (store tree `forward/NAME`):
//!
//! - [`Forwarder`], on the store writer thread (`pipeline::RuleStage`): for every event whose
//!   rules listed the forward, [`format`] writes the message (from the stored fields, bounded
//!   by `max_message_bytes`), and each chunk's messages are appended in one batch. Never a
//!   socket, never a wait: durability is the store's (the next group commit). A full queue
//!   drops its oldest messages, counted in `trapline_forward_queue_dropped_total`.
//! - [`ForwardService`]: one tokio task per upstream (`sender`) reads the queue in order,
//!   sends, removes what was delivered, and reconnects with capped exponential backoff; after a
//!   restart it starts from whatever the queue still holds.
//!
//! Delivery is at least once over TCP and TLS: a message leaves the queue only once the
//! upstream's TCP stack has acknowledged its bytes (the socket's unacknowledged count,
//! `SIOCOUTQ`), so a connection that breaks loses nothing, and what was in flight is sent
//! again on the next connection — the upstream may see the last few messages twice. A crash
//! can also repeat messages sent since the last flush. UDP has no acknowledgement: a datagram
//! leaves the queue once sent. This module knows no rules (they give a [`ForwardSet`]) and no
//! sled (the store gives the queue).

pub mod format;
mod sender;
pub mod tls;

use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus::{IntCounter, IntGauge};
use tokio::sync::{Notify, watch};
use tracing::{error, info, warn};

use crate::config::ForwardSettings;
use crate::event::Event;
use crate::metrics::metrics;
use crate::rules::ForwardSet;
use crate::store::{DiskQueue, Store, StoreError};

/// Why forwarding cannot start (a configuration or store problem).
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// A TLS file or name of the forward cannot be used.
    #[error("forward {forward:?}: {detail}")]
    Tls { forward: String, detail: String },
    /// The forward's queue cannot be opened.
    #[error("forward {forward:?}: queue: {source}")]
    Queue {
        forward: String,
        #[source]
        source: StoreError,
    },
}

/// The `trapline_forward_*` series of one forward, looked up once.
#[derive(Clone)]
struct ForwardMetrics {
    sent: IntCounter,
    queue_depth: IntGauge,
    dropped: IntCounter,
    errors: IntCounter,
    up: IntGauge,
}

impl ForwardMetrics {
    fn new(name: &str) -> ForwardMetrics {
        let m = metrics();
        ForwardMetrics {
            sent: m.forward_sent.with_label_values(&[name]),
            queue_depth: m.forward_queue_depth.with_label_values(&[name]),
            dropped: m.forward_queue_dropped.with_label_values(&[name]),
            errors: m.forward_errors.with_label_values(&[name]),
            up: m.forward_up.with_label_values(&[name]),
        }
    }
}

/// One upstream as both sides see it.
#[derive(Clone)]
struct Upstream {
    settings: Arc<ForwardSettings>,
    queue: DiskQueue,
    /// Rung by the writer after each append, so an idle sender starts at once.
    wake: Arc<Notify>,
    metrics: ForwardMetrics,
}

/// The writer thread's side: formats and queues the events rules selected.
pub struct Forwarder {
    upstreams: Vec<Upstream>,
    /// Messages of the chunk being qualified, per upstream, appended by [`Forwarder::commit`].
    pending: Vec<Vec<Vec<u8>>>,
    /// When each upstream's queue last logged dropping (at most once a minute).
    drop_logged: Vec<Option<Instant>>,
}

/// How often a full queue says so in the log (it counts every message).
const DROP_LOG_EVERY: Duration = Duration::from_secs(60);

impl Forwarder {
    /// A forwarder with no upstream (no `[[forward]]` configured).
    pub fn none() -> Forwarder {
        Forwarder {
            upstreams: Vec::new(),
            pending: Vec::new(),
            drop_logged: Vec::new(),
        }
    }

    /// True when there is no upstream.
    pub fn is_empty(&self) -> bool {
        self.upstreams.is_empty()
    }

    /// Formats `event` for each forward of `set` (positions in the config); queued by the next
    /// [`Forwarder::commit`].
    pub fn stage(&mut self, event: &Event, set: ForwardSet) {
        for index in set.indices() {
            let Some(upstream) = self.upstreams.get(index) else {
                continue;
            };
            let settings = &upstream.settings;
            let mut message = Vec::new();
            format::format_event(
                event,
                settings.format,
                settings.max_message_bytes,
                &mut message,
            );
            self.pending[index].push(message);
        }
    }

    /// Appends the staged messages to their queues (one batch per queue) and wakes the
    /// senders. A queue that cannot be written drops the messages and counts them.
    pub fn commit(&mut self) {
        for (index, upstream) in self.upstreams.iter().enumerate() {
            let pending = &mut self.pending[index];
            if pending.is_empty() {
                continue;
            }
            let name = upstream.settings.name.as_str();
            let dropped = match upstream.queue.append(pending) {
                Ok(appended) => appended.dropped,
                Err(error) => {
                    error!(forward = name, %error, messages = pending.len(), "Could not queue messages for the upstream; they are dropped.");
                    pending.len() as u64
                }
            };
            pending.clear();
            if dropped > 0 {
                upstream.metrics.dropped.inc_by(dropped);
                let logged = &mut self.drop_logged[index];
                if logged.is_none_or(|at| at.elapsed() >= DROP_LOG_EVERY) {
                    *logged = Some(Instant::now());
                    warn!(
                        forward = name,
                        dropped,
                        queue_bytes = upstream.queue.bytes(),
                        "The forward queue is full: its oldest messages were dropped (trapline_forward_queue_dropped_total counts them)."
                    );
                }
            }
            upstream
                .metrics
                .queue_depth
                .set(i64::try_from(upstream.queue.len()).unwrap_or(i64::MAX));
            upstream.wake.notify_one();
        }
    }
}

/// The sender tasks, one per upstream.
pub struct ForwardService {
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// How long a graceful stop waits for the senders (which wait briefly for the upstream's
/// acknowledgements of what is in flight).
const STOP_WAIT: Duration = Duration::from_secs(5);

impl ForwardService {
    /// Stops the senders; what they have not delivered stays queued for the next start.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let abort = task.abort_handle();
            if tokio::time::timeout(STOP_WAIT, task).await.is_err() {
                abort.abort();
                warn!("A forward sender did not stop in time; its queue is kept.");
            }
        }
    }
}

/// Builds the TLS clients of every `tls` forward; the problems, for `check-config`.
pub fn check(forwards: &[ForwardSettings]) -> Vec<ForwardError> {
    forwards
        .iter()
        .filter_map(|f| tls::client(&f.name, f.tls.as_ref()?).err())
        .collect()
}

/// Opens each forward's queue and starts its sender on the current tokio runtime. Returns
/// the writer's side and the service. Queues in the store of forwards no longer configured
/// are kept and reported.
pub fn start(
    store: &Store,
    forwards: &[ForwardSettings],
) -> Result<(Forwarder, ForwardService), ForwardError> {
    let mut clients = Vec::with_capacity(forwards.len());
    for settings in forwards {
        let client = match &settings.tls {
            Some(tls) => Some(tls::client(&settings.name, tls)?),
            None => None,
        };
        clients.push(client);
    }
    let mut upstreams = Vec::with_capacity(forwards.len());
    for settings in forwards {
        let queue = store
            .forward_queue(&settings.name, settings.queue_max_bytes)
            .map_err(|source| ForwardError::Queue {
                forward: settings.name.clone(),
                source,
            })?;
        let metrics = ForwardMetrics::new(&settings.name);
        metrics
            .queue_depth
            .set(i64::try_from(queue.len()).unwrap_or(i64::MAX));
        info!(
            forward = %settings.name,
            address = %format!("{}:{}", settings.host, settings.port),
            protocol = settings.protocol.as_str(),
            queued = queue.len(),
            "Forward ready."
        );
        upstreams.push(Upstream {
            settings: Arc::new(settings.clone()),
            queue,
            wake: Arc::new(Notify::new()),
            metrics,
        });
    }
    report_orphan_queues(store, forwards);
    let (stop, stop_rx) = watch::channel(false);
    let tasks = upstreams
        .iter()
        .zip(clients)
        .map(|(upstream, client)| {
            tokio::spawn(sender::run(upstream.clone(), client, stop_rx.clone()))
        })
        .collect();
    let forwarder = Forwarder {
        pending: vec![Vec::new(); upstreams.len()],
        drop_logged: vec![None; upstreams.len()],
        upstreams,
    };
    Ok((forwarder, ForwardService { stop, tasks }))
}

/// Warns about messages queued for forwards the config no longer has (kept, not deleted: the
/// forward may come back under its name).
fn report_orphan_queues(store: &Store, forwards: &[ForwardSettings]) {
    match store.forward_queues() {
        Ok(queues) => {
            for (name, len) in queues {
                if !forwards.iter().any(|f| f.name == name) {
                    warn!(forward = %name, messages = len, "Messages are queued for a forward that is not configured; they stay until it is again.");
                }
            }
        }
        Err(error) => warn!(%error, "Cannot list the forward queues."),
    }
}
