//! The server over real HTTP: the binary on a random port, a temporary DuckDB file.

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use support::*;

const SITE: &str = "trusted_proxies = [\"127.0.0.1\"]\n[[sites]]\ndomain = \"example.com\"\n";

async fn post(
    client: &reqwest::Client,
    server: &Server,
    body: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = client.post(server.url("/api/event")).body(body.to_owned());
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    request.send().await.unwrap()
}

async fn accepted(client: &reqwest::Client, server: &Server, body: &str, headers: &[(&str, &str)]) {
    let response = post(client, server, body, headers).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED, "{body}");
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    assert_eq!(response.text().await.unwrap(), "{}");
}

#[tokio::test]
async fn plausible_payloads_are_recorded_with_every_field() {
    let server = Server::start(SITE);
    let http = client();
    // Short keys, text/plain (what trackers send to avoid a preflight).
    accepted(
        &http,
        &server,
        r#"{"n":"pageview","u":"https://www.example.com/blog/post/?utm_source=newsletter&utm_medium=email&utm_campaign=launch&gclid=secret123","d":"example.com","r":"https://news.ycombinator.com/item?id=42","p":{"author":"ann","n":7}}"#,
        &[("content-type", "text/plain"), ("user-agent", FIREFOX), ("x-forwarded-for", "81.2.69.10")],
    )
    .await;
    // Long keys, application/json, another visitor.
    accepted(
        &http,
        &server,
        r#"{"name":"Signup","url":"https://example.com/pricing","domain":"example.com","props":{"plan":"pro"},"interactive":true,"referrer":null}"#,
        &[("content-type", "application/json"), ("user-agent", IPHONE), ("x-forwarded-for", "192.0.2.5")],
    )
    .await;
    // An engagement event of the first visitor, with no content type at all.
    accepted(
        &http,
        &server,
        r#"{"n":"engagement","u":"https://example.com/blog/post","d":"example.com","sd":80,"e":15000,"$":{"amount":"9.99","currency":"EUR"}}"#,
        &[("user-agent", FIREFOX), ("x-forwarded-for", "81.2.69.10")],
    )
    .await;
    // Hash-mode pageview, domain derived from the URL.
    accepted(
        &http,
        &server,
        r##"{"n":"pageview","u":"https://example.com/app/#/settings","h":1}"##,
        &[
            ("content-type", "text/plain"),
            ("user-agent", FIREFOX),
            ("x-forwarded-for", "81.2.69.10"),
        ],
    )
    .await;

    let (dir, _) = server.stop();
    let db = open_db(&dir.path().join("data/footfall.duckdb"));
    let mut stmt = db
        .prepare(
            "SELECT name, hostname, path, referrer, source, utm_source, utm_medium, utm_campaign, click_id,
                    country, region, city, browser, os, device, props['author'], props['n'], props['plan'],
                    engaged_ms, scroll_depth, visitor_id, session_id, site
             FROM events ORDER BY ts",
        )
        .unwrap();
    type Row = (
        Vec<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<u32>,
        Option<u8>,
        u64,
        u64,
        String,
    );
    let rows: Vec<Row> = stmt
        .query_map([], |r| {
            Ok((
                (0..15)
                    .map(|i| r.get(i))
                    .collect::<Result<Vec<String>, _>>()?,
                r.get(15)?,
                r.get(16)?,
                r.get(17)?,
                r.get(18)?,
                r.get(19)?,
                r.get(20)?,
                r.get(21)?,
                r.get(22)?,
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 4);

    let (pageview, author, n, _, engaged, scroll, visitor, session, site) = &rows[0];
    assert_eq!(
        pageview,
        &[
            "pageview",
            "example.com",
            "/blog/post",
            "news.ycombinator.com/item",
            "newsletter",
            "newsletter",
            "email",
            "launch",
            "gclid",
            "GB",
            "",
            "",
            "Firefox",
            "Linux",
            "Desktop",
        ]
    );
    assert_eq!(
        (author.as_deref(), n.as_deref(), *engaged, *scroll),
        (Some("ann"), Some("7"), None, None)
    );
    assert_eq!(site, "example.com");

    let (signup, _, _, plan, ..) = &rows[1];
    assert_eq!(
        (
            signup[0].as_str(),
            signup[2].as_str(),
            signup[4].as_str(),
            signup[9].as_str(),
            signup[10].as_str(),
            signup[11].as_str()
        ),
        ("Signup", "/pricing", "", "FR", "FR-IDF", "Paris")
    );
    assert_eq!(signup[12..], ["Safari", "iOS", "Mobile"]);
    assert_eq!(plan.as_deref(), Some("pro"));
    assert_ne!(rows[1].6, *visitor, "another visitor");

    let (engagement, _, _, _, engaged, scroll, v2, s2, _) = &rows[2];
    assert_eq!(
        (engagement[0].as_str(), *engaged, *scroll),
        ("engagement", Some(15000), Some(80))
    );
    assert_eq!((v2, s2), (visitor, session), "same visitor, same visit");

    let (hash_page, ..) = &rows[3];
    assert_eq!(hash_page[2], "/app#/settings");

    // The gclid value itself is never stored.
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM events WHERE list_contains(map_values(props), 'secret123')"
        ),
        0
    );
}

#[tokio::test]
async fn the_pixel_records_a_pageview_without_javascript() {
    let server = Server::start(SITE);
    let http = client();
    let response = http
        .get(
            server.url(
                "/api/event.gif?d=example.com&u=https%3A%2F%2Fexample.com%2Fno-js&r=https%3A%2F%2Fduckduckgo.com%2F",
            ),
        )
        .header("user-agent", FIREFOX)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/gif");
    assert!(response.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("no-store"));
    let gif = response.bytes().await.unwrap();
    assert_eq!(&gif[..6], b"GIF89a");
    assert_eq!((gif[6], gif[8]), (1, 1), "1×1");

    // Without u or p, the page is the one in the Referer header.
    let response = http
        .get(server.url("/api/event.gif?d=example.com"))
        .header("user-agent", FIREFOX)
        .header("referer", "https://example.com/from-referer")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = http
        .get(server.url("/api/event.gif?d=example.com&p=/by-path"))
        .header("user-agent", FIREFOX)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = http
        .get(server.url("/api/event.gif?d=example.com"))
        .header("user-agent", FIREFOX)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "no page at all");

    let (dir, _) = server.stop();
    let db = open_db(&dir.path().join("data/footfall.duckdb"));
    let mut stmt = db
        .prepare("SELECT path, source FROM events WHERE name = 'pageview' ORDER BY ts")
        .unwrap();
    let rows: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        rows,
        vec![
            ("/no-js".to_owned(), "DuckDuckGo".to_owned()),
            ("/from-referer".to_owned(), String::new()),
            ("/by-path".to_owned(), String::new()),
        ]
    );
}

#[tokio::test]
async fn every_bad_input_gets_a_4xx_with_a_reason_and_nothing_is_stored() {
    let server = Server::start(SITE);
    let http = client();
    let long = |n: usize| "a".repeat(n);
    let props = (0..31)
        .map(|i| format!("\"k{i}\":\"v\""))
        .collect::<Vec<_>>()
        .join(",");
    let cases: Vec<(Vec<u8>, StatusCode, &str)> = vec![
        (
            b"{not json".to_vec(),
            StatusCode::BAD_REQUEST,
            "not valid JSON",
        ),
        (b"".to_vec(), StatusCode::BAD_REQUEST, "not valid JSON"),
        (b"[]".to_vec(), StatusCode::BAD_REQUEST, "JSON object"),
        (
            br#"{"n":"pageview"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "url is required",
        ),
        (
            br#"{"u":"https://example.com/"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "event name is required",
        ),
        (
            br#"{"n":"x","u":"javascript:alert(1)"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "http or https",
        ),
        (
            br#"{"n":"x","u":"data:text/html,x"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "http or https",
        ),
        (
            br#"{"n":"x","u":"file:///etc/passwd"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "http or https",
        ),
        (
            b"{\"n\":\"x\",\"u\":\"https://example.com/\xff\"}".to_vec(),
            StatusCode::BAD_REQUEST,
            "UTF-8",
        ),
        (
            format!(r#"{{"n":"x","u":"https://example.com/","p":{{{props}}}}}"#).into_bytes(),
            StatusCode::BAD_REQUEST,
            "more than 30 props",
        ),
        (
            format!(
                r#"{{"n":"x","u":"https://example.com/","p":{{"{}":"v"}}}}"#,
                long(301)
            )
            .into_bytes(),
            StatusCode::BAD_REQUEST,
            "prop name",
        ),
        (
            format!(
                r#"{{"n":"x","u":"https://example.com/","p":{{"k":"{}"}}}}"#,
                long(2001)
            )
            .into_bytes(),
            StatusCode::BAD_REQUEST,
            "prop value",
        ),
        (
            format!(r#"{{"n":"x","u":"https://example.com/{}"}}"#, long(2000)).into_bytes(),
            StatusCode::BAD_REQUEST,
            "url is longer",
        ),
        (
            format!(
                r#"{{"n":"x","u":"https://example.com/","r":"https://r.com/{}"}}"#,
                long(2000)
            )
            .into_bytes(),
            StatusCode::BAD_REQUEST,
            "referrer is longer",
        ),
        (
            format!(r#"{{"n":"{}","u":"https://example.com/"}}"#, long(121)).into_bytes(),
            StatusCode::BAD_REQUEST,
            "event name is longer",
        ),
        (
            format!(
                r#"{{"n":"x","u":"https://example.com/","p":{{"k":"{}"}}}}"#,
                long(9000)
            )
            .into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "larger than 8192 bytes",
        ),
        (
            br#"{"n":"x","u":"https://example.com/","d":"exa mple.com"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid domain",
        ),
        (
            br#"{"n":"a","name":"b","u":"https://example.com/"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "duplicate field",
        ),
        (
            b"{\"n\":\"x\",\"u\":\"https://example.com/\\ud800\"}".to_vec(),
            StatusCode::BAD_REQUEST,
            "not valid JSON",
        ),
        (
            format!("{}{}", "[".repeat(1000), "]".repeat(1000)).into_bytes(),
            StatusCode::BAD_REQUEST,
            "JSON object",
        ),
        (
            format!(
                "{{\"n\":\"x\",\"u\":\"https://example.com/\",\"p\":{}{}}}",
                "{\"a\":".repeat(200),
                "}".repeat(200)
            )
            .into_bytes(),
            StatusCode::BAD_REQUEST,
            "not valid JSON",
        ),
    ];
    for (body, status, reason) in &cases {
        let response = http
            .post(server.url("/api/event"))
            .header("user-agent", FIREFOX)
            .header("content-type", "text/plain")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            *status,
            "{}",
            String::from_utf8_lossy(body)
        );
        let json: serde_json::Value = response.json().await.unwrap();
        let error = json["error"].as_str().unwrap_or_default();
        assert!(
            error.contains(reason),
            "{} → {error:?}, wanted {reason:?}",
            String::from_utf8_lossy(body)
        );
    }
    // A body announced as too large is refused before it is read, and the server then closes
    // the connection: a client of its own, so the next requests do not race that close.
    let response = client()
        .post(server.url("/api/event"))
        .header("content-length", "100000")
        .body(vec![b' '; 100_000])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Wrong methods.
    assert_eq!(
        http.get(server.url("/api/event"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        http.delete(server.url("/api/event.gif"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
    // A CORS preflight from any origin is allowed.
    let preflight = http
        .request(reqwest::Method::OPTIONS, server.url("/api/event"))
        .header("origin", "https://example.com")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");

    assert!(!server.logs().contains("panicked"), "{}", server.logs());
    let (dir, _) = server.stop();
    let db = open_db(&dir.path().join("data/footfall.duckdb"));
    assert_eq!(count(&db, "SELECT count(*) FROM events"), 0);
    let invalid = count(
        &db,
        "SELECT coalesce(sum(count), 0)::BIGINT FROM dropped_events WHERE reason = 'invalid'",
    );
    assert!(
        invalid >= cases.len() as i64 - 2,
        "invalid drops counted: {invalid}"
    );
}

#[tokio::test]
async fn bots_unknown_sites_spam_and_exclusions_are_dropped_and_counted() {
    let server =
        Server::start("[[sites]]\ndomain = \"example.com\"\nexclude_paths = [\"/admin/**\"]\nrespect_dnt = true\n");
    let http = client();
    let page = r#"{"n":"pageview","u":"https://example.com/"}"#;
    let engagement = r#"{"n":"engagement","u":"https://example.com/","e":5000,"sd":40}"#;
    let cases: &[(&str, &[(&str, &str)])] = &[
        (page, &[("user-agent", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")]),
        (page, &[("user-agent", "curl/8.5.0")]),
        (page, &[("user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36")]),
        (page, &[]),
        (page, &[("user-agent", FIREFOX), ("sec-purpose", "prefetch;prerender")]),
        (r#"{"n":"pageview","u":"https://other.org/"}"#, &[("user-agent", FIREFOX)]),
        (r#"{"n":"pageview","u":"https://example.com/","r":"https://semalt.com/x"}"#, &[("user-agent", FIREFOX)]),
        (r#"{"n":"pageview","u":"https://example.com/admin/users/3"}"#, &[("user-agent", FIREFOX)]),
        (page, &[("user-agent", FIREFOX), ("dnt", "1")]),
        (page, &[("user-agent", FIREFOX), ("sec-gpc", "1")]),
        // Engagement of a visit that is not going on (another visitor): no visit of its own.
        (engagement, &[("user-agent", IPHONE)]),
    ];
    for (body, headers) in cases {
        accepted(&http, &server, body, headers).await;
    }
    accepted(&http, &server, page, &[("user-agent", FIREFOX)]).await;
    accepted(&http, &server, engagement, &[("user-agent", FIREFOX)]).await;
    let (dir, logs) = server.stop();
    assert!(logs.contains("events for other.org are dropped"), "{logs}");
    assert!(logs.contains("events not recorded"), "{logs}");
    let db = open_db(&dir.path().join("data/footfall.duckdb"));
    assert_eq!(
        count(&db, "SELECT count(*) FROM events"),
        2,
        "only the real visit: its pageview and its engagement"
    );
    assert_eq!(
        count(&db, "SELECT count(DISTINCT session_id) FROM events"),
        1
    );
    let mut stmt = db
        .prepare(
            "SELECT site, reason, sum(count)::BIGINT FROM dropped_events GROUP BY ALL ORDER BY ALL",
        )
        .unwrap();
    let drops: Vec<(String, String, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let d = |site: &str, reason: &str, n: i64| (site.to_owned(), reason.to_owned(), n);
    assert_eq!(
        drops,
        vec![
            d("", "unknown_site", 1),
            d("example.com", "bot", 5),
            d("example.com", "excluded", 3),
            d("example.com", "no_visit", 1),
            d("example.com", "spam", 1)
        ]
    );
}

#[tokio::test]
async fn forwarding_headers_count_only_from_trusted_proxies() {
    async fn visitors_and_countries(config: &str) -> Vec<(u64, String)> {
        let server = Server::start(config);
        let http = client();
        for ip in ["81.2.69.10", "198.51.100.20"] {
            for header in ["x-forwarded-for", "x-real-ip", "cf-connecting-ip"] {
                accepted(
                    &http,
                    &server,
                    r#"{"n":"pageview","u":"https://example.com/"}"#,
                    &[("user-agent", FIREFOX), (header, ip)],
                )
                .await;
            }
            let forwarded = format!("for={ip}");
            accepted(
                &http,
                &server,
                r#"{"n":"pageview","u":"https://example.com/"}"#,
                &[("user-agent", FIREFOX), ("forwarded", &forwarded)],
            )
            .await;
        }
        let (dir, _) = server.stop();
        let db = open_db(&dir.path().join("data/footfall.duckdb"));
        let mut stmt = db
            .prepare("SELECT visitor_id, country FROM events ORDER BY ts")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    let untrusted = visitors_and_countries("[[sites]]\ndomain = \"example.com\"\n").await;
    assert_eq!(untrusted.len(), 8);
    assert!(
        untrusted
            .iter()
            .all(|(v, c)| *v == untrusted[0].0 && c.is_empty()),
        "headers ignored: {untrusted:?}"
    );

    let trusted = visitors_and_countries(SITE).await;
    assert!(
        trusted[..4]
            .iter()
            .all(|(v, c)| *v == trusted[0].0 && c == "GB"),
        "{trusted:?}"
    );
    assert!(
        trusted[4..]
            .iter()
            .all(|(v, c)| *v == trusted[4].0 && c == "US"),
        "{trusted:?}"
    );
    assert_ne!(trusted[0].0, trusted[4].0);
}

#[tokio::test]
async fn sigterm_drains_the_queue_and_loses_no_acknowledged_event() {
    let server = Server::start(SITE);
    let http = client();
    let n = 2_000;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let (http, url) = (http.clone(), server.url("/api/event"));
        tasks.spawn(async move {
            http.post(url)
                .header("user-agent", FIREFOX)
                .header("x-forwarded-for", format!("198.51.100.{}", i % 250))
                .body(format!(
                    r#"{{"n":"pageview","u":"https://example.com/post/{i}"}}"#
                ))
                .send()
                .await
                .unwrap()
                .status()
        });
        if tasks.len() >= 64 {
            assert_eq!(
                tasks.join_next().await.unwrap().unwrap(),
                StatusCode::ACCEPTED
            );
        }
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.unwrap(), StatusCode::ACCEPTED);
    }
    // SIGTERM right after the last 202: the events are still in the queue or the open batch.
    let (dir, logs) = server.stop();
    assert!(logs.contains("SIGTERM received"), "{logs}");
    let db = open_db(&dir.path().join("data/footfall.duckdb"));
    assert_eq!(count(&db, "SELECT count(*) FROM events"), n);
    assert_eq!(count(&db, "SELECT count(DISTINCT path) FROM events"), n);
}

#[tokio::test]
async fn no_ip_address_reaches_the_disk_or_the_logs() {
    let server = Server::start(SITE);
    let http = client();
    let addresses = [
        "198.51.100.213",
        "81.2.69.177",
        "2001:db8:beef::4242",
        "192.0.2.199",
    ];
    for (i, ip) in addresses.iter().enumerate() {
        for path in ["/", "/pricing", "/blog/x"] {
            accepted(
                &http,
                &server,
                &format!(
                    r#"{{"n":"pageview","u":"https://example.com{path}","r":"https://google.com/","p":{{"i":"{i}"}}}}"#
                ),
                &[("user-agent", FIREFOX), ("x-forwarded-for", ip)],
            )
            .await;
        }
        // Rejected and dropped requests from the same address, which take the error paths.
        let response = post(&http, &server, "{bad", &[("x-forwarded-for", ip)]).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        accepted(
            &http,
            &server,
            r#"{"n":"pageview","u":"https://unregistered.example/"}"#,
            &[("user-agent", FIREFOX), ("x-forwarded-for", ip)],
        )
        .await;
        accepted(
            &http,
            &server,
            r#"{"n":"pageview","u":"https://example.com/"}"#,
            &[("user-agent", "curl/8"), ("x-forwarded-for", ip)],
        )
        .await;
    }
    let (dir, logs) = server.stop();
    let db_rows = count(
        &open_db(&dir.path().join("data/footfall.duckdb")),
        "SELECT count(*) FROM events",
    );
    assert_eq!(db_rows, 12);

    let mut needles: Vec<(String, Vec<u8>)> = Vec::new();
    for ip in addresses {
        let parsed: std::net::IpAddr = ip.parse().unwrap();
        needles.push((format!("{ip} as text"), ip.as_bytes().to_vec()));
        match parsed {
            std::net::IpAddr::V4(v4) => {
                needles.push((format!("{ip} as 4 bytes"), v4.octets().to_vec()));
                needles.push((
                    format!("{ip} as u32 LE"),
                    u32::from(v4).to_le_bytes().to_vec(),
                ));
                needles.push((
                    format!("{ip} as mapped v6"),
                    v4.to_ipv6_mapped().octets().to_vec(),
                ));
            }
            std::net::IpAddr::V6(v6) => {
                needles.push((format!("{ip} as 16 bytes"), v6.octets().to_vec()));
                needles.push((
                    format!("{ip} as u128 LE"),
                    u128::from(v6).to_le_bytes().to_vec(),
                ));
                let full = v6
                    .segments()
                    .iter()
                    .map(|s| format!("{s:04x}"))
                    .collect::<Vec<_>>()
                    .join(":");
                needles.push((format!("{ip} expanded"), full.into_bytes()));
            }
        }
    }
    let data_dir = dir.path().join("data");
    let mut files = Vec::new();
    let mut stack = vec![data_dir.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path)
            } else {
                files.push(path)
            }
        }
    }
    assert!(
        files.iter().any(|f| f.ends_with("footfall.duckdb")),
        "{files:?}"
    );
    let haystacks: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|f| (f.display().to_string(), std::fs::read(f).unwrap()))
        .chain([("the server's log".to_owned(), logs.into_bytes())])
        .collect();
    for (where_, bytes) in &haystacks {
        for (what, needle) in &needles {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_slice()),
                "found {what} in {where_}"
            );
        }
    }
}

#[tokio::test]
async fn healthz_runs_a_real_query() {
    let server = Server::start(SITE);
    let response = client().get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["writer"]["running"], true);
    assert_eq!(body["sites"], 1);
}

#[tokio::test]
async fn sites_are_managed_from_the_command_line_with_or_without_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (ok, out, err) = cli(&data, &["site", "add", "www.Blog.example"]);
    assert!(ok, "{err}");
    assert!(out.contains("added blog.example"), "{out}");
    let (ok, out, _) = cli(&data, &["site", "add", "blog.example"]);
    assert!(ok && out.contains("already registered"), "{out}");
    let (ok, _, err) = cli(&data, &["site", "add", "not a domain"]);
    assert!(!ok && err.contains("invalid domain"), "{err}");
    let (ok, _, err) = cli(
        &data,
        &["site", "add", "x.example", "--timezone", "Nowhere/Land"],
    );
    assert!(!ok && err.contains("time zone"), "{err}");

    // With the server running, commands go through its socket and take effect at once.
    let server = Server::start_in(dir, "", &[]);
    let (ok, out, err) = cli(
        &server.data_dir(),
        &["site", "add", "shop.example", "--timezone", "Europe/Berlin"],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("added shop.example (time zone Europe/Berlin)"),
        "{out}"
    );
    let http = client();
    for site in ["blog.example", "shop.example", "gone.example"] {
        accepted(
            &http,
            &server,
            &format!(r#"{{"n":"pageview","u":"https://{site}/"}}"#),
            &[("user-agent", FIREFOX)],
        )
        .await;
    }
    // Give the writer a moment to commit, so the list shows counts.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (ok, out, _) = cli(&server.data_dir(), &["site", "list"]);
    assert!(ok);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[1].starts_with("blog.example") && lines[1].trim_end().ends_with(" 1  no"),
        "{out}"
    );
    assert_eq!(
        lines[1].find("UTC"),
        lines[0].find("TIME ZONE"),
        "columns line up: {out}"
    );
    assert!(lines[2].contains("Europe/Berlin"), "{out}");
    let (ok, out, _) = cli(&server.data_dir(), &["site", "remove", "shop.example"]);
    assert!(ok && out.contains("removed shop.example"), "{out}");
    accepted(
        &http,
        &server,
        r#"{"n":"pageview","u":"https://shop.example/"}"#,
        &[("user-agent", FIREFOX)],
    )
    .await;
    let (ok, _, err) = cli(&server.data_dir(), &["site", "remove", "shop.example"]);
    assert!(!ok && err.contains("not a registered site"), "{err}");
    let (dir, _) = server.stop();

    // Stopped again: the command line opens the file itself.
    let (ok, out, err) = cli(&dir.path().join("data"), &["dropped", "--days", "1"]);
    assert!(ok, "{err}");
    assert!(out.contains("unknown_site") && out.contains("2"), "{out}");
    let (ok, out, _) = cli(
        &dir.path().join("data"),
        &["site", "remove", "blog.example", "--purge"],
    );
    assert!(ok && out.contains("deleted its 1 events"), "{out}");
    let db = open_db(&dir.path().join("data/footfall.duckdb"));
    assert_eq!(
        count(&db, "SELECT count(*) FROM events"),
        1,
        "shop.example's event is kept after removal"
    );
}

#[tokio::test]
async fn a_command_line_that_cannot_reach_the_server_says_the_file_is_in_use() {
    let server = Server::start(SITE);
    std::fs::remove_file(server.data_dir().join("footfall.sock")).unwrap();
    let (ok, _, err) = cli(&server.data_dir(), &["site", "list"]);
    assert!(!ok);
    assert!(
        err.contains("is in use by another process") && err.contains("does not answer"),
        "{err}"
    );
    server.stop();
}

#[test]
fn a_bad_configuration_stops_the_start_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[writer]\nflush_interval_ms = 0\n").unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_footfall"))
        .arg("--config")
        .arg(&config)
        .args(["--data-dir"])
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("writer.flush_interval_ms: must be between 1 and 5000 (got 0)"),
        "{stderr}"
    );

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_footfall"))
        .args(["--data-dir"])
        .arg(dir.path().join("data"))
        .env("FOOTFALL_CONFIG", dir.path().join("missing.toml"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot read config file"));
}

#[tokio::test]
async fn the_tracker_is_served_under_its_names_with_caching_headers() {
    use footfall_collector::tracker;

    let server = Server::start(SITE);
    let http = client();
    for path in [
        "/script.js",
        "/script.hash.js",
        "/js/script.js",
        "/js/script.hash.outbound-links.file-downloads.js",
    ] {
        let response = http.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers().clone();
        assert_eq!(headers["content-type"], "text/javascript; charset=utf-8");
        assert_eq!(
            headers["cache-control"],
            "public, max-age=86400, stale-while-revalidate=604800"
        );
        assert_eq!(headers["etag"], tracker::etag());
        assert_eq!(headers["access-control-allow-origin"], "*");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(&response.bytes().await.unwrap()[..], tracker::SCRIPT);
    }

    // A browser revalidating its copy gets a 304 without a body.
    let response = http
        .get(server.url("/script.js"))
        .header("if-none-match", tracker::etag())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(response.headers()["etag"], tracker::etag());
    assert!(response.bytes().await.unwrap().is_empty());
    let stale = http
        .get(server.url("/script.js"))
        .header("if-none-match", "W/\"an-older-tracker\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::OK);

    // Compressed for browsers that accept it.
    for encoding in ["gzip", "br"] {
        let response = http
            .get(server.url("/js/script.js"))
            .header("accept-encoding", encoding)
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["content-encoding"], encoding);
        assert_eq!(response.headers()["vary"], "accept-encoding");
        let body = response.bytes().await.unwrap();
        assert!(
            body.len() < tracker::SCRIPT.len() * 2 / 3,
            "{encoding}: {}",
            body.len()
        );
    }

    // HEAD answers like GET, without the body.
    let head = http.head(server.url("/script.js")).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()["etag"], tracker::etag());

    // Other names under /js/ are not ours, and the script takes no POST.
    for path in [
        "/js/other.js",
        "/js/script.js.map",
        "/js/script..js",
        "/js/script.A.js",
    ] {
        let response = http.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains("/js/script.js"));
    }
    let post = http.post(server.url("/script.js")).send().await.unwrap();
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
}
