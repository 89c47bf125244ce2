//! Owner logins: password hashes (argon2id), session tokens, and the limits on guessing.
//!
//! A password is checked against an argon2id hash, and a name that does not exist is checked
//! against a dummy hash of the same cost, so an unknown name and a wrong password take the same
//! time and get the same answer. Failed logins are limited per client address (5 in 15 minutes,
//! then 429 until the window passes) and slowed per name (one check at a time, and each failure
//! doubles a delay, up to 8 seconds), so guessing one account from many addresses is slow too.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use parking_lot::Mutex;
use rand::RngCore;

/// The cookie that carries a session token. Over https it takes the `__Host-` prefix, which
/// browsers accept only when it is `Secure`, for the whole host and no other: a sibling
/// subdomain cannot plant its own session.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-footfall_session"
    } else {
        "footfall_session"
    }
}
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

/// What unknown names are checked against, so they cost as much as known ones.
static DUMMY: LazyLock<String> =
    LazyLock::new(|| hash_password("not the password of anyone").expect("a valid password"));

/// Makes the dummy hash now (at start), not at the first unknown name, which would then take
/// twice as long as any other answer.
pub fn prepare() {
    LazyLock::force(&DUMMY);
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
pub fn session_token(headers: &axum::http::HeaderMap, cookie: &str) -> Option<String> {
    cookie_value(headers, cookie)
        .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A cookie's value, as the request sent it.
pub fn cookie_value(headers: &axum::http::HeaderMap, cookie: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == cookie)
        .map(|(_, value)| value.trim().to_owned())
}

/// Sign-in attempts per client network and failures per name.
///
/// An attempt counts against its address before the password is checked (and is taken back if
/// it succeeds), so attempts sent at once cannot slip past the limit. IPv6 addresses count per
/// /64, the block one machine usually has. A name is checked for one attempt at a time, and
/// one that failed may not be tried again before its delay has passed (0.25 s, doubling to
/// 8 s), whoever asks: 429 before any hashing. Without the first rule, guesses sent at once
/// from many addresses would all be checked each time the delay ends.
pub struct LoginLimits {
    by_network: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
    by_name: Mutex<HashMap<String, NameFailures>>,
    window: Duration,
    max_attempts: usize,
    /// How long a name is held for an attempt under way: longer than any password check, and
    /// the most an attempt that never reports back (its request failed) holds it.
    checking: Duration,
}

struct NameFailures {
    count: u32,
    next_allowed: Instant,
    last: Instant,
}

/// Networks and names remembered at most. Past it, those without a recent failure are
/// forgotten; if all are recent (a flood from 100,000 networks), all are.
const REMEMBERED: usize = 100_000;

/// Why an attempt is refused before the password is checked, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The address (its network) failed too often in the window.
    Address(Duration),
    /// The name failed a moment ago.
    Name(Duration),
}

impl Refusal {
    /// How long until another attempt is let through.
    pub fn wait(&self) -> Duration {
        match self {
            Refusal::Address(wait) | Refusal::Name(wait) => *wait,
        }
    }
}

/// An attempt under way: give it back to [`LoginLimits::succeeded`] or [`LoginLimits::failed`].
#[derive(Debug)]
pub struct Attempt {
    network: IpAddr,
    name: String,
    at: Instant,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits {
            by_network: Mutex::new(HashMap::new()),
            by_name: Mutex::new(HashMap::new()),
            window: Duration::from_secs(15 * 60),
            max_attempts: 5,
            checking: Duration::from_secs(5),
        }
    }
}

/// The network an address counts under: itself for IPv4, its /64 for IPv6.
pub fn network(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
    }
}

impl LoginLimits {
    /// Starts an attempt, or says why not (and how long until it may be made).
    pub fn attempt(&self, address: IpAddr, name: &str) -> Result<Attempt, Refusal> {
        let now = Instant::now();
        let name: String = name.chars().take(64).collect();
        // Held from the check to the end, so that two attempts cannot both pass it.
        let mut names = self.by_name.lock();
        if let Some(f) = names.get(&name) {
            if f.next_allowed > now {
                return Err(Refusal::Name(f.next_allowed - now));
            }
        }
        let network = network(address);
        let mut map = self.by_network.lock();
        if map.len() >= REMEMBERED {
            let window = self.window;
            map.retain(|_, a| a.back().is_some_and(|t| now - *t < window));
            if map.len() >= REMEMBERED {
                map.clear();
            }
        }
        let attempts = map.entry(network).or_default();
        while attempts.front().is_some_and(|t| now - *t >= self.window) {
            attempts.pop_front();
        }
        if attempts.len() >= self.max_attempts {
            let oldest = *attempts.front().expect("full");
            return Err(Refusal::Address(self.window.saturating_sub(now - oldest)));
        }
        attempts.push_back(now);
        drop(map);
        // The name waits for this attempt's answer.
        self.name_entry(&mut names, name.clone(), now).next_allowed = now + self.checking;
        Ok(Attempt {
            network,
            name,
            at: now,
        })
    }

    /// The name's record, made if it has none (forgetting old ones past [`REMEMBERED`]).
    fn name_entry<'a>(
        &self,
        names: &'a mut HashMap<String, NameFailures>,
        name: String,
        now: Instant,
    ) -> &'a mut NameFailures {
        if names.len() >= REMEMBERED && !names.contains_key(&name) {
            let window = self.window;
            names.retain(|_, f| now - f.last < window);
            if names.len() >= REMEMBERED {
                names.clear();
            }
        }
        names.entry(name).or_insert(NameFailures {
            count: 0,
            next_allowed: now,
            last: now,
        })
    }

    /// The attempt failed: it stays counted, and its name waits longer before the next one.
    pub fn failed(&self, attempt: Attempt) {
        let now = Instant::now();
        let mut names = self.by_name.lock();
        let f = self.name_entry(&mut names, attempt.name, now);
        if now - f.last >= self.window {
            f.count = 0;
        }
        f.count += 1;
        f.last = now;
        f.next_allowed = now + Duration::from_millis(250u64 << (f.count - 1).min(5));
    }

    /// The attempt succeeded: it does not count against the address, and the name's failures
    /// are forgotten.
    pub fn succeeded(&self, attempt: Attempt) {
        if let Some(attempts) = self.by_network.lock().get_mut(&attempt.network) {
            if let Some(i) = attempts.iter().rposition(|t| *t == attempt.at) {
                attempts.remove(i);
            }
        }
        self.by_name.lock().remove(&attempt.name);
    }

    /// The password was never checked (the server was busy, or the store failed): the attempt
    /// does not count against the address, and its name is free again, its failures kept.
    pub fn abandoned(&self, attempt: Attempt) {
        if let Some(attempts) = self.by_network.lock().get_mut(&attempt.network) {
            if let Some(i) = attempts.iter().rposition(|t| *t == attempt.at) {
                attempts.remove(i);
            }
        }
        let mut names = self.by_name.lock();
        match names.get_mut(&attempt.name) {
            Some(f) if f.count == 0 => {
                names.remove(&attempt.name);
            }
            // Its delay had passed, or the attempt would not have been let through.
            Some(f) => f.next_allowed = Instant::now(),
            None => {}
        }
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
            format!("a=1; footfall_session={token}; b=2")
                .parse()
                .unwrap(),
        );
        assert_eq!(session_token(&headers, cookie_name(false)), Some(token));
        assert_eq!(session_token(&headers, cookie_name(true)), None);
        headers.insert(
            axum::http::header::COOKIE,
            "footfall_session=short".parse().unwrap(),
        );
        assert_eq!(session_token(&headers, cookie_name(false)), None);
    }

    #[test]
    fn attempts_count_up_front_names_wait_and_ipv6_counts_per_64() {
        let limits = LoginLimits::default();
        let ip: IpAddr = "198.51.100.1".parse().unwrap();
        // Five attempts at once, none answered yet: the sixth is refused.
        let open: Vec<Attempt> = ["a1", "a2", "a3", "a4", "a5"]
            .iter()
            .map(|n| limits.attempt(ip, n).unwrap())
            .collect();
        assert!(matches!(limits.attempt(ip, "a6"), Err(Refusal::Address(_))));
        assert!(limits
            .attempt("198.51.100.2".parse().unwrap(), "a6")
            .is_ok());
        // A success gives its place back.
        let mut open = open.into_iter();
        limits.succeeded(open.next().unwrap());
        assert!(limits.attempt(ip, "a7").is_ok());
        // A failed name waits, whatever the address.
        limits.failed(open.next().unwrap());
        assert!(matches!(
            limits.attempt("203.0.113.9".parse().unwrap(), "a2"),
            Err(Refusal::Name(_))
        ));
        // One /64 is one network.
        let v6 = |s: &str| s.parse::<IpAddr>().unwrap();
        for i in 0..5 {
            limits
                .attempt(v6(&format!("2001:db8:1:2::{i:x}")), &format!("v{i}"))
                .unwrap();
        }
        assert!(limits.attempt(v6("2001:db8:1:2:ffff::1"), "v9").is_err());
        assert!(limits.attempt(v6("2001:db8:1:3::1"), "v9").is_ok());
    }

    #[test]
    fn a_name_is_checked_for_one_attempt_at_a_time() {
        let limits = LoginLimits {
            checking: Duration::from_millis(50),
            ..LoginLimits::default()
        };
        let ip = |n: u8| IpAddr::from([198, 51, 100, n]);
        // While one attempt on a name is under way, others wait, from any address.
        let first = limits.attempt(ip(1), "ann").unwrap();
        for n in 2..10 {
            assert!(matches!(
                limits.attempt(ip(n), "ann"),
                Err(Refusal::Name(_))
            ));
        }
        assert!(limits.attempt(ip(2), "cam").is_ok(), "other names do not");
        // Its answer sets what comes next: a success frees the name at once...
        limits.succeeded(first);
        let second = limits.attempt(ip(3), "ann").unwrap();
        // ...a failure holds it for its delay.
        limits.failed(second);
        let Err(Refusal::Name(wait)) = limits.attempt(ip(4), "ann") else {
            panic!("held after a failure");
        };
        assert!(wait > Duration::from_millis(200), "{wait:?}");
        // One whose password was never checked frees its name and its address's place...
        let busy = limits.attempt(ip(9), "ann").unwrap_err();
        assert!(
            matches!(busy, Refusal::Name(_)),
            "still held by the failure"
        );
        let unchecked = limits.attempt(ip(9), "bob").unwrap();
        limits.abandoned(unchecked);
        assert!(limits.attempt(ip(9), "bob").is_ok());
        // ...and an attempt that never reports back holds its name no longer than `checking`.
        let _lost = limits.attempt(ip(5), "dee").unwrap();
        assert!(limits.attempt(ip(6), "dee").is_err());
        std::thread::sleep(Duration::from_millis(60));
        assert!(limits.attempt(ip(6), "dee").is_ok());
        // A refusal for the address does not hold the name.
        for n in 0..5 {
            let attempt = limits.attempt(ip(7), &format!("x{n}")).unwrap();
            limits.failed(attempt);
        }
        assert!(matches!(
            limits.attempt(ip(7), "eve"),
            Err(Refusal::Address(_))
        ));
        assert!(limits.attempt(ip(8), "eve").is_ok());
    }
}
