//! Queries answered by ClickHouse: each group's counts from the statement that
//! [`stats::sql`](crate::stats::sql) writes in ClickHouse's dialect, read back as JSON rows. The
//! rest of a query (metrics, bases, order, pages) is [`stats::run`](crate::stats::run)'s, the
//! same as over DuckDB, so the two backends differ only in the statement that counts.
//!
//! Counts are always read from the events: the daily rollups are DuckDB's (ClickHouse's own
//! `daily` and `sessions` tables are not read yet).
//!
//! Also the other reads of the events: the first event (`all`), realtime visitors, prop keys,
//! and the public counters' ([`CounterReads`]).

use chrono::{DateTime, NaiveDate, Utc};
use footfall_collector::DropReason;
use serde_json::Value;

use super::client::{ClickHouseError, Client};
use crate::counters::{CounterReads, DayRow, SiteSpan, Span};
use crate::drops::DropTotal;
use crate::error::StoreError;
use crate::stats::figures::Counts;
use crate::stats::model::{Dimension, Period, Query};
use crate::stats::run::CountSource;
use crate::stats::sql::{self, Dialect};
use crate::stats::QueryError;

/// Reads through one server of the cluster, whose `footfall.events` (Distributed) reaches every
/// shard.
#[derive(Debug, Clone)]
pub struct ClickHouseReader {
    client: Client,
}

impl ClickHouseReader {
    pub fn new(client: Client) -> Self {
        ClickHouseReader { client }
    }

    fn rows(&self, sql: &str) -> Result<Vec<Value>, StoreError> {
        Ok(self.client.query_json_rows(sql)?)
    }

    fn bad(&self, reason: String) -> StoreError {
        StoreError::ClickHouse(ClickHouseError::Decode {
            url: self.client.url().to_owned(),
            reason,
        })
    }

    /// The one row of an aggregate without grouping.
    fn one(&self, sql: &str) -> Result<Value, StoreError> {
        self.rows(sql)?
            .into_iter()
            .next()
            .ok_or_else(|| self.bad("an aggregate returned no row".to_owned()))
    }

    /// The site's first event, where the `all` date range starts.
    pub fn first_event(&self, site: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row = self.one(&sql::clickhouse::first_event(site))?;
        if number(&row, "n").map_err(|e| self.bad(e))? == 0 {
            return Ok(None);
        }
        Ok(Some(instant(&row, "first").map_err(|e| self.bad(e))?))
    }

    /// Visitors on the site in the five minutes before `now`.
    pub fn realtime_visitors(&self, site: &str, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let since = now - chrono::Duration::minutes(5);
        let row = self.one(&sql::clickhouse::visitors_since(site, since))?;
        number(&row, "n").map_err(|e| self.bad(e))
    }

    /// A site's dropped events per reason over the UTC days that `period` touches, most first.
    pub fn dropped(
        &self,
        site: &str,
        period: &Period,
    ) -> Result<Vec<(DropReason, u64)>, StoreError> {
        let (first, last) = crate::drops::utc_days(period);
        let mut totals = Vec::new();
        for row in self.rows(&sql::clickhouse::dropped(site, first, last))? {
            let reason = text(&row, "reason").map_err(|e| self.bad(e))?;
            // Reasons this build does not know (from a newer one) are skipped.
            if let Some(reason) = DropReason::parse(&reason) {
                totals.push((reason, number(&row, "n").map_err(|e| self.bad(e))?));
            }
        }
        Ok(totals)
    }

    /// Drop counts per site and reason since the UTC day `since` (`footfall dropped`).
    pub fn dropped_since(&self, since: NaiveDate) -> Result<Vec<DropTotal>, StoreError> {
        let mut totals = Vec::new();
        for row in self.rows(&sql::clickhouse::dropped_since(since))? {
            let read = || -> Result<_, String> {
                Ok((
                    text(&row, "site")?,
                    text(&row, "reason")?,
                    number(&row, "n")?,
                ))
            };
            let (site, reason, count) = read().map_err(|e| self.bad(e))?;
            if let Some(reason) = DropReason::parse(&reason) {
                totals.push(DropTotal {
                    site,
                    reason,
                    count,
                });
            }
        }
        Ok(totals)
    }

    /// The prop keys of the site's events in `period`, most used first (at most 100).
    pub fn prop_keys(&self, site: &str, period: &Period) -> Result<Vec<String>, StoreError> {
        self.rows(&sql::clickhouse::prop_keys(site, period))?
            .iter()
            .map(|row| text(row, "key").map_err(|e| self.bad(e)))
            .collect()
    }
}

impl CounterReads for ClickHouseReader {
    fn sites_with_events(&self) -> Result<Vec<SiteSpan>, StoreError> {
        self.rows(sql::clickhouse::sites_with_events())?
            .iter()
            .map(|row| {
                Ok((
                    text(row, "site")?,
                    instant(row, "first")?,
                    instant(row, "last")?,
                ))
            })
            .collect::<Result<_, String>>()
            .map_err(|e| self.bad(e))
    }

    fn site_span(&self, site: &str) -> Result<Option<Span>, StoreError> {
        let row = self.one(&sql::clickhouse::site_span(site))?;
        let span = || -> Result<_, String> {
            if number(&row, "n")? == 0 {
                return Ok(None);
            }
            Ok(Some((instant(&row, "first")?, instant(&row, "last")?)))
        };
        span().map_err(|e| self.bad(e))
    }

    fn counter_days(
        &self,
        site: &str,
        steps: &[(DateTime<Utc>, i32)],
        with_shared: bool,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<DayRow>, StoreError> {
        self.rows(&sql::clickhouse::counter_days(
            site,
            steps,
            with_shared,
            since,
        ))?
        .iter()
        .map(|row| {
            Ok(DayRow {
                path: text(row, "path")?,
                day: day(row, "day_text")?,
                pageviews: number(row, "pageview_count")?,
                visitors: number(row, "visitors")?,
                shared_with_next: number(row, "shared")?,
            })
        })
        .collect::<Result<_, String>>()
        .map_err(|e| self.bad(e))
    }

    fn counter_recent(
        &self,
        site: &str,
        steps: &[(DateTime<Utc>, i32)],
        since: DateTime<Utc>,
    ) -> Result<Vec<(String, NaiveDate, u64)>, StoreError> {
        self.rows(&sql::clickhouse::counter_recent(site, steps, since))?
            .iter()
            .map(|row| {
                Ok((
                    text(row, "path")?,
                    day(row, "day_text")?,
                    number(row, "visitor_id")?,
                ))
            })
            .collect::<Result<_, String>>()
            .map_err(|e| self.bad(e))
    }
}

fn text(row: &Value, key: &str) -> Result<String, String> {
    match row.get(key) {
        Some(Value::String(text)) => Ok(text.clone()),
        other => Err(format!("{key} is {other:?}")),
    }
}

/// An unsigned integer column: a JSON number, or a quoted one
/// (`output_format_json_quote_64bit_integers`).
fn number(row: &Value, key: &str) -> Result<u64, String> {
    let value = row.get(key);
    value
        .and_then(|v| match v {
            Value::Number(n) => n.as_u64().or(n.as_i64().map(|n| n.max(0) as u64)),
            Value::String(text) => text.parse::<u64>().ok(),
            _ => None,
        })
        .ok_or_else(|| format!("{key} is {value:?}"))
}

/// Microseconds since the epoch.
fn instant(row: &Value, key: &str) -> Result<DateTime<Utc>, String> {
    let micros = i64::try_from(number(row, key)?).map_err(|e| format!("{key}: {e}"))?;
    DateTime::from_timestamp_micros(micros).ok_or_else(|| format!("{key} = {micros} is no instant"))
}

fn day(row: &Value, key: &str) -> Result<NaiveDate, String> {
    let text = text(row, key)?;
    NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|e| format!("{key} = {text:?}: {e}"))
}

impl CountSource for ClickHouseReader {
    fn counts(
        &self,
        query: &Query,
        dimensions: &[Dimension],
        with_visits: bool,
    ) -> Result<Vec<(Vec<String>, Counts)>, QueryError> {
        let statement = sql::statement_in(
            Dialect::ClickHouse,
            query,
            dimensions,
            with_visits,
            &query.period,
        );
        debug_assert!(
            statement.params.is_empty(),
            "ClickHouse statements bind nothing"
        );
        let rows = self
            .client
            .query_json_rows(&statement.sql)
            .map_err(|e| QueryError::Store(StoreError::ClickHouse(e)))?;
        rows.iter()
            .map(|row| {
                group(row, dimensions.len()).map_err(|reason| {
                    QueryError::Store(StoreError::ClickHouse(ClickHouseError::Decode {
                        url: self.client.url().to_owned(),
                        reason,
                    }))
                })
            })
            .collect()
    }
}

/// One row of the counting statement: labels `l0…`, then the counts `c0…c11` in the order of
/// [`sql::COUNT_COLUMNS`].
fn group(row: &Value, width: usize) -> Result<(Vec<String>, Counts), String> {
    let label = |i: usize| text(row, &format!("l{i}"));
    let count = |i: usize| number(row, &format!("c{i}"));
    let dims = (0..width).map(label).collect::<Result<Vec<_>, _>>()?;
    Ok((dims, Counts::read(count)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_reads_by_name_and_quoted_integers_read_too() {
        let row: Value = serde_json::from_str(
            r#"{"l0":"/blog","c0":3,"c1":0,"c2":"7","c3":9,"c4":2,"c5":1,"c6":1500000,
                "c7":4,"c8":0,"c9":0,"c10":0,"c11":0}"#,
        )
        .unwrap();
        let (dims, counts) = group(&row, 1).unwrap();
        assert_eq!(dims, vec!["/blog".to_owned()]);
        assert_eq!(
            (counts.visitors, counts.pageviews, counts.duration_us),
            (3, 7, 1_500_000)
        );
        let missing: Value = serde_json::from_str(r#"{"l0":"/"}"#).unwrap();
        assert!(group(&missing, 1).is_err());
    }
}
