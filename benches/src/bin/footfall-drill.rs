//! The reliability drills that need the real server as a process (docs/reliability.md):
//! `kill` (drill 3), `term` (drill 4), `full-disk` (drill 5), `stall` (drill 6) and `soak`
//! (drill 12), and `seed`, which writes a site's history for a soak to start from. Each prints
//! its figures and exits 1 when a check failed. Only ever against 127.0.0.1: it starts the
//! server itself on a loopback port. `full-disk` and `stall` mount filesystems and need root.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use footfall_benches::drill::{crash, disk, full, seed, soak, stall, FLUSH_INTERVAL};

#[derive(Parser)]
#[command(about = "Footfall's reliability drills against the real server")]
struct Args {
    #[command(subcommand)]
    drill: Drill,
}

#[derive(Subcommand)]
enum Drill {
    /// Drill 3: SIGKILL during steady ingestion, restart, repeat.
    Kill(Rounds),
    /// Drill 4: SIGTERM during steady ingestion, restart, repeat.
    Term(Rounds),
    /// Drill 5: the store's disk (a tmpfs) fills up during a flood.
    FullDisk {
        /// The tmpfs's size.
        #[arg(long, default_value_t = 64)]
        megabytes: u64,
        #[arg(long, default_value_t = 16)]
        connections: usize,
    },
    /// Drill 12: a steady moderate rate with counters and queries, for an hour.
    Soak {
        #[arg(long, default_value_t = 60)]
        minutes: u64,
        /// Memory growth is measured from the end of the warm-up.
        #[arg(long, default_value_t = 10)]
        warm_up_minutes: u64,
        /// Events per second.
        #[arg(long, default_value_t = 200.0)]
        rate: f64,
        /// DuckDB's memory limit, e.g. `64MB` (default: the server's).
        #[arg(long)]
        duckdb_memory: Option<String>,
        /// Serve from this folder and keep it, starting from the store it holds, if any (see
        /// `seed`). Default: a new store, deleted afterwards.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Days of a site's history written into a new store before the soak (0: start
        /// empty), as `seed` writes them.
        #[arg(long, default_value_t = 365)]
        history_days: u32,
        /// Visits a day in that history.
        #[arg(long, default_value_t = 2000)]
        history_visits_per_day: u32,
    },
    /// Writes a site's history of sample traffic into a store, for `soak --data-dir` to start
    /// from, and prints how many events it wrote.
    Seed {
        /// The data folder (`footfall --data-dir`); an existing store there is added to.
        #[arg(long)]
        data_dir: PathBuf,
        /// Days of history, ending yesterday.
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// Visits a day, on average (about 2.5 events each).
        #[arg(long, default_value_t = 2000)]
        visits_per_day: u32,
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
    /// Drill 6: the store's disk is frozen during a flood, then thawed.
    Stall {
        /// How long the disk stays frozen.
        #[arg(long, default_value_t = 8)]
        seconds: u64,
        #[arg(long, default_value_t = 32)]
        connections: usize,
    },
}

#[derive(clap::Args)]
struct Rounds {
    #[arg(long, default_value_t = 100)]
    rounds: u64,
    /// Events per second.
    #[arg(long, default_value_t = 2000.0)]
    rate: f64,
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// Shortest run before the signal, in milliseconds.
    #[arg(long, default_value_t = 500)]
    min_ms: u64,
    /// Longest run before the signal, in milliseconds.
    #[arg(long, default_value_t = 3000)]
    max_ms: u64,
    #[arg(long, default_value_t = 2026)]
    seed: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let dir = tempfile::tempdir().expect("a temporary folder");
    let failures = match args.drill {
        Drill::Kill(rounds) => crash_drill(crash::Ending::Kill, rounds, dir.path()),
        Drill::Term(rounds) => crash_drill(crash::Ending::Term, rounds, dir.path()),
        Drill::FullDisk {
            megabytes,
            connections,
        } => full_disk_drill(megabytes, connections, dir.path()),
        Drill::Stall {
            seconds,
            connections,
        } => stall_drill(Duration::from_secs(seconds), connections, dir.path()),
        Drill::Soak {
            minutes,
            warm_up_minutes,
            rate,
            duckdb_memory,
            data_dir,
            history_days,
            history_visits_per_day,
        } => soak_drill(
            &soak::Settings {
                duration: Duration::from_secs(minutes * 60),
                warm_up: Duration::from_secs(warm_up_minutes * 60),
                rate,
                duckdb_memory,
                data: data_dir,
                history: (history_days > 0).then_some(seed::History {
                    days: history_days,
                    visits_per_day: history_visits_per_day,
                    seed: 2026,
                }),
            },
            dir.path(),
        ),
        Drill::Seed {
            data_dir,
            days,
            visits_per_day,
            seed,
        } => seed_drill(
            &data_dir,
            &seed::History {
                days,
                visits_per_day,
                seed,
            },
        ),
    };
    if failures.is_empty() {
        println!("PASSED");
        ExitCode::SUCCESS
    } else {
        for failure in &failures {
            println!("FAILED: {failure}");
        }
        ExitCode::FAILURE
    }
}

fn crash_drill(ending: crash::Ending, rounds: Rounds, dir: &std::path::Path) -> Vec<String> {
    let settings = crash::Settings {
        ending,
        rounds: rounds.rounds,
        rate: rounds.rate,
        connections: rounds.connections,
        run: (
            Duration::from_millis(rounds.min_ms),
            Duration::from_millis(rounds.max_ms.max(rounds.min_ms)),
        ),
        seed: rounds.seed,
    };
    let outcome = crash::run(&settings, dir);
    let sum = |f: fn(&crash::Round) -> u64| outcome.rounds.iter().map(f).sum::<u64>();
    let worst_exit = outcome
        .rounds
        .iter()
        .map(|r| r.exit)
        .max()
        .unwrap_or_default();
    let worst_window = outcome
        .rounds
        .iter()
        .map(|r| r.lost_window)
        .max()
        .unwrap_or_default();
    println!(
        "\n{ending:?}: {} rounds at {} events/s: {} sent, {} answered 202, {} acknowledged events lost in all, worst round {} (bound: flush interval {} ms x rate = {}), lost events acknowledged at most {:.0} ms before the signal; {} commits, whose oldest event waited at most {:.0} ms; {} stored without an answer; worst reopen {:.0} ms (last {:.0} ms); worst exit {:.0} ms; {} rows in the store at the end",
        outcome.rounds.len(),
        rounds.rate,
        sum(|r| r.sent),
        sum(|r| r.accepted),
        sum(|r| r.lost),
        outcome.worst_lost(),
        FLUSH_INTERVAL.as_millis(),
        (FLUSH_INTERVAL.as_secs_f64() * rounds.rate).floor(),
        worst_window.as_secs_f64() * 1e3,
        outcome.rounds.iter().map(|r| r.commits).sum::<usize>(),
        outcome.worst_wait().as_secs_f64() * 1e3,
        sum(|r| r.stored_unanswered),
        outcome.worst_open().as_secs_f64() * 1e3,
        outcome.final_open.as_secs_f64() * 1e3,
        worst_exit.as_secs_f64() * 1e3,
        outcome.stored_rows,
    );
    outcome.failures
}

fn full_disk_drill(megabytes: u64, connections: usize, dir: &std::path::Path) -> Vec<String> {
    if !disk::can_mount() {
        return vec!["the full-disk drill mounts a tmpfs: run it as root".into()];
    }
    match full::run(dir, megabytes, connections) {
        Ok(o) => {
            println!(
                "full disk ({megabytes} MB tmpfs): first failed commit after {:.1} s; 503 from {}; /healthz unhealthy {} later; {} answered 202, {} refused; space freed: {}; stop took {:.2} s and logged {:?}; files then: {:?}; after the restart: {} events stored",
                o.filled_after.as_secs_f64(),
                o.refusing_after
                    .map_or("never".into(), |d| format!("{:.0} ms later", d.as_secs_f64() * 1e3)),
                o.unhealthy_after
                    .map_or("never".into(), |d| format!("{:.0} ms", d.as_secs_f64() * 1e3)),
                o.accepted,
                o.refused,
                o.resumed_after.map_or("not resumed without a restart".into(), |d| format!(
                    "resumed without a restart, healthy {:.0} ms later",
                    d.as_secs_f64() * 1e3
                )),
                o.exit.as_secs_f64(),
                o.stop_line.split("stopped: ").nth(1).unwrap_or(&o.stop_line),
                o.files,
                o.stored_after_restart,
            );
            o.failures
        }
        Err(e) => vec![e],
    }
}

fn stall_drill(stall: Duration, connections: usize, dir: &std::path::Path) -> Vec<String> {
    if !disk::can_mount() {
        return vec!["the stall drill mounts and freezes a filesystem: run it as root".into()];
    }
    match stall::run(dir, connections, stall) {
        Ok(o) => {
            println!(
                "stall ({:.0} s frozen, {connections} connections): answers {:?}; first 503 {} after the freeze; first 202 after the last 503: {} after the thaw; {} answered 202, {} stored, {} missing, {} stored without a 202; stop took {:.2} s",
                stall.as_secs_f64(),
                o.by_status,
                o.first_refusal
                    .map_or("never".into(), |d| format!("{:.0} ms", d.as_secs_f64() * 1e3)),
                o.recovered
                    .map_or("never".into(), |d| format!("{:.0} ms", d.as_secs_f64() * 1e3)),
                o.accepted,
                o.stored,
                o.missing,
                o.unexpected,
                o.exit.as_secs_f64(),
            );
            o.failures
        }
        Err(e) => vec![e],
    }
}

fn soak_drill(settings: &soak::Settings, dir: &std::path::Path) -> Vec<String> {
    let soak::Settings {
        duration,
        warm_up,
        rate,
        ..
    } = settings;
    match soak::run(dir, settings) {
        Ok(o) => {
            for sample in &o.samples {
                println!(
                    "{:>5} s: resident {:>6.1} MB, log {:>5.1} MB; {}",
                    sample.at, sample.resident_mb, sample.wal_mb, sample.breakdown
                );
            }
            let g = &o.growth;
            println!(
                "soak ({:.0} min at {rate} events/s on a store of {} events, warm-up {:.0} min, DuckDB memory limit {}): resident median {:.1} MB in the first quarter after the warm-up, {:.1} MB in the last ({:+.1} %; peaks {:.1} and {:.1} MB); trend {:+.1} MB an hour from a mean of {:.1} MB ({:+.1} % over the run); {:.1} MB at the end; log at most {:.1} MB; events {:?}; reads {:?}; {} events stored",
                duration.as_secs_f64() / 60.0,
                o.history,
                warm_up.as_secs_f64() / 60.0,
                settings.duckdb_memory.as_deref().unwrap_or("default"),
                g.first_median,
                g.last_median,
                100.0 * g.medians(),
                g.first_peak,
                g.last_peak,
                g.slope_per_hour,
                g.mean,
                100.0 * g.trend(),
                o.rss_end,
                o.wal_max,
                o.events,
                o.reads,
                o.stored,
            );
            o.failures
        }
        Err(e) => vec![e],
    }
}

fn seed_drill(data: &std::path::Path, history: &seed::History) -> Vec<String> {
    match seed::run(data, history) {
        Ok(events) => {
            println!(
                "seeded {events} events over {} days into {}",
                history.days,
                data.display()
            );
            Vec::new()
        }
        Err(e) => vec![e],
    }
}
