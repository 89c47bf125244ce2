//! Drills 3 and 4: the server ended during steady ingestion, again and again on one store.
//! With SIGKILL (a crash, the OOM killer) it must reopen the store in under 5 s every time, keep
//! every batch it committed, store nothing twice, and lose no more acknowledged events than
//! arrived within one flush interval. With SIGTERM (a service manager's stop) it must lose none
//! and exit within 10 s.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::steady::{self, Traffic};
use super::{footfall, stored, FLUSH_INTERVAL};
use crate::load::process::Server;

/// How the server is ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Kill,
    Term,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub ending: Ending,
    pub rounds: u64,
    /// Events per second.
    pub rate: f64,
    pub connections: usize,
    /// Each round runs for a random time in this range before the signal.
    pub run: (Duration, Duration),
    pub seed: u64,
}

/// One round's figures.
#[derive(Debug, Clone, Default)]
pub struct Round {
    /// From starting the process to its listening (the store opened, its log replayed).
    pub open: Duration,
    pub ran: Duration,
    /// From the signal to the exit.
    pub exit: Duration,
    pub exit_ok: bool,
    pub sent: u64,
    pub accepted: u64,
    pub refused: u64,
    /// Acknowledged (202) but not in the store.
    pub lost: u64,
    /// How long before the signal the earliest lost event was acknowledged.
    pub lost_window: Duration,
    /// In the store without an answer (in flight at the signal): fine, reported for the record.
    pub stored_unanswered: u64,
    /// Commits the server logged in the round, and how long the oldest event of the slowest
    /// of them had waited since it was queued: a kill just before that commit would have lost
    /// about this long of traffic, wherever the actual kill fell.
    pub commits: usize,
    pub longest_wait: Duration,
}

/// The whole drill's outcome.
#[derive(Debug, Default)]
pub struct Outcome {
    pub rounds: Vec<Round>,
    /// The reopen after the last round, and its clean stop.
    pub final_open: Duration,
    /// What failed, in words; empty when the drill passed.
    pub failures: Vec<String>,
    pub stored_rows: u64,
}

impl Outcome {
    pub fn worst_lost(&self) -> u64 {
        self.rounds.iter().map(|r| r.lost).max().unwrap_or(0)
    }
    pub fn worst_wait(&self) -> Duration {
        self.rounds
            .iter()
            .map(|r| r.longest_wait)
            .max()
            .unwrap_or_default()
    }
    pub fn worst_open(&self) -> Duration {
        self.rounds
            .iter()
            .map(|r| r.open)
            .chain([self.final_open])
            .max()
            .unwrap_or_default()
    }
}

/// Runs the drill in `dir` (the store lives in `dir/data`), printing a line per round.
pub fn run(settings: &Settings, dir: &Path) -> Outcome {
    let runtime = super::runtime();
    let data = dir.join("data");
    let database = data.join("footfall.duckdb");
    let mut rng = StdRng::seed_from_u64(settings.seed);
    let mut outcome = Outcome::default();
    // Rows each earlier round left in the store: a later round must find them all still there.
    let mut kept: BTreeMap<u64, usize> = BTreeMap::new();
    let lost_bound = (FLUSH_INTERVAL.as_secs_f64() * settings.rate).floor() as u64;

    for round in 0..settings.rounds {
        let mut command = footfall(dir, &data, "").expect("the drill's config is written");
        // Every commit's timing (see `commit_waits`).
        command.env(
            "RUST_LOG",
            "info,footfall_queries::writer=debug,footfall_queries::checkpointer=debug",
        );
        let started = Instant::now();
        let server = match Server::start(command) {
            Ok(server) => server,
            Err(e) => {
                outcome
                    .failures
                    .push(format!("round {round}: the server did not start: {e}"));
                break;
            }
        };
        let open = started.elapsed();
        let traffic = {
            let _entered = runtime.enter();
            steady::start(Traffic {
                addr: server.addr,
                round,
                connections: settings.connections,
                rate: Some(settings.rate),
                padding: 0,
                pages: None,
            })
        };
        let ran = rng.random_range(settings.run.0..=settings.run.1);
        std::thread::sleep(ran);
        let signalled = Instant::now();
        let ended = match settings.ending {
            Ending::Kill => server.kill(),
            Ending::Term => server.stop(Duration::from_secs(30)),
        };
        let sent = runtime.block_on(traffic.finish());
        let log = ended.as_ref().map(|s| s.log.as_slice()).unwrap_or_default();
        let commits: Vec<&String> = log.iter().filter(|l| l.contains(WAITED)).collect();
        let waits = commit_waits(&commits);
        let (exit, exit_ok) = match &ended {
            Ok(stopped) => (
                stopped.took,
                settings.ending == Ending::Kill || stopped.status.success(),
            ),
            Err(_) => (signalled.elapsed(), false),
        };

        let store = match stored::read(&database) {
            Ok(store) => store,
            Err(e) => {
                outcome
                    .failures
                    .push(format!("round {round}: cannot read the store: {e}"));
                break;
            }
        };
        let here: BTreeSet<u64> = store.of_round(round).collect();
        let accepted: BTreeMap<u64, Instant> = sent
            .iter()
            .filter(|s| s.accepted())
            .map(|s| (s.key, s.at))
            .collect();
        let lost: Vec<Instant> = accepted
            .iter()
            .filter(|(key, _)| !here.contains(key))
            .map(|(_, &at)| at)
            .collect();
        let result = Round {
            open,
            ran,
            exit,
            exit_ok,
            sent: sent.len() as u64,
            accepted: accepted.len() as u64,
            refused: sent.iter().filter(|s| !s.accepted()).count() as u64,
            lost: lost.len() as u64,
            lost_window: lost
                .iter()
                .map(|&at| signalled.saturating_duration_since(at))
                .max()
                .unwrap_or_default(),
            stored_unanswered: here.iter().filter(|k| !accepted.contains_key(k)).count() as u64,
            commits: waits.len(),
            longest_wait: waits.iter().max().copied().unwrap_or_default(),
        };
        println!(
            "round {round:>3}: reopened in {:>5.0} ms, ran {:>5.0} ms, exit {:>5.0} ms{}, sent {:>6}, 202 {:>6}, others {:?}, lost {:>4} (acked up to {:>4.0} ms before the signal), stored without answer {:>3}, {:>3} commits, longest wait {:>4.0} ms",
            open.as_secs_f64() * 1e3,
            ran.as_secs_f64() * 1e3,
            exit.as_secs_f64() * 1e3,
            if exit_ok { "" } else { " (FAILED)" },
            result.sent,
            result.accepted,
            steady::tally(&sent)
                .into_iter()
                .filter(|&(status, _)| status != 202)
                .collect::<BTreeMap<_, _>>(),
            result.lost,
            result.lost_window.as_secs_f64() * 1e3,
            result.stored_unanswered,
            result.commits,
            result.longest_wait.as_secs_f64() * 1e3,
        );

        // Checkpoints hold commits back: say when one ran (or was running at the signal), after
        // the commit it followed, to see where in the gap between commits it started.
        for (at, line) in log.iter().enumerate() {
            if line.contains(CHECKPOINT_STARTED) {
                if let Some(commit) = log[..at].iter().rev().find(|l| l.contains(WAITED)) {
                    println!("    server: {commit}");
                }
            }
            if line.contains("checkpoint") {
                println!("    server: {line}");
            }
        }
        // A commit whose oldest event waited past the interval, with the two before it.
        if result.longest_wait > FLUSH_INTERVAL {
            let slowest = waits
                .iter()
                .position(|&w| w == result.longest_wait)
                .unwrap_or_default();
            for line in &commits[slowest.saturating_sub(2)..=slowest] {
                println!("    server: {line}");
            }
        }

        let never_sent = here.iter().filter(|&&k| k >= result.sent).count();
        if never_sent > 0 {
            outcome.failures.push(format!(
                "round {round}: {never_sent} stored keys were never sent"
            ));
        }
        let duplicates = store.duplicates();
        if !duplicates.is_empty() {
            outcome.failures.push(format!(
                "round {round}: {} events stored more than once, e.g. {:?}",
                duplicates.len(),
                &duplicates[..duplicates.len().min(5)]
            ));
        }
        for (&earlier, &rows) in &kept {
            let now = store.of_round(earlier).count();
            if now != rows {
                outcome.failures.push(format!(
                    "round {round}: round {earlier}'s events went from {rows} to {now}"
                ));
            }
        }
        kept.insert(round, here.len());
        if !exit_ok {
            outcome.failures.push(format!(
                "round {round}: the server did not exit cleanly: {ended:?}"
            ));
        }
        if open > Duration::from_secs(5) {
            outcome.failures.push(format!(
                "round {round}: reopening took {open:?} (limit 5 s)"
            ));
        }
        match settings.ending {
            Ending::Term => {
                if result.lost > 0 {
                    outcome.failures.push(format!(
                        "round {round}: {} acknowledged events lost at a graceful stop",
                        result.lost
                    ));
                }
                if exit > Duration::from_secs(10) {
                    outcome.failures.push(format!(
                        "round {round}: the stop took {exit:?} (limit 10 s)"
                    ));
                }
            }
            Ending::Kill => {
                if result.lost > lost_bound {
                    outcome.failures.push(format!(
                        "round {round}: {} acknowledged events lost, more than the flush interval's {lost_bound}",
                        result.lost
                    ));
                    // What the store was doing: the last commits, slow ones and checkpoints.
                    let recent = &commits[commits.len().saturating_sub(6)..];
                    for line in log
                        .iter()
                        .filter(|l| l.contains("took") || recent.contains(l))
                    {
                        println!("    server: {line}");
                    }
                }
            }
        }
        outcome.rounds.push(result);
    }

    // One last start and a clean stop: the store opens after the last round too, and keeps
    // every round's events.
    if let Ok(command) = footfall(dir, &data, "") {
        let started = Instant::now();
        match Server::start(command) {
            Ok(server) => {
                outcome.final_open = started.elapsed();
                if let Err(e) = server.stop(Duration::from_secs(30)) {
                    outcome.failures.push(format!("the final stop failed: {e}"));
                }
                match stored::read(&database) {
                    Ok(store) => {
                        outcome.stored_rows = store.rows;
                        for (&round, &rows) in &kept {
                            let now = store.of_round(round).count();
                            if now != rows {
                                outcome.failures.push(format!(
                                    "after the last restart, round {round}'s events went from {rows} to {now}"
                                ));
                            }
                        }
                        if !store.duplicates().is_empty() {
                            outcome
                                .failures
                                .push("after the last restart, events stored twice".into());
                        }
                    }
                    Err(e) => outcome.failures.push(format!(
                        "after the last restart, cannot read the store: {e}"
                    )),
                }
            }
            Err(e) => outcome
                .failures
                .push(format!("the final start failed: {e}")),
        }
    }
    outcome
}

/// What the server's writer logs (at debug level) after each commit, before the oldest event's
/// wait in milliseconds.
const WAITED: &str = "the oldest had waited ";

/// What the server's checkpoint thread logs (at debug level) as it starts a checkpoint.
const CHECKPOINT_STARTED: &str = "checkpointing ";

/// How long the oldest event of each commit had waited since it was queued, from the writer's
/// lines (those holding [`WAITED`]), one per commit in order.
fn commit_waits(commits: &[&String]) -> Vec<Duration> {
    commits
        .iter()
        .filter_map(|line| {
            let rest = line.split(WAITED).nth(1)?;
            let ms: f64 = rest.split(" ms").next()?.trim().parse().ok()?;
            Some(Duration::from_secs_f64(ms / 1e3))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_waits_are_read_from_the_servers_log() {
        let log = [
            "2026-12-03T06:00:00.1Z DEBUG footfall_queries::writer::committer: committed 412 events in 3.2 ms; the oldest had waited 187.4 ms",
            "2026-12-03T06:00:00.2Z  INFO footfall::server: listening on http://127.0.0.1:1",
            "DEBUG committed 1 events in 0.4 ms; the oldest had waited 12.0 ms",
        ]
        .map(String::from);
        let commits: Vec<&String> = log.iter().filter(|l| l.contains(WAITED)).collect();
        assert_eq!(
            commit_waits(&commits),
            [Duration::from_micros(187_400), Duration::from_millis(12)]
        );
    }
}
