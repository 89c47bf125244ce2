//! `footfall migrate --from duckdb --to clickhouse`: copies a DuckDB store's events and dropped
//! counts into ClickHouse, then checks that ClickHouse holds as many events of each site as
//! DuckDB does.
//!
//! ClickHouse has no transactions, so a copy cannot be undone by the copy itself. It therefore
//! refuses to start when ClickHouse already holds events of a site it would copy (a second run
//! would double them), and says what to delete when it stops half-way. The DuckDB file is only
//! read: it stays a complete copy until its owner removes it.

use duckdb::types::Value;
use duckdb::Connection;
use footfall_collector::{DropCount, DropReason};

use super::client::{ClickHouseError, Client};
use super::{schema, sink};
use crate::error::StoreError;

/// Events sent per round of inserts (one insert per shard each).
const BATCH: usize = 50_000;

/// One event as the DuckDB store holds it, owned: what ClickHouse's events table takes.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub site: String,
    pub ts_us: u64,
    pub name: String,
    pub hostname: String,
    pub path: String,
    pub visitor_id: u64,
    pub session_id: u64,
    pub interactive: bool,
    pub referrer: String,
    pub source: String,
    /// Source, medium, campaign, content, term.
    pub utm: [String; 5],
    pub click_id: String,
    /// Country, region, city.
    pub location: [String; 3],
    /// Browser, its version, OS, its version, device.
    pub client: [String; 5],
    pub props_key: Vec<String>,
    pub props_value: Vec<String>,
    pub engaged_ms: Option<u32>,
    pub scroll_depth: Option<u8>,
}

/// Why a migration stopped.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    ClickHouse(#[from] ClickHouseError),
    #[error(
        "ClickHouse already holds {count} events of {site}: a copy would double them. Migrate \
         into empty tables, or delete them first (ALTER TABLE footfall.events_local DELETE \
         WHERE site = '…' on each shard)"
    )]
    AlreadyThere { site: String, count: u64 },
    #[error("the store holds drop counts for a reason this build does not know: {0:?}")]
    UnknownReason(String),
    #[error(
        "after the copy, ClickHouse holds {clickhouse} events of {site} and DuckDB {duckdb}: \
         delete the site's events in ClickHouse and run the migration again"
    )]
    Mismatch {
        site: String,
        duckdb: u64,
        clickhouse: u64,
    },
}

impl From<duckdb::Error> for MigrateError {
    fn from(e: duckdb::Error) -> Self {
        MigrateError::Store(StoreError::Db(e))
    }
}

/// What was copied: events per site (as counted in both stores afterwards), and drop counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Migrated {
    pub sites: Vec<(String, u64)>,
    pub events: u64,
    pub drop_rows: u64,
}

/// Copies the events and drop counts of the store `conn` into the cluster `shards` (made ready
/// with its schema first), telling `progress` how many events have been sent so far.
pub fn migrate(
    conn: &Connection,
    shards: &[Client],
    mut progress: impl FnMut(u64),
) -> Result<Migrated, MigrateError> {
    schema::apply(shards)?;
    let in_duckdb = duckdb_per_site(conn)?;
    let before = clickhouse_per_site(shards)?;
    for (site, _) in &in_duckdb {
        if let Some((_, count)) = before.iter().find(|(s, n)| s == site && *n > 0) {
            return Err(MigrateError::AlreadyThere {
                site: site.clone(),
                count: *count,
            });
        }
    }

    let mut sent = 0u64;
    let mut batch = Vec::with_capacity(BATCH);
    let mut statement = conn.prepare(include_str!("../../sql/export_events.sql"))?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        batch.push(stored_event(row)?);
        if batch.len() == BATCH {
            sink::insert_stored(shards, &batch)?;
            sent += batch.len() as u64;
            progress(sent);
            batch.clear();
        }
    }
    sink::insert_stored(shards, &batch)?;
    sent += batch.len() as u64;
    progress(sent);

    let drops = duckdb_drops(conn)?;
    sink::insert_drops(shards, &drops)?;

    let after = clickhouse_per_site(shards)?;
    for (site, duckdb) in &in_duckdb {
        let clickhouse = after.iter().find(|(s, _)| s == site).map_or(0, |(_, n)| *n);
        if clickhouse != *duckdb {
            return Err(MigrateError::Mismatch {
                site: site.clone(),
                duckdb: *duckdb,
                clickhouse,
            });
        }
    }
    Ok(Migrated {
        sites: in_duckdb,
        events: sent,
        drop_rows: drops.len() as u64,
    })
}

fn duckdb_per_site(conn: &Connection) -> Result<Vec<(String, u64)>, MigrateError> {
    let mut statement = conn.prepare(include_str!("../../sql/events_per_site.sql"))?;
    let rows = statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn clickhouse_per_site(shards: &[Client]) -> Result<Vec<(String, u64)>, MigrateError> {
    Ok(super::purge::events_per_site(shards)?)
}

fn duckdb_drops(conn: &Connection) -> Result<Vec<DropCount>, MigrateError> {
    let mut statement = conn.prepare(include_str!("../../sql/export_dropped.sql"))?;
    let rows = statement.query_map([], |r| {
        Ok((
            r.get::<_, chrono::NaiveDate>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, u64>(3)?,
        ))
    })?;
    let mut drops = Vec::new();
    for row in rows {
        let (day, site, reason, count) = row?;
        let reason = DropReason::parse(&reason).ok_or(MigrateError::UnknownReason(reason))?;
        drops.push(DropCount {
            day,
            site,
            reason,
            count,
        });
    }
    Ok(drops)
}

/// One row of `export_events.sql`.
fn stored_event(row: &duckdb::Row) -> Result<StoredEvent, MigrateError> {
    let text = |i: usize| row.get::<_, String>(i);
    let list = |i: usize| -> Result<Vec<String>, duckdb::Error> {
        match row.get::<_, Value>(i)? {
            Value::List(items) => Ok(items
                .into_iter()
                .map(|item| match item {
                    Value::Text(text) => text,
                    other => format!("{other:?}"),
                })
                .collect()),
            _ => Ok(Vec::new()),
        }
    };
    Ok(StoredEvent {
        site: text(0)?,
        ts_us: u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0),
        name: text(2)?,
        hostname: text(3)?,
        path: text(4)?,
        visitor_id: row.get(5)?,
        session_id: row.get(6)?,
        interactive: row.get(7)?,
        referrer: text(8)?,
        source: text(9)?,
        utm: [text(10)?, text(11)?, text(12)?, text(13)?, text(14)?],
        click_id: text(15)?,
        location: [text(16)?, text(17)?, text(18)?],
        client: [text(19)?, text(20)?, text(21)?, text(22)?, text(23)?],
        props_key: list(24)?,
        props_value: list(25)?,
        engaged_ms: row.get(26)?,
        scroll_depth: row.get(27)?,
    })
}
