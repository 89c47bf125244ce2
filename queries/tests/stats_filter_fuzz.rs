//! Reliability drill 9 (docs/reliability.md): random Stats API filters full of quotes,
//! semicolons, comments, unicode, regular-expression syntax and 10 kB strings, in random
//! operators and dimensions, run against a real DuckDB store. Every one must end in an answer
//! (200) or [`QueryError::Invalid`] (400, with a reason): never a store error (a DuckDB parse
//! error leaking out as a 500) and never a panic.
//!
//! `FOOTFALL_FILTER_FUZZ` sets how many (2,000 by default, so the test suite stays quick; the
//! drill's full run is 1,000,000) and `FOOTFALL_FILTER_FUZZ_SEED` the seed;
//! `FOOTFALL_FILTER_FUZZ_SKIP=N` makes but does not run the first N, to replay a failure.

use chrono::{NaiveDate, TimeZone, Utc};
use footfall_queries::random_filters;
use footfall_queries::sample::{self, SampleSpec};
use footfall_queries::stats::{api, QueryError};
use footfall_queries::{Store, StoreOptions};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::{json, Value};

const SITE: &str = "fuzz.test";

/// A store (default settings, as the server's) holding a week of sample traffic.
fn store_with_a_week() -> (Store, duckdb::Connection) {
    let store = Store::open_in_memory(&StoreOptions::default()).unwrap();
    let conn = store.connection().unwrap();
    let batch = sample::generate(&SampleSpec {
        sites: vec![SITE.into()],
        last_day: NaiveDate::from_ymd_opt(2026, 3, 31).unwrap(),
        days: 7,
        visits_per_day: 100,
        pages: 50,
        seed: 1,
    });
    sample::load(&conn, &batch).unwrap();
    (store, conn)
}

fn answer(conn: &duckdb::Connection, body: &Value) -> Result<Value, QueryError> {
    let now = Utc.with_ymd_and_hms(2026, 4, 1, 12, 0, 0).unwrap();
    api::parse(body)
        .and_then(|request| request.plan(chrono_tz::Tz::UTC, now, None, &[]))
        .and_then(|plan| plan.answer(conn, conn))
}

/// Found by the million-filter run (seed 2026, query 186,847): a filter naming five channels
/// ran DuckDB out of its memory limit, planning the channel's large CASE once per value.
#[test]
fn a_filter_on_many_channels_is_answered_within_the_memory_limit() {
    let (_store, conn) = store_with_a_week();
    let body = json!({
        "site_id": SITE,
        "metrics": ["visitors", "pageviews"],
        "date_range": "7d",
        "dimensions": ["event:props:'; DROP TABLE events; --"],
        "filters": [["and", [
            ["contains", "visit:channel", ["/blog/\\)]B", "''?CF;{", "_😀9"]],
            ["contains", "visit:channel", ["8", "Bq"]],
        ]]],
    });
    let answered = answer(&conn, &body).unwrap();
    assert_eq!(answered["results"], json!([]));
    let body = json!({
        "site_id": SITE,
        "metrics": ["visitors"],
        "date_range": "7d",
        "dimensions": ["visit:channel"],
        "filters": [["is_not", "visit:channel", ["Direct", "Email", "Referral", "Paid Search", "Organic Social"]]],
    });
    let answered = answer(&conn, &body).unwrap();
    assert!(
        !answered["results"].as_array().unwrap().is_empty(),
        "{answered}"
    );
}

#[test]
fn random_filters_answer_or_say_why_never_a_store_error() {
    let count: u64 = std::env::var("FOOTFALL_FILTER_FUZZ")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000);
    let seed: u64 = std::env::var("FOOTFALL_FILTER_FUZZ_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(9);
    let (_store, conn) = store_with_a_week();
    let skip: u64 = std::env::var("FOOTFALL_FILTER_FUZZ_SKIP")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut answered, mut refused) = (0u64, 0u64);
    for i in 0..count {
        let body = random_filters::query(&mut rng, SITE);
        if i < skip {
            continue;
        }
        match answer(&conn, &body) {
            Ok(_) => answered += 1,
            Err(QueryError::Invalid(reason)) => {
                assert!(!reason.is_empty(), "a refusal says why: {body}");
                if std::env::var_os("FOOTFALL_FILTER_FUZZ_SHOW").is_some() {
                    eprintln!("refused: {}", reason.chars().take(120).collect::<String>());
                }
                refused += 1;
            }
            Err(e) => panic!("query {i} (seed {seed}) reached the store as an error: {e}\n{body}"),
        }
    }
    eprintln!("{count} random filters (seed {seed}): {answered} answered, {refused} refused");
    assert!(answered > 0 && refused > 0, "both kinds are exercised");
}
