//! The settings page in a real browser (Debian's Chromium through playwright-core): adding a
//! site, its time zone and rules (a bad range refused with its reason), goals, a shared link
//! opened without a session and then revoked, and removing a site; checked against the store
//! through the owner's API.

mod support;

use std::path::Path;

use serde_json::json;
use support::*;

const CONFIG: &str = "trusted_proxies = [\"127.0.0.1\"]\n[[sites]]\ndomain = \"example.com\"\n";

#[tokio::test]
async fn an_owner_changes_settings_and_shares_a_site() {
    let server = Server::start(CONFIG);
    let http = client();
    for ip in ["198.51.100.1", "198.51.100.2"] {
        pageview(&http, &server, "https://example.com/", ip, FIREFOX).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let (ok, out, err) = cli_with_input(
        &server.data_dir(),
        &["user", "add", "ann"],
        "a long password\n",
    );
    assert!(ok, "{out}{err}");

    let seen = browser_script(
        &server,
        "settings.mjs",
        &[],
        &[("SCREENSHOTS", env!("CARGO_TARGET_TMPDIR"))],
    );
    // A config-file site: its rules are read-only here.
    assert_eq!(seen["configNote"], true);
    assert_eq!(seen["timezoneDisabled"], true);
    assert!(
        seen["snippet"]
            .as_str()
            .unwrap()
            .ends_with("/script.js\" data-domain=\"example.com\"></script>"),
        "{seen}"
    );
    assert_eq!(
        seen["added"],
        format!(
            "added blog.example (time zone Europe/Paris)\nembed on its pages:\n  \
             <script defer src=\"{}/script.js\" data-domain=\"blog.example\"></script>",
            server.base
        )
    );
    assert_eq!(seen["sites"], json!(["blog.example", "example.com"]));
    assert_eq!(seen["newTimezone"], "Europe/Paris");
    assert!(
        seen["refused"]
            .as_str()
            .unwrap()
            .contains("\"not-an-ip\" is not an IP address"),
        "{seen}"
    );
    assert_eq!(
        seen["rules"],
        json!({"ips": "10.0.0.0/8\n2001:db8::/32", "hidden": "/drafts/**", "timezone": "Asia/Tokyo"})
    );
    assert_eq!(seen["goals"], json!(["Visit /thanks/**"]));
    assert_eq!(seen["shareListed"].as_array().unwrap().len(), 1);
    assert!(
        seen["shareListed"][0]
            .as_str()
            .unwrap()
            .starts_with("Team <b>board</b> · "),
        "the label is text: {seen}"
    );
    assert_eq!(
        seen["shared"],
        json!({"path": true, "settingsLinks": 0, "signOut": 0, "visitors": "2"})
    );
    assert_eq!(seen["revokedStatus"], 404);
    assert_eq!(seen["unconfirmed"], "Type blog.example to confirm.");
    assert_eq!(seen["afterRemoval"], json!(["example.com"]));
    for shot in ["1280", "390"] {
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("settings-{shot}.png"));
        let png = std::fs::read(&path).expect("the screenshot was saved");
        assert!(png.starts_with(b"\x89PNG"), "{}", path.display());
    }
}
