//! The server on the ClickHouse backend, over real HTTP, against a two-shard cluster of
//! ClickHouse 18.16 on loopback: events in through the collector, answers out through the Stats
//! API, the dashboard's reads and the public counters, the same numbers as the events sent; a
//! graceful stop loses nothing acknowledged; and with one shard down, the collector keeps
//! answering 202 until its queue is full, then 503, and once the shard returns every
//! acknowledged event is stored exactly once.

mod support;

#[path = "../queries/tests/common/cluster.rs"]
mod cluster;

use std::time::{Duration, Instant};

use cluster::{run_script, Cluster};
use footfall_queries::clickhouse::Client;
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::*;

const SITE: &str = "shop.test";

fn config(cluster: &Cluster, extra: &str) -> String {
    let shards: Vec<String> = cluster
        .clients()
        .iter()
        .map(|c| format!("{:?}", c.url()))
        .collect();
    format!(
        "trusted_proxies = [\"127.0.0.1\"]\n\
         [store]\nbackend = \"clickhouse\"\n\
         [clickhouse]\nshards = [{}]\nflush_interval_ms = 200\n{extra}\n\
         [[sites]]\ndomain = \"{SITE}\"\npublic_counters = true\ncounter_min_visitors = 1\n",
        shards.join(", ")
    )
}

fn scalar(client: &Client, sql: &str) -> u64 {
    let rows = client.query_json_rows(sql).unwrap();
    rows[0]["n"].as_u64().unwrap()
}

/// Events of the site on each shard's own table.
fn per_shard(cluster: &Cluster) -> Vec<u64> {
    cluster
        .clients()
        .iter()
        .map(|c| {
            scalar(
                c,
                "SELECT count() AS n FROM footfall.events_local WHERE site = 'shop.test'",
            )
        })
        .collect()
}

/// Sends a pageview; returns its status (and Retry-After on a 503).
async fn send(http: &reqwest::Client, server: &Server, path: &str, ip: &str) -> StatusCode {
    let response = http
        .post(server.url("/api/event"))
        .header("user-agent", FIREFOX)
        .header("x-forwarded-for", ip)
        .body(json!({"n": "pageview", "u": format!("https://{SITE}{path}")}).to_string())
        .send()
        .await
        .unwrap();
    let status = response.status();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        assert!(
            response.headers().contains_key("retry-after"),
            "a 503 says when to come back"
        );
    }
    status
}

/// Waits until the shards hold `expected` events of the site in all.
fn wait_for(cluster: &Cluster, expected: u64, within: Duration) -> Vec<u64> {
    let deadline = Instant::now() + within;
    loop {
        let counts = per_shard(cluster);
        if counts.iter().sum::<u64>() >= expected || Instant::now() > deadline {
            return counts;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test]
async fn the_server_writes_and_reads_on_clickhouse() {
    let cluster = Cluster::start(2);
    let http = client();
    let server = Server::start(&config(&cluster, ""));
    assert!(server
        .logs()
        .contains("events go to ClickHouse, 2 shard(s)"));

    // 60 visitors: each reads /, 20 of them also /pricing.
    for i in 0..60 {
        let ip = format!("10.0.{}.{}", i / 200, i % 200 + 1);
        pageview(&http, &server, &format!("https://{SITE}/"), &ip, FIREFOX).await;
        if i % 3 == 0 {
            pageview(
                &http,
                &server,
                &format!("https://{SITE}/pricing"),
                &ip,
                FIREFOX,
            )
            .await;
        }
    }
    let counts = wait_for(&cluster, 80, Duration::from_secs(20));
    assert_eq!(counts.iter().sum::<u64>(), 80, "{counts:?}");
    assert!(
        counts.iter().all(|n| *n > 0),
        "both shards hold a share: {counts:?}"
    );
    let key = stats_key(&server, SITE);

    let answer = stats_query(
        &http,
        &server,
        &key,
        json!({"site_id": SITE, "metrics": ["visitors", "pageviews", "visits", "bounce_rate"], "date_range": "day"}),
    )
    .await;
    assert_eq!(answer["results"][0]["metrics"], json!([60, 80, 60, 67]));
    let by_page = stats_query(
        &http,
        &server,
        &key,
        json!({"site_id": SITE, "metrics": ["visitors"], "date_range": "day", "dimensions": ["event:page"]}),
    )
    .await;
    assert_eq!(
        by_page["results"],
        json!([
            {"dimensions": ["/"], "metrics": [60]},
            {"dimensions": ["/pricing"], "metrics": [20]}
        ])
    );
    let realtime: Value = json_of(
        http.get(server.url(&format!("/api/v1/stats/realtime/visitors?site_id={SITE}")))
            .bearer_auth(&key),
    )
    .await;
    assert_eq!(realtime, json!(60));

    // The dashboard's reads: its queries, the prop keys of a custom event, the dropped bots.
    let signup = http
        .post(server.url("/api/event"))
        .header("user-agent", FIREFOX)
        .header("x-forwarded-for", "10.0.0.1")
        .body(
            json!({"n": "Signup", "u": format!("https://{SITE}/pricing"), "p": {"plan": "pro"}})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), StatusCode::ACCEPTED);
    let bot = http
        .post(server.url("/api/event"))
        .header("user-agent", "curl/8.0")
        .header("x-forwarded-for", "10.9.9.9")
        .body(json!({"n": "pageview", "u": format!("https://{SITE}/")}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(bot.status(), StatusCode::ACCEPTED);
    wait_for(&cluster, 81, Duration::from_secs(20));
    // Drop counts are written with a batch at most every 2 s.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let cookie = owner_session(&no_redirects, &server, "owner", "a long enough password").await;
    let dashboard = |path: &'static str, body: Value| {
        let request = http
            .post(server.url(path))
            .header("cookie", cookie.clone())
            .json(&body);
        async move { json_of(request).await }
    };
    let day = json!({"site_id": SITE, "date_range": "day"});
    let mut query = day.clone();
    query["metrics"] = json!(["visitors", "events"]);
    query["dimensions"] = json!(["event:name"]);
    assert_eq!(
        dashboard("/api/dashboard/query", query).await["results"],
        json!([
            {"dimensions": ["pageview"], "metrics": [60, 80]},
            {"dimensions": ["Signup"], "metrics": [1, 1]}
        ])
    );
    assert_eq!(
        dashboard("/api/dashboard/prop_keys", day.clone()).await,
        json!({"keys": ["plan"]})
    );
    assert_eq!(
        dashboard("/api/dashboard/dropped", day).await["results"],
        json!([{"reason": "bot", "events": 1}])
    );

    // The public counters, live from the writer, and loaded from ClickHouse after a restart.
    let counter = |server: &Server| {
        let url = server.url(&format!("/api/counter?site={SITE}&path=/pricing"));
        let http = http.clone();
        async move { json_of(http.get(url)).await }
    };
    let live = counter(&server).await;
    assert_eq!(live["pageviews"], json!(20), "{live}");
    assert_eq!(live["visitors"], json!(20), "{live}");
    let (dir, _) = server.stop();
    let server = Server::start_in(dir, &config(&cluster, ""), &[]);
    let loaded = counter(&server).await;
    assert_eq!(loaded["pageviews"], live["pageviews"], "{loaded}");
    assert_eq!(loaded["visitors"], live["visitors"], "{loaded}");

    // A graceful stop under load: every acknowledged event is stored.
    let mut accepted = 0u64;
    for i in 0..300 {
        if send(
            &http,
            &server,
            "/stop",
            &format!("10.1.{}.{}", i / 200, i % 200 + 1),
        )
        .await
            == StatusCode::ACCEPTED
        {
            accepted += 1;
        }
    }
    let mut server = server;
    let (status, took) = server.terminate();
    assert!(status.success(), "{}", server.logs());
    assert!(took < Duration::from_secs(10), "{took:?}");
    let stored = per_shard(&cluster).iter().sum::<u64>();
    assert_eq!(stored, 81 + accepted, "after the stop");
    // The data directory's file keeps the small tables only.
    let conn = open_db(&server.database());
    assert_eq!(count(&conn, "SELECT count(*) FROM events"), 0);
}

/// Two collectors on one cluster, each taking some of the hits: each one's public counter shows
/// all of them once its refresh has read ClickHouse again, and further refreshes count nothing
/// twice.
#[tokio::test]
async fn two_collectors_show_each_others_hits_in_the_public_counters() {
    let cluster = Cluster::start(2);
    let http = client();
    let refreshing = config(&cluster, "counters_refresh_seconds = 1");
    let first = Server::start(&refreshing);
    let second = Server::start(&refreshing);
    // 30 visitors through the first, 20 through the second; 10 of the first's read twice.
    for i in 0..50 {
        let (server, ip) = match i < 30 {
            true => (&first, format!("10.2.0.{}", i + 1)),
            false => (&second, format!("10.3.0.{}", i + 1)),
        };
        let url = format!("https://{SITE}/shared");
        pageview(&http, server, &url, &ip, FIREFOX).await;
        if i < 10 {
            pageview(&http, server, &url, &ip, FIREFOX).await;
        }
    }
    assert_eq!(
        wait_for(&cluster, 60, Duration::from_secs(20))
            .iter()
            .sum::<u64>(),
        60
    );

    for server in [&first, &second] {
        assert_eq!(shared_count_reaches(&http, server, 60, 50).await, (60, 50));
    }
    // A few more refreshes on each, and a hit after them: still each hit once.
    tokio::time::sleep(Duration::from_secs(3)).await;
    pageview(
        &http,
        &second,
        &format!("https://{SITE}/shared"),
        "10.4.0.1",
        FIREFOX,
    )
    .await;
    for server in [&second, &first] {
        assert_eq!(shared_count_reaches(&http, server, 61, 51).await, (61, 51));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    for server in [&first, &second] {
        // Returns at once if nothing was counted again, else at 15 s with the wrong count.
        assert_eq!(shared_count_reaches(&http, server, 61, 51).await, (61, 51));
    }
}

/// The public counter of `/shared` on a server, (pageviews, visitors), once it equals the
/// expected pair or after 15 s.
async fn shared_count_reaches(
    http: &reqwest::Client,
    server: &Server,
    pageviews: u64,
    visitors: u64,
) -> (u64, u64) {
    let url = server.url(&format!("/api/counter?site={SITE}&path=/shared"));
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let count = json_of(http.get(&url)).await;
        let seen = (
            count["pageviews"].as_u64().unwrap_or(0),
            count["visitors"].as_u64().unwrap_or(0),
        );
        if seen == (pageviews, visitors) {
            return seen;
        }
        if Instant::now() > deadline {
            eprintln!("{}", server.logs());
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The collector answers 202 while its queue has room, 503 with Retry-After once it is full,
/// and nothing acknowledged is lost or stored twice when the shard comes back.
#[tokio::test]
async fn a_shard_outage_loses_nothing_acknowledged() {
    let cluster = Cluster::start(2);
    let http = client();
    let server = Server::start(&config(&cluster, "[writer]\nqueue_capacity = 400\n"));
    run_script(&["stop-shard", cluster.path(), "2"]);
    let mut accepted = 0u64;
    let mut refused = 0u64;
    // Visitors spread over both shards, so half their events wait for shard 2. Sent until the
    // queue has been full for a while (the batches waiting for their commit fill first).
    let started = Instant::now();
    let mut i = 0u64;
    while refused < 200 && started.elapsed() < Duration::from_secs(60) {
        let ip = format!("10.{}.{}.{}", 2 + i / 40_000, i / 200 % 200, i % 200 + 1);
        match send(&http, &server, "/outage", &ip).await {
            StatusCode::ACCEPTED => accepted += 1,
            StatusCode::SERVICE_UNAVAILABLE => refused += 1,
            other => panic!("unexpected {other}"),
        }
        i += 1;
    }
    eprintln!(
        "shard 2 down: {accepted} accepted, then {refused} refused, in {:.1?}",
        started.elapsed()
    );
    assert!(
        refused >= 200,
        "a full queue answers 503: {accepted} accepted"
    );
    assert!(accepted > 400, "the queue's room was used: {accepted}");
    // Reads need every shard: meanwhile the Stats API says to come back.
    let key = stats_key(&server, SITE);
    let read = http
        .post(server.url("/api/v2/query"))
        .bearer_auth(&key)
        .json(&json!({"site_id": SITE, "metrics": ["visitors"], "date_range": "day"}))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(read.headers().contains_key("retry-after"));
    // The writer says why (the log is read from the server's output as it comes).
    let said = Instant::now();
    while !server.logs().contains("events failed, retrying") {
        assert!(
            said.elapsed() < Duration::from_secs(10),
            "{}",
            server.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    run_script(&["start-shard", cluster.path(), "2"]);
    let counts = wait_for(&cluster, accepted, Duration::from_secs(60));
    // A little longer: a duplicate would show as more.
    std::thread::sleep(Duration::from_secs(2));
    let counts_after = per_shard(&cluster);
    assert_eq!(counts, counts_after);
    assert_eq!(
        counts.iter().sum::<u64>(),
        accepted,
        "{accepted} acknowledged, {refused} refused, stored {counts:?}; log:\n{}",
        server.logs()
    );
}

/// `footfall migrate --from duckdb --to clickhouse` copies a DuckDB store's events and drop
/// counts, checks the counts per site, refuses to copy twice, and the server then gives the
/// same answers from ClickHouse as DuckDB gave before.
#[tokio::test]
async fn migrate_copies_a_duckdb_store_into_clickhouse() {
    use footfall_collector::{DropCount, DropReason};
    use footfall_queries::sample::{self, SampleSpec};
    use footfall_queries::{DuckDbSink, EventSink, Store, StoreOptions};

    let cluster = Cluster::start(2);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let spec = SampleSpec::small(9);
    let events = sample::generate(&spec);
    let site = spec.sites[0].clone();
    let query = json!({
        "site_id": site, "metrics": ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration"],
        "date_range": ["2026-03-06", "2026-04-02"], "dimensions": ["visit:source"]
    });
    let duckdb_answer = {
        let store = Store::open(&data.join("footfall.duckdb"), &StoreOptions::default()).unwrap();
        let mut sink = DuckDbSink::new(store.connection().unwrap());
        let drops = [DropCount {
            day: spec.last_day,
            site: site.clone(),
            reason: DropReason::Bot,
            count: 17,
        }];
        sink.write_batch(&events, &drops).unwrap();
        sink.checkpoint().unwrap();
        let conn = store.connection().unwrap();
        let request = footfall_queries::stats::api::parse(&query).unwrap();
        let plan = request
            .plan(chrono_tz::Tz::UTC, chrono::Utc::now(), None, &[])
            .unwrap();
        plan.answer(&conn, &conn).unwrap()
    };

    // The first site from the config file, the others added from the command line.
    let sites = format!("[[sites]]\ndomain = \"{site}\"\n");
    let config_text = config(&cluster, "").replace(
        &format!(
            "[[sites]]\ndomain = \"{SITE}\"\npublic_counters = true\ncounter_min_visitors = 1\n"
        ),
        &sites,
    );
    // Migrated while the file's own backend is still DuckDB.
    let config_path = dir.path().join("footfall.toml");
    std::fs::write(
        &config_path,
        config_text.replace("backend = \"clickhouse\"", "backend = \"duckdb\""),
    )
    .unwrap();
    let migrate = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_footfall"))
            .arg("--config")
            .arg(&config_path)
            .arg("--data-dir")
            .arg(&data)
            .args(["migrate", "--from", "duckdb", "--to", "clickhouse"])
            .output()
            .unwrap()
    };
    let first = migrate();
    let out = String::from_utf8_lossy(&first.stdout);
    assert!(
        first.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        out.contains(&format!(
            "copied {} events and 1 drop counts to 2 shard(s)",
            events.len()
        )),
        "{out}"
    );
    let shards = cluster.clients();
    let stored: u64 = shards
        .iter()
        .map(|c| scalar(c, "SELECT count() AS n FROM footfall.events_local"))
        .sum();
    assert_eq!(stored, events.len() as u64);
    let again = migrate();
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already holds"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    // The server on ClickHouse: the same answer.
    std::fs::remove_file(&config_path).unwrap();
    let server = Server::start_in(dir, &config_text, &[]);
    let http = client();
    let key = stats_key(&server, &site);
    let clickhouse_answer = stats_query(&http, &server, &key, query.clone()).await;
    assert_eq!(clickhouse_answer["results"], duckdb_answer["results"]);
    assert!(clickhouse_answer["results"].as_array().unwrap().len() > 3);

    // The command line counts in ClickHouse, and purges there.
    let per_site = |name: &str| events.iter().filter(|e| e.site.as_str() == name).count();
    for other in &spec.sites[1..] {
        let (ok, out, err) = cli(&server.data_dir(), &["site", "add", other]);
        assert!(ok, "{out}{err}");
    }
    let (ok, list, err) = cli(&server.data_dir(), &["site", "list"]);
    assert!(ok, "{err}");
    for name in &spec.sites {
        let line = list.lines().find(|l| l.starts_with(name.as_str())).unwrap();
        assert!(
            line.split_whitespace()
                .any(|w| w == per_site(name).to_string()),
            "{name}: {line}"
        );
    }
    let (ok, dropped, err) = cli(&server.data_dir(), &["dropped", "--days", "36500"]);
    assert!(ok, "{err}");
    assert!(
        dropped
            .lines()
            .any(|l| l.starts_with(site.as_str()) && l.contains("bot") && l.ends_with(" 17")),
        "{dropped}"
    );
    let purged = &spec.sites[1];
    let (ok, out, err) = cli(&server.data_dir(), &["site", "remove", purged, "--purge"]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains(&format!("deleted its {} events", per_site(purged))),
        "{out}"
    );
    for table in ["events_local", "daily_local", "sessions_local"] {
        let left: u64 = shards
            .iter()
            .map(|c| {
                scalar(
                    c,
                    &format!("SELECT count() AS n FROM footfall.{table} WHERE site = '{purged}'"),
                )
            })
            .sum();
        assert_eq!(left, 0, "{table}");
    }
    let kept: u64 = shards
        .iter()
        .map(|c| scalar(c, "SELECT count() AS n FROM footfall.events_local"))
        .sum();
    assert_eq!(kept, (events.len() - per_site(purged)) as u64);
}
