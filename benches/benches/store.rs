//! The writer's share that is not enrichment: appending a batch of enriched events to a DuckDB
//! file with the Appender and committing it, as the writer thread does.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use footfall_benches::{body, collector, context};
use footfall_collector::Event;
use footfall_queries::{DuckDbSink, EventSink, Store, StoreOptions};

/// The writer's default batch size.
const BATCH: usize = 5_000;

fn benches(c: &mut Criterion) {
    let collector = collector();
    let events: Vec<Event> = (0..BATCH)
        .flat_map(|i| {
            let hit = collector
                .parse_event(body(i).as_bytes(), context(i))
                .unwrap();
            collector.enrich(hit).events
        })
        .collect();
    assert_eq!(events.len(), BATCH);

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("bench.duckdb"), &StoreOptions::default()).unwrap();
    let mut sink = DuckDbSink::new(store.connection().unwrap());

    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(20);
    group.bench_function("write_batch_5000", |b| {
        b.iter_batched(
            || (),
            |()| sink.write_batch(&events, &[]).unwrap(),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(store_benches, benches);
criterion_main!(store_benches);
