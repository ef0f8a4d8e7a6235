//! SNMPv3 messages (RFC 3412 §6) under the User-based Security Model (RFC 3414 §3.2): parsing
//! the message and its UsmSecurityParameters, the incoming-message checks in RFC order (user,
//! security level, engine id, digest, time window, decryption), and encoding the messages we
//! send back — an inform's Response (authenticated/encrypted with our localised keys, echoing
//! the request's msgID) and Reports (usmStats*, RFC 3414 §3.2 and §4).
//!
//! Roles: for a Trap the sender is authoritative (its engine id, any boots/time — no replay
//! window is kept for remote engines, RFC 3414 §3.2 step 7b is not implemented); for an
//! InformRequest trapline is authoritative (our engine id, boots, time; 150 s window, step 7a).
//! Does not own: PDU contents (`pdu`), crypto primitives (`usm`).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::ber::{self, Reader};
use super::pdu::{self, Pdu, SnmpValue};
use super::usm::{AuthProtocol, LocalizedKeys, PrivProtocol};
use super::{Outcome, Refusal, SecurityLevel, SnmpReceiver, SnmpVersion, UsmUser};

/// RFC 3414 §2.2.3: the time window.
const TIME_WINDOW_SECS: i64 = 150;
/// The msgMaxSize we announce (RFC 3412 §6.2: the largest UDP payload).
const MSG_MAX_SIZE: i64 = 65_507;
const FLAG_AUTH: u8 = 0x01;
const FLAG_PRIV: u8 = 0x02;
const FLAG_REPORTABLE: u8 = 0x04;
const USM_SECURITY_MODEL: i64 = 3;

/// usmStats OIDs (RFC 3414 §5, 1.3.6.1.6.3.15.1.1.n.0).
const fn usm_stats(n: u32) -> [u32; 11] {
    [1, 3, 6, 1, 6, 3, 15, 1, 1, n, 0]
}
const UNSUPPORTED_SEC_LEVELS: [u32; 11] = usm_stats(1);
const NOT_IN_TIME_WINDOWS: [u32; 11] = usm_stats(2);
const UNKNOWN_USER_NAMES: [u32; 11] = usm_stats(3);
const UNKNOWN_ENGINE_IDS: [u32; 11] = usm_stats(4);
const WRONG_DIGESTS: [u32; 11] = usm_stats(5);
const DECRYPTION_ERRORS: [u32; 11] = usm_stats(6);

/// A user with its password keys (Ku), computed once.
#[derive(Debug)]
pub(super) struct UserKeys {
    pub user: UsmUser,
    auth_ku: Option<(AuthProtocol, Vec<u8>)>,
    priv_ku: Option<(PrivProtocol, Vec<u8>)>,
}

impl UserKeys {
    pub fn new(user: &UsmUser) -> Self {
        let auth_ku = user
            .auth
            .as_ref()
            .map(|(p, pw)| (*p, p.password_to_key(pw.as_bytes())));
        // RFC 3414 §8.1.1.1 / RFC 3826 §1.2: the privacy key uses the auth protocol's hash.
        let priv_ku = match (&user.auth, &user.privacy) {
            (Some((a, _)), Some((p, pw))) => Some((*p, a.password_to_key(pw.as_bytes()))),
            _ => None,
        };
        UserKeys {
            user: user.clone(),
            auth_ku,
            priv_ku,
        }
    }

    pub fn level(&self) -> SecurityLevel {
        match (&self.auth_ku, &self.priv_ku) {
            (None, _) => SecurityLevel::NoAuthNoPriv,
            (Some(_), None) => SecurityLevel::AuthNoPriv,
            (Some(_), Some(_)) => SecurityLevel::AuthPriv,
        }
    }

    /// RFC 3414 §2.6 localisation to `engine_id`; `None` for a noAuthNoPriv user.
    pub fn localize(&self, engine_id: &[u8]) -> Option<LocalizedKeys> {
        let (auth, ku) = self.auth_ku.as_ref()?;
        let privacy = self
            .priv_ku
            .as_ref()
            .map(|(p, pku)| p.localized_key(*auth, pku, engine_id));
        Some(LocalizedKeys {
            auth: auth.localize(ku, engine_id),
            privacy,
        })
    }

    fn auth(&self) -> Option<AuthProtocol> {
        self.auth_ku.as_ref().map(|(p, _)| *p)
    }

    fn privacy(&self) -> Option<PrivProtocol> {
        self.priv_ku.as_ref().map(|(p, _)| *p)
    }
}

/// SNMPv3Message with its UsmSecurityParameters (RFC 3412 §6, RFC 3414 §2.4).
#[derive(Debug)]
pub(super) struct Message<'a> {
    /// The whole message element (what the HMAC covers).
    pub whole: &'a [u8],
    pub msg_id: i64,
    pub flags: u8,
    pub engine_id: &'a [u8],
    pub boots: u32,
    pub time: u32,
    pub user: &'a [u8],
    /// Offset of msgAuthenticationParameters' contents within `whole`, and their length.
    pub auth_at: usize,
    pub auth_params: &'a [u8],
    pub priv_params: &'a [u8],
    /// msgData: a plaintext ScopedPDU (SEQUENCE) or an encryptedPDU (OCTET STRING).
    pub data_tag: u8,
    pub data: &'a [u8],
}

impl<'a> Message<'a> {
    pub fn parse(datagram: &'a [u8]) -> Result<Self, Refusal> {
        let outer = Reader::new(datagram).read(ber::TAG_SEQUENCE)?;
        let whole = &datagram[outer.header_start..outer.end()];
        let mut msg = outer.reader();
        if msg.read_integer()? != 3 {
            return Err(Refusal::UnsupportedVersion);
        }
        let mut global = msg.read_sequence()?;
        let msg_id = global.read_integer()?;
        let max_size = global.read_integer()?;
        let flags = match global.read_octets()? {
            [f] => *f,
            _ => return Err(Refusal::Malformed),
        };
        if global.read_integer()? != USM_SECURITY_MODEL {
            return Err(Refusal::UnsupportedVersion);
        }
        // RFC 3412 §6: msgID and msgMaxSize ranges; §7.2 step 5: priv without auth is invalid.
        if !(0..=i64::from(i32::MAX)).contains(&msg_id)
            || !(484..=i64::from(i32::MAX)).contains(&max_size)
            || flags & (FLAG_AUTH | FLAG_PRIV) == FLAG_PRIV
        {
            return Err(Refusal::Malformed);
        }
        let sec = msg.read(ber::TAG_OCTET_STRING)?;
        let mut usm = sec.reader().read_sequence()?;
        let engine_id = usm.read_octets()?;
        let boots = bounded_u31(usm.read_integer()?)?;
        let time = bounded_u31(usm.read_integer()?)?;
        let user = usm.read_octets()?;
        let auth = usm.read(ber::TAG_OCTET_STRING)?;
        let priv_params = usm.read_octets()?;
        if engine_id.len() > 32 || user.len() > 32 {
            return Err(Refusal::Malformed);
        }
        let data = msg.read_any()?;
        if data.tag != ber::TAG_SEQUENCE && data.tag != ber::TAG_OCTET_STRING {
            return Err(Refusal::Malformed);
        }
        Ok(Message {
            whole,
            msg_id,
            flags,
            engine_id,
            boots,
            time,
            user,
            auth_at: auth.start - outer.header_start,
            auth_params: auth.value,
            priv_params,
            data_tag: data.tag,
            data: data.value,
        })
    }

    fn level(&self) -> SecurityLevel {
        match self.flags & (FLAG_AUTH | FLAG_PRIV) {
            0 => SecurityLevel::NoAuthNoPriv,
            FLAG_AUTH => SecurityLevel::AuthNoPriv,
            _ => SecurityLevel::AuthPriv,
        }
    }

    fn reportable(&self) -> bool {
        self.flags & FLAG_REPORTABLE != 0
    }

    /// RFC 3414 §6.3.2 / §7.3.2: the HMAC over the whole message with the digest zeroed.
    fn digest_ok(&self, auth: AuthProtocol, key: &[u8]) -> bool {
        if self.auth_params.len() != auth.mac_len() {
            return false;
        }
        let mut copy = self.whole.to_vec();
        copy[self.auth_at..self.auth_at + self.auth_params.len()].fill(0);
        super::usm::digests_equal(&auth.mac(key, &copy), self.auth_params)
    }
}

fn bounded_u31(v: i64) -> Result<u32, Refusal> {
    u32::try_from(v)
        .ok()
        .filter(|v| *v <= i32::MAX as u32)
        .ok_or(Refusal::Malformed)
}

/// ScopedPDU (RFC 3412 §6.8). Bytes after it (DES padding) are ignored.
struct Scoped {
    context_engine_id: Vec<u8>,
    context_name: Vec<u8>,
    pdu: Pdu,
}

fn parse_scoped(plain: &[u8]) -> Result<Scoped, Refusal> {
    let mut r = Reader::new(plain).read_sequence()?;
    let context_engine_id = r.read_octets()?.to_vec();
    let context_name = r.read_octets()?.to_vec();
    let pdu = Pdu::decode(&mut r)?;
    Ok(Scoped {
        context_engine_id,
        context_name,
        pdu,
    })
}

/// The security parameters of a message we send.
struct Outgoing<'k> {
    msg_id: i64,
    user: &'k [u8],
    /// `None` sends noAuthNoPriv.
    keys: Option<(&'k UserKeys, &'k LocalizedKeys)>,
    encrypt: bool,
}

impl SnmpReceiver {
    pub(super) fn handle_v3(&self, datagram: &[u8]) -> Outcome {
        let msg = match Message::parse(datagram) {
            Ok(m) => m,
            Err(r) => return Outcome::refused(r),
        };
        self.process_v3(&msg)
    }

    /// RFC 3414 §3.2, steps in order.
    fn process_v3(&self, msg: &Message<'_>) -> Outcome {
        let local = msg.engine_id == self.local_engine_id.as_slice();
        // Discovery (RFC 3414 §4): an empty engine id is answered with our id, boots and time.
        if msg.engine_id.is_empty() {
            let response =
                self.report_unauth(msg, &UNKNOWN_ENGINE_IDS, &self.stats.unknown_engine_ids);
            let refusal = (msg.level() != SecurityLevel::NoAuthNoPriv || response.is_none())
                .then_some(Refusal::UnknownEngineId);
            return Outcome {
                trap: None,
                response,
                refusal,
            };
        }
        // Step 3: the user.
        let Some(index) = self
            .users
            .iter()
            .position(|u| u.user.name.as_bytes() == msg.user)
        else {
            return self.refuse_with_report(
                msg,
                Refusal::UnknownUser,
                &UNKNOWN_USER_NAMES,
                &self.stats.unknown_user_names,
            );
        };
        let user = &self.users[index];
        // Step 5: the level must be the user's (a weaker one would let anyone speak for it).
        if msg.level() != user.level() {
            return self.refuse_with_report(
                msg,
                Refusal::UnsupportedSecurityLevel,
                &UNSUPPORTED_SEC_LEVELS,
                &self.stats.unsupported_sec_levels,
            );
        }
        // Traps: a configured engine id pins the sender.
        if !local
            && user
                .user
                .engine_id
                .as_deref()
                .is_some_and(|e| e != msg.engine_id)
        {
            self.stats
                .unknown_engine_ids
                .fetch_add(1, Ordering::Relaxed);
            return Outcome::refused(Refusal::UnknownEngineId);
        }
        let keys = match user.auth() {
            None => None,
            Some(auth) => {
                let keys = match self.keys_for(msg.engine_id, index, user) {
                    Ok(k) => k,
                    Err(r) => return Outcome::refused(r),
                };
                // Step 6: the digest.
                if !msg.digest_ok(auth, &keys.auth) {
                    return self.refuse_with_report(
                        msg,
                        Refusal::WrongDigest,
                        &WRONG_DIGESTS,
                        &self.stats.wrong_digests,
                    );
                }
                Some(keys)
            }
        };
        // Step 7a: as the authoritative engine, the time window (answered authenticated).
        if local && keys.is_some() && !self.in_time_window(msg) {
            let n = self
                .stats
                .not_in_time_windows
                .fetch_add(1, Ordering::Relaxed)
                + 1;
            let out = Outgoing {
                msg_id: msg.msg_id,
                user: msg.user,
                keys: keys.as_deref().map(|k| (user, k)),
                encrypt: false,
            };
            let response = msg.reportable().then(|| {
                self.encode_message(
                    &out,
                    &self.local_engine_id,
                    b"",
                    &report_pdu(0, &NOT_IN_TIME_WINDOWS, n),
                    true,
                )
            });
            return Outcome {
                trap: None,
                response,
                refusal: Some(Refusal::NotInTimeWindow),
            };
        }
        // Step 8: decryption.
        let scoped = match self.plaintext(msg, user, keys.as_deref()) {
            Ok(s) => s,
            Err(Refusal::DecryptionError) => {
                return self.refuse_with_report(
                    msg,
                    Refusal::DecryptionError,
                    &DECRYPTION_ERRORS,
                    &self.stats.decryption_errors,
                );
            }
            Err(r) => return Outcome::refused(r),
        };
        self.accept_v3(msg, user, keys.as_deref(), scoped, local)
    }

    /// The decoded notification and, for an inform, its Response.
    fn accept_v3(
        &self,
        msg: &Message<'_>,
        user: &UserKeys,
        keys: Option<&LocalizedKeys>,
        scoped: Scoped,
        local: bool,
    ) -> Outcome {
        let inform = match scoped.pdu.tag {
            pdu::TAG_V2_TRAP => false,
            pdu::TAG_INFORM => true,
            _ => return Outcome::refused(Refusal::NotANotification),
        };
        if inform && !local {
            // An inform must be addressed to us as the authoritative engine.
            let response =
                self.report_unauth(msg, &UNKNOWN_ENGINE_IDS, &self.stats.unknown_engine_ids);
            return Outcome {
                trap: None,
                response,
                refusal: Some(Refusal::UnknownEngineId),
            };
        }
        let trap = match super::notification(&scoped.pdu, SnmpVersion::V3, inform) {
            Ok(t) => t,
            Err(r) => return Outcome::refused(r),
        };
        let trap = super::DecodedTrap {
            user: Some(String::from_utf8_lossy(msg.user).into_owned()),
            security_level: msg.level(),
            engine_id: Some(msg.engine_id.to_vec()),
            ..trap
        };
        let response = inform.then(|| {
            let out = Outgoing {
                msg_id: msg.msg_id,
                user: msg.user,
                keys: keys.map(|k| (user, k)),
                encrypt: msg.level() == SecurityLevel::AuthPriv,
            };
            self.encode_message(
                &out,
                &scoped.context_engine_id,
                &scoped.context_name,
                &scoped.pdu.encode_response(),
                false,
            )
        });
        Outcome {
            trap: Some(trap),
            response,
            refusal: None,
        }
    }

    /// Cached localised keys; a new pair spends a rate-limit token.
    fn keys_for(
        &self,
        engine_id: &[u8],
        index: usize,
        user: &UserKeys,
    ) -> Result<Arc<LocalizedKeys>, Refusal> {
        {
            let mut cache = self.keys.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(k) = cache.get(engine_id, index) {
                return Ok(k);
            }
            cache.take_token().map_err(|_| Refusal::RateLimited)?;
        }
        let keys = Arc::new(
            user.localize(engine_id)
                .ok_or(Refusal::UnsupportedSecurityLevel)?,
        );
        self.keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(engine_id, index, keys.clone());
        Ok(keys)
    }

    /// RFC 3414 §3.2 step 7a.
    fn in_time_window(&self, msg: &Message<'_>) -> bool {
        let drift = i64::from(msg.time) - i64::from(self.engine_time());
        msg.boots == self.engine_boots
            && msg.boots != i32::MAX as u32
            && drift.abs() <= TIME_WINDOW_SECS
    }

    fn plaintext(
        &self,
        msg: &Message<'_>,
        user: &UserKeys,
        keys: Option<&LocalizedKeys>,
    ) -> Result<Scoped, Refusal> {
        match (user.privacy(), keys.and_then(|k| k.privacy.as_deref())) {
            (Some(p), Some(key)) if msg.level() == SecurityLevel::AuthPriv => {
                if msg.data_tag != ber::TAG_OCTET_STRING {
                    return Err(Refusal::DecryptionError);
                }
                let plain = p
                    .decrypt(key, msg.boots, msg.time, msg.priv_params, msg.data)
                    .map_err(|_| Refusal::DecryptionError)?;
                parse_scoped(&plain).map_err(|r| match r {
                    // Garbage after decryption is a wrong privacy key, not a bad sender.
                    Refusal::Malformed | Refusal::Truncated => Refusal::DecryptionError,
                    other => other,
                })
            }
            _ => {
                if msg.data_tag != ber::TAG_SEQUENCE {
                    return Err(Refusal::Malformed);
                }
                let mut seq = Vec::with_capacity(msg.data.len() + 6);
                ber::put_tlv(&mut seq, ber::TAG_SEQUENCE, msg.data);
                parse_scoped(&seq)
            }
        }
    }

    fn refuse_with_report(
        &self,
        msg: &Message<'_>,
        reason: Refusal,
        oid: &[u32],
        counter: &std::sync::atomic::AtomicU32,
    ) -> Outcome {
        let response = self.report_unauth(msg, oid, counter);
        Outcome {
            trap: None,
            response,
            refusal: Some(reason),
        }
    }

    /// Counts, and when the message is reportable (RFC 3412 §7.1 step 3) builds a
    /// noAuthNoPriv Report carrying the counter.
    fn report_unauth(
        &self,
        msg: &Message<'_>,
        oid: &[u32],
        counter: &std::sync::atomic::AtomicU32,
    ) -> Option<Vec<u8>> {
        let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
        if !msg.reportable() {
            return None;
        }
        // The request-id of a plaintext request is echoed (net-snmp matches on it too).
        let request_id = if msg.data_tag == ber::TAG_SEQUENCE {
            let mut seq = Vec::new();
            ber::put_tlv(&mut seq, ber::TAG_SEQUENCE, msg.data);
            parse_scoped(&seq).map(|s| s.pdu.request_id).unwrap_or(0)
        } else {
            0
        };
        let out = Outgoing {
            msg_id: msg.msg_id,
            user: msg.user,
            keys: None,
            encrypt: false,
        };
        Some(self.encode_message(
            &out,
            &self.local_engine_id,
            b"",
            &report_pdu(request_id, oid, n),
            true,
        ))
    }

    /// SNMPv3Message with our engine id, boots and time (RFC 3412 §6, RFC 3414 §3.1).
    fn encode_message(
        &self,
        out: &Outgoing<'_>,
        context_engine_id: &[u8],
        context_name: &[u8],
        pdu: &[u8],
        report: bool,
    ) -> Vec<u8> {
        let boots = self.engine_boots;
        let time = self.engine_time();
        let mut scoped = Vec::with_capacity(pdu.len() + 48);
        ber::put_tlv(&mut scoped, ber::TAG_OCTET_STRING, context_engine_id);
        ber::put_tlv(&mut scoped, ber::TAG_OCTET_STRING, context_name);
        scoped.extend_from_slice(pdu);
        let scoped = ber::wrap(ber::TAG_SEQUENCE, &scoped);

        let mut flags = 0u8;
        let mut priv_params = Vec::new();
        let mut data = scoped;
        if let Some((user, keys)) = out.keys {
            flags |= FLAG_AUTH;
            if let (true, Some(p), Some(key)) =
                (out.encrypt, user.privacy(), keys.privacy.as_deref())
            {
                flags |= FLAG_PRIV;
                let salt = self.next_salt();
                let salt = match p {
                    // RFC 3414 §8.1.1.1: DES salt = boots || a local counter.
                    PrivProtocol::Des => {
                        let mut s = [0u8; 8];
                        s[..4].copy_from_slice(&boots.to_be_bytes());
                        s[4..].copy_from_slice(&salt[4..]);
                        s
                    }
                    _ => salt,
                };
                priv_params = salt.to_vec();
                data = ber::wrap(
                    ber::TAG_OCTET_STRING,
                    &p.encrypt(key, boots, time, salt, &data),
                );
            }
        }
        let mac_len = out
            .keys
            .and_then(|(u, _)| u.auth())
            .map_or(0, |a| a.mac_len());
        let _ = report; // Reports and Responses are never reportable (RFC 3412 §6.4).

        let mut usm = Vec::with_capacity(96);
        ber::put_tlv(&mut usm, ber::TAG_OCTET_STRING, &self.local_engine_id);
        ber::put_integer(&mut usm, ber::TAG_INTEGER, i64::from(boots));
        ber::put_integer(&mut usm, ber::TAG_INTEGER, i64::from(time));
        ber::put_tlv(&mut usm, ber::TAG_OCTET_STRING, out.user);
        ber::put_tlv(&mut usm, ber::TAG_OCTET_STRING, &vec![0; mac_len]);
        ber::put_tlv(&mut usm, ber::TAG_OCTET_STRING, &priv_params);
        let usm = ber::wrap(ber::TAG_SEQUENCE, &usm);

        let mut global = Vec::with_capacity(24);
        ber::put_integer(&mut global, ber::TAG_INTEGER, out.msg_id);
        ber::put_integer(&mut global, ber::TAG_INTEGER, MSG_MAX_SIZE);
        ber::put_tlv(&mut global, ber::TAG_OCTET_STRING, &[flags]);
        ber::put_integer(&mut global, ber::TAG_INTEGER, USM_SECURITY_MODEL);

        let mut body = Vec::with_capacity(usm.len() + data.len() + 40);
        ber::put_integer(&mut body, ber::TAG_INTEGER, 3);
        ber::put_tlv(&mut body, ber::TAG_SEQUENCE, &global);
        ber::put_tlv(&mut body, ber::TAG_OCTET_STRING, &usm);
        body.extend_from_slice(&data);
        let mut message = ber::wrap(ber::TAG_SEQUENCE, &body);

        if let Some((user, keys)) = out.keys
            && let (Some(auth), Ok(parsed)) = (user.auth(), Message::parse(&message))
        {
            let at = parsed.auth_at;
            let mac = auth.mac(&keys.auth, &message);
            message[at..at + mac.len()].copy_from_slice(&mac);
        }
        message
    }
}

/// A Report-PDU with one usmStats varbind (RFC 3414 §3.2).
fn report_pdu(request_id: i32, oid: &[u32], count: u32) -> Vec<u8> {
    let mut vb = Vec::with_capacity(24);
    ber::put_oid(&mut vb, oid);
    SnmpValue::Counter32(count).encode(&mut vb);
    let vb = ber::wrap(ber::TAG_SEQUENCE, &vb);
    let list = ber::wrap(ber::TAG_SEQUENCE, &vb);
    let mut body = Vec::with_capacity(list.len() + 12);
    ber::put_integer(&mut body, ber::TAG_INTEGER, i64::from(request_id));
    ber::put_integer(&mut body, ber::TAG_INTEGER, 0);
    ber::put_integer(&mut body, ber::TAG_INTEGER, 0);
    body.extend_from_slice(&list);
    ber::wrap(pdu::TAG_REPORT, &body)
}

/// Fuzzing support (feature `fuzzing`, and the unit tests). A fuzzer can neither forge an HMAC
/// nor write ciphertext that decrypts to BER, so on its own every mutation of an authenticated
/// message stops at the digest check and every mutation of an encrypted one at the first byte
/// of the ScopedPDU. Sealing does the sender's part so that the checks after those run too.
#[cfg(any(test, feature = "fuzzing"))]
impl SnmpReceiver {
    /// Seals a v3 message as the configured user it names would have: a plaintext ScopedPDU in
    /// a message whose flags ask for privacy is encrypted (that user's privacy key localised to
    /// the message's engine id; its boots, time and 8-octet privParameters as the salt), then a
    /// message whose flags ask for authentication gets its digest computed and written in. What
    /// cannot be sealed (not v3, unknown user, parameters of the wrong size) comes back as
    /// given, so the refusals are exercised as well.
    pub fn seal_for_fuzzing(&self, datagram: &[u8]) -> Vec<u8> {
        let Ok(msg) = Message::parse(datagram) else {
            return datagram.to_vec();
        };
        let Some(user) = self
            .users
            .iter()
            .find(|u| u.user.name.as_bytes() == msg.user)
        else {
            return datagram.to_vec();
        };
        let Some(keys) = user.localize(msg.engine_id) else {
            return datagram.to_vec();
        };
        let mut sealed = datagram.to_vec();
        if msg.flags & FLAG_PRIV != 0
            && msg.data_tag == ber::TAG_SEQUENCE
            && let (Some(privacy), Some(key)) = (user.privacy(), keys.privacy.as_deref())
            && let Some(encrypted) = encrypt_scoped_pdu(datagram, &msg, privacy, key)
        {
            sealed = encrypted;
        }
        if msg.flags & FLAG_AUTH != 0
            && let Some(auth) = user.auth()
        {
            sign(&mut sealed, auth, &keys.auth);
        }
        sealed
    }
}

/// The message with its plaintext ScopedPDU replaced by the encryptedPDU (RFC 3414 §3.1 step
/// 4); `None` when privParameters is not an 8-octet salt or msgData cannot be found.
#[cfg(any(test, feature = "fuzzing"))]
fn encrypt_scoped_pdu(
    datagram: &[u8],
    msg: &Message<'_>,
    privacy: PrivProtocol,
    key: &[u8],
) -> Option<Vec<u8>> {
    let salt: [u8; 8] = msg.priv_params.try_into().ok()?;
    let outer = Reader::new(datagram).read(ber::TAG_SEQUENCE).ok()?;
    let mut fields = outer.reader();
    // msgVersion, msgGlobalData, msgSecurityParameters, then msgData.
    for _ in 0..3 {
        fields.read_any().ok()?;
    }
    let data = fields.read_any().ok()?;
    let plaintext = &datagram[data.header_start..data.end()];
    let encrypted = privacy.encrypt(key, msg.boots, msg.time, salt, plaintext);
    let mut body = datagram[outer.start..data.header_start].to_vec();
    ber::put_tlv(&mut body, ber::TAG_OCTET_STRING, &encrypted);
    body.extend_from_slice(&datagram[data.end()..outer.end()]);
    Some(ber::wrap(ber::TAG_SEQUENCE, &body))
}

/// Writes the message's digest (RFC 3414 §6.3.1) when its msgAuthenticationParameters have
/// the protocol's length; otherwise leaves it for the receiver to refuse.
#[cfg(any(test, feature = "fuzzing"))]
fn sign(message: &mut [u8], auth: AuthProtocol, key: &[u8]) {
    let (at, len, end) = match Message::parse(message) {
        Ok(m) if m.auth_params.len() == auth.mac_len() => {
            (m.auth_at, m.auth_params.len(), m.whole.len())
        }
        _ => return,
    };
    message[at..at + len].fill(0);
    let mac = auth.mac(key, &message[..end]);
    message[at..at + len].copy_from_slice(&mac);
}

/// Parsing helpers for the tests (a tiny v3 client side).
#[cfg(test)]
pub(super) mod testing {
    use super::*;

    /// Decodes a message we produced: (flags, msgID, engine id, boots, time, PDU).
    pub fn open(
        receiver: &SnmpReceiver,
        user: &str,
        datagram: &[u8],
    ) -> (u8, i64, Vec<u8>, u32, u32, Pdu) {
        let msg = Message::parse(datagram).expect("parse");
        let index = receiver.users.iter().position(|u| u.user.name == user);
        let keys = index.and_then(|i| receiver.users[i].localize(&receiver.local_engine_id));
        if msg.flags & FLAG_AUTH != 0 {
            let (i, k) = (index.unwrap(), keys.as_ref().unwrap());
            assert!(
                msg.digest_ok(receiver.users[i].auth().unwrap(), &k.auth),
                "our own digest verifies"
            );
        }
        let scoped = match (index, keys.as_ref()) {
            (Some(i), Some(k)) if msg.flags & FLAG_PRIV != 0 => receiver
                .plaintext(&msg, &receiver.users[i], Some(k))
                .expect("decrypt"),
            _ => {
                let mut seq = Vec::new();
                ber::put_tlv(&mut seq, ber::TAG_SEQUENCE, msg.data);
                parse_scoped(&seq).expect("scoped")
            }
        };
        (
            msg.flags,
            msg.msg_id,
            msg.engine_id.to_vec(),
            msg.boots,
            msg.time,
            scoped.pdu,
        )
    }
}
