//! The collector's share of the ingest path: parsing a payload (on the HTTP path) and enriching
//! a hit (on the writer's thread), with a realistic spread of user agents and addresses.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use footfall_benches::{body, collector, context};

fn benches(c: &mut Criterion) {
    let collector = collector();
    let bodies: Vec<String> = (0..1000).map(body).collect();
    let mut group = c.benchmark_group("collector");
    group.throughput(Throughput::Elements(1));
    let mut i = 0;
    group.bench_function("parse_event", |b| {
        b.iter_batched(
            || {
                i += 1;
                (bodies[i % bodies.len()].clone(), context(i))
            },
            |(body, ctx)| collector.parse_event(body.as_bytes(), ctx).unwrap(),
            BatchSize::SmallInput,
        )
    });
    let mut j = 0;
    group.bench_function("enrich", |b| {
        b.iter_batched(
            || {
                j += 1;
                collector
                    .parse_event(bodies[j % bodies.len()].as_bytes(), context(j))
                    .unwrap()
            },
            |hit| collector.enrich(hit),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(collector_benches, benches);
criterion_main!(collector_benches);
