//! The owner's dashboard in a real browser (Debian's Chromium through playwright-core): the
//! first-run link, signing out, a failed sign-in, signing in again, a signed-out session that
//! opens nothing; then the dashboard's numbers against the Stats API for the same range and
//! filter, a click on a row that filters every panel, and the view restored from the URL; each
//! panel's tabs against the Stats API (and their keyboard use), the chart's buckets and metric,
//! yesterday and last month in the site's time zone, CSV downloads, dropped events, and a shared
//! link's read-only view.

mod support;

use std::path::Path;

use chrono::{Datelike, Duration, NaiveDate};
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::*;

#[path = "../queries/tests/common/cluster.rs"]
mod cluster;

/// The site's zone is 14 hours ahead of UTC, and the browser runs in Honolulu, 10 hours behind:
/// the site's today is always the browser's tomorrow, so a date taken in the wrong zone shows.
const CONFIG: &str = "trusted_proxies = [\"127.0.0.1\"]\n[[sites]]\ndomain = \"example.com\"\n\
    timezone = \"Pacific/Kiritimati\"\ngoals = [{ event = \"Signup\" }]\n";
const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

/// Sends an event (the Events API body) as a browser at `ip` would; returns the status.
async fn send(
    http: &reqwest::Client,
    server: &Server,
    body: Value,
    ip: &str,
    agent: &str,
) -> StatusCode {
    http.post(server.url("/api/event"))
        .header("user-agent", agent)
        .header("x-forwarded-for", ip)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .status()
}

/// A number as the dashboard shows it (`toLocaleString` in an English browser).
fn count(v: &Value) -> String {
    footfall_dashboard::number::grouped(v.as_f64().unwrap() as u64)
}

/// A JSON number as JavaScript writes it: 50.0 is "50".
fn js_number(v: &Value) -> String {
    match v.as_f64() {
        Some(f) if f.fract() == 0.0 => format!("{}", f as i64),
        Some(f) => format!("{f}"),
        None => v.to_string(),
    }
}

/// Seconds as "1m 5s", or "—" for no value.
fn duration(v: &Value) -> String {
    let Some(s) = v.as_f64() else {
        return "—".into();
    };
    let m = (s / 60.0).floor();
    if m > 0.0 {
        format!("{m}m {}s", (s % 60.0).round())
    } else {
        format!("{}s", s.round())
    }
}

/// The rows a panel shows for a Stats API answer: the dimensions' values joined ("(none)" for
/// empty), then each metric as the dashboard writes it.
fn panel_rows(answer: &Value, metrics: &[&str]) -> Value {
    let rows = answer["results"].as_array().unwrap().iter().map(|r| {
        let name: Vec<&str> = r["dimensions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| match d.as_str().unwrap() {
                "" => "(none)",
                other => other,
            })
            .collect();
        let mut row = vec![name.join(" ")];
        for (i, metric) in metrics.iter().enumerate() {
            let v = &r["metrics"][i];
            row.push(match *metric {
                "time_on_page" => duration(v),
                "conversion_rate" | "scroll_depth" if v.is_null() => "—".into(),
                "scroll_depth" => format!("{v}%"),
                "conversion_rate" => format!("{}%", js_number(v)),
                _ => count(v),
            });
        }
        row
    });
    json!(rows.collect::<Vec<_>>())
}

/// A CSV file's records (quoted fields with doubled quotes, as RFC 4180 writes them).
fn csv_records(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let (mut record, mut field, mut quoted, mut chars) =
        (Vec::new(), String::new(), false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => record.push(std::mem::take(&mut field)),
            ('\r', false) => {}
            ('\n', false) => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (c, _) => field.push(c),
        }
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    records
}

#[tokio::test]
async fn an_owner_signs_in_and_the_dashboard_shows_the_apis_numbers() {
    dashboard_shows_the_apis_numbers(CONFIG).await;
}

/// The same on the ClickHouse backend, two shards on loopback: the dashboard works unchanged.
#[tokio::test]
async fn the_dashboard_works_the_same_on_clickhouse() {
    let cluster = cluster::Cluster::start(2);
    let shards: Vec<String> = cluster
        .clients()
        .iter()
        .map(|c| format!("{:?}", c.url()))
        .collect();
    // The top-level keys first, then the sections, then the sites.
    let (top, sites) = CONFIG.split_once("[[sites]]").unwrap();
    let config = format!(
        "{top}[store]\nbackend = \"clickhouse\"\n\
         [clickhouse]\nshards = [{}]\nflush_interval_ms = 200\n[[sites]]{sites}",
        shards.join(", ")
    );
    dashboard_shows_the_apis_numbers(&config).await;
}

async fn dashboard_shows_the_apis_numbers(config: &str) {
    let server = Server::start(config);
    let http = client();
    // Visitors from two countries (the test GeoIP database knows 81.2.69.0/24 as GB), on three
    // pages; one of them bounces.
    for (path, ip, agent) in [
        ("/", "81.2.69.10", FIREFOX),
        ("/pricing", "81.2.69.10", FIREFOX),
        ("/", "198.51.100.7", IPHONE),
        ("/pricing", "198.51.100.8", FIREFOX),
        ("/blog/<script>alert(1)</script>", "198.51.100.9", IPHONE),
    ] {
        pageview(
            &http,
            &server,
            &format!("https://example.com{path}"),
            ip,
            agent,
        )
        .await;
    }
    // A visit tagged with every UTM field (from DE); one from a Hacker News link (from Paris)
    // that stays 65 s on / and signs up; two more custom events with props; and a bot, dropped.
    for (body, ip, agent) in [
        (
            json!({"n": "pageview", "u": "https://example.com/?utm_source=newsletter&utm_medium=email&utm_campaign=launch&utm_content=hero&utm_term=analytics"}),
            "203.0.113.5",
            FIREFOX,
        ),
        (
            json!({"n": "pageview", "u": "https://example.com/pricing"}),
            "203.0.113.5",
            FIREFOX,
        ),
        (
            json!({"n": "pageview", "u": "https://example.com/", "r": "https://news.ycombinator.com/item?id=1"}),
            "192.0.2.10",
            CHROME,
        ),
        (
            json!({"n": "engagement", "u": "https://example.com/", "e": 65_000, "sd": 80}),
            "192.0.2.10",
            CHROME,
        ),
        (
            json!({"n": "Signup", "u": "https://example.com/pricing", "p": {"plan": "pro"}}),
            "192.0.2.10",
            CHROME,
        ),
        (
            json!({"n": "Signup", "u": "https://example.com/pricing", "p": {"plan": "free"}}),
            "81.2.69.10",
            FIREFOX,
        ),
        (
            json!({"n": "Download", "u": "https://example.com/", "p": {"file": "a.pdf"}}),
            "198.51.100.7",
            IPHONE,
        ),
    ] {
        assert_eq!(
            send(&http, &server, body.clone(), ip, agent).await,
            StatusCode::ACCEPTED,
            "{body}"
        );
    }
    send(
        &http,
        &server,
        json!({"n": "pageview", "u": "https://example.com/"}),
        "198.51.100.50",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let site_today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Pacific::Kiritimati)
        .date_naive();
    let key = stats_key(&server, "example.com");

    let seen = browser_script(
        &server,
        "dashboard.mjs",
        &[],
        &[
            ("SETUP", &server.setup_token()),
            ("SITE_TODAY", &site_today.to_string()),
            ("SCREENSHOTS", env!("CARGO_TARGET_TMPDIR")),
        ],
    );
    // What the browser saw, as an artifact next to the screenshots.
    std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-seen.json"),
        serde_json::to_string_pretty(&seen).unwrap(),
    )
    .unwrap();
    assert_eq!(
        seen["home"],
        json!({"owner": "Signed in as ann", "sites": ["example.com"]})
    );
    assert_eq!(
        seen["cookie"],
        json!({"httpOnly": true, "sameSite": "Strict"})
    );
    assert_eq!(seen["failed"], "Wrong name or password.");
    assert_eq!(seen["oldSession"], 401);

    // The top line and the panels are the Stats API's numbers for today, unfiltered and
    // filtered by the page clicked.
    for (shown, filters) in [
        (&seen["dashboard"], json!([])),
        (
            &seen["filtered"],
            json!([["is", "event:page", ["/pricing"]]]),
        ),
    ] {
        // Views per visit is refused with a page filter, as Plausible refuses it.
        let mut metrics = vec!["visitors", "visits", "pageviews", "bounce_rate"];
        if filters == json!([]) {
            metrics.push("views_per_visit");
        } else {
            assert_eq!(shown["top"]["views_per_visit"], "—");
        }
        let top = stats_query(
            &http,
            &server,
            &key,
            json!({"site_id": "example.com", "date_range": "day",
            "metrics": metrics, "filters": filters}),
        )
        .await;
        for (i, metric) in metrics.iter().enumerate() {
            let number = &top["results"][0]["metrics"][i];
            let text = shown["top"][metric].as_str().unwrap();
            let expected = match *metric {
                "bounce_rate" => format!("{number}%"),
                // toLocaleString in an English browser: at most three decimals.
                "views_per_visit" => {
                    format!("{}", (number.as_f64().unwrap() * 1000.0).round() / 1000.0)
                }
                _ => number.to_string(),
            };
            assert_eq!(text, expected, "{metric} with {filters}");
        }
        for (dimension, key_name) in [("event:page", "pages"), ("visit:country_name", "countries")]
        {
            let rows = stats_query(
                &http,
                &server,
                &key,
                json!({"site_id": "example.com", "date_range": "day",
                "metrics": ["visitors"], "dimensions": [dimension], "filters": filters,
                "pagination": {"limit": 10}}),
            )
            .await;
            let expected: Vec<Value> = rows["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    let name = r["dimensions"][0].as_str().unwrap();
                    json!([
                        if name.is_empty() { "(none)" } else { name },
                        r["metrics"][0].to_string()
                    ])
                })
                .collect();
            assert_eq!(
                shown[key_name],
                json!(expected),
                "{dimension} with {filters}"
            );
        }
    }
    assert!(
        seen["dashboard"]["pages"].as_array().unwrap().len() == 3,
        "{seen}"
    );
    assert!(
        seen["filteredUrl"]
            .as_str()
            .unwrap()
            .contains("f=event%3Apage%7C%2Fpricing"),
        "{seen}"
    );
    assert_eq!(seen["restoredSame"], true, "the URL restores the view");
    assert_eq!(seen["chips"], json!(["Page is /pricing ✕"]));
    // Compared with yesterday (no visits then): the change the API gives, and a second line.
    let compared = stats_query(
        &http,
        &server,
        &key,
        json!({"site_id": "example.com", "date_range": "day", "metrics": ["visitors"],
            "include": {"comparisons": {"mode": "previous_period"}}}),
    )
    .await;
    let change = compared["results"][0]["comparison"]["change"][0]
        .as_i64()
        .unwrap();
    assert_eq!(seen["change"], format!("+{change}%"), "{seen}");
    assert_eq!(seen["comparedLine"], 1);

    check_tabs(&http, &server, &key, &seen).await;
    check_chart_and_periods(&http, &server, &key, &seen, site_today).await;
    check_exports(&http, &server, &key, &seen).await;
    check_shared_link(&seen);

    for shot in ["1280-light", "390-light", "1280-dark", "390-dark"] {
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("dashboard-{shot}.png"));
        let png = std::fs::read(&path).expect("the screenshot was saved");
        assert!(png.starts_with(b"\x89PNG"), "{}", path.display());
    }
}

/// Each tab shows the Stats API's rows for its query (the one its CSV link names), with the
/// values the seeded events made; a bookmark restores the tabs; arrows, Home and End move
/// between tabs; a browser version's row filters by browser and version.
async fn check_tabs(http: &reqwest::Client, server: &Server, key: &str, seen: &Value) {
    let not = |d: &str, v: Value| json!([["is_not", d, v]]);
    for (tab, dimensions, metrics, filters) in [
        (
            "top",
            json!(["event:page"]),
            &["visitors", "pageviews"][..],
            json!([]),
        ),
        (
            "time",
            json!(["event:page"]),
            &["visitors", "time_on_page", "scroll_depth"][..],
            json!([]),
        ),
        (
            "goals",
            json!(["event:goal"]),
            &["visitors", "events", "conversion_rate"][..],
            json!([]),
        ),
        (
            "exit",
            json!(["visit:exit_page"]),
            &["visitors"][..],
            json!([]),
        ),
        (
            "referrers",
            json!(["visit:referrer"]),
            &["visitors"],
            json!([]),
        ),
        (
            "utm_source",
            json!(["visit:utm_source"]),
            &["visitors"],
            not("visit:utm_source", json!(["(not set)"])),
        ),
        (
            "utm_campaign",
            json!(["visit:utm_campaign"]),
            &["visitors"],
            not("visit:utm_campaign", json!(["(not set)"])),
        ),
        ("regions", json!(["visit:region"]), &["visitors"], json!([])),
        ("cities", json!(["visit:city"]), &["visitors"], json!([])),
        (
            "browser_versions",
            json!(["visit:browser", "visit:browser_version"]),
            &["visitors"],
            json!([]),
        ),
        (
            "events",
            json!(["event:name"]),
            &["visitors", "events"],
            not("event:name", json!(["pageview", "engagement"])),
        ),
        (
            "props",
            json!(["event:props:plan"]),
            &["visitors", "events"],
            not("event:props:plan", json!(["(none)"])),
        ),
    ] {
        let query = json!({"site_id": "example.com", "date_range": "day", "metrics": metrics,
            "dimensions": dimensions, "filters": filters});
        let mut exported = query.clone();
        exported["pagination"] = json!({"limit": 10000});
        assert_eq!(seen["tabs"][tab]["q"], exported, "{tab}'s query");
        let mut shown = query;
        shown["pagination"] = json!({"limit": 10});
        let answer = stats_query(http, server, key, shown).await;
        assert_eq!(
            seen["tabs"][tab]["rows"],
            panel_rows(&answer, metrics),
            "{tab}'s rows"
        );
    }
    let rows = |tab: &str| -> Vec<Vec<String>> {
        serde_json::from_value(seen["tabs"][tab]["rows"].clone()).unwrap()
    };
    let names =
        |tab: &str| -> Vec<String> { rows(tab).into_iter().map(|r| r[0].clone()).collect() };
    // What the seeded events must show, so that the comparisons above compare something.
    assert!(rows("time").iter().any(|r| r[2] == "1m 5s"), "{seen}");
    assert!(rows("time").iter().any(|r| r[2] == "—"), "{seen}");
    assert!(names("goals").contains(&"Signup".to_owned()), "{seen}");
    assert!(names("exit").contains(&"/pricing".to_owned()), "{seen}");
    assert!(
        names("referrers")
            .iter()
            .any(|n| n.starts_with("news.ycombinator.com")),
        "{seen}"
    );
    assert_eq!(rows("utm_source"), [["newsletter", "1"]]);
    assert_eq!(rows("utm_campaign"), [["launch", "1"]]);
    assert!(names("regions").contains(&"FR-IDF".to_owned()), "{seen}");
    assert!(names("cities").contains(&"Paris".to_owned()), "{seen}");
    assert!(
        names("browser_versions")
            .iter()
            .any(|n| n.starts_with("Firefox ")),
        "{seen}"
    );
    let mut events = names("events");
    events.sort();
    assert_eq!(events, ["Download", "Signup"]);
    let mut plans = names("props");
    plans.sort();
    assert_eq!(plans, ["free", "pro"]);
    let mut keys: Vec<String> = serde_json::from_value(seen["propKeys"].clone()).unwrap();
    keys.sort();
    assert_eq!(keys, ["file", "plan"]);

    // The URL keeps each panel's tab, and a reload shows them again.
    let url = seen["tabsUrl"].as_str().unwrap();
    for part in [
        "tab_pages=exit",
        "tab_sources=utm_campaign",
        "tab_locations=cities",
        "tab_devices=browser_versions",
        "tab_goals=props",
        "prop=plan",
    ] {
        assert!(url.contains(part), "{part} in {url}");
    }
    assert_eq!(
        seen["tabsBefore"],
        json!([
            ["pages", "Exit pages"],
            ["sources", "UTM campaign"],
            ["locations", "Cities"],
            ["devices", "Browser versions"],
            ["goals", "Props"]
        ])
    );
    assert_eq!(seen["tabsRestored"], seen["tabsBefore"]);
    assert_eq!(seen["propsRestored"]["rows"], seen["tabs"]["props"]["rows"]);

    // Keys: from Exit pages, right to Time on page, then wraps to Top pages; End, Home; left
    // wraps.
    let moves: Vec<(String, String)> = seen["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            assert_eq!(
                k["focused"], k["selected"],
                "the selected tab has the focus: {k}"
            );
            assert_eq!(k["controls"], "tp-pages");
            assert_eq!(k["panelRole"], "tabpanel");
            assert_eq!(k["labelledBy"], k["id"]);
            (
                k["key"].as_str().unwrap().to_owned(),
                k["selected"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("ArrowRight", "Time on page"),
        ("ArrowRight", "Top pages"),
        ("End", "Time on page"),
        ("Home", "Top pages"),
        ("ArrowLeft", "Time on page"),
    ]
    .iter()
    .map(|(k, t)| (k.to_string(), t.to_string()))
    .collect();
    assert_eq!(moves, expected);

    // The Firefox version row: two filters, named for people.
    let version = stats_query(
        http,
        server,
        key,
        json!({"site_id": "example.com", "date_range": "day", "metrics": ["visitors"],
            "dimensions": ["visit:browser", "visit:browser_version"],
            "filters": [["is", "visit:browser", ["Firefox"]]]}),
    )
    .await["results"][0]["dimensions"][1]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        seen["versionChips"],
        json!([
            "Browser is Firefox ✕",
            format!("Browser version is {version} ✕")
        ])
    );
    let url = seen["versionUrl"].as_str().unwrap();
    assert!(url.contains("f=visit%3Abrowser%7CFirefox"), "{url}");
    assert!(
        url.contains(&format!("f=visit%3Abrowser_version%7C{version}")),
        "{url}"
    );
}

/// The chart's points are the Stats API's buckets at the chosen granularity and metric; only
/// sensible granularities are offered; yesterday and last month are the site's days.
async fn check_chart_and_periods(
    http: &reqwest::Client,
    server: &Server,
    key: &str,
    seen: &Value,
    today: NaiveDate,
) {
    let chart = &seen["chart"];
    let from = today - Duration::days(29);
    assert_eq!(chart["month"], format!("{from},{today}"));
    for (shown, bucket, metric) in [
        (&chart["byDay"], "day", "visitors"),
        (&chart["byWeek"], "week", "visitors"),
        (&chart["pageviews"], "week", "pageviews"),
    ] {
        let answer = stats_query(
            http,
            server,
            key,
            json!({"site_id": "example.com", "date_range": [from.to_string(), today.to_string()],
                "metrics": [metric], "dimensions": [format!("time:{bucket}")],
                "include": {"time_labels": true}}),
        )
        .await;
        let points: Vec<String> = answer["meta"]["time_labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|label| {
                let label = label.as_str().unwrap();
                let value = answer["results"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|r| r["dimensions"][0] == label)
                    .map_or_else(|| "0".to_owned(), |r| count(&r["metrics"][0]));
                format!("{label}: {value} {metric}")
            })
            .collect();
        assert_eq!(shown["interval"], bucket);
        assert_eq!(shown["points"], json!(points), "{bucket} {metric}");
        assert!(points.iter().any(|p| !p.contains(": 0 ")), "{points:?}");
    }
    assert_eq!(chart["byDay"]["points"].as_array().unwrap().len(), 30);
    assert_eq!(chart["byDay"]["offered"], json!(["hour", "day", "week"]));
    let url = chart["url"].as_str().unwrap();
    assert!(
        url.contains("interval=week") && url.contains("metric=pageviews"),
        "{url}"
    );
    assert_eq!(chart["day"]["offered"], json!(["hour"]));
    assert_eq!(chart["day"]["interval"], "hour");
    assert_eq!(chart["day"]["points"].as_array().unwrap().len(), 24);
    assert_eq!(chart["6mo"]["offered"], json!(["day", "week", "month"]));
    assert_eq!(chart["6mo"]["interval"], "month");

    let yesterday = (today - Duration::days(1)).to_string();
    let this_month = today.with_day(1).unwrap();
    let last_month = (this_month - Duration::days(1)).with_day(1).unwrap();
    for (period, range) in [
        ("yesterday", json!([yesterday, yesterday])),
        (
            "last_month",
            json!([
                last_month.to_string(),
                (this_month - Duration::days(1)).to_string()
            ]),
        ),
    ] {
        let shown = &seen["periods"][period];
        assert!(
            shown["url"]
                .as_str()
                .unwrap()
                .contains(&format!("period={period}")),
            "{shown}"
        );
        assert_eq!(shown["q"]["date_range"], range, "{period}");
        let answer = stats_query(
            http,
            server,
            key,
            json!({"site_id": "example.com", "date_range": range, "metrics": ["visitors"]}),
        )
        .await;
        assert_eq!(
            shown["visitors"],
            count(&answer["results"][0]["metrics"][0])
        );
    }
    let from = today - Duration::days(2);
    let custom = &seen["periods"]["custom"];
    assert!(
        custom["url"]
            .as_str()
            .unwrap()
            .contains(&format!("period={from}%2C{today}")),
        "{custom}"
    );
    let answer = stats_query(
        http,
        server,
        key,
        json!({"site_id": "example.com", "date_range": [from.to_string(), today.to_string()],
            "metrics": ["visitors"]}),
    )
    .await;
    assert_eq!(
        custom["visitors"],
        count(&answer["results"][0]["metrics"][0])
    );
}

/// The CSV files downloaded are the panel's rows and the range's buckets; the dropped events
/// panel shows the server's counts.
async fn check_exports(http: &reqwest::Client, server: &Server, key: &str, seen: &Value) {
    let range_q: Value = {
        let href = seen["rangeHref"].as_str().unwrap();
        let url = reqwest::Url::parse(&format!("http://x{href}")).unwrap();
        assert_eq!(url.path(), "/api/dashboard/export.csv");
        let q = url.query_pairs().find(|(k, _)| k == "q").unwrap().1;
        serde_json::from_str(&q).unwrap()
    };
    let metrics = [
        "visitors",
        "visits",
        "pageviews",
        "views_per_visit",
        "bounce_rate",
        "visit_duration",
    ];
    assert_eq!(
        range_q,
        json!({"site_id": "example.com", "date_range": "day", "metrics": metrics,
            "dimensions": ["time:hour"], "filters": [], "pagination": {"limit": 10000}})
    );

    // Dropped events: the bot, as the server counts it.
    let dropped = &seen["dropped"];
    assert!(
        !dropped["api"].is_null(),
        "POST /api/dashboard/dropped answered no JSON"
    );
    let expected: Vec<Value> = dropped["api"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| json!([r["reason"], count(&r["events"])]))
        .collect();
    assert_eq!(dropped["shown"], json!(expected));
    assert!(
        expected.iter().any(|r| r[0] == "bot"),
        "the bot is counted: {dropped}"
    );

    // The exit pages' CSV: the panel's rows, with the raw numbers.
    let csv = &seen["panelCsv"];
    assert!(
        csv["failure"].is_null(),
        "the panel's CSV did not download (GET /api/dashboard/export.csv): {csv}"
    );
    let records = csv_records(csv["text"].as_str().unwrap());
    let shown: Vec<Vec<String>> = serde_json::from_value(seen["exitRows"]["rows"].clone()).unwrap();
    assert_eq!(
        records.len(),
        shown.len() + 1,
        "a header and the rows: {csv}"
    );
    for (record, row) in records[1..].iter().zip(&shown) {
        let name = if row[0] == "(none)" { "" } else { &row[0] };
        assert_eq!(
            (record[0].as_str(), record[1].as_str()),
            (name, row[1].as_str()),
            "{csv}"
        );
    }
    // The range's CSV: a row for each bucket the Stats API has, with its numbers.
    let csv = &seen["rangeCsv"];
    assert!(
        csv["failure"].is_null(),
        "the range's CSV did not download: {csv}"
    );
    let records = csv_records(csv["text"].as_str().unwrap());
    let mut asked = range_q.clone();
    asked["pagination"] = json!({"limit": 10000});
    let answer = stats_query(http, server, key, asked).await;
    for row in answer["results"].as_array().unwrap() {
        let label = row["dimensions"][0].as_str().unwrap();
        let record = records
            .iter()
            .find(|r| r[0] == label)
            .unwrap_or_else(|| panic!("no {label} in {csv}"));
        assert_eq!(record[1], js_number(&row["metrics"][0]), "{csv}");
    }
}

/// A shared link shows the same numbers read-only: no site switcher, sign-out, settings or
/// dropped events; the token goes with every request; embedded, no header; revoked, a message.
fn check_shared_link(seen: &Value) {
    let shared = &seen["shared"];
    let token = shared["token"].as_str().unwrap();
    let view = &shared["view"];
    assert_eq!(view["title"], "example.com");
    assert_eq!(view["label"], "For the team");
    assert_eq!(view["siteSwitcher"], false);
    assert_eq!(view["signOut"], false);
    assert_eq!(view["settings"], 0);
    assert_eq!(view["dropped"], 0);
    assert_eq!(
        view["panels"],
        json!(["pages", "sources", "locations", "devices", "goals"])
    );
    assert_eq!(view["pages"], seen["dashboard"]["pages"]);
    let requests = shared["tokens"].as_array().unwrap();
    assert!(requests.len() > 10, "{shared}");
    for request in requests {
        assert!(
            request[0].as_str().unwrap().starts_with("/api/share/"),
            "{request}"
        );
        assert_eq!(request[1], token, "{request}");
    }
    assert!(
        view["exportHref"]
            .as_str()
            .unwrap()
            .starts_with(&format!("/api/share/export.csv?share={token}&q=")),
        "{view}"
    );
    assert_eq!(
        shared["filteredUrl"],
        format!("/share/{token}?period=day&f=event%3Apage%7C%2Fpricing")
    );
    let embed = &shared["embed"];
    assert!(
        embed["bodyClass"].as_str().unwrap().contains("embed"),
        "{embed}"
    );
    assert_eq!(embed["header"], false);
    let url = embed["url"].as_str().unwrap();
    assert!(
        url.contains("period=7d") && url.contains("embed=true"),
        "{url}"
    );
    let revoked = &shared["revoked"];
    assert!(
        revoked["notice"].as_str().unwrap().contains("revoked"),
        "{shared}"
    );
    assert_eq!(
        revoked["path"],
        format!("/share/{token}"),
        "not sent to /login"
    );
}
