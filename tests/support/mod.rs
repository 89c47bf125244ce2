//! Starts the real `footfall` binary on a random port with a temporary data directory, and
//! reads back what it stored.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use footfall_collector::mmdb_writer::{write_mmdb, MmdbValue};

/// A browser's user agent, so test events are not dropped as bots.
pub const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
pub const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";

pub struct Server {
    child: Child,
    pub base: String,
    pub dir: tempfile::TempDir,
    logs: Arc<Mutex<String>>,
}

impl Server {
    /// Starts a server whose config file holds `config` (plus a GeoIP database made for tests),
    /// and waits until it listens.
    pub fn start(config: &str) -> Server {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, config, &[])
    }

    pub fn start_in(dir: tempfile::TempDir, config: &str, env: &[(&str, &str)]) -> Server {
        let geoip = dir.path().join("test-geo.mmdb");
        if !geoip.exists() {
            write_test_geoip(&geoip);
        }
        let config_path = dir.path().join("footfall.toml");
        std::fs::write(
            &config_path,
            format!("geoip = [{:?}]\n{config}", geoip.display().to_string()),
        )
        .unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_footfall"));
        command
            .arg("--config")
            .arg(&config_path)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["--listen", "127.0.0.1:0", "serve"])
            .env_remove("RUST_LOG")
            .env("FOOTFALL_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("start footfall");
        let logs = Arc::new(Mutex::new(String::new()));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        for stream in [
            Box::new(child.stderr.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stdout.take().unwrap()),
        ] {
            let logs = logs.clone();
            let addr_tx = addr_tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if let Some(rest) = line.split("listening on http://").nth(1) {
                        let _ = addr_tx.send(
                            rest.split_whitespace()
                                .next()
                                .unwrap_or_default()
                                .to_owned(),
                        );
                    }
                    let mut logs = logs.lock().unwrap();
                    logs.push_str(&line);
                    logs.push('\n');
                }
            });
        }
        let addr = match addr_rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "footfall did not start; its output:\n{}",
                    logs.lock().unwrap()
                );
            }
        };
        Server {
            child,
            base: format!("http://{addr}"),
            dir,
            logs,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn database(&self) -> PathBuf {
        self.data_dir().join("footfall.duckdb")
    }

    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits for the exit; returns the status and how long it took.
    pub fn terminate(&mut self) -> (ExitStatus, Duration) {
        let started = Instant::now();
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = started + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader threads take the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return (status, started.elapsed());
            }
            assert!(
                Instant::now() < deadline,
                "footfall did not exit within 30 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server and hands back its directory, for reading the database.
    pub fn stop(mut self) -> (tempfile::TempDir, String) {
        let (status, took) = self.terminate();
        assert!(
            status.success(),
            "footfall exited with {status}; output:\n{}",
            self.logs()
        );
        assert!(
            took < Duration::from_secs(10),
            "graceful stop took {took:?}"
        );
        let logs = self.logs();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        (dir, logs)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Networks the tests' GeoIP database knows, in the record shapes of real databases.
pub fn write_test_geoip(path: &Path) {
    let country = |code: &str| MmdbValue::map([("country_code", MmdbValue::from(code))]);
    write_mmdb(
        path,
        "footfall-test",
        &[
            ("81.2.69.0/24".parse().unwrap(), country("GB")),
            ("198.51.100.0/24".parse().unwrap(), country("US")),
            ("203.0.113.0/24".parse().unwrap(), country("DE")),
            ("2001:db8::/32".parse().unwrap(), country("NL")),
            (
                "192.0.2.0/24".parse().unwrap(),
                MmdbValue::map([
                    (
                        "country",
                        MmdbValue::map([("iso_code", MmdbValue::from("FR"))]),
                    ),
                    (
                        "subdivisions",
                        MmdbValue::Array(vec![MmdbValue::map([(
                            "iso_code",
                            MmdbValue::from("IDF"),
                        )])]),
                    ),
                    (
                        "city",
                        MmdbValue::map([(
                            "names",
                            MmdbValue::map([("en", MmdbValue::from("Paris"))]),
                        )]),
                    ),
                ]),
            ),
        ],
    )
    .unwrap();
}

/// Opens a stopped server's database (read-only) for checks.
pub fn open_db(path: &Path) -> duckdb::Connection {
    let config = duckdb::Config::default()
        .access_mode(duckdb::AccessMode::ReadOnly)
        .unwrap();
    duckdb::Connection::open_with_flags(path, config).unwrap()
}

pub fn count(conn: &duckdb::Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// Runs the CLI against a data directory, returning (success, stdout, stderr).
pub fn cli(data_dir: &Path, args: &[&str]) -> (bool, String, String) {
    cli_with_input(data_dir, args, "")
}

/// Runs the CLI with `input` on its standard input (a password, say).
pub fn cli_with_input(data_dir: &Path, args: &[&str], input: &str) -> (bool, String, String) {
    use std::io::Write;
    let empty = data_dir.parent().unwrap().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_footfall"))
        .arg("--config")
        .arg(&empty)
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Sends a pageview of `url` as a browser at `ip` (behind the trusted loopback proxy) would,
/// and checks it was accepted.
pub async fn pageview(
    http: &reqwest::Client,
    server: &Server,
    url: &str,
    ip: &str,
    user_agent: &str,
) {
    let response = http
        .post(server.url("/api/event"))
        .header("user-agent", user_agent)
        .header("x-forwarded-for", ip)
        .body(serde_json::json!({"n": "pageview", "u": url}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::ACCEPTED, "{url}");
}

impl Server {
    /// The first-run link's token, from the log line the server prints while nobody owns it.
    pub fn setup_token(&self) -> String {
        let logs = self.logs();
        logs.split("/setup?token=")
            .nth(1)
            .expect("the setup link is logged")[..64]
            .to_owned()
    }
}

/// A Stats API key for `site`, made with `footfall key create`.
pub fn stats_key(server: &Server, site: &str) -> String {
    let (ok, out, err) = cli(&server.data_dir(), &["key", "create", "--site", site]);
    assert!(ok, "{out}{err}");
    out.split_whitespace()
        .find(|w| w.starts_with("ff_"))
        .expect("the key is printed")
        .to_owned()
}

/// `POST /api/v2/query` with `key`: the answer, which must be a 200.
pub async fn stats_query(
    http: &reqwest::Client,
    server: &Server,
    key: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let response = http
        .post(server.url("/api/v2/query"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(status, reqwest::StatusCode::OK, "{body} → {answer}");
    answer
}

/// Runs `tests/browser/SCRIPT` in node (which drives Debian's Chromium) against the server, with
/// `FOOTFALL_URL` and `env` set, and returns the JSON of the last line it prints. A failed run
/// fails the test with what node printed and the end of the server's log.
pub fn browser_script(
    server: &Server,
    script: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> serde_json::Value {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed in {}: run scripts/test.sh, which installs it (and Chromium)",
        dir.display()
    );
    let mut node = Command::new("node");
    node.arg(dir.join(script))
        .args(args)
        .env("FOOTFALL_URL", &server.base);
    for (name, value) in env {
        node.env(name, value);
    }
    let output = node
        .output()
        .expect("run node (scripts/test.sh installs it)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let logs = server.logs();
    let log_end: Vec<&str> = logs.lines().rev().take(60).collect();
    assert!(
        output.status.success(),
        "browser run {script} {args:?} failed:\n{stderr}\n{stdout}\nserver log (end):\n{}",
        log_end.into_iter().rev().collect::<Vec<_>>().join("\n")
    );
    if !stderr.is_empty() {
        eprintln!("{stderr}");
    }
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap()
}

/// A request answered with JSON: the body, parsed (whatever the status).
pub async fn json_of(request: reqwest::RequestBuilder) -> serde_json::Value {
    request.send().await.unwrap().json().await.unwrap()
}

/// Adds the owner `name` from the command line (`footfall user add`, the password on its input).
pub fn add_owner(server: &Server, name: &str, password: &str) {
    let (ok, out, err) = cli_with_input(
        &server.data_dir(),
        &["user", "add", name],
        &format!("{password}\n"),
    );
    assert!(ok, "{out}{err}");
}

/// Adds the owner `name` and signs them in through `POST /login` (`http` must not follow
/// redirects): the session cookie, as `name=value` for a `Cookie` header.
pub async fn owner_session(
    http: &reqwest::Client,
    server: &Server,
    name: &str,
    password: &str,
) -> String {
    add_owner(server, name, password);
    let response = http
        .post(server.url("/login"))
        .form(&[("name", name), ("password", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::SEE_OTHER);
    set_cookie(response.headers())
}

/// The `name=value` of the cookie a response sets.
pub fn set_cookie(headers: &reqwest::header::HeaderMap) -> String {
    headers[reqwest::header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// `footfall share add --site SITE` with `args` (`--label`, say): the new link's token.
pub fn add_share(server: &Server, site: &str, args: &[&str]) -> String {
    let mut all = vec!["share", "add", "--site", site];
    all.extend_from_slice(args);
    let (ok, out, err) = cli(&server.data_dir(), &all);
    assert!(ok, "{out}{err}");
    printed_share_token(&out)
}

/// The token of the shared link whose address `footfall share add` printed.
pub fn printed_share_token(out: &str) -> String {
    out.split("/share/").nth(1).expect("the address is printed")[..64].to_owned()
}

/// The token at the end of a shared link's address (`…/share/TOKEN`), as the settings route
/// answers it.
pub fn link_token(url: &str) -> String {
    url.rsplit('/').next().unwrap().to_owned()
}
