//! The public counts over real HTTP: the same numbers as the Stats API, nothing shown for sites
//! and paths that are not public (and no way to tell them from pages nobody visited), live
//! within seconds, cached with entity tags, and still there after a restart.

mod support;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use support::*;

const CONFIG: &str = "trusted_proxies = [\"127.0.0.1\"]\n\
    [[sites]]\ndomain = \"open.com\"\npublic_counters = true\ncounter_exclude = [\"/drafts/**\"]\n\
    [[sites]]\ndomain = \"closed.com\"\n";

async fn pageview(http: &reqwest::Client, server: &Server, url: &str, ip: &str) {
    support::pageview(http, server, url, ip, FIREFOX).await;
}

/// Status, headers and body of a GET.
async fn fetch(
    http: &reqwest::Client,
    url: String,
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let response = http.get(url).send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

async fn get(
    http: &reqwest::Client,
    server: &Server,
    query: &str,
    etag: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let mut request = http.get(server.url(&format!("/api/counter?{query}")));
    if let Some(etag) = etag {
        request = request.header("if-none-match", etag);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

async fn counter(http: &reqwest::Client, server: &Server, query: &str) -> Value {
    let (status, _, body) = get(http, server, query, None).await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// Polls until the counter reads `pageviews`, and says how long that took.
async fn until_pageviews(
    http: &reqwest::Client,
    server: &Server,
    query: &str,
    pageviews: u64,
) -> Duration {
    let started = Instant::now();
    loop {
        let body = counter(http, server, query).await;
        if body["pageviews"] == pageviews {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{query} still reads {body} after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn counts_match_the_stats_api_and_show_nothing_that_is_not_public() {
    let server = Server::start(CONFIG);
    let http = client();
    for (url, ip) in [
        ("https://open.com/", "81.2.69.10"),
        ("https://open.com/blog/post", "81.2.69.10"),
        ("https://open.com/blog/post/", "81.2.69.10"),
        ("https://open.com/blog/post?utm_source=news", "198.51.100.7"),
        ("https://open.com/blog/post", "203.0.113.9"),
        ("https://open.com/drafts/secret", "203.0.113.9"),
        ("https://closed.com/blog/post", "81.2.69.10"),
    ] {
        pageview(&http, &server, url, ip).await;
    }
    let waited = until_pageviews(&http, &server, "site=open.com&path=/blog/post", 4).await;
    assert!(waited < Duration::from_secs(5), "took {waited:?} to show");
    eprintln!("a pageview showed in the counter {waited:?} after it was accepted");

    let post = counter(&http, &server, "site=open.com&path=/blog/post&period=day").await;
    assert_eq!(
        post,
        json!({"path": "/blog/post", "pageviews": 4, "visitors": 3})
    );
    // Asked as the browser has it, the page is the one recorded.
    for asked in [
        "/blog/post/",
        "/blog/post?utm_source=x",
        "/blog/x/../post",
        "/blog/p%6Fst",
    ] {
        let query = format!("site=open.com&path={}", urlencode(asked));
        assert_eq!(
            counter(&http, &server, &query).await["pageviews"],
            4,
            "{asked}"
        );
    }
    let total = counter(&http, &server, "site=open.com").await;
    assert_eq!(
        total,
        json!({"path": "TOTAL", "pageviews": 6, "visitors": 3})
    );
    assert_eq!(
        counter(&http, &server, "site=open.com&path=TOTAL").await,
        total
    );

    // The Stats API says the same for the same page and period.
    let key = stats_key(&server, "open.com");
    for (path, period) in [
        (Some("/blog/post"), "day"),
        (Some("/"), "all"),
        (None, "7d"),
        (None, "month"),
    ] {
        let mut query = json!({"site_id": "open.com", "metrics": ["visitors", "pageviews"], "date_range": period});
        let mut ours = format!("site=open.com&period={period}");
        if let Some(path) = path {
            query["filters"] = json!([["is", "event:page", [path]]]);
            ours.push_str(&format!("&path={path}"));
        }
        let api = json_of(
            http.post(server.url("/api/v2/query"))
                .bearer_auth(&key)
                .json(&query),
        )
        .await;
        let counted = counter(&http, &server, &ours).await;
        assert_eq!(
            api["results"][0]["metrics"],
            json!([counted["visitors"], counted["pageviews"]]),
            "{ours}"
        );
    }

    // Several paths: an array, in the order asked.
    let many = counter(
        &http,
        &server,
        "site=open.com&path=/&path=/blog/post&path=/nope",
    )
    .await;
    assert_eq!(
        many,
        json!([
            {"path": "/", "pageviews": 1, "visitors": 1},
            {"path": "/blog/post", "pageviews": 4, "visitors": 3},
            {"path": "/nope", "pageviews": 0, "visitors": 0},
        ])
    );

    // Not opted in, unknown, hidden, never visited: the same answer, byte for byte.
    let zero = |path: &str| json!({"path": path, "pageviews": 0, "visitors": 0}).to_string();
    let mut answers = Vec::new();
    for query in [
        "site=closed.com&path=/blog/post",
        "site=nowhere.test&path=/blog/post",
        "site=open.com&path=/blog/never",
        "site=open.com&path=/drafts/secret",
        "site=closed.com&path=/drafts/secret",
    ] {
        let (status, headers, body) = get(&http, &server, query, None).await;
        assert_eq!(status, StatusCode::OK, "{query}");
        let path = query.split("path=").nth(1).unwrap();
        assert_eq!(body, zero(path), "{query}");
        answers.push((
            headers["content-type"].clone(),
            headers["cache-control"].clone(),
            headers.get("etag").is_some(),
        ));
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");

    // Headers: open to any page, cached a minute, revalidated by entity tag.
    let (status, headers, _) = get(&http, &server, "site=open.com&path=/", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert_eq!(headers["cache-control"], "public, max-age=60");
    assert_eq!(headers["content-type"], "application/json");
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let (status, headers, body) = get(&http, &server, "site=open.com&path=/", Some(&etag)).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    assert_eq!(headers["etag"], etag.as_str());
    // Unknown parameters change nothing, not even the tag.
    let (status, _, _) = get(
        &http,
        &server,
        "site=open.com&path=/&v=123&_=9",
        Some(&etag),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    // A new pageview changes the count, and so the tag.
    pageview(&http, &server, "https://open.com/", "198.51.100.7").await;
    until_pageviews(&http, &server, "site=open.com&path=/", 2).await;
    let (status, headers, _) = get(&http, &server, "site=open.com&path=/", Some(&etag)).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(headers["etag"], etag.as_str());

    // Bad requests say why.
    let paths = "&path=/a".repeat(101);
    for (query, reason) in [
        ("path=/", "site is required"),
        (
            "site=open.com&period=forever",
            "period \"forever\" is not one of",
        ),
        ("site=open.com&period=realtime", "is not one of"),
        ("site=not a domain", "site:"),
        (&format!("site=open.com{paths}")[..], "at most 100 path"),
    ] {
        let (status, _, body) = get(&http, &server, query, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert!(
            body["error"].as_str().unwrap().contains(reason),
            "{query}: {body}"
        );
    }

    // Counts come back after a restart, from the store.
    let before = counter(&http, &server, "site=open.com&path=/&path=/blog/post").await;
    let (dir, _) = server.stop();
    let server = Server::start_in(dir, CONFIG, &[]);
    assert_eq!(
        counter(&http, &server, "site=open.com&path=/&path=/blog/post").await,
        before
    );
}

#[tokio::test]
async fn owners_turn_counts_on_and_off_from_the_command_line() {
    let server = Server::start("trusted_proxies = [\"127.0.0.1\"]\n");
    let http = client();
    let (ok, out, err) = cli(
        &server.data_dir(),
        &["site", "add", "cli.test", "--public-counters"],
    );
    assert!(ok && out.contains("public hit counts are on"), "{out}{err}");
    pageview(&http, &server, "https://cli.test/hello", "81.2.69.10").await;
    until_pageviews(&http, &server, "site=cli.test&path=/hello", 1).await;

    let (ok, out, _) = cli(&server.data_dir(), &["site", "counters", "cli.test", "off"]);
    assert!(ok && out.contains("off"), "{out}");
    assert_eq!(
        counter(&http, &server, "site=cli.test&path=/hello").await["pageviews"],
        0
    );
    // On again: its history is loaded from the store (between two commits, within 0.2 s).
    let (ok, _, _) = cli(&server.data_dir(), &["site", "counters", "cli.test", "on"]);
    assert!(ok);
    until_pageviews(&http, &server, "site=cli.test&path=/hello", 1).await;
    // A site with history, turned on while the server runs.
    let (ok, _, _) = cli(&server.data_dir(), &["site", "add", "late.test"]);
    assert!(ok);
    pageview(&http, &server, "https://late.test/a", "81.2.69.10").await;
    pageview(&http, &server, "https://late.test/a", "198.51.100.7").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        counter(&http, &server, "site=late.test&path=/a").await["pageviews"],
        0
    );
    let (ok, _, _) = cli(&server.data_dir(), &["site", "counters", "late.test", "on"]);
    assert!(ok);
    until_pageviews(&http, &server, "site=late.test&path=/a", 2).await;
    assert_eq!(
        counter(&http, &server, "site=late.test&path=/a").await["visitors"],
        2
    );
    pageview(&http, &server, "https://late.test/a", "203.0.113.9").await;
    until_pageviews(&http, &server, "site=late.test&path=/a", 3).await;
    let (ok, _, err) = cli(
        &server.data_dir(),
        &["site", "counters", "nowhere.test", "on"],
    );
    assert!(!ok && err.contains("not a registered site"), "{err}");
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'.' | b'_' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn badges_and_popular_pages_show_only_what_is_public() {
    let config = "trusted_proxies = [\"127.0.0.1\"]\n\
        [[sites]]\ndomain = \"open.com\"\npublic_counters = true\ncounter_exclude = [\"/drafts/**\"]\n\
        counter_min_visitors = 2\n[[sites]]\ndomain = \"closed.com\"\n";
    let server = Server::start(config);
    let http = client();
    let visits: &[(&str, u8)] = &[("/a", 3), ("/b", 2), ("/lonely", 1), ("/drafts/x", 4)];
    for (path, visitors) in visits {
        for v in 0..*visitors {
            let ip = format!("198.51.100.{}", v + 1);
            pageview(&http, &server, &format!("https://open.com{path}"), &ip).await;
            pageview(&http, &server, &format!("https://closed.com{path}"), &ip).await;
        }
    }
    until_pageviews(&http, &server, "site=open.com", 10).await;

    let svg = |query: &str| fetch(&http, server.url(&format!("/api/counter.svg?{query}")));
    let (status, headers, body) = svg("site=open.com&path=/a&label=reads").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "image/svg+xml");
    assert_eq!(
        headers["content-security-policy"],
        "default-src 'none'; style-src 'unsafe-inline'"
    );
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert!(
        body.contains(">reads</text>") && body.contains(">3</text>"),
        "{body}"
    );
    let (_, _, visitors) = svg("site=open.com&metric=visitors&style=for-the-badge").await;
    // The whole site: hidden pages hide their own counts, and still count in the total.
    assert!(
        visitors.contains(">VISITORS</text>") && visitors.contains(">4</text>"),
        "{visitors}"
    );
    // Not public reads as a page nobody visited.
    let (_, _, closed) = svg("site=closed.com&path=/a").await;
    let (_, _, never) = svg("site=open.com&path=/never").await;
    let (_, _, hidden) = svg("site=open.com&path=/drafts/x").await;
    assert!(closed.contains(">0</text>"));
    assert_eq!(closed, never);
    assert_eq!(closed, hidden);
    for (query, reason) in [
        ("site=open.com&style=3d", "is not flat, flat-square"),
        ("site=open.com&color=javascript:x", "color"),
        (
            "site=open.com&metric=bounces",
            "is not pageviews or visitors",
        ),
    ] {
        let (status, _, body) = svg(query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert!(body.contains(reason), "{query}: {body}");
    }

    // Charts: SVG under the same policy; what is not public draws as zeros.
    let chart = |query: &str| fetch(&http, server.url(&format!("/api/chart.svg?{query}")));
    let (status, headers, body) = chart("site=open.com&path=/a&period=day&style=bars").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["content-type"], "image/svg+xml");
    assert_eq!(
        headers["content-security-policy"],
        "default-src 'none'; style-src 'unsafe-inline'"
    );
    assert!(
        body.starts_with("<svg") && body.contains("Visitors of /a, day"),
        "{body}"
    );
    let (_, _, spark) = chart("site=open.com&style=sparkline&period=7d&theme=dark").await;
    assert!(
        spark.contains("width=\"120\"") && !spark.contains("<text"),
        "{spark}"
    );
    let (_, _, closed) = chart("site=closed.com&path=/a&period=day").await;
    let (_, _, hidden) = chart("site=open.com&path=/drafts/x&period=day").await;
    let (_, _, never) = chart("site=open.com&path=/never&period=day").await;
    assert_eq!(
        closed.replace("/a,", "/x,"),
        hidden.replace("/drafts/x,", "/x,"),
        "not public draws as a page nobody visited"
    );
    assert_eq!(
        hidden.replace("/drafts/x,", "/x,"),
        never.replace("/never,", "/x,")
    );
    // Over all time, a private site's chart starts where an unknown site's does.
    let (_, _, private) = chart("site=closed.com&period=all").await;
    let (_, _, unknown) = chart("site=nowhere.test&period=all").await;
    assert_eq!(
        private.replace("closed.com", "x"),
        unknown.replace("nowhere.test", "x")
    );
    for (query, reason) in [
        ("site=open.com&width=5000", "width"),
        ("site=open.com&height=abc", "height"),
        ("site=open.com&style=pie", "is not line, bars or sparkline"),
        ("site=open.com&theme=neon", "is not light or dark"),
    ] {
        let (status, _, body) = chart(query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert!(body.contains(reason), "{query}: {body}");
    }

    // The most read: hidden and rarely visited pages are left out.
    let popular = json_of(http.get(server.url("/api/popular?site=open.com&period=day"))).await;
    assert_eq!(
        popular,
        json!([
            {"path": "/a", "pageviews": 3, "visitors": 3},
            {"path": "/b", "pageviews": 2, "visitors": 2},
        ])
    );
    let closed = json_of(http.get(server.url("/api/popular?site=closed.com"))).await;
    assert_eq!(closed, json!([]));
    let rss = http
        .get(server.url("/api/popular.rss?site=open.com&period=day&limit=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        rss.headers()["content-type"],
        "application/rss+xml; charset=utf-8"
    );
    let rss = rss.text().await.unwrap();
    assert!(
        rss.contains("<link>https://open.com/a</link>") && !rss.contains("/b<"),
        "{rss}"
    );
    let (status, _, _) = get(&http, &server, "site=open.com", None).await;
    assert_eq!(status, StatusCode::OK);
    let bad = http
        .get(server.url("/api/popular?site=open.com&limit=1000"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn reloading_a_page_a_thousand_times_counts_one_visitor() {
    let server = Server::start(CONFIG);
    let http = client();
    for _ in 0..1000 {
        pageview(&http, &server, "https://open.com/post", "81.2.69.10").await;
    }
    pageview(&http, &server, "https://open.com/other", "81.2.69.10").await;
    until_pageviews(&http, &server, "site=open.com&path=/other", 1).await;
    let post = counter(&http, &server, "site=open.com&path=/post").await;
    assert_eq!(
        post,
        json!({"path": "/post", "pageviews": 20, "visitors": 1}),
        "the repeat limit (20 per page and visit) bounds the pageviews"
    );
    // The drop tally is written with a batch at most every two seconds under a steady stream.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (ok, out, _) = cli(&server.data_dir(), &["dropped", "--days", "1"]);
        if ok && out.contains("repeated") && out.contains("980") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{out}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
