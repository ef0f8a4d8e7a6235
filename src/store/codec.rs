//! Byte layouts of what the store keeps in sled: compressed event blocks and block summaries.
//!
//! A block value is `[codec u8][raw length u32 LE][zstd payload]`; the raw bytes are a header
//! (first id, first `received_at_ns`) followed by each event in a compact hand-written form:
//! varint deltas for id and receive time, length-prefixed strings, one flag byte for the
//! optional fields, structured data and the trap part inline. A summary is a small
//! varint record of counts, id and time bounds and the distinct hosts (capped).
//!
//! This module does no I/O and knows nothing of sled trees. Decoding never panics: bytes read
//! from disk may be damaged, so every read is bounds-checked and reported as a [`CodecError`].

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

use crate::event::{Event, EventKind, Level, StructuredElement, Transport, TrapInfo, Varbind};

/// The only codec written today: zstd over the raw encoding.
const CODEC_ZSTD: u8 = 1;
/// zstd level 1: measured best bytes-per-CPU trade-off (`notes/block-store.md`).
const ZSTD_LEVEL: i32 = 1;
/// Refuse to allocate more than this for one decompressed block, whatever the header says.
const MAX_RAW_BLOCK_BYTES: usize = 256 << 20;
/// A summary lists at most this many hosts; above it the block is marked "many hosts".
pub(crate) const MAX_SUMMARY_HOSTS: usize = 64;
const SUMMARY_VERSION: u8 = 1;

const F_FACILITY: u8 = 1;
const F_SEVERITY: u8 = 2;
const F_APP: u8 = 4;
const F_PROCID: u8 = 8;
const F_MSGID: u8 = 16;
const F_TIMESTAMP: u8 = 32;
const F_TRAP: u8 = 64;
const F_RAW: u8 = 128;

/// Bytes that do not decode as a block or summary (damage on disk, or a bug of ours).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CodecError(pub String);

fn bad(what: &str) -> CodecError {
    CodecError(what.to_string())
}

/// Accumulates the raw encoding of one block, event by event, so the writer never clones events.
pub(crate) struct BlockEncoder {
    raw: Vec<u8>,
    prev_id: u64,
    prev_rx: i64,
    count: usize,
    compressor: zstd::bulk::Compressor<'static>,
}

impl BlockEncoder {
    pub(crate) fn new() -> Result<BlockEncoder, CodecError> {
        let compressor = zstd::bulk::Compressor::new(ZSTD_LEVEL)
            .map_err(|e| CodecError(format!("zstd: {e}")))?;
        Ok(BlockEncoder {
            raw: Vec::with_capacity(160 * 1024),
            prev_id: 0,
            prev_rx: 0,
            count: 0,
            compressor,
        })
    }

    /// Appends one event (its id must already be assigned and larger than the previous one).
    pub(crate) fn push(&mut self, event: &Event) {
        if self.count == 0 {
            put_varint(&mut self.raw, event.id);
            put_zigzag(&mut self.raw, event.received_at_ns);
            self.prev_id = event.id;
            self.prev_rx = event.received_at_ns;
        }
        put_varint(&mut self.raw, event.id.wrapping_sub(self.prev_id));
        put_zigzag(
            &mut self.raw,
            event.received_at_ns.wrapping_sub(self.prev_rx),
        );
        self.prev_id = event.id;
        self.prev_rx = event.received_at_ns;
        encode_event_body(&mut self.raw, event);
        self.count += 1;
    }

    /// Compresses what was pushed into a block value and starts a new, empty block.
    pub(crate) fn finish(&mut self) -> Result<Vec<u8>, CodecError> {
        let value = self.compress();
        self.raw.clear();
        self.count = 0;
        value
    }

    fn compress(&mut self) -> Result<Vec<u8>, CodecError> {
        let raw_len = u32::try_from(self.raw.len()).map_err(|_| bad("block too large"))?;
        let payload = self
            .compressor
            .compress(&self.raw)
            .map_err(|e| CodecError(format!("zstd: {e}")))?;
        let mut value = Vec::with_capacity(5 + payload.len());
        value.push(CODEC_ZSTD);
        value.extend_from_slice(&raw_len.to_le_bytes());
        value.extend_from_slice(&payload);
        Ok(value)
    }
}

/// Decodes a whole block value into its events, oldest first.
pub(crate) fn decode_block(value: &[u8]) -> Result<Vec<Event>, CodecError> {
    let raw = decompress(value)?;
    let mut r = Reader::new(&raw);
    let mut id = r.varint()?;
    let mut rx = r.zigzag()?;
    let mut events = Vec::with_capacity(1024);
    while !r.is_empty() {
        id = id
            .checked_add(r.varint()?)
            .ok_or_else(|| bad("id overflow"))?;
        rx = rx
            .checked_add(r.zigzag()?)
            .ok_or_else(|| bad("time overflow"))?;
        events.push(decode_event_body(&mut r, id, rx)?);
    }
    Ok(events)
}

fn decompress(value: &[u8]) -> Result<Vec<u8>, CodecError> {
    let (&codec, rest) = value.split_first().ok_or_else(|| bad("empty block"))?;
    if codec != CODEC_ZSTD {
        return Err(CodecError(format!("unknown block codec {codec}")));
    }
    let len_bytes: [u8; 4] = rest
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| bad("short block header"))?;
    let raw_len = u32::from_le_bytes(len_bytes) as usize;
    if raw_len > MAX_RAW_BLOCK_BYTES {
        return Err(CodecError(format!("block claims {raw_len} raw bytes")));
    }
    let raw = zstd::bulk::decompress(&rest[4..], raw_len)
        .map_err(|e| CodecError(format!("zstd: {e}")))?;
    if raw.len() != raw_len {
        return Err(bad("block length mismatch"));
    }
    Ok(raw)
}

fn encode_event_body(out: &mut Vec<u8>, e: &Event) {
    encode_source(out, &e.source);
    out.push(transport_code(e.transport));
    out.push(e.kind.code());
    out.push(e.level.code());
    let flags = flag(e.facility.is_some(), F_FACILITY)
        | flag(e.severity.is_some(), F_SEVERITY)
        | flag(e.app.is_some(), F_APP)
        | flag(e.procid.is_some(), F_PROCID)
        | flag(e.msgid.is_some(), F_MSGID)
        | flag(e.timestamp.is_some(), F_TIMESTAMP)
        | flag(e.trap.is_some(), F_TRAP)
        | flag(e.raw.is_some(), F_RAW);
    out.push(flags);
    out.extend(e.facility);
    out.extend(e.severity);
    put_str(out, &e.host);
    for s in [&e.app, &e.procid, &e.msgid, &e.timestamp]
        .into_iter()
        .flatten()
    {
        put_str(out, s);
    }
    put_str(out, &e.message);
    put_varint(out, e.structured_data.len() as u64);
    for element in &e.structured_data {
        put_str(out, &element.id);
        put_varint(out, element.params.len() as u64);
        for (name, value) in &element.params {
            put_str(out, name);
            put_str(out, value);
        }
    }
    if let Some(trap) = &e.trap {
        encode_trap(out, trap);
    }
    if let Some(raw) = &e.raw {
        put_bytes(out, raw);
    }
}

fn decode_event_body(
    r: &mut Reader<'_>,
    id: u64,
    received_at_ns: i64,
) -> Result<Event, CodecError> {
    let source = decode_source(r)?;
    let transport = transport_from_code(r.u8()?)?;
    let kind = EventKind::from_code(r.u8()?).ok_or_else(|| bad("unknown kind"))?;
    let level = Level::from_code(r.u8()?).ok_or_else(|| bad("unknown level"))?;
    let flags = r.u8()?;
    let facility = if flags & F_FACILITY != 0 {
        Some(r.u8()?)
    } else {
        None
    };
    let severity = if flags & F_SEVERITY != 0 {
        Some(r.u8()?)
    } else {
        None
    };
    let host = r.string()?;
    let app = r.opt_string(flags & F_APP != 0)?;
    let procid = r.opt_string(flags & F_PROCID != 0)?;
    let msgid = r.opt_string(flags & F_MSGID != 0)?;
    let timestamp = r.opt_string(flags & F_TIMESTAMP != 0)?;
    let message = r.string()?;
    let structured_data = decode_sd(r)?;
    let trap = if flags & F_TRAP != 0 {
        Some(decode_trap(r)?)
    } else {
        None
    };
    let raw = if flags & F_RAW != 0 {
        Some(r.bytes()?.to_vec())
    } else {
        None
    };
    Ok(Event {
        id,
        received_at_ns,
        source,
        transport,
        kind,
        facility,
        severity,
        level,
        host,
        app,
        procid,
        msgid,
        timestamp,
        message,
        structured_data,
        trap,
        raw,
    })
}

// Optional fields of the trap part, one bit each.
const T_COMMUNITY: u8 = 1;
const T_USER: u8 = 2;
const T_NAME: u8 = 4;
const T_AGENT: u8 = 8;
const T_UPTIME: u8 = 16;
const V_NAME: u8 = 1;

/// The trap part, laid out like the rest of the event (it was JSON once; at 100k traps/s the
/// serializer's allocations were a visible share of the writer's CPU).
fn encode_trap(out: &mut Vec<u8>, trap: &TrapInfo) {
    out.push(
        flag(trap.community.is_some(), T_COMMUNITY)
            | flag(trap.user.is_some(), T_USER)
            | flag(trap.trap_name.is_some(), T_NAME)
            | flag(trap.agent.is_some(), T_AGENT)
            | flag(trap.uptime.is_some(), T_UPTIME),
    );
    put_str(out, &trap.version);
    put_str(out, &trap.trap_oid);
    for s in [&trap.community, &trap.user, &trap.trap_name, &trap.agent]
        .into_iter()
        .flatten()
    {
        put_str(out, s);
    }
    if let Some(uptime) = trap.uptime {
        put_varint(out, uptime);
    }
    put_varint(out, trap.varbinds.len() as u64);
    for varbind in &trap.varbinds {
        out.push(flag(varbind.name.is_some(), V_NAME));
        put_str(out, &varbind.oid);
        if let Some(name) = &varbind.name {
            put_str(out, name);
        }
        put_str(out, &varbind.value_type);
        put_str(out, &varbind.value);
    }
}

fn decode_trap(r: &mut Reader<'_>) -> Result<TrapInfo, CodecError> {
    let flags = r.u8()?;
    let version = r.string()?;
    let trap_oid = r.string()?;
    let community = r.opt_string(flags & T_COMMUNITY != 0)?;
    let user = r.opt_string(flags & T_USER != 0)?;
    let trap_name = r.opt_string(flags & T_NAME != 0)?;
    let agent = r.opt_string(flags & T_AGENT != 0)?;
    let uptime = if flags & T_UPTIME != 0 {
        Some(r.varint()?)
    } else {
        None
    };
    let n = r.len_prefix()?;
    let mut varbinds = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        let vflags = r.u8()?;
        let oid = r.string()?;
        let name = r.opt_string(vflags & V_NAME != 0)?;
        varbinds.push(Varbind {
            oid,
            name,
            value_type: r.string()?,
            value: r.string()?,
        });
    }
    Ok(TrapInfo {
        version,
        community,
        user,
        trap_oid,
        trap_name,
        agent,
        uptime,
        varbinds,
    })
}

fn decode_sd(r: &mut Reader<'_>) -> Result<Vec<StructuredElement>, CodecError> {
    let n = r.len_prefix()?;
    let mut elements = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        let id = r.string()?;
        let n_params = r.len_prefix()?;
        let mut params = Vec::with_capacity(n_params.min(64));
        for _ in 0..n_params {
            params.push((r.string()?, r.string()?));
        }
        elements.push(StructuredElement { id, params });
    }
    Ok(elements)
}

fn encode_source(out: &mut Vec<u8>, source: &SocketAddr) {
    match source {
        SocketAddr::V4(a) => {
            out.push(4);
            out.extend_from_slice(&a.ip().octets());
        }
        SocketAddr::V6(a) => {
            out.push(6);
            out.extend_from_slice(&a.ip().octets());
            put_varint(out, u64::from(a.flowinfo()));
            put_varint(out, u64::from(a.scope_id()));
        }
    }
    out.extend_from_slice(&source.port().to_be_bytes());
}

fn decode_source(r: &mut Reader<'_>) -> Result<SocketAddr, CodecError> {
    match r.u8()? {
        4 => {
            let ip: [u8; 4] = r.array()?;
            let port = u16::from_be_bytes(r.array()?);
            Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port))
        }
        6 => {
            let ip: [u8; 16] = r.array()?;
            let flowinfo = u32::try_from(r.varint()?).map_err(|_| bad("flowinfo"))?;
            let scope_id = u32::try_from(r.varint()?).map_err(|_| bad("scope id"))?;
            let port = u16::from_be_bytes(r.array()?);
            Ok(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(ip),
                port,
                flowinfo,
                scope_id,
            )))
        }
        other => Err(CodecError(format!("unknown address family {other}"))),
    }
}

fn transport_code(t: Transport) -> u8 {
    match t {
        Transport::Udp => 0,
        Transport::Tcp => 1,
        Transport::Tls => 2,
    }
}

fn transport_from_code(code: u8) -> Result<Transport, CodecError> {
    match code {
        0 => Ok(Transport::Udp),
        1 => Ok(Transport::Tcp),
        2 => Ok(Transport::Tls),
        _ => Err(bad("unknown transport")),
    }
}

fn flag(set: bool, bit: u8) -> u8 {
    if set { bit } else { 0 }
}

/// What the store knows about a block without decompressing it: enough to skip it in queries,
/// to apply retention and to remove its index entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BlockSummary {
    pub count: u64,
    pub first_id: u64,
    pub last_id: u64,
    pub min_rx_ns: i64,
    pub max_rx_ns: i64,
    /// Length of the stored block value: what size-based retention adds up.
    pub stored_bytes: u64,
    pub level_counts: [u64; Level::ALL.len()],
    pub kind_counts: [u64; EventKind::ALL.len()],
    /// The distinct hosts, sorted, when there are at most [`MAX_SUMMARY_HOSTS`]; else empty.
    pub hosts: Vec<String>,
    pub many_hosts: bool,
}

impl BlockSummary {
    /// Whether the block may hold an event from `host` (always true for "many hosts").
    pub(crate) fn may_have_host(&self, host: &str) -> bool {
        self.many_hosts
            || self
                .hosts
                .binary_search_by(|h| h.as_str().cmp(host))
                .is_ok()
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(64 + self.hosts.iter().map(|h| h.len() + 1).sum::<usize>());
        out.push(SUMMARY_VERSION);
        for v in [self.count, self.first_id, self.last_id] {
            put_varint(&mut out, v);
        }
        put_zigzag(&mut out, self.min_rx_ns);
        put_zigzag(&mut out, self.max_rx_ns);
        put_varint(&mut out, self.stored_bytes);
        for v in self.level_counts.iter().chain(self.kind_counts.iter()) {
            put_varint(&mut out, *v);
        }
        out.push(u8::from(self.many_hosts));
        put_varint(&mut out, self.hosts.len() as u64);
        for h in &self.hosts {
            put_str(&mut out, h);
        }
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<BlockSummary, CodecError> {
        let mut r = Reader::new(bytes);
        if r.u8()? != SUMMARY_VERSION {
            return Err(bad("unknown summary version"));
        }
        let (count, first_id, last_id) = (r.varint()?, r.varint()?, r.varint()?);
        let (min_rx_ns, max_rx_ns) = (r.zigzag()?, r.zigzag()?);
        let stored_bytes = r.varint()?;
        let mut level_counts = [0; Level::ALL.len()];
        for c in &mut level_counts {
            *c = r.varint()?;
        }
        let mut kind_counts = [0; EventKind::ALL.len()];
        for c in &mut kind_counts {
            *c = r.varint()?;
        }
        let many_hosts = r.u8()? != 0;
        let n = r.len_prefix()?;
        let mut hosts = Vec::with_capacity(n.min(MAX_SUMMARY_HOSTS));
        for _ in 0..n {
            hosts.push(r.string()?);
        }
        let summary = BlockSummary {
            count,
            first_id,
            last_id,
            min_rx_ns,
            max_rx_ns,
            stored_bytes,
            level_counts,
            kind_counts,
            hosts,
            many_hosts,
        };
        Ok(summary)
    }
}

/// Builds a [`BlockSummary`] (and the full distinct host set, for the host index) event by event.
#[derive(Default)]
pub(crate) struct SummaryBuilder {
    count: u64,
    first_id: u64,
    last_id: u64,
    min_rx_ns: i64,
    max_rx_ns: i64,
    level_counts: [u64; Level::ALL.len()],
    kind_counts: [u64; EventKind::ALL.len()],
    hosts: HashSet<String>,
}

impl SummaryBuilder {
    pub(crate) fn push(&mut self, e: &Event) {
        if self.count == 0 {
            self.first_id = e.id;
            self.min_rx_ns = e.received_at_ns;
            self.max_rx_ns = e.received_at_ns;
        }
        self.count += 1;
        self.last_id = e.id;
        self.min_rx_ns = self.min_rx_ns.min(e.received_at_ns);
        self.max_rx_ns = self.max_rx_ns.max(e.received_at_ns);
        self.level_counts[e.level.code() as usize] += 1;
        self.kind_counts[e.kind.code() as usize] += 1;
        if !self.hosts.contains(e.host.as_str()) {
            self.hosts.insert(e.host.clone());
        }
    }

    /// The summary plus every distinct host; resets the builder.
    pub(crate) fn finish(&mut self, stored_bytes: u64) -> (BlockSummary, Vec<String>) {
        let built = std::mem::take(self);
        let mut all_hosts: Vec<String> = built.hosts.into_iter().collect();
        all_hosts.sort_unstable();
        let many_hosts = all_hosts.len() > MAX_SUMMARY_HOSTS;
        let summary = BlockSummary {
            count: built.count,
            first_id: built.first_id,
            last_id: built.last_id,
            min_rx_ns: built.min_rx_ns,
            max_rx_ns: built.max_rx_ns,
            stored_bytes,
            level_counts: built.level_counts,
            kind_counts: built.kind_counts,
            hosts: if many_hosts {
                Vec::new()
            } else {
                all_hosts.clone()
            },
            many_hosts,
        };
        (summary, all_hosts)
    }
}

/// Rebuilds the summary of an already decoded block (start-up reconciliation).
pub(crate) fn summarize(events: &[Event], stored_bytes: u64) -> (BlockSummary, Vec<String>) {
    let mut builder = SummaryBuilder::default();
    for e in events {
        builder.push(e);
    }
    builder.finish(stored_bytes)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_zigzag(out: &mut Vec<u8>, v: i64) {
    put_varint(out, ((v << 1) ^ (v >> 63)) as u64);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_bytes(out, s.as_bytes());
}

/// A bounds-checked cursor over untrusted bytes.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn u8(&mut self) -> Result<u8, CodecError> {
        let b = *self.buf.get(self.pos).ok_or_else(|| bad("truncated"))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.buf.len())
            .ok_or_else(|| bad("truncated"))?;
        let slice = &self.buf[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        self.take(N)?.try_into().map_err(|_| bad("truncated"))
    }

    fn varint(&mut self) -> Result<u64, CodecError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(bad("varint too long"))
    }

    fn zigzag(&mut self) -> Result<i64, CodecError> {
        let v = self.varint()?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    /// A length or element count; never more than the bytes left, so it cannot over-allocate.
    fn len_prefix(&mut self) -> Result<usize, CodecError> {
        let n = self.varint()?;
        usize::try_from(n)
            .ok()
            .filter(|n| *n <= self.buf.len() - self.pos)
            .ok_or_else(|| bad("length out of range"))
    }

    fn bytes(&mut self) -> Result<&'a [u8], CodecError> {
        let n = self.len_prefix()?;
        self.take(n)
    }

    fn string(&mut self) -> Result<String, CodecError> {
        let b = self.bytes()?;
        String::from_utf8(b.to_vec()).map_err(|_| bad("invalid UTF-8"))
    }

    fn opt_string(&mut self, present: bool) -> Result<Option<String>, CodecError> {
        if present {
            self.string().map(Some)
        } else {
            Ok(None)
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::event::Varbind;

    /// An event with every field filled, including unicode, SD, a trap and raw bytes.
    pub(crate) fn full_event(id: u64, rx: i64) -> Event {
        let source: SocketAddr = "[2001:db8::1]:5140".parse().unwrap();
        let mut e = Event::new(rx, source, Transport::Tls, EventKind::Trap);
        e.id = id;
        e.facility = Some(23);
        e.severity = Some(2);
        e.level = Level::Critical;
        e.host = "rtr-ümlaut-01".into();
        e.app = Some("snmpd".into());
        e.procid = Some("4242".into());
        e.msgid = Some("ID47".into());
        e.timestamp = Some("2026-11-23T12:00:00.123+01:00".into());
        e.message = "link down 🔥 on ge-0/0/1\nsecond line".into();
        e.structured_data = vec![
            StructuredElement {
                id: "exampleSDID@32473".into(),
                params: vec![("iut".into(), "3".into()), ("a".into(), "".into())],
            },
            StructuredElement {
                id: "empty".into(),
                params: vec![],
            },
        ];
        e.trap = Some(TrapInfo {
            version: "v2c".into(),
            community: Some("public".into()),
            user: None,
            trap_oid: "1.3.6.1.6.3.1.1.5.3".into(),
            trap_name: Some("linkDown".into()),
            agent: Some("192.0.2.1".into()),
            uptime: Some(123456),
            varbinds: vec![Varbind {
                oid: "1.3.6.1.2.1.2.2.1.1.1".into(),
                name: Some("ifIndex.1".into()),
                value_type: "Integer".into(),
                value: "1".into(),
            }],
        });
        e.raw = Some(vec![0, 159, 146, 150, 0xff, b'\n']);
        e
    }

    fn minimal_event(id: u64, rx: i64) -> Event {
        let mut e = Event::new(
            rx,
            "192.0.2.7:514".parse().unwrap(),
            Transport::Udp,
            EventKind::Syslog,
        );
        e.id = id;
        e
    }

    #[test]
    fn block_round_trips_every_field() {
        let events = vec![
            full_event(7, 1_000),
            minimal_event(8, 900),
            full_event(20, i64::MAX / 2),
            minimal_event(21, -5),
        ];
        let mut enc = BlockEncoder::new().unwrap();
        for e in &events {
            enc.push(e);
        }
        let value = enc.finish().unwrap();
        assert_eq!(decode_block(&value).unwrap(), events);
    }

    #[test]
    fn summary_round_trips_and_caps_hosts() {
        let mut b = SummaryBuilder::default();
        for i in 0..100u64 {
            let mut e = minimal_event(i + 1, 10 + i as i64);
            e.host = format!("h{}", i % 70);
            b.push(&e);
        }
        let (s, all) = b.finish(1234);
        assert_eq!(
            (s.count, s.first_id, s.last_id, s.min_rx_ns, s.max_rx_ns),
            (100, 1, 100, 10, 109)
        );
        assert!(s.many_hosts && s.hosts.is_empty() && all.len() == 70);
        assert_eq!(BlockSummary::decode(&s.encode()).unwrap(), s);

        let (small, _) = summarize(&[full_event(1, 5)], 9);
        assert_eq!(small.hosts, vec!["rtr-ümlaut-01".to_string()]);
        assert!(small.may_have_host("rtr-ümlaut-01") && !small.may_have_host("other"));
        assert_eq!(small.level_counts[Level::Critical.code() as usize], 1);
        assert_eq!(BlockSummary::decode(&small.encode()).unwrap(), small);
    }

    #[test]
    fn damaged_bytes_are_errors_not_panics() {
        let mut enc = BlockEncoder::new().unwrap();
        enc.push(&full_event(1, 1));
        let value = enc.finish().unwrap();
        assert!(decode_block(&[]).is_err());
        assert!(decode_block(&[9, 0, 0, 0, 0]).is_err());
        assert!(decode_block(&[1, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]).is_err());
        for cut in [1, 3, 5, value.len() / 2, value.len() - 1] {
            assert!(decode_block(&value[..cut]).is_err(), "cut at {cut}");
        }
        // Garbage raw encodings behind a valid zstd frame.
        for seed in 0u8..50 {
            let raw: Vec<u8> = (0..200u32)
                .map(|i| (i as u8).wrapping_mul(seed).wrapping_add(seed))
                .collect();
            let payload = zstd::bulk::compress(&raw, 1).unwrap();
            let mut v = vec![CODEC_ZSTD];
            v.extend_from_slice(&(raw.len() as u32).to_le_bytes());
            v.extend_from_slice(&payload);
            let _ = decode_block(&v);
        }
        for cut in 0..s_len() {
            let s = summarize(&[full_event(1, 5)], 9).0.encode();
            let _ = BlockSummary::decode(&s[..cut.min(s.len())]);
        }
    }

    fn s_len() -> usize {
        40
    }
}
