//! Per-client rate limits on the public, keyless endpoints: one client flooding them gets
//! `429 Too Many Requests` with `Retry-After`, and everyone else keeps being served.
//!
//! Two buckets per client: one for hits (`POST /api/event`, the pixel) and one for reads (public
//! counts, badges, charts, popular pages, and the Stats API before its key is looked up), so that
//! a page's badges never use up its events. The client is the address [`ClientIpPolicy`] finds:
//! the socket peer, unless the peer is a trusted proxy. So forged forwarding headers change no
//! bucket, and behind a proxy each real client has its own.
//!
//! The limits are for floods, not for counting: one address can be a whole office, a school or
//! a mobile carrier's NAT, so the defaults ([`RateLimits::default`]) let hundreds of people
//! behind one address browse normally. What keeps one visitor from inflating counts is the
//! collector's repeat limit, not this.
//!
//! Privacy: the buckets are keyed by a hash of the address under a key made at start (never the
//! address itself), and a bucket back to full is forgotten at the next sweep, within seconds.
//!
//! [`ClientIpPolicy`]: crate::client_ip::ClientIpPolicy

use std::hash::BuildHasher;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::AppError;

/// How often buckets back to full are forgotten. A bucket refills in at most `burst / rate`
/// seconds (10 s with the defaults), so the map holds the clients of the last twenty seconds or
/// so, some 32 bytes each: a million distinct clients in that time would take about 32 MB.
pub const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// A rate and a burst per client; a rate of 0 turns the limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_second: u32,
    pub burst: u32,
}

impl Rate {
    fn quota(self) -> Option<Quota> {
        let per_second = NonZeroU32::new(self.per_second)?;
        // Checked when the configuration is read; a burst below one is one.
        let burst = NonZeroU32::new(self.burst).unwrap_or(NonZeroU32::MIN);
        Some(Quota::per_second(per_second).allow_burst(burst))
    }
}

/// The limits per client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub events: Rate,
    pub reads: Rate,
}

impl Default for RateLimits {
    /// Hits: 100 a second, in bursts of up to 1,000. A visitor sends a pageview and an
    /// engagement event per page, plus a few custom events at most; a thousand people browsing
    /// behind one NAT send a few dozen a second, and a school class opening the same page at
    /// once is a burst of a few dozen. One client flooding is held to under 0.5 % of what the
    /// server ingests (about 25,000 hits a second on two cores, benches/README.md).
    ///
    /// Reads: 50 a second, in bursts of up to 500. A page shows a few counts or badges (an index
    /// page up to 100, which `/counter.js` asks for in one request); a chart costs a
    /// millisecond or so to draw, so one client's 50 a second stay a small share of a core.
    fn default() -> Self {
        RateLimits {
            events: Rate {
                per_second: 100,
                burst: 1_000,
            },
            reads: Rate {
                per_second: 50,
                burst: 500,
            },
        }
    }
}

/// A client's bucket key: a hash of its address (IPv6: of its /64, which one household or
/// phone holds whole and can pick any address in), under a random key made at start.
type ClientKey = u64;

/// Which bucket a request draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Events,
    Reads,
}

/// The per-client buckets.
pub struct ClientLimits {
    limits: RateLimits,
    events: Option<DefaultKeyedRateLimiter<ClientKey>>,
    reads: Option<DefaultKeyedRateLimiter<ClientKey>>,
    /// Keys the address hash; made at start, never stored.
    hasher: std::hash::RandomState,
    /// Requests refused since the last report in the log.
    refused: AtomicU64,
}

impl ClientLimits {
    pub fn new(limits: RateLimits) -> ClientLimits {
        ClientLimits {
            limits,
            events: limits.events.quota().map(RateLimiter::keyed),
            reads: limits.reads.quota().map(RateLimiter::keyed),
            hasher: std::hash::RandomState::new(),
            refused: AtomicU64::new(0),
        }
    }

    /// Whether requests of this kind are limited at all (when not, callers need not work out
    /// the client's address).
    pub fn limits(&self, bucket: Bucket) -> bool {
        match bucket {
            Bucket::Events => self.events.is_some(),
            Bucket::Reads => self.reads.is_some(),
        }
    }

    /// `Ok` when `client` may make another request of this kind now; otherwise the 429 to
    /// answer, with how long to wait.
    pub fn check(&self, bucket: Bucket, client: IpAddr) -> Result<(), AppError> {
        let (limiter, rate, what) = match bucket {
            Bucket::Events => (&self.events, self.limits.events, "events"),
            Bucket::Reads => (&self.reads, self.limits.reads, "requests"),
        };
        let Some(limiter) = limiter else {
            return Ok(());
        };
        match limiter.check_key(&self.key(client)) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                let wait = not_until.wait_time_from(limiter.clock().now());
                Err(AppError::RateLimited {
                    reason: format!(
                        "too many {what} from this address: at most {} a second (bursts of {}); \
                         retry later",
                        rate.per_second, rate.burst
                    ),
                    // Whole seconds, rounded up: never "retry after 0".
                    retry_after_secs: (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1),
                })
            }
        }
    }

    fn key(&self, client: IpAddr) -> ClientKey {
        match client {
            IpAddr::V4(v4) => self.hasher.hash_one(v4.to_bits()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => self.hasher.hash_one(v4.to_bits()),
                None => self.hasher.hash_one((6u8, v6.to_bits() >> 64)),
            },
        }
    }

    /// Forgets the buckets that are full again and gives their memory back; returns how many
    /// requests were refused since the last call.
    pub fn sweep(&self) -> u64 {
        for limiter in [&self.events, &self.reads].into_iter().flatten() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        self.refused.swap(0, Ordering::Relaxed)
    }

    /// Clients with a bucket in use, both kinds together (for tests and the log).
    pub fn tracked(&self) -> usize {
        [&self.events, &self.reads]
            .into_iter()
            .flatten()
            .map(|l| l.len())
            .sum()
    }
}

/// Sweeps `limits` every [`SWEEP_EVERY`] for as long as it runs, and logs how many requests the
/// limits refused, at most once a minute (no address is logged).
pub async fn keep_swept(limits: std::sync::Arc<ClientLimits>) {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut refused = 0;
    let mut ticks = 0u32;
    loop {
        every.tick().await;
        refused += limits.sweep();
        ticks += 1;
        if ticks * SWEEP_EVERY.as_secs() as u32 >= 60 {
            if refused > 0 {
                tracing::warn!(
                    "rate limits refused {refused} requests in the last minute (429); {} clients \
                     are still being held back or refilling",
                    limits.tracked()
                );
            }
            refused = 0;
            ticks = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn small() -> ClientLimits {
        ClientLimits::new(RateLimits {
            events: Rate {
                per_second: 1,
                burst: 3,
            },
            reads: Rate {
                per_second: 0,
                burst: 0,
            },
        })
    }

    #[test]
    fn a_client_gets_its_burst_then_a_429_with_retry_after() {
        let limits = small();
        for _ in 0..3 {
            limits.check(Bucket::Events, ip("198.51.100.1")).unwrap();
        }
        match limits.check(Bucket::Events, ip("198.51.100.1")) {
            Err(AppError::RateLimited {
                reason,
                retry_after_secs,
            }) => {
                assert_eq!(retry_after_secs, 1);
                assert!(
                    reason.contains("at most 1 a second (bursts of 3)"),
                    "{reason}"
                );
                assert!(!reason.contains("198.51"), "no address in answers");
            }
            other => panic!("{other:?}"),
        }
        limits.check(Bucket::Events, ip("198.51.100.2")).unwrap();
        assert_eq!(limits.sweep(), 1);
    }

    #[test]
    fn a_rate_of_zero_is_no_limit() {
        let limits = small();
        assert!(limits.limits(Bucket::Events) && !limits.limits(Bucket::Reads));
        for _ in 0..10_000 {
            limits.check(Bucket::Reads, ip("198.51.100.1")).unwrap();
        }
        assert_eq!(limits.tracked(), 0);
    }

    #[test]
    fn an_ipv6_client_is_its_64_and_mapped_ipv4_is_ipv4() {
        let limits = small();
        for i in 0..3 {
            limits
                .check(Bucket::Events, ip(&format!("2001:db8:1:2::{i}")))
                .unwrap();
        }
        assert!(limits
            .check(Bucket::Events, ip("2001:db8:1:2:ffff::9"))
            .is_err());
        limits.check(Bucket::Events, ip("2001:db8:1:3::1")).unwrap();
        for _ in 0..3 {
            limits.check(Bucket::Events, ip("192.0.2.7")).unwrap();
        }
        assert!(limits
            .check(Bucket::Events, ip("::ffff:192.0.2.7"))
            .is_err());
    }

    #[test]
    fn sweeping_forgets_full_buckets_only() {
        let limits = ClientLimits::new(RateLimits {
            events: Rate {
                per_second: 1_000,
                burst: 1_000,
            },
            reads: Rate {
                per_second: 1,
                burst: 1,
            },
        });
        for i in 0..100u32 {
            limits
                .check(
                    Bucket::Events,
                    IpAddr::from((0x0a00_0000 + i).to_be_bytes()),
                )
                .unwrap();
        }
        limits.check(Bucket::Reads, ip("198.51.100.1")).unwrap();
        assert_eq!(limits.tracked(), 101);
        std::thread::sleep(Duration::from_millis(20));
        limits.sweep();
        assert_eq!(
            limits.tracked(),
            1,
            "the reader's bucket refills in a second"
        );
    }
}
