//! SNMP PDUs (RFC 3416 §3, RFC 1157 §4.1.6) and their typed VarBind values: decoding a PDU
//! element, the RFC 3584 §3.1 view of a v1 Trap-PDU as a v2 notification, and encoding the
//! Response-PDU that acknowledges an InformRequest (RFC 3416 §4.2.7).
//!
//! Owns: `SnmpValue` (with its type names and display rules) and `Pdu`. Does not own: the
//! message wrappers around a PDU (community in `mod.rs`, USM in `v3`), nor OID→name translation
//! (the MIB module). A varbind that cannot be decoded makes the whole PDU fail with
//! `PduError::TruncatedVarbinds`: a trap whose varbinds were silently dropped (what snmp2's
//! iterator does) could hide exactly the field an alert rule needs.

use std::fmt;
use std::net::Ipv4Addr;

use thiserror::Error;

use super::ber::{self, BerError, Reader};

/// PDU tags (RFC 3416 §3, RFC 1157 §4.1.6).
pub const TAG_RESPONSE: u8 = 0xa2;
pub const TAG_V1_TRAP: u8 = 0xa4;
pub const TAG_INFORM: u8 = 0xa6;
pub const TAG_V2_TRAP: u8 = 0xa7;
pub const TAG_REPORT: u8 = 0xa8;

/// The most varbinds one PDU may carry; more is refused as malformed.
pub const MAX_VARBINDS: usize = 1024;

/// sysUpTime.0 (RFC 3418) — the first varbind of every v2 notification.
pub const SYS_UPTIME_0: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 3, 0];
/// snmpTrapOID.0 (RFC 3418) — the second varbind of every v2 notification.
pub const SNMP_TRAP_OID_0: &[u32] = &[1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0];
/// snmpTraps, the parent of the generic traps (RFC 3584 §3.1 rule 2).
pub const SNMP_TRAPS: &[u32] = &[1, 3, 6, 1, 6, 3, 1, 1, 5];

/// A VarBind value, typed as RFC 2578 §7.1 / RFC 3416 §3 define them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnmpValue {
    Integer32(i32),
    OctetString(Vec<u8>),
    Null,
    ObjectIdentifier(Vec<u32>),
    IpAddress(Ipv4Addr),
    Counter32(u32),
    /// Gauge32 and Unsigned32 share tag 0x42 (RFC 2578 §7.1.7).
    Gauge32(u32),
    TimeTicks(u32),
    Opaque(Vec<u8>),
    Counter64(u64),
    NoSuchObject,
    NoSuchInstance,
    EndOfMibView,
}

impl SnmpValue {
    /// The SMI type name, as net-snmp prints it, for the event's `value_type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            SnmpValue::Integer32(_) => "Integer32",
            SnmpValue::OctetString(_) => "OCTET STRING",
            SnmpValue::Null => "Null",
            SnmpValue::ObjectIdentifier(_) => "OBJECT IDENTIFIER",
            SnmpValue::IpAddress(_) => "IpAddress",
            SnmpValue::Counter32(_) => "Counter32",
            SnmpValue::Gauge32(_) => "Gauge32",
            SnmpValue::TimeTicks(_) => "TimeTicks",
            SnmpValue::Opaque(_) => "Opaque",
            SnmpValue::Counter64(_) => "Counter64",
            SnmpValue::NoSuchObject => "noSuchObject",
            SnmpValue::NoSuchInstance => "noSuchInstance",
            SnmpValue::EndOfMibView => "endOfMibView",
        }
    }

    /// Decodes one value element (RFC 3416 §3 `ObjectSyntax` + exceptions).
    fn decode(tag: u8, body: &[u8]) -> Result<Self, BerError> {
        use ber::*;
        let u32_of = |body: &[u8]| -> Result<u32, BerError> {
            u32::try_from(decode_unsigned(body, 4)?).map_err(|_| BerError::BadValue)
        };
        Ok(match tag {
            TAG_INTEGER => SnmpValue::Integer32(
                i32::try_from(decode_integer(body)?).map_err(|_| BerError::BadValue)?,
            ),
            TAG_OCTET_STRING => SnmpValue::OctetString(body.to_vec()),
            TAG_NULL => SnmpValue::Null,
            TAG_OID => SnmpValue::ObjectIdentifier(decode_oid(body)?),
            TAG_IP_ADDRESS => {
                let octets: [u8; 4] = body.try_into().map_err(|_| BerError::BadValue)?;
                SnmpValue::IpAddress(Ipv4Addr::from(octets))
            }
            TAG_COUNTER32 => SnmpValue::Counter32(u32_of(body)?),
            TAG_GAUGE32 => SnmpValue::Gauge32(u32_of(body)?),
            TAG_TIMETICKS => SnmpValue::TimeTicks(u32_of(body)?),
            TAG_OPAQUE => SnmpValue::Opaque(body.to_vec()),
            TAG_COUNTER64 => SnmpValue::Counter64(decode_unsigned(body, 8)?),
            TAG_NO_SUCH_OBJECT => SnmpValue::NoSuchObject,
            TAG_NO_SUCH_INSTANCE => SnmpValue::NoSuchInstance,
            TAG_END_OF_MIB_VIEW => SnmpValue::EndOfMibView,
            _ => return Err(BerError::BadValue),
        })
    }

    /// Encodes the value element (used for Reports and round-trip tests).
    pub fn encode(&self, out: &mut Vec<u8>) {
        use ber::*;
        match self {
            SnmpValue::Integer32(v) => put_integer(out, TAG_INTEGER, i64::from(*v)),
            SnmpValue::OctetString(b) => put_tlv(out, TAG_OCTET_STRING, b),
            SnmpValue::Null => put_tlv(out, TAG_NULL, &[]),
            SnmpValue::ObjectIdentifier(o) => put_oid(out, o),
            SnmpValue::IpAddress(a) => put_tlv(out, TAG_IP_ADDRESS, &a.octets()),
            SnmpValue::Counter32(v) => put_unsigned(out, TAG_COUNTER32, u64::from(*v)),
            SnmpValue::Gauge32(v) => put_unsigned(out, TAG_GAUGE32, u64::from(*v)),
            SnmpValue::TimeTicks(v) => put_unsigned(out, TAG_TIMETICKS, u64::from(*v)),
            SnmpValue::Opaque(b) => put_tlv(out, TAG_OPAQUE, b),
            SnmpValue::Counter64(v) => put_unsigned(out, TAG_COUNTER64, *v),
            SnmpValue::NoSuchObject => put_tlv(out, TAG_NO_SUCH_OBJECT, &[]),
            SnmpValue::NoSuchInstance => put_tlv(out, TAG_NO_SUCH_INSTANCE, &[]),
            SnmpValue::EndOfMibView => put_tlv(out, TAG_END_OF_MIB_VIEW, &[]),
        }
    }
}

/// The event's `value` text: OCTET STRING as text when it is printable UTF-8, else `de:ad:be:ef`;
/// numbers as numbers (TimeTicks too); OIDs and addresses dotted.
impl fmt::Display for SnmpValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnmpValue::Integer32(v) => write!(f, "{v}"),
            SnmpValue::OctetString(b) => write_octets(f, b),
            SnmpValue::Opaque(b) => write_hex(f, b),
            SnmpValue::ObjectIdentifier(o) => f.write_str(&oid_to_string(o)),
            SnmpValue::IpAddress(a) => write!(f, "{a}"),
            SnmpValue::Counter32(v) | SnmpValue::Gauge32(v) | SnmpValue::TimeTicks(v) => {
                write!(f, "{v}")
            }
            SnmpValue::Counter64(v) => write!(f, "{v}"),
            SnmpValue::Null => f.write_str(""),
            other => f.write_str(other.type_name()),
        }
    }
}

fn write_octets(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    match std::str::from_utf8(bytes) {
        Ok(text)
            if text
                .chars()
                .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t')) =>
        {
            f.write_str(text)
        }
        _ => write_hex(f, bytes),
    }
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            f.write_str(":")?;
        }
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

/// Dotted OID text (`1.3.6.1.6.3.1.1.5.3`).
pub fn oid_to_string(oid: &[u32]) -> String {
    let mut out = String::with_capacity(oid.len() * 4);
    push_oid(&mut out, oid);
    out
}

/// Appends the dotted text of `oid` to `out`. Every trap renders its OIDs several times (the
/// message, each varbind, the trap OID), so this formats arcs in place instead of allocating a
/// string per arc (that was a sixth of the trap path's instructions).
pub fn push_oid(out: &mut String, oid: &[u32]) {
    for (i, &arc) in oid.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        push_arc(out, arc);
    }
}

/// Appends one arc (an unsigned 32-bit number) in decimal.
pub fn push_arc(out: &mut String, arc: u32) {
    if arc < 10 {
        out.push(char::from(b'0' + arc as u8));
        return;
    }
    let mut digits = [0u8; 10];
    let mut at = digits.len();
    let mut n = arc;
    while n > 0 {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(&digits[at..]).unwrap_or_default());
}

/// One VarBind: the OID and its typed value.
pub type VarBind = (Vec<u32>, SnmpValue);

/// The notification view: trap OID, sysUpTime, the remaining varbinds.
pub type NotificationView<'a> = (Vec<u32>, Option<u32>, &'a [VarBind]);

/// The v1-only Trap-PDU fields (RFC 1157 §4.1.6), kept as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Fields {
    pub enterprise: Vec<u32>,
    pub agent_addr: Ipv4Addr,
    pub generic_trap: i32,
    pub specific_trap: i32,
    pub time_stamp: u32,
}

/// One decoded PDU. `varbinds_raw` is the VarBindList element exactly as received, so an
/// inform's Response echoes the varbinds byte for byte (RFC 3416 §4.2.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pdu {
    pub tag: u8,
    pub request_id: i32,
    pub error_status: i32,
    pub error_index: i32,
    pub varbinds: Vec<VarBind>,
    pub varbinds_raw: Vec<u8>,
    pub v1: Option<V1Fields>,
}

/// Why a PDU could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PduError {
    #[error("malformed PDU: {0}")]
    Malformed(BerError),
    #[error("a varbind could not be decoded")]
    TruncatedVarbinds,
    #[error("too many varbinds")]
    TooManyVarbinds,
}

impl From<BerError> for PduError {
    fn from(e: BerError) -> Self {
        PduError::Malformed(e)
    }
}

impl Pdu {
    /// Reads the PDU element at the reader's position (any PDU type; the caller checks the tag).
    pub fn decode(r: &mut Reader<'_>) -> Result<Pdu, PduError> {
        let tlv = r.read_any()?;
        let mut body = tlv.reader();
        if tlv.tag == TAG_V1_TRAP {
            return Self::decode_v1_trap(&mut body);
        }
        if tlv.tag & 0xe0 != 0xa0 {
            return Err(PduError::Malformed(BerError::BadValue));
        }
        let request_id = int32(body.read_integer()?)?;
        let error_status = int32(body.read_integer()?)?;
        let error_index = int32(body.read_integer()?)?;
        let (varbinds, varbinds_raw) = decode_varbinds(&mut body)?;
        Ok(Pdu {
            tag: tlv.tag,
            request_id,
            error_status,
            error_index,
            varbinds,
            varbinds_raw,
            v1: None,
        })
    }

    /// RFC 1157 §4.1.6 Trap-PDU.
    fn decode_v1_trap(body: &mut Reader<'_>) -> Result<Pdu, PduError> {
        let enterprise = body.read_oid()?;
        let addr = body.read(ber::TAG_IP_ADDRESS)?;
        let octets: [u8; 4] = addr.value.try_into().map_err(|_| BerError::BadValue)?;
        let generic_trap = int32(body.read_integer()?)?;
        let specific_trap = int32(body.read_integer()?)?;
        let ts = body.read(ber::TAG_TIMETICKS)?;
        let time_stamp =
            u32::try_from(ber::decode_unsigned(ts.value, 4)?).map_err(|_| BerError::BadValue)?;
        let (varbinds, varbinds_raw) = decode_varbinds(body)?;
        Ok(Pdu {
            tag: TAG_V1_TRAP,
            request_id: 0,
            error_status: 0,
            error_index: 0,
            varbinds,
            varbinds_raw,
            v1: Some(V1Fields {
                enterprise,
                agent_addr: Ipv4Addr::from(octets),
                generic_trap,
                specific_trap,
                time_stamp,
            }),
        })
    }

    /// The RFC 3416 §4.2.7 Response to this InformRequest: same request-id and varbinds,
    /// error-status and error-index 0.
    pub fn encode_response(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(self.varbinds_raw.len() + 16);
        ber::put_integer(&mut body, ber::TAG_INTEGER, i64::from(self.request_id));
        ber::put_integer(&mut body, ber::TAG_INTEGER, 0);
        ber::put_integer(&mut body, ber::TAG_INTEGER, 0);
        body.extend_from_slice(&self.varbinds_raw);
        ber::wrap(TAG_RESPONSE, &body)
    }

    /// The notification view (RFC 3416 §4.2.6, RFC 3584 §3.1): (trap OID, sysUpTime, the
    /// varbinds after sysUpTime.0/snmpTrapOID.0). For a v1 trap the OID is translated:
    /// generic 0–5 → snmpTraps.(generic+1); 6 → enterprise.0.specific.
    pub fn notification_view(&self) -> Option<NotificationView<'_>> {
        if let Some(v1) = &self.v1 {
            return Some((v1_trap_oid(v1), Some(v1.time_stamp), &self.varbinds));
        }
        let mut rest = &self.varbinds[..];
        let mut uptime = None;
        if let Some(((oid, SnmpValue::TimeTicks(t)), tail)) = rest.split_first()
            && oid == SYS_UPTIME_0
        {
            uptime = Some(*t);
            rest = tail;
        }
        match rest.split_first() {
            Some(((oid, SnmpValue::ObjectIdentifier(trap)), tail)) if oid == SNMP_TRAP_OID_0 => {
                Some((trap.clone(), uptime, tail))
            }
            _ => None,
        }
    }
}

/// RFC 3584 §3.1 rule 2: the snmpTrapOID.0 value of a v1 trap.
pub fn v1_trap_oid(v1: &V1Fields) -> Vec<u32> {
    match u32::try_from(v1.generic_trap) {
        Ok(g @ 0..=5) => {
            let mut oid = SNMP_TRAPS.to_vec();
            oid.push(g + 1);
            oid
        }
        _ => {
            let mut oid = v1.enterprise.clone();
            oid.push(0);
            oid.push(v1.specific_trap as u32);
            oid
        }
    }
}

fn int32(v: i64) -> Result<i32, PduError> {
    i32::try_from(v).map_err(|_| PduError::Malformed(BerError::BadValue))
}

/// VarBindList (RFC 3416 §3). An extra element after a value inside a VarBind is tolerated.
fn decode_varbinds(body: &mut Reader<'_>) -> Result<(Vec<VarBind>, Vec<u8>), PduError> {
    let list = body.read(ber::TAG_SEQUENCE)?;
    let mut raw = Vec::with_capacity(list.value.len() + 4);
    ber::put_tlv(&mut raw, ber::TAG_SEQUENCE, list.value);
    let mut items = list.reader();
    let mut out = Vec::new();
    while !items.is_empty() {
        if out.len() >= MAX_VARBINDS {
            return Err(PduError::TooManyVarbinds);
        }
        out.push(decode_varbind(&mut items).map_err(|_| PduError::TruncatedVarbinds)?);
    }
    Ok((out, raw))
}

fn decode_varbind(items: &mut Reader<'_>) -> Result<VarBind, BerError> {
    let mut vb = items.read_sequence()?;
    let oid = vb.read_oid()?;
    let value = vb.read_any()?;
    Ok((oid, SnmpValue::decode(value.tag, value.value)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oids_are_dotted_decimal_at_every_arc_width() {
        assert_eq!(oid_to_string(&[]), "");
        assert_eq!(oid_to_string(&[0]), "0");
        assert_eq!(
            oid_to_string(&[1, 3, 6, 1, 4, 1, 9, 10, 99, 100, 65535, u32::MAX]),
            "1.3.6.1.4.1.9.10.99.100.65535.4294967295"
        );
        let mut out = String::from("x=");
        push_oid(&mut out, &[1, 0, 1000000]);
        assert_eq!(out, "x=1.0.1000000");
    }

    fn check_display(value: SnmpValue, type_name: &str, text: &str) {
        assert_eq!(value.type_name(), type_name);
        assert_eq!(value.to_string(), text);
        // Every value survives an encode/decode round trip.
        let mut out = Vec::new();
        value.encode(&mut out);
        let tlv = Reader::new(&out).read_any().unwrap();
        assert_eq!(SnmpValue::decode(tlv.tag, tlv.value).unwrap(), value);
    }

    #[test]
    fn display_and_type_names() {
        check_display(SnmpValue::Integer32(-42), "Integer32", "-42");
        check_display(
            SnmpValue::OctetString("héllo".into()),
            "OCTET STRING",
            "héllo",
        );
        check_display(
            SnmpValue::OctetString(vec![0xde, 0xad, 0xbe, 0xef]),
            "OCTET STRING",
            "de:ad:be:ef",
        );
        check_display(
            SnmpValue::OctetString(b"a\x00b".to_vec()),
            "OCTET STRING",
            "61:00:62",
        );
        check_display(
            SnmpValue::ObjectIdentifier(vec![1, 3, 6, 1]),
            "OBJECT IDENTIFIER",
            "1.3.6.1",
        );
        check_display(
            SnmpValue::IpAddress(Ipv4Addr::new(10, 1, 2, 3)),
            "IpAddress",
            "10.1.2.3",
        );
        check_display(SnmpValue::Counter32(32323232), "Counter32", "32323232");
        check_display(SnmpValue::Gauge32(u32::MAX), "Gauge32", "4294967295");
        check_display(SnmpValue::TimeTicks(12345), "TimeTicks", "12345");
        check_display(SnmpValue::Opaque(b"op".to_vec()), "Opaque", "6f:70");
        check_display(
            SnmpValue::Counter64(u64::MAX),
            "Counter64",
            "18446744073709551615",
        );
        check_display(SnmpValue::Null, "Null", "");
        check_display(SnmpValue::NoSuchObject, "noSuchObject", "noSuchObject");
        check_display(
            SnmpValue::NoSuchInstance,
            "noSuchInstance",
            "noSuchInstance",
        );
        check_display(SnmpValue::EndOfMibView, "endOfMibView", "endOfMibView");
    }

    #[test]
    fn rfc3584_translation() {
        let v1 = |generic, specific| V1Fields {
            enterprise: vec![1, 3, 6, 1, 4, 1, 8072, 2, 3],
            agent_addr: Ipv4Addr::LOCALHOST,
            generic_trap: generic,
            specific_trap: specific,
            time_stamp: 0,
        };
        let cases: &[(i32, i32, &[u32])] = &[
            (0, 0, &[1, 3, 6, 1, 6, 3, 1, 1, 5, 1]),
            (2, 0, &[1, 3, 6, 1, 6, 3, 1, 1, 5, 3]),
            (5, 0, &[1, 3, 6, 1, 6, 3, 1, 1, 5, 6]),
            (6, 17, &[1, 3, 6, 1, 4, 1, 8072, 2, 3, 0, 17]),
        ];
        for (g, s, expected) in cases {
            assert_eq!(v1_trap_oid(&v1(*g, *s)), *expected, "generic {g}");
        }
    }

    #[test]
    fn bad_values_are_refused() {
        let cases: &[(u8, &[u8])] = &[
            (ber::TAG_INTEGER, &[0x01, 0, 0, 0, 0]),
            (ber::TAG_IP_ADDRESS, &[1, 2, 3]),
            (ber::TAG_COUNTER32, &[1, 0, 0, 0, 0]),
            (ber::TAG_COUNTER32, &[]),
            (0x30, &[]),
        ];
        for (tag, body) in cases {
            assert!(
                SnmpValue::decode(*tag, body).is_err(),
                "{tag:02x} {body:02x?}"
            );
        }
    }
}
