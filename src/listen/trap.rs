//! The SNMP trap listener: the shared UDP receive loop ([`super::udp`]) with a handler that runs
//! each datagram through the SNMP engine ([`crate::snmp::SnmpReceiver`]), answers informs and
//! discovery probes on the same socket, and turns accepted notifications into events.
//!
//! What is refused for authentication (community, USM user, digest, time window, decryption)
//! is counted in `trapline_traps_refused_total{reason}`, logged with rate limiting, and never
//! becomes an event. What is not a well-formed SNMP notification at all is stored raw and
//! counted in `trapline_parse_errors_total{kind="trap"}`, like undecodable syslog.
//!
//! An inform is acknowledged as soon as it is decoded, before its event is durable: holding the
//! Response until the group commit (≤ ~120 ms) would tie the listener to the store writer; the
//! window is the same one in which an acknowledged syslog TCP frame can be lost.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use socket2::Socket;
use tracing::warn;

use super::udp::{DatagramHandler, UdpListenerHandle, spawn_udp};
use super::{ListenError, LogLimiter};
use crate::config::IngestSettings;
use crate::event::Event;
use crate::ingest::Ingest;
use crate::metrics::metrics;
use crate::mib::MibSet;
use crate::normalize::trap::{trap_event, undecodable_trap_event};
use crate::snmp::{Refusal, SnmpReceiver};

/// The `listener` label and thread name of the trap listener.
const TRAP_LISTENER: &str = "trap-udp";
/// At most one warning of each kind per this interval.
const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Binds the trap socket and starts its receive thread.
pub fn spawn_udp_trap(
    addr: SocketAddr,
    settings: &IngestSettings,
    ingest: Arc<Ingest>,
    receiver: Arc<SnmpReceiver>,
    mibs: Arc<MibSet>,
    shutdown: Arc<AtomicBool>,
) -> Result<UdpListenerHandle, ListenError> {
    let handler = TrapHandler {
        receiver,
        mibs,
        refused_log: LogLimiter::new(LOG_INTERVAL),
        reply_log: LogLimiter::new(LOG_INTERVAL),
    };
    spawn_udp(TRAP_LISTENER, addr, settings, ingest, handler, shutdown)
}

struct TrapHandler {
    receiver: Arc<SnmpReceiver>,
    mibs: Arc<MibSet>,
    refused_log: LogLimiter,
    reply_log: LogLimiter,
}

/// Refusals that mean "not SNMP we can read" rather than "not authorized": kept raw.
fn is_undecodable(reason: Refusal) -> bool {
    matches!(
        reason,
        Refusal::Malformed
            | Refusal::Truncated
            | Refusal::TruncatedVarbinds
            | Refusal::NotANotification
            | Refusal::UnsupportedVersion
    )
}

impl DatagramHandler for TrapHandler {
    fn on_datagram(
        &mut self,
        payload: &[u8],
        peer: SocketAddr,
        received_at_ns: i64,
        socket: &Socket,
        chunk: &mut Vec<Event>,
    ) {
        let outcome = self.receiver.handle(payload, peer);
        if let Some(response) = &outcome.response
            && let Err(error) = socket.send_to(response, &peer.into())
            && let Some(suppressed) = self.reply_log.allow()
        {
            warn!(%error, %peer, suppressed, "Could not send an SNMP Response/Report.");
        }
        if let Some(trap) = outcome.trap {
            chunk.push(trap_event(&trap, peer, received_at_ns, &self.mibs));
            return;
        }
        let Some(reason) = outcome.refusal else {
            return; // a v3 discovery probe: answered, nothing to store
        };
        if is_undecodable(reason) {
            metrics().parse_errors.with_label_values(&["trap"]).inc();
            chunk.push(undecodable_trap_event(
                payload,
                peer,
                received_at_ns,
                reason.as_str(),
            ));
            return;
        }
        metrics()
            .traps_refused
            .with_label_values(&[reason.as_str()])
            .inc();
        if let Some(suppressed) = self.refused_log.allow() {
            warn!(%peer, reason = reason.as_str(), suppressed, "Refused an SNMP notification: {reason}.");
        }
    }
}
