//! The owner's dashboard in a real browser (Debian's Chromium through playwright-core): the
//! first-run link, signing out, a failed sign-in, signing in again, a signed-out session that
//! opens nothing; then the dashboard's numbers against the Stats API for the same range and
//! filter, a click on a row that filters every panel, and the view restored from the URL.

mod support;

use std::path::Path;
use std::process::Command;

use reqwest::StatusCode;
use serde_json::{json, Value};
use support::*;

const CONFIG: &str = "trusted_proxies = [\"127.0.0.1\"]\n[[sites]]\ndomain = \"example.com\"\n";

/// The Stats API's answer, through a key made for the test.
async fn api(http: &reqwest::Client, server: &Server, key: &str, body: Value) -> Value {
    let response = http
        .post(server.url("/api/v2/query"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn an_owner_signs_in_and_the_dashboard_shows_the_apis_numbers() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed in {}: run scripts/test.sh",
        dir.display()
    );
    let server = Server::start(CONFIG);
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
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let (ok, out, _) = cli(
        &server.data_dir(),
        &["key", "create", "--site", "example.com"],
    );
    assert!(ok);
    let key = out
        .split_whitespace()
        .find(|w| w.starts_with("ff_"))
        .unwrap()
        .to_owned();

    let logs = server.logs();
    let token = &logs.split("/setup?token=").nth(1).expect("the setup link")[..64];
    let output = Command::new("node")
        .arg(dir.join("dashboard.mjs"))
        .env("FOOTFALL_URL", &server.base)
        .env("SETUP", token)
        .env("SCREENSHOTS", env!("CARGO_TARGET_TMPDIR"))
        .output()
        .expect("run node (scripts/test.sh installs it)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "browser run failed:\n{}\n{stdout}\nserver log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.logs()
    );
    let seen: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
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
        let top = api(
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
            let rows = api(
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
    assert_eq!(seen["chips"], json!(["Top pages is /pricing ✕"]));
    // Compared with yesterday (no visits then): the change the API gives, and a second line.
    let compared = api(
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
    for shot in ["1280-light", "390-light", "1280-dark", "390-dark"] {
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("dashboard-{shot}.png"));
        let png = std::fs::read(&path).expect("the screenshot was saved");
        assert!(png.starts_with(b"\x89PNG"), "{}", path.display());
    }
}
