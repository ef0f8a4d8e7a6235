//! Users, roles and API tokens.
//!
//! Passwords and token secrets are kept only as argon2 PHC strings (`$argon2id$…`). A token is
//! `tl_<id>_<secret>` (id in hex, so the first `_` after it ends it): the id finds the record without scanning, the secret is verified with
//! argon2. Because argon2 is deliberately slow (tens of milliseconds) and an API client sends its
//! token on every request, a successfully verified token is remembered in memory by its SHA-256
//! (never the token itself), so only the first request of a token pays for argon2.
//!
//! Records are JSON in the store's `users` and `tokens` record trees; this module knows their
//! shape but not how the store keeps them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::{RecordTree, Store, StoreError};

/// What a user may do; the menu matrix of the origin design.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Operator,
    Manager,
    Oncall,
    Admin,
    Viewer,
}

impl Role {
    /// Every role, for help texts.
    pub const ALL: [Role; 5] = [
        Role::Operator,
        Role::Manager,
        Role::Oncall,
        Role::Admin,
        Role::Viewer,
    ];

    /// Parses the CLI / JSON name.
    pub fn parse(text: &str) -> Option<Role> {
        Self::ALL.into_iter().find(|role| role.as_str() == text)
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Manager => "manager",
            Role::Oncall => "oncall",
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }
}

/// A stored user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub role: Role,
    /// argon2 PHC string.
    pub password_hash: String,
    #[serde(default)]
    pub email: Option<String>,
    pub created_at: String,
    /// The incident categories a manager answers for (lower case): the origin design's
    /// "managers edit the incidents of their type". Empty for everybody else.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
}

/// A stored API token (only the argon2 hash of its secret).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TokenRecord {
    id: String,
    user: String,
    secret_hash: String,
    created_at: String,
}

/// Account errors, shown to the CLI user as they are.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("user {0:?} already exists")]
    UserExists(String),
    #[error("no such user {0:?}")]
    NoSuchUser(String),
    #[error("invalid user name {0:?}: use 1-64 letters, digits, '.', '_' or '-'")]
    BadName(String),
    #[error("unknown role {0:?}: use one of operator, manager, oncall, admin, viewer")]
    BadRole(String),
    #[error("the password must be at least 8 characters")]
    WeakPassword,
    #[error("invalid email address {0:?}")]
    BadEmail(String),
    #[error("invalid categories: at most 50, each 1-40 letters, digits, '-', '_' or '.' ({0:?})")]
    BadCategory(String),
    #[error("{0:?} is the last admin: make another user admin first")]
    LastAdmin(String),
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("stored record {key:?} is unreadable: {detail}")]
    BadRecord { key: String, detail: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Users and tokens over the store.
pub struct Accounts {
    users: RecordTree,
    tokens: RecordTree,
    /// SHA-256 of tokens already verified → user name.
    verified_tokens: Mutex<HashMap<[u8; 32], String>>,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// A plausible mail address: one `@` with text on both sides, no spaces or controls, at most
/// 254 bytes (RFC 5321's path limit). Delivery is the real check.
fn valid_email(email: &str) -> bool {
    email.len() <= 254
        && !email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"".contains(c))
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        })
}

/// What `Accounts::update_user` changes: each `None` leaves the field as it is; `email:
/// Some(None)` removes the address.
#[derive(Debug, Default, Clone)]
pub struct UserChange {
    pub role: Option<Role>,
    pub email: Option<Option<String>>,
    pub password: Option<String>,
    /// Replaces the user's incident categories (see [`User::categories`]).
    pub categories: Option<Vec<String>>,
}

/// Categories as stored: trimmed, lower case, deduplicated; the same shape as an incident's
/// category (`crate::incidents::lifecycle::normalize_category`).
fn valid_categories(categories: &[String]) -> Result<Vec<String>, AccountError> {
    if categories.len() > 50 {
        return Err(AccountError::BadCategory(format!(
            "{} given",
            categories.len()
        )));
    }
    let mut out: Vec<String> = Vec::new();
    for category in categories {
        let normalized = crate::incidents::lifecycle::normalize_category(category)
            .map_err(|_| AccountError::BadCategory(category.clone()))?;
        if !out.contains(&normalized) {
            out.push(normalized);
        }
    }
    Ok(out)
}

fn hash_secret(secret: &str) -> Result<String, AccountError> {
    Argon2::default()
        .hash_password(secret.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| AccountError::Hash(e.to_string()))
}

fn verify_secret(secret: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(secret.as_bytes(), &hash)
            .is_ok()
    })
}

fn random_text(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

fn now_text() -> String {
    crate::event::format_ns(crate::event::now_ns())
}

impl Accounts {
    /// Opens the account records of `store`.
    pub fn new(store: &Store) -> Result<Accounts, AccountError> {
        Ok(Accounts {
            users: store.records("users")?,
            tokens: store.records("tokens")?,
            verified_tokens: Mutex::default(),
        })
    }

    /// Creates a user. Fails if the name is taken.
    pub fn add_user(&self, name: &str, role: Role, password: &str) -> Result<User, AccountError> {
        if !valid_name(name) {
            return Err(AccountError::BadName(name.to_string()));
        }
        if password.chars().count() < 8 {
            return Err(AccountError::WeakPassword);
        }
        if self.users.get(name)?.is_some() {
            return Err(AccountError::UserExists(name.to_string()));
        }
        let user = User {
            name: name.to_string(),
            role,
            password_hash: hash_secret(password)?,
            email: None,
            created_at: now_text(),
            categories: Vec::new(),
        };
        self.put_user(&user)?;
        Ok(user)
    }

    fn put_user(&self, user: &User) -> Result<(), AccountError> {
        let json = serde_json::to_vec(user).map_err(|e| AccountError::Hash(e.to_string()))?;
        self.users.put(&user.name, &json)?;
        Ok(())
    }

    /// Looks a user up by name.
    pub fn user(&self, name: &str) -> Result<Option<User>, AccountError> {
        let Some(bytes) = self.users.get(name)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| AccountError::BadRecord {
                key: format!("users/{name}"),
                detail: e.to_string(),
            })
    }

    /// True once any user exists.
    pub fn has_users(&self) -> Result<bool, AccountError> {
        Ok(!self.users.list()?.is_empty())
    }

    /// Checks a password (slow: argon2); `None` for an unknown user or a wrong password.
    /// An unknown user costs the same argon2 check as a known one, so the time of the answer
    /// does not tell whether a user name exists.
    pub fn verify_password(
        &self,
        name: &str,
        password: &str,
    ) -> Result<Option<User>, AccountError> {
        match self.user(name)? {
            Some(user) => Ok(verify_secret(password, &user.password_hash).then_some(user)),
            None => {
                static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
                let dummy = DUMMY.get_or_init(|| hash_secret(&random_text(16)).unwrap_or_default());
                verify_secret(password, dummy);
                Ok(None)
            }
        }
    }

    /// Creates an API token for `user` and returns it; only its hash is stored.
    pub fn create_token(&self, user: &str) -> Result<String, AccountError> {
        if self.user(user)?.is_none() {
            return Err(AccountError::NoSuchUser(user.to_string()));
        }
        let id = random_hex(9);
        let secret = random_text(32);
        let record = TokenRecord {
            id: id.clone(),
            user: user.to_string(),
            secret_hash: hash_secret(&secret)?,
            created_at: now_text(),
        };
        let json = serde_json::to_vec(&record).map_err(|e| AccountError::Hash(e.to_string()))?;
        self.tokens.put(&id, &json)?;
        Ok(format!("tl_{id}_{secret}"))
    }

    /// The user a bearer token acts as, or `None` when it is unknown, malformed or revoked.
    /// The first check of a token costs an argon2 verification; later ones a SHA-256.
    pub fn verify_token(&self, token: &str) -> Result<Option<User>, AccountError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let cached = self
            .verified_tokens
            .lock()
            .map(|cache| cache.get(&digest).cloned())
            .unwrap_or(None);
        if let Some(name) = cached {
            return self.user(&name);
        }
        let Some((id, secret)) = token
            .strip_prefix("tl_")
            .and_then(|rest| rest.split_once('_'))
        else {
            return Ok(None);
        };
        if id.len() > 64 || secret.len() > 128 {
            return Ok(None);
        }
        let Some(bytes) = self.tokens.get(id)? else {
            return Ok(None);
        };
        let record: TokenRecord =
            serde_json::from_slice(&bytes).map_err(|e| AccountError::BadRecord {
                key: format!("tokens/{id}"),
                detail: e.to_string(),
            })?;
        if !verify_secret(secret, &record.secret_hash) {
            return Ok(None);
        }
        let user = self.user(&record.user)?;
        if user.is_some()
            && let Ok(mut cache) = self.verified_tokens.lock()
        {
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert(digest, record.user);
        }
        Ok(user)
    }

    /// Every user, by name.
    pub fn users(&self) -> Result<Vec<User>, AccountError> {
        self.users
            .list()?
            .into_iter()
            .map(|(key, bytes)| {
                serde_json::from_slice(&bytes).map_err(|e| AccountError::BadRecord {
                    key: format!("users/{key}"),
                    detail: e.to_string(),
                })
            })
            .collect()
    }

    /// Changes a user's role, email or password (what `change` leaves `None` stays). The last
    /// admin cannot lose the role: nobody could manage users any more.
    pub fn update_user(&self, name: &str, change: &UserChange) -> Result<User, AccountError> {
        let mut user = self
            .user(name)?
            .ok_or_else(|| AccountError::NoSuchUser(name.to_string()))?;
        if let Some(role) = change.role {
            if user.role == Role::Admin && role != Role::Admin && self.admins()? <= 1 {
                return Err(AccountError::LastAdmin(name.to_string()));
            }
            user.role = role;
        }
        if let Some(email) = &change.email {
            user.email = match email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
                Some(email) if valid_email(email) => Some(email.to_string()),
                Some(email) => return Err(AccountError::BadEmail(email.to_string())),
                None => None,
            };
        }
        if let Some(categories) = &change.categories {
            user.categories = valid_categories(categories)?;
        }
        if let Some(password) = &change.password {
            if password.chars().count() < 8 {
                return Err(AccountError::WeakPassword);
            }
            user.password_hash = hash_secret(password)?;
        }
        self.put_user(&user)?;
        Ok(user)
    }

    /// Removes a user and revokes its API tokens (its sessions end at their next request, as
    /// the user no longer exists). The last admin cannot be removed.
    pub fn remove_user(&self, name: &str) -> Result<(), AccountError> {
        let user = self
            .user(name)?
            .ok_or_else(|| AccountError::NoSuchUser(name.to_string()))?;
        if user.role == Role::Admin && self.admins()? <= 1 {
            return Err(AccountError::LastAdmin(name.to_string()));
        }
        for (id, bytes) in self.tokens.list()? {
            if serde_json::from_slice::<TokenRecord>(&bytes).is_ok_and(|t| t.user == name) {
                self.tokens.remove(&id)?;
            }
        }
        if let Ok(mut cache) = self.verified_tokens.lock() {
            cache.retain(|_, user| user != name);
        }
        self.users.remove(name)?;
        Ok(())
    }

    fn admins(&self) -> Result<usize, AccountError> {
        Ok(self
            .users()?
            .iter()
            .filter(|u| u.role == Role::Admin)
            .count())
    }

    /// First start: make sure an `admin` exists.
    ///
    /// With `env_password` (from `TRAPLINE_ADMIN_PASSWORD`) `admin` is created with it when no user
    /// of that name exists. Otherwise, when the store has no user at all, `admin` gets a random
    /// password written (mode 0600) to `DATA/initial-admin-password`, whose path is returned.
    pub fn ensure_initial_admin(
        &self,
        data_dir: &Path,
        env_password: Option<&str>,
    ) -> Result<Option<PathBuf>, AccountError> {
        if let Some(password) = env_password.filter(|p| !p.is_empty()) {
            if self.user("admin")?.is_none() {
                self.add_user("admin", Role::Admin, password)?;
            }
            return Ok(None);
        }
        if self.has_users()? {
            return Ok(None);
        }
        let password = random_text(18);
        let path = data_dir.join("initial-admin-password");
        write_private(&path, &format!("{password}\n"))?;
        self.add_user("admin", Role::Admin, &password)?;
        Ok(Some(path))
    }
}

/// Writes a file readable by its owner only (created with mode 0600, never world-readable).
fn write_private(path: &Path, text: &str) -> Result<(), AccountError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| AccountError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreOptions;

    fn accounts() -> (tempfile::TempDir, Store, Accounts) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store"), &StoreOptions::default()).unwrap();
        let accounts = Accounts::new(&store).unwrap();
        (dir, store, accounts)
    }

    #[test]
    fn users_are_stored_with_argon2_hashes_only() {
        let (_dir, _store, accounts) = accounts();
        accounts
            .add_user("alice", Role::Operator, "correct horse")
            .unwrap();
        let user = accounts.user("alice").unwrap().unwrap();
        assert!(user.password_hash.starts_with("$argon2id$"));
        assert!(!user.password_hash.contains("correct horse"));
        assert!(
            accounts
                .verify_password("alice", "correct horse")
                .unwrap()
                .is_some()
        );
        assert!(
            accounts
                .verify_password("alice", "wrong horse!")
                .unwrap()
                .is_none()
        );
        assert!(matches!(
            accounts.add_user("alice", Role::Admin, "another one"),
            Err(AccountError::UserExists(_))
        ));
        assert!(matches!(
            accounts.add_user("bad name", Role::Admin, "long enough"),
            Err(AccountError::BadName(_))
        ));
        assert!(matches!(
            accounts.add_user("bob", Role::Admin, "short"),
            Err(AccountError::WeakPassword)
        ));
    }

    #[test]
    fn users_change_and_go_but_the_last_admin_stays() {
        let (_dir, _store, accounts) = accounts();
        accounts
            .add_user("root", Role::Admin, "password123")
            .unwrap();
        accounts
            .add_user("bob", Role::Operator, "password123")
            .unwrap();
        let token = accounts.create_token("bob").unwrap();
        let bob = accounts
            .update_user(
                "bob",
                &UserChange {
                    role: Some(Role::Oncall),
                    email: Some(Some(" bob@example.net ".into())),
                    password: Some("new password".into()),
                    categories: Some(vec!["Network".into(), "network".into(), "backup".into()]),
                },
            )
            .unwrap();
        assert_eq!(
            (bob.role, bob.email.as_deref()),
            (Role::Oncall, Some("bob@example.net"))
        );
        assert_eq!(bob.categories, ["network", "backup"]);
        let bad = UserChange {
            categories: Some(vec!["a/b".into()]),
            ..UserChange::default()
        };
        assert!(matches!(
            accounts.update_user("bob", &bad),
            Err(AccountError::BadCategory(_))
        ));
        assert!(
            accounts
                .verify_password("bob", "new password")
                .unwrap()
                .is_some()
        );
        for bad in ["bob", "bob@localhost", "a b@x.org", "<x@y.z>", "x@y@z.org"] {
            let change = UserChange {
                email: Some(Some(bad.into())),
                ..UserChange::default()
            };
            assert!(
                matches!(
                    accounts.update_user("bob", &change),
                    Err(AccountError::BadEmail(_))
                ),
                "{bad}"
            );
        }
        let demote = UserChange {
            role: Some(Role::Viewer),
            ..UserChange::default()
        };
        assert!(matches!(
            accounts.update_user("root", &demote),
            Err(AccountError::LastAdmin(_))
        ));
        assert!(matches!(
            accounts.remove_user("root"),
            Err(AccountError::LastAdmin(_))
        ));
        assert_eq!(accounts.verify_token(&token).unwrap().unwrap().name, "bob");
        accounts.remove_user("bob").unwrap();
        assert!(accounts.user("bob").unwrap().is_none());
        assert!(
            accounts.verify_token(&token).unwrap().is_none(),
            "tokens go with the user"
        );
        assert_eq!(accounts.users().unwrap().len(), 1);
    }

    #[test]
    fn tokens_verify_and_reject_tampering() {
        let (_dir, _store, accounts) = accounts();
        accounts
            .add_user("bot", Role::Viewer, "password123")
            .unwrap();
        let token = accounts.create_token("bot").unwrap();
        assert!(token.starts_with("tl_"));
        assert_eq!(accounts.verify_token(&token).unwrap().unwrap().name, "bot");
        assert_eq!(accounts.verify_token(&token).unwrap().unwrap().name, "bot"); // cached path
        let mut tampered = token.clone();
        tampered.push('x');
        assert!(accounts.verify_token(&tampered).unwrap().is_none());
        assert!(accounts.verify_token("tl_nope_nope").unwrap().is_none());
        assert!(accounts.verify_token("garbage").unwrap().is_none());
        assert!(matches!(
            accounts.create_token("ghost"),
            Err(AccountError::NoSuchUser(_))
        ));
    }

    #[test]
    fn initial_admin_password_file_is_private() {
        let (dir, _store, accounts) = accounts();
        let path = accounts
            .ensure_initial_admin(dir.path(), None)
            .unwrap()
            .unwrap();
        let password = std::fs::read_to_string(&path).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(
            accounts
                .verify_password("admin", password.trim())
                .unwrap()
                .is_some()
        );
        // A second start creates nothing new.
        assert!(
            accounts
                .ensure_initial_admin(dir.path(), None)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn env_admin_password_creates_admin_even_with_other_users() {
        let (dir, _store, accounts) = accounts();
        accounts
            .add_user("alice", Role::Operator, "password123")
            .unwrap();
        assert!(
            accounts
                .ensure_initial_admin(dir.path(), Some("from-the-env"))
                .unwrap()
                .is_none()
        );
        assert!(
            accounts
                .verify_password("admin", "from-the-env")
                .unwrap()
                .is_some()
        );
    }
}
