//! The owner's sign-in in a real browser (Debian's Chromium through playwright-core): the
//! first-run link, the home page filled by its script under the strict CSP, signing out, a
//! failed sign-in, signing in again, and a signed-out session that opens nothing.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};
use support::*;

#[test]
fn an_owner_sets_up_signs_out_fails_and_signs_in_again() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed in {}: run scripts/test.sh",
        dir.display()
    );
    let server = Server::start("[[sites]]\ndomain = \"example.com\"\n");
    let logs = server.logs();
    let token = &logs.split("/setup?token=").nth(1).expect("the setup link")[..64];
    let output = Command::new("node")
        .arg(dir.join("dashboard.mjs"))
        .env("FOOTFALL_URL", &server.base)
        .env("SETUP", token)
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
        seen,
        json!({
            "home": {"owner": "Signed in as ann", "sites": ["example.com"]},
            "cookie": {"httpOnly": true, "sameSite": "Strict"},
            "failed": "Wrong name or password.",
            "oldSession": 401,
        })
    );
}
