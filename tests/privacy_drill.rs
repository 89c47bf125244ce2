//! Drill 11 of docs/reliability.md, privacy: after 10,000 events from 10,000 known addresses,
//! none of those addresses is anywhere Footfall writes or answers (the data directory with its
//! database, write-ahead log and any temporary file; the log at trace level; every error body),
//! in text or in binary, and neither is the day's salt.
//!
//! The addresses reach the server the ways real ones do: as the socket's peer (distinct
//! 127.100.x.y source addresses: Linux routes all of 127/8 to loopback), and through a trusted
//! proxy in `X-Forwarded-For`, `Forwarded` and `X-Real-IP`, as IPv4, IPv6 and IPv4-mapped IPv6.
//! A fifth of them also send requests that fail, so error bodies (and the log lines of errors)
//! are made while their addresses are the client's.
//!
//! Two runs: the real binary at `FOOTFALL_LOG=trace` (what a deployment writes), and the server
//! in this process with every log line at trace level captured (but those of the test's own
//! HTTP client), where the salt can be read (through an accessor only test builds have) and
//! looked for too. About 35 s here, both runs at once.

mod support;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use support::*;
use tracing_subscriber::EnvFilter;

const CONFIG: &str = "trusted_proxies = [\"127.0.0.1\"]\n\
    [[sites]]\ndomain = \"example.com\"\npublic_counters = true\n";
/// Known addresses, one event each.
const ADDRESSES: usize = 10_000;
/// Requests sent at once.
const WORKERS: usize = 16;

/// How an address reaches the server.
#[derive(Clone, Debug)]
enum Via {
    /// The socket's own source address: no proxy.
    Peer,
    XForwardedFor(String),
    Forwarded(String),
    XRealIp(String),
}

#[derive(Clone, Debug)]
struct Known {
    /// As the server sees it (IPv4-mapped addresses are IPv4).
    ip: IpAddr,
    via: Via,
}

/// The 10,000 addresses: 1,000 direct peers, 5,000 IPv4 in `X-Forwarded-For`, 1,000 in
/// `Forwarded`, 500 in `X-Real-IP`, 500 IPv4-mapped IPv6 in `X-Forwarded-For`, 1,500 IPv6 in
/// `X-Forwarded-For` (short, long and uncompressible forms) and 500 in `Forwarded`.
fn known_addresses() -> Vec<Known> {
    let v4 = |a: u8, b: u8, j: usize| Ipv4Addr::new(a, b, (j / 250) as u8, (j % 250 + 1) as u8);
    let mut all = Vec::with_capacity(ADDRESSES);
    for j in 0..1_000 {
        all.push(Known {
            ip: v4(127, 100, j).into(),
            via: Via::Peer,
        });
    }
    for j in 0..5_000 {
        let ip = v4(198, 18, j);
        all.push(Known {
            ip: ip.into(),
            via: Via::XForwardedFor(ip.to_string()),
        });
    }
    for j in 0..1_000 {
        let ip = v4(198, 19, j);
        all.push(Known {
            ip: ip.into(),
            via: Via::Forwarded(format!("for={ip};proto=https")),
        });
    }
    for j in 0..500 {
        let ip = v4(198, 19, 1_000 + j);
        all.push(Known {
            ip: ip.into(),
            via: Via::XRealIp(ip.to_string()),
        });
    }
    for j in 0..500 {
        let ip = v4(198, 19, 2_000 + j);
        all.push(Known {
            ip: ip.into(),
            via: Via::XForwardedFor(ip.to_ipv6_mapped().to_string()),
        });
    }
    for j in 0..2_000u16 {
        let ip = match j % 3 {
            0 => Ipv6Addr::new(0x2001, 0xdb8, j, 0, 0, 0, 0, 1),
            1 => Ipv6Addr::new(0x2001, 0xdb8, 0x1000 + j, 0xa, 0, 0, 0xb00c, j),
            _ => Ipv6Addr::new(0x2001, 0xdb8, 0x2000 + j, 0xaaaa, 0xbbbb, 0xcccc, 0xdddd, j),
        };
        let via = if j < 1_500 {
            Via::XForwardedFor(ip.to_string())
        } else {
            Via::Forwarded(format!("for=\"[{ip}]:4711\""))
        };
        all.push(Known { ip: ip.into(), via });
    }
    assert_eq!(all.len(), ADDRESSES);
    all
}

/// 10,000 IPv4 addresses never sent, to tell chance 4-byte matches from leaks.
fn control_addresses() -> Vec<Ipv4Addr> {
    (0..ADDRESSES)
        .map(|j| Ipv4Addr::new(100, 64, (j / 250) as u8, (j % 250 + 1) as u8))
        .collect()
}

/// A client whose requests come from `known` (its own source address, or the proxy's headers),
/// on a new connection each (a server may close one after refusing an oversized body).
fn client_for(known: &Known) -> (reqwest::Client, Vec<(&'static str, String)>) {
    let builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::none());
    match &known.via {
        Via::Peer => (builder.local_address(known.ip).build().unwrap(), Vec::new()),
        Via::XForwardedFor(v) => (
            builder.build().unwrap(),
            vec![("x-forwarded-for", v.clone())],
        ),
        Via::Forwarded(v) => (builder.build().unwrap(), vec![("forwarded", v.clone())]),
        Via::XRealIp(v) => (builder.build().unwrap(), vec![("x-real-ip", v.clone())]),
    }
}

/// A response as the client received it: status line, headers and body.
async fn as_received(response: reqwest::Response) -> (StatusCode, Vec<u8>) {
    let status = response.status();
    let mut bytes = format!("{status}\n").into_bytes();
    for (name, value) in response.headers() {
        bytes.extend_from_slice(name.as_str().as_bytes());
        bytes.extend_from_slice(b": ");
        bytes.extend_from_slice(value.as_bytes());
        bytes.push(b'\n');
    }
    bytes.extend_from_slice(&response.bytes().await.unwrap_or_default());
    bytes.push(b'\n');
    (status, bytes)
}

/// What the traffic left in the client's hands.
#[derive(Default)]
struct Sent {
    events: usize,
    /// Every answer that was not a 2xx, as received.
    error_bodies: Vec<u8>,
    errors: usize,
    /// Failing requests the server closed the connection on before the client read an answer.
    unanswered: usize,
}

/// Sends one event per known address (every seventh through the pixel, the rest to the Events
/// API), and from every fifth address a few requests that fail.
async fn send_traffic(base: &str, known: &[Known]) -> Sent {
    let base = Arc::new(base.to_owned());
    let known = Arc::new(known.to_vec());
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..WORKERS {
        let (base, known) = (base.clone(), known.clone());
        workers.spawn(async move {
            let mut sent = Sent::default();
            // One keep-alive client for every address that comes through the proxy.
            let proxied = reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            for i in (worker..known.len()).step_by(WORKERS) {
                let (own, headers) = client_for(&known[i]);
                let http = if matches!(known[i].via, Via::Peer) {
                    own.clone()
                } else {
                    proxied.clone()
                };
                let with = |mut request: reqwest::RequestBuilder| {
                    for (name, value) in &headers {
                        request = request.header(*name, value);
                    }
                    request.header(
                        "user-agent",
                        if i.is_multiple_of(2) { FIREFOX } else { IPHONE },
                    )
                };
                let page = format!("https://example.com/page/{}", i % 50);
                let request = if i.is_multiple_of(7) {
                    with(http.get(format!("{base}/api/event.gif"))).query(&[("u", page.as_str())])
                } else {
                    with(http.post(format!("{base}/api/event")))
                        .body(serde_json::json!({"n": "pageview", "u": page}).to_string())
                };
                let (status, received) = as_received(request.send().await.unwrap()).await;
                assert!(
                    status.is_success(),
                    "{:?}: {}",
                    known[i],
                    String::from_utf8_lossy(&received)
                );
                sent.events += 1;
                let mut failing = Vec::new();
                if i.is_multiple_of(5) {
                    failing.extend(failing_requests(&own, &base, i));
                }
                if i % 500 == 1 {
                    failing.extend(login_flood(&own, &base, i));
                }
                for request in failing {
                    // A server may answer an oversized body and close before reading it all,
                    // which the client can see as a failed send.
                    let Ok(response) = with(request).send().await else {
                        sent.unanswered += 1;
                        continue;
                    };
                    let (status, received) = as_received(response).await;
                    if !status.is_success() {
                        sent.errors += 1;
                        sent.error_bodies.extend_from_slice(&received);
                    }
                }
            }
            sent
        });
    }
    let mut all = Sent::default();
    while let Some(sent) = workers.join_next().await {
        let sent = sent.unwrap();
        all.events += sent.events;
        all.errors += sent.errors;
        all.unanswered += sent.unanswered;
        all.error_bodies.extend_from_slice(&sent.error_bodies);
    }
    all
}

/// Kinds of request that fail.
const FAILING: usize = 19;

/// Requests that fail, each a different way: the i-th address sends six kinds, in turn, so that
/// every kind is sent by 300 or more addresses.
fn failing_requests(http: &reqwest::Client, base: &str, i: usize) -> Vec<reqwest::RequestBuilder> {
    let query = serde_json::json!({"site_id": "example.com", "metrics": ["visitors"]});
    let one = |kind: usize| match kind {
        0 => http.post(format!("{base}/api/event")).body("{not json"),
        1 => http
            .post(format!("{base}/api/event"))
            .body(r#"{"n":"pageview","u":"not a url"}"#),
        2 => http.post(format!("{base}/api/event")).body(format!(
            r#"{{"n":"pageview","u":"https://example.com/{}"}}"#,
            "x".repeat(70_000)
        )),
        3 => http.get(format!("{base}/api/event")),
        4 => http.get(format!("{base}/api/event.gif")),
        5 => http.post(format!("{base}/login")).form(&[
            ("name", format!("nobody{i}")),
            ("password", "wrong password".into()),
        ]),
        6 => http.post(format!("{base}/api/v2/query")).json(&query),
        7 => http
            .post(format!("{base}/api/v2/query"))
            .bearer_auth("ff_00000000_000000000000000000000000000000000000000")
            .json(&query),
        8 => http.get(format!(
            "{base}/api/v1/stats/realtime/visitors?site_id=example.com"
        )),
        9 => http.get(format!("{base}/api/counter")),
        10 => http.get(format!(
            "{base}/api/counter.svg?site=example.com&period=nonsense"
        )),
        11 => http.get(format!("{base}/share/{}", "ab".repeat(32))),
        12 => http
            .get(format!("{base}/api/share/me"))
            .header("x-footfall-share", "nonsense"),
        13 => http.get(format!("{base}/api/dashboard/me")),
        14 => http
            .post(format!("{base}/api/dashboard/settings"))
            .header("origin", "https://evil.test")
            .body("{}"),
        15 => http.get(format!("{base}/setup?token=00")),
        16 => http.get(format!("{base}/js/not-a-script.js")),
        17 => http.get(format!("{base}/no/such/route")),
        _ => http.delete(format!("{base}/healthz")),
    };
    (0..6).map(|n| one((i / 5 * 6 + n) % FAILING)).collect()
}

/// Six failed sign-ins from one address: the sixth is refused for the address (429).
fn login_flood(http: &reqwest::Client, base: &str, i: usize) -> Vec<reqwest::RequestBuilder> {
    (0..6)
        .map(|n| {
            http.post(format!("{base}/login")).form(&[
                ("name", format!("flood{i}-{n}")),
                ("password", "wrong password".into()),
            ])
        })
        .collect()
}

/// What to look for: each known address in every form it could be written in, the control
/// addresses' 4-byte forms, and (in-process) the salts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Kind {
    /// An address as text: dotted, IPv6 compressed, expanded or upper case, IPv4-mapped, hex.
    Text,
    /// An address as 16 bytes (IPv6, or IPv4-mapped), in network or reversed order.
    Bytes16,
    /// An IPv4 address as 4 bytes, in network order or as a little-endian `u32`.
    Bytes4,
    /// A never-sent address as 4 bytes: how often 4 random bytes match by chance.
    Control4,
    /// Salt bytes: any 8 in a row, raw or hex, or the whole salt in base64.
    Salt,
}

/// Many byte strings, found in one pass: by their first four bytes, then by length.
#[derive(Default)]
struct Needles {
    lengths: HashMap<[u8; 4], Vec<usize>>,
    all: HashMap<Vec<u8>, (Kind, String)>,
}

#[derive(Default, Debug)]
struct Found {
    by_kind: HashMap<Kind, usize>,
    examples: Vec<String>,
}

impl Needles {
    fn add(&mut self, kind: Kind, what: &str, bytes: Vec<u8>) {
        assert!(bytes.len() >= 4);
        let lengths = self
            .lengths
            .entry(bytes[..4].try_into().unwrap())
            .or_default();
        if !lengths.contains(&bytes.len()) {
            lengths.push(bytes.len());
        }
        self.all.entry(bytes).or_insert((kind, what.to_owned()));
    }

    fn add_address(&mut self, ip: IpAddr) {
        let what = ip.to_string();
        let v6 = match ip {
            IpAddr::V4(v4) => {
                let text = v4.to_string();
                let mapped = v4.to_ipv6_mapped();
                let [a, b, c, d] = v4.octets();
                for form in [
                    text.clone(),
                    format!("::ffff:{text}"),
                    format!("::FFFF:{text}"),
                    format!(
                        "::ffff:{:x}:{:x}",
                        u16::from_be_bytes([a, b]),
                        u16::from_be_bytes([c, d])
                    ),
                    format!("{:08x}", u32::from(v4)),
                    format!("{:08x}", u32::from(v4).swap_bytes()),
                ] {
                    self.add(Kind::Text, &what, form.into_bytes());
                }
                self.add(Kind::Bytes4, &what, v4.octets().to_vec());
                self.add(Kind::Bytes4, &what, u32::from(v4).to_le_bytes().to_vec());
                mapped
            }
            IpAddr::V6(v6) => {
                let full: Vec<String> = v6.segments().iter().map(|s| format!("{s:04x}")).collect();
                let short: Vec<String> = v6.segments().iter().map(|s| format!("{s:x}")).collect();
                for form in [
                    v6.to_string(),
                    v6.to_string().to_uppercase(),
                    full.join(":"),
                    short.join(":"),
                    format!("{:032x}", u128::from(v6)),
                ] {
                    self.add(Kind::Text, &what, form.into_bytes());
                }
                v6
            }
        };
        self.add(Kind::Bytes16, &what, v6.octets().to_vec());
        self.add(Kind::Bytes16, &what, u128::from(v6).to_le_bytes().to_vec());
    }

    fn add_salt(&mut self, salt: &[u8; 32]) {
        for window in salt.windows(8) {
            let hex: String = window.iter().map(|b| format!("{b:02x}")).collect();
            self.add(Kind::Salt, "salt", window.to_vec());
            self.add(Kind::Salt, "salt (hex)", hex.clone().into_bytes());
            self.add(Kind::Salt, "salt (HEX)", hex.to_uppercase().into_bytes());
        }
        for (alphabet, what) in [
            (
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
                "salt (base64)",
            ),
            (
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
                "salt (base64url)",
            ),
        ] {
            self.add(Kind::Salt, what, base64(salt, alphabet).into_bytes());
        }
    }

    fn scan(&self, place: &str, hay: &[u8], found: &mut Found) {
        for i in 0..hay.len().saturating_sub(3) {
            let Some(lengths) = self.lengths.get(&hay[i..i + 4]) else {
                continue;
            };
            for &length in lengths {
                if let Some((kind, what)) = hay.get(i..i + length).and_then(|b| self.all.get(b)) {
                    *found.by_kind.entry(*kind).or_default() += 1;
                    if *kind != Kind::Control4 && found.examples.len() < 20 {
                        let from = i.saturating_sub(60);
                        let context =
                            String::from_utf8_lossy(&hay[from..(i + length + 60).min(hay.len())]);
                        found
                            .examples
                            .push(format!("{kind:?} {what} in {place} at {i}: {context:?}"));
                    }
                }
            }
        }
    }

    fn count(&self, found: &Found, kind: Kind) -> usize {
        found.by_kind.get(&kind).copied().unwrap_or(0)
    }
}

/// Standard base64 (no padding needed: 32 bytes are 43 characters and one `=`), by hand so the
/// test needs no crate for it.
fn base64(bytes: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (k, b)| n | u32::from(*b) << (16 - 8 * k));
        for k in 0..=chunk.len() {
            out.push(alphabet[(n >> (18 - 6 * k) & 63) as usize] as char);
        }
    }
    out
}

/// Every regular file under `dir`, with its bytes, named `{when} {path}`.
fn files_under(dir: &Path, when: &str) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                dirs.push(entry.path());
            } else if kind.is_file() {
                // A file the running server removed in the meantime (a checkpointed WAL) is gone.
                if let Ok(bytes) = std::fs::read(entry.path()) {
                    files.push((format!("{when} {}", entry.path().display()), bytes));
                }
            }
        }
    }
    files
}

/// Scans the data directory, the log and the error bodies, prints what was scanned and found,
/// and fails on any address in text or 16-byte form, any salt byte run, or more 4-byte matches
/// than chance gives the never-sent control addresses.
fn scan_everything(
    run: &str,
    needles: &Needles,
    files: &[(String, Vec<u8>)],
    logs: &[u8],
    sent: &Sent,
) -> Found {
    let mut found = Found::default();
    let mut listed = Vec::new();
    for (path, bytes) in files {
        needles.scan(path, bytes, &mut found);
        let (when, path) = path.split_once(' ').unwrap();
        listed.push(format!(
            "{when} {} ({} bytes)",
            path.rsplit('/').next().unwrap(),
            bytes.len()
        ));
    }
    needles.scan("the log", logs, &mut found);
    needles.scan("the error bodies", &sent.error_bodies, &mut found);
    let data_bytes: usize = files.iter().map(|(_, b)| b.len()).sum();
    eprintln!(
        "privacy drill ({run}): {} events from {ADDRESSES} addresses, {} error answers ({} closed \
         unanswered); scanned {} \
         files of the data directory, {data_bytes} bytes [{}], {} bytes of log, {} bytes of error \
         bodies, for {} byte strings. Found: text {}, 16-byte {}, salt {}, 4-byte {} (never-sent \
         control addresses: {})",
        sent.events,
        sent.errors,
        sent.unanswered,
        files.len(),
        listed.join(", "),
        logs.len(),
        sent.error_bodies.len(),
        needles.all.len(),
        needles.count(&found, Kind::Text),
        needles.count(&found, Kind::Bytes16),
        needles.count(&found, Kind::Salt),
        needles.count(&found, Kind::Bytes4),
        needles.count(&found, Kind::Control4),
    );
    assert!(files.iter().any(|(p, _)| p.ends_with("/footfall.duckdb")));
    assert_eq!(sent.events, ADDRESSES);
    assert!(sent.errors >= 1_000, "{} error answers", sent.errors);
    for kind in [Kind::Text, Kind::Bytes16, Kind::Salt] {
        assert_eq!(needles.count(&found, kind), 0, "{:#?}", found.examples);
    }
    let (bytes4, control) = (
        needles.count(&found, Kind::Bytes4),
        needles.count(&found, Kind::Control4),
    );
    // A leak writes an address per event (thousands); chance gives both sets a handful.
    assert!(
        bytes4 <= 2 * control + 10,
        "{bytes4} vs {control}: {:#?}",
        found.examples
    );
    found
}

fn needles_for(known: &[Known]) -> Needles {
    let mut needles = Needles::default();
    for k in known {
        needles.add_address(k.ip);
    }
    for ip in control_addresses() {
        needles.add(Kind::Control4, "control", ip.octets().to_vec());
        needles.add(
            Kind::Control4,
            "control",
            u32::from(ip).to_le_bytes().to_vec(),
        );
    }
    needles
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_at_trace_level_writes_no_address_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir, CONFIG, &[("FOOTFALL_LOG", "trace")]);
    let known = known_addresses();
    let started = Instant::now();
    let sent = send_traffic(&server.base, &known).await;
    eprintln!(
        "privacy drill (binary): traffic sent in {:.1?}",
        started.elapsed()
    );
    // The data directory while the server runs (the write-ahead log is there now), once the
    // writer has had time to commit, and again once it has stopped.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut files = files_under(&server.data_dir(), "running:");
    let (dir, logs) = server.stop();
    let data_dir = dir.path().join("data");
    files.extend(files_under(&data_dir, "stopped:"));
    let db = open_db(&data_dir.join("footfall.duckdb"));
    assert_eq!(count(&db, "SELECT count(*) FROM events"), ADDRESSES as i64);
    assert_eq!(
        count(&db, "SELECT count(DISTINCT visitor_id) FROM events"),
        ADDRESSES as i64,
        "every address was a visitor of its own: each reached the visitor hash"
    );
    drop(db);
    assert!(logs.contains("events written this run"), "{logs}");
    scan_everything(
        "binary",
        &needles_for(&known),
        &files,
        logs.as_bytes(),
        &sent,
    );
}

/// A log destination that keeps every line in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_at_trace_level_neither_addresses_nor_the_salt_leave_memory() {
    let log = Captured::default();
    let writer = log.clone();
    tracing_subscriber::fmt()
        // Everything at trace level, but the lines of this test's own HTTP client.
        .with_env_filter(EnvFilter::new("trace,reqwest=off,hyper_util::client=off"))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .try_init()
        .expect("the only subscriber of this test binary");

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("footfall.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let overrides = footfall::config::Overrides {
        config: Some(config),
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(dir.path().join("data")),
    };
    let settings = footfall::config::load(&overrides, Vec::new()).unwrap().0;
    let app = footfall::app::App::start(settings).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address: SocketAddr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(footfall::server::run(listener, app.clone(), async move {
        let _ = stopped.await;
    }));

    let known = known_addresses();
    let sent = send_traffic(&format!("http://{address}"), &known).await;
    let salts = app.collector.salt_copies_for_privacy_drill();
    let conn = app.store.connection().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while count(&conn, "SELECT count(*) FROM events") < ADDRESSES as i64 {
        assert!(Instant::now() < deadline, "the writer stores the events");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(conn);
    let data_dir = dir.path().join("data");
    let mut files = files_under(&data_dir, "running:");
    assert_eq!(salts.len(), 1, "one day, one salt");
    stop.send(()).unwrap();
    let report = server.await.unwrap().unwrap();
    assert_eq!(report.events_written, ADDRESSES as u64);

    let mut needles = needles_for(&known);
    for salt in &salts {
        needles.add_salt(salt);
    }
    tracing::trace!("privacy drill: the log keeps trace lines");
    let logs = log.0.lock().unwrap().clone();
    assert!(
        String::from_utf8_lossy(&logs).contains("TRACE privacy_drill: privacy drill"),
        "the log is at trace level"
    );
    files.extend(files_under(&data_dir, "stopped:"));
    scan_everything("in process", &needles, &files, &logs, &sent);
}

#[test]
fn the_scanner_finds_what_it_looks_for() {
    let mut needles = Needles::default();
    needles.add_address("198.18.0.7".parse().unwrap());
    needles.add_address("2001:db8:5:0:0:0:0:1".parse().unwrap());
    let salt = [7u8; 32];
    needles.add_salt(&salt);
    let mut found = Found::default();
    let mut hay =
        b"x 198.18.0.7 y 2001:DB8:5::1 z 2001:0db8:0005:0000:0000:0000:0000:0001".to_vec();
    hay.extend_from_slice(&[1, 0xc6, 0x12, 0, 7, 2]);
    hay.extend_from_slice(&[7, 0, 0x12, 0xc6]);
    hay.extend_from_slice(&Ipv4Addr::new(198, 18, 0, 7).to_ipv6_mapped().octets());
    hay.extend_from_slice(&salt[3..11]);
    hay.extend_from_slice(b"0707070707070707");
    needles.scan("test", &hay, &mut found);
    let count = |kind| needles.count(&found, kind);
    assert_eq!(count(Kind::Text), 3, "{found:?}");
    assert_eq!(
        count(Kind::Bytes4),
        3,
        "two plain, one inside the mapped form: {found:?}"
    );
    assert_eq!(count(Kind::Bytes16), 1, "{found:?}");
    assert!(count(Kind::Salt) >= 2, "{found:?}");
    assert_eq!(
        base64(
            b"any carnal pleas",
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        ),
        "YW55IGNhcm5hbCBwbGVhcw"
    );
}
