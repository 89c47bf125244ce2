//! Plausible's Stats API v2 requests, end to end over a DuckDB file: the documentation's example
//! requests give the documented shapes, and bad queries give reasons, never store errors.

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use footfall_queries::sample::{self, SampleSpec};
use footfall_queries::stats::api;
use footfall_queries::stats::{Goal, QueryError};
use footfall_queries::{Store, StoreOptions};
use serde_json::{json, Value};

fn store() -> (tempfile::TempDir, duckdb::Connection) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.duckdb"), &StoreOptions::default()).unwrap();
    let conn = store.connection().unwrap();
    sample::load(&conn, &sample::generate(&SampleSpec::small(3))).unwrap();
    (dir, conn)
}

/// "Now" for these tests: the day after the sample's last day.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, 3, 9, 0, 0).unwrap()
}

fn ask(conn: &duckdb::Connection, body: Value) -> Result<Value, QueryError> {
    let request = api::parse(&body)?;
    let first = footfall_queries::stats::run::first_event(conn, &request.site_id)?;
    request.plan(Tz::UTC, now(), first, &[])?.answer(conn, conn)
}

#[test]
fn documented_requests_get_documented_shapes() {
    let (_dir, conn) = store();
    let site = "alpha.test";

    // Aggregate.
    let answer = ask(
        &conn,
        json!({"site_id": site, "metrics": ["visitors", "events"], "date_range": "7d"}),
    )
    .unwrap();
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["dimensions"], json!([]));
    let metrics = results[0]["metrics"].as_array().unwrap();
    assert!(
        metrics[0].as_u64().unwrap() > 0
            && metrics[1].as_u64().unwrap() > metrics[0].as_u64().unwrap()
    );
    assert_eq!(answer["meta"], json!({}));
    assert_eq!(
        answer["query"]["date_range"],
        json!(["2026-03-27T00:00:00+00:00", "2026-04-02T23:59:59+00:00"])
    );

    // Every core metric at once.
    let answer = ask(&conn, json!({"site_id": site, "date_range": "30d",
        "metrics": ["pageviews", "visits", "views_per_visit", "visitors", "bounce_rate", "visit_duration"]})).unwrap();
    let m = answer["results"][0]["metrics"].as_array().unwrap().clone();
    assert!(m[2].is_f64(), "views_per_visit has decimals: {m:?}");
    let bounce = m[4].as_u64().unwrap();
    assert!((15..=45).contains(&bounce), "bounce rate {bounce}");

    // Timeseries by day, with a filter.
    let answer = ask(
        &conn,
        json!({"site_id": site, "metrics": ["visitors", "events"], "date_range": "7d",
        "filters": [["is", "visit:os", ["iOS", "Android"]]], "dimensions": ["time:day"]}),
    )
    .unwrap();
    let days: Vec<&str> = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["dimensions"][0].as_str().unwrap())
        .collect();
    assert!(
        days.windows(2).all(|w| w[0] < w[1]),
        "ascending days: {days:?}"
    );
    assert!(days.iter().all(|d| d.len() == 10 && d.starts_with("2026-")));

    // Hourly with time labels.
    let answer = ask(
        &conn,
        json!({"site_id": site, "metrics": ["visitors"], "date_range": ["2026-04-01", "2026-04-01"],
        "dimensions": ["time:hour"], "include": {"time_labels": true}}),
    )
    .unwrap();
    let labels = answer["meta"]["time_labels"].as_array().unwrap();
    assert_eq!(labels.len(), 24);
    assert_eq!(labels[0], "2026-04-01 00:00:00");
    for row in answer["results"].as_array().unwrap() {
        assert!(labels.contains(&row["dimensions"][0]));
    }

    // Breakdowns by page, source and country, with the empty values Plausible shows.
    for (dimension, empty) in [
        ("event:page", None),
        ("visit:source", Some("Direct / None")),
        ("visit:country", None),
        ("visit:utm_medium", Some("(not set)")),
    ] {
        let answer = ask(
            &conn,
            json!({"site_id": site, "metrics": ["visitors", "percentage"], "date_range": "30d",
            "dimensions": [dimension], "pagination": {"limit": 10}}),
        )
        .unwrap();
        let rows = answer["results"].as_array().unwrap();
        assert!(!rows.is_empty() && rows.len() <= 10, "{dimension}");
        let visitors: Vec<u64> = rows
            .iter()
            .map(|r| r["metrics"][0].as_u64().unwrap())
            .collect();
        assert!(
            visitors.windows(2).all(|w| w[0] >= w[1]),
            "by visitors, descending: {visitors:?}"
        );
        if let Some(empty) = empty {
            assert!(
                rows.iter().any(|r| r["dimensions"][0] == empty),
                "{dimension} shows {empty}"
            );
        }
    }

    // Channels, GA4's grouping.
    let answer = ask(&conn, json!({"site_id": site, "metrics": ["visitors"], "date_range": "30d", "dimensions": ["visit:channel"]})).unwrap();
    let channels: Vec<&str> = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["dimensions"][0].as_str().unwrap())
        .collect();
    for expected in [
        "Direct",
        "Organic Search",
        "Paid Search",
        "Organic Social",
        "Email",
        "Referral",
    ] {
        assert!(channels.contains(&expected), "{expected} in {channels:?}");
    }

    // Time on page and scroll depth, per page, from the engagement reports.
    let answer = ask(
        &conn,
        json!({"site_id": site, "metrics": ["visitors", "time_on_page", "scroll_depth"],
        "date_range": "30d", "dimensions": ["event:page"], "pagination": {"limit": 5}}),
    )
    .unwrap();
    for row in answer["results"].as_array().unwrap() {
        let seconds = row["metrics"][1]
            .as_u64()
            .expect("pages were left, so time was reported");
        let depth = row["metrics"][2].as_u64().unwrap();
        assert!(seconds > 0 && seconds < 300, "{row}");
        assert!((10..=100).contains(&depth), "{row}");
    }

    // Compared with the week before: day by day, the same numbers as asking for that week.
    let answer = ask(
        &conn,
        json!({"site_id": site, "metrics": ["visitors", "bounce_rate"], "date_range": "7d",
        "dimensions": ["time:day"], "include": {"comparisons": {"mode": "previous_period"}}}),
    )
    .unwrap();
    assert_eq!(
        answer["meta"]["comparison_date_range"],
        json!(["2026-03-20T00:00:00+00:00", "2026-03-26T23:59:59+00:00"])
    );
    assert_eq!(
        answer["query"]["include"]["comparisons"],
        json!({"mode": "previous_period"})
    );
    let before = ask(
        &conn,
        json!({"site_id": site, "metrics": ["visitors", "bounce_rate"],
        "date_range": ["2026-03-20", "2026-03-26"], "dimensions": ["time:day"]}),
    )
    .unwrap();
    let rows = answer["results"].as_array().unwrap();
    assert_eq!(rows.len(), 7);
    for (i, row) in rows.iter().enumerate() {
        let compared = &row["comparison"];
        assert_eq!(
            compared["dimensions"], before["results"][i]["dimensions"],
            "day {i} pairs with day {i}"
        );
        assert_eq!(compared["metrics"], before["results"][i]["metrics"]);
        let (new, old) = (
            row["metrics"][0].as_f64().unwrap(),
            compared["metrics"][0].as_f64().unwrap(),
        );
        assert_eq!(
            compared["change"][0],
            json!(((new - old) / old * 100.0).round() as i64)
        );
    }
    let bad = ask(
        &conn,
        json!({"site_id": site, "metrics": ["visitors"], "date_range": "7d", "include": {"comparisons": {"mode": "last_year"}}}),
    );
    assert!(matches!(bad, Err(QueryError::Invalid(m)) if m.contains("Invalid comparison")));

    // Custom props by day, ordered as asked; pagination with total_rows.
    let answer = ask(&conn, json!({"site_id": site, "metrics": ["visitors"], "date_range": "7d",
        "dimensions": ["time:day", "event:props:plan"], "order_by": [["time:day", "asc"], ["event:props:plan", "desc"]],
        "include": {"total_rows": true}, "pagination": {"limit": 3, "offset": 1}})).unwrap();
    assert_eq!(answer["results"].as_array().unwrap().len(), 3);
    assert!(answer["meta"]["total_rows"].as_u64().unwrap() > 4);
    assert_eq!(
        answer["query"]["pagination"],
        json!({"limit": 3, "offset": 1})
    );

    // The echoed query asks the same again.
    let echo = answer["query"].clone();
    let again = ask(&conn, echo).unwrap();
    assert_eq!(again["results"], answer["results"]);

    // "all" starts at the site's first event.
    let answer = ask(
        &conn,
        json!({"site_id": site, "metrics": ["visitors"], "date_range": "all"}),
    )
    .unwrap();
    assert_eq!(
        answer["query"]["date_range"][0],
        "2026-03-06T00:00:00+00:00"
    );

    // An unknown site answers zeros, as any site without traffic.
    let answer = ask(&conn, json!({"site_id": "nobody.test", "metrics": ["visitors", "percentage"], "date_range": "7d"})).unwrap();
    assert_eq!(answer["results"][0]["metrics"], json!([0, null]));
}

#[test]
fn bad_queries_get_reasons_not_store_errors() {
    let (_dir, conn) = store();
    let bad_pattern = ask(
        &conn,
        json!({"site_id": "alpha.test", "metrics": ["visitors"], "date_range": "7d",
        "filters": [["matches", "event:page", ["(unclosed"]]]}),
    );
    match bad_pattern {
        Err(QueryError::Invalid(message)) => assert!(
            message.contains("not a valid regular expression"),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
    // Quotes, semicolons and long values reach DuckDB as values, and match nothing.
    let answer = ask(&conn, json!({"site_id": "alpha.test'; DROP TABLE events; --", "metrics": ["visitors"], "date_range": "all",
        "filters": [["contains", "event:page", ["'; DROP TABLE events; --", "\"", "x".repeat(2000)]]]})).unwrap();
    assert_eq!(answer["results"][0]["metrics"], json!([0]));
    let still_there: i64 = conn
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert!(still_there > 1000);
}

#[test]
fn countries_by_name_are_answered_by_code() {
    let (_dir, conn) = store();
    let answer = ask(
        &conn,
        json!({"site_id": "alpha.test", "metrics": ["visitors"], "date_range": "all",
            "dimensions": ["visit:country_name", "visit:country"], "order_by": [["visit:country_name", "asc"]],
            "filters": [["contains", "visit:country_name", ["united", "germ"], {"case_sensitive": false}]]}),
    )
    .unwrap();
    let names: Vec<&Value> = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["dimensions"])
        .collect();
    assert_eq!(
        names,
        [
            &json!(["Germany", "DE"]),
            &json!(["United Kingdom", "GB"]),
            &json!(["United States", "US"])
        ]
    );
}

#[test]
fn behavioral_filters_split_visits_by_what_they_did() {
    let (_dir, conn) = store();
    let visits = |filters: Value| -> u64 {
        let answer = ask(
            &conn,
            json!({"site_id": "alpha.test", "metrics": ["visits"], "date_range": "all", "filters": filters}),
        )
        .unwrap();
        answer["results"][0]["metrics"][0].as_u64().unwrap()
    };
    let signed_up = json!(["is", "event:name", ["Signup"]]);
    let did = visits(json!([["has_done", signed_up]]));
    let did_not = visits(json!([["has_not_done", signed_up]]));
    let all = visits(json!([]));
    assert!(did > 0 && did_not > 0);
    assert_eq!(did + did_not, all, "every visit did or did not");
    // Visits that signed up, entering on the home page: a behavioral filter beside a plain one.
    let home_and_signed_up = visits(json!([
        ["has_done", signed_up],
        ["is", "visit:entry_page", ["/"]]
    ]));
    assert!(home_and_signed_up > 0 && home_and_signed_up < did);
}

#[test]
fn goals_break_down_conversions_and_rates() {
    let (_dir, conn) = store();
    let goals = vec![
        Goal::event("Signup").unwrap(),
        Goal::page("/pricing").unwrap(),
        Goal::page("/blog/**").unwrap(),
        Goal::event("Never Sent").unwrap(),
    ];
    let ask = |body: Value| -> Result<Value, QueryError> {
        let mut body = body;
        body["site_id"] = json!("alpha.test");
        body["date_range"] = json!("all");
        let request = api::parse(&body)?;
        let first = footfall_queries::stats::run::first_event(&conn, &request.site_id)?;
        request
            .plan(Tz::UTC, now(), first, &goals)?
            .answer(&conn, &conn)
    };

    // Conversions by goal (Plausible's goal report): names as Plausible shows them.
    let answer = ask(json!({"metrics": ["visitors", "events", "conversion_rate"],
        "dimensions": ["event:goal"]}))
    .unwrap();
    let rows = answer["results"].as_array().unwrap();
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r["dimensions"][0].as_str().unwrap())
        .collect();
    assert_eq!(
        names.len(),
        3,
        "goals reached, most visitors first: {names:?}"
    );
    assert_eq!(names[0], "Visit /blog/**");
    assert!(names.contains(&"Signup") && names.contains(&"Visit /pricing"));
    let total = ask(json!({"metrics": ["visitors"]})).unwrap()["results"][0]["metrics"][0]
        .as_u64()
        .unwrap();
    for row in rows {
        let m = row["metrics"].as_array().unwrap();
        let expected =
            (m[0].as_u64().unwrap() as f64 * 100.0 / total as f64 * 100.0).round() / 100.0;
        assert_eq!(m[2].as_f64().unwrap(), expected, "{row}");
    }

    // One goal, by source: conversion rate against all visitors, group rate against the
    // source's own.
    let answer = ask(json!({"metrics": ["visitors", "conversion_rate", "group_conversion_rate"],
        "dimensions": ["visit:source"], "filters": [["is", "event:goal", ["signup"], {"case_sensitive": false}]]}))
    .unwrap();
    let rows = answer["results"].as_array().unwrap();
    assert!(rows.len() > 1);
    for row in rows {
        let m = row["metrics"].as_array().unwrap();
        assert!(m[1].is_f64() && m[2].is_f64(), "{row}");
        assert!(m[2].as_f64().unwrap() >= m[1].as_f64().unwrap(), "{row}");
    }

    // What Plausible refuses, with its reasons.
    for (body, expected) in [
        (
            json!({"metrics": ["conversion_rate"]}),
            "Metric `conversion_rate` can only be queried with event:goal filters or dimensions.",
        ),
        (
            json!({"metrics": ["visitors"], "filters": [["is", "event:goal", ["Purchase"]]]}),
            "The goal `Purchase` is not configured for this site",
        ),
        (
            json!({"metrics": ["visitors"], "filters": [["is_not", "event:goal", ["Signup"]]]}),
            "`event:goal` takes only the `is` and `contains` operators",
        ),
        (
            json!({"metrics": ["visitors"], "filters": [["or", [["is", "event:goal", ["Signup"]], ["is", "event:page", ["/"]]]]]}),
            "Dimension `event:goal` can only be filtered at the top level.",
        ),
        (
            json!({"metrics": ["group_conversion_rate"], "filters": [["is", "event:goal", ["Signup"]]]}),
            "can only be queried with dimensions",
        ),
        (
            json!({"metrics": ["bounce_rate"], "dimensions": ["event:goal"]}),
            "cannot be queried along with event dimension(s) `event:goal`",
        ),
    ] {
        match ask(body.clone()) {
            Err(QueryError::Invalid(message)) => {
                assert!(message.contains(expected), "{body}: {message}")
            }
            other => panic!("{body}: {other:?}"),
        }
    }
}
