//! The public counters in a real browser (Debian's Chromium through playwright-core): a page on
//! another origin loads `counter.js` and shows a badge and a chart from the real server, and the
//! numbers it shows are the server's, before and after more pageviews. A screenshot of the chart
//! is saved in the test's target folder. `scripts/test.sh` installs Chromium and playwright-core.

mod support;

use std::path::Path;

use serde_json::json;
use support::*;

const CONFIG: &str = "trusted_proxies = [\"127.0.0.1\"]\n\
    [[sites]]\ndomain = \"open.com\"\npublic_counters = true\ncounter_exclude = [\"/drafts/**\"]\n";

#[tokio::test]
async fn a_page_on_another_origin_shows_live_counts_badges_and_charts() {
    let server = Server::start(CONFIG);
    let http = client();
    let visits = [
        ("/post", "198.51.100.1"),
        ("/post", "198.51.100.2"),
        ("/post", "198.51.100.1"),
        ("/other", "198.51.100.2"),
        ("/drafts/x", "198.51.100.3"),
    ];
    for (path, ip) in visits {
        pageview(
            &http,
            &server,
            &format!("https://open.com{path}"),
            ip,
            FIREFOX,
        )
        .await;
    }
    // The writer commits every 200 ms.
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;

    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("counters-chart.png");
    let _ = std::fs::remove_file(&screenshot);
    let seen = browser_script(
        &server,
        "counters.mjs",
        &[],
        &[("SCREENSHOT", screenshot.to_str().unwrap())],
    );
    assert_eq!(
        seen["before"],
        json!({"badge": "views | 3", "views": "3", "visitors": "2", "other": "1", "site": "5", "hidden": "0",
               "badgeWidth": seen["before"]["badgeWidth"], "chartWidth": 600}),
        "{seen}"
    );
    assert!(
        seen["before"]["badgeWidth"].as_u64().unwrap() > 40,
        "{seen}"
    );
    // Three more readers of /post (one of them new to the site) and one of /other.
    assert_eq!(seen["after"]["views"], "6", "{seen}");
    assert_eq!(seen["after"]["badge"], "views | 6", "{seen}");
    assert_eq!(seen["after"]["visitors"], "5", "{seen}");
    assert_eq!(seen["after"]["other"], "2", "{seen}");
    assert_eq!(seen["after"]["site"], "9", "{seen}");
    assert_eq!(seen["after"]["hidden"], "0", "{seen}");
    let png = std::fs::read(&screenshot).expect("the chart's screenshot was saved");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 1_000);
    eprintln!("chart screenshot: {}", screenshot.display());
}
