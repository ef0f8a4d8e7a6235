//! Builds the [`Event`] of an SNMP notification: names from the MIBs, typed and rendered
//! varbinds, a one-line message, the host and a level.
//!
//! The protocol work (versions, USM, informs) is done before this by [`crate::snmp`]; this
//! module only turns a [`DecodedTrap`] into what operators read. It does no I/O.

use std::net::{IpAddr, SocketAddr};

use crate::event::{Event, EventKind, Level, Transport, TrapInfo, Varbind};
use crate::mib::MibSet;
use crate::snmp::{DecodedTrap, SnmpValue, oid_to_string};

/// snmpTrapAddress.0 (SNMP-COMMUNITY-MIB, RFC 3584 §3.1): the original agent's address, which
/// proxies and v1→v2 translators add; it names the device better than the UDP sender.
const SNMP_TRAP_ADDRESS: &[u32] = &[1, 3, 6, 1, 6, 3, 18, 1, 3, 0];
/// snmpTraps (SNMPv2-MIB): the generic notifications 1 coldStart … 5 authenticationFailure.
const SNMP_TRAPS: &[u32] = &[1, 3, 6, 1, 6, 3, 1, 1, 5];

/// Longest rendered value kept in the one-line message (the varbind keeps the whole value).
const MAX_MESSAGE_VALUE_CHARS: usize = 256;

/// The level a trap gets until the rule engine assigns levels: the contract's default pack.
///
/// linkDown → warning; coldStart, warmStart, authenticationFailure → low; linkUp → none; any
/// other notification → low (an unknown trap is worth a look, not a page).
pub fn default_trap_level(trap_oid: &[u32]) -> Level {
    match trap_oid.strip_prefix(SNMP_TRAPS) {
        Some([3]) => Level::Warning,
        Some([4]) => Level::None,
        Some([1]) | Some([2]) | Some([5]) => Level::Low,
        _ => Level::Low,
    }
}

/// Renders a value for people: OCTET STRING as text when printable, else hex; enumerated
/// integers through the MIB (`down(2)`).
pub fn render_value(mibs: &MibSet, oid: &[u32], value: &SnmpValue) -> String {
    match value {
        SnmpValue::Integer32(n) => mibs
            .format_value(oid, i64::from(*n))
            .unwrap_or_else(|| n.to_string()),
        SnmpValue::OctetString(bytes) => render_octets(bytes),
        SnmpValue::ObjectIdentifier(target) => match mibs.name_of(target) {
            Some(name) => name.to_string(),
            None => oid_to_string(target),
        },
        other => other.to_string(),
    }
}

/// Printable UTF-8 (TAB/CR/LF allowed) as text, anything else as `de:ad:be:ef`.
pub fn render_octets(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text)
            if text
                .chars()
                .all(|c| !c.is_control() || matches!(c, '\t' | '\r' | '\n')) =>
        {
            text.to_string()
        }
        _ => bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
    }
}

/// The host a trap is about: v1 agent-addr, else snmpTrapAddress.0, else the sender.
fn trap_host(trap: &DecodedTrap, peer: SocketAddr) -> String {
    if let Some(v1) = &trap.v1
        && !v1.agent_addr.is_unspecified()
    {
        return v1.agent_addr.to_string();
    }
    trap.varbinds
        .iter()
        .find_map(|(oid, value)| match value {
            SnmpValue::IpAddress(ip) if oid.as_slice() == SNMP_TRAP_ADDRESS => {
                Some(IpAddr::V4(*ip).to_string())
            }
            _ => None,
        })
        .unwrap_or_else(|| peer.ip().to_string())
}

/// Builds the event of a notification that passed every check.
pub fn trap_event(
    trap: &DecodedTrap,
    peer: SocketAddr,
    received_at_ns: i64,
    mibs: &MibSet,
) -> Event {
    let mut event = Event::new(received_at_ns, peer, Transport::Udp, EventKind::Trap);
    event.host = trap_host(trap, peer);
    let trap_name = mibs.name_of(&trap.trap_oid);
    let short_trap_name = trap_name
        .as_ref()
        .map(|n| n.short())
        .unwrap_or_else(|| oid_to_string(&trap.trap_oid));

    let mut message = short_trap_name.clone();
    let mut varbinds = Vec::with_capacity(trap.varbinds.len());
    for (oid, value) in &trap.varbinds {
        let name = mibs.name_of(oid);
        let rendered = render_value(mibs, oid, value);
        let label = name
            .as_ref()
            .map(|n| n.name.clone())
            .unwrap_or_else(|| oid_to_string(oid));
        message.push(' ');
        message.push_str(&label);
        message.push('=');
        message.extend(rendered.chars().take(MAX_MESSAGE_VALUE_CHARS));
        varbinds.push(Varbind {
            oid: oid_to_string(oid),
            name: name.map(|n| n.short()),
            value_type: value.type_name().to_string(),
            value: rendered,
        });
    }
    event.message = message;
    event.level = default_trap_level(&trap.trap_oid);
    event.trap = Some(TrapInfo {
        version: trap.version.as_str().to_string(),
        community: trap.community.clone(),
        user: trap.user.clone(),
        trap_oid: oid_to_string(&trap.trap_oid),
        trap_name: trap_name.map(|n| n.to_string()),
        agent: Some(
            trap.v1
                .as_ref()
                .map_or_else(|| peer.ip().to_string(), |v1| v1.agent_addr.to_string()),
        ),
        uptime: trap.uptime.map(u64::from),
        varbinds,
    });
    event
}

/// The event of a datagram on the trap port that is not a well-formed SNMP message: stored raw
/// (and counted by the caller) so nothing is lost, with level `none`.
pub fn undecodable_trap_event(
    payload: &[u8],
    peer: SocketAddr,
    received_at_ns: i64,
    reason: &str,
) -> Event {
    let mut event = Event::new(received_at_ns, peer, Transport::Udp, EventKind::Trap);
    event.message = format!(
        "undecodable SNMP datagram ({reason}, {} bytes)",
        payload.len()
    );
    event.raw = Some(payload.to_vec());
    event
}
