//! Where the server's memory is, logged once a minute at debug level (target
//! `footfall::memory`), so that growth on a long run can be told apart: DuckDB's own accounting
//! (its buffer pool and what its queries and appends hold), glibc's heap (DuckDB's C++ allocates
//! there), and the rest of the process (Rust's allocations through mimalloc, stacks, code).
//!
//! Nothing is measured unless that target is enabled, e.g.
//! `RUST_LOG=info,footfall::memory=debug`; the soak drill (docs/reliability.md, drill 12) reads
//! these lines.
//!
//! Also here: [`keep_trimmed`], which hands glibc's free pages back to the system once a minute.

use std::sync::Arc;
use std::time::Duration;

use footfall_queries::Store;

const TARGET: &str = "footfall::memory";
const EVERY: Duration = Duration::from_secs(60);
const MB: f64 = 1e6;

/// One look at the process's memory, in bytes.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Usage {
    /// Resident in all (`VmRSS`).
    pub resident: u64,
    /// Resident and anonymous (`RssAnon`): allocations, as opposed to mapped files and code.
    pub anonymous: u64,
    /// What DuckDB accounts for itself, by tag, largest first.
    pub duckdb: Vec<(String, u64)>,
    /// glibc's heap: in use, and held from the system (in use, free in its arenas, and mapped
    /// blocks).
    pub glibc_in_use: u64,
    pub glibc_held: u64,
}

impl Usage {
    /// Measures now. DuckDB's part is left empty if the store cannot answer.
    pub fn measure(store: &Store) -> Usage {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let (glibc_in_use, glibc_held) = glibc_heap();
        Usage {
            resident: status_kb(&status, "VmRSS:") * 1024,
            anonymous: status_kb(&status, "RssAnon:") * 1024,
            duckdb: store.memory_by_tag().unwrap_or_default(),
            glibc_in_use,
            glibc_held,
        }
    }

    pub fn duckdb_total(&self) -> u64 {
        self.duckdb.iter().map(|(_, bytes)| bytes).sum()
    }
}

/// Logs [`Usage`] every minute while the `footfall::memory` target is enabled at debug level.
/// Runs until aborted.
pub async fn keep_reported(store: Arc<Store>) {
    let mut every = tokio::time::interval(EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if !tracing::enabled!(target: TARGET, tracing::Level::DEBUG) {
            continue;
        }
        let store = store.clone();
        let Ok(usage) = tokio::task::spawn_blocking(move || Usage::measure(&store)).await else {
            continue;
        };
        let top: Vec<String> = usage
            .duckdb
            .iter()
            .take(3)
            .map(|(tag, bytes)| format!("{tag} {:.1}", *bytes as f64 / MB))
            .collect();
        tracing::debug!(
            target: TARGET,
            resident_mb = format_args!("{:.1}", usage.resident as f64 / MB),
            anonymous_mb = format_args!("{:.1}", usage.anonymous as f64 / MB),
            duckdb_mb = format_args!("{:.1}", usage.duckdb_total() as f64 / MB),
            glibc_in_use_mb = format_args!("{:.1}", usage.glibc_in_use as f64 / MB),
            glibc_held_mb = format_args!("{:.1}", usage.glibc_held as f64 / MB),
            "memory (DuckDB's largest: {})",
            top.join(", ")
        );
    }
}

/// Once a minute, returns the free pages of glibc's heap to the system (`malloc_trim`). DuckDB's
/// C++ allocates through glibc from whichever thread runs a query or a checkpoint; glibc gives
/// each thread an arena and keeps what is freed there resident for reuse, so after a few
/// thousand queries the process holds tens of megabytes it does not use. Trimming walks every
/// arena and releases whole free pages in place (the allocations themselves do not move); it
/// takes a few milliseconds on a blocking thread. Runs until aborted.
pub async fn keep_trimmed() {
    let mut every = tokio::time::interval(EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let _ = tokio::task::spawn_blocking(trim).await;
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    // SAFETY: malloc_trim takes no pointers; it only releases pages glibc holds free.
    unsafe { libc::malloc_trim(0) };
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}

/// A `/proc/self/status` line's value in kB (0 if absent).
fn status_kb(status: &str, key: &str) -> u64 {
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
        .unwrap_or(0)
}

/// glibc's heap over all its arenas: (in use, held from the system).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn glibc_heap() -> (u64, u64) {
    // SAFETY: mallinfo2 only reads the allocator's counters; it takes no pointers.
    let info = unsafe { libc::mallinfo2() };
    (
        (info.uordblks + info.hblkhd) as u64,
        (info.arena + info.hblkhd) as u64,
    )
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn glibc_heap() -> (u64, u64) {
    (0, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_status_lines_it_needs() {
        let status = "Name:\tfootfall\nVmRSS:\t  123456 kB\nRssAnon:\t   65432 kB\n";
        assert_eq!(status_kb(status, "VmRSS:"), 123_456);
        assert_eq!(status_kb(status, "RssAnon:"), 65_432);
        assert_eq!(status_kb(status, "RssShmem:"), 0);
    }

    #[test]
    fn measures_this_process() {
        let store = Store::open_in_memory(&footfall_queries::StoreOptions::default()).unwrap();
        let usage = Usage::measure(&store);
        assert!(usage.resident > 0 && usage.anonymous > 0);
        assert!(usage.anonymous <= usage.resident);
        // DuckDB's C++ has allocated in glibc's heap by now.
        assert!(usage.glibc_in_use > 0 && usage.glibc_in_use <= usage.glibc_held);
    }
}
