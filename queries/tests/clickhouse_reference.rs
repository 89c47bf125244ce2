//! The same analytics on both backends: the sample traffic written through each backend's sink
//! (DuckDB's file, and ClickHouse 18.16 as a two-shard cluster on loopback behind a `Distributed`
//! table), then the same random queries asked of both. Each answer must equal the reference's
//! (`common/reference.rs`, plain Rust over the events), and so each other's.

mod common;

use std::time::Instant;

use common::cluster::Cluster;
use common::reference::agree;
use footfall_queries::clickhouse::{schema, ClickHouseReader, ClickHouseSink};
use footfall_queries::sample::{self, SampleSpec};
use footfall_queries::stats::run;
use footfall_queries::{DuckDbSink, EventSink, Store, StoreOptions};

#[test]
fn random_queries_get_the_same_answers_from_clickhouse_and_duckdb() {
    let cluster = Cluster::start(2);
    let shards = cluster.clients();
    schema::apply(&shards).unwrap();
    for seed in [3u64, 4] {
        let spec = SampleSpec::small(seed);
        let events = sample::generate(&spec);
        let dir = tempfile::tempdir().unwrap();
        let store =
            Store::open(&dir.path().join("sample.duckdb"), &StoreOptions::default()).unwrap();
        let mut duckdb = DuckDbSink::new(store.connection().unwrap());
        let mut clickhouse = ClickHouseSink::new(shards.clone()).unwrap();
        for batch in events.chunks(2_000) {
            duckdb.write_batch(batch, &[]).unwrap();
            clickhouse.write_batch(batch, &[]).unwrap();
        }
        let conn = store.connection().unwrap();
        // Through the second server: its `footfall.events` reaches both shards.
        let reader = ClickHouseReader::new(shards[1].clone());

        let started = Instant::now();
        let (nonempty, _) = agree(
            &events,
            &spec,
            0.7,
            |q| run(&reader, q).map_err(|e| e.to_string()),
            |_| false,
        );
        eprintln!(
            "seed {seed}: 300 queries on ClickHouse in {:.1?}, {nonempty} found something",
            started.elapsed()
        );
        assert!(nonempty > 75, "{nonempty} of 300 found something");
        let (nonempty, _) = agree(
            &events,
            &spec,
            0.7,
            |q| run(&conn, q).map_err(|e| e.to_string()),
            |_| false,
        );
        assert!(nonempty > 75, "{nonempty} of 300 found something");

        // The next seed starts from empty tables.
        for shard in &shards {
            shard
                .execute("TRUNCATE TABLE footfall.events_local")
                .unwrap();
        }
    }
}
