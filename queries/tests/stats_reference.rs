//! The query engine against the reference (`common/reference.rs`): random queries over
//! realistic sample traffic, written to a fresh DuckDB file through the writer's sink, must get
//! exactly the same rows from DuckDB as from plain Rust over the list of events, whether counted
//! from the events or partly from the daily rollups.

mod common;

use chrono::Duration;
use common::reference::agree;
use footfall_queries::sample::{self, SampleSpec};
use footfall_queries::stats::{rollup, run};
use footfall_queries::{Store, StoreOptions};

#[test]
fn random_queries_agree_with_the_reference() {
    for seed in [1u64, 2] {
        let spec = SampleSpec::small(seed);
        let events = sample::generate(&spec);
        let dir = tempfile::tempdir().unwrap();
        let store =
            Store::open(&dir.path().join("sample.duckdb"), &StoreOptions::default()).unwrap();
        let conn = store.connection().unwrap();
        sample::load(&conn, &events).unwrap();
        let answer = |q: &_| run(&conn, q).map_err(|e| e.to_string());
        let reads_rollups = |q: &footfall_queries::stats::Query| {
            rollup::days_for(&conn, q, &q.dimensions).unwrap().is_some()
        };

        // Counted from events only.
        let (nonempty, rolled) = agree(&events, &spec, 0.7, answer, reads_rollups);
        assert_eq!(rolled, 0);
        assert!(
            nonempty > 75,
            "a fair share of random queries find something: {nonempty} of 300"
        );

        // Then from rollups where they answer: all days rolled up (seed 2), or all but the
        // last week (seed 1), so queries also read events after the rollups end. Filtered
        // queries never read rollups, so fewer of them are asked.
        let now = spec.last_day.and_hms_opt(12, 0, 0).unwrap().and_utc()
            + Duration::days(if seed == 1 { -5 } else { 3 });
        let steps = rollup::catch_up(&conn, now).unwrap();
        assert!(!steps.is_empty());
        let (nonempty, rolled) = agree(&events, &spec, 0.2, answer, reads_rollups);
        assert!(nonempty > 75, "{nonempty} of 300 find something");
        assert!(
            rolled > 30,
            "a fair share of random queries read rollups: {rolled} of 300"
        );
    }
}
