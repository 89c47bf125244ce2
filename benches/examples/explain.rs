//! Where a query's time goes: prints DuckDB's `EXPLAIN ANALYZE` of the statement that counts a
//! Stats API query from events, over one of the bench files. `time:` before the query times the
//! whole answer, its counts and its rollup read instead; `sql:...` times plain SQL.
//!
//! ```sh
//! cargo build --release --workspace --examples
//! $CARGO_TARGET_DIR/release/examples/explain ~/.cache/footfall-bench/queries-10000000.duckdb \
//!   '{"site_id": "bench.test", "metrics": ["visitors"], "date_range": ["2026-03-02", "2026-03-31"]}'
//! ```

use chrono::{TimeZone, Utc};
use footfall_queries::stats::{api, sql};
use footfall_queries::{Store, StoreOptions};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, file, body] = args.as_slice() else {
        eprintln!("usage: explain FILE.duckdb QUERY_JSON");
        std::process::exit(2);
    };
    // FOOTFALL_MEMORY (e.g. "1GB") tries another memory limit than the default.
    let mut options = StoreOptions::default();
    if let Ok(limit) = std::env::var("FOOTFALL_MEMORY") {
        options.memory_limit = limit;
    }
    let store = Store::open(std::path::Path::new(file), &options).unwrap();
    let conn = store.connection().unwrap();
    if let Some(sql) = body.strip_prefix("sql:") {
        // Plain SQL, timed: for trying out other forms of a statement.
        for _ in 0..3 {
            let started = std::time::Instant::now();
            let mut prepared = conn.prepare(sql).unwrap();
            let rows = prepared.query_map([], |_| Ok(())).unwrap().count();
            println!("{rows} rows in {:.1?}", started.elapsed());
        }
        return;
    }
    let timed = body.starts_with("time:");
    let body: serde_json::Value =
        serde_json::from_str(body.strip_prefix("time:").unwrap_or(body)).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 4, 1, 12, 0, 0).unwrap();
    let planned = api::parse(&body)
        .unwrap()
        .plan(chrono_tz::Tz::UTC, now, None, &[])
        .unwrap();
    let query = &planned.query;
    if timed {
        // The whole answer, as the bench times it, and its parts.
        for _ in 0..5 {
            let started = std::time::Instant::now();
            planned.answer(&conn, &conn).unwrap();
            let answered = started.elapsed();
            let started = std::time::Instant::now();
            footfall_queries::stats::run(&conn, query).unwrap();
            let ran = started.elapsed();
            let started = std::time::Instant::now();
            let dims = &query.dimensions;
            let counts = footfall_queries::stats::run::counts(
                &conn,
                query,
                dims,
                query.needs_whole_visits(dims),
            )
            .unwrap();
            println!(
                "answer {answered:.1?}, run {ran:.1?}, counts {:.1?} ({} groups)",
                started.elapsed(),
                counts.len()
            );
        }
        let (first, end) =
            footfall_queries::stats::rollup::days_for(&conn, query, &query.dimensions)
                .unwrap()
                .unwrap_or_default();
        let read = sql::rollup_read(query, &query.dimensions, first, end);
        // Each part of `counts`, timed: prepare, then run and fetch every row.
        let last = footfall_queries::stats::model::Period {
            from: end.and_hms_opt(0, 0, 0).unwrap().and_utc(),
            to: query.period.to,
        };
        let raw = sql::statement(query, &query.dimensions, false, &last);
        for (label, statement) in [("rollup read", &read), ("open days", &raw)] {
            for _ in 0..3 {
                let started = std::time::Instant::now();
                let mut prepared = conn.prepare(&statement.sql).unwrap();
                let prepared_in = started.elapsed();
                let rows = prepared
                    .query_map(duckdb::params_from_iter(statement.params.iter()), |row| {
                        row.get::<_, String>(0)
                    })
                    .unwrap()
                    .count();
                println!(
                    "{label}: prepared in {prepared_in:.1?}, {rows} rows in {:.1?}",
                    started.elapsed()
                );
            }
        }
        for _ in 0..3 {
            let started = std::time::Instant::now();
            let mut prepared = conn
                .prepare(&format!("EXPLAIN ANALYZE {}", read.sql))
                .unwrap();
            let mut rows = prepared
                .query(duckdb::params_from_iter(read.params.iter()))
                .unwrap();
            let mut plan = String::new();
            while let Some(row) = rows.next().unwrap() {
                plan = row.get::<_, String>(1).unwrap();
            }
            println!("rollup read {:.1?}", started.elapsed());
            println!("{}", plan.lines().take(70).collect::<Vec<_>>().join("\n"));
        }
        return;
    }
    let statement = sql::statement(
        query,
        &query.dimensions,
        query.needs_whole_visits(&query.dimensions),
        &query.period,
    );
    println!("{}\n", statement.sql);
    let mut prepared = conn
        .prepare(&format!("EXPLAIN ANALYZE {}", statement.sql))
        .unwrap();
    let mut rows = prepared
        .query(duckdb::params_from_iter(statement.params.iter()))
        .unwrap();
    while let Some(row) = rows.next().unwrap() {
        println!("{}", row.get::<_, String>(1).unwrap());
    }
}
