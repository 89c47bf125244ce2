//! Drill 6: the writer stalls under a flood. The store's disk is frozen (`fsfreeze`) while
//! clients send as fast as the server answers, so every commit hangs, the batches waiting for
//! it pile up and then the queue fills. The collector must then answer 503 with `Retry-After`,
//! never a 2xx for an event it did not queue; once the disk thaws every event answered 202 must
//! reach the store, and nothing else.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use axum::http::StatusCode;

use super::disk::Mount;
use super::steady::{self, Reply, Traffic};
use super::{footfall, stored};
use crate::load::process::Server;

#[derive(Debug, Default)]
pub struct Outcome {
    pub by_status: BTreeMap<u16, u64>,
    pub accepted: u64,
    pub stored: u64,
    /// Answered 202, not in the store.
    pub missing: u64,
    /// In the store, not answered 202 (and not in flight: the drill ends with a clean stop).
    pub unexpected: u64,
    /// From freezing the disk to the first 503.
    pub first_refusal: Option<Duration>,
    /// From thawing it to the first 202 after the last 503.
    pub recovered: Option<Duration>,
    pub exit: Duration,
    pub failures: Vec<String>,
}

/// Runs the drill with the store on a frozen-then-thawed ext4 image under `dir`.
pub fn run(dir: &Path, connections: usize, stall: Duration) -> Result<Outcome, String> {
    let runtime = super::runtime();
    let mut disk = Mount::ext4(512)?;
    let data = disk.dir.join("data");
    let server = Server::start(footfall(dir, &data, "").map_err(|e| e.to_string())?)?;
    let traffic = {
        let _entered = runtime.enter();
        steady::start(Traffic {
            addr: server.addr,
            round: 0,
            connections,
            rate: None,
            padding: 0,
            pages: None,
        })
    };
    std::thread::sleep(Duration::from_secs(1));
    disk.freeze()?;
    let frozen = Instant::now();
    std::thread::sleep(stall);
    disk.thaw()?;
    let thawed = Instant::now();
    std::thread::sleep(Duration::from_secs(3));
    let sent = runtime.block_on(traffic.finish());
    let stopped = server.stop(Duration::from_secs(30))?;

    let mut outcome = Outcome {
        by_status: steady::tally(&sent),
        exit: stopped.took,
        ..Outcome::default()
    };
    if !stopped.status.success() {
        outcome
            .failures
            .push(format!("the server exited with {}", stopped.status));
    }
    let store = stored::read(&data.join("footfall.duckdb")).map_err(|e| e.to_string())?;
    let here: BTreeSet<u64> = store.of_round(0).collect();
    let accepted: BTreeSet<u64> = sent
        .iter()
        .filter(|s| s.accepted())
        .map(|s| s.key)
        .collect();
    outcome.accepted = accepted.len() as u64;
    outcome.stored = here.len() as u64;
    outcome.missing = accepted.difference(&here).count() as u64;
    outcome.unexpected = here.difference(&accepted).count() as u64;
    let refused = |s: &&steady::Sent| matches!(s.reply, Reply::Status { status, .. } if status == StatusCode::SERVICE_UNAVAILABLE.as_u16());
    outcome.first_refusal = sent
        .iter()
        .filter(refused)
        .map(|s| s.at.saturating_duration_since(frozen))
        .min();
    let last_refusal = sent.iter().filter(refused).map(|s| s.at).max();
    outcome.recovered = last_refusal.and_then(|last| {
        sent.iter()
            .filter(|s| s.accepted() && s.at > last)
            .map(|s| s.at.saturating_duration_since(thawed))
            .min()
    });

    let unexpected_status: Vec<u16> = outcome
        .by_status
        .keys()
        .copied()
        .filter(|&s| s != 202 && s != 503)
        .collect();
    if !unexpected_status.is_empty() {
        outcome.failures.push(format!(
            "answers other than 202 and 503: {unexpected_status:?} (0: no answer)"
        ));
    }
    if outcome.first_refusal.is_none() {
        outcome.failures.push(format!(
            "no 503 in a {stall:?} stall: the queue never filled (stall longer)"
        ));
    }
    if !steady::all_retry_after(&sent, StatusCode::SERVICE_UNAVAILABLE) {
        outcome
            .failures
            .push("a 503 came without Retry-After".into());
    }
    if outcome.missing > 0 {
        outcome.failures.push(format!(
            "{} events answered 202 are not in the store",
            outcome.missing
        ));
    }
    if outcome.unexpected > 0 {
        outcome.failures.push(format!(
            "{} events in the store were not answered 202",
            outcome.unexpected
        ));
    }
    if !store.duplicates().is_empty() {
        outcome.failures.push("events stored twice".into());
    }
    if last_refusal.is_some() && outcome.recovered.is_none() {
        outcome
            .failures
            .push("no 202 after the disk thawed: ingestion did not recover".into());
    }
    Ok(outcome)
}
