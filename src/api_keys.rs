//! Stats API keys: made here, shown once, kept only as a hash; and the per-key rate limit.
//!
//! A key reads `ff_<id>_<secret>`: the id names it in `footfall key list` and `key revoke`, the
//! secret (192 random bits) is what makes it unguessable. The store keeps blake3 of the whole
//! key, which is enough for a random secret of that size (a slow password hash protects guessable
//! secrets; these are not).

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use rand::Rng;

/// A new key: its public id and the whole key, to show once.
pub struct NewKey {
    pub id: String,
    pub key: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn generate() -> NewKey {
    let mut rng = rand::rng();
    let id = hex(&rng.random::<[u8; 4]>());
    let secret = hex(&rng.random::<[u8; 24]>());
    NewKey {
        key: format!("ff_{id}_{secret}"),
        id,
    }
}

/// What the store keeps of a key.
pub fn hash(key: &str) -> String {
    blake3::hash(key.as_bytes()).to_hex().to_string()
}

/// The key in an `Authorization: Bearer …` header value.
pub fn bearer(header: Option<&str>) -> Option<&str> {
    let value = header?.trim();
    let (scheme, key) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| key.trim())
        .filter(|k| !k.is_empty())
}

/// Requests per hour, per key.
pub struct ApiLimiter {
    limiter: DefaultKeyedRateLimiter<String>,
    pub per_hour: u32,
}

impl ApiLimiter {
    pub fn new(per_hour: u32) -> ApiLimiter {
        let per_hour_nz = NonZeroU32::new(per_hour.max(1)).expect("at least 1");
        ApiLimiter {
            limiter: RateLimiter::keyed(Quota::per_hour(per_hour_nz)),
            per_hour,
        }
    }

    /// `Err(wait)` when the key has used up its requests for now.
    pub fn check(&self, key_id: &str) -> Result<(), Duration> {
        // Keys made per client (a shared link's visitors' addresses) come and go: past a few
        // thousand, those back to a full budget are forgotten, so the map cannot grow forever.
        if self.limiter.len() > 4_096 {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&key_id.to_owned())
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_their_hash_is_stable() {
        let (a, b) = (generate(), generate());
        assert_ne!(a.key, b.key);
        assert!(a.key.starts_with(&format!("ff_{}_", a.id)));
        assert_eq!(a.key.len(), 3 + 8 + 1 + 48);
        assert_eq!(hash(&a.key), hash(&a.key));
        assert_ne!(hash(&a.key), hash(&b.key));
    }

    #[test]
    fn bearer_tokens_are_read_from_the_header() {
        assert_eq!(bearer(Some("Bearer ff_1_x")), Some("ff_1_x"));
        assert_eq!(bearer(Some("bearer  ff_1_x ")), Some("ff_1_x"));
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(Some("Bearer")), None);
        assert_eq!(bearer(None), None);
    }

    #[test]
    fn a_key_gets_its_hourly_requests_then_waits() {
        let limiter = ApiLimiter::new(3);
        for _ in 0..3 {
            assert!(limiter.check("k").is_ok());
        }
        let wait = limiter.check("k").unwrap_err();
        assert!(
            wait > Duration::from_secs(60) && wait <= Duration::from_secs(1200),
            "{wait:?}"
        );
        assert!(limiter.check("other").is_ok(), "per key");
    }
}
