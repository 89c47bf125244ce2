//! Queries answered by ClickHouse: each group's counts from the statement that
//! [`stats::sql`](crate::stats::sql) writes in ClickHouse's dialect, read back as JSON rows. The
//! rest of a query (metrics, bases, order, pages) is [`stats::run`](crate::stats::run)'s, the
//! same as over DuckDB, so the two backends differ only in the statement that counts.
//!
//! Counts are always read from the events: the daily rollups are DuckDB's (ClickHouse's own
//! `daily` and `sessions` tables are not read yet).

use serde_json::Value;

use super::client::{ClickHouseError, Client};
use crate::error::StoreError;
use crate::stats::figures::Counts;
use crate::stats::model::{Dimension, Query};
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
    let label = |i: usize| -> Result<String, String> {
        match row.get(format!("l{i}")) {
            Some(Value::String(text)) => Ok(text.clone()),
            other => Err(format!("label l{i} is {other:?}")),
        }
    };
    let count = |i: usize| -> Result<u64, String> {
        let value = row.get(format!("c{i}"));
        value
            .and_then(|v| match v {
                Value::Number(n) => n.as_i64().map(|n| n.max(0) as u64).or(n.as_u64()),
                // A 64-bit integer quoted after all (`output_format_json_quote_64bit_integers`).
                Value::String(text) => text.parse::<i64>().ok().map(|n| n.max(0) as u64),
                _ => None,
            })
            .ok_or_else(|| format!("count c{i} is {value:?}"))
    };
    let dims = (0..width).map(label).collect::<Result<Vec<_>, _>>()?;
    Ok((
        dims,
        Counts {
            visitors: count(0)?,
            visits: count(1)?,
            pageviews: count(2)?,
            events: count(3)?,
            sessions: count(4)?,
            bounced: count(5)?,
            duration_us: count(6)?,
            visit_pageviews: count(7)?,
            engaged_ms: count(8)?,
            engaged_visits: count(9)?,
            scroll_sum: count(10)?,
            scroll_pairs: count(11)?,
        },
    ))
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
