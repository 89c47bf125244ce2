//! The ClickHouse write path against real servers: a two-shard cluster of ClickHouse 18.16 on
//! loopback (`scripts/clickhouse.sh`), the schema applied through the client, the sample traffic
//! written through `ClickHouseSink` and, for reference, through `DuckDbSink` into DuckDB; then
//! the same counts from both, the escaping function's literals read back by the server, and a
//! shard outage in the middle of a batch.

mod common;

use std::time::Instant;

use chrono::NaiveDate;
use common::cluster::{run_script, Cluster};
use footfall_collector::{DropCount, DropReason, Event};
use footfall_queries::clickhouse::{literal, schema, ClickHouseSink, Client};
use footfall_queries::sample::{self, SampleSpec};
use footfall_queries::{Connection, DuckDbSink, EventSink, Store, StoreOptions};
use serde_json::Value;

fn u64_of(row: &Value, key: &str) -> u64 {
    row[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} in {row}"))
}

fn scalar(client: &Client, sql: &str) -> u64 {
    let rows = client.query_json_rows(sql).unwrap();
    u64_of(&rows[0], "n")
}

/// Per site and UTC day: events, distinct visitors, pageviews, the sum of engaged_ms.
type DayFigures = Vec<(String, String, u64, u64, u64, u64)>;

fn clickhouse_days(client: &Client) -> DayFigures {
    client
        .query_json_rows(
            "SELECT site, toString(toDate(ts)) AS day, count() AS events, \
             uniqExact(visitor_id) AS visitors, countIf(name = 'pageview') AS pageviews, \
             toUInt64(sum(ifNull(engaged_ms, 0))) AS engaged \
             FROM footfall.events GROUP BY site, day ORDER BY site, day",
        )
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["site"].as_str().unwrap().to_owned(),
                r["day"].as_str().unwrap().to_owned(),
                u64_of(r, "events"),
                u64_of(r, "visitors"),
                u64_of(r, "pageviews"),
                u64_of(r, "engaged"),
            )
        })
        .collect()
}

fn duckdb_days(conn: &Connection) -> DayFigures {
    let mut stmt = conn
        .prepare(
            "SELECT site, CAST(CAST(ts AS DATE) AS VARCHAR) AS day, count(*), \
             count(DISTINCT visitor_id), count(*) FILTER (WHERE name = 'pageview'), \
             CAST(coalesce(sum(engaged_ms), 0) AS UBIGINT) \
             FROM events GROUP BY ALL ORDER BY site, day",
        )
        .unwrap();
    stmt.query_map([], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
        ))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// The server reads `value`'s literal back as exactly `value`'s bytes.
fn assert_round_trip(client: &Client, value: &str) {
    let sql = format!("SELECT hex({}) AS h", literal::string(value));
    let rows = client.query_json_rows(&sql).unwrap();
    let expected: String = value.bytes().map(|b| format!("{b:02X}")).collect();
    assert_eq!(rows[0]["h"], expected.as_str(), "literal of {value:?}");
}

/// The sample's events: their session ids are uniform, as the collector's are, so both shards
/// get a share.
fn sample_events(seed: u64) -> Vec<Event> {
    sample::generate(&SampleSpec::small(seed))
}

fn drop_count(day: u32, reason: DropReason, count: u64) -> DropCount {
    DropCount {
        day: NaiveDate::from_ymd_opt(2026, 4, day).unwrap(),
        site: "alpha.test".to_owned(),
        reason,
        count,
    }
}

#[test]
fn clickhouse_sink_matches_duckdb_and_survives_a_shard_outage() {
    let started = Instant::now();
    let cluster = Cluster::start(2);
    let shards = cluster.clients();
    let entry = &shards[0];
    eprintln!("two shards up in {:.2?}", started.elapsed());

    // The schema, twice: applying it again changes nothing.
    schema::apply(&shards).unwrap();
    schema::apply(&shards).unwrap();
    for shard in &shards {
        let tables = shard
            .query_json_rows("SELECT name FROM system.tables WHERE database = 'footfall'")
            .unwrap();
        assert_eq!(tables.len(), 10, "{tables:?}");
    }

    // Literals: every ASCII byte (NUL included), alone and in company, Unicode, and inputs
    // that would end a naively quoted literal.
    for byte in 0u8..=0x7F {
        let c = char::from(byte);
        assert_round_trip(entry, &c.to_string());
        assert_round_trip(entry, &format!("a{c}\\{c}'{c}b"));
    }
    assert_round_trip(entry, &(0u8..=0x7F).map(char::from).collect::<String>());
    for value in [
        "é€😀",
        "Ünïcödé — 日本語 — עברית — 🏳️‍🌈",
        "'",
        "\\",
        "\\'",
        "x\\",
        "\\\\'",
        "'); DROP TABLE footfall.events_local; --",
        "\\'; DROP TABLE footfall.events_local; --",
        "/* */ -- \u{0}",
    ] {
        assert_round_trip(entry, value);
    }
    // And in a WHERE clause nothing leaks out of one: the tables are all still there.
    let n = scalar(
        entry,
        &format!(
            "SELECT count() AS n FROM footfall.events WHERE site = {}",
            literal::string("'); DROP TABLE footfall.events_local; --")
        ),
    );
    assert_eq!(n, 0);

    // The sample traffic through both sinks, in batches of 500.
    let events = sample_events(7);
    let store = Store::open_in_memory(&StoreOptions::default()).unwrap();
    let conn = store.connection().unwrap();
    let mut duck = DuckDbSink::new(store.connection().unwrap());
    let mut sink = ClickHouseSink::new(shards.clone()).unwrap();
    let drops = [
        drop_count(1, DropReason::Bot, 5),
        drop_count(2, DropReason::Spam, 2),
    ];
    let writing = Instant::now();
    for (i, batch) in events.chunks(500).enumerate() {
        let batch_drops: &[DropCount] = if i == 0 { &drops } else { &[] };
        sink.write_batch(batch, batch_drops).unwrap();
        duck.write_batch(batch, batch_drops).unwrap();
    }
    eprintln!(
        "{} events in {} batches written to ClickHouse and DuckDB in {:.2?}",
        events.len(),
        events.len().div_ceil(500),
        writing.elapsed()
    );

    let total = events.len() as u64;
    let count_sql = "SELECT count() AS n FROM footfall.events_local";
    let per_shard: Vec<u64> = shards.iter().map(|s| scalar(s, count_sql)).collect();
    eprintln!("rows per shard: {per_shard:?} of {total}");
    assert!(per_shard.iter().all(|&n| n > 0), "{per_shard:?}");
    assert_eq!(per_shard.iter().sum::<u64>(), total);
    assert_eq!(
        scalar(entry, "SELECT count() AS n FROM footfall.events"),
        total
    );
    assert_eq!(store.event_count().unwrap(), total);
    // Each shard holds exactly the sessions the Distributed table's key gives it.
    for (i, shard) in shards.iter().enumerate() {
        let misplaced = scalar(
            shard,
            &format!(
                "SELECT countIf(session_id % {} != {i}) AS n FROM footfall.events_local",
                shards.len()
            ),
        );
        assert_eq!(misplaced, 0, "shard {}", i + 1);
    }

    let days = duckdb_days(&conn);
    assert!(days.len() >= 3, "{days:?}");
    assert_eq!(clickhouse_days(entry), days);
    eprintln!(
        "{} (site, day) rows match DuckDB: events, visitors, pageviews, engaged_ms",
        days.len()
    );

    // Props, and the rest of the row, survive: a few events with props, read back by key.
    let with_props: Vec<&Event> = events
        .iter()
        .filter(|e| !e.props.is_empty())
        .take(5)
        .collect();
    assert!(!with_props.is_empty());
    for event in with_props {
        let rows = entry
            .query_json_rows(&format!(
                "SELECT props.key AS k, props.value AS v, path, hostname, ts_us, \
                 toString(ts) AS second, engaged_ms FROM footfall.events \
                 WHERE session_id = {} AND ts_us = {} AND name = {}",
                event.session_id,
                event.ts.timestamp_micros(),
                literal::string(&event.name)
            ))
            .unwrap();
        assert_eq!(rows.len(), 1, "{event:?}");
        let row = &rows[0];
        let props: Vec<(String, String)> = row["k"]
            .as_array()
            .unwrap()
            .iter()
            .zip(row["v"].as_array().unwrap())
            .map(|(k, v)| (k.as_str().unwrap().into(), v.as_str().unwrap().into()))
            .collect();
        assert_eq!(props, event.props);
        assert_eq!(row["path"], event.path.as_str());
        assert_eq!(row["hostname"], event.hostname.as_str());
        assert_eq!(
            row["second"],
            event.ts.format("%Y-%m-%d %H:%M:%S").to_string().as_str(),
            "ts is derived from ts_us, in UTC"
        );
        assert_eq!(row["engaged_ms"].as_u64(), event.engaged_ms.map(u64::from));
    }
    let with_props_sql = "SELECT count() AS n FROM footfall.events WHERE length(props.key) > 0";
    let duck_with_props: u64 = conn
        .query_row(
            "SELECT count(*) FROM events WHERE cardinality(props) > 0",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(scalar(entry, with_props_sql), duck_with_props);

    let dropped_sql = "SELECT toUInt64(sum(count)) AS n FROM footfall.dropped_events";
    assert_eq!(scalar(entry, dropped_sql), 7);

    // A shard outage in the middle of a batch. The batch has events for both shards, and drops.
    let outage_batch: Vec<Event> = sample_events(8).into_iter().take(500).collect();
    let outage_drops = [drop_count(2, DropReason::Invalid, 4)];
    let part_of = |shard: u64| {
        outage_batch
            .iter()
            .filter(|e| e.session_id % 2 == shard)
            .count() as u64
    };
    let (part1, part2) = (part_of(0), part_of(1));
    assert!(part1 > 0 && part2 > 0, "{part1} {part2}");

    run_script(&["stop-shard", cluster.path(), "2"]);
    let outage = Instant::now();
    for attempt in 1..=2 {
        let error = sink
            .write_batch(&outage_batch, &outage_drops)
            .expect_err("shard 2 is down");
        eprintln!("attempt {attempt} with shard 2 down: {error}");
    }
    // Shard 1's part landed once, however many attempts.
    assert_eq!(scalar(&shards[0], count_sql), per_shard[0] + part1);
    run_script(&["start-shard", cluster.path(), "2"]);
    eprintln!("shard 2 down and back in {:.2?}", outage.elapsed());
    sink.write_batch(&outage_batch, &outage_drops).unwrap();
    duck.write_batch(&outage_batch, &outage_drops).unwrap();

    let after: Vec<u64> = shards.iter().map(|s| scalar(s, count_sql)).collect();
    eprintln!("rows per shard after the outage: {after:?} (+{part1}, +{part2})");
    assert_eq!(after, [per_shard[0] + part1, per_shard[1] + part2]);
    assert_eq!(
        scalar(entry, "SELECT count() AS n FROM footfall.events"),
        total + 500
    );
    assert_eq!(scalar(entry, dropped_sql), 7 + 4, "drops written once");
    assert_eq!(clickhouse_days(entry), duckdb_days(&conn));

    // A later batch after a success is written whole, not taken for the retried one.
    let again = &outage_batch[..10];
    sink.write_batch(again, &[]).unwrap();
    assert_eq!(
        scalar(entry, "SELECT count() AS n FROM footfall.events"),
        total + 510
    );

    eprintln!("the whole test took {:.2?}", started.elapsed());
}
