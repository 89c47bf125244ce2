//! The dashboard's main queries over DuckDB files of sample traffic: the aggregate of the core
//! metrics for 30 days, a 30-day daily timeseries, the top 10 pages, the top 10 sources, and a
//! breakdown by country filtered to the blog.
//!
//! The files are made once (the sample generator, written through the writer's sink) and kept in
//! `$FOOTFALL_BENCH_DATA` (default `~/.cache/footfall-bench`). `FOOTFALL_BENCH_EVENTS` picks the
//! sizes, comma-separated (default `1000000`; the second size is `10000000`).
//!
//! With `FOOTFALL_BENCH_CLICKHOUSE` set to a cluster's shard URLs (comma-separated, e.g. from
//! `scripts/clickhouse.sh start DIR --shards 2`), the same queries are also timed on ClickHouse,
//! after the file is copied there (`footfall migrate`'s copy, once per size: the cluster's
//! events are replaced), and must give the same answers as DuckDB.

use std::path::PathBuf;
use std::time::Instant;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use footfall_queries::clickhouse::{self, ClickHouseConfig, ClickHouseReader, Client};
use footfall_queries::sample::{self, SampleSpec};
use footfall_queries::stats::run::CountSource;
use footfall_queries::stats::{api, rollup};
use footfall_queries::{Connection, Store, StoreOptions};
use serde_json::{json, Value};

/// About 7.7 events per visit in the sample; the main site gets 90 % of them.
const EVENTS_PER_VISIT: f64 = 7.7;
const DAYS: u32 = 90;

fn data_dir() -> PathBuf {
    std::env::var_os("FOOTFALL_BENCH_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/footfall-bench")
        })
}

fn last_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 31).unwrap()
}

/// A store of about `events` events, made on first use.
fn store(events: u64) -> Store {
    let path = data_dir().join(format!("queries-{events}.duckdb"));
    let exists = path.exists();
    std::fs::create_dir_all(data_dir()).unwrap();
    let store = Store::open(&path, &StoreOptions::default()).unwrap();
    if !exists {
        let started = Instant::now();
        let conn = store.connection().unwrap();
        // One site in chunks of days, so memory stays small whatever the size: about two
        // million events at a time at most (10 days of 10M events, one day of 100M).
        let visits_per_day = (events as f64 / EVENTS_PER_VISIT / f64::from(DAYS)) as u32;
        let events_per_day = f64::from(visits_per_day) * EVENTS_PER_VISIT;
        let chunk_days = [10, 5, 3, 2, 1]
            .into_iter()
            .find(|&days| f64::from(days) * events_per_day <= 2_000_000.0)
            .unwrap_or(1);
        let mut written = 0;
        for chunk in 0..(DAYS / chunk_days) {
            let spec = SampleSpec {
                sites: vec!["bench.test".into()],
                last_day: last_day() - Duration::days(i64::from(DAYS - chunk_days * (chunk + 1))),
                days: chunk_days,
                visits_per_day,
                pages: 5_000,
                seed: u64::from(chunk) + 1,
            };
            let batch = sample::generate(&spec);
            written += batch.len();
            sample::load(&conn, &batch).unwrap();
        }
        eprintln!(
            "made {} with {written} events in {:.0?}",
            path.display(),
            started.elapsed()
        );
    }
    store
}

/// The five queries over the last 30 days (`_30d`), then over the whole year to the last day
/// (`_year`), which holds every event of the file.
fn queries() -> Vec<(String, Value)> {
    let mut all = Vec::new();
    for (suffix, range) in [
        ("30d", json!(["2026-03-02", "2026-03-31"])),
        ("year", json!(["2025-04-01", "2026-03-31"])),
    ] {
        for (name, body) in queries_over(range) {
            all.push((format!("{name}_{suffix}"), body));
        }
    }
    all
}

fn queries_over(range: Value) -> Vec<(&'static str, Value)> {
    vec![
        (
            "aggregate",
            json!({"metrics": ["visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration"], "date_range": range}),
        ),
        (
            "timeseries",
            json!({"metrics": ["visitors", "pageviews"], "date_range": range, "dimensions": ["time:day"]}),
        ),
        (
            "top_pages",
            json!({"metrics": ["visitors", "pageviews"], "date_range": range, "dimensions": ["event:page"], "pagination": {"limit": 10}}),
        ),
        (
            "top_sources",
            json!({"metrics": ["visitors", "bounce_rate"], "date_range": range, "dimensions": ["visit:source"], "pagination": {"limit": 10}}),
        ),
        (
            "filtered_countries",
            json!({"metrics": ["visitors", "pageviews"], "date_range": range, "dimensions": ["visit:country"],
            "filters": [["contains", "event:page", ["/blog/"]]], "pagination": {"limit": 10}}),
        ),
    ]
}

/// The bench's "now": the day after the last day of traffic.
fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, 1, 12, 0, 0).unwrap()
}

fn answer(conn: &Connection, events: &impl CountSource, body: &Value) -> Value {
    let mut body = body.clone();
    body["site_id"] = json!("bench.test");
    api::parse(&body)
        .unwrap()
        .plan(chrono_tz::Tz::UTC, now(), None, &[])
        .unwrap()
        .answer(conn, events)
        .unwrap()
}

/// The cluster of `FOOTFALL_BENCH_CLICKHOUSE`, if set.
fn clickhouse_shards() -> Option<Vec<Client>> {
    let urls = std::env::var("FOOTFALL_BENCH_CLICKHOUSE").ok()?;
    Some(
        urls.split(',')
            .filter(|u| !u.trim().is_empty())
            .map(|u| Client::new(&ClickHouseConfig::new(u.trim())))
            .collect(),
    )
}

/// Copies the store's events into the cluster, replacing what it held, unless it already holds
/// as many as the store (a previous run's copy).
fn copy_to_clickhouse(conn: &Connection, shards: &[Client]) {
    clickhouse::schema::apply(shards).unwrap();
    let here: u64 = conn
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap();
    let there: u64 = clickhouse::purge::events_per_site(shards)
        .unwrap()
        .iter()
        .map(|(_, n)| n)
        .sum();
    if here == there {
        eprintln!("ClickHouse already holds the {here} events");
        return;
    }
    footfall_benches::load::landed::clear_clickhouse(shards).unwrap();
    let started = Instant::now();
    let copied = clickhouse::migrate::migrate(conn, shards, |_| {}).unwrap();
    eprintln!(
        "copied {} events to {} ClickHouse shard(s) in {:.1?}",
        copied.events,
        shards.len(),
        started.elapsed()
    );
}

fn benches(c: &mut Criterion) {
    let sizes = std::env::var("FOOTFALL_BENCH_EVENTS").unwrap_or_else(|_| "1000000".into());
    for size in sizes
        .split(',')
        .filter_map(|s| s.trim().parse::<u64>().ok())
    {
        let store = store(size);
        let conn = store.connection().unwrap();
        // First counted from the events alone, then with the daily rollups the server keeps
        // (every day but the last, which is not closed yet at the bench's "now"), in one run.
        // `FOOTFALL_BENCH_MODES=rollups` measures only the second, keeping the rollups a
        // previous run made (at 100M events, making them takes a quarter of an hour).
        let modes = std::env::var("FOOTFALL_BENCH_MODES").unwrap_or_default();
        let from_events = !modes.contains("rollups") || modes.contains("events");
        if from_events {
            rollup::reset(&conn).unwrap();
        }
        let mut answers = Vec::new();
        for rolled in [false, true] {
            if !rolled && !from_events {
                continue;
            }
            if rolled {
                let started = Instant::now();
                let steps = rollup::catch_up(&conn, now()).unwrap();
                eprintln!(
                    "rolled up {} steps of {size} events in {:.1?}",
                    steps.len(),
                    started.elapsed()
                );
            }
            let label = if rolled { "rollups" } else { "events" };
            let mut group = c.benchmark_group(format!("queries_{size}_{label}"));
            group.sample_size(10);
            for (i, (name, body)) in queries().into_iter().enumerate() {
                let first = answer(&conn, &conn, &body);
                assert!(
                    !first["results"].as_array().unwrap().is_empty(),
                    "{name} finds rows"
                );
                if rolled && from_events {
                    assert_eq!(first, answers[i], "{name}: the same answer from rollups");
                } else if !rolled {
                    answers.push(first);
                }
                group.bench_function(name, |b| b.iter(|| answer(&conn, &conn, &body)));
            }
            group.finish();
        }
        let Some(shards) = clickhouse_shards() else {
            continue;
        };
        copy_to_clickhouse(&conn, &shards);
        let reader = ClickHouseReader::new(shards[0].clone());
        let mut group = c.benchmark_group(format!("queries_{size}_clickhouse"));
        group.sample_size(10);
        for (name, body) in queries() {
            let here = answer(&conn, &conn, &body);
            assert_eq!(
                answer(&conn, &reader, &body),
                here,
                "{name}: the same answer from ClickHouse"
            );
            group.bench_function(name, |b| b.iter(|| answer(&conn, &reader, &body)));
        }
        group.finish();
    }
}

criterion_group!(query_benches, benches);
criterion_main!(query_benches);
