//! Passwords and bearer tokens.
//!
//! Passwords are hashed with argon2id (the default parameters of the `argon2`
//! crate: 19 MiB, 2 passes). Tokens are 256 random bits; only their SHA-256 is
//! stored, so a copy of the database does not let anyone sign in. Every request
//! resolves its token in the database (one indexed read): a deactivation, a
//! new password or a sign-out takes effect on the next request, with no cache
//! window.

use crate::http::error::ApiError;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use patron_storage::{NewSession, OffsetDateTime, Storage, User};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a sign-in lasts.
pub const SESSION_LIFETIME: time::Duration = time::Duration::hours(12);

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing the password failed: {e}"))
}

type HashJob = Box<dyn FnOnce() + Send>;

/// Two long-lived threads do every password check. argon2 needs 19 MiB per
/// check; done on tokio's blocking pool, every pool thread kept its own copy in
/// its malloc arena (a store node reached 480 MiB after thirty sign-ins). On
/// two threads the cost is bounded, and two checks at once is all 2 cores do.
fn hasher() -> Option<&'static std::sync::mpsc::Sender<HashJob>> {
    static POOL: std::sync::OnceLock<Option<std::sync::mpsc::Sender<HashJob>>> =
        std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<HashJob>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..2 {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("patron-argon2-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = match rx.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .ok()?;
        }
        Some(tx)
    })
    .as_ref()
}

/// Checks a password on the hashing threads, off the async workers.
pub async fn verify_password_async(password: String, hash: String) -> bool {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: HashJob = Box::new(move || {
        let _ = tx.send(verify_password(&password, &hash));
    });
    match hasher() {
        Some(h) if h.send(job).is_ok() => rx.await.unwrap_or(false),
        _ => false,
    }
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    thread_local! {
        // argon2's working memory (19 MiB with the default parameters), kept by
        // the hashing thread instead of being allocated for every check.
        static BLOCKS: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Ok(params), Ok(algorithm), Some(expected), Some(salt)) = (
        argon2::Params::try_from(&parsed),
        argon2::Algorithm::try_from(parsed.algorithm),
        parsed.hash,
        parsed.salt,
    ) else {
        return false;
    };
    let version = match parsed.version.map(argon2::Version::try_from) {
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
        None => argon2::Version::default(),
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let expected = expected.as_bytes();
    let mut out = vec![0u8; expected.len()];
    let blocks = params.block_count();
    let hashed = BLOCKS.with(|b| {
        let mut b = b.borrow_mut();
        b.resize(blocks, argon2::Block::default());
        Argon2::new(algorithm, version, params)
            .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut b[..])
            .is_ok()
    });
    // Constant time: every byte is compared whatever the first mismatch.
    hashed
        && out.len() == expected.len()
        && out
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// A user's operation key: argon2id of their password, salted with their
/// username (so both sides derive it without storing a salt). HQ keeps it; a
/// store derives it when the user signs in there and holds it only in memory,
/// to sign the user's operations (docs/sync.md, "Trust"). A store's token
/// alone therefore cannot sign anything.
pub fn op_key(username: &str, password: &str) -> patron_storage::OpKey {
    let salt = Sha256::digest(format!("patron-op-key\0{username}").as_bytes());
    let mut out = [0u8; 32];
    thread_local! {
        static BLOCKS: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let params = argon2::Params::default();
    BLOCKS.with(|b| {
        let mut b = b.borrow_mut();
        b.resize(params.block_count(), argon2::Block::default());
        // Cannot fail: fixed output and salt lengths within argon2's bounds.
        let _ = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
            .hash_password_into_with_memory(password.as_bytes(), &salt[..16], &mut out, &mut b[..]);
    });
    patron_storage::OpKey(out)
}

pub fn op_key_hex(username: &str, password: &str) -> String {
    patron_storage::ops::hex(&op_key(username, password).0)
}

/// [`op_key`] on the hashing threads.
pub async fn op_key_async(username: String, password: String) -> Option<patron_storage::OpKey> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: HashJob = Box::new(move || {
        let _ = tx.send(op_key(&username, &password));
    });
    match hasher() {
        Some(h) if h.send(job).is_ok() => rx.await.ok(),
        _ => None,
    }
}

/// Failed sign-ins, counted per client address and per (account, address):
/// after a few free tries each further failure doubles the wait before the
/// next attempt from there (up to 15 minutes). Keyed by address too, so an
/// attacker's guesses never lock the real user out from their own register.
#[derive(Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

/// Attempts allowed before waits begin: per account from one address, and per address.
const FREE_TRIES_ACCOUNT: u32 = 5;
const FREE_TRIES_ADDRESS: u32 = 20;
const MAX_WAIT: Duration = Duration::from_secs(15 * 60);

impl LoginThrottle {
    fn keys(username: &str, addr: std::net::IpAddr) -> [(String, u32); 2] {
        [
            (format!("{username}@{addr}"), FREE_TRIES_ACCOUNT),
            (format!("@{addr}"), FREE_TRIES_ADDRESS),
        ]
    }

    /// How long the caller must wait before trying again, if at all.
    pub fn wait(&self, username: &str, addr: std::net::IpAddr) -> Option<Duration> {
        let map = self.failures.lock().ok()?;
        let now = Instant::now();
        Self::keys(username, addr)
            .iter()
            .filter_map(|(k, _)| map.get(k))
            .filter_map(|(_, until)| until.checked_duration_since(now))
            .filter(|d| !d.is_zero())
            .max()
    }

    pub fn failed(&self, username: &str, addr: std::net::IpAddr) {
        let Ok(mut map) = self.failures.lock() else {
            return;
        };
        if map.len() > 100_000 {
            let now = Instant::now();
            map.retain(|_, (_, until)| until.checked_duration_since(now).is_some());
        }
        let now = Instant::now();
        for (key, free) in Self::keys(username, addr) {
            let e = map.entry(key).or_insert((0, now));
            e.0 = e.0.saturating_add(1);
            if e.0 > free {
                let wait = Duration::from_secs(1u64 << (e.0 - free - 1).min(10)).min(MAX_WAIT);
                e.1 = now + wait;
            }
        }
    }

    pub fn succeeded(&self, username: &str, addr: std::net::IpAddr) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(&format!("{username}@{addr}"));
        }
    }
}

pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    URL_SAFE_NO_PAD.encode(digest)
}

fn new_token() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::Internal(format!("no randomness: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Issues and resolves bearer tokens.
#[derive(Clone)]
pub struct Sessions {
    storage: Arc<dyn Storage>,
    /// At a store: each session's operation key, in memory only, so the
    /// store's database never holds anything that could sign for a user.
    op_keys: Arc<Mutex<HashMap<String, patron_storage::OpKey>>>,
}

impl Sessions {
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        Self {
            storage,
            op_keys: Arc::default(),
        }
    }

    /// Starts a session for `user`; returns the token and its expiry.
    pub async fn start(
        &self,
        user: &User,
        op_key: Option<patron_storage::OpKey>,
    ) -> Result<(String, OffsetDateTime), ApiError> {
        let token = new_token()?;
        let now = OffsetDateTime::now_utc();
        let expires_at = now + SESSION_LIFETIME;
        self.storage
            .create_session(NewSession {
                token_hash: hash_token(&token),
                user_id: user.id,
                created_at: now,
                expires_at,
            })
            .await?;
        if let (Some(k), Ok(mut keys)) = (op_key, self.op_keys.lock()) {
            keys.insert(hash_token(&token), k);
        }
        Ok((token, expires_at))
    }

    pub fn forget_op_key(&self, token: &str) {
        if let Ok(mut keys) = self.op_keys.lock() {
            keys.remove(&hash_token(token));
        }
    }

    /// The operation key of a session started here, if this process holds it.
    pub fn op_key(&self, token: &str) -> Option<patron_storage::OpKey> {
        let hash = hash_token(token);
        self.op_keys.lock().ok().and_then(|k| k.get(&hash).copied())
    }

    pub async fn user_for_token(&self, token: &str) -> Result<Option<User>, ApiError> {
        if token.len() > 256 {
            return Ok(None);
        }
        let user = self
            .storage
            .session_user(&hash_token(token), OffsetDateTime::now_utc())
            .await?;
        Ok(user)
    }

    pub async fn end(&self, token: &str) -> Result<(), ApiError> {
        let hash = hash_token(token);
        if let Ok(mut keys) = self.op_keys.lock() {
            keys.remove(&hash);
        }
        self.storage.delete_session(&hash).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_with_the_right_secret() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("correct horse", "not a hash"));
    }
}
