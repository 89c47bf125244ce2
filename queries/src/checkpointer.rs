//! Checkpoints on a thread of their own, started as one of the writer's commits ends where it
//! can.
//!
//! DuckDB checkpoints on its own when a commit takes the write-ahead log past
//! `checkpoint_threshold`, inside that commit: the writer's thread then compresses and writes the
//! new row groups while hits pile up in the queue. Under heavy load that held a commit for 0.25 to
//! 1 s every few seconds, and a full queue answered 503 meanwhile (benches/README.md). Here the
//! automatic checkpoint is moved out of reach (`checkpoint_threshold` at 1 GB, a safety net) and
//! this thread runs `CHECKPOINT` itself whenever the log passes [`WAL_LIMIT`], in a gap between
//! the writer's transactions (DuckDB refuses it during one). The writer keeps enriching and
//! appending meanwhile; a commit may still wait for the checkpoint's end, but no longer does the
//! checkpoint's work.
//!
//! When in the gap matters too. A commit that meets a checkpoint waits for its end, and the
//! oldest events of its batch then wait longer than the flush interval: a crash just then loses
//! more than the interval's traffic. Reliability drill 3 lost 480 events at 2,000 a second
//! (240 ms) when a 114 ms checkpoint, started by a timer at an arbitrary moment, ran into the
//! next commit. So the writer tells this thread when a commit ends a gap of most of a flush
//! interval ahead (the batch was handed over by time, not full, and no other waits:
//! [`CommitObserver::caught_up`]), and a checkpoint starts then. Not after every commit: started
//! so under heavy load, every third checkpoint took 0.6 to 1 s instead of 0.1 to 0.3 and the peak
//! memory rose from 185 to 270 MB (benches/README.md). Under heavy load the timer looks, as before.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use duckdb::Connection;
use footfall_collector::Event;

use crate::error::StoreError;
use crate::store::Store;
use crate::writer::CommitObserver;

/// A log this large is checkpointed into the database file: DuckDB's own default threshold.
pub const WAL_LIMIT: u64 = 16 << 20;
/// The log's size is looked at as a commit ends with a gap ahead, and after this long without
/// one (under heavy load).
const LOOK_EVERY: Duration = Duration::from_millis(500);
/// DuckDB refuses a checkpoint while another connection is in a write transaction (the writer
/// between `BEGIN` and `COMMIT`, a rollup step): tried again this soon, to find a gap.
const RETRY_AFTER: Duration = Duration::from_millis(20);
/// Refusals are normal under load; only checkpoints failing this long are worth a warning.
const WARN_AFTER: Duration = Duration::from_secs(60);
/// DuckDB's own checkpoints wait until the log is this large: only if this thread stops.
const SAFETY_NET: &str = "SET GLOBAL checkpoint_threshold = '1GB'";

/// The handle to the checkpoint thread. Dropping it stops the thread.
pub struct Checkpointer {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
    commits: Arc<CommitEnded>,
}

/// The writer's word that a commit has just ended with a gap ahead.
struct CommitEnded(Sender<()>);

impl CommitObserver for CommitEnded {
    fn committed(&self, _events: &[Event]) {}

    fn caught_up(&self) {
        // One pending word is enough: the thread looks at the log when it gets to it.
        let _ = self.0.try_send(());
    }
}

impl Checkpointer {
    /// Takes over checkpoints from DuckDB's commits for a store on disk. An in-memory store has
    /// no log, and gets a checkpointer that does nothing.
    pub fn spawn(store: &Store) -> Result<Checkpointer, StoreError> {
        Self::spawn_with_limit(store, WAL_LIMIT)
    }

    /// As [`Checkpointer::spawn`], checkpointing past `wal_limit` bytes of log (tests).
    pub fn spawn_with_limit(store: &Store, wal_limit: u64) -> Result<Checkpointer, StoreError> {
        let (ended, commits) = crossbeam_channel::bounded::<()>(1);
        let ended = Arc::new(CommitEnded(ended));
        let Some(path) = store.path() else {
            return Ok(Checkpointer {
                stop: None,
                thread: None,
                commits: ended,
            });
        };
        let conn = store.connection()?;
        conn.execute_batch(SAFETY_NET)?;
        let wal = wal_path(path);
        let (stop, stopped) = crossbeam_channel::bounded::<()>(1);
        let thread = std::thread::Builder::new()
            .name("footfall-checkpoints".into())
            .spawn(move || {
                let mut failing = Failing::default();
                let mut wait = LOOK_EVERY;
                // A stop signal, or the handle dropped, ends the loop.
                while next_look(&stopped, &commits, wait) {
                    wait = match checkpoint_if_large(&conn, &wal, wal_limit) {
                        Ok(()) => {
                            failing = Failing::default();
                            LOOK_EVERY
                        }
                        Err(e) => {
                            failing.note(&e);
                            RETRY_AFTER
                        }
                    };
                }
            })
            .expect("spawn the checkpoint thread");
        Ok(Checkpointer {
            stop: Some(stop),
            thread: Some(thread),
            commits: ended,
        })
    }

    /// What the writer tells when a commit ends with a gap ahead (give it to
    /// [`crate::Writer::spawn_observed`]): a checkpoint then starts at the beginning of the gap.
    pub fn observer(&self) -> Arc<dyn CommitObserver> {
        self.commits.clone()
    }

    /// Stops the thread, letting a checkpoint in progress finish. Idempotent.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the checkpoint thread panicked");
            }
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Waits until a commit ends or `wait` passes (after a refused checkpoint, a short `wait` looks
/// for a gap again sooner); `false` once told to stop.
fn next_look(stopped: &Receiver<()>, commits: &Receiver<()>, wait: Duration) -> bool {
    crossbeam_channel::select! {
        // A stop signal, or the handle dropped.
        recv(stopped) -> _ => false,
        // The sender lives as long as the handle, so this never fails while the loop runs.
        recv(commits) -> _ => true,
        default(wait) => true,
    }
}

/// DuckDB's write-ahead log sits beside the database file, named after it plus `.wal`.
fn wal_path(database: &Path) -> PathBuf {
    let mut name = OsString::from(database.as_os_str());
    name.push(".wal");
    PathBuf::from(name)
}

fn checkpoint_if_large(conn: &Connection, wal: &Path, wal_limit: u64) -> Result<(), duckdb::Error> {
    let size = std::fs::metadata(wal).map_or(0, |m| m.len());
    if size <= wal_limit {
        return Ok(());
    }
    let started = Instant::now();
    // The drills line this up with the writer's commits.
    tracing::debug!("checkpointing {} MB of log", size >> 20);
    conn.execute_batch("CHECKPOINT")?;
    // Once a minute or so under steady traffic; commits wait meanwhile, so worth a line.
    tracing::info!(
        "checkpointed {} MB of log in {:.0?}",
        size >> 20,
        started.elapsed()
    );
    Ok(())
}

/// Since when checkpoints have failed, and whether that was said.
#[derive(Default)]
struct Failing {
    since: Option<Instant>,
    warned: bool,
}

impl Failing {
    fn note(&mut self, error: &duckdb::Error) {
        let since = *self.since.get_or_insert_with(Instant::now);
        if !self.warned && since.elapsed() >= WARN_AFTER {
            // The writer goes on meanwhile; the log grows until DuckDB checkpoints in a commit.
            tracing::warn!(
                "checkpoints have failed for {:.0?} (still retrying): {error}",
                since.elapsed()
            );
            self.warned = true;
        } else {
            tracing::debug!("checkpoint refused, retrying: {error}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreOptions;

    fn wal_size(store: &Store) -> u64 {
        std::fs::metadata(wal_path(store.path().unwrap())).map_or(0, |m| m.len())
    }

    #[test]
    fn the_log_is_checkpointed_by_the_thread_not_by_commits() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.duckdb"), &StoreOptions::default()).unwrap();
        let conn = store.connection().unwrap();
        conn.execute_batch("CREATE TABLE t (n BIGINT, s VARCHAR)")
            .unwrap();
        // A thread that never finds the log large enough: commits of about 5 MB of log each
        // (fewer rows than a row group, which DuckDB would write to the file directly) no longer
        // checkpoint on their own, as DuckDB's default threshold would at 16 MB.
        let mut idle = Checkpointer::spawn_with_limit(&store, u64::MAX).unwrap();
        for _ in 0..6 {
            conn.execute_batch("INSERT INTO t SELECT range, repeat('x', 100) FROM range(50000)")
                .unwrap();
        }
        idle.stop();
        assert!(
            wal_size(&store) > 16 << 20,
            "the log grew past DuckDB's default threshold: {}",
            wal_size(&store)
        );

        let mut checkpointer = Checkpointer::spawn_with_limit(&store, 64 << 10).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while wal_size(&store) > 64 << 10 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            wal_size(&store) <= 64 << 10,
            "the thread checkpointed the log: {}",
            wal_size(&store)
        );
        checkpointer.stop();
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 6 * 50_000);
    }

    #[test]
    fn the_end_of_a_commit_is_the_next_look() {
        let (stop, stopped) = crossbeam_channel::bounded(1);
        let (ended, commits) = crossbeam_channel::bounded(1);
        let observer = CommitEnded(ended);
        // Told twice before the thread looks: one word waits, the second is not needed.
        observer.caught_up();
        observer.caught_up();
        // Far longer than any test may take: only the commit's word can end this wait.
        let forever = Duration::from_secs(3600);
        assert!(next_look(&stopped, &commits, forever));
        assert!(commits.is_empty());
        // With nothing said, the timer is the next look.
        assert!(next_look(&stopped, &commits, Duration::from_millis(1)));
        stop.send(()).unwrap();
        assert!(!next_look(&stopped, &commits, forever));
        drop(stop);
        assert!(!next_look(&stopped, &commits, forever));
    }

    #[test]
    fn an_in_memory_store_needs_no_thread() {
        let store = Store::open_in_memory(&StoreOptions::default()).unwrap();
        let mut checkpointer = Checkpointer::spawn(&store).unwrap();
        assert!(checkpointer.thread.is_none());
        checkpointer.stop();
    }
}
