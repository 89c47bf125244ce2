//! One page's (or one site's) counts per local day, and how days add up into a period.

use chrono::NaiveDate;

/// Pageviews and visitors over some days.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count {
    pub pageviews: u64,
    pub visitors: u64,
}

/// One local day's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Day {
    pub pageviews: u64,
    pub visitors: u64,
    /// Visitors of this day seen on the next day too. A visitor id lives one UTC day, so where a
    /// site's days are not UTC days, an id can fall on two neighbouring local days; a period
    /// holding both counts it once. Always 0 for a site in UTC.
    pub shared_with_next: u64,
}

/// Days in order, only those with events.
#[derive(Debug, Clone, Default)]
pub(crate) struct Series {
    days: Vec<(NaiveDate, Day)>,
}

impl Series {
    /// The day's counts, made empty if there were none. Events arrive in time order, so the
    /// day is nearly always the last one.
    pub fn day_mut(&mut self, date: NaiveDate) -> &mut Day {
        let at = match self.days.last() {
            Some((last, _)) if *last == date => self.days.len() - 1,
            Some((last, _)) if *last < date => {
                self.days.push((date, Day::default()));
                self.days.len() - 1
            }
            None => {
                self.days.push((date, Day::default()));
                0
            }
            _ => match self.days.binary_search_by_key(&date, |(d, _)| *d) {
                Ok(i) => i,
                Err(i) => {
                    self.days.insert(i, (date, Day::default()));
                    i
                }
            },
        };
        &mut self.days[at].1
    }

    /// The counts of the days `first..=last`. Visitors add up over days (each day's ids are its
    /// own) except those a day shares with the next, counted once when both days are in.
    pub fn sum(&self, first: NaiveDate, last: NaiveDate) -> Count {
        let start = self.days.partition_point(|(d, _)| *d < first);
        let mut count = Count::default();
        for (date, day) in self.days[start..].iter().take_while(|(d, _)| *d <= last) {
            count.pageviews += day.pageviews;
            count.visitors += day.visitors;
            if *date < last {
                count.visitors = count.visitors.saturating_sub(day.shared_with_next);
            }
        }
        count
    }

    /// Each day's counts, `first..=last`, days without events included as zeros.
    pub fn daily(&self, first: NaiveDate, last: NaiveDate) -> Vec<(NaiveDate, Count)> {
        let mut out = Vec::new();
        let mut kept = self.days[self.days.partition_point(|(d, _)| *d < first)..]
            .iter()
            .peekable();
        for date in first.iter_days().take_while(|d| *d <= last) {
            let day = match kept.peek() {
                Some((d, day)) if *d == date => {
                    kept.next();
                    *day
                }
                _ => Day::default(),
            };
            out.push((
                date,
                Count {
                    pageviews: day.pageviews,
                    visitors: day.visitors,
                },
            ));
        }
        out
    }

    /// Merges the days up to `through` into one, dated `through`, so that years of history cost
    /// one entry. Every sum over a range that holds all of them (as `all` does) stays exact;
    /// ranges starting inside them must not be asked for.
    pub fn fold_through(&mut self, through: NaiveDate) {
        let end = self.days.partition_point(|(d, _)| *d <= through);
        if end < 2 {
            return;
        }
        let mut merged = Day::default();
        for (date, day) in &self.days[..end] {
            merged.pageviews += day.pageviews;
            merged.visitors += day.visitors;
            // A link to a day inside the fold is settled here; one from `through` itself
            // points past the fold and is kept.
            if *date < through {
                merged.visitors = merged.visitors.saturating_sub(day.shared_with_next);
            } else {
                merged.shared_with_next = day.shared_with_next;
            }
        }
        self.days.splice(..end, [(through, merged)]);
    }

    /// Forgets the days from `from` on, to be read again from the store.
    pub fn clear_from(&mut self, from: NaiveDate) {
        let keep = self.days.partition_point(|(d, _)| *d < from);
        self.days.truncate(keep);
    }

    pub fn first_day(&self) -> Option<NaiveDate> {
        self.days.first().map(|(d, _)| *d)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.days.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, day).unwrap()
    }

    fn series(days: &[(u32, u64, u64, u64)]) -> Series {
        let mut s = Series::default();
        for &(day, pageviews, visitors, shared_with_next) in days {
            *s.day_mut(d(day)) = Day {
                pageviews,
                visitors,
                shared_with_next,
            };
        }
        s
    }

    #[test]
    fn sums_subtract_visitors_shared_by_days_both_inside() {
        // 3 → 4 share 2 visitors; 4 → 5 share 1.
        let s = series(&[(3, 10, 5, 2), (4, 6, 4, 1), (5, 3, 2, 0)]);
        assert_eq!(
            s.sum(d(3), d(5)),
            Count {
                pageviews: 19,
                visitors: 5 + 4 + 2 - 2 - 1
            }
        );
        // Day 4 alone: its link to day 5 does not count.
        assert_eq!(s.sum(d(4), d(4)).visitors, 4);
        assert_eq!(s.sum(d(4), d(5)).visitors, 5);
        assert_eq!(s.sum(d(6), d(9)), Count::default());
        assert_eq!(s.sum(d(1), d(3)).pageviews, 10);
    }

    #[test]
    fn days_arrive_out_of_order_and_stay_sorted() {
        let mut s = Series::default();
        s.day_mut(d(5)).pageviews += 1;
        s.day_mut(d(3)).pageviews += 1;
        s.day_mut(d(5)).pageviews += 1;
        s.day_mut(d(4)).pageviews += 1;
        let daily = s.daily(d(2), d(6));
        let views: Vec<u64> = daily.iter().map(|(_, c)| c.pageviews).collect();
        assert_eq!(views, [0, 1, 1, 2, 0]);
        assert_eq!(daily[0].0, d(2));
    }

    #[test]
    fn folding_keeps_the_total_and_the_link_to_the_next_day() {
        let days = [(1, 1, 1, 1), (2, 2, 2, 0), (3, 3, 3, 2), (4, 4, 4, 0)];
        let whole = series(&days).sum(d(1), d(31));
        let mut s = series(&days);
        s.fold_through(d(3));
        assert_eq!(s.len(), 2);
        assert_eq!(s.sum(d(1), d(31)), whole);
        assert_eq!(s.sum(d(4), d(4)), series(&days).sum(d(4), d(4)));
        // Folding through a day with no events: the last link points at a day that is not
        // the next one, so it is settled inside the merged entry.
        let mut s = series(&days);
        s.fold_through(d(10));
        assert_eq!(s.len(), 1);
        assert_eq!(s.sum(d(1), d(31)), whole);
    }
}
