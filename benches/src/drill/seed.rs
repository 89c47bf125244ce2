//! A store with a site's history for the soak (drill 12) to start from. A server that has run
//! for a year holds a year of events, and its memory belongs measured at that size: an empty
//! store that fills during the hour mixes what the process keeps with what the data needs.

use std::path::Path;

use chrono::{Duration, Utc};
use footfall_queries::sample::{self, SampleSpec};
use footfall_queries::{Store, StoreOptions};

use super::steady::DOMAIN;

/// How much history.
#[derive(Debug, Clone)]
pub struct History {
    /// Days of traffic, ending yesterday (UTC).
    pub days: u32,
    /// Visits a day, on average.
    pub visits_per_day: u32,
    pub seed: u64,
}

/// Days generated and written at a time, so the generator's events never all sit in memory.
const CHUNK_DAYS: u32 = 30;

/// Writes `history` of sample traffic for the drills' site into the store in `data` (created
/// and migrated if new), through the writer's sink, and checkpoints. Returns the events written.
pub fn run(data: &Path, history: &History) -> Result<u64, String> {
    std::fs::create_dir_all(data).map_err(|e| format!("{}: {e}", data.display()))?;
    let store = Store::open(&data.join("footfall.duckdb"), &StoreOptions::default())
        .map_err(|e| e.to_string())?;
    let conn = store.connection().map_err(|e| e.to_string())?;
    let yesterday = Utc::now().date_naive() - Duration::days(1);
    let mut written = 0;
    let mut done = 0;
    while done < history.days {
        let days = CHUNK_DAYS.min(history.days - done);
        // Oldest first, as the events would have arrived.
        let last_day = yesterday - Duration::days(i64::from(history.days - done - days));
        let events = sample::generate(&SampleSpec {
            sites: vec![DOMAIN.into()],
            last_day,
            days,
            visits_per_day: history.visits_per_day,
            pages: 500,
            seed: history.seed.wrapping_add(u64::from(done)),
        });
        sample::load(&conn, &events).map_err(|e| e.to_string())?;
        written += events.len() as u64;
        done += days;
    }
    Ok(written)
}
