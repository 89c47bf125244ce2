//! The server run in-process, where a test needs to control the clock or reach inside.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode};
use chrono::{Duration, TimeZone, Utc};
use footfall::app::App;
use footfall::config::{self, Overrides, Settings};
use footfall_collector::clock::ManualClock;
use support::{count, open_db, FIREFOX};
use tower::ServiceExt;

fn settings(dir: &std::path::Path, extra: &str) -> Settings {
    let path = dir.join("footfall.toml");
    std::fs::write(
        &path,
        format!("{extra}[[sites]]\ndomain = \"example.com\"\n"),
    )
    .unwrap();
    let overrides = Overrides {
        config: Some(path),
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(dir.join("data")),
    };
    config::load(&overrides, Vec::new()).unwrap().0
}

fn event(ip: &str) -> Request<Body> {
    Request::post("/api/event")
        .header("user-agent", FIREFOX)
        .header("x-forwarded-for", ip)
        .body(Body::from(r#"{"n":"pageview","u":"https://example.com/"}"#))
        .unwrap()
}

/// The app on a manual clock at 09:00 UTC on 1 May 2026, behind a trusted loopback proxy, and
/// its router as a client at 127.0.0.1 sees it.
fn app_at_9_on_1_may() -> (tempfile::TempDir, Arc<ManualClock>, Arc<App>, axum::Router) {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 5, 1, 9, 0, 0).unwrap(),
    ));
    let app = App::start_with_clock(
        settings(dir.path(), "trusted_proxies = [\"127.0.0.1\"]\n"),
        clock.clone(),
    )
    .unwrap();
    let router = footfall::routes::router(app.clone())
        .layer(MockConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
    (dir, clock, app, router)
}

#[tokio::test]
async fn visitor_ids_hold_within_a_day_and_change_with_the_salt() {
    let (_dir, clock, app, router) = app_at_9_on_1_may();
    let send = |ip: &'static str| {
        let router = router.clone();
        async move {
            assert_eq!(
                router.oneshot(event(ip)).await.unwrap().status(),
                StatusCode::ACCEPTED
            )
        }
    };

    send("198.51.100.1").await; // 09:00 day 1
    clock.advance(Duration::hours(8));
    send("198.51.100.1").await; // 17:00 day 1: same visitor, new visit
    clock.advance(Duration::seconds(1));
    send("198.51.100.2").await; // another visitor
    clock.set(Utc.with_ymd_and_hms(2026, 5, 1, 23, 50, 0).unwrap());
    send("198.51.100.1").await; // 23:50 day 1
    clock.advance(Duration::minutes(20));
    send("198.51.100.1").await; // 00:10 day 2: new salt, same visit
    clock.advance(Duration::hours(10));
    send("198.51.100.1").await; // 10:10 day 2
    app.writer
        .shutdown(Instant::now() + std::time::Duration::from_secs(5));

    let db = open_db_shared(&app);
    let mut stmt = db
        .prepare("SELECT visitor_id, session_id FROM events ORDER BY ts")
        .unwrap();
    let rows: Vec<(u64, u64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 6);
    let (day1, day1_other, day2) = (rows[0].0, rows[2].0, rows[4].0);
    assert_eq!(rows[1].0, day1, "same person, same day, same id");
    assert_eq!(rows[3].0, day1);
    assert_ne!(day1_other, day1);
    assert_ne!(day2, day1, "a new day's salt gives a new id");
    assert_eq!(rows[5].0, day2);
    assert_ne!(rows[1].1, rows[0].1, "eight quiet hours end a visit");
    assert_eq!(
        rows[4].1, rows[3].1,
        "a visit crossing midnight is not split"
    );
    assert_ne!(rows[5].1, rows[4].1);
}

/// Reads through the running app's own store (the file is held by this process).
fn open_db_shared(app: &App) -> duckdb::Connection {
    app.store.connection().unwrap()
}

#[tokio::test]
async fn a_closed_queue_answers_503_and_health_turns_unhealthy() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::start(settings(dir.path(), "")).unwrap();
    let router = footfall::routes::router(app.clone())
        .layer(MockConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));

    let healthy = router
        .clone()
        .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(healthy.status(), StatusCode::OK);
    assert_eq!(
        router
            .clone()
            .oneshot(event("1.1.1.1"))
            .await
            .unwrap()
            .status(),
        StatusCode::ACCEPTED
    );

    let report = app
        .writer
        .shutdown(Instant::now() + std::time::Duration::from_secs(5));
    assert_eq!((report.events_written, report.events_lost), (1, 0));

    let refused = router.clone().oneshot(event("1.1.1.1")).await.unwrap();
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.headers()["retry-after"], "5");
    let unhealthy = router
        .clone()
        .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(unhealthy.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = axum::body::to_bytes(unhealthy.into_body(), 1 << 20)
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["status"], "unhealthy");
    assert_eq!(body["problems"][0], "writer: stopped");
    assert_eq!(
        count(&open_db_shared(&app), "SELECT count(*) FROM events"),
        1
    );
    let _ = open_db; // the file stays held by this process until the app is dropped
}

#[tokio::test]
async fn the_server_rolls_up_closed_days_and_answers_the_same_from_them() {
    use chrono::Datelike;
    use footfall_queries::stats::{model::Period, rollup, run, Dimension, Metric, Query};
    use footfall_queries::stats::{MetricValue, TimeBucket, VisitField};

    let (_dir, clock, app, router) = app_at_9_on_1_may();
    // Three days of visits, one of them crossing midnight.
    for day in 1..=3 {
        for (hour, ip) in [
            (9, "198.51.100.1"),
            (14, "198.51.100.2"),
            (23, "198.51.100.3"),
        ] {
            clock.set(Utc.with_ymd_and_hms(2026, 5, day, hour, 50, 0).unwrap());
            for _ in 0..2 {
                let response = router.clone().oneshot(event(ip)).await.unwrap();
                assert_eq!(response.status(), StatusCode::ACCEPTED);
                clock.advance(Duration::minutes(15));
            }
        }
    }
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    let conn = open_db_shared(&app);
    while count(&conn, "SELECT count(*) FROM events") < 18 {
        assert!(Instant::now() < deadline, "the writer stores the events");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    let queries: Vec<Query> = [
        vec![],
        vec![Dimension::Time(TimeBucket::Day)],
        vec![Dimension::Visit(VisitField::Browser)],
    ]
    .into_iter()
    .map(|dimensions| Query {
        site: "example.com".into(),
        timezone: chrono_tz::Tz::UTC,
        period: Period {
            from: Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).unwrap(),
            to: Utc.with_ymd_and_hms(2026, 5, 4, 0, 0, 0).unwrap(),
        },
        metrics: vec![
            Metric::Visitors,
            Metric::Visits,
            Metric::Pageviews,
            Metric::BounceRate,
            Metric::VisitDuration,
        ],
        dimensions,
        filter: None,
        goals: Vec::new(),
        order: Vec::new(),
        limit: 100,
        offset: 0,
    })
    .collect();
    let from_events: Vec<_> = queries.iter().map(|q| run(&conn, q).unwrap()).collect();
    assert!(queries
        .iter()
        .all(|q| rollup::days_for(&conn, q, &q.dimensions).unwrap().is_none()));
    let totals = &from_events[0].rows[0].metrics;
    assert_eq!(
        totals[..3],
        [
            MetricValue::Int(9),
            MetricValue::Int(9),
            MetricValue::Int(17)
        ],
        "9 visitors (ids change daily), 9 visits (the 23:50 ones count on the day they began), \
         and the pageviews before 4 May"
    );

    // Two days later, 1 and 2 May are closed (3 May is not: its 23:50 visit may go on through
    // 4 May). The keeper rolls them up and the same queries read them.
    clock.set(Utc.with_ymd_and_hms(2026, 5, 4, 12, 0, 0).unwrap());
    app.rollups.look_now();
    let days = |q: &Query| rollup::days_for(&conn, q, &q.dimensions).unwrap();
    while days(&queries[0]).is_none() || days(&queries[0]).unwrap().1.day() < 3 {
        assert!(
            Instant::now() < deadline,
            "the keeper rolls up the closed days"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    for (q, expected) in queries.iter().zip(&from_events) {
        assert!(days(q).is_some());
        assert_eq!(&run(&conn, q).unwrap(), expected, "{:?}", q.dimensions);
    }
    app.rollups.stop();
}

#[tokio::test]
async fn a_private_sites_chart_over_all_time_says_nothing_of_when_it_began() {
    let (_dir, clock, app, router) = app_at_9_on_1_may();
    for day in [1, 3] {
        clock.set(Utc.with_ymd_and_hms(2026, 5, day, 9, 0, 0).unwrap());
        let response = router.clone().oneshot(event("198.51.100.1")).await.unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    let conn = open_db_shared(&app);
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    while count(&conn, "SELECT count(*) FROM events") < 2 {
        assert!(Instant::now() < deadline, "the writer stores the events");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let chart = |site: &str| {
        let router = router.clone();
        let uri = format!("/api/chart.svg?site={site}&period=all&style=bars");
        async move {
            let response = router
                .oneshot(Request::get(uri).body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let body = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            String::from_utf8(body.to_vec()).unwrap()
        }
    };
    // example.com has two days of events but no public counts: its chart is an unknown
    // site's, one empty day, not a chart starting on 1 May.
    let private = chart("example.com").await;
    let unknown = chart("nowhere.test").await;
    assert!(!private.contains("May 1"), "{private}");
    assert_eq!(
        private.replace("example.com", "x"),
        unknown.replace("nowhere.test", "x")
    );
}

#[tokio::test]
async fn the_server_runs_duckdb_with_its_configuration_locked() {
    let (_dir, _clock, app, _router) = app_at_9_on_1_may();
    let conn = app.store.connection().unwrap();
    let error = conn
        .execute_batch("SET enable_external_access = true")
        .unwrap_err()
        .to_string();
    assert!(error.contains("configuration has been locked"), "{error}");
    app.store.check().unwrap();
}
