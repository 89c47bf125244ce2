//! The `dropped_events` table: what the collector did not record, and why.

use chrono::{Duration, NaiveDate};
use duckdb::{params, Connection};
use footfall_collector::{DropCount, DropReason};

use crate::error::StoreError;
use crate::stats::Period;

/// Adds counts to the table (within the caller's transaction, if any).
pub fn add(conn: &Connection, rows: &[DropCount]) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(include_str!("../sql/add_dropped.sql"))?;
    for row in rows {
        stmt.execute(params![row.day, row.site, row.reason.as_str(), row.count])?;
    }
    Ok(())
}

/// Totals per site and reason since `since` (inclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropTotal {
    pub site: String,
    pub reason: DropReason,
    pub count: u64,
}

pub fn totals_since(conn: &Connection, since: NaiveDate) -> Result<Vec<DropTotal>, StoreError> {
    let mut stmt = conn.prepare(include_str!("../sql/dropped_totals.sql"))?;
    let rows = stmt.query_map(params![since], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, u64>(2)?,
        ))
    })?;
    let mut totals = Vec::new();
    for row in rows {
        let (site, reason, count) = row?;
        // Reasons this build does not know (from a newer one) are skipped rather than failing.
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

/// The first and last UTC day that `period` touches.
pub fn utc_days(period: &Period) -> (NaiveDate, NaiveDate) {
    (
        period.from.date_naive(),
        (period.to - Duration::nanoseconds(1)).date_naive(),
    )
}

/// One site's dropped events per reason over the UTC days that `period` touches (drops are
/// counted per UTC day, so a period in another zone reads the days around its edges whole).
pub fn for_period(
    conn: &Connection,
    site: &str,
    period: &Period,
) -> Result<Vec<(DropReason, u64)>, StoreError> {
    let (first, last) = utc_days(period);
    let mut stmt = conn.prepare_cached(
        "SELECT reason, sum(count)::UBIGINT FROM dropped_events \
         WHERE site = ? AND day BETWEEN ? AND ? GROUP BY reason ORDER BY 2 DESC, reason",
    )?;
    let rows = stmt.query_map(params![site, first, last], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, u64>(1)?))
    })?;
    let mut totals = Vec::new();
    for row in rows {
        let (reason, count) = row?;
        if let Some(reason) = DropReason::parse(&reason) {
            totals.push((reason, count));
        }
    }
    Ok(totals)
}
