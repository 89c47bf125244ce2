//! Drill 12: an hour at a steady, moderate rate, with public counters and Stats API queries (the
//! dashboard's engine) mixed in. Memory must stop growing once warmed up (under 10 % growth
//! after the warm-up), the write-ahead log must stay bounded, and nothing may fail.
//!
//! The server starts on a store that already holds a year of a site's traffic ([`super::seed`]),
//! as a server in service does. On an empty store the hour's own events are all the data there
//! is, and memory grows with them as DuckDB's caches and metadata fill: that measures the data's
//! growth (tenfold in the hour), not the process's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
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
use super::{footfall, seed, stored};
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
    /// Serve from this folder and leave it there, instead of a new store that goes with the
    /// drill's temporary folder. It may already hold a store (one [`super::seed`]ed with a
    /// site's history, or an earlier soak's): a server's memory is then measured at that size.
    pub data: Option<PathBuf>,
    /// The history written first into a folder that holds no store yet; `None` starts empty.
    pub history: Option<seed::History>,
}

/// One look at the server, every 10 s.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// Seconds since the start.
    pub at: u64,
    pub resident_mb: f64,
    pub wal_mb: f64,
    /// The server's last memory report (`footfall::memory`, once a minute): its fields in MB,
    /// as `name=value` text (anonymous, DuckDB's own).
    pub breakdown: String,
}

/// The fields of the server's memory report that the samples show.
const BREAKDOWN: [&str; 2] = ["anonymous_mb", "duckdb_mb"];

#[derive(Debug, Default)]
pub struct Outcome {
    pub samples: Vec<Sample>,
    /// Events in the store before the soak.
    pub history: u64,
    pub growth: Growth,
    pub rss_end: f64,
    pub wal_max: f64,
    pub events: BTreeMap<u16, u64>,
    pub reads: BTreeMap<u16, u64>,
    /// Rows the soak added to the store.
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
    let data = settings.data.clone().unwrap_or_else(|| dir.join("data"));
    let database = data.join("footfall.duckdb");
    if let (Some(history), false) = (&settings.history, database.exists()) {
        seed::run(&data, history)?;
    }
    let rows_before = if database.exists() {
        stored::read(&database).map_err(|e| e.to_string())?.rows
    } else {
        0
    };
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
    outcome.stored = stored::read(&database)
        .map_err(|e| e.to_string())?
        .rows
        .saturating_sub(rows_before);

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
    outcome.history = rows_before;
    outcome.growth = Growth::of(&outcome.samples, warm_up.as_secs());
    let growth = &outcome.growth;
    if growth.medians() >= 0.10 {
        outcome.failures.push(format!(
            "memory grew {:.0} % after the warm-up (median {:.0} MB in its first quarter, {:.0} \
             MB in its last)",
            growth.medians() * 100.0,
            growth.first_median,
            growth.last_median
        ));
    }
    if growth.trend() >= 0.10 {
        outcome.failures.push(format!(
            "memory's trend after the warm-up is {:+.0} % ({:+.1} MB an hour from {:.0} MB)",
            growth.trend() * 100.0,
            growth.slope_per_hour,
            growth.mean
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

/// How resident memory moved after the warm-up, measured two ways. Memory on a store that
/// takes writes is a sawtooth: what the log adds is held until a checkpoint folds it into the
/// file, then let go, a tooth every few minutes. On top of it, a sample taken while a dashboard
/// query runs catches that query's working memory, up to 60 MB for a moment on a year's store.
/// A single sample at the end of the warm-up lands anywhere on a tooth, and a peak is whichever
/// sample met the heaviest query, so neither says what the process keeps. What it keeps is
/// compared instead: the median of the first quarter of the time after the warm-up against the
/// median of the last quarter (each quarter spans several teeth), and a least-squares line
/// through every sample gives the trend. A leak raises both. The peaks are reported beside them.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Growth {
    /// Median resident MB in the first quarter of the time after the warm-up.
    pub first_median: f64,
    /// Median resident MB in its last quarter.
    pub last_median: f64,
    /// Highest resident MB in the first and last quarters.
    pub first_peak: f64,
    pub last_peak: f64,
    /// Mean resident MB after the warm-up.
    pub mean: f64,
    /// The fitted line's slope, MB an hour.
    pub slope_per_hour: f64,
    /// Hours after the warm-up.
    pub hours: f64,
}

impl Growth {
    /// From the samples taken at `warm_up` seconds or later.
    pub fn of(samples: &[Sample], warm_up: u64) -> Growth {
        let after: Vec<(f64, f64)> = samples
            .iter()
            .filter(|s| s.at >= warm_up)
            .map(|s| (s.at as f64, s.resident_mb))
            .collect();
        let (Some(first), Some(last)) = (after.first(), after.last()) else {
            return Growth::default();
        };
        let (start, end) = (first.0, last.0);
        let quarter = (end - start) / 4.0;
        let window = |from: f64, to: f64| {
            let mut mb: Vec<f64> = after
                .iter()
                .filter(|(at, _)| (from..=to).contains(at))
                .map(|&(_, mb)| mb)
                .collect();
            mb.sort_by(f64::total_cmp);
            (mb[mb.len() / 2], mb[mb.len() - 1])
        };
        let (first_median, first_peak) = window(start, start + quarter);
        let (last_median, last_peak) = window(end - quarter, end);
        let n = after.len() as f64;
        let mean_at = after.iter().map(|(at, _)| at).sum::<f64>() / n;
        let mean = after.iter().map(|(_, mb)| mb).sum::<f64>() / n;
        let covariance: f64 = after
            .iter()
            .map(|(at, mb)| (at - mean_at) * (mb - mean))
            .sum();
        let variance: f64 = after.iter().map(|(at, _)| (at - mean_at).powi(2)).sum();
        let slope = if variance > 0.0 {
            covariance / variance
        } else {
            0.0
        };
        Growth {
            first_median,
            last_median,
            first_peak,
            last_peak,
            mean,
            slope_per_hour: slope * 3600.0,
            hours: (end - start) / 3600.0,
        }
    }

    /// Growth from the first quarter's median to the last's, as a fraction.
    pub fn medians(&self) -> f64 {
        self.last_median / self.first_median.max(1.0) - 1.0
    }

    /// The fitted line's rise over the time after the warm-up, as a fraction of the mean.
    pub fn trend(&self) -> f64 {
        self.slope_per_hour * self.hours / self.mean.max(1.0)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(resident: impl Fn(u64) -> f64) -> Vec<Sample> {
        (1..=360)
            .map(|i| Sample {
                at: i * 10,
                resident_mb: resident(i * 10),
                ..Sample::default()
            })
            .collect()
    }

    /// A tooth every 8 minutes between 250 and 300 MB, starting anywhere.
    fn sawtooth(at: u64) -> f64 {
        250.0 + 50.0 * ((at + 170) % 480) as f64 / 480.0
    }

    #[test]
    fn a_sawtooth_without_a_rise_is_no_growth() {
        let growth = Growth::of(&samples(sawtooth), 600);
        assert!(growth.medians().abs() < 0.02, "{growth:?}");
        assert!(growth.trend().abs() < 0.02, "{growth:?}");
    }

    #[test]
    fn a_leak_under_the_sawtooth_is_seen_both_ways() {
        // 30 MB an hour on top of the teeth: 25 MB over the 50 minutes after the warm-up.
        let leaking = |at: u64| sawtooth(at) + 30.0 * at as f64 / 3600.0;
        let growth = Growth::of(&samples(leaking), 600);
        assert!((growth.slope_per_hour - 30.0).abs() < 3.0, "{growth:?}");
        assert!(growth.medians() > 0.05, "{growth:?}");
        assert!(growth.trend() > 0.05, "{growth:?}");
    }

    #[test]
    fn a_query_caught_in_flight_is_no_growth() {
        // The sawtooth, with one sample in the last quarter 100 MB above it.
        let spiked = |at: u64| sawtooth(at) + if at == 3300 { 100.0 } else { 0.0 };
        let growth = Growth::of(&samples(spiked), 600);
        assert!(growth.medians().abs() < 0.02, "{growth:?}");
        assert!(growth.last_peak > growth.first_peak + 40.0, "{growth:?}");
    }

    #[test]
    fn no_samples_after_the_warm_up_is_no_figure() {
        assert_eq!(Growth::of(&samples(sawtooth), 10_000), Growth::default());
    }
}
