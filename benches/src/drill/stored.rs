//! What the store holds of the drills' events, read from the DuckDB file while no server has
//! it open (read-only, so a write-ahead log left by a crash is replayed in memory and left in
//! place for the next start).

use std::collections::BTreeMap;
use std::path::Path;

use duckdb::{AccessMode, Config, Connection};

use super::steady::key_of;

/// The drills' events in the store.
#[derive(Debug, Default)]
pub struct Stored {
    /// How many rows hold each (round, key).
    pub keys: BTreeMap<(u64, u64), u32>,
    /// Rows in the events table, the drills' or not.
    pub rows: u64,
}

impl Stored {
    /// Keys stored more than once.
    pub fn duplicates(&self) -> Vec<(u64, u64)> {
        self.keys
            .iter()
            .filter(|(_, &n)| n > 1)
            .map(|(&k, _)| k)
            .collect()
    }

    /// Keys of `round` stored at least once.
    pub fn of_round(&self, round: u64) -> impl Iterator<Item = u64> + '_ {
        self.keys
            .range((round, 0)..=(round, u64::MAX))
            .map(|(&(_, key), _)| key)
    }
}

/// Reads every event's path from the store at `database`.
pub fn read(database: &Path) -> duckdb::Result<Stored> {
    let conn = Connection::open_with_flags(
        database,
        Config::default().access_mode(AccessMode::ReadOnly)?,
    )?;
    let mut statement = conn.prepare("SELECT path FROM events")?;
    let mut stored = Stored::default();
    let paths = statement.query_map([], |row| row.get::<_, String>(0))?;
    for path in paths {
        stored.rows += 1;
        if let Some(key) = key_of(&path?) {
            *stored.keys.entry(key).or_default() += 1;
        }
    }
    Ok(stored)
}
