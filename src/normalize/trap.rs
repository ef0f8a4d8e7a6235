//! Builds the [`Event`] of an SNMP notification: names from the MIBs, typed and rendered
//! varbinds, a one-line message, the host and a level.
//!
//! The protocol work (versions, USM, informs) is done before this by [`crate::snmp`]; this
//! module only turns a [`DecodedTrap`] into what operators read. It does no I/O.

use std::net::{IpAddr, SocketAddr};

use crate::event::{Event, EventKind, Level, Transport, TrapInfo, Varbind};
use crate::mib::{BaseType, MibNode, MibSet};
use crate::snmp::{DecodedTrap, SnmpValue, oid_to_string, push_arc, push_oid};

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
    render_with_node(mibs, mibs.longest_prefix(oid).map(|(node, _)| node), value)
}

/// [`render_value`] with the MIB node of the varbind already looked up.
fn render_with_node(mibs: &MibSet, node: Option<&MibNode>, value: &SnmpValue) -> String {
    match value {
        SnmpValue::Integer32(n) => node
            .and_then(|node| node.syntax.as_ref())
            .filter(|syntax| syntax.base == BaseType::Integer)
            .and_then(|syntax| syntax.enums.get(&i64::from(*n)))
            .map_or_else(|| n.to_string(), |label| format!("{label}({n})")),
        SnmpValue::OctetString(bytes) => render_octets(bytes),
        SnmpValue::ObjectIdentifier(target) => match mibs.name_of(target) {
            Some(name) => name.to_string(),
            None => oid_to_string(target),
        },
        other => other.to_string(),
    }
}

/// The first `max` characters of `text` (a slice, no copy).
fn truncate_chars(text: &str, max: usize) -> &str {
    text.char_indices()
        .nth(max)
        .map_or(text, |(at, _)| &text[..at])
}

/// `ifDescr.2` from the node `ifDescr` and the suffix `[2]`.
fn short_name(node: &MibNode, suffix: &[u32]) -> String {
    let mut name = String::with_capacity(node.name.len() + 4 * suffix.len());
    name.push_str(&node.name);
    for &arc in suffix {
        name.push('.');
        push_arc(&mut name, arc);
    }
    name
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
        _ => hex_colon(bytes),
    }
}

/// `de:ad:be:ef`, written into one string.
fn hex_colon(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, &b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

/// The host a trap is about: v1 agent-addr, else snmpTrapAddress.0, else the sender
/// (`sender`: its address, already formatted).
fn trap_host(trap: &DecodedTrap, sender: &str) -> String {
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
        .unwrap_or_else(|| sender.to_string())
}

/// Builds the event of a notification that passed every check.
pub fn trap_event(
    trap: &DecodedTrap,
    peer: SocketAddr,
    received_at_ns: i64,
    mibs: &MibSet,
) -> Event {
    let sender = peer.ip().to_string();
    let host = trap_host(trap, &sender);
    let mut event = Event::with_host(received_at_ns, peer, Transport::Udp, EventKind::Trap, host);
    let trap_node = mibs.longest_prefix(&trap.trap_oid);
    let mut message = match trap_node {
        Some((node, len)) => short_name(node, &trap.trap_oid[len..]),
        None => oid_to_string(&trap.trap_oid),
    };
    let mut varbinds = Vec::with_capacity(trap.varbinds.len());
    for (oid, value) in &trap.varbinds {
        // One MIB lookup per varbind serves its name and its enumeration.
        let found = mibs.longest_prefix(oid);
        let rendered = render_with_node(mibs, found.map(|(node, _)| node), value);
        message.push(' ');
        match found {
            Some((node, _)) => message.push_str(&node.name),
            None => push_oid(&mut message, oid),
        }
        message.push('=');
        message.push_str(truncate_chars(&rendered, MAX_MESSAGE_VALUE_CHARS));
        varbinds.push(Varbind {
            oid: oid_to_string(oid),
            name: found.map(|(node, len)| short_name(node, &oid[len..])),
            value_type: value.type_name().to_string(),
            value: rendered,
        });
    }
    event.message = message;
    event.level = default_trap_level(&trap.trap_oid);
    let agent = match &trap.v1 {
        Some(v1) => v1.agent_addr.to_string(),
        None => sender,
    };
    event.trap = Some(TrapInfo {
        version: trap.version.as_str().to_string(),
        community: trap.community.clone(),
        user: trap.user.clone(),
        trap_oid: oid_to_string(&trap.trap_oid),
        trap_name: trap_node.map(|(node, len)| {
            let mut name = format!("{}::", node.module);
            name.push_str(&short_name(node, &trap.trap_oid[len..]));
            name
        }),
        agent: Some(agent),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_levels_follow_the_contract() {
        let generic = |n: u32| [1, 3, 6, 1, 6, 3, 1, 1, 5, n];
        assert_eq!(default_trap_level(&generic(3)), Level::Warning); // linkDown
        assert_eq!(default_trap_level(&generic(4)), Level::None); // linkUp
        assert_eq!(default_trap_level(&generic(1)), Level::Low); // coldStart
        assert_eq!(default_trap_level(&generic(5)), Level::Low); // authenticationFailure
        assert_eq!(default_trap_level(&[1, 3, 6, 1, 4, 1, 9, 0, 1]), Level::Low); // anything else
    }

    #[test]
    fn octets_render_as_text_or_hex() {
        assert_eq!(render_octets(b"eth1"), "eth1");
        assert_eq!(render_octets("h\u{e9}llo".as_bytes()), "h\u{e9}llo");
        assert_eq!(render_octets(&[0xde, 0xad, 0xbe, 0xef]), "de:ad:be:ef");
        assert_eq!(render_octets(b"a\x01b"), "61:01:62");
        assert_eq!(render_octets(b""), "");
    }

    #[test]
    fn enumerations_come_from_the_mibs() {
        let mibs = MibSet::bundled();
        let if_oper_status_2 = [1, 3, 6, 1, 2, 1, 2, 2, 1, 8, 2];
        assert_eq!(
            render_value(&mibs, &if_oper_status_2, &SnmpValue::Integer32(2)),
            "down(2)"
        );
        assert_eq!(
            render_value(&mibs, &if_oper_status_2, &SnmpValue::Integer32(99)),
            "99"
        );
        assert_eq!(
            render_value(&mibs, &[1, 3, 6, 1, 4, 1, 99999], &SnmpValue::Integer32(2)),
            "2"
        );
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate_chars("h\u{e9}llo", 2), "h\u{e9}");
        assert_eq!(truncate_chars("abc", 10), "abc");
    }
}
