//! Stats API keys: made here, shown once, kept only as a hash; and the per-key rate limit.
//!
//! A key reads `ff_<id>_<secret>`: the id names it in `footfall key list` and `key revoke`, the
//! secret (192 random bits) is what makes it unguessable. The store keeps blake3 of the whole
//! key, which is enough for a random secret of that size (a slow password hash protects guessable
//! secrets; these are not). A key opens the Stats API and nothing else: [`stats_api_only`] keeps
//! it out of the owner's routes.

use std::num::NonZeroU32;
use std::time::Duration;

use axum::extract::Request;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use rand::Rng;

use crate::error::AppError;

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

/// Whether a request carries a Stats API key (`Bearer ff_…`; other bearer tokens, such as an
/// authenticating proxy's, are not ours).
fn carries_key(request: &Request) -> bool {
    bearer(
        request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    )
    .is_some_and(|key| key.starts_with("ff_"))
}

/// Keeps keys to the Stats API: a request that carries one gets 403 on the owner's routes and
/// the shared view's, whatever else it carries. A key is no session there anyway; refused here,
/// it cannot come to open one of them through a handler written later.
pub async fn stats_api_only(request: Request, next: Next) -> Response {
    if carries_key(&request) {
        return AppError::Forbidden(
            "an API key reads the Stats API only: it cannot reach this".into(),
        )
        .into_response();
    }
    next.run(request).await
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
    fn only_footfall_keys_are_recognised_as_keys() {
        let with = |value: &str| {
            Request::builder()
                .header(AUTHORIZATION, value)
                .body(axum::body::Body::empty())
                .unwrap()
        };
        assert!(carries_key(&with(&format!("Bearer {}", generate().key))));
        assert!(carries_key(&with("bearer ff_anything")));
        assert!(!carries_key(&with("Bearer eyJhbGciOiJSUzI1NiJ9.a.b")));
        assert!(!carries_key(&with("Basic YW5uOnB3")));
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
