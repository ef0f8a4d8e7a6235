//! The SNMP notification receiver as a pure protocol engine: one datagram in, an [`Outcome`]
//! out — the decoded trap or inform, the datagram to send back (an inform's Response, a v3
//! Report), or the reason it was refused. No sockets, no Event building, no MIB names: the UDP
//! listener and the caller own those.
//!
//! - [`SnmpReceiver::handle`] dispatches on msgVersion: v1/v2c go through the community check
//!   (here), v3 through the User-based Security Model (`v3`, RFC 3414) where trapline is the
//!   non-authoritative engine for traps and the authoritative one for informs (discovery and
//!   time-window Reports, authenticated/encrypted Responses).
//! - `pdu` decodes PDUs and typed values ([`SnmpValue`]) and builds inform Responses; `ber` is
//!   the BER reader/writer underneath; `usm` holds keys, digests and ciphers.
//!
//! Decisions worth knowing:
//! - Decoding is our own BER code, not snmp2's `Pdu`: snmp2's varbind iterator stops silently at
//!   the first undecodable varbind, its v3 path writes into the caller's buffer, and it cannot
//!   be the authoritative engine (shared/notes/crates.md §1). The v3 engine needs a BER reader
//!   with offsets anyway, so one decoder serves all versions; snmp2 is a dev-dependency that
//!   the tests use as an independent decoder.
//! - A varbind that does not decode refuses the whole datagram (`truncated_varbinds`) rather
//!   than delivering a trap with fields missing; the raw datagram is the caller's to keep.
//! - No communities configured means [`DEFAULT_COMMUNITY`] (`public`), not "accept any".
//! - A v1 Trap-PDU inside a v2c message is refused as malformed (RFC 3584 §2.1).
//! - v3: the message's security level must equal the user's configured level; a discovery
//!   probe (empty engine id) is answered and is neither a trap nor a refusal; traps are not
//!   replay-protected (no per-remote-engine clock, RFC 3414 §3.2 step 7b), informs are (150 s).
//! - AES-192/256 keys use the Blumenthal extension, which is what net-snmp 5.9 `-x AES-192` /
//!   `-x AES-256` do (verified against net-snmp 5.9.3 in the tests); the Reeder/Cisco variant
//!   (`AES-192-C`) is not supported. A Response larger than the sender's msgMaxSize is still sent
//!   (no tooBig handling).
//!
//! Nothing here panics on any input.

mod ber;
mod pdu;
mod usm;
mod v3;

use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use thiserror::Error;

use crate::config::SnmpSection;

pub use pdu::{SnmpValue, V1Fields, VarBind, oid_to_string, push_arc, push_oid};
pub use usm::{AuthProtocol, PrivProtocol, UnknownProtocol};

/// The largest datagram `handle` looks at (the UDP maximum); anything longer is refused.
pub const MAX_DATAGRAM_BYTES: usize = 65_535;

/// The community used when the config lists none: refusing every v1/v2c trap by default would
/// surprise, and `public` is what every agent sends out of the box.
pub const DEFAULT_COMMUNITY: &str = "public";

/// The protocol version of a received message (msgVersion: 0, 1, 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnmpVersion {
    V1,
    V2c,
    V3,
}

impl SnmpVersion {
    /// The text stored in `TrapInfo::version`.
    pub fn as_str(self) -> &'static str {
        match self {
            SnmpVersion::V1 => "v1",
            SnmpVersion::V2c => "v2c",
            SnmpVersion::V3 => "v3",
        }
    }
}

/// The security level a notification arrived with (RFC 3411 §3.4.3); community messages are
/// `NoAuthNoPriv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SecurityLevel {
    NoAuthNoPriv,
    AuthNoPriv,
    AuthPriv,
}

impl SecurityLevel {
    /// net-snmp's spelling, for logs and the event.
    pub fn as_str(self) -> &'static str {
        match self {
            SecurityLevel::NoAuthNoPriv => "noAuthNoPriv",
            SecurityLevel::AuthNoPriv => "authNoPriv",
            SecurityLevel::AuthPriv => "authPriv",
        }
    }
}

/// A notification that passed every check, in the SNMPv2 form (RFC 3416 §4.2.6): v1 traps are
/// translated per RFC 3584 §3.1 and keep their v1 fields in `v1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedTrap {
    pub version: SnmpVersion,
    /// v1/v2c community (lossy UTF-8).
    pub community: Option<String>,
    /// v3 USM user name (lossy UTF-8).
    pub user: Option<String>,
    pub security_level: SecurityLevel,
    /// v3: msgAuthoritativeEngineID (the sender's for traps, ours for informs).
    pub engine_id: Option<Vec<u8>>,
    /// 0 for v1 traps, which have none.
    pub request_id: i32,
    /// True for an InformRequest (a Response was produced in `Outcome::response`).
    pub inform: bool,
    /// snmpTrapOID.0 (translated for v1).
    pub trap_oid: Vec<u32>,
    /// sysUpTime.0 in TimeTicks (the v1 time-stamp for v1).
    pub uptime: Option<u32>,
    pub v1: Option<V1Fields>,
    /// The varbinds after sysUpTime.0 and snmpTrapOID.0, in order.
    pub varbinds: Vec<VarBind>,
}

/// Why a datagram was not accepted. [`Refusal::as_str`] is the bounded metrics label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Error)]
pub enum Refusal {
    #[error("v1/v2c community not configured")]
    BadCommunity,
    #[error("unknown USM user (usmStatsUnknownUserNames)")]
    UnknownUser,
    #[error("engine id not accepted for this user (usmStatsUnknownEngineIDs)")]
    UnknownEngineId,
    #[error("authentication digest mismatch (usmStatsWrongDigests)")]
    WrongDigest,
    #[error("outside the time window (usmStatsNotInTimeWindows)")]
    NotInTimeWindow,
    #[error("decryption failed (usmStatsDecryptionErrors)")]
    DecryptionError,
    #[error("security level not what the user is configured for (usmStatsUnsupportedSecLevels)")]
    UnsupportedSecurityLevel,
    #[error("too many new engine ids: key localisation rate limited")]
    RateLimited,
    #[error("malformed message")]
    Malformed,
    #[error("the datagram ends before the message does")]
    Truncated,
    #[error("a varbind could not be decoded")]
    TruncatedVarbinds,
    #[error("not a Trap or InformRequest PDU")]
    NotANotification,
    #[error("unsupported SNMP version or security model")]
    UnsupportedVersion,
}

impl Refusal {
    /// The label of `trapline_traps_refused_total{reason}`.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::BadCommunity => "bad_community",
            Refusal::UnknownUser => "unknown_user",
            Refusal::UnknownEngineId => "unknown_engine_id",
            Refusal::WrongDigest => "wrong_digest",
            Refusal::NotInTimeWindow => "not_in_time_window",
            Refusal::DecryptionError => "decryption_error",
            Refusal::UnsupportedSecurityLevel => "unsupported_security_level",
            Refusal::RateLimited => "rate_limited",
            Refusal::Malformed => "malformed",
            Refusal::Truncated => "truncated",
            Refusal::TruncatedVarbinds => "truncated_varbinds",
            Refusal::NotANotification => "not_a_notification",
            Refusal::UnsupportedVersion => "unsupported_version",
        }
    }
}

impl From<ber::BerError> for Refusal {
    fn from(e: ber::BerError) -> Self {
        match e {
            ber::BerError::Truncated => Refusal::Truncated,
            _ => Refusal::Malformed,
        }
    }
}

impl From<pdu::PduError> for Refusal {
    fn from(e: pdu::PduError) -> Self {
        match e {
            pdu::PduError::Malformed(b) => b.into(),
            pdu::PduError::TruncatedVarbinds => Refusal::TruncatedVarbinds,
            pdu::PduError::TooManyVarbinds => Refusal::Malformed,
        }
    }
}

/// What to do with one datagram. At most one of `trap` and `refusal` is set; both are `None`
/// for a pure protocol exchange (an SNMPv3 engine-id discovery probe, answered in `response`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub trap: Option<DecodedTrap>,
    /// Datagram to send back to the peer: an inform's Response or a v3 Report.
    pub response: Option<Vec<u8>>,
    pub refusal: Option<Refusal>,
}

impl Outcome {
    fn refused(reason: Refusal) -> Self {
        Outcome {
            refusal: Some(reason),
            ..Outcome::default()
        }
    }
}

/// One SNMPv3 user as the receiver needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsmUser {
    pub name: String,
    /// For traps: the only msgAuthoritativeEngineID accepted for this user; `None` accepts any.
    pub engine_id: Option<Vec<u8>>,
    /// Protocol and password; `None` is noAuthNoPriv.
    pub auth: Option<(AuthProtocol, String)>,
    /// Protocol and password; needs `auth`.
    pub privacy: Option<(PrivProtocol, String)>,
}

/// Everything the receiver is built from.
#[derive(Debug, Clone)]
pub struct SnmpSettings {
    /// Accepted v1/v2c communities (compared exactly).
    pub communities: Vec<String>,
    pub users: Vec<UsmUser>,
    /// snmpEngineID of trapline (RFC 3411 §5); see [`generate_engine_id`].
    pub local_engine_id: Vec<u8>,
    /// snmpEngineBoots, persisted and incremented by the caller at each start.
    pub engine_boots: u32,
    /// When snmpEngineTime was 0.
    pub started: Instant,
    /// Bound on the (engine id, user) → localised keys cache.
    pub key_cache_entries: usize,
    /// New key localisations allowed per second (unknown engine ids beyond it are refused).
    pub localisations_per_sec: u32,
}

/// Why the `[snmp]` section cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SettingsError {
    #[error("snmp user {user:?}: {source}")]
    Protocol {
        user: String,
        source: UnknownProtocol,
    },
    #[error("snmp user {user:?}: {what}")]
    Invalid { user: String, what: &'static str },
    #[error("local engine id must be 5 to 32 octets (RFC 3411 §5)")]
    EngineId,
}

impl SnmpSettings {
    /// Builds settings from the `[snmp]` config: protocol names as net-snmp spells them
    /// (`SHA-256`, `AES-256`), `auth_key`/`privacy_key` are passwords (at least 8 characters,
    /// RFC 3414 §11.2), `engine_id` is hex (`0x8000…` or `80:00:…`). No communities → `public`.
    pub fn from_config(
        section: &SnmpSection,
        local_engine_id: Vec<u8>,
        engine_boots: u32,
        started: Instant,
    ) -> Result<Self, SettingsError> {
        let mut communities = section.communities.clone();
        if communities.is_empty() {
            communities.push(DEFAULT_COMMUNITY.to_string());
        }
        let users = section
            .users
            .iter()
            .map(user_from_config)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SnmpSettings {
            communities,
            users,
            local_engine_id,
            engine_boots,
            started,
            key_cache_entries: 1024,
            localisations_per_sec: 64,
        })
    }
}

fn user_from_config(u: &crate::config::SnmpUserSection) -> Result<UsmUser, SettingsError> {
    let invalid = |what| SettingsError::Invalid {
        user: u.name.clone(),
        what,
    };
    let proto = |source| SettingsError::Protocol {
        user: u.name.clone(),
        source,
    };
    let engine_id = u
        .engine_id
        .as_deref()
        .map(|t| parse_hex(t).ok_or_else(|| invalid("engine_id is not hex")))
        .transpose()?;
    let auth = match (&u.auth, &u.auth_key) {
        (None, None) => None,
        (Some(a), Some(k)) => Some((AuthProtocol::parse(a).map_err(proto)?, k.clone())),
        _ => return Err(invalid("auth and auth_key go together")),
    };
    let privacy = match (&u.privacy, &u.privacy_key) {
        (None, None) => None,
        (Some(p), Some(k)) => Some((PrivProtocol::parse(p).map_err(proto)?, k.clone())),
        _ => return Err(invalid("privacy and privacy_key go together")),
    };
    if privacy.is_some() && auth.is_none() {
        return Err(invalid("privacy needs auth"));
    }
    let short = |pw: Option<&String>| pw.is_some_and(|p| p.len() < 8);
    if short(auth.as_ref().map(|a| &a.1)) || short(privacy.as_ref().map(|p| &p.1)) {
        return Err(invalid(
            "passwords need at least 8 characters (RFC 3414 §11.2)",
        ));
    }
    Ok(UsmUser {
        name: u.name.clone(),
        engine_id,
        auth,
        privacy,
    })
}

/// Hex in the forms people paste: `0x8000…`, `80:00:…`, `8000…`.
fn parse_hex(text: &str) -> Option<Vec<u8>> {
    let t = text.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    let digits: String = t.chars().filter(|c| *c != ':' && *c != ' ').collect();
    if digits.is_empty() || !digits.len().is_multiple_of(2) {
        return None;
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(digits.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A fresh snmpEngineID in the RFC 3411 §5 format: enterprise 8072 (net-snmp's, as net-snmp
/// agents do) with the high bit set, format 0x05 (octets), then 8 random octets. The caller
/// persists it: a changing engine id makes every v3 inform sender rediscover it.
pub fn generate_engine_id() -> Vec<u8> {
    let mut id = vec![0x80, 0x00, 0x1f, 0x88, 0x05];
    id.extend_from_slice(&rand::random::<[u8; 8]>());
    id
}

/// The usmStats counters (RFC 3414 §5), sent in Reports and readable for metrics.
#[derive(Debug, Default)]
pub struct UsmStats {
    pub unsupported_sec_levels: AtomicU32,
    pub not_in_time_windows: AtomicU32,
    pub unknown_user_names: AtomicU32,
    pub unknown_engine_ids: AtomicU32,
    pub wrong_digests: AtomicU32,
    pub decryption_errors: AtomicU32,
}

/// The receiver: community list, USM users with their password keys (Ku, computed once here),
/// the localised-key cache and the engine's boots/time. `Send + Sync`; share it by reference.
pub struct SnmpReceiver {
    communities: Vec<Vec<u8>>,
    users: Vec<v3::UserKeys>,
    local_engine_id: Vec<u8>,
    engine_boots: u32,
    started: Instant,
    keys: Mutex<usm::KeyCache>,
    stats: UsmStats,
    salt: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for SnmpReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnmpReceiver")
            .field("engine_id", &oid_hex(&self.local_engine_id))
            .field("users", &self.users.len())
            .finish_non_exhaustive()
    }
}

fn oid_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl SnmpReceiver {
    /// Computes each user's Ku (RFC 3414 A.2, ~1 MiB of hashing per password — a few ms) and
    /// pre-localises the keys of users with a configured engine id and for our own engine.
    pub fn new(settings: SnmpSettings) -> Result<Self, SettingsError> {
        if !(5..=32).contains(&settings.local_engine_id.len()) {
            return Err(SettingsError::EngineId);
        }
        let users: Vec<v3::UserKeys> = settings.users.iter().map(v3::UserKeys::new).collect();
        let mut cache =
            usm::KeyCache::new(settings.key_cache_entries, settings.localisations_per_sec);
        for (i, u) in users.iter().enumerate() {
            if let Some(k) = u.localize(&settings.local_engine_id) {
                cache.insert(&settings.local_engine_id, i, k.into());
            }
            if let Some(engine) = &u.user.engine_id
                && let Some(k) = u.localize(engine)
            {
                cache.insert(engine, i, k.into());
            }
        }
        Ok(SnmpReceiver {
            communities: settings
                .communities
                .into_iter()
                .map(String::into_bytes)
                .collect(),
            users,
            local_engine_id: settings.local_engine_id,
            engine_boots: settings.engine_boots,
            started: settings.started,
            keys: Mutex::new(cache),
            stats: UsmStats::default(),
            salt: std::sync::atomic::AtomicU64::new(rand::random()),
        })
    }

    /// Our snmpEngineID, which v3 inform senders must use (they learn it by discovery).
    pub fn engine_id(&self) -> &[u8] {
        &self.local_engine_id
    }

    /// The usmStats counters.
    pub fn usm_stats(&self) -> &UsmStats {
        &self.stats
    }

    /// snmpEngineTime: seconds since `started`, capped at 2^31-1 (RFC 3414 §2.2.1).
    fn engine_time(&self) -> u32 {
        self.started.elapsed().as_secs().min(i32::MAX as u64) as u32
    }

    fn next_salt(&self) -> [u8; 8] {
        self.salt.fetch_add(1, Ordering::Relaxed).to_be_bytes()
    }

    /// Decodes one datagram from `peer`. Never panics; never yields a trap for a refused message.
    pub fn handle(&self, datagram: &[u8], peer: SocketAddr) -> Outcome {
        let _ = peer; // Reserved for per-peer policy; the decision depends on the bytes only.
        if datagram.len() > MAX_DATAGRAM_BYTES {
            return Outcome::refused(Refusal::Malformed);
        }
        match message_version(datagram) {
            Ok(0) => self.handle_community(datagram, SnmpVersion::V1),
            Ok(1) => self.handle_community(datagram, SnmpVersion::V2c),
            Ok(3) => self.handle_v3(datagram),
            Ok(_) => Outcome::refused(Refusal::UnsupportedVersion),
            Err(r) => Outcome::refused(r),
        }
    }

    /// RFC 1157 §4 / RFC 1901 §3 message: version, community, PDU. Trailing bytes after the
    /// message are ignored.
    fn handle_community(&self, datagram: &[u8], version: SnmpVersion) -> Outcome {
        match self.decode_community(datagram, version) {
            Ok(outcome) => outcome,
            Err(r) => Outcome::refused(r),
        }
    }

    fn decode_community(&self, datagram: &[u8], version: SnmpVersion) -> Result<Outcome, Refusal> {
        let mut msg = ber::Reader::new(datagram).read_sequence()?;
        msg.read_integer()?;
        let community = msg.read_octets()?;
        let pdu = pdu::Pdu::decode(&mut msg)?;
        let expected_tag = match version {
            SnmpVersion::V1 => pdu::TAG_V1_TRAP,
            _ => pdu::TAG_V2_TRAP,
        };
        // A v1 Trap-PDU inside a v2c message (or the reverse) is refused: RFC 3584 §2.1 pairs
        // the Trap-PDU with v1 only, and guessing would mis-report the version.
        let inform = version == SnmpVersion::V2c && pdu.tag == pdu::TAG_INFORM;
        if pdu.tag != expected_tag && !inform {
            return Err(if pdu.tag == pdu::TAG_V1_TRAP {
                Refusal::Malformed
            } else {
                Refusal::NotANotification
            });
        }
        if !self.communities.iter().any(|c| c == community) {
            return Err(Refusal::BadCommunity);
        }
        let trap = notification(&pdu, version, inform)?;
        let trap = DecodedTrap {
            community: Some(String::from_utf8_lossy(community).into_owned()),
            ..trap
        };
        let response = inform.then(|| {
            let mut body = Vec::new();
            ber::put_integer(&mut body, ber::TAG_INTEGER, 1);
            ber::put_tlv(&mut body, ber::TAG_OCTET_STRING, community);
            body.extend_from_slice(&pdu.encode_response());
            ber::wrap(ber::TAG_SEQUENCE, &body)
        });
        Ok(Outcome {
            trap: Some(trap),
            response,
            refusal: None,
        })
    }
}

/// The msgVersion of a message: the first INTEGER of the outer SEQUENCE.
fn message_version(datagram: &[u8]) -> Result<i64, Refusal> {
    let mut msg = ber::Reader::new(datagram).read_sequence()?;
    Ok(msg.read_integer()?)
}

/// The notification view of a decoded Trap/Inform PDU; a v2 PDU without snmpTrapOID.0 in
/// second place (RFC 3416 §4.2.6) is malformed.
fn notification(
    pdu: &pdu::Pdu,
    version: SnmpVersion,
    inform: bool,
) -> Result<DecodedTrap, Refusal> {
    let (trap_oid, uptime, rest) = pdu.notification_view().ok_or(Refusal::Malformed)?;
    Ok(DecodedTrap {
        version,
        community: None,
        user: None,
        security_level: SecurityLevel::NoAuthNoPriv,
        engine_id: None,
        request_id: pdu.request_id,
        inform,
        trap_oid,
        uptime,
        v1: pdu.v1.clone(),
        varbinds: rest.to_vec(),
    })
}

#[cfg(test)]
mod tests;
