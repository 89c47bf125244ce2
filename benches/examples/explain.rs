//! Where a query's time goes: prints DuckDB's `EXPLAIN ANALYZE` of the statement that counts a
//! Stats API query from events, over one of the bench files.
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
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 4, 1, 12, 0, 0).unwrap();
    let planned = api::parse(&body)
        .unwrap()
        .plan(chrono_tz::Tz::UTC, now, None, &[])
        .unwrap();
    let query = &planned.query;
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
