//! Date ranges: Plausible's shortcuts and explicit ranges, resolved to UTC instants in the
//! site's time zone; the time bucket `time` stands for; and the zone's UTC offsets over a
//! period, which is how buckets are computed in SQL without a time-zone database in DuckDB.

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc,
};
use chrono_tz::Tz;

use super::model::{Period, TimeBucket};

/// A date range as asked for, before it is resolved against "now".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateRange {
    /// Today, in the site's time zone.
    Day,
    /// The `n` whole days before today (today excluded, as Plausible counts).
    LastDays(u32),
    /// This calendar month, whole.
    Month,
    /// The `n` whole months before this one.
    LastMonths(u32),
    /// This calendar year, whole.
    Year,
    /// From the site's first event to the end of today.
    All,
    /// Whole days, both included.
    Dates(NaiveDate, NaiveDate),
    /// Exact instants, both included.
    Instants(DateTime<FixedOffset>, DateTime<FixedOffset>),
    /// The last five minutes: who is on the site now, and where (a Footfall extension; Plausible
    /// keeps its `realtime` range to its own dashboard).
    Realtime,
}

impl DateRange {
    /// Plausible's shortcut names.
    pub fn parse_shortcut(text: &str) -> Option<DateRange> {
        Some(match text {
            "day" => DateRange::Day,
            "7d" => DateRange::LastDays(7),
            "28d" => DateRange::LastDays(28),
            "30d" => DateRange::LastDays(30),
            "91d" => DateRange::LastDays(91),
            "month" => DateRange::Month,
            "6mo" => DateRange::LastMonths(6),
            "12mo" => DateRange::LastMonths(12),
            "year" => DateRange::Year,
            "all" => DateRange::All,
            "realtime" => DateRange::Realtime,
            _ => return None,
        })
    }

    /// `[from, to)` in UTC. `first_event` is the site's earliest event, which `all` starts at.
    pub fn resolve(
        &self,
        now: DateTime<Utc>,
        tz: Tz,
        first_event: Option<DateTime<Utc>>,
    ) -> Period {
        let today = now.with_timezone(&tz).date_naive();
        let days = |from: NaiveDate, to_exclusive: NaiveDate| Period {
            from: local_midnight(tz, from),
            to: local_midnight(tz, to_exclusive),
        };
        match self {
            DateRange::Day => days(today, today + Duration::days(1)),
            DateRange::LastDays(n) => days(today - Duration::days(i64::from(*n)), today),
            DateRange::Month => {
                let first = first_of_month(today);
                days(first, add_months(first, 1))
            }
            DateRange::LastMonths(n) => {
                let first = first_of_month(today);
                days(add_months(first, -(*n as i32)), first)
            }
            DateRange::Year => {
                let first = NaiveDate::from_ymd_opt(today.year(), 1, 1).expect("January 1st");
                days(first, add_months(first, 12))
            }
            DateRange::All => {
                let start = first_event
                    .map(|t| t.with_timezone(&tz).date_naive())
                    .unwrap_or(today)
                    .min(today);
                days(start, today + Duration::days(1))
            }
            DateRange::Dates(from, to) => days(*from, *to + Duration::days(1)),
            DateRange::Realtime => Period {
                from: now - Duration::minutes(5),
                to: now + Duration::seconds(1),
            },
            DateRange::Instants(from, to) => Period {
                from: from.with_timezone(&Utc),
                to: to.with_timezone(&Utc) + Duration::microseconds(1),
            },
        }
    }
}

/// The period a query's answer is compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Comparison {
    /// As long as the period, right before it.
    PreviousPeriod,
    /// The same days a year earlier.
    YearOverYear,
    /// Whole days, both included.
    Custom(NaiveDate, NaiveDate),
}

impl Comparison {
    pub fn period(&self, main: &Period, tz: Tz) -> Period {
        let from = local_time(tz, main.from);
        let to = local_time(tz, main.to);
        let whole_days =
            from.time() == chrono::NaiveTime::MIN && to.time() == chrono::NaiveTime::MIN;
        match self {
            Comparison::Custom(first, last) => Period {
                from: local_midnight(tz, *first),
                to: local_midnight(tz, *last + Duration::days(1)),
            },
            Comparison::PreviousPeriod if whole_days => {
                let days = to.date() - from.date();
                Period {
                    from: local_midnight(tz, from.date() - days),
                    to: local_midnight(tz, from.date()),
                }
            }
            Comparison::PreviousPeriod => Period {
                from: main.from - (main.to - main.from),
                to: main.from,
            },
            Comparison::YearOverYear if whole_days => {
                let back =
                    |d: NaiveDate| d.checked_sub_months(chrono::Months::new(12)).unwrap_or(d);
                Period {
                    from: local_midnight(tz, back(from.date())),
                    to: local_midnight(tz, back(to.date())),
                }
            }
            Comparison::YearOverYear => Period {
                from: main.from - Duration::days(365),
                to: main.to - Duration::days(365),
            },
        }
    }
}

/// The UTC instant a local date begins. Where midnight does not exist (a zone that moves its
/// clocks at midnight), the day begins at the first instant that does.
pub fn local_midnight(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    let mut local: NaiveDateTime = date.and_hms_opt(0, 0, 0).expect("midnight");
    for _ in 0..4 {
        match tz.from_local_datetime(&local) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => return t.with_timezone(&Utc),
            LocalResult::None => local += Duration::minutes(30),
        }
    }
    Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).expect("midnight"))
}

fn first_of_month(date: NaiveDate) -> NaiveDate {
    date.with_day(1).expect("the 1st exists")
}

fn add_months(first_of_month: NaiveDate, months: i32) -> NaiveDate {
    let index = first_of_month.year() * 12 + first_of_month.month0() as i32 + months;
    NaiveDate::from_ymd_opt(index.div_euclid(12), index.rem_euclid(12) as u32 + 1, 1)
        .expect("the 1st exists")
}

/// The bucket `time` stands for: hours up to two days, days up to 40, weeks up to 52, months
/// beyond (Plausible's choice).
pub fn auto_bucket(period: &Period) -> TimeBucket {
    let span = period.to - period.from;
    if span <= Duration::hours(48) {
        TimeBucket::Hour
    } else if span <= Duration::days(40) {
        TimeBucket::Day
    } else if span <= Duration::weeks(52) {
        TimeBucket::Week
    } else {
        TimeBucket::Month
    }
}

/// The zone's offset from UTC over a period, as steps: `(since, offset_seconds)`, the first
/// step from the period's start. A period of a year has at most a few steps (DST changes).
pub fn offset_steps(tz: Tz, period: &Period) -> Vec<(DateTime<Utc>, i32)> {
    let offset_at = |t: DateTime<Utc>| {
        use chrono::Offset;
        t.with_timezone(&tz).offset().fix().local_minus_utc()
    };
    let mut steps = vec![(period.from, offset_at(period.from))];
    // Offsets change on the hour or half hour; checking each hour finds every change, and a
    // change found is then placed to the second by halving.
    let mut t = period.from;
    while t < period.to {
        let next = (t + Duration::hours(1)).min(period.to);
        let (before, after) = (offset_at(t), offset_at(next));
        if before != after {
            let (mut lo, mut hi) = (t, next);
            while hi - lo > Duration::seconds(1) {
                let mid = lo + (hi - lo) / 2;
                if offset_at(mid) == before {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            steps.push((hi, after));
        }
        t = next;
    }
    steps
}

/// The UTC midnight at or before an instant: where its visitor ids' day (and salt) began.
pub fn utc_day_start(t: DateTime<Utc>) -> DateTime<Utc> {
    t.date_naive().and_time(chrono::NaiveTime::MIN).and_utc()
}

/// Where all the events lie of the visits that touch a period: a visit lasts at most through
/// the UTC day after the one it started on (the collector ends it there), so from the day before
/// the period's first UTC day to the end of the day after its last.
pub fn visit_window(period: &Period) -> Period {
    let last = period.to.max(period.from + Duration::microseconds(1)) - Duration::microseconds(1);
    Period {
        from: utc_day_start(period.from) - Duration::days(1),
        to: utc_day_start(last) + Duration::days(2),
    }
}

/// The local time of an instant, as the bucket expressions in SQL compute it.
pub fn local_time(tz: Tz, t: DateTime<Utc>) -> NaiveDateTime {
    t.with_timezone(&tz).naive_local()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_visit_window_adds_a_day_before_and_two_after() {
        let window = visit_window(&Period {
            from: utc("2026-03-10T05:00:00Z"),
            to: utc("2026-03-12T00:00:00Z"),
        });
        assert_eq!(window.from, utc("2026-03-09T00:00:00Z"));
        assert_eq!(window.to, utc("2026-03-13T00:00:00Z"));
    }

    #[test]
    fn shortcuts_cover_whole_local_days_and_exclude_today() {
        let now = utc("2026-03-10T15:00:00Z");
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let p = DateRange::LastDays(7).resolve(now, berlin, None);
        assert_eq!(p.from, utc("2026-03-02T23:00:00Z"), "March 3rd, Berlin");
        assert_eq!(p.to, utc("2026-03-09T23:00:00Z"), "today excluded");
        let p = DateRange::Day.resolve(now, berlin, None);
        assert_eq!(
            (p.from, p.to),
            (utc("2026-03-09T23:00:00Z"), utc("2026-03-10T23:00:00Z"))
        );
        let p = DateRange::Month.resolve(now, Tz::UTC, None);
        assert_eq!(
            (p.from, p.to),
            (utc("2026-03-01T00:00:00Z"), utc("2026-04-01T00:00:00Z"))
        );
        let p = DateRange::LastMonths(6).resolve(now, Tz::UTC, None);
        assert_eq!(
            (p.from, p.to),
            (utc("2025-09-01T00:00:00Z"), utc("2026-03-01T00:00:00Z"))
        );
        let p = DateRange::Year.resolve(now, Tz::UTC, None);
        assert_eq!(
            (p.from, p.to),
            (utc("2026-01-01T00:00:00Z"), utc("2027-01-01T00:00:00Z"))
        );
        let p = DateRange::All.resolve(now, Tz::UTC, Some(utc("2025-05-05T10:00:00Z")));
        assert_eq!(
            (p.from, p.to),
            (utc("2025-05-05T00:00:00Z"), utc("2026-03-11T00:00:00Z"))
        );
        let p = DateRange::Realtime.resolve(now, berlin, None);
        assert_eq!(p.to - p.from, Duration::seconds(301));
        let p =
            DateRange::Dates(date("2026-01-01"), date("2026-01-31")).resolve(now, Tz::UTC, None);
        assert_eq!(
            (p.from, p.to),
            (utc("2026-01-01T00:00:00Z"), utc("2026-02-01T00:00:00Z"))
        );
    }

    #[test]
    fn a_day_with_a_clock_change_is_23_or_25_hours() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let p = DateRange::Dates(date("2026-03-29"), date("2026-03-29")).resolve(
            Utc::now(),
            berlin,
            None,
        );
        assert_eq!(p.to - p.from, Duration::hours(23));
        let p = DateRange::Dates(date("2026-10-25"), date("2026-10-25")).resolve(
            Utc::now(),
            berlin,
            None,
        );
        assert_eq!(p.to - p.from, Duration::hours(25));
        let steps = offset_steps(berlin, &p);
        assert_eq!(
            steps,
            vec![(p.from, 7200), (utc("2026-10-25T01:00:00Z"), 3600)]
        );
    }

    #[test]
    fn comparisons_shift_by_local_days() {
        let now = utc("2026-03-10T15:00:00Z");
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let main = DateRange::LastDays(7).resolve(now, berlin, None);
        let previous = Comparison::PreviousPeriod.period(&main, berlin);
        assert_eq!(previous.from, utc("2026-02-23T23:00:00Z"));
        assert_eq!(previous.to, main.from);
        let year = Comparison::YearOverYear.period(&main, berlin);
        assert_eq!(year.from, utc("2025-03-02T23:00:00Z"));
        let custom =
            Comparison::Custom(date("2026-01-01"), date("2026-01-07")).period(&main, Tz::UTC);
        assert_eq!(custom.to - custom.from, Duration::days(7));
    }

    #[test]
    fn time_resolves_by_span() {
        let p = |hours: i64| Period {
            from: utc("2026-01-01T00:00:00Z"),
            to: utc("2026-01-01T00:00:00Z") + Duration::hours(hours),
        };
        assert_eq!(auto_bucket(&p(24)), TimeBucket::Hour);
        assert_eq!(auto_bucket(&p(48)), TimeBucket::Hour);
        assert_eq!(auto_bucket(&p(24 * 30)), TimeBucket::Day);
        assert_eq!(auto_bucket(&p(24 * 91)), TimeBucket::Week);
        assert_eq!(auto_bucket(&p(24 * 400)), TimeBucket::Month);
    }

    #[test]
    fn half_hour_zones_are_placed_exactly() {
        let kolkata: Tz = "Asia/Kolkata".parse().unwrap();
        let p = DateRange::Dates(date("2026-03-01"), date("2026-03-01")).resolve(
            Utc::now(),
            kolkata,
            None,
        );
        assert_eq!(p.from, utc("2026-02-28T18:30:00Z"));
        assert_eq!(offset_steps(kolkata, &p), vec![(p.from, 19800)]);
    }
}
