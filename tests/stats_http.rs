//! The Stats API over real HTTP: keys made with the command line while the server runs, the
//! 401/400/429 answers, and Plausible-shaped results from events the server recorded.

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use support::*;

const CONFIG: &str = "trusted_proxies = [\"127.0.0.1\"]\n[api]\nrequests_per_hour = 12\n\
                      [[sites]]\ndomain = \"example.com\"\n[[sites]]\ndomain = \"other.org\"\n";

async fn event(http: &reqwest::Client, server: &Server, body: Value, ip: &str) {
    let response = http
        .post(server.url("/api/event"))
        .header("user-agent", FIREFOX)
        .header("x-forwarded-for", ip)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
}

async fn query(
    http: &reqwest::Client,
    server: &Server,
    key: Option<&str>,
    body: Value,
) -> (StatusCode, Value, Option<String>) {
    let mut request = http.post(server.url("/api/v2/query")).json(&body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let retry = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, response.json().await.unwrap(), retry)
}

#[tokio::test]
async fn keys_guard_the_stats_api_which_answers_in_plausibles_shapes() {
    let server = Server::start(CONFIG);
    let http = client();
    for (path, ip) in [
        ("/", "81.2.69.10"),
        ("/pricing", "81.2.69.10"),
        ("/", "198.51.100.7"),
    ] {
        event(
            &http,
            &server,
            json!({"n": "pageview", "u": format!("https://example.com{path}")}),
            ip,
        )
        .await;
    }
    event(
        &http,
        &server,
        json!({"n": "Signup", "u": "https://example.com/pricing", "p": {"plan": "pro"}}),
        "81.2.69.10",
    )
    .await;
    event(
        &http,
        &server,
        json!({"n": "pageview", "u": "https://other.org/"}),
        "81.2.69.10",
    )
    .await;

    let key = stats_key(&server, "example.com");
    let (ok, _, err) = cli(
        &server.data_dir(),
        &["key", "create", "--site", "nowhere.test"],
    );
    assert!(!ok && err.contains("not a registered site"), "{err}");
    // Let the writer commit (it does every 200 ms).
    tokio::time::sleep(Duration::from_millis(600)).await;

    let aggregate = json!({"site_id": "example.com", "metrics": ["visitors", "pageviews", "events", "visits", "bounce_rate"], "date_range": "day"});
    let (status, body, _) = query(&http, &server, None, aggregate.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["error"]
        .as_str()
        .unwrap()
        .starts_with("Missing API key"));
    let (status, body, _) =
        query(&http, &server, Some("ff_00000000_nope"), aggregate.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["error"]
        .as_str()
        .unwrap()
        .starts_with("Invalid API key or site ID"));
    let (status, _, _) = query(
        &http,
        &server,
        Some(&key),
        json!({"site_id": "other.org", "metrics": ["visitors"], "date_range": "day"}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a key sees only its own sites"
    );

    let (status, body, _) = query(&http, &server, Some(&key), aggregate.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["results"],
        json!([{"dimensions": [], "metrics": [2, 3, 4, 2, 50]}])
    );
    assert_eq!(body["query"]["site_id"], "example.com");

    let (status, body, _) = query(&http, &server, Some(&key), json!({"site_id": "example.com", "metrics": ["visitors", "pageviews"], "date_range": "day", "dimensions": ["event:page"]})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["results"],
        json!([
            {"dimensions": ["/"], "metrics": [2, 2]},
            {"dimensions": ["/pricing"], "metrics": [1, 1]},
        ])
    );

    let realtime = http
        .get(server.url("/api/v1/stats/realtime/visitors?site_id=example.com"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(realtime.status(), StatusCode::OK);
    assert_eq!(realtime.text().await.unwrap(), "2");
    let short = http
        .get(server.url("/api/v1/realtime/visitors?site_id=example.com"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(short.text().await.unwrap(), "2", "the shorter path too");

    // Who is on the site now, and on which pages, in the v2 shape.
    let (status, body, _) = query(&http, &server, Some(&key), json!({"site_id": "example.com", "metrics": ["visitors"], "date_range": "realtime", "dimensions": ["event:page"]})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["results"],
        json!([
            {"dimensions": ["/"], "metrics": [2]},
            {"dimensions": ["/pricing"], "metrics": [1]},
        ])
    );

    // Bad queries get 400s with reasons.
    let (status, body, _) = query(
        &http,
        &server,
        Some(&key),
        json!({"site_id": "example.com", "metrics": ["nonsense"], "date_range": "day"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "#/metrics/0: Invalid metric \"nonsense\"");
    let response = http
        .post(server.url("/api/v2/query"))
        .bearer_auth(&key)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // 12 requests an hour. 6 have counted so far: those the key was checked for (a body that is
    // not JSON, or a site the key may not read, is refused before that).
    let mut limited = None;
    for i in 0..12 {
        let (status, _, retry) = query(&http, &server, Some(&key), aggregate.clone()).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some((i, retry));
            break;
        }
    }
    let (after, retry) = limited.expect("429 once the hour's requests are used");
    assert_eq!(after, 6, "the 13th request is the first refused");
    let retry: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((1..=300).contains(&retry), "Retry-After {retry}");

    // Revoked at once, while the server runs.
    let id = key.split('_').nth(1).unwrap();
    let (ok, out, _) = cli(&server.data_dir(), &["key", "revoke", id]);
    assert!(ok, "{out}");
    let (_, listed, _) = cli(&server.data_dir(), &["key", "list"]);
    assert!(
        listed.contains(id) && listed.contains("revoked"),
        "{listed}"
    );
    let (status, _, _) = query(&http, &server, Some(&key), aggregate).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Nothing of a key is stored but its hash.
    let (dir, _) = server.stop();
    let db = open_db(&dir.path().join("data/footfall.duckdb"));
    assert_eq!(
        count(
            &db,
            &format!(
                "SELECT count(*) FROM api_keys WHERE key_hash = '{key}' OR sites LIKE '%{key}%'"
            )
        ),
        0
    );
    assert_eq!(count(&db, "SELECT count(*) FROM api_keys"), 1);
}

#[tokio::test]
async fn goals_from_the_file_and_the_command_line_convert() {
    let server = Server::start(
        "trusted_proxies = [\"127.0.0.1\"]\n[[sites]]\ndomain = \"example.com\"\n\
         goals = [{ page = \"/pricing\" }]\n",
    );
    let http = client();
    for (body, ip) in [
        (
            json!({"n": "pageview", "u": "https://example.com/"}),
            "81.2.69.10",
        ),
        (
            json!({"n": "pageview", "u": "https://example.com/pricing"}),
            "81.2.69.10",
        ),
        (
            json!({"n": "Signup", "u": "https://example.com/pricing"}),
            "81.2.69.10",
        ),
        (
            json!({"n": "pageview", "u": "https://example.com/"}),
            "198.51.100.7",
        ),
        (
            json!({"n": "pageview", "u": "https://example.com/pricing"}),
            "198.51.100.8",
        ),
    ] {
        event(&http, &server, body, ip).await;
    }
    // Added while the server runs, through its command socket.
    let dir = server.data_dir();
    let (ok, out, err) = cli(
        &dir,
        &["goal", "add", "--site", "example.com", "--event", "Signup"],
    );
    assert!(
        ok && out.contains("added the goal \"Signup\""),
        "{out}{err}"
    );
    let (ok, out, _) = cli(&dir, &["goal", "list", "--site", "example.com"]);
    assert!(ok, "{out}");
    assert_eq!(out.trim(), "Visit /pricing  (config file)\nSignup");
    let (ok, _, err) = cli(
        &dir,
        &[
            "goal",
            "remove",
            "--site",
            "example.com",
            "--page",
            "/pricing",
        ],
    );
    assert!(!ok && err.contains("declared in the config file"), "{err}");
    let (ok, _, err) = cli(
        &dir,
        &["goal", "add", "--site", "example.com", "--page", "pricing"],
    );
    assert!(!ok && err.contains("must start with '/'"), "{err}");
    let (ok, _, err) = cli(
        &dir,
        &["goal", "add", "--site", "nowhere.test", "--event", "X"],
    );
    assert!(!ok && err.contains("not a registered site"), "{err}");
    tokio::time::sleep(Duration::from_millis(600)).await;

    let key = stats_key(&server, "example.com");
    let (status, body, _) = query(
        &http,
        &server,
        Some(&key),
        json!({"site_id": "example.com",
        "metrics": ["visitors", "events", "conversion_rate"], "date_range": "day",
        "dimensions": ["event:goal"]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["results"],
        json!([
            {"dimensions": ["Visit /pricing"], "metrics": [2, 2, 66.67]},
            {"dimensions": ["Signup"], "metrics": [1, 1, 33.33]},
        ])
    );
    let (status, body, _) = query(
        &http,
        &server,
        Some(&key),
        json!({"site_id": "example.com",
        "metrics": ["visitors"], "date_range": "day",
        "filters": [["is", "event:goal", ["Purchase"]]]}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("The goal `Purchase` is not configured"));
}

/// Drill 9 over HTTP (docs/reliability.md): random filters full of quotes, semicolons, comments,
/// unicode and 10 kB strings, sent to `POST /api/v2/query` as a client would. Every one must be
/// answered 200, or 400 with a reason: never a 500 (a store error leaking out). 300 in the
/// suite; `FOOTFALL_HTTP_FILTER_FUZZ=N` and `FOOTFALL_HTTP_FILTER_FUZZ_SEED` for more.
#[tokio::test]
async fn random_filters_over_http_are_answered_or_refused_with_a_reason() {
    use rand::SeedableRng;
    let count: u64 = std::env::var("FOOTFALL_HTTP_FILTER_FUZZ")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    let seed: u64 = std::env::var("FOOTFALL_HTTP_FILTER_FUZZ_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(11);
    let server = Server::start(
        "trusted_proxies = [\"127.0.0.1\"]\n[api]\nrequests_per_hour = 10000000\n\
         [rate_limits]\nreads_per_second = 0\n[[sites]]\ndomain = \"fuzz.test\"\n",
    );
    let http = client();
    for i in 0..50 {
        let body = json!({"n": "pageview", "u": format!("https://fuzz.test/p/{}?utm_source=s{}", i % 7, i % 3), "d": "fuzz.test", "r": "https://www.google.com/"});
        event(&http, &server, body, &format!("10.1.0.{i}")).await;
    }
    let key = stats_key(&server, "fuzz.test");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let (mut answered, mut refused) = (0u64, 0u64);
    for i in 0..count {
        let body = footfall_queries::random_filters::query(&mut rng, "fuzz.test");
        let (status, answer, _) = query(&http, &server, Some(&key), body.clone()).await;
        match status {
            StatusCode::OK => answered += 1,
            StatusCode::BAD_REQUEST => {
                let reason = answer["error"].as_str().unwrap_or_default();
                assert!(!reason.is_empty(), "a 400 says why: {answer}");
                refused += 1;
            }
            other => panic!("query {i} (seed {seed}) answered {other}: {answer}\n{body}"),
        }
    }
    eprintln!(
        "{count} random filters over HTTP (seed {seed}): {answered} answered, {refused} refused"
    );
    assert!(answered > 0 && refused > 0, "both kinds are exercised");
    let (_dir, logs) = server.stop();
    assert!(!logs.contains("panicked"), "{logs}");
}
