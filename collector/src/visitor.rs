//! Visitor ids: who is who within one day, and nobody across days.
//!
//! A visitor id is `blake3` keyed with a random 32-byte salt over the length-prefixed site, client
//! IP and user agent, cut to 64 bits. The salt is drawn at each UTC midnight, lives only in this
//! process's memory and is overwritten when dropped, so once a day is over nobody, the owner
//! included, can tell whether two days' visitors were the same person. The previous day's salt is
//! kept for one session timeout after midnight, so that a visit crossing midnight is not split,
//! then destroyed. A restart draws a new salt.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use parking_lot::RwLock;
use rand::RngCore;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::clock::Clock;

/// A day's secret key. Zeroed in memory when dropped.
#[derive(Zeroize, ZeroizeOnDrop)]
struct Salt([u8; 32]);

impl Salt {
    fn random() -> Self {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Salt(key)
    }
}

struct SaltState {
    day: NaiveDate,
    current: Salt,
    /// Yesterday's salt, until `previous_until`.
    previous: Option<Salt>,
    previous_until: DateTime<Utc>,
}

/// The ids one request maps to: today's, and yesterday's while yesterday's salt is still kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VisitorIds {
    pub current: u64,
    pub previous: Option<u64>,
}

/// The salts, rotated lazily on use and by [`Salts::rotate`], which the server calls every minute
/// so that an old salt is destroyed on time even when no traffic arrives.
pub struct Salts {
    clock: Arc<dyn Clock>,
    /// How long yesterday's salt outlives midnight: the session timeout.
    overlap: Duration,
    state: RwLock<SaltState>,
}

impl Salts {
    pub fn new(clock: Arc<dyn Clock>, overlap: Duration) -> Self {
        let now = clock.now();
        Salts {
            clock,
            overlap,
            state: RwLock::new(SaltState {
                day: now.date_naive(),
                current: Salt::random(),
                previous: None,
                previous_until: now,
            }),
        }
    }

    /// The visitor ids of (site, client IP, user agent) for an event received `at`. The salt is
    /// chosen by when the event arrived, not when it is enriched: the writer may reach an event
    /// received at 23:59:59.9 after midnight, and that event belongs to yesterday.
    pub fn ids(&self, site: &str, ip: IpAddr, user_agent: &str, at: DateTime<Utc>) -> VisitorIds {
        self.rotate_at(at);
        let state = self.state.read();
        match &state.previous {
            Some(yesterday) if at.date_naive() < state.day => VisitorIds {
                current: hash(yesterday, site, ip, user_agent),
                previous: None,
            },
            _ => VisitorIds {
                current: hash(&state.current, site, ip, user_agent),
                previous: state
                    .previous
                    .as_ref()
                    .map(|salt| hash(salt, site, ip, user_agent)),
            },
        }
    }

    /// Draws today's salt if the day has changed, and destroys yesterday's once its overlap is over.
    pub fn rotate(&self) {
        self.rotate_at(self.clock.now());
    }

    fn rotate_at(&self, now: DateTime<Utc>) {
        let today = now.date_naive();
        {
            let state = self.state.read();
            let stale_previous = state.previous.is_some() && now >= state.previous_until;
            if state.day >= today && !stale_previous {
                return;
            }
        }
        let mut state = self.state.write();
        // Only forward: a late event from yesterday never brings yesterday's salt back.
        if today > state.day {
            let old = std::mem::replace(&mut state.current, Salt::random());
            // Only a salt from exactly yesterday can join a visit still going on.
            state.previous = (state.day.succ_opt() == Some(today)).then_some(old);
            state.previous_until = today
                .and_hms_opt(0, 0, 0)
                .expect("midnight exists")
                .and_utc()
                + self.overlap;
            state.day = today;
        }
        if now >= state.previous_until {
            state.previous = None;
        }
    }

    /// Whether yesterday's salt still exists (for tests and health reports).
    pub fn has_previous(&self) -> bool {
        self.state.read().previous.is_some()
    }

    /// Copies of the live salts, today's first. Only in test builds (the `test-support` feature),
    /// for the privacy drill, which looks for them on disk, in the logs and in answers: nothing in
    /// the server reads a salt out.
    #[cfg(any(test, feature = "test-support"))]
    pub fn copies_for_privacy_drill(&self) -> Vec<[u8; 32]> {
        let state = self.state.read();
        std::iter::once(&state.current)
            .chain(&state.previous)
            .map(|salt| salt.0)
            .collect()
    }
}

/// Length prefixes keep ("ab", "c") and ("a", "bc") apart. IPv4-mapped IPv6 addresses hash as the
/// IPv4 address they are, so a dual-stack proxy does not make one visitor two.
fn hash(salt: &Salt, site: &str, ip: IpAddr, user_agent: &str) -> u64 {
    let mut hasher = blake3::Hasher::new_keyed(&salt.0);
    let ip = match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    let ip_bytes: &[u8] = &match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    for part in [site.as_bytes(), ip_bytes, user_agent.as_bytes()] {
        hasher.update(&(part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    let digest = hasher.finalize();
    u64::from_le_bytes(digest.as_bytes()[..8].try_into().expect("8 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 14, h, m, 0).unwrap()
    }

    fn salts(clock: &Arc<ManualClock>) -> Salts {
        Salts::new(clock.clone(), Duration::minutes(30))
    }

    const UA: &str = "Mozilla/5.0 (X11; Linux x86_64)";

    #[test]
    fn same_input_same_day_same_id() {
        let clock = Arc::new(ManualClock::new(at(0, 1)));
        let salts = salts(&clock);
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        let morning = salts.ids("example.com", ip, UA, clock.now());
        clock.set(at(23, 59));
        assert_eq!(salts.ids("example.com", ip, UA, clock.now()), morning);
        assert_eq!(morning.previous, None);
    }

    #[test]
    fn any_difference_changes_the_id() {
        let clock = Arc::new(ManualClock::new(at(12, 0)));
        let salts = salts(&clock);
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        let base = salts.ids("example.com", ip, UA, clock.now()).current;
        assert_ne!(salts.ids("example.org", ip, UA, clock.now()).current, base);
        assert_ne!(
            salts
                .ids(
                    "example.com",
                    "198.51.100.8".parse().unwrap(),
                    UA,
                    clock.now()
                )
                .current,
            base
        );
        assert_ne!(
            salts.ids("example.com", ip, "Other", clock.now()).current,
            base
        );
        let mapped: IpAddr = "::ffff:198.51.100.7".parse().unwrap();
        assert_eq!(
            salts.ids("example.com", mapped, UA, clock.now()).current,
            base
        );
    }

    #[test]
    fn ids_differ_across_a_salt_rotation_and_yesterday_is_destroyed() {
        let clock = Arc::new(ManualClock::new(at(23, 50)));
        let salts = salts(&clock);
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        let yesterday = salts.ids("example.com", ip, UA, clock.now());

        clock.advance(Duration::minutes(20)); // 00:10 the next day
        let today = salts.ids("example.com", ip, UA, clock.now());
        assert_ne!(
            today.current, yesterday.current,
            "a new day draws a new salt"
        );
        assert_eq!(
            today.previous,
            Some(yesterday.current),
            "yesterday's salt joins a visit crossing midnight"
        );
        let copies = salts.copies_for_privacy_drill();
        assert_eq!(copies.len(), 2);
        assert_ne!(copies[0], copies[1]);

        clock.advance(Duration::minutes(20)); // 00:30: overlap over
        salts.rotate();
        assert!(!salts.has_previous());
        assert_eq!(salts.copies_for_privacy_drill(), copies[..1]);
        assert_eq!(
            salts.ids("example.com", ip, UA, clock.now()),
            VisitorIds {
                current: today.current,
                previous: None
            }
        );
    }

    #[test]
    fn a_restart_or_a_skipped_day_keeps_nothing_old() {
        let clock = Arc::new(ManualClock::new(at(12, 0)));
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        let first = salts(&clock)
            .ids("example.com", ip, UA, clock.now())
            .current;
        assert_ne!(
            salts(&clock)
                .ids("example.com", ip, UA, clock.now())
                .current,
            first,
            "salts are random per process"
        );

        let salts = salts(&clock);
        clock.advance(Duration::days(2));
        assert_eq!(salts.ids("example.com", ip, UA, clock.now()).previous, None);
    }

    #[test]
    fn an_event_from_before_midnight_enriched_after_it_keeps_yesterdays_id() {
        let clock = Arc::new(ManualClock::new(at(23, 59)));
        let salts = salts(&clock);
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        let yesterday = salts.ids("example.com", ip, UA, at(23, 59)).current;
        let after_midnight = at(23, 59) + Duration::minutes(2);
        let today = salts.ids("example.com", ip, UA, after_midnight);
        assert_ne!(today.current, yesterday);
        let late = salts.ids("example.com", ip, UA, at(23, 59) + Duration::seconds(30));
        assert_eq!(
            late,
            VisitorIds {
                current: yesterday,
                previous: None
            }
        );
        assert_eq!(
            salts.ids("example.com", ip, UA, after_midnight),
            today,
            "the late event rotated nothing back"
        );
    }
}
