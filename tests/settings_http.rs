//! The owner's settings and shared links over real HTTP: changes reach the running collector at
//! once (a new site records, its excluded networks and paths are dropped and counted as such),
//! bad input gets a 400 that says why, and a shared link reads its one site, never another, and
//! gets 403 on every route that changes something, even alongside an owner's cookie.

mod support;

use reqwest::header::{
    CONTENT_DISPOSITION, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE,
};
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::*;

const CONFIG: &str = "trusted_proxies = [\"127.0.0.1\"]\n\
    [[sites]]\ndomain = \"example.com\"\n\
    [[sites]]\ndomain = \"other.org\"\n";
const SHARE: &str = "x-footfall-share";

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Adds the owner ann from the command line and signs her in: the session cookie.
async fn sign_in(http: &reqwest::Client, server: &Server) -> String {
    owner_session(http, server, "ann", "a long password").await
}

async fn change(
    http: &reqwest::Client,
    server: &Server,
    cookie: &str,
    body: Value,
) -> (StatusCode, Value) {
    let response = http
        .post(server.url("/api/dashboard/settings"))
        .header(COOKIE, cookie)
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

async fn read(
    http: &reqwest::Client,
    server: &Server,
    path: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> (StatusCode, Value) {
    let mut request = http.post(server.url(path)).json(body);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn settings_of(http: &reqwest::Client, server: &Server, cookie: &str, site: &str) -> Value {
    let response = http
        .get(server.url(&format!("/api/dashboard/settings?site={site}")))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn settings_change_the_running_server_and_refuse_bad_input() {
    let server = Server::start(CONFIG);
    let http = browser();
    let cookie = sign_in(&http, &server).await;

    let (status, done) = change(
        &http,
        &server,
        &cookie,
        json!({"command": "site_add", "domain": "shop.example", "timezone": "Europe/Berlin"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let (status, done) = change(
        &http,
        &server,
        &cookie,
        json!({"command": "site_rules", "domain": "shop.example",
            "exclude_ips": ["203.0.113.0/24", " 203.0.113.0/24 "], "exclude_paths": ["/admin/**"],
            "hidden_paths": ["/private/*"]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");

    // Each bad change gets a 400 that names the problem, and changes nothing.
    for (body, reason) in [
        (
            json!({"command": "site_add", "domain": "not a domain!"}),
            "domain",
        ),
        (
            json!({"command": "site_timezone", "domain": "shop.example", "timezone": "Mars/Base"}),
            "time zone",
        ),
        (
            json!({"command": "site_rules", "domain": "shop.example", "exclude_ips": ["999.1.1.1"]}),
            "999.1.1.1",
        ),
        (
            json!({"command": "site_rules", "domain": "shop.example", "exclude_paths": ["admin"]}),
            "must start with /",
        ),
        (
            json!({"command": "site_rules", "domain": "shop.example", "hidden_paths": ["/a/[b"]}),
            "/a/[b",
        ),
        (
            json!({"command": "site_timezone", "domain": "example.com", "timezone": "UTC"}),
            "config file",
        ),
        (
            json!({"command": "goal_add", "site": "shop.example"}),
            "either",
        ),
        (
            json!({"command": "goal_add", "site": "nowhere.example", "event": "Signup"}),
            "not a registered site",
        ),
        (
            json!({"command": "share_revoke", "site": "shop.example", "id": "nothing"}),
            "no active link",
        ),
        (
            json!({"command": "user_add", "name": "eve", "password_hash": "$argon2id$x"}),
            "not a settings change",
        ),
    ] {
        let (status, answer) = change(&http, &server, &cookie, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        let error = answer["error"].as_str().unwrap();
        assert!(error.contains(reason), "{body}: {error}");
    }
    let shown = settings_of(&http, &server, &cookie, "shop.example").await;
    assert_eq!(shown["site"]["timezone"], "Europe/Berlin");
    assert_eq!(shown["site"]["exclude_ips"], json!(["203.0.113.0/24"]));
    assert_eq!(shown["site"]["exclude_paths"], json!(["/admin/**"]));
    assert_eq!(shown["site"]["hidden_paths"], json!(["/private/*"]));
    assert_eq!(shown["site"]["in_config"], false);
    assert!(
        shown["snippet"]
            .as_str()
            .unwrap()
            .contains("/script.js\" data-domain=\"shop.example\""),
        "{shown}"
    );

    // Without a session: 401; from another site: 403.
    let anonymous = http
        .post(server.url("/api/dashboard/settings"))
        .json(&json!({"command": "site_remove", "domain": "shop.example"}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let forged = http
        .post(server.url("/api/dashboard/settings"))
        .header(COOKIE, &cookie)
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .json(&json!({"command": "site_remove", "domain": "shop.example"}))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    // The running collector follows the rules at once: the excluded network and path are
    // dropped (and counted as excluded), the rest is recorded.
    for (path, ip) in [
        ("/", "203.0.113.9"),
        ("/admin/users", "198.51.100.1"),
        ("/", "198.51.100.1"),
        ("/shoes", "198.51.100.2"),
        ("/private/x", "198.51.100.3"),
    ] {
        pageview(
            &http,
            &server,
            &format!("https://shop.example{path}"),
            ip,
            FIREFOX,
        )
        .await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let owner = [("cookie", cookie.as_str())];
    let (status, visitors) = read(
        &http,
        &server,
        "/api/dashboard/query",
        &owner,
        &json!({"site_id": "shop.example", "date_range": "day", "metrics": ["visitors", "pageviews"]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(visitors["results"][0]["metrics"], json!([3, 3]));
    let (status, dropped) = read(
        &http,
        &server,
        "/api/dashboard/dropped",
        &owner,
        &json!({"site_id": "shop.example", "date_range": "day"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        dropped["results"],
        json!([{"reason": "excluded", "events": 2}])
    );

    // Goals, added and removed; public counts turned on; the time zone changed.
    for body in [
        json!({"command": "goal_add", "site": "shop.example", "event": "Signup"}),
        json!({"command": "goal_add", "site": "shop.example", "page": "/thanks/**"}),
        json!({"command": "goal_remove", "site": "shop.example", "event": "Signup"}),
        json!({"command": "site_counters", "domain": "shop.example", "enabled": true}),
        json!({"command": "site_timezone", "domain": "shop.example", "timezone": "Asia/Tokyo"}),
    ] {
        let (status, answer) = change(&http, &server, &cookie, body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}: {answer}");
    }
    let shown = settings_of(&http, &server, &cookie, "shop.example").await;
    assert_eq!(
        shown["goals"],
        json!([{"name": "Visit /thanks/**", "page": "/thanks/**", "event": null, "in_config": false}])
    );
    assert_eq!(shown["site"]["timezone"], "Asia/Tokyo");
    assert_eq!(shown["site"]["public_counters"], true);
    let mut counted = Value::Null;
    for _ in 0..50 {
        let response = http
            .get(server.url("/api/counter?site=shop.example&path=/shoes"))
            .send()
            .await
            .unwrap();
        if response.status() == StatusCode::OK {
            counted = response.json().await.unwrap();
            if counted["pageviews"] == 1 {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(counted["pageviews"], 1, "{counted}");
    // A hidden path reads as nobody's, though it was recorded.
    let hidden =
        json_of(http.get(server.url("/api/counter?site=shop.example&path=/private/x"))).await;
    assert_eq!(hidden["pageviews"], 0, "{hidden}");

    // The rules survive a restart (they are in the store), then the site is removed.
    let (dir, _) = server.stop();
    let server = Server::start_in(dir, CONFIG, &[]);
    let shown = settings_of(&http, &server, &cookie, "shop.example").await;
    assert_eq!(shown["site"]["exclude_ips"], json!(["203.0.113.0/24"]));
    assert_eq!(shown["site"]["timezone"], "Asia/Tokyo");
    let (status, answer) = change(
        &http,
        &server,
        &cookie,
        json!({"command": "site_remove", "domain": "shop.example"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let me = json_of(
        http.get(server.url("/api/dashboard/me"))
            .header(COOKIE, &cookie),
    )
    .await;
    let domains: Vec<&str> = me["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["domain"].as_str().unwrap())
        .collect();
    assert_eq!(domains, ["example.com", "other.org"]);
}

#[tokio::test]
async fn a_shared_link_reads_one_site_and_changes_nothing() {
    let server = Server::start(CONFIG);
    let http = browser();
    for (path, ip) in [
        ("/", "198.51.100.1"),
        ("/=SUM(A1)", "198.51.100.2"),
        ("/", "198.51.100.3"),
    ] {
        pageview(
            &http,
            &server,
            &format!("https://example.com{path}"),
            ip,
            FIREFOX,
        )
        .await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let cookie = sign_in(&http, &server).await;
    let (status, made) = change(
        &http,
        &server,
        &cookie,
        json!({"command": "share_add", "site": "example.com", "label": "Team"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{made}");
    let url = made["url"].as_str().unwrap();
    let token = link_token(url);
    assert_eq!(token.len(), 64, "{url}");

    // The page: not framable, unless embedded.
    let page = http
        .get(server.url(&format!("/share/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let policy = page.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        policy.contains("frame-ancestors 'none'") && policy.contains("default-src 'self'"),
        "{policy}"
    );
    let embedded = http
        .get(server.url(&format!("/share/{token}?embed=true")))
        .send()
        .await
        .unwrap();
    let policy = embedded.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(
        !policy.contains("frame-ancestors") && policy.contains("default-src 'self'"),
        "{policy}"
    );

    // It reads its site as the owner does, and no other.
    let link = [(SHARE, token.as_str())];
    let body = json!({"site_id": "example.com", "date_range": "day", "metrics": ["visitors"],
        "dimensions": ["event:page"]});
    let (status, shared) = read(&http, &server, "/api/share/query", &link, &body).await;
    assert_eq!(status, StatusCode::OK, "{shared}");
    let (_, owned) = read(
        &http,
        &server,
        "/api/dashboard/query",
        &[("cookie", &cookie)],
        &body,
    )
    .await;
    assert_eq!(shared["results"], owned["results"]);
    assert_eq!(shared["results"].as_array().unwrap().len(), 2);
    let other = json!({"site_id": "other.org", "date_range": "day", "metrics": ["visitors"]});
    let (status, _) = read(&http, &server, "/api/share/query", &link, &other).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = read(
        &http,
        &server,
        "/api/share/query",
        &[(SHARE, "0".repeat(64).as_str())],
        &body,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let about = json_of(http.get(server.url("/api/share/me")).header(SHARE, &token)).await;
    assert_eq!(about["site"]["domain"], "example.com");
    assert_eq!(about["label"], "Team");

    // A CSV export through the link: a file, one row per page.
    let q = serde_json::to_string(&body).unwrap();
    let export = http
        .get(server.url("/api/share/export.csv"))
        .query(&[
            ("share", token.as_str()),
            ("q", q.as_str()),
            ("name", "Top pages"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), StatusCode::OK);
    assert_eq!(export.headers()[CONTENT_TYPE], "text/csv; charset=utf-8");
    assert_eq!(
        export.headers()[CONTENT_DISPOSITION],
        "attachment; filename=\"example.com-Toppages-day.csv\""
    );
    let csv = export.text().await.unwrap();
    let mut lines: Vec<&str> = csv.lines().collect();
    lines[1..].sort();
    assert_eq!(lines, ["page,visitors", "/,2", "/=SUM(A1),1"], "{csv}");

    // Every route that changes something, and every owner route, refuses the link's token with
    // 403, even when an owner's session cookie comes along.
    let changes = [
        json!({"command": "site_add", "domain": "new.example"}),
        json!({"command": "site_remove", "domain": "example.com", "purge": true}),
        json!({"command": "site_timezone", "domain": "example.com", "timezone": "UTC"}),
        json!({"command": "site_counters", "domain": "example.com", "enabled": true}),
        json!({"command": "site_rules", "domain": "example.com", "exclude_ips": ["0.0.0.0/0"]}),
        json!({"command": "goal_add", "site": "example.com", "event": "x"}),
        json!({"command": "goal_remove", "site": "example.com", "event": "x"}),
        json!({"command": "share_add", "site": "example.com"}),
        json!({"command": "share_revoke", "site": "example.com", "id": &token[..8]}),
    ];
    for with_owner in [false, true] {
        let mut requests = Vec::new();
        for body in &changes {
            requests.push(http.post(server.url("/api/dashboard/settings")).json(body));
        }
        requests.push(http.get(server.url("/api/dashboard/settings?site=example.com")));
        requests.push(http.get(server.url("/api/dashboard/me")));
        requests.push(http.get(server.url("/settings")));
        requests.push(http.get(server.url("/")));
        requests.push(http.post(server.url("/api/dashboard/query")).json(&body));
        requests.push(http.post(server.url("/api/dashboard/dropped")).json(&body));
        requests.push(http.post(server.url("/logout")));
        requests.push(
            http.post(server.url("/login"))
                .form(&[("name", "ann"), ("password", "x")]),
        );
        requests.push(http.post(server.url("/setup")).form(&[
            ("token", "x"),
            ("name", "eve"),
            ("password", "a long password"),
        ]));
        for request in requests {
            let mut request = request.header(SHARE, &token);
            if with_owner {
                request = request.header(COOKIE, &cookie);
            }
            let response = request.send().await.unwrap();
            let url = response.url().clone();
            assert_eq!(
                response.status(),
                StatusCode::FORBIDDEN,
                "{url} (owner cookie: {with_owner})"
            );
        }
        // The same through `share=` in the URL.
        let response = http
            .post(server.url(&format!("/api/dashboard/settings?share={token}")))
            .header(COOKIE, &cookie)
            .json(&changes[1])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }
    // Nothing changed.
    let shown = settings_of(&http, &server, &cookie, "example.com").await;
    assert_eq!(shown["shares"].as_array().unwrap().len(), 1);
    assert_eq!(shown["shares"][0]["revoked"], false);

    // A link with a password: the form first, then a cookie that opens it.
    let (status, made) = change(
        &http,
        &server,
        &cookie,
        json!({"command": "share_add", "site": "example.com", "label": "Board", "password": "correct horse"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{made}");
    let locked = link_token(made["url"].as_str().unwrap());
    let form = http
        .get(server.url(&format!("/share/{locked}")))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    assert!(form.text().await.unwrap().contains("type=\"password\""));
    let with_link = [(SHARE, locked.as_str())];
    let (status, _) = read(&http, &server, "/api/share/query", &with_link, &body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let wrong = http
        .post(server.url(&format!("/share/{locked}")))
        .form(&[("password", "wrong horse")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let unlock = || {
        http.post(server.url(&format!("/share/{locked}")))
            .form(&[("password", "correct horse")])
            .send()
    };
    // Failures slow the link down, as they slow an owner's name.
    let slowed = unlock().await.unwrap();
    assert_eq!(slowed.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = slowed.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
    let right = unlock().await.unwrap();
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    assert_eq!(right.headers()[LOCATION], format!("/share/{locked}"));
    let unlock = right.headers()[SET_COOKIE].to_str().unwrap();
    assert!(
        unlock.contains("HttpOnly") && unlock.contains("SameSite=Lax"),
        "{unlock}"
    );
    let unlock = set_cookie(right.headers());
    let (status, _) = read(
        &http,
        &server,
        "/api/share/query",
        &[(SHARE, &locked), ("cookie", &unlock)],
        &body,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // The first link's cookie does not open the second... and this one opens only its link.
    let (status, _) = read(
        &http,
        &server,
        "/api/share/query",
        &[(SHARE, &locked), ("cookie", "footfall_share_x=y")],
        &body,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Revoked: the link opens nothing.
    let (status, _) = change(
        &http,
        &server,
        &cookie,
        json!({"command": "share_revoke", "site": "example.com", "id": &token[..8]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = read(&http, &server, "/api/share/query", &link, &body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let gone = http
        .get(server.url(&format!("/share/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_command_line_makes_lists_and_revokes_links() {
    let server = Server::start(CONFIG);
    let http = browser();
    let data = server.data_dir();
    let token = add_share(&server, "example.com", &["--label", "Board"]);
    let about = http
        .get(server.url("/api/share/me"))
        .header(SHARE, &token)
        .send()
        .await
        .unwrap();
    assert_eq!(about.status(), StatusCode::OK);
    let (ok, out, _) = cli(&data, &["share", "list", "--site", "example.com"]);
    assert!(
        ok && out.contains(&token[..8]) && out.contains("active") && out.contains("Board"),
        "{out}"
    );
    // A password, read from standard input.
    let (ok, out, err) = cli_with_input(
        &data,
        &["share", "add", "--site", "example.com", "--password"],
        "a long password\n",
    );
    assert!(ok, "{out}{err}");
    let locked = printed_share_token(&out);
    let refused = http
        .get(server.url("/api/share/me"))
        .header(SHARE, &locked)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let (ok, out, _) = cli(
        &data,
        &["share", "revoke", "--site", "example.com", &token[..8]],
    );
    assert!(ok, "{out}");
    let gone = http
        .get(server.url("/api/share/me"))
        .header(SHARE, &token)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::UNAUTHORIZED);
    // Rules and time zones of the file's sites are the file's.
    let (ok, _, err) = cli(&data, &["site", "timezone", "example.com", "Europe/Rome"]);
    assert!(!ok && err.contains("config file"), "{err}");
    let (ok, out, err) = cli(&data, &["site", "add", "cli.example"]);
    assert!(ok, "{out}{err}");
    let (ok, out, err) = cli(
        &data,
        &[
            "site",
            "rules",
            "cli.example",
            "--exclude-ip",
            "192.0.2.0/24",
            "--hidden-path",
            "/me/**",
        ],
    );
    assert!(ok && out.contains("saved the rules"), "{out}{err}");
    let (ok, _, err) = cli(
        &data,
        &["site", "rules", "cli.example", "--exclude-ip", "nope"],
    );
    assert!(
        !ok && err.contains("\"nope\" is not an IP address"),
        "{err}"
    );
}

#[tokio::test]
async fn a_link_gives_each_address_the_api_budget() {
    let server = Server::start(
        "trusted_proxies = [\"127.0.0.1\"]\n[api]\nrequests_per_hour = 3\n\
         [[sites]]\ndomain = \"example.com\"\n",
    );
    let http = browser();
    let token = add_share(&server, "example.com", &[]);
    let ask = |address: &'static str| {
        http.get(server.url("/api/share/me"))
            .header(SHARE, &token)
            .header("x-forwarded-for", address)
            .send()
    };
    for _ in 0..3 {
        assert_eq!(ask("198.51.100.1").await.unwrap().status(), StatusCode::OK);
    }
    let refused = ask("198.51.100.1").await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(ask("198.51.100.2").await.unwrap().status(), StatusCode::OK);
}
