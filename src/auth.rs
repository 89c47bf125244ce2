//! Owner logins: password hashes (argon2id), session tokens, and the limits on guessing.
//!
//! A password is checked against an argon2id hash, and a name that does not exist is checked
//! against a dummy hash of the same cost, so an unknown name and a wrong password take the same
//! time and get the same answer. Failed logins are limited per client address (5 in 15 minutes,
//! then 429 until the window passes) and slowed per name (each failure doubles a delay, up to
//! 8 seconds), so guessing one account from many addresses is slow too.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use parking_lot::Mutex;
use rand::RngCore;

/// The cookie that carries a session token.
pub const SESSION_COOKIE: &str = "footfall_session";
/// How long a login lasts.
pub const SESSION_DAYS: i64 = 30;

/// Why a password or name cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("a name is 1 to 64 letters, digits, dots, dashes or underscores")]
    BadName,
    #[error("a password has at least 10 characters (and at most 1,024)")]
    BadPassword,
}

/// Checks an owner's name.
pub fn check_name(name: &str) -> Result<(), CredentialError> {
    let valid = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    valid.then_some(()).ok_or(CredentialError::BadName)
}

/// A new password's argon2id hash (a PHC string, with its salt and parameters).
pub fn hash_password(password: &str) -> Result<String, CredentialError> {
    if !(10..=1024).contains(&password.chars().count()) || password.len() > 4096 {
        return Err(CredentialError::BadPassword);
    }
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let salt = SaltString::encode_b64(&bytes).expect("16 bytes make a valid salt");
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashes any password with the default parameters")
        .to_string())
}

/// Whether `password` matches `stored`. With no stored hash (an unknown name), a dummy hash is
/// checked anyway, so the answer takes as long as for a known name.
pub fn verify_password(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: LazyLock<String> =
        LazyLock::new(|| hash_password("not the password of anyone").expect("a valid password"));
    let (hash, known) = match stored {
        Some(hash) => (hash, true),
        None => (DUMMY.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    // Long inputs are refused by length before any work is done, the same for every name.
    let password = if password.len() > 4096 { "" } else { password };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
        && known
}

/// A new session token: 256 random bits, hex.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the store keeps of a token.
pub fn token_hash(token: &str) -> String {
    blake3::hash(token.as_bytes()).to_hex().to_string()
}

/// The session token in a request's `Cookie` header, if any.
pub fn session_token(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Failed logins per client address and per name.
pub struct LoginLimits {
    by_address: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
    by_name: Mutex<HashMap<String, (u32, Instant)>>,
    window: Duration,
    max_failures: usize,
}

/// Addresses and names remembered at most: past it, the oldest are forgotten first.
const REMEMBERED: usize = 100_000;

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits {
            by_address: Mutex::new(HashMap::new()),
            by_name: Mutex::new(HashMap::new()),
            window: Duration::from_secs(15 * 60),
            max_failures: 5,
        }
    }
}

impl LoginLimits {
    /// `Err(wait)` when the address has failed too often in the window.
    pub fn check(&self, address: IpAddr) -> Result<(), Duration> {
        let now = Instant::now();
        let mut map = self.by_address.lock();
        let Some(failures) = map.get_mut(&address) else {
            return Ok(());
        };
        while failures.front().is_some_and(|t| now - *t >= self.window) {
            failures.pop_front();
        }
        if failures.len() < self.max_failures {
            return Ok(());
        }
        let oldest = *failures.front().expect("full");
        Err(self.window.saturating_sub(now - oldest))
    }

    /// Records a failure; returns how long to wait before answering it.
    pub fn failed(&self, address: IpAddr, name: &str) -> Duration {
        let now = Instant::now();
        {
            let mut map = self.by_address.lock();
            if map.len() >= REMEMBERED {
                let window = self.window;
                map.retain(|_, f| f.back().is_some_and(|t| now - *t < window));
            }
            map.entry(address).or_default().push_back(now);
        }
        let mut names = self.by_name.lock();
        if names.len() >= REMEMBERED {
            let window = self.window;
            names.retain(|_, (_, last)| now - *last < window);
        }
        let key: String = name.chars().take(64).collect();
        let entry = names.entry(key).or_insert((0, now));
        if now - entry.1 >= self.window {
            *entry = (0, now);
        }
        entry.0 += 1;
        entry.1 = now;
        // 0.25 s, 0.5 s, 1 s, … up to 8 s.
        Duration::from_millis(250u64 << entry.0.saturating_sub(1).min(5))
    }

    /// A name's failures are forgotten at its next success.
    pub fn succeeded(&self, name: &str) {
        self.by_name.lock().remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify_and_unknown_names_never_match() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", Some(&hash)));
        assert!(!verify_password("wrong horse battery", Some(&hash)));
        assert!(!verify_password("not the password of anyone", None));
        assert!(!verify_password("x", Some("not a hash")));
        assert_eq!(hash_password("short"), Err(CredentialError::BadPassword));
        assert_ne!(
            hash_password("correct horse battery").unwrap(),
            hash,
            "salted"
        );
    }

    #[test]
    fn names_and_tokens() {
        assert!(check_name("ann.o-b_1").is_ok());
        for bad in ["", "a b", "ann<script>", &"a".repeat(65), "é"] {
            assert_eq!(check_name(bad), Err(CredentialError::BadName), "{bad}");
        }
        let token = new_token();
        assert_eq!(token.len(), 64);
        assert_ne!(token, new_token());
        assert_eq!(token_hash(&token), token_hash(&token));
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(
            axum::http::header::COOKIE,
            format!("a=1; {SESSION_COOKIE}={token}; b=2")
                .parse()
                .unwrap(),
        );
        assert_eq!(session_token(&headers), Some(token));
        headers.insert(
            axum::http::header::COOKIE,
            format!("{SESSION_COOKIE}=short").parse().unwrap(),
        );
        assert_eq!(session_token(&headers), None);
    }

    #[test]
    fn five_failures_close_an_address_and_failures_slow_a_name() {
        let limits = LoginLimits::default();
        let ip: IpAddr = "198.51.100.1".parse().unwrap();
        let delays: Vec<Duration> = (0..5)
            .map(|_| {
                assert!(limits.check(ip).is_ok());
                limits.failed(ip, "ann")
            })
            .collect();
        assert!(limits.check(ip).is_err());
        assert!(limits.check("198.51.100.2".parse().unwrap()).is_ok());
        assert!(delays.windows(2).all(|w| w[1] > w[0]), "{delays:?}");
        limits.succeeded("ann");
        assert_eq!(
            limits.failed("198.51.100.3".parse().unwrap(), "ann"),
            Duration::from_millis(250)
        );
    }
}
