//! Visits: a visit (session) ends after a quiet spell of `timeout` with no event from the visitor.
//!
//! Sessions live in memory only, keyed by today's visitor id. When a visit crosses midnight, the
//! first event after it finds the session under yesterday's id and moves it to today's, so the
//! session id stays and the visit is not split; every event still carries today's visitor id,
//! which keeps daily visitor counts exact.
//!
//! A visit crosses at most one midnight: it ends when the day after the one it started on ends.
//! So a visit started on day D lies within D and D + 1, and a query (or a daily rollup) finds
//! all of a visit's events by reading one day either side of the days it asks about. A visit
//! that long is a screen left open, not a person reading.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use parking_lot::Mutex;

use crate::visitor::VisitorIds;

#[derive(Debug, Clone)]
struct Session {
    id: u64,
    last_seen: DateTime<Utc>,
    /// The UTC day the visit started on: it may go on through the next day, not beyond.
    started: NaiveDate,
    /// Pageviews so far per page (a hash of its path), for the repeat limit.
    pageviews: Vec<(u64, u32)>,
}

/// Why a pageview was not counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repeated;

/// Distinct pages one visit may record pageviews of, when the repeat limit is on.
const MAX_TRACKED_PAGES: usize = 500;

/// Shards keep the lock of one visitor's lookup from blocking another's.
const SHARDS: usize = 16;

pub struct Sessions {
    timeout: Duration,
    /// Pageviews of one page one visit may record (0: no limit). Past it, reloading a page
    /// cannot inflate its count: a script reloading a post a thousand times is one visit with
    /// this many pageviews, not a thousand.
    repeat_limit: u32,
    shards: Vec<Mutex<HashMap<u64, Session>>>,
}

impl Sessions {
    pub fn new(timeout: Duration) -> Self {
        Sessions {
            timeout,
            repeat_limit: 0,
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    /// Limits the pageviews of one page in one visit (0: no limit).
    pub fn with_repeat_limit(mut self, limit: u32) -> Self {
        self.repeat_limit = limit;
        self
    }

    /// The session id for an event of this visitor at `now`: the ongoing one, or a new one.
    pub fn session_for(&self, ids: VisitorIds, now: DateTime<Utc>) -> u64 {
        self.visit(ids, now, true, None)
            .expect("a visit is started when none goes on")
            .expect("only pageviews are limited")
    }

    /// As [`Sessions::session_for`], for a pageview of `path`: `Err` when the visit has viewed
    /// the page as often as the repeat limit allows. The visit goes on either way.
    pub fn session_for_pageview(
        &self,
        ids: VisitorIds,
        now: DateTime<Utc>,
        path: &str,
    ) -> Result<u64, Repeated> {
        self.visit(ids, now, true, Some(path))
            .expect("a visit is started when none goes on")
    }

    /// The ongoing session of this visitor, if there is one, for events that belong to a visit
    /// but never start one: an engagement report arriving after its visit ended (a tab left in
    /// the background for an hour, then closed) would otherwise count as a visit of its own.
    pub fn continue_session(&self, ids: VisitorIds, now: DateTime<Utc>) -> Option<u64> {
        self.visit(ids, now, false, None)
            .map(|r| r.expect("not a pageview"))
    }

    fn visit(
        &self,
        ids: VisitorIds,
        now: DateTime<Utc>,
        may_start: bool,
        pageview: Option<&str>,
    ) -> Option<Result<u64, Repeated>> {
        let carried = ids.previous.and_then(|previous| {
            if previous == ids.current {
                return None;
            }
            let session = self.shard(previous).lock().remove(&previous)?;
            self.is_live(&session, now).then_some(session)
        });
        let mut shard = self.shard(ids.current).lock();
        let mut session = match shard.remove(&ids.current).or(carried) {
            Some(s) if self.is_live(&s, now) => Session {
                last_seen: now.max(s.last_seen),
                ..s
            },
            _ if may_start => Session {
                id: new_session_id(),
                last_seen: now,
                started: now.date_naive(),
                pageviews: Vec::new(),
            },
            _ => return None,
        };
        let counted = match pageview {
            Some(path) if self.repeat_limit > 0 => session.count_pageview(path, self.repeat_limit),
            _ => true,
        };
        let id = session.id;
        shard.insert(ids.current, session);
        Some(if counted { Ok(id) } else { Err(Repeated) })
    }

    /// Forgets visits that have ended. Called periodically; returns how many were removed.
    pub fn purge_expired(&self, now: DateTime<Utc>) -> usize {
        self.shards
            .iter()
            .map(|shard| {
                let mut shard = shard.lock();
                let before = shard.len();
                shard.retain(|_, s| self.is_live(s, now));
                before - shard.len()
            })
            .sum()
    }

    /// Visits going on now.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn is_live(&self, session: &Session, now: DateTime<Utc>) -> bool {
        now - session.last_seen < self.timeout
            && now.date_naive() <= session.started + Duration::days(1)
    }

    fn shard(&self, visitor: u64) -> &Mutex<HashMap<u64, Session>> {
        &self.shards[(visitor % SHARDS as u64) as usize]
    }
}

impl Session {
    /// Counts a pageview of `path`; `false` when the page has had `limit` already.
    fn count_pageview(&mut self, path: &str, limit: u32) -> bool {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let key = BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
            .hash_one(path);
        let tracked = self.pageviews.len();
        match self.pageviews.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) if *n >= limit => false,
            Some((_, n)) => {
                *n += 1;
                true
            }
            // A visit of hundreds of pages is a crawler's: its memory stays bounded, and no
            // further page is recorded, or viewing junk pages first would lift the limit.
            None if tracked >= MAX_TRACKED_PAGES => false,
            None => {
                self.pageviews.push((key, 1));
                true
            }
        }
    }
}

/// Random, so a session id says nothing about the visitor; never 0, which reads as "none".
fn new_session_id() -> u64 {
    loop {
        let id = rand::random::<u64>();
        if id != 0 {
            return id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 14, h, m, 0).unwrap()
    }

    fn ids(current: u64) -> VisitorIds {
        VisitorIds {
            current,
            previous: None,
        }
    }

    #[test]
    fn a_visit_continues_until_thirty_quiet_minutes() {
        let sessions = Sessions::new(Duration::minutes(30));
        let first = sessions.session_for(ids(1), t(10, 0));
        assert_eq!(sessions.session_for(ids(1), t(10, 29)), first);
        assert_eq!(
            sessions.session_for(ids(1), t(10, 58)),
            first,
            "the quiet spell restarts at each event"
        );
        let next = sessions.session_for(ids(1), t(11, 28));
        assert_ne!(next, first, "30 quiet minutes end the visit");
        assert_ne!(
            sessions.session_for(ids(2), t(11, 28)),
            next,
            "other visitors have their own"
        );
    }

    #[test]
    fn some_events_only_continue_a_visit() {
        let sessions = Sessions::new(Duration::minutes(30));
        assert_eq!(sessions.continue_session(ids(3), t(9, 0)), None);
        assert!(sessions.is_empty(), "nothing started");
        let visit = sessions.session_for(ids(3), t(9, 0));
        assert_eq!(sessions.continue_session(ids(3), t(9, 20)), Some(visit));
        assert_eq!(
            sessions.continue_session(ids(3), t(9, 45)),
            Some(visit),
            "and keep it going"
        );
        assert_eq!(sessions.continue_session(ids(3), t(10, 16)), None, "ended");
    }

    #[test]
    fn a_visit_crossing_midnight_keeps_its_session() {
        let sessions = Sessions::new(Duration::minutes(30));
        let before = sessions.session_for(ids(7), t(23, 50));
        let after = sessions.session_for(
            VisitorIds {
                current: 8,
                previous: Some(7),
            },
            t(23, 50) + Duration::minutes(15),
        );
        assert_eq!(after, before);
        assert_eq!(
            sessions.session_for(ids(8), t(23, 50) + Duration::minutes(20)),
            before,
            "moved to today's id"
        );
        assert_eq!(sessions.len(), 1);
    }

    #[test]
    fn a_visit_ends_with_the_day_after_it_started() {
        let sessions = Sessions::new(Duration::minutes(30));
        let mut at = t(23, 50);
        let mut id = 20;
        let visit = sessions.session_for(ids(id), at);
        // An event every 20 minutes, through the next day and its midnight.
        loop {
            at += Duration::minutes(20);
            let previous = id;
            if at.date_naive() != (at - Duration::minutes(20)).date_naive() {
                id += 1;
            }
            let got = sessions.session_for(
                VisitorIds {
                    current: id,
                    previous: Some(previous),
                },
                at,
            );
            if at.date_naive() <= t(0, 0).date_naive() + Duration::days(1) {
                assert_eq!(got, visit, "still the same visit at {at}");
            } else {
                assert_ne!(got, visit, "a new visit after the second midnight");
                break;
            }
        }
    }

    #[test]
    fn purge_forgets_ended_visits() {
        let sessions = Sessions::new(Duration::minutes(30));
        for v in 0..100 {
            sessions.session_for(ids(v), t(10, 0));
        }
        sessions.session_for(ids(5), t(10, 20));
        assert_eq!(sessions.purge_expired(t(10, 40)), 99);
        assert_eq!(sessions.len(), 1);
    }

    #[test]
    fn a_visit_records_a_page_at_most_the_repeat_limit() {
        let sessions = Sessions::new(Duration::minutes(30)).with_repeat_limit(3);
        let visit = sessions.session_for(ids(1), t(9, 0));
        let reloads: Vec<_> = (0..1000)
            .map(|_| sessions.session_for_pageview(ids(1), t(9, 1), "/post"))
            .collect();
        assert_eq!(reloads[..3], [Ok(visit); 3]);
        assert!(reloads[3..].iter().all(|r| *r == Err(Repeated)));
        // Other pages, other visitors, and other events are not held back.
        assert_eq!(
            sessions.session_for_pageview(ids(1), t(9, 2), "/other"),
            Ok(visit)
        );
        assert!(sessions
            .session_for_pageview(ids(2), t(9, 2), "/post")
            .is_ok());
        assert_eq!(sessions.session_for(ids(1), t(9, 3)), visit);
        // A new visit starts a new count.
        assert!(sessions
            .session_for_pageview(ids(1), t(11, 0), "/post")
            .is_ok());
        // Past MAX_TRACKED_PAGES distinct pages, no new page is recorded: junk pages first
        // cannot lift the limit on the one reloaded.
        for i in 0..MAX_TRACKED_PAGES {
            let _ = sessions.session_for_pageview(ids(3), t(9, 0), &format!("/junk/{i}"));
        }
        assert_eq!(
            sessions.session_for_pageview(ids(3), t(9, 1), "/target"),
            Err(Repeated)
        );
        // No limit: every pageview counts.
        let open = Sessions::new(Duration::minutes(30));
        assert!((0..100).all(|_| open.session_for_pageview(ids(1), t(9, 0), "/post").is_ok()));
    }
}
