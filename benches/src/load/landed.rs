//! What reached the store: events written, and hits the collector counted as dropped (bots,
//! engagement without a visit, ...), read from the DuckDB file after the server has stopped, or
//! from ClickHouse. Every hit answered 202 must be one or the other.

use std::collections::BTreeMap;
use std::path::Path;

use duckdb::{AccessMode, Config, Connection};
use footfall_queries::clickhouse::{ClickHouseError, Client};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Landed {
    pub events: u64,
    /// Dropped hits by reason; `invalid` ones were answered 400, not 202.
    pub dropped: BTreeMap<String, u64>,
}

impl Landed {
    /// Hits the collector accepted and accounted for: stored or counted as dropped after parsing.
    pub fn accounted(&self) -> u64 {
        self.events
            + self
                .dropped
                .iter()
                .filter(|(reason, _)| reason.as_str() != "invalid")
                .map(|(_, n)| n)
                .sum::<u64>()
    }
}

impl Landed {
    /// What was added since `before`.
    pub fn since(&self, before: &Landed) -> Landed {
        Landed {
            events: self.events - before.events.min(self.events),
            dropped: self
                .dropped
                .iter()
                .map(|(reason, n)| {
                    let earlier = before.dropped.get(reason).copied().unwrap_or(0);
                    (reason.clone(), n - earlier.min(*n))
                })
                .filter(|(_, n)| *n > 0)
                .collect(),
        }
    }
}

/// Counts in the store at `path`, opened read-only.
pub fn count(path: &Path) -> duckdb::Result<Landed> {
    let conn =
        Connection::open_with_flags(path, Config::default().access_mode(AccessMode::ReadOnly)?)?;
    let events = conn.query_row("SELECT count(*) FROM events", [], |row| row.get(0))?;
    let mut statement =
        conn.prepare("SELECT reason, sum(count)::UBIGINT FROM dropped_events GROUP BY reason")?;
    let dropped = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<duckdb::Result<_>>()?;
    Ok(Landed { events, dropped })
}

/// Counts in ClickHouse, through the first shard's Distributed tables.
pub fn count_clickhouse(shards: &[Client]) -> Result<Landed, ClickHouseError> {
    let first = &shards[0];
    let events = first.query_json_rows("SELECT count() AS n FROM footfall.events")?;
    let dropped = first.query_json_rows(
        "SELECT reason, toUInt64(sum(count)) AS n FROM footfall.dropped_events GROUP BY reason",
    )?;
    Ok(Landed {
        events: events[0]["n"].as_u64().unwrap_or(0),
        dropped: dropped
            .iter()
            .map(|r| {
                (
                    r["reason"].as_str().unwrap_or_default().to_owned(),
                    r["n"].as_u64().unwrap_or(0),
                )
            })
            .collect(),
    })
}

/// Empties the events (and what is made of them) on every shard, before a run.
pub fn clear_clickhouse(shards: &[Client]) -> Result<(), ClickHouseError> {
    footfall_queries::clickhouse::schema::apply(shards)?;
    for shard in shards {
        for statement in [
            "TRUNCATE TABLE footfall.events_local",
            "TRUNCATE TABLE footfall.daily_local",
            "TRUNCATE TABLE footfall.sessions_local",
            "TRUNCATE TABLE footfall.dropped_events_local",
        ] {
            shard.execute(statement)?;
        }
    }
    Ok(())
}
