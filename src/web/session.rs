//! Server-side sessions for the web UI: the `trapline_session` cookie, its record, its CSRF token.
//!
//! A session id is 32 random bytes, sent to the browser once (base64url in the cookie) and
//! never stored: the record tree `sessions` is keyed by the SHA-256 (hex) of those bytes, so a
//! copy of the store does not let anyone take over a session. The record
//! ([`SessionRecord`]) holds who logged in, from where, when, and the session's CSRF token.
//! The store is the truth (a restart keeps everyone logged in); [`Sessions`] keeps a bounded
//! in-memory copy so that a request costs no JSON parse, and writes `last_seen_ns` back at
//! most once a minute per session rather than flushing on every request.
//!
//! This module knows cookies and records, not HTTP routes: the login pages live in
//! `super::login`, the checks of every API call in `super::auth`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::accounts::Role;
use crate::store::{RecordTree, Store, StoreError};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "trapline_session";

const NS_PER_SEC: i64 = 1_000_000_000;

/// A session unused for this long ends: a console left alone logs itself out within a shift,
/// yet an operator who watches the live page all day (it polls) stays in.
pub const IDLE_TIMEOUT_NS: i64 = 8 * 3600 * NS_PER_SEC;

/// A session ends this long after its login however busy it is: at least one password check a
/// day, and a stolen cookie is worth a day at most.
pub const ABSOLUTE_TIMEOUT_NS: i64 = 24 * 3600 * NS_PER_SEC;

/// `last_seen_ns` is written to the store at most this often per session. Every write is a
/// flush, and an API client polling through a session would otherwise flush on every request;
/// the price is that after a restart a session may look up to a minute older than it is.
const LAST_SEEN_WRITE_INTERVAL_NS: i64 = 60 * NS_PER_SEC;

/// Most sessions kept. A new login beyond this ends the least recently used session, so a
/// flood of logins (each one already costs an argon2 check and is rate-limited) cannot grow
/// the store without bound.
pub const MAX_SESSIONS: usize = 10_000;

/// A stored session (value of the `sessions` record tree, JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub user: String,
    /// The role at login (for the audit and the page); requests use the user's current role.
    pub role: Role,
    pub created_ns: i64,
    pub last_seen_ns: i64,
    /// The client's IP address at login.
    pub address: String,
    /// Sent back with every state-changing request (`X-CSRF-Token` or form field `csrf`).
    pub csrf_token: String,
}

impl SessionRecord {
    /// Whether the session is still valid at `now_ns` (neither idle nor too old).
    pub fn is_live(&self, now_ns: i64) -> bool {
        now_ns.saturating_sub(self.last_seen_ns) < IDLE_TIMEOUT_NS
            && now_ns.saturating_sub(self.created_ns) < ABSOLUTE_TIMEOUT_NS
    }
}

/// A live session: its storage key (the hash of the cookie's id) and its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub key: String,
    pub record: SessionRecord,
}

struct Cached {
    record: SessionRecord,
    /// `last_seen_ns` as the store has it.
    stored_last_seen_ns: i64,
}

/// The sessions of the web UI over the store's `sessions` record tree.
pub struct Sessions {
    tree: RecordTree,
    cache: Mutex<HashMap<String, Cached>>,
    /// Adds `Secure` to the cookies: on when trapline serves HTTPS itself (`[http] tls_cert`,
    /// `AppState::with_secure_cookies`). Behind a TLS-terminating proxy it stays off (not yet
    /// a setting).
    pub secure: bool,
}

/// Random bytes as base64url (no padding).
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// Compares two secrets in time independent of where they differ.
pub fn secrets_match(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && !a.is_empty()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The storage key of a cookie value: SHA-256 hex of the 32 id bytes; `None` if malformed.
fn storage_key(cookie_value: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cookie_value)
        .ok()?;
    if bytes.len() != 32 {
        return None;
    }
    Some(
        Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"'))
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, on `path`; `max_age_secs` 0 deletes it.
pub fn set_cookie(
    name: &str,
    value: &str,
    path: &str,
    max_age_secs: Option<i64>,
    secure: bool,
) -> HeaderValue {
    let mut text = format!("{name}={value}; HttpOnly; SameSite=Strict; Path={path}");
    if let Some(age) = max_age_secs {
        text.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        text.push_str("; Secure");
    }
    // Only base64url values and fixed names reach here: always a valid header value.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A stored record; an unreadable one is no session (logged, then treated as absent: logging
/// in again is the fix, failing every request would not be).
fn decode(key: &str, bytes: &[u8]) -> Option<SessionRecord> {
    serde_json::from_slice(bytes)
        .map_err(|error| tracing::warn!(%error, key, "Ignored an unreadable session record."))
        .ok()
}

fn encode(record: &SessionRecord) -> Vec<u8> {
    serde_json::to_vec(record).expect("a session record serializes")
}

impl Sessions {
    /// Opens the `sessions` record tree of `store`.
    pub fn open(store: &Store, secure: bool) -> Result<Sessions, StoreError> {
        Ok(Sessions {
            tree: store.records("sessions")?,
            cache: Mutex::default(),
            secure,
        })
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cached>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a session for `user`; returns the cookie value (the only copy of the id) and
    /// the session. Ends expired sessions and, beyond [`MAX_SESSIONS`], the least recently used.
    pub fn create(
        &self,
        user: &str,
        role: Role,
        address: IpAddr,
        now_ns: i64,
    ) -> Result<(String, Session), StoreError> {
        self.sweep(now_ns, MAX_SESSIONS - 1)?;
        let mut id = [0u8; 32];
        rand::rng().fill_bytes(&mut id);
        let cookie = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id);
        let key = storage_key(&cookie).expect("32 bytes make a key");
        let record = SessionRecord {
            user: user.to_string(),
            role,
            created_ns: now_ns,
            last_seen_ns: now_ns,
            address: address.to_string(),
            csrf_token: random_token(32),
        };
        self.tree.put(&key, &encode(&record))?;
        self.cache().insert(
            key.clone(),
            Cached {
                record: record.clone(),
                stored_last_seen_ns: now_ns,
            },
        );
        Ok((cookie, Session { key, record }))
    }

    /// The live session of a cookie value, marked as seen at `now_ns`; an expired one is
    /// removed and `None` returned.
    pub fn get(&self, cookie_value: &str, now_ns: i64) -> Result<Option<Session>, StoreError> {
        let Some(key) = storage_key(cookie_value) else {
            return Ok(None);
        };
        let cached = self
            .cache()
            .get(&key)
            .map(|c| (c.record.clone(), c.stored_last_seen_ns));
        let (mut record, stored_last_seen_ns) = match cached {
            Some(found) => found,
            None => match self.tree.get(&key)? {
                Some(bytes) => match decode(&key, &bytes) {
                    Some(record) => {
                        let stored = record.last_seen_ns;
                        (record, stored)
                    }
                    None => {
                        self.remove(&key)?;
                        return Ok(None);
                    }
                },
                None => return Ok(None),
            },
        };
        if !record.is_live(now_ns) {
            self.remove(&key)?;
            return Ok(None);
        }
        record.last_seen_ns = record.last_seen_ns.max(now_ns);
        let mut stored = stored_last_seen_ns;
        if record.last_seen_ns - stored_last_seen_ns >= LAST_SEEN_WRITE_INTERVAL_NS {
            self.tree.put(&key, &encode(&record))?;
            stored = record.last_seen_ns;
        }
        let mut cache = self.cache();
        if cache.len() >= MAX_SESSIONS && !cache.contains_key(&key) {
            cache.clear(); // only a copy: the store still has every session
        }
        cache.insert(
            key.clone(),
            Cached {
                record: record.clone(),
                stored_last_seen_ns: stored,
            },
        );
        Ok(Some(Session { key, record }))
    }

    /// Ends a session (logout); ending a missing one is not an error.
    pub fn remove(&self, key: &str) -> Result<(), StoreError> {
        self.cache().remove(key);
        self.tree.remove(key)
    }

    /// The live sessions of `user`, oldest first.
    pub fn of_user(&self, user: &str, now_ns: i64) -> Result<Vec<Session>, StoreError> {
        let mut sessions = Vec::new();
        for (key, bytes) in self.tree.list()? {
            let Some(mut record) = decode(&key, &bytes) else {
                continue;
            };
            if record.user != user {
                continue;
            }
            if let Some(cached) = self.cache().get(&key) {
                record.last_seen_ns = cached.record.last_seen_ns;
            }
            if record.is_live(now_ns) {
                sessions.push(Session { key, record });
            }
        }
        sessions.sort_by_key(|s| s.record.created_ns);
        Ok(sessions)
    }

    /// Removes expired sessions, then the least recently used beyond `keep`.
    fn sweep(&self, now_ns: i64, keep: usize) -> Result<(), StoreError> {
        let mut live = Vec::new();
        let mut removes = Vec::new();
        for (key, bytes) in self.tree.list()? {
            match decode(&key, &bytes) {
                Some(record) if record.is_live(now_ns) => live.push((record.last_seen_ns, key)),
                // An unreadable record is no session: drop it rather than fail every login.
                _ => removes.push(key),
            }
        }
        if live.len() > keep {
            live.sort_unstable();
            let excess = live.len() - keep;
            removes.extend(live.drain(..excess).map(|(_, key)| key));
        }
        if removes.is_empty() {
            return Ok(());
        }
        {
            let mut cache = self.cache();
            for key in &removes {
                cache.remove(key);
            }
        }
        self.tree.apply_batch(Vec::new(), removes)
    }

    /// The `Set-Cookie` value that carries a new session id.
    pub fn cookie(&self, cookie_value: &str) -> HeaderValue {
        set_cookie(SESSION_COOKIE, cookie_value, "/", None, self.secure)
    }

    /// The `Set-Cookie` value that removes the session cookie.
    pub fn clearing_cookie(&self) -> HeaderValue {
        set_cookie(SESSION_COOKIE, "", "/", Some(0), self.secure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreOptions;

    const T0: i64 = 1_800_000_000 * NS_PER_SEC;

    fn open(dir: &std::path::Path) -> (Store, Sessions) {
        let store = Store::open(&dir.join("store"), &StoreOptions::default()).unwrap();
        let sessions = Sessions::open(&store, false).unwrap();
        (store, sessions)
    }

    #[test]
    fn sessions_survive_a_restart_and_store_only_a_hash_of_the_id() {
        let dir = tempfile::tempdir().unwrap();
        let cookie;
        {
            let (store, sessions) = open(dir.path());
            let (value, session) = sessions
                .create("olga", Role::Operator, "10.0.0.5".parse().unwrap(), T0)
                .unwrap();
            cookie = value;
            assert_eq!(session.key.len(), 64);
            let stored = store.records("sessions").unwrap().list().unwrap();
            assert_eq!(stored.len(), 1);
            assert!(!stored[0].0.contains(&cookie));
            assert!(!String::from_utf8_lossy(&stored[0].1).contains(&cookie));
        }
        let (_store, sessions) = open(dir.path());
        let session = sessions.get(&cookie, T0 + NS_PER_SEC).unwrap().unwrap();
        assert_eq!(session.record.user, "olga");
        assert_eq!(session.record.address, "10.0.0.5");
        assert_eq!(session.record.csrf_token.len(), 43);
        assert!(sessions.get("not-a-cookie", T0).unwrap().is_none());
        assert!(sessions.get(&random_token(32), T0).unwrap().is_none());
    }

    #[test]
    fn sessions_expire_when_idle_and_when_old() {
        let dir = tempfile::tempdir().unwrap();
        let (_store, sessions) = open(dir.path());
        let addr: IpAddr = "127.0.0.1".parse().unwrap();
        let (idle, _) = sessions.create("a", Role::Viewer, addr, T0).unwrap();
        assert!(
            sessions
                .get(&idle, T0 + IDLE_TIMEOUT_NS - 1)
                .unwrap()
                .is_some()
        );
        // Seen just now, so not idle yet…
        let later = T0 + IDLE_TIMEOUT_NS + NS_PER_SEC;
        assert!(sessions.get(&idle, later).unwrap().is_some());
        // …but idle for a whole timeout after that.
        assert!(
            sessions
                .get(&idle, later + IDLE_TIMEOUT_NS)
                .unwrap()
                .is_none()
        );

        let (busy, _) = sessions.create("b", Role::Viewer, addr, T0).unwrap();
        let mut now = T0;
        while now < T0 + ABSOLUTE_TIMEOUT_NS - 3600 * NS_PER_SEC {
            now += 3600 * NS_PER_SEC;
            assert!(sessions.get(&busy, now).unwrap().is_some());
        }
        assert!(
            sessions
                .get(&busy, T0 + ABSOLUTE_TIMEOUT_NS)
                .unwrap()
                .is_none()
        );
        // Expired sessions are gone from the store too.
        assert!(sessions.of_user("b", T0).unwrap().is_empty());
    }

    #[test]
    fn other_sessions_of_a_user_are_listed_and_logout_removes_one() {
        let dir = tempfile::tempdir().unwrap();
        let (_store, sessions) = open(dir.path());
        let (_, first) = sessions
            .create("olga", Role::Operator, "10.0.0.5".parse().unwrap(), T0)
            .unwrap();
        let (second, _) = sessions
            .create("olga", Role::Operator, "10.0.0.6".parse().unwrap(), T0 + 1)
            .unwrap();
        sessions
            .create("max", Role::Manager, "10.0.0.7".parse().unwrap(), T0)
            .unwrap();
        let mine = sessions.of_user("olga", T0 + 2).unwrap();
        assert_eq!(mine.len(), 2);
        assert_eq!(mine[0].record.address, "10.0.0.5");
        sessions.remove(&first.key).unwrap();
        assert_eq!(sessions.of_user("olga", T0 + 2).unwrap().len(), 1);
        assert!(sessions.get(&second, T0 + 3).unwrap().is_some());
    }

    #[test]
    fn cookies_are_http_only_and_strict() {
        let dir = tempfile::tempdir().unwrap();
        let (_store, mut sessions) = open(dir.path());
        assert_eq!(
            sessions.cookie("abc"),
            "trapline_session=abc; HttpOnly; SameSite=Strict; Path=/"
        );
        sessions.secure = true;
        assert_eq!(
            sessions.clearing_cookie(),
            "trapline_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0; Secure"
        );
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, "a=1; trapline_session=xyz".parse().unwrap());
        assert_eq!(cookie_value(&headers, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie_value(&headers, "b"), None);
        assert!(secrets_match("abc", "abc"));
        assert!(!secrets_match("abc", "abd"));
        assert!(!secrets_match("", ""));
    }
}
