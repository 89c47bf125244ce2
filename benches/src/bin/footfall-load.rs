//! The load harness: drives `POST /api/event` with a realistic mix, then the public counters,
//! against Footfall and against a bare axum server (the machine's ceiling) in the same run, and
//! reports requests per second, latency, non-2xx answers, the server's CPU time and peak memory,
//! and whether every event answered 202 reached the store. Only ever against 127.0.0.1: it starts
//! both servers itself on loopback ports. See `benches/README.md`.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use clap::Parser;
use footfall_benches::load::drive::{drive, Outcome};
use footfall_benches::load::landed::{self, Landed};
use footfall_benches::load::mix::{self, Template};
use footfall_benches::load::process::{clickhouse_cpu, cpu_of, sibling, Server};
use footfall_queries::clickhouse::{ClickHouseConfig, Client};

const DOMAIN: &str = "load.test";

#[derive(Parser)]
#[command(about = "Load Footfall and a bare axum server on loopback and compare them")]
struct Args {
    /// Connection counts to run, each a fresh pair of servers.
    #[arg(long, value_delimiter = ',', default_value = "10,50,200")]
    connections: Vec<usize>,
    /// Seconds each load runs.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// The load generator's threads (like wrk's -t).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Skip the public counters' runs.
    #[arg(long)]
    no_counters: bool,
    /// GeoIP databases for Footfall (default: ~/.cache/footfall-geoip/*.mmdb when present).
    #[arg(long)]
    geoip: Vec<PathBuf>,
    /// DuckDB's memory limit in Footfall's store.
    #[arg(long, default_value = "128MB")]
    memory_limit: String,
    /// DuckDB's threads in Footfall's store.
    #[arg(long, default_value_t = 2)]
    store_threads: u32,
    /// The Footfall binary (default: next to this one).
    #[arg(long)]
    footfall: Option<PathBuf>,
    /// The ceiling binary (default: next to this one).
    #[arg(long)]
    ceiling: Option<PathBuf>,
    /// Also run Footfall on ClickHouse, on these shards' HTTP URLs (comma-separated, e.g. from
    /// `scripts/clickhouse.sh start DIR --shards 2`), after each DuckDB run. Their events are
    /// deleted before each run.
    #[arg(long, value_delimiter = ',')]
    clickhouse: Vec<String>,
    /// Start from a store that already holds events: each DuckDB run from a copy of this file,
    /// and ClickHouse from what its tables hold (not emptied then; the same events should be
    /// there, e.g. copied by `footfall migrate`). What landed is counted as the difference.
    #[arg(long)]
    start_from: Option<PathBuf>,
}

/// One load run against one server.
struct Run {
    outcome: Outcome,
    server_cpu: Duration,
    /// ClickHouse's processes on this machine over the same time.
    clickhouse_cpu: Duration,
    own_cpu: Duration,
    peak_rss: u64,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
        .expect("a runtime");
    let events = Arc::new(mix::default_events(DOMAIN));
    let reads = Arc::new(mix::counter_reads("/api/counter", DOMAIN));
    let badges = Arc::new(mix::counter_reads("/api/counter.svg", DOMAIN));
    let duration = Duration::from_secs(args.seconds);
    let mut all_landed = true;
    // DuckDB, then ClickHouse when asked for.
    let clickhouse: Option<Vec<Client>> = (!args.clickhouse.is_empty()).then(|| {
        args.clickhouse
            .iter()
            .map(|url| Client::new(&ClickHouseConfig::new(url.trim())))
            .collect()
    });
    let backends = [None, clickhouse];
    let backends: Vec<&Option<Vec<Client>>> = backends
        .iter()
        .take(if backends[1].is_some() { 2 } else { 1 })
        .collect();

    println!(
        "{} s per run, load generator on {} threads, DuckDB {} / {} threads\n",
        args.seconds, args.threads, args.memory_limit, args.store_threads
    );
    println!("| connections | server | endpoint | requests/s | of ceiling | p50 ms | p99 ms | max ms | non-2xx | errors | server CPU s | load generator CPU s | server peak RSS MB |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for &connections in &args.connections {
        let load = |server: &Server, requests: &Arc<Vec<Template>>, expect| {
            server.reset_peak();
            let (server_before, own_before) = (server.cpu(), cpu_of(std::process::id()));
            let clickhouse_before = clickhouse_cpu();
            let outcome = runtime.block_on(drive(
                server.addr,
                connections,
                duration,
                requests.clone(),
                expect,
            ));
            Run {
                server_cpu: server.cpu() - server_before,
                clickhouse_cpu: clickhouse_cpu().saturating_sub(clickhouse_before),
                own_cpu: cpu_of(std::process::id()) - own_before,
                peak_rss: server.peak_rss_bytes(),
                outcome,
            }
        };

        let ceiling = Server::start(Command::new(
            args.ceiling
                .clone()
                .unwrap_or_else(|| sibling("footfall-ceiling")),
        ))
        .expect("the ceiling server starts");
        let ceiling_events = load(&ceiling, &events, StatusCode::NO_CONTENT);
        row(
            connections,
            "bare axum",
            "POST /api/event",
            &ceiling_events,
            None,
        );
        let ceiling_reads = (!args.no_counters).then(|| {
            let run = load(&ceiling, &reads, StatusCode::OK);
            row(connections, "bare axum", "GET (static 200)", &run, None);
            run
        });
        let _ = ceiling.stop(Duration::from_secs(10));

        for shards in backends.iter() {
            let label = if shards.is_some() {
                "Footfall, ClickHouse"
            } else {
                "Footfall"
            };
            let data = tempfile::tempdir().expect("a temporary folder");
            let store = data.path().join("footfall.duckdb");
            let before = match (shards, &args.start_from) {
                (Some(shards), None) => {
                    landed::clear_clickhouse(shards).expect("the ClickHouse tables are emptied");
                    Landed::default()
                }
                (Some(shards), Some(_)) => {
                    landed::count_clickhouse(shards).expect("ClickHouse counts its events")
                }
                (None, Some(file)) => {
                    std::fs::copy(file, &store).expect("the starting store is copied");
                    landed::count(&store).expect("the starting store counts its events")
                }
                (None, None) => Landed::default(),
            };
            if before.events > 0 {
                eprintln!("  {label} starts with {} events", before.events);
            }
            let config = data.path().join("footfall.toml");
            std::fs::write(&config, footfall_config(&args, shards.as_deref()))
                .expect("config written");
            let mut command =
                Command::new(args.footfall.clone().unwrap_or_else(|| sibling("footfall")));
            command
                .arg("--config")
                .arg(&config)
                .arg("--data-dir")
                .arg(data.path())
                .arg("serve")
                .env("RUST_LOG", "info");
            let clickhouse_at_start = clickhouse_cpu();
            let footfall = Server::start(command).expect("Footfall starts");
            let ingest = load(&footfall, &events, StatusCode::ACCEPTED);
            if shards.is_some() {
                eprintln!(
                    "  {connections} connections, {label}: ClickHouse's processes used {:.1} s of CPU during the ingest run (Footfall {:.1} s)",
                    ingest.clickhouse_cpu.as_secs_f64(),
                    ingest.server_cpu.as_secs_f64()
                );
            }
            row(
                connections,
                label,
                "POST /api/event",
                &ingest,
                Some(&ceiling_events),
            );
            if let Some(ceiling_reads) = &ceiling_reads {
                // The last events' commit (every 200 ms) is in the counters well before this.
                std::thread::sleep(Duration::from_secs(1));
                let json = load(&footfall, &reads, StatusCode::OK);
                row(
                    connections,
                    label,
                    "GET /api/counter",
                    &json,
                    Some(ceiling_reads),
                );
                let svg = load(&footfall, &badges, StatusCode::OK);
                row(
                    connections,
                    label,
                    "GET /api/counter.svg",
                    &svg,
                    Some(ceiling_reads),
                );
            }
            let stopped = footfall.stop(Duration::from_secs(15));
            let report = match stopped {
                Ok(stopped) => {
                    // Warnings, errors and slow commits say why a run went as it did.
                    for line in stopped.log.iter().filter(|l| {
                        l.contains("WARN")
                            || l.contains("ERROR")
                            || l.contains("committing")
                            || l.contains("checkpoint")
                    }) {
                        eprintln!("  server: {line}");
                    }
                    let written = stopped
                        .log
                        .iter()
                        .rev()
                        .find(|l| l.contains("events written this run"))
                        .cloned()
                        .unwrap_or_default();
                    format!(
                        "stopped in {:.2} s ({}); {}",
                        stopped.took.as_secs_f64(),
                        stopped.status,
                        written
                            .split("stopped: ")
                            .nth(1)
                            .unwrap_or("no stop line logged")
                    )
                }
                Err(e) => {
                    all_landed = false;
                    e
                }
            };
            if shards.is_some() {
                eprintln!(
                    "  {connections} connections, {label}: ClickHouse's processes used {:.1} s of CPU from Footfall's start to its stop",
                    (clickhouse_cpu().saturating_sub(clickhouse_at_start)).as_secs_f64()
                );
            }
            let landed = match shards {
                Some(shards) => landed::count_clickhouse(shards).map_err(|e| e.to_string()),
                None => landed::count(&store).map_err(|e| e.to_string()),
            }
            .map(|after| after.since(&before))
            .unwrap_or_else(|e| {
                all_landed = false;
                eprintln!("cannot read the store: {e}");
                Landed::default()
            });
            let accepted = ingest.outcome.expected;
            let same = accepted == landed.accounted() && ingest.outcome.errors == 0;
            all_landed &= same;
            eprintln!(
                "  {connections} connections, {label}: {accepted} answered 202; {} events stored + {} hits dropped {:?} = {}{}; {report}",
                landed.events,
                landed.accounted() - landed.events,
                landed.dropped,
                landed.accounted(),
                if same { " (equal)" } else { " — NOT EQUAL" },
            );
        }
    }
    if all_landed {
        std::process::ExitCode::SUCCESS
    } else {
        eprintln!("some events answered 202 did not reach the store (see above)");
        std::process::ExitCode::FAILURE
    }
}

fn row(connections: usize, server: &str, endpoint: &str, run: &Run, ceiling: Option<&Run>) {
    let o = &run.outcome;
    let ratio = ceiling
        .map(|c| format!("{:.0} %", 100.0 * o.per_second() / c.outcome.per_second()))
        .unwrap_or_else(|| "—".into());
    println!(
        "| {connections} | {server} | {endpoint} | {:.0} | {ratio} | {:.2} | {:.2} | {:.1} | {} | {} | {:.1} | {:.1} | {:.0} |",
        o.per_second(),
        o.quantile_ms(0.5),
        o.quantile_ms(0.99),
        o.max_ms(),
        o.non_2xx(),
        o.errors,
        run.server_cpu.as_secs_f64(),
        run.own_cpu.as_secs_f64(),
        run.peak_rss as f64 / 1e6,
    );
}

/// Footfall's configuration for a run: loopback only, the harness trusted as the proxy that sets
/// `X-Forwarded-For`, one site with public counters, GeoIP when available.
fn footfall_config(args: &Args, clickhouse: Option<&[Client]>) -> String {
    let geoip = if args.geoip.is_empty() {
        let cache = PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
            .join(".cache/footfall-geoip");
        std::fs::read_dir(cache)
            .map(|dir| {
                let mut files: Vec<PathBuf> = dir
                    .filter_map(|e| Some(e.ok()?.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "mmdb"))
                    .collect();
                files.sort();
                files
            })
            .unwrap_or_default()
    } else {
        args.geoip.clone()
    };
    let geoip: Vec<String> = geoip
        .iter()
        .map(|p| format!("{:?}", p.display().to_string()))
        .collect();
    format!(
        r#"listen = "127.0.0.1:0"
trusted_proxies = ["127.0.0.1"]
geoip = [{geoip}]

[store]
memory_limit = "{memory}"
threads = {threads}
{clickhouse}

# The reads all come from the load generator's one address: no per-client limit on them. The
# events' limit stays on (each of the mix's 40,000 visitors sends about one a second), so its
# cost is measured.
[rate_limits]
reads_per_second = 0

[[sites]]
domain = "{DOMAIN}"
public_counters = true
counter_min_visitors = 1
"#,
        geoip = geoip.join(", "),
        clickhouse = clickhouse.map_or(String::new(), |shards| {
            let urls: Vec<String> = shards.iter().map(|c| format!("{:?}", c.url())).collect();
            format!(
                "backend = \"clickhouse\"\n\n[clickhouse]\nshards = [{}]\n",
                urls.join(", ")
            )
        }),
        memory = args.memory_limit,
        threads = args.store_threads,
    )
}
