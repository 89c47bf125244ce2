//! Drill 12: an hour at a steady, moderate rate, with public counters and Stats API queries (the
//! dashboard's engine) mixed in. Memory must stop growing once warmed up (under 10 % growth
//! after the warm-up), the write-ahead log must stay bounded, and nothing may fail.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{header, HeaderValue, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::steady::{self, Traffic, DOMAIN};
use super::{footfall, stored};
use crate::load::process::{sibling, Server};

/// Distinct pages the soak's visitors read: a site's worth, so live counters stay bounded.
const PAGES: u64 = 500;
/// The Stats API queries the reader cycles through, as the dashboard asks them.
const QUERIES: [&str; 4] = [
    r#"{"site_id":"drill.test","metrics":["visitors","pageviews","bounce_rate","visit_duration"],"date_range":"30d"}"#,
    r#"{"site_id":"drill.test","metrics":["visitors","pageviews"],"date_range":"7d","dimensions":["event:page"],"pagination":{"limit":10}}"#,
    r#"{"site_id":"drill.test","metrics":["visitors"],"date_range":"day","dimensions":["time:hour"]}"#,
    r#"{"site_id":"drill.test","metrics":["visitors"],"date_range":"30d","dimensions":["visit:channel"],"filters":[["is_not","visit:channel",["Direct"]]]}"#,
];

/// How long, how fast, and the store's memory limit.
#[derive(Debug, Clone)]
pub struct Settings {
    pub duration: Duration,
    /// Memory growth is measured from the end of the warm-up.
    pub warm_up: Duration,
    /// Events a second.
    pub rate: f64,
    /// DuckDB's memory limit (`[store] memory_limit`), if not the server's default.
    pub duckdb_memory: Option<String>,
}

/// One look at the server, every 10 s.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// Seconds since the start.
    pub at: u64,
    pub resident_mb: f64,
    pub wal_mb: f64,
    /// The server's last memory report (`footfall::memory`, once a minute): its fields in MB,
    /// as `name=value` text (anonymous, DuckDB's own, glibc's heap in use and held).
    pub breakdown: String,
}

/// The fields of the server's memory report that the samples show.
const BREAKDOWN: [&str; 4] = [
    "anonymous_mb",
    "duckdb_mb",
    "glibc_in_use_mb",
    "glibc_held_mb",
];

#[derive(Debug, Default)]
pub struct Outcome {
    pub samples: Vec<Sample>,
    pub rss_after_warm_up: f64,
    pub rss_max_after_warm_up: f64,
    pub rss_end: f64,
    pub wal_max: f64,
    pub events: BTreeMap<u16, u64>,
    pub reads: BTreeMap<u16, u64>,
    pub stored: u64,
    pub failures: Vec<String>,
}

/// Runs the soak.
pub fn run(dir: &Path, settings: &Settings) -> Result<Outcome, String> {
    let Settings {
        duration,
        warm_up,
        rate,
        ..
    } = settings.clone();
    let runtime = super::runtime();
    let data = dir.join("data");
    let mut extra = String::from("public_counters = true\ncounter_min_visitors = 1\n");
    if let Some(limit) = &settings.duckdb_memory {
        extra.push_str(&format!("\n[store]\nmemory_limit = \"{limit}\"\n"));
    }
    let mut command = footfall(dir, &data, &extra).map_err(|e| e.to_string())?;
    command.env("RUST_LOG", "info,footfall::memory=debug");
    let server = Server::start(command)?;
    let key = stats_key(dir, &data)?;
    // What it logs from here on must hold no warning or error (the start's advice on setup
    // does not count).
    let started_logging = server.log_len();
    let traffic = {
        let _entered = runtime.enter();
        steady::start(Traffic {
            addr: server.addr,
            round: 0,
            connections: 4,
            rate: Some(rate),
            padding: 0,
            pages: Some(PAGES),
        })
    };
    let reading = Arc::new(AtomicBool::new(true));
    let reader = runtime.spawn(read(server.addr, key, reading.clone()));

    let started = Instant::now();
    let wal = data.join("footfall.duckdb.wal");
    let mut outcome = Outcome::default();
    while started.elapsed() < duration {
        std::thread::sleep(Duration::from_secs(10).min(duration.saturating_sub(started.elapsed())));
        let rss = server.rss_bytes() as f64 / 1e6;
        let wal_mb = std::fs::metadata(&wal).map_or(0.0, |m| m.len() as f64 / 1e6);
        outcome.samples.push(Sample {
            at: started.elapsed().as_secs(),
            resident_mb: rss,
            wal_mb,
            breakdown: server
                .last_line("duckdb_mb=")
                .map(|line| breakdown(&line))
                .unwrap_or_default(),
        });
        if started.elapsed() >= warm_up {
            if outcome.rss_after_warm_up == 0.0 {
                outcome.rss_after_warm_up = rss;
            }
            outcome.rss_max_after_warm_up = outcome.rss_max_after_warm_up.max(rss);
        }
        outcome.wal_max = outcome.wal_max.max(wal_mb);
        outcome.rss_end = rss;
    }
    let sent = runtime.block_on(traffic.finish());
    reading.store(false, Ordering::Relaxed);
    outcome.reads = runtime.block_on(reader).unwrap_or_default();
    outcome.events = steady::tally(&sent);
    let stopped = server.stop(Duration::from_secs(30))?;
    if !stopped.status.success() {
        outcome
            .failures
            .push(format!("the server exited with {}", stopped.status));
    }
    for line in stopped.log[started_logging..]
        .iter()
        .filter(|l| l.contains("ERROR") || l.contains("WARN"))
    {
        outcome.failures.push(format!("the server logged: {line}"));
    }
    outcome.stored = stored::read(&data.join("footfall.duckdb"))
        .map_err(|e| e.to_string())?
        .rows;

    let accepted = outcome.events.get(&202).copied().unwrap_or(0);
    if outcome.events.keys().any(|&s| s != 202) {
        outcome
            .failures
            .push(format!("events answered {:?}", outcome.events));
    }
    if outcome.reads.keys().any(|&s| s != 200) {
        outcome
            .failures
            .push(format!("reads answered {:?}", outcome.reads));
    }
    if outcome.stored != accepted {
        outcome.failures.push(format!(
            "{accepted} events answered 202, {} stored",
            outcome.stored
        ));
    }
    let growth = outcome.rss_max_after_warm_up / outcome.rss_after_warm_up.max(1.0) - 1.0;
    if growth >= 0.10 {
        outcome.failures.push(format!(
            "memory grew {:.0} % after the warm-up ({:.0} MB to {:.0} MB)",
            growth * 100.0,
            outcome.rss_after_warm_up,
            outcome.rss_max_after_warm_up
        ));
    }
    // The checkpointer folds the log in past 16 MB; twice that is a log no longer bounded.
    if outcome.wal_max > 32.0 {
        outcome.failures.push(format!(
            "the write-ahead log reached {:.0} MB",
            outcome.wal_max
        ));
    }
    Ok(outcome)
}

/// The [`BREAKDOWN`] fields of a memory report line, as `name=value` text.
fn breakdown(line: &str) -> String {
    line.split_whitespace()
        .filter(|word| {
            BREAKDOWN
                .iter()
                .any(|name| word.strip_prefix(name).is_some_and(|v| v.starts_with('=')))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A Stats API key for the drill's site, from `footfall key create` (the running server's
/// command socket).
fn stats_key(dir: &Path, data: &Path) -> Result<String, String> {
    let out = Command::new(sibling("footfall"))
        .arg("--config")
        .arg(dir.join("footfall.toml"))
        .arg("--data-dir")
        .arg(data)
        .args(["key", "create", "--site", DOMAIN])
        .output()
        .map_err(|e| e.to_string())?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .find(|w| w.starts_with("ff_"))
        .map(str::to_owned)
        .ok_or_else(|| {
            format!(
                "no key from `footfall key create`: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

/// Reads while `reading`: a public counter ten times a second and a Stats API query every
/// second, over one keep-alive connection. Answers by status (0: none).
async fn read(
    addr: std::net::SocketAddr,
    key: String,
    reading: Arc<AtomicBool>,
) -> BTreeMap<u16, u64> {
    let mut by_status = BTreeMap::new();
    let mut i: u64 = 0;
    'connect: while reading.load(Ordering::Relaxed) {
        let Ok(stream) = TcpStream::connect(addr).await else {
            *by_status.entry(0).or_default() += 1;
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        let Ok((mut sender, conn)) = http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream)).await
        else {
            continue;
        };
        tokio::spawn(conn);
        while reading.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(100)).await;
            i += 1;
            let mut request = if i.is_multiple_of(10) {
                let query = QUERIES[(i / 10) as usize % QUERIES.len()];
                let mut request = Request::new(Full::new(Bytes::from_static(query.as_bytes())));
                *request.method_mut() = Method::POST;
                *request.uri_mut() = "/api/v2/query".parse().expect("a path");
                let bearer = HeaderValue::from_str(&format!("Bearer {key}")).expect("a key");
                request.headers_mut().insert(header::AUTHORIZATION, bearer);
                request.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                request
            } else {
                let page = steady::path(0, i % PAGES, 0);
                let mut request = Request::new(Full::new(Bytes::new()));
                *request.uri_mut() = format!("/api/counter?site={DOMAIN}&path={page}")
                    .parse()
                    .expect("a path");
                request
            };
            request
                .headers_mut()
                .insert(header::HOST, HeaderValue::from_static("127.0.0.1"));
            match sender.send_request(request).await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let _ = response.into_body().collect().await;
                    *by_status.entry(status).or_default() += 1;
                }
                Err(_) => {
                    *by_status.entry(0).or_default() += 1;
                    continue 'connect;
                }
            }
        }
    }
    by_status
}
