//! Owner sign-in over real HTTP: the first-run link, sessions in cookies that end at logout,
//! one answer for unknown names and wrong passwords, the limit on failures per address, the
//! refusal of cross-site requests, and owners managed from the command line.

mod support;

use reqwest::header::{HeaderMap, COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::Value;
use support::*;

const CONFIG: &str = "trusted_proxies = [\"127.0.0.1\"]\n[[sites]]\ndomain = \"example.com\"\n";

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The session cookie a response sets, as `name=value`.
fn session_cookie(headers: &HeaderMap) -> String {
    let set = headers[SET_COOKIE].to_str().unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/"),
        "{set}"
    );
    set.split(';').next().unwrap().to_owned()
}

async fn form(
    http: &reqwest::Client,
    server: &Server,
    path: &str,
    fields: &[(&str, &str)],
    extra: &[(&str, &str)],
) -> (StatusCode, HeaderMap, String) {
    let mut request = http.post(server.url(path)).form(fields);
    for (k, v) in extra {
        request = request.header(*k, *v);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

async fn me(http: &reqwest::Client, server: &Server, cookie: &str) -> (StatusCode, Value) {
    let response = http
        .get(server.url("/api/dashboard/me"))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test]
async fn the_first_owner_sets_up_signs_in_and_out() {
    let server = Server::start(CONFIG);
    let http = browser();
    let token = server.setup_token();

    let home = http.get(server.url("/")).send().await.unwrap();
    assert_eq!(home.status(), StatusCode::SEE_OTHER);
    assert_eq!(home.headers()[LOCATION], "/login");
    let wrong = http
        .get(server.url("/setup?token=00"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::NOT_FOUND);
    let setup = http
        .get(server.url(&format!("/setup?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(setup.status(), StatusCode::OK);
    assert!(setup.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .starts_with("default-src 'self'"));
    assert!(setup.text().await.unwrap().contains(&token));

    let (status, _, body) = form(
        &http,
        &server,
        "/setup",
        &[("token", &token), ("name", "ann"), ("password", "short")],
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("at least 10 characters"), "{body}");
    let (status, _, body) = form(
        &http,
        &server,
        "/setup",
        &[
            ("token", &token),
            ("name", "<b>ann</b>"),
            ("password", "long enough pass"),
        ],
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        !body.contains("<b>ann</b>"),
        "names are checked, not echoed as markup"
    );
    let (status, headers, _) = form(
        &http,
        &server,
        "/setup",
        &[
            ("token", &token),
            ("name", "ann"),
            ("password", "long enough pass"),
        ],
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[LOCATION], "/");
    let cookie = session_cookie(&headers);
    // The link worked once.
    let again = http
        .get(server.url(&format!("/setup?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_FOUND);

    let (status, body) = me(&http, &server, &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["owner"], "ann");
    assert_eq!(body["sites"][0]["domain"], "example.com");
    let page = http
        .get(server.url("/"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    let (status, _) = me(&http, &server, "footfall_session=0123").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The dashboard's queries: the Stats API's engine, for a signed-in owner only.
    let body =
        serde_json::json!({"site_id": "example.com", "metrics": ["visitors"], "date_range": "day"});
    let ask = |cookie: Option<&str>, site: &str, origin: Option<&str>| {
        let mut body = body.clone();
        body["site_id"] = site.into();
        let mut request = http.post(server.url("/api/dashboard/query")).json(&body);
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, cookie);
        }
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(
        ask(Some(&cookie), "example.com", Some(&server.base)).await,
        StatusCode::OK
    );
    assert_eq!(
        ask(None, "example.com", None).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        ask(Some(&cookie), "nowhere.test", None).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        ask(Some(&cookie), "example.com", Some("https://evil.test")).await,
        StatusCode::FORBIDDEN
    );

    // Cross-site requests change nothing.
    for extra in [
        [("origin", "https://evil.test")],
        [("sec-fetch-site", "cross-site")],
        [("origin", "null")],
    ] {
        let (status, _, _) = form(
            &http,
            &server,
            "/logout",
            &[],
            &[extra[0], ("cookie", &cookie)],
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{extra:?}");
    }
    assert_eq!(me(&http, &server, &cookie).await.0, StatusCode::OK);
    let own_origin = server.base.clone();
    let (status, headers, _) = form(
        &http,
        &server,
        "/logout",
        &[],
        &[
            ("origin", &own_origin),
            ("sec-fetch-site", "same-origin"),
            ("cookie", &cookie),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(headers[SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(
        me(&http, &server, &cookie).await.0,
        StatusCode::UNAUTHORIZED,
        "logged out"
    );

    // Unknown names and wrong passwords get the same answer.
    let (wrong_status, _, wrong_body) = form(
        &http,
        &server,
        "/login",
        &[("name", "ann"), ("password", "not the password")],
        &[("x-forwarded-for", "198.51.100.1")],
    )
    .await;
    let (unknown_status, _, unknown_body) = form(
        &http,
        &server,
        "/login",
        &[("name", "bob"), ("password", "not the password")],
        &[("x-forwarded-for", "198.51.100.2")],
    )
    .await;
    assert_eq!(wrong_status, StatusCode::UNAUTHORIZED);
    assert_eq!((wrong_status, &wrong_body), (unknown_status, &unknown_body));
    assert!(wrong_body.contains("Wrong name or password."));
    // The name that failed waits a quarter of a second before its next try.
    let (status, _, body) = form(
        &http,
        &server,
        "/login",
        &[("name", "ann"), ("password", "long enough pass")],
        &[("x-forwarded-for", "198.51.100.3")],
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (status, headers, _) = form(
        &http,
        &server,
        "/login",
        &[("name", "ann"), ("password", "long enough pass")],
        &[("x-forwarded-for", "198.51.100.1")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let second = session_cookie(&headers);
    assert_ne!(second, cookie, "a new token at every sign-in");
    assert_eq!(me(&http, &server, &second).await.0, StatusCode::OK);

    // Five failures from one address close it for 15 minutes, even to the right password.
    for name in ["a1", "a2", "a3", "a4", "a5"] {
        let (status, _, _) = form(
            &http,
            &server,
            "/login",
            &[("name", name), ("password", "guess guess guess")],
            &[("x-forwarded-for", "203.0.113.5")],
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, headers, body) = form(
        &http,
        &server,
        "/login",
        &[("name", "ann"), ("password", "long enough pass")],
        &[("x-forwarded-for", "203.0.113.5")],
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(headers.contains_key("retry-after") && body.contains("Too many failed sign-ins"));
    let (status, _, _) = form(
        &http,
        &server,
        "/login",
        &[("name", "ann"), ("password", "long enough pass")],
        &[("x-forwarded-for", "203.0.113.6")],
    )
    .await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "other addresses are not held back"
    );

    // Sessions survive a restart; the setup link does not come back once an owner exists.
    let (dir, _) = server.stop();
    let server = Server::start_in(dir, CONFIG, &[]);
    assert!(!server.logs().contains("/setup?token="));
    assert_eq!(me(&http, &server, &second).await.0, StatusCode::OK);
}

#[tokio::test]
async fn owners_are_managed_from_the_command_line() {
    let server = Server::start(CONFIG);
    let http = browser();
    let data = server.data_dir();
    let (ok, _, err) = cli_with_input(&data, &["user", "add", "cam"], "short\n");
    assert!(!ok && err.contains("at least 10 characters"), "{err}");
    let (ok, out, err) = cli_with_input(&data, &["user", "add", "cam"], "first password\n");
    assert!(ok && out.contains("added owner cam"), "{out}{err}");
    let (ok, _, err) = cli_with_input(&data, &["user", "add", "cam"], "first password\n");
    assert!(!ok && err.contains("already an owner"), "{err}");
    // The first-run link is gone once someone owns the server.
    let token = server.setup_token();
    let setup = http
        .get(server.url(&format!("/setup?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(setup.status(), StatusCode::NOT_FOUND);

    let sign_in = |password: &'static str| {
        let http = http.clone();
        let url = server.url("/login");
        async move {
            let response = http
                .post(url)
                .form(&[("name", "cam"), ("password", password)])
                .send()
                .await
                .unwrap();
            (response.status(), response.headers().clone())
        }
    };
    let (status, headers) = sign_in("first password").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let cookie = session_cookie(&headers);
    let (ok, out, _) = cli_with_input(&data, &["user", "passwd", "cam"], "second password\n");
    assert!(ok && out.contains("sessions ended"), "{out}");
    assert_eq!(
        me(&http, &server, &cookie).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(sign_in("first password").await.0, StatusCode::UNAUTHORIZED);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (status, headers) = sign_in("second password").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let cookie = session_cookie(&headers);
    let (ok, out, _) = cli(&data, &["user", "list"]);
    assert!(ok && out.trim() == "cam", "{out}");
    let (ok, _, _) = cli(&data, &["user", "remove", "cam"]);
    assert!(ok);
    assert_eq!(
        me(&http, &server, &cookie).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (ok, _, err) = cli(&data, &["user", "remove", "cam"]);
    assert!(!ok && err.contains("not an owner"), "{err}");
}

#[tokio::test]
async fn behind_an_https_public_url_the_cookie_is_secure_and_origins_are_checked_against_it() {
    let config = format!("public_url = \"https://stats.example.com/\"\n{CONFIG}");
    let server = Server::start(&config);
    let http = browser();
    let logs = server.logs();
    assert!(
        logs.contains("https://stats.example.com/setup?token="),
        "{logs}"
    );
    let token = server.setup_token();
    let (status, headers, _) = form(
        &http,
        &server,
        "/setup",
        &[
            ("token", &token),
            ("name", "ann"),
            ("password", "long enough pass"),
        ],
        &[("origin", "https://stats.example.com")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let set = headers[SET_COOKIE].to_str().unwrap();
    assert!(
        set.starts_with("__Host-footfall_session=") && set.contains("; Secure"),
        "{set}"
    );
    let cookie = session_cookie(&headers);
    assert_eq!(me(&http, &server, &cookie).await.0, StatusCode::OK);
    // The server's own address is not the origin owners use: refused.
    let own = server.base.clone();
    let (status, _, _) = form(
        &http,
        &server,
        "/logout",
        &[],
        &[("origin", &own), ("cookie", &cookie)],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = form(
        &http,
        &server,
        "/logout",
        &[],
        &[("origin", "https://stats.example.com"), ("cookie", &cookie)],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        me(&http, &server, &cookie).await.0,
        StatusCode::UNAUTHORIZED
    );
}
