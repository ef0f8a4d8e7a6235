//! The cryptography of the User-based Security Model: password→key and key localisation
//! (RFC 3414 §2.6, A.2; RFC 7860 §4 for SHA-2), HMAC digests with their truncations (RFC 3414
//! §6–7: 96 bits for MD5/SHA-1; RFC 7860 §4.2: 128/192/256/384 bits for SHA-224/256/384/512),
//! DES-CBC (RFC 3414 §8) and AES-CFB-128 (RFC 3826; AES-192/256 with the Blumenthal key
//! extension, draft-blumenthal-aes-usm-04 §3.1.2.1, which is what net-snmp's `-x AES-192`/`AES-256`
//! use), and a bounded cache of localised keys with a rate limit on new localisations.
//!
//! Does not own: message parsing or the USM procedures (`v3`). Password→key (1 MiB of hashing)
//! runs once per user at start-up; per (engine id, user) only the cheap localisation runs, once,
//! and the result is cached.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use aes::cipher::block_padding::NoPadding;
use aes::cipher::{AsyncStreamCipher, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use hmac::{Hmac, Mac};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};
use thiserror::Error;

/// A USM authentication protocol (RFC 3414 §6–7, RFC 7860).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthProtocol {
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

/// A USM privacy protocol (RFC 3414 §8, RFC 3826, draft-blumenthal-aes-usm-04).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrivProtocol {
    Des,
    Aes128,
    Aes192,
    Aes256,
}

/// Why a protocol name from the config was not understood.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown {kind} protocol {name:?}")]
pub struct UnknownProtocol {
    pub kind: &'static str,
    pub name: String,
}

impl AuthProtocol {
    /// Accepts net-snmp's `-a` spellings: `MD5`, `SHA` (`SHA1`, `SHA-1`), `SHA-224` … `SHA-512`.
    pub fn parse(name: &str) -> Result<Self, UnknownProtocol> {
        let n = name.trim().to_ascii_uppercase().replace(['-', '_'], "");
        Ok(match n.as_str() {
            "MD5" => AuthProtocol::Md5,
            "SHA" | "SHA1" => AuthProtocol::Sha1,
            "SHA224" => AuthProtocol::Sha224,
            "SHA256" => AuthProtocol::Sha256,
            "SHA384" => AuthProtocol::Sha384,
            "SHA512" => AuthProtocol::Sha512,
            _ => {
                return Err(UnknownProtocol {
                    kind: "auth",
                    name: name.to_string(),
                });
            }
        })
    }

    /// Length of msgAuthenticationParameters (the truncated HMAC).
    pub fn mac_len(self) -> usize {
        match self {
            AuthProtocol::Md5 | AuthProtocol::Sha1 => 12,
            AuthProtocol::Sha224 => 16,
            AuthProtocol::Sha256 => 24,
            AuthProtocol::Sha384 => 32,
            AuthProtocol::Sha512 => 48,
        }
    }

    fn hash(self, parts: &[&[u8]]) -> Vec<u8> {
        fn h<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut d = D::new();
            for p in parts {
                d.update(p);
            }
            d.finalize().to_vec()
        }
        match self {
            AuthProtocol::Md5 => h::<Md5>(parts),
            AuthProtocol::Sha1 => h::<Sha1>(parts),
            AuthProtocol::Sha224 => h::<Sha224>(parts),
            AuthProtocol::Sha256 => h::<Sha256>(parts),
            AuthProtocol::Sha384 => h::<Sha384>(parts),
            AuthProtocol::Sha512 => h::<Sha512>(parts),
        }
    }

    /// RFC 3414 A.2: Ku = H(the password repeated to 1,048,576 octets). An empty password has
    /// no key (the config layer refuses passwords shorter than 8 characters, RFC 3414 §11.2).
    pub fn password_to_key(self, password: &[u8]) -> Vec<u8> {
        fn h<D: Digest>(password: &[u8]) -> Vec<u8> {
            let mut d = D::new();
            if password.is_empty() {
                return d.finalize().to_vec();
            }
            // The password repeated over a 64-octet-aligned window, fed 1 MiB in total.
            let mut window = Vec::with_capacity(4096 + password.len());
            while window.len() < 4096 + password.len() {
                window.extend_from_slice(password);
            }
            let mut fed = 0usize;
            let mut offset = 0usize;
            while fed < 1_048_576 {
                let n = 4096.min(1_048_576 - fed);
                d.update(&window[offset..offset + n]);
                fed += n;
                offset = (offset + n) % password.len();
            }
            d.finalize().to_vec()
        }
        match self {
            AuthProtocol::Md5 => h::<Md5>(password),
            AuthProtocol::Sha1 => h::<Sha1>(password),
            AuthProtocol::Sha224 => h::<Sha224>(password),
            AuthProtocol::Sha256 => h::<Sha256>(password),
            AuthProtocol::Sha384 => h::<Sha384>(password),
            AuthProtocol::Sha512 => h::<Sha512>(password),
        }
    }

    /// RFC 3414 §2.6: Kul = H(Ku || engineID || Ku).
    pub fn localize(self, ku: &[u8], engine_id: &[u8]) -> Vec<u8> {
        self.hash(&[ku, engine_id, ku])
    }

    /// The truncated HMAC of `message` (whose authentication parameters are zeroed).
    pub fn mac(self, key: &[u8], message: &[u8]) -> Vec<u8> {
        macro_rules! m {
            ($d:ty) => {{
                let mut mac =
                    <Hmac<$d> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
                mac.update(message);
                mac.finalize().into_bytes()[..self.mac_len()].to_vec()
            }};
        }
        match self {
            AuthProtocol::Md5 => m!(Md5),
            AuthProtocol::Sha1 => m!(Sha1),
            AuthProtocol::Sha224 => m!(Sha224),
            AuthProtocol::Sha256 => m!(Sha256),
            AuthProtocol::Sha384 => m!(Sha384),
            AuthProtocol::Sha512 => m!(Sha512),
        }
    }
}

/// Compares two digests in time that does not depend on where they differ.
pub fn digests_equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Why a scopedPDU could not be decrypted (usmStatsDecryptionErrors, RFC 3414 §3.2 step 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("decryption error")]
pub struct DecryptionError;

impl PrivProtocol {
    /// Accepts net-snmp's `-x` spellings: `DES`, `AES` (`AES128`), `AES-192`, `AES-256`.
    pub fn parse(name: &str) -> Result<Self, UnknownProtocol> {
        let n = name.trim().to_ascii_uppercase().replace(['-', '_'], "");
        Ok(match n.as_str() {
            "DES" => PrivProtocol::Des,
            "AES" | "AES128" => PrivProtocol::Aes128,
            "AES192" => PrivProtocol::Aes192,
            "AES256" => PrivProtocol::Aes256,
            _ => {
                return Err(UnknownProtocol {
                    kind: "privacy",
                    name: name.to_string(),
                });
            }
        })
    }

    /// Octets of localised key the cipher needs (DES: 8 key + 8 pre-IV).
    fn key_len(self) -> usize {
        match self {
            PrivProtocol::Des | PrivProtocol::Aes128 => 16,
            PrivProtocol::Aes192 => 24,
            PrivProtocol::Aes256 => 32,
        }
    }

    /// The localised privacy key: Kul of the privacy password under the *auth* hash, extended
    /// when the hash is shorter than the cipher key (Blumenthal: Kul' = Kul || H(Kul) || …, each
    /// new block the hash of everything so far).
    pub fn localized_key(self, auth: AuthProtocol, ku: &[u8], engine_id: &[u8]) -> Vec<u8> {
        let mut key = auth.localize(ku, engine_id);
        while key.len() < self.key_len() {
            let more = auth.hash(&[&key]);
            key.extend_from_slice(&more);
        }
        key.truncate(self.key_len());
        key
    }

    /// Decrypts an encryptedPDU. `salt` is msgPrivacyParameters; boots/time are the message's
    /// msgAuthoritativeEngineBoots/Time (RFC 3826 §3.1.2.1: they form the IV with the salt).
    pub fn decrypt(
        self,
        key: &[u8],
        boots: u32,
        time: u32,
        salt: &[u8],
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, DecryptionError> {
        let salt: [u8; 8] = salt.try_into().map_err(|_| DecryptionError)?;
        let mut buf = ciphertext.to_vec();
        match self {
            PrivProtocol::Des => {
                // RFC 3414 §8.3.2: the length must be a multiple of 8; IV = pre-IV XOR salt.
                if !buf.len().is_multiple_of(8) || key.len() < 16 {
                    return Err(DecryptionError);
                }
                let iv = des_iv(key, &salt);
                cbc::Decryptor::<des::Des>::new_from_slices(&key[..8], &iv)
                    .map_err(|_| DecryptionError)?
                    .decrypt_padded_mut::<NoPadding>(&mut buf)
                    .map_err(|_| DecryptionError)?;
            }
            aes => {
                let iv = aes_iv(boots, time, &salt);
                aes_cfb(aes, key, &iv, &mut buf, false)?;
            }
        }
        Ok(buf)
    }

    /// Encrypts a scopedPDU; `salt` is the 8-octet msgPrivacyParameters to send. For DES the
    /// plaintext is padded with zeros to a multiple of 8 (the receiver ignores the padding).
    pub fn encrypt(
        self,
        key: &[u8],
        boots: u32,
        time: u32,
        salt: [u8; 8],
        plaintext: &[u8],
    ) -> Vec<u8> {
        let mut buf = plaintext.to_vec();
        match self {
            PrivProtocol::Des => {
                let padded = buf.len().div_ceil(8) * 8;
                buf.resize(padded, 0);
                let iv = des_iv(key, &salt);
                if let Ok(enc) = cbc::Encryptor::<des::Des>::new_from_slices(&key[..8], &iv) {
                    let _ = enc.encrypt_padded_mut::<NoPadding>(&mut buf, padded);
                }
            }
            aes => {
                let iv = aes_iv(boots, time, &salt);
                let _ = aes_cfb(aes, key, &iv, &mut buf, true);
            }
        }
        buf
    }
}

fn des_iv(key: &[u8], salt: &[u8; 8]) -> [u8; 8] {
    let mut iv = [0u8; 8];
    for (i, b) in iv.iter_mut().enumerate() {
        *b = key[8 + i] ^ salt[i];
    }
    iv
}

fn aes_iv(boots: u32, time: u32, salt: &[u8; 8]) -> [u8; 16] {
    let mut iv = [0u8; 16];
    iv[..4].copy_from_slice(&boots.to_be_bytes());
    iv[4..8].copy_from_slice(&time.to_be_bytes());
    iv[8..].copy_from_slice(salt);
    iv
}

fn aes_cfb(
    p: PrivProtocol,
    key: &[u8],
    iv: &[u8; 16],
    buf: &mut [u8],
    encrypt: bool,
) -> Result<(), DecryptionError> {
    macro_rules! run {
        ($cipher:ty) => {{
            if encrypt {
                cfb_mode::Encryptor::<$cipher>::new_from_slices(key, iv)
                    .map_err(|_| DecryptionError)?
                    .encrypt(buf)
            } else {
                cfb_mode::Decryptor::<$cipher>::new_from_slices(key, iv)
                    .map_err(|_| DecryptionError)?
                    .decrypt(buf)
            }
        }};
    }
    match p {
        PrivProtocol::Aes128 => run!(aes::Aes128),
        PrivProtocol::Aes192 => run!(aes::Aes192),
        PrivProtocol::Aes256 => run!(aes::Aes256),
        PrivProtocol::Des => return Err(DecryptionError),
    }
    Ok(())
}

/// The keys of one user localised to one engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalizedKeys {
    pub auth: Vec<u8>,
    pub privacy: Option<Vec<u8>>,
}

/// Bounded (engine id, user index) → keys map, cleared when full (a flood of fresh engine ids
/// cannot grow it), with a token bucket on new localisations.
#[derive(Debug)]
pub struct KeyCache {
    map: HashMap<(Vec<u8>, usize), Arc<LocalizedKeys>>,
    capacity: usize,
    per_second: f64,
    tokens: f64,
    last_refill: Instant,
}

/// Too many new (engine id, user) pairs in the last second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("key localisation rate limit reached")]
pub struct RateLimited;

impl KeyCache {
    pub fn new(capacity: usize, per_second: u32) -> Self {
        KeyCache {
            map: HashMap::new(),
            capacity: capacity.max(1),
            per_second: f64::from(per_second.max(1)),
            tokens: f64::from(per_second.max(1)),
            last_refill: Instant::now(),
        }
    }

    pub fn get(&self, engine_id: &[u8], user: usize) -> Option<Arc<LocalizedKeys>> {
        // The tuple key needs an owned Vec; engine ids are at most 32 octets (RFC 3411).
        self.map.get(&(engine_id.to_vec(), user)).cloned()
    }

    /// Takes one localisation token, or says the caller must refuse.
    pub fn take_token(&mut self) -> Result<(), RateLimited> {
        let now = Instant::now();
        let elapsed = now.duration_since(self.last_refill).as_secs_f64();
        self.last_refill = now;
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.per_second);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(RateLimited)
        }
    }

    /// Inserts without spending a token (for pairs known from the configuration).
    pub fn insert(&mut self, engine_id: &[u8], user: usize, keys: Arc<LocalizedKeys>) {
        if self.map.len() >= self.capacity {
            self.map.clear();
        }
        self.map.insert((engine_id.to_vec(), user), keys);
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 3414 A.3.1 / A.3.2 and RFC 7860 test vectors ("maplesyrup", engine 000…02).
    #[test]
    fn rfc_key_localisation_vectors() {
        let engine = hex("000000000000000000000002");
        let cases = [
            (
                AuthProtocol::Md5,
                "9faf3283884e92834ebc9847d8edd963",
                "526f5eed9fcce26f8964c2930787d82b",
            ),
            (
                AuthProtocol::Sha1,
                "9fb5cc0381497b3793528939ff788d5d79145211",
                "6695febc9288e36282235fc7151f128497b38f3f",
            ),
        ];
        for (p, ku, kul) in cases {
            let got = p.password_to_key(b"maplesyrup");
            assert_eq!(got, hex(ku), "{p:?} Ku");
            assert_eq!(p.localize(&got, &engine), hex(kul), "{p:?} Kul");
        }
    }

    #[test]
    fn protocol_names() {
        for (name, p) in [
            ("md5", AuthProtocol::Md5),
            ("SHA", AuthProtocol::Sha1),
            ("SHA-256", AuthProtocol::Sha256),
            ("sha512", AuthProtocol::Sha512),
        ] {
            assert_eq!(AuthProtocol::parse(name).unwrap(), p);
        }
        for (name, p) in [
            ("DES", PrivProtocol::Des),
            ("aes", PrivProtocol::Aes128),
            ("AES-256", PrivProtocol::Aes256),
        ] {
            assert_eq!(PrivProtocol::parse(name).unwrap(), p);
        }
        assert!(AuthProtocol::parse("SHA-3").is_err());
        assert!(PrivProtocol::parse("3DES").is_err());
    }

    #[test]
    fn ciphers_roundtrip() {
        let ku = AuthProtocol::Sha1.password_to_key(b"privpassword");
        for p in [
            PrivProtocol::Des,
            PrivProtocol::Aes128,
            PrivProtocol::Aes192,
            PrivProtocol::Aes256,
        ] {
            let key = p.localized_key(AuthProtocol::Sha1, &ku, b"\x80\x00\x00\x00\x01\x02\x03\x04");
            assert_eq!(key.len(), p.key_len());
            let plain = b"a scoped PDU of some length".to_vec();
            let ct = p.encrypt(&key, 3, 99, [7; 8], &plain);
            let back = p.decrypt(&key, 3, 99, &[7; 8], &ct).unwrap();
            assert_eq!(&back[..plain.len()], &plain[..], "{p:?}");
        }
        assert_eq!(
            PrivProtocol::Des.decrypt(&[0; 16], 0, 0, &[0; 8], &[0; 7]),
            Err(DecryptionError)
        );
        assert_eq!(
            PrivProtocol::Aes128.decrypt(&[0; 16], 0, 0, &[0; 7], &[0; 16]),
            Err(DecryptionError)
        );
    }

    #[test]
    fn cache_is_bounded_and_rate_limited() {
        let mut cache = KeyCache::new(2, 2);
        assert!(cache.is_empty());
        let keys = Arc::new(LocalizedKeys {
            auth: vec![1],
            privacy: None,
        });
        for i in 0..5u8 {
            cache.insert(&[i], 0, keys.clone());
            assert!(cache.len() <= 2);
        }
        assert!(cache.take_token().is_ok());
        assert!(cache.take_token().is_ok());
        assert_eq!(cache.take_token(), Err(RateLimited));
    }
}
