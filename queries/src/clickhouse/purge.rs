//! Deleting a site's events from ClickHouse (`footfall site remove --purge`), and counting each
//! site's events there (`footfall site list`).
//!
//! ClickHouse deletes by mutation, per shard and per table, in the background; nothing wider is
//! one transaction (docs/clickhouse.md, pitfall 7). A purge therefore sends the deletes to every
//! shard and then waits, up to a limit, until no mutation of the `footfall` tables is pending, so
//! that "deleted" is said only once it is true.

use std::time::{Duration, Instant};

use super::client::{ClickHouseError, Client};
use crate::stats::sql;

/// What a purge did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    /// The site's events before the purge.
    pub events: u64,
    /// Whether every shard finished its deletes within the wait.
    pub done: bool,
}

/// Each site's events, through the first shard's Distributed table.
pub fn events_per_site(shards: &[Client]) -> Result<Vec<(String, u64)>, ClickHouseError> {
    let first = shards.first().ok_or(ClickHouseError::NoShards)?;
    first
        .query_json_rows(sql::clickhouse::events_per_site())?
        .iter()
        .map(|row| {
            row["site"]
                .as_str()
                .map(str::to_owned)
                .zip(row["n"].as_u64())
                .ok_or_else(|| ClickHouseError::Decode {
                    url: first.url().to_owned(),
                    reason: format!("a count per site reads {row}"),
                })
        })
        .collect()
}

/// Deletes `site`'s events, rollups and drop counts on every shard, waiting up to `wait` for
/// the deletes to finish.
pub fn purge(shards: &[Client], site: &str, wait: Duration) -> Result<Purged, ClickHouseError> {
    let events = events_per_site(shards)?
        .into_iter()
        .find(|(s, _)| s == site)
        .map_or(0, |(_, n)| n);
    for shard in shards {
        for statement in sql::clickhouse::purge(site) {
            shard.execute(&statement)?;
        }
    }
    let until = Instant::now() + wait;
    loop {
        let mut pending = 0;
        for shard in shards {
            let rows = shard.query_json_rows(sql::clickhouse::mutations_pending())?;
            pending += rows.first().and_then(|row| row["n"].as_u64()).unwrap_or(0);
        }
        if pending == 0 {
            return Ok(Purged { events, done: true });
        }
        if Instant::now() >= until {
            return Ok(Purged {
                events,
                done: false,
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
