//! The `dropped_events` table: what the collector did not record, and why.

use chrono::NaiveDate;
use duckdb::{params, Connection};
use footfall_collector::{DropCount, DropReason};

use crate::error::StoreError;

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
