//! The arithmetic of an answer, apart from where its counts come from: a group's raw [`Counts`],
//! the metrics worked out of them ([`metric_value`]), the rows they make ([`ResultRow`],
//! [`QueryResult`]), their order ([`sort_rows`]) and the labels of a period's time buckets
//! ([`time_labels`]).
//!
//! It is apart from `run` (which fetches the counts from DuckDB) because it needs no store: the
//! build without the `store` feature (the fuzz targets in `fuzz/`) shapes answers with it, and so
//! would a second backend.

use std::cmp::Ordering;

use chrono::{Datelike, Duration, NaiveDate, Timelike};

use super::model::{Metric, Order, OrderKey, Query, TimeBucket};
use super::period::local_time;

/// A metric's value: counts are integers, rates and averages may have decimals, and a share of
/// nothing is null.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MetricValue {
    Int(u64),
    Float(f64),
    Null,
}

impl MetricValue {
    fn sort_key(self) -> f64 {
        match self {
            MetricValue::Int(n) => n as f64,
            MetricValue::Float(x) => x,
            MetricValue::Null => f64::NEG_INFINITY,
        }
    }
}

/// One row of an answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRow {
    /// In the order of the query's dimensions.
    pub dimensions: Vec<String>,
    /// In the order of the query's metrics.
    pub metrics: Vec<MetricValue>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    pub rows: Vec<ResultRow>,
    /// Rows before limit and offset.
    pub total_rows: u64,
}

/// The raw counts of one group, as the statement returns them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub visitors: u64,
    pub visits: u64,
    pub pageviews: u64,
    pub events: u64,
    /// Visits that started in the period with a matching event, counted whole (for visit
    /// metrics).
    pub sessions: u64,
    pub bounced: u64,
    pub duration_us: u64,
    pub visit_pageviews: u64,
    /// Engaged time of the matching engagement reports, and the visits that sent them.
    pub engaged_ms: u64,
    pub engaged_visits: u64,
    /// Deepest scroll per (visit, page), summed, and how many such pairs.
    pub scroll_sum: u64,
    pub scroll_pairs: u64,
}

impl Counts {
    /// Reads the counts of a statement's row, whatever the driver: `column(i)` is the `i`th
    /// count column, in the order of `sql::COUNT_COLUMNS`.
    pub fn read<E>(column: impl Fn(usize) -> Result<u64, E>) -> Result<Counts, E> {
        Ok(Counts {
            visitors: column(0)?,
            visits: column(1)?,
            pageviews: column(2)?,
            events: column(3)?,
            sessions: column(4)?,
            bounced: column(5)?,
            duration_us: column(6)?,
            visit_pageviews: column(7)?,
            engaged_ms: column(8)?,
            engaged_visits: column(9)?,
            scroll_sum: column(10)?,
            scroll_pairs: column(11)?,
        })
    }
}

/// Rounds half away from zero to `decimals` places.
fn round_to(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

/// What the shares of a row are shares of.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bases {
    /// All visitors matching the filter (for `percentage`).
    pub visitors: u64,
    /// All visitors matching the filter without its goal and prop conditions (for
    /// `conversion_rate`).
    pub conversion: u64,
    /// The same, in the row's group of dimensions other than `event:goal` (for
    /// `group_conversion_rate`).
    pub group_conversion: u64,
}

/// A metric from a group's counts.
pub fn metric_value(metric: Metric, c: &Counts, bases: &Bases) -> MetricValue {
    let ratio = |num: u64, den: u64| {
        if den == 0 {
            0.0
        } else {
            num as f64 / den as f64
        }
    };
    match metric {
        Metric::Visitors => MetricValue::Int(c.visitors),
        Metric::Visits => MetricValue::Int(c.visits),
        Metric::Pageviews => MetricValue::Int(c.pageviews),
        Metric::Events => MetricValue::Int(c.events),
        Metric::ViewsPerVisit => {
            MetricValue::Float(round_to(ratio(c.visit_pageviews, c.sessions), 2))
        }
        Metric::BounceRate => {
            MetricValue::Int(round_to(ratio(c.bounced * 100, c.sessions), 0) as u64)
        }
        Metric::VisitDuration => {
            MetricValue::Int(round_to(ratio(c.duration_us, c.sessions) / 1e6, 0) as u64)
        }
        Metric::Percentage => {
            if bases.visitors == 0 {
                MetricValue::Null
            } else {
                MetricValue::Float(round_to(ratio(c.visitors * 100, bases.visitors), 1))
            }
        }
        Metric::ConversionRate => {
            MetricValue::Float(round_to(ratio(c.visitors * 100, bases.conversion), 2))
        }
        Metric::GroupConversionRate => {
            MetricValue::Float(round_to(ratio(c.visitors * 100, bases.group_conversion), 2))
        }
        Metric::TimeOnPage => {
            if c.engaged_visits == 0 {
                MetricValue::Null
            } else {
                MetricValue::Int(round_to(ratio(c.engaged_ms, c.engaged_visits) / 1e3, 0) as u64)
            }
        }
        Metric::ScrollDepth => {
            if c.scroll_pairs == 0 {
                MetricValue::Null
            } else {
                MetricValue::Int(round_to(ratio(c.scroll_sum, c.scroll_pairs), 0) as u64)
            }
        }
    }
}

/// Sorts by the query's order, then by every dimension ascending, so that ties always come out
/// the same way.
pub fn sort_rows(rows: &mut [ResultRow], query: &Query) {
    let position = |key: &OrderKey| match key {
        OrderKey::Metric(m) => query.metrics.iter().position(|x| x == m).map(Err),
        OrderKey::Dimension(d) => query.dimensions.iter().position(|x| x == d).map(Ok),
    };
    let keys: Vec<(Result<usize, usize>, bool)> = query
        .order
        .iter()
        .filter_map(|Order { key, descending }| position(key).map(|p| (p, *descending)))
        .collect();
    rows.sort_by(|a, b| {
        for (key, descending) in &keys {
            let ordering = match key {
                Ok(d) => a.dimensions[*d].cmp(&b.dimensions[*d]),
                Err(m) => a.metrics[*m]
                    .sort_key()
                    .partial_cmp(&b.metrics[*m].sort_key())
                    .unwrap_or(Ordering::Equal),
            };
            let ordering = if *descending {
                ordering.reverse()
            } else {
                ordering
            };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        a.dimensions.cmp(&b.dimensions)
    });
}

/// Every bucket label of the period, for `include.time_labels`.
pub fn time_labels(query: &Query, bucket: TimeBucket) -> Vec<String> {
    let start = local_time(query.timezone, query.period.from);
    let end = local_time(query.timezone, query.period.to - Duration::microseconds(1));
    let mut labels = Vec::new();
    match bucket {
        TimeBucket::Hour => {
            let mut t = start
                .date()
                .and_hms_opt(start.hour(), 0, 0)
                .unwrap_or(start);
            while t <= end {
                labels.push(t.format("%Y-%m-%d %H:00:00").to_string());
                t += Duration::hours(1);
            }
        }
        TimeBucket::Day => {
            let mut d = start.date();
            while d <= end.date() {
                labels.push(d.format("%Y-%m-%d").to_string());
                d += Duration::days(1);
            }
        }
        TimeBucket::Week => {
            let mut d = start.date();
            while d <= end.date() {
                labels.push(d.format("%Y-%m-%d").to_string());
                let monday = d - Duration::days(i64::from(d.weekday().num_days_from_monday()));
                d = monday + Duration::days(7);
            }
        }
        TimeBucket::Month => {
            let mut d = NaiveDate::from_ymd_opt(start.year(), start.month(), 1);
            while let Some(first) = d.filter(|first| *first <= end.date()) {
                labels.push(first.format("%Y-%m-%d").to_string());
                d = if first.month() == 12 {
                    NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
                } else {
                    NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
                };
            }
        }
    }
    labels
}
