//! The `sites` table: sites added from the command line.

use chrono::NaiveDateTime;
use duckdb::{params, Connection, OptionalExt};

use crate::error::StoreError;

/// A site row, with how many events the store holds for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSite {
    pub domain: String,
    pub timezone: String,
    pub created_at: NaiveDateTime,
    pub events: u64,
}

pub fn list(conn: &Connection) -> Result<Vec<StoredSite>, StoreError> {
    let mut stmt = conn.prepare(include_str!("../sql/list_sites.sql"))?;
    let rows = stmt.query_map([], |row| {
        Ok(StoredSite {
            domain: row.get(0)?,
            timezone: row.get(1)?,
            created_at: row.get(2)?,
            events: row.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Adds a site; `false` when it was already there (nothing changes then).
pub fn add(conn: &Connection, domain: &str, timezone: &str) -> Result<bool, StoreError> {
    let inserted = conn.execute(
        "INSERT INTO sites (domain, timezone) VALUES (?, ?) ON CONFLICT (domain) DO NOTHING",
        params![domain, timezone],
    )?;
    Ok(inserted == 1)
}

/// What removing a site did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Removed {
    pub site_removed: bool,
    /// Events deleted with it (only with `purge`).
    pub events_deleted: u64,
}

/// Removes a site. Its events stay unless `purge` is set, so a mistaken removal loses nothing.
pub fn remove(conn: &Connection, domain: &str, purge: bool) -> Result<Removed, StoreError> {
    conn.execute_batch("BEGIN TRANSACTION")?;
    let result = (|| -> Result<Removed, StoreError> {
        let site_removed =
            conn.execute("DELETE FROM sites WHERE domain = ?", params![domain])? == 1;
        let mut events_deleted = 0;
        if purge {
            events_deleted =
                conn.execute("DELETE FROM events WHERE site = ?", params![domain])? as u64;
            conn.execute("DELETE FROM dropped_events WHERE site = ?", params![domain])?;
        }
        Ok(Removed {
            site_removed,
            events_deleted,
        })
    })();
    match result {
        Ok(removed) => {
            conn.execute_batch("COMMIT")?;
            Ok(removed)
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// Events the store holds for one site (config-file sites are not in `sites`, so `list` cannot
/// count them).
pub fn event_count(conn: &Connection, domain: &str) -> Result<u64, StoreError> {
    Ok(conn.query_row(
        "SELECT count(*)::UBIGINT FROM events WHERE site = ?",
        params![domain],
        |r| r.get(0),
    )?)
}

pub fn exists(conn: &Connection, domain: &str) -> Result<bool, StoreError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM sites WHERE domain = ?",
            params![domain],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}
