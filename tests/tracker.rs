//! The tracker in a real browser: Debian's Chromium, driven by playwright-core through
//! `tests/browser/drive.mjs`, against the real server on a random port; then what landed in
//! DuckDB. `scripts/test.sh` installs Chromium and playwright-core when they are missing.

mod support;

use support::*;

const CONFIG: &str = "trusted_proxies = [\"127.0.0.1\"]\n[[sites]]\ndomain = \"site.test\"\n";

/// What a scenario left behind: the stopped server's database, and the driver's report.
struct Run {
    db: duckdb::Connection,
    /// `http://site.test:PORT`, where the driver served the site.
    origin: String,
    _dir: tempfile::TempDir,
}

/// Runs one scenario against a fresh server, then stops the server (which writes everything it
/// acknowledged) and opens its database.
fn scenario(name: &str) -> Run {
    let server = Server::start(CONFIG);
    let report = browser_script(&server, "drive.mjs", &[name], &[]);
    let (dir, _) = server.stop();
    Run {
        db: open_db(&dir.path().join("data/footfall.duckdb")),
        origin: report["origin"].as_str().unwrap().to_owned(),
        _dir: dir,
    }
}

impl Run {
    /// The rows of a query, every column as text ('' for NULL), in the order they were written.
    fn rows(&self, columns: &str, filter: &str) -> Vec<Vec<String>> {
        let casts: Vec<String> = columns
            .split(',')
            .map(|c| format!("coalesce(CAST({} AS VARCHAR), '')", c.trim()))
            .collect();
        let sql = format!(
            "SELECT {} FROM events WHERE {filter} ORDER BY ts, rowid",
            casts.join(", ")
        );
        let mut statement = self.db.prepare(&sql).unwrap();
        let width = casts.len();
        statement
            .query_map([], |row| (0..width).map(|i| row.get(i)).collect())
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    fn pageview_paths(&self) -> Vec<String> {
        self.rows("path", "name = 'pageview'").concat()
    }
}

#[test]
fn a_pageview_carries_its_path_referrer_campaign_and_browser() {
    let run = scenario("pageview");
    let rows = run.rows(
        "name, path, referrer, source, utm_source, utm_medium, utm_campaign, browser, os, device, hostname",
        "true",
    );
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(
        rows[0],
        [
            "pageview",
            "/",
            "news.ycombinator.com/item",
            "newsletter",
            "newsletter",
            "email",
            "spring",
            "Chrome",
            "Linux",
            "Desktop",
            "site.test"
        ]
    );
    // The left page's report (sent as it hides) and the next page's view race on two
    // connections: either may reach the server first.
    let mut rest = rows[1..].to_vec();
    rest.sort();
    assert_eq!(rest[0][..2], ["engagement", "/"], "the page left reports");
    assert_eq!(
        rest[1][..3],
        ["pageview", "/about.html", ""],
        "internal referrer"
    );
    let engaged = run.rows("engaged_ms", "name = 'engagement'");
    assert!(engaged[0][0].parse::<u32>().unwrap() > 0);
    assert_eq!(
        count(&run.db, "SELECT count(DISTINCT visitor_id) FROM events"),
        1
    );
}

#[test]
fn a_single_page_app_counts_each_route_once() {
    let run = scenario("spa");
    assert_eq!(
        run.pageview_paths(),
        ["/spa", "/spa/b", "/spa/c", "/spa/d", "/spa/c"]
    );
    // Each route left reports its engagement, under its own path.
    let engagement = run.rows("path, engaged_ms", "name = 'engagement'");
    let paths: Vec<&str> = engagement.iter().map(|row| row[0].as_str()).collect();
    assert_eq!(paths, ["/spa", "/spa/b", "/spa/c", "/spa/d"]);
    assert!(engagement
        .iter()
        .all(|row| row[1].parse::<u32>().unwrap() > 0));
}

#[test]
fn clicks_and_custom_events_arrive_with_their_props() {
    let run = scenario("clicks");
    let mut rows = run.rows(
        "name, path, props['early'], props['plan'], props['url']",
        "name <> 'engagement'",
    );
    rows.sort();
    let port_origin = &run.origin;
    let elsewhere = port_origin.replace("site.test", "elsewhere.test");
    let expected: Vec<Vec<String>> = [
        ["Data Event", "/clicks.html", "", "", ""],
        [
            "File Download",
            "/clicks.html",
            "",
            "",
            &format!("{port_origin}/files/report.pdf"),
        ],
        ["Legacy Signup", "/clicks.html", "", "basic", ""],
        [
            "Outbound Link: Click",
            "/clicks.html",
            "",
            "",
            &format!("{elsewhere}/landing"),
        ],
        [
            "Outbound Link: Click",
            "/clicks.html",
            "",
            "",
            &format!("{elsewhere}/landing"),
        ],
        ["Queued", "/clicks.html", "yes", "", ""],
        ["Signup", "/clicks.html", "", "pro", ""],
        ["Tagged Click", "/clicks.html", "", "free", ""],
        ["pageview", "/clicks.html", "", "", ""],
    ]
    .iter()
    .map(|row| row.iter().map(|s| s.to_string()).collect())
    .collect();
    assert_eq!(rows, expected);
    // Query strings and fragments of links (a token, a session id) never reach the store.
    assert_eq!(
        count(
            &run.db,
            "SELECT count(*) FROM events WHERE CAST(props AS VARCHAR) LIKE '%secret%'"
        ),
        0
    );
    // Clicks and custom events are interactive (they end a bounce); the engagement of the page
    // left is not.
    assert_eq!(
        count(&run.db, "SELECT count(*) FROM events WHERE NOT interactive"),
        1
    );
    assert_eq!(run.rows("interactive", "name = 'engagement'"), [["false"]]);
}

#[test]
fn a_hidden_page_reports_engaged_time_and_scroll_depth() {
    let run = scenario("engagement");
    let rows = run.rows(
        "name, path, engaged_ms, scroll_depth, visitor_id, session_id",
        "true",
    );
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0][..2], ["pageview", "/long.html"]);
    assert_eq!(rows[1][..2], ["engagement", "/long.html"]);
    let engaged: u32 = rows[1][2].parse().unwrap();
    let depth: u8 = rows[1][3].parse().unwrap();
    assert!(engaged >= 1000, "engaged {engaged} ms");
    assert!((50..=100).contains(&depth), "scroll depth {depth} %");
    assert_eq!(rows[0][4..], rows[1][4..], "same visitor, same visit");
}

#[test]
fn hash_mode_keeps_the_fragment_route() {
    let run = scenario("hash");
    assert_eq!(
        run.pageview_paths(),
        [
            "/hash.html#/inbox",
            "/hash.html#/settings",
            "/hash-variant.html#/a"
        ]
    );
}

#[test]
fn nothing_is_sent_when_the_visitor_or_the_owner_says_no() {
    let run = scenario("ignored");
    // While #footfall-ignore holds, nothing: no pageview, no custom event, no click, no
    // engagement. Then the page opened with #footfall-track and the one after it, the sandboxed
    // frame whose storage throws (tracked as usual), and the page without data-respect-dnt.
    assert_eq!(
        run.pageview_paths(),
        ["/about.html", "/", "/framed.html", "/"]
    );
    assert_eq!(
        run.rows("path", "name = 'engagement'").concat(),
        ["/about.html", "/", "/framed.html"]
    );
    assert_eq!(count(&run.db, "SELECT count(*) FROM events"), 7);
    assert_eq!(
        count(
            &run.db,
            "SELECT count(*) FROM events WHERE path = '/clicks.html' OR name NOT IN ('pageview', 'engagement')"
        ),
        0
    );
}

#[test]
fn the_pixel_counts_a_page_with_scripts_off() {
    let run = scenario("pixel");
    assert_eq!(
        run.rows("name, path, browser, device, hostname", "true"),
        [["pageview", "/nojs.html", "Chrome", "Desktop", "site.test"]]
    );
}

#[test]
fn a_page_restored_from_the_back_forward_cache_counts_once_more() {
    let run = scenario("bfcache");
    assert_eq!(run.pageview_paths(), ["/", "/about.html", "/"]);
}

#[test]
fn the_owners_switches_exclude_include_and_choose_what_counts() {
    let run = scenario("options");
    assert_eq!(
        run.pageview_paths(),
        [
            "/options.html",
            "/drafts/deep/b.html",
            "/blog/post.html",
            "/virtual/page"
        ]
    );
    assert_eq!(
        run.rows(
            "name, props['url']",
            "name NOT IN ('pageview', 'engagement')"
        ),
        [[
            "File Download".to_owned(),
            format!("{}/files/book.epub", run.origin)
        ]]
    );
    // Engagement only ever for pages that were counted.
    for row in run.rows("path", "name = 'engagement'") {
        assert!(
            ["/options.html", "/drafts/deep/b.html", "/blog/post.html"].contains(&row[0].as_str()),
            "{row:?}"
        );
    }
}

#[test]
fn a_prerendered_page_counts_only_once_it_is_shown() {
    let run = scenario("prerender");
    assert_eq!(run.pageview_paths(), ["/prerender.html", "/about.html"]);
    assert_eq!(
        run.rows("referrer", "name = 'pageview' AND path = '/about.html'"),
        [[""]],
        "an internal referrer"
    );
}
