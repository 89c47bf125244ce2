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
    /// Whether the keyless public endpoints show its counts.
    pub public_counters: bool,
}

pub fn list(conn: &Connection) -> Result<Vec<StoredSite>, StoreError> {
    let mut stmt = conn.prepare(include_str!("../sql/list_sites.sql"))?;
    let rows = stmt.query_map([], |row| {
        Ok(StoredSite {
            domain: row.get(0)?,
            timezone: row.get(1)?,
            created_at: row.get(2)?,
            events: row.get(3)?,
            public_counters: row.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A site of the table with the rules its owner set, without counting its events (which
/// [`list`] does, at the cost of a scan).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredSite {
    pub domain: String,
    pub timezone: String,
    pub public_counters: bool,
    pub rules: SiteRules,
}

/// What a site's owner excludes, as they wrote it (validated before it is stored).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteRules {
    /// Path globs never recorded.
    pub exclude_paths: Vec<String>,
    /// Client addresses or CIDR networks never recorded.
    pub exclude_ips: Vec<String>,
    /// Path globs whose public counts are never shown.
    pub hidden_paths: Vec<String>,
}

/// One pattern per line in the table.
fn lines(text: String) -> Vec<String> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

pub fn registered(conn: &Connection) -> Result<Vec<RegisteredSite>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT domain, timezone, public_counters, exclude_paths, exclude_ips, counter_exclude \
         FROM sites ORDER BY domain",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(RegisteredSite {
            domain: r.get(0)?,
            timezone: r.get(1)?,
            public_counters: r.get(2)?,
            rules: SiteRules {
                exclude_paths: lines(r.get(3)?),
                exclude_ips: lines(r.get(4)?),
                hidden_paths: lines(r.get(5)?),
            },
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Replaces a site's rules; `false` when the site is not in the table.
pub fn set_rules(conn: &Connection, domain: &str, rules: &SiteRules) -> Result<bool, StoreError> {
    let updated = conn.execute(
        "UPDATE sites SET exclude_paths = ?, exclude_ips = ?, counter_exclude = ? \
         WHERE domain = ?",
        params![
            rules.exclude_paths.join("\n"),
            rules.exclude_ips.join("\n"),
            rules.hidden_paths.join("\n"),
            domain
        ],
    )?;
    Ok(updated == 1)
}

/// Changes a site's time zone; `false` when the site is not in the table.
pub fn set_timezone(conn: &Connection, domain: &str, timezone: &str) -> Result<bool, StoreError> {
    let updated = conn.execute(
        "UPDATE sites SET timezone = ? WHERE domain = ?",
        params![timezone, domain],
    )?;
    Ok(updated == 1)
}

/// Adds a site; `false` when it was already there (nothing changes then).
pub fn add(
    conn: &Connection,
    domain: &str,
    timezone: &str,
    public_counters: bool,
) -> Result<bool, StoreError> {
    let inserted = conn.execute(
        "INSERT INTO sites (domain, timezone, public_counters) VALUES (?, ?, ?) \
         ON CONFLICT (domain) DO NOTHING",
        params![domain, timezone, public_counters],
    )?;
    Ok(inserted == 1)
}

/// Turns a site's public counts on or off; `false` when the site is not in the table.
pub fn set_public_counters(
    conn: &Connection,
    domain: &str,
    enabled: bool,
) -> Result<bool, StoreError> {
    let updated = conn.execute(
        "UPDATE sites SET public_counters = ? WHERE domain = ?",
        params![enabled, domain],
    )?;
    Ok(updated == 1)
}

/// What removing a site did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Removed {
    pub site_removed: bool,
    /// Events deleted with it (only with `purge`, which deletes its rollups and goals too).
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
            // What was derived from the events, and the goals that read them.
            conn.execute("DELETE FROM rollups WHERE site = ?", params![domain])?;
            conn.execute("DELETE FROM rollup_marks WHERE site = ?", params![domain])?;
            conn.execute("DELETE FROM goals WHERE site = ?", params![domain])?;
        }
        // A removed site is shown to nobody: its shared links end with it.
        conn.execute(
            "UPDATE shared_links SET revoked_at = now()::TIMESTAMP \
             WHERE site = ? AND revoked_at IS NULL",
            params![domain],
        )?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{rollup, Goal};
    use crate::{Store, StoreOptions};

    #[test]
    fn purging_a_site_deletes_what_was_made_from_its_events() {
        let store = Store::open_in_memory(&StoreOptions::default()).unwrap();
        let conn = store.connection().unwrap();
        let sample = crate::sample::SampleSpec::small(5);
        crate::sample::load(&conn, &crate::sample::generate(&sample)).unwrap();
        let site = sample.sites[0].as_str();
        add(&conn, site, "UTC", false).unwrap();
        crate::goals::add(&conn, site, &Goal::event("Signup").unwrap()).unwrap();
        // Two days closed: enough to have rows, quick to make.
        let first_day = sample.last_day - chrono::Duration::days(i64::from(sample.days) - 1);
        let later = first_day.and_hms_opt(12, 0, 0).unwrap().and_utc() + chrono::Duration::days(3);
        assert!(!rollup::catch_up(&conn, later).unwrap().is_empty());
        let count = |table: &str| -> i64 {
            let sql = match table {
                "rollups" => "SELECT count(*) FROM rollups WHERE site = ?",
                "rollup_marks" => "SELECT count(*) FROM rollup_marks WHERE site = ?",
                _ => "SELECT count(*) FROM goals WHERE site = ?",
            };
            conn.query_row(sql, [site], |r| r.get(0)).unwrap()
        };
        assert!(count("rollups") > 0 && count("rollup_marks") == 1 && count("goals") == 1);

        let removed = remove(&conn, site, true).unwrap();
        assert!(removed.site_removed && removed.events_deleted > 0);
        for table in ["rollups", "rollup_marks", "goals"] {
            assert_eq!(count(table), 0, "{table}");
        }
    }
}
