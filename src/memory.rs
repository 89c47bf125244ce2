//! The server's allocator, and where its memory is.
//!
//! mimalloc serves every allocation of the process, Rust's and DuckDB's C++ alike (the
//! `override` feature): under glibc, DuckDB's allocations from many query threads left the
//! process growing by 20–30 MB an hour on a steady load, and the soak drill failed
//! (docs/reliability.md, drill 12). [`tune_allocator`] sets it to hand freed memory back at once.
//!
//! [`keep_reported`] logs, once a minute at debug level (target `footfall::memory`), the
//! process's resident and anonymous memory beside DuckDB's own accounting (its buffer pool and
//! what its queries and appends hold), so that growth on a long run can be told apart. Nothing
//! is measured unless that target is enabled, e.g. `RUST_LOG=info,footfall::memory=debug`; the
//! soak drill reads these lines. (mimalloc's own "committed" statistic is not reported: in the
//! soak drill it only rose, 403 → 451 MB, above a resident size that stayed near 300 MB, so it
//! says nothing about what the process holds.)

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
}

impl Usage {
    /// Measures now. DuckDB's part is left empty if the store cannot answer.
    pub fn measure(store: &Store) -> Usage {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        Usage {
            resident: status_kb(&status, "VmRSS:") * 1024,
            anonymous: status_kb(&status, "RssAnon:") * 1024,
            duckdb: store.memory_by_tag().unwrap_or_default(),
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
            "memory (DuckDB's largest: {})",
            top.join(", ")
        );
    }
}

/// mimalloc's option numbers (`mi_option_t` in mimalloc 3's `mimalloc.h`): the sys crate names
/// only the options that kept their number across versions.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Tells mimalloc to return freed pages to the system at once rather than after its default
/// delay (a second, ten for its arenas). Under DuckDB's bursts of query memory the delay kept
/// about 35 MB more resident in the soak drill. An operator's own `MIMALLOC_PURGE_DELAY` (in
/// milliseconds, mimalloc's variable) is left to rule: handing pages back costs page faults when
/// they are needed again, a trade a busier server may make the other way. Call once, first thing
/// in `main`; mimalloc reads the option each time it purges.
pub fn tune_allocator() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: sets one of mimalloc's integer options; no pointers are involved.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}

/// A `/proc/self/status` line's value in kB (0 if absent).
fn status_kb(status: &str, key: &str) -> u64 {
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
        .unwrap_or(0)
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
    }

    /// C's `malloc` and `free` (what DuckDB's C++ calls) are mimalloc's, not glibc's.
    #[test]
    fn c_allocations_go_through_mimalloc() {
        for size in [64, 1 << 20, 64 << 20] {
            // SAFETY: a plain allocation, written to, asked about and freed once.
            unsafe {
                let block = libc::malloc(size);
                assert!(!block.is_null());
                std::ptr::write_bytes(block.cast::<u8>(), 1, size);
                let owned = libmimalloc_sys::mi_is_in_heap_region(block);
                libc::free(block);
                assert!(owned, "a {size}-byte malloc is not in mimalloc's heap");
            }
        }
    }
}
