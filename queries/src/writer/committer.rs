//! The writer's second stage: appends the enricher's batches to the store, one transaction
//! each, retrying while the store fails, and tells the observers of every commit.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, TryRecvError};
use footfall_collector::{DropCount, DropReason};

use super::{Batch, CommitObserver, Shared, StoppedOnExit, WriterReport};
use crate::sink::EventSink;

/// Every so often, a log line says how many events were dropped and why.
const DROP_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// A commit slower than this is logged: batches wait meanwhile, and past
/// [`super::PENDING_BATCHES`] the queue fills.
const SLOW_COMMIT: Duration = Duration::from_millis(250);

/// The drop tally is written with a batch at most this often (and whenever there are no events
/// to write, and at shutdown): each of its rows is an upsert, which under load cost DuckDB as
/// much as appending the thousands of events of the batch it rode with. A crash loses at most
/// this long of the tally, never an event.
const DROPS_EVERY: Duration = Duration::from_secs(2);

/// The enricher plans for the slowest of this many recent commits (about a second and a half
/// of them when idle): one fast commit after slow ones must not make it late.
const RECENT_COMMITS: usize = 8;

/// Batches that waited for a slow commit go into the next one together, up to this many
/// events: one transaction costs less than several, and catching up is quicker.
const MERGE_UP_TO: usize = 20_000;

pub(super) struct Committer {
    batches: Receiver<Batch>,
    sink: Box<dyn EventSink>,
    observers: Vec<Arc<dyn CommitObserver>>,
    shared: Arc<Shared>,
    /// Drop counts not written yet, one row per day, site and reason.
    unwritten_drops: Vec<DropCount>,
    last_drops_write: Instant,
    drops_since_log: BTreeMap<DropReason, u64>,
    last_drop_log: Instant,
    /// How long the last few commits took, newest first.
    recent_commits: [Duration; RECENT_COMMITS],
    report: WriterReport,
}

impl Committer {
    pub(super) fn new(
        batches: Receiver<Batch>,
        sink: Box<dyn EventSink>,
        observers: Vec<Arc<dyn CommitObserver>>,
        shared: Arc<Shared>,
    ) -> Self {
        Committer {
            batches,
            sink,
            observers,
            shared,
            unwritten_drops: Vec::new(),
            last_drops_write: Instant::now(),
            drops_since_log: BTreeMap::new(),
            last_drop_log: Instant::now(),
            recent_commits: [Duration::ZERO; RECENT_COMMITS],
            report: WriterReport::default(),
        }
    }

    /// Commits batches until the enricher has handed over its last one, then checkpoints.
    pub(super) fn run(mut self) -> WriterReport {
        let _stopped = StoppedOnExit(self.shared.clone());
        while let Ok(mut batch) = self.batches.recv() {
            while batch.events.len() < MERGE_UP_TO {
                match self.batches.try_recv() {
                    Ok(more) => {
                        batch.events.extend(more.events);
                        batch.drops.extend(more.drops);
                        batch.oldest = batch.oldest.or(more.oldest);
                        batch.timed &= more.timed;
                    }
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                }
            }
            let timed = batch.timed;
            self.commit(batch);
            for observer in &self.observers {
                observer.between_commits();
            }
            if timed && self.batches.is_empty() {
                for observer in &self.observers {
                    observer.caught_up();
                }
            }
        }
        // The tally still unwritten: with no events, it is written now.
        self.commit(Batch {
            events: Vec::new(),
            drops: Vec::new(),
            oldest: None,
            timed: false,
        });
        if let Err(e) = self.sink.checkpoint() {
            tracing::warn!("checkpoint at shutdown failed (the write-ahead log will be replayed at next start): {e}");
        }
        self.log_drops(true);
        self.report
    }

    /// Commits the batch, and the drop tally when it is due or the batch has no events,
    /// retrying while the store fails. Gives up only past the shutdown deadline.
    fn commit(&mut self, batch: Batch) {
        let Batch {
            events,
            drops,
            oldest,
            timed: _,
        } = batch;
        merge_drops(&mut self.unwritten_drops, drops);
        let drops = if events.is_empty() || self.last_drops_write.elapsed() >= DROPS_EVERY {
            std::mem::take(&mut self.unwritten_drops)
        } else {
            Vec::new()
        };
        if events.is_empty() && drops.is_empty() {
            return;
        }
        if !drops.is_empty() {
            self.last_drops_write = Instant::now();
        }
        let mut backoff = Duration::from_millis(50);
        loop {
            let started = Instant::now();
            match self.sink.write_batch(&events, &drops) {
                Ok(()) => {
                    let took = started.elapsed();
                    self.recent_commits.rotate_right(1);
                    self.recent_commits[0] = took;
                    let slowest = self
                        .recent_commits
                        .iter()
                        .max()
                        .copied()
                        .unwrap_or_default();
                    self.shared
                        .slow_commit_micros
                        .store(slowest.as_micros() as u64, Ordering::Relaxed);
                    if let Some(oldest) = oldest {
                        // The drills read this: a crash just before this commit would have lost
                        // about this long of traffic.
                        tracing::debug!(
                            "committed {} events in {:.1} ms; the oldest had waited {:.1} ms",
                            events.len(),
                            took.as_secs_f64() * 1e3,
                            oldest.elapsed().as_secs_f64() * 1e3
                        );
                    }
                    if took > SLOW_COMMIT {
                        tracing::info!(
                            "committing {} events took {took:.0?} (the store may be checkpointing)",
                            events.len()
                        );
                    }
                    let written = events.len() as u64;
                    self.report.events_written += written;
                    self.shared
                        .events_written
                        .fetch_add(written, Ordering::Relaxed);
                    // In this order, so that whoever sees the error gone sees hits taken again.
                    self.shared.store_failing.store(false, Ordering::SeqCst);
                    self.shared.last_error.lock().take();
                    for observer in &self.observers {
                        observer.committed(&events);
                    }
                    self.count_drops(&drops);
                    break;
                }
                Err(e) => {
                    tracing::error!(
                        "writing {} events failed, retrying in {backoff:?}: {e}",
                        events.len()
                    );
                    // In this order, so that whoever sees the error sees hits refused.
                    self.shared.store_failing.store(true, Ordering::SeqCst);
                    *self.shared.last_error.lock() = Some(e.to_string());
                    let past_deadline = self
                        .shared
                        .deadline
                        .lock()
                        .is_some_and(|d| Instant::now() >= d);
                    if past_deadline {
                        tracing::error!(
                            "giving up at shutdown: {} queued events were not written",
                            events.len()
                        );
                        self.report.events_lost += events.len() as u64;
                        // Not counted, as it was not stored.
                        break;
                    }
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
        }
        self.log_drops(false);
    }

    fn count_drops(&mut self, drops: &[DropCount]) {
        for row in drops {
            *self.drops_since_log.entry(row.reason).or_default() += row.count;
        }
    }

    fn log_drops(&mut self, now: bool) {
        if self.drops_since_log.is_empty()
            || (!now && self.last_drop_log.elapsed() < DROP_LOG_INTERVAL)
        {
            return;
        }
        let total: u64 = self.drops_since_log.values().sum();
        let by_reason: Vec<String> = self
            .drops_since_log
            .iter()
            .map(|(r, n)| format!("{r}={n}"))
            .collect();
        tracing::info!(
            "{total} events not recorded in the last {}s: {}",
            self.last_drop_log.elapsed().as_secs(),
            by_reason.join(" ")
        );
        self.drops_since_log.clear();
        self.last_drop_log = Instant::now();
    }
}

/// Adds `more` to `into`, one row per day, site and reason. The tally has a handful of rows.
fn merge_drops(into: &mut Vec<DropCount>, more: Vec<DropCount>) {
    for row in more {
        match into
            .iter_mut()
            .find(|r| r.day == row.day && r.reason == row.reason && r.site == row.site)
        {
            Some(known) => known.count += row.count,
            None => into.push(row),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn row(day: u32, site: &str, reason: DropReason, count: u64) -> DropCount {
        DropCount {
            day: NaiveDate::from_ymd_opt(2026, 12, day).unwrap(),
            site: site.into(),
            reason,
            count,
        }
    }

    #[test]
    fn drop_counts_merge_per_day_site_and_reason() {
        let mut tally = vec![row(1, "a.test", DropReason::Bot, 2)];
        merge_drops(
            &mut tally,
            vec![
                row(1, "a.test", DropReason::Bot, 3),
                row(1, "b.test", DropReason::Bot, 1),
                row(2, "a.test", DropReason::Bot, 1),
                row(1, "a.test", DropReason::Spam, 4),
                row(1, "b.test", DropReason::Bot, 1),
            ],
        );
        assert_eq!(
            tally,
            vec![
                row(1, "a.test", DropReason::Bot, 5),
                row(1, "b.test", DropReason::Bot, 2),
                row(2, "a.test", DropReason::Bot, 1),
                row(1, "a.test", DropReason::Spam, 4),
            ]
        );
    }
}
