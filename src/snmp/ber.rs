//! The small subset of BER (X.690) that SNMP messages use: a bounds-checked reader over a byte
//! slice that keeps absolute offsets (so the USM layer can find and zero `msgAuthenticationParameters`
//! in the whole message, RFC 3414 §6.3.2 / §7.3.2), and a writer for the few types we encode.
//!
//! Owns: tag/length parsing (short and long form, non-minimal long form accepted as X.690 §8.1.3.5
//! allows, indefinite form refused since SNMP forbids it, RFC 3417 §8), INTEGER, OCTET STRING,
//! NULL, OBJECT IDENTIFIER (X.690 §8.19) and the unsigned application types. Does not own: what
//! the SNMP structures mean (`pdu`, `v3`). It never panics and never allocates more than the
//! input it is given.

use thiserror::Error;

pub const TAG_INTEGER: u8 = 0x02;
pub const TAG_OCTET_STRING: u8 = 0x04;
pub const TAG_NULL: u8 = 0x05;
pub const TAG_OID: u8 = 0x06;
pub const TAG_SEQUENCE: u8 = 0x30;
/// RFC 2578 §7.1 application types.
pub const TAG_IP_ADDRESS: u8 = 0x40;
pub const TAG_COUNTER32: u8 = 0x41;
pub const TAG_GAUGE32: u8 = 0x42;
pub const TAG_TIMETICKS: u8 = 0x43;
pub const TAG_OPAQUE: u8 = 0x44;
pub const TAG_COUNTER64: u8 = 0x46;
/// RFC 3416 §3 exception values in a VarBind.
pub const TAG_NO_SUCH_OBJECT: u8 = 0x80;
pub const TAG_NO_SUCH_INSTANCE: u8 = 0x81;
pub const TAG_END_OF_MIB_VIEW: u8 = 0x82;

/// The most sub-identifiers an OID may have (RFC 2578 §3.5).
pub const MAX_OID_ARCS: usize = 128;

/// Why a BER element could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum BerError {
    #[error("the input ends before the element does")]
    Truncated,
    #[error("expected tag {expected:#04x}, found {found:#04x}")]
    WrongTag { expected: u8, found: u8 },
    #[error("invalid length encoding")]
    BadLength,
    #[error("invalid value encoding")]
    BadValue,
}

/// One element: its tag and the absolute range of its contents in the original buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u8,
    /// Offset of the first content octet in the buffer the top reader was made from.
    pub start: usize,
    /// Offset of the first octet of the whole element (its tag).
    pub header_start: usize,
    pub value: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// A reader over this element's contents (for constructed types).
    pub fn reader(&self) -> Reader<'a> {
        Reader {
            data: self.value,
            base: self.start,
            pos: 0,
        }
    }

    /// The element end offset (exclusive) in the top buffer.
    pub fn end(&self) -> usize {
        self.start + self.value.len()
    }
}

/// A cursor over BER elements; offsets are reported relative to the top buffer.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
    base: usize,
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader {
            data,
            base: 0,
            pos: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// Reads any element (X.690 §8.1.2–8.1.3). Multi-octet tags do not occur in SNMP and are refused.
    pub fn read_any(&mut self) -> Result<Tlv<'a>, BerError> {
        let header_start = self.pos;
        let tag = *self.data.get(self.pos).ok_or(BerError::Truncated)?;
        if tag & 0x1f == 0x1f {
            return Err(BerError::BadValue);
        }
        let first = *self.data.get(self.pos + 1).ok_or(BerError::Truncated)?;
        let mut at = self.pos + 2;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            // 0x80 is the indefinite form (forbidden in SNMP); more than 4 length octets cannot fit a datagram.
            if n == 0 || n > 4 {
                return Err(BerError::BadLength);
            }
            let bytes = self.data.get(at..at + n).ok_or(BerError::Truncated)?;
            at += n;
            bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
        };
        let end = at.checked_add(len).ok_or(BerError::BadLength)?;
        let value = self.data.get(at..end).ok_or(BerError::Truncated)?;
        self.pos = end;
        Ok(Tlv {
            tag,
            start: self.base + at,
            header_start: self.base + header_start,
            value,
        })
    }

    /// Reads an element that must carry `tag`.
    /// The tag is checked before the length, so text that is not BER at all is reported as a
    /// wrong tag rather than as a truncation.
    pub fn read(&mut self, tag: u8) -> Result<Tlv<'a>, BerError> {
        match self.data.get(self.pos) {
            None => Err(BerError::Truncated),
            Some(&found) if found != tag => Err(BerError::WrongTag {
                expected: tag,
                found,
            }),
            Some(_) => self.read_any(),
        }
    }

    pub fn read_sequence(&mut self) -> Result<Reader<'a>, BerError> {
        self.read(TAG_SEQUENCE).map(|t| t.reader())
    }

    pub fn read_integer(&mut self) -> Result<i64, BerError> {
        decode_integer(self.read(TAG_INTEGER)?.value)
    }

    pub fn read_octets(&mut self) -> Result<&'a [u8], BerError> {
        self.read(TAG_OCTET_STRING).map(|t| t.value)
    }

    pub fn read_oid(&mut self) -> Result<Vec<u32>, BerError> {
        decode_oid(self.read(TAG_OID)?.value)
    }
}

/// Two's-complement INTEGER of 1 to 8 octets (X.690 §8.3).
pub fn decode_integer(bytes: &[u8]) -> Result<i64, BerError> {
    if bytes.is_empty() || bytes.len() > 8 {
        return Err(BerError::BadValue);
    }
    let negative = bytes[0] & 0x80 != 0;
    let init: i64 = if negative { -1 } else { 0 };
    Ok(bytes.iter().fold(init, |acc, b| (acc << 8) | i64::from(*b)))
}

/// An unsigned application type (Counter32, Gauge32, TimeTicks, Counter64): the contents are a
/// two's-complement INTEGER, so 2^32-1 takes five octets (`00 ff ff ff ff`). Leading zero octets
/// are skipped; a value that does not fit `max_octets` unsigned octets, or is empty, is refused.
/// A "negative" encoding (high bit set, seen from buggy agents) is read as its unsigned bit pattern.
pub fn decode_unsigned(bytes: &[u8], max_octets: usize) -> Result<u64, BerError> {
    if bytes.is_empty() {
        return Err(BerError::BadValue);
    }
    let first_nonzero = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    let significant = &bytes[first_nonzero..];
    if significant.len() > max_octets {
        return Err(BerError::BadValue);
    }
    Ok(significant
        .iter()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

/// OBJECT IDENTIFIER contents (X.690 §8.19): the first sub-identifier packs two arcs.
pub fn decode_oid(bytes: &[u8]) -> Result<Vec<u32>, BerError> {
    if bytes.is_empty() {
        return Err(BerError::BadValue);
    }
    let mut arcs = Vec::with_capacity(bytes.len() + 1);
    let mut acc: u64 = 0;
    let mut in_progress = false;
    for &b in bytes {
        if !in_progress && b == 0x80 {
            // A leading 0x80 octet is non-minimal (X.690 §8.19.2); refuse it.
            return Err(BerError::BadValue);
        }
        acc = (acc << 7) | u64::from(b & 0x7f);
        if acc > u64::from(u32::MAX) + 80 {
            return Err(BerError::BadValue);
        }
        in_progress = b & 0x80 != 0;
        if !in_progress {
            if arcs.is_empty() {
                let (x, y) = match acc {
                    0..=39 => (0, acc),
                    40..=79 => (1, acc - 40),
                    _ => (2, acc - 80),
                };
                arcs.push(x as u32);
                arcs.push(u32::try_from(y).map_err(|_| BerError::BadValue)?);
            } else {
                arcs.push(u32::try_from(acc).map_err(|_| BerError::BadValue)?);
            }
            if arcs.len() > MAX_OID_ARCS {
                return Err(BerError::BadValue);
            }
            acc = 0;
        }
    }
    if in_progress {
        return Err(BerError::Truncated);
    }
    Ok(arcs)
}

/// Appends a definite-length header for `len` content octets (minimal form, X.690 §10.1 DER).
fn push_header(out: &mut Vec<u8>, tag: u8, len: usize) {
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u32).to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (4 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// The size of the header `push_header` writes.
#[cfg(test)]
pub fn header_len(len: usize) -> usize {
    match len {
        0..=0x7f => 2,
        0x80..=0xff => 3,
        0x100..=0xffff => 4,
        0x1_0000..=0xff_ffff => 5,
        _ => 6,
    }
}

/// Appends one element with the given contents.
pub fn put_tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    push_header(out, tag, content.len());
    out.extend_from_slice(content);
}

/// Minimal two's-complement INTEGER.
pub fn put_integer(out: &mut Vec<u8>, tag: u8, value: i64) {
    let bytes = value.to_be_bytes();
    let mut skip = 0;
    while skip < 7 {
        let (b, next) = (bytes[skip], bytes[skip + 1]);
        if (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            skip += 1;
        } else {
            break;
        }
    }
    put_tlv(out, tag, &bytes[skip..]);
}

/// Unsigned application value (Counter32, TimeTicks…) as a non-negative INTEGER body.
pub fn put_unsigned(out: &mut Vec<u8>, tag: u8, value: u64) {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count().min(7);
    let body = &bytes[skip..];
    if body[0] & 0x80 != 0 {
        let mut padded = Vec::with_capacity(body.len() + 1);
        padded.push(0);
        padded.extend_from_slice(body);
        put_tlv(out, tag, &padded);
    } else {
        put_tlv(out, tag, body);
    }
}

/// OBJECT IDENTIFIER (X.690 §8.19). Needs at least two arcs with a valid first pair.
pub fn put_oid(out: &mut Vec<u8>, arcs: &[u32]) {
    let mut body = Vec::with_capacity(arcs.len() * 2);
    let first = match arcs {
        [x, y, ..] => u64::from(*x) * 40 + u64::from(*y),
        [x] => u64::from(*x) * 40,
        [] => 0,
    };
    push_base128(&mut body, first);
    for arc in arcs.iter().skip(2) {
        push_base128(&mut body, u64::from(*arc));
    }
    put_tlv(out, TAG_OID, &body);
}

fn push_base128(out: &mut Vec<u8>, value: u64) {
    let mut groups = [0u8; 10];
    let mut n = 0;
    let mut v = value;
    loop {
        groups[n] = (v & 0x7f) as u8;
        n += 1;
        v >>= 7;
        if v == 0 {
            break;
        }
    }
    for i in (0..n).rev() {
        out.push(groups[i] | if i > 0 { 0x80 } else { 0 });
    }
}

/// Wraps already-encoded contents in a constructed element.
pub fn wrap(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    put_tlv(&mut out, tag, content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oid_roundtrip(arcs: &[u32]) {
        let mut out = Vec::new();
        put_oid(&mut out, arcs);
        assert_eq!(Reader::new(&out).read_oid().unwrap(), arcs, "{out:02x?}");
    }

    #[test]
    fn oids_roundtrip() {
        for arcs in [
            &[1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0][..],
            &[1, 3, 6, 1, 2, 1, 2, 2, 1, 1, 4_227_674],
            &[2, 999, 3],
            &[0, 0],
            &[1, 3, u32::MAX],
        ] {
            oid_roundtrip(arcs);
        }
    }

    #[test]
    fn integers_roundtrip() {
        for v in [
            0i64,
            1,
            127,
            128,
            255,
            256,
            -1,
            -128,
            -129,
            i64::from(i32::MAX),
            i64::from(i32::MIN),
        ] {
            let mut out = Vec::new();
            put_integer(&mut out, TAG_INTEGER, v);
            assert_eq!(Reader::new(&out).read_integer().unwrap(), v);
        }
    }

    #[test]
    fn unsigned_roundtrip() {
        for v in [0u64, 0x7f, 0x80, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            put_unsigned(&mut out, TAG_COUNTER64, v);
            let tlv = Reader::new(&out).read_any().unwrap();
            assert_eq!(decode_unsigned(tlv.value, 8).unwrap(), v);
        }
    }

    #[test]
    fn lengths() {
        // Non-minimal long form is accepted; indefinite is not; truncation is reported.
        let cases: &[(&[u8], Result<usize, BerError>)] = &[
            (&[0x04, 0x81, 0x01, 0x41], Ok(1)),
            (&[0x04, 0x82, 0x00, 0x01, 0x41], Ok(1)),
            (&[0x04, 0x80, 0x41, 0x00, 0x00], Err(BerError::BadLength)),
            (&[0x04, 0x05, 0x41], Err(BerError::Truncated)),
            (&[0x04], Err(BerError::Truncated)),
            (&[0x04, 0x85, 1, 1, 1, 1, 1], Err(BerError::BadLength)),
        ];
        for (input, expected) in cases {
            let got = Reader::new(input).read_any().map(|t| t.value.len());
            assert_eq!(&got, expected, "{input:02x?}");
        }
        for len in [0usize, 0x7f, 0x80, 0xff, 0x100, 0x1_0000] {
            let mut out = Vec::new();
            put_tlv(&mut out, TAG_OCTET_STRING, &vec![0; len]);
            assert_eq!(out.len(), header_len(len) + len);
        }
    }

    #[test]
    fn bad_oids() {
        for input in [
            &[][..],
            &[0x2b, 0x86],
            &[0x2b, 0x80, 0x01],
            &[0x2b, 0x90, 0x80, 0x80, 0x80, 0x80, 0x00],
        ] {
            assert!(decode_oid(input).is_err(), "{input:02x?}");
        }
    }
}
