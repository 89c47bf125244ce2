//! Counts of events that were not recorded, by day, site and reason, so the owner can see what
//! the filters removed (and spot a misconfigured site). The server tallies here; the writer
//! moves the tally into the store with each batch.

use std::collections::HashMap;
use std::fmt;

use chrono::NaiveDate;
use parking_lot::Mutex;

/// Why an event was not recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReason {
    /// A crawler, a headless browser, an HTTP library, or a browser prefetch.
    Bot,
    /// The domain is not a registered site.
    UnknownSite,
    /// The referrer is on the referrer-spam list.
    Spam,
    /// The request was malformed (and answered with a 400).
    Invalid,
    /// The owner's rules excluded it: a path or IP rule, or Do Not Track.
    Excluded,
    /// An engagement report whose visit had already ended (or began before a restart): it
    /// belongs to no visit, and must not count as one.
    NoVisit,
    /// A pageview of a page its visit had already viewed as often as the repeat limit allows.
    Repeated,
}

impl DropReason {
    pub const ALL: [DropReason; 7] = [
        DropReason::Bot,
        DropReason::UnknownSite,
        DropReason::Spam,
        DropReason::Invalid,
        DropReason::Excluded,
        DropReason::NoVisit,
        DropReason::Repeated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Bot => "bot",
            DropReason::UnknownSite => "unknown_site",
            DropReason::Spam => "spam",
            DropReason::Invalid => "invalid",
            DropReason::Excluded => "excluded",
            DropReason::NoVisit => "no_visit",
            DropReason::Repeated => "repeated",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of the tally. `site` is empty when the event named no registered site: unknown
/// domains are not kept, so that junk traffic cannot grow the table without bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropCount {
    pub day: NaiveDate,
    pub site: String,
    pub reason: DropReason,
    pub count: u64,
}

#[derive(Debug, Default)]
pub struct DropTally {
    counts: Mutex<HashMap<(NaiveDate, String, DropReason), u64>>,
}

impl DropTally {
    pub fn add(&self, day: NaiveDate, site: &str, reason: DropReason) {
        let mut counts = self.counts.lock();
        match counts.get_mut(&(day, site.to_owned(), reason)) {
            Some(count) => *count += 1,
            None => {
                counts.insert((day, site.to_owned(), reason), 1);
            }
        }
    }

    /// Takes everything counted so far, leaving the tally empty.
    pub fn take(&self) -> Vec<DropCount> {
        let counts = std::mem::take(&mut *self.counts.lock());
        let mut rows: Vec<DropCount> = counts
            .into_iter()
            .map(|((day, site, reason), count)| DropCount {
                day,
                site,
                reason,
                count,
            })
            .collect();
        rows.sort_by(|a, b| (a.day, &a.site, a.reason).cmp(&(b.day, &b.site, b.reason)));
        rows
    }

    /// Puts back rows that could not be stored, so a failed write loses no counts.
    pub fn restore(&self, rows: Vec<DropCount>) {
        let mut counts = self.counts.lock();
        for row in rows {
            *counts.entry((row.day, row.site, row.reason)).or_default() += row.count;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_take_and_restore() {
        let tally = DropTally::default();
        let day = NaiveDate::from_ymd_opt(2026, 1, 2).unwrap();
        tally.add(day, "a.com", DropReason::Bot);
        tally.add(day, "a.com", DropReason::Bot);
        tally.add(day, "", DropReason::Invalid);
        let rows = tally.take();
        assert_eq!(
            rows,
            vec![
                DropCount {
                    day,
                    site: "".into(),
                    reason: DropReason::Invalid,
                    count: 1
                },
                DropCount {
                    day,
                    site: "a.com".into(),
                    reason: DropReason::Bot,
                    count: 2
                },
            ]
        );
        assert!(tally.take().is_empty());
        tally.restore(rows);
        tally.add(day, "a.com", DropReason::Bot);
        assert_eq!(tally.take()[1].count, 3);
        for reason in DropReason::ALL {
            assert_eq!(DropReason::parse(reason.as_str()), Some(reason));
        }
    }
}
