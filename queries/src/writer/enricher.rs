//! The writer's first stage: takes hits off the queue, enriches them into events, and hands
//! them to the committer in batches.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use footfall_collector::{Collector, Event, Hit};

use super::{Batch, Shared, StoppedOnExit, WriterSettings};

/// Salts rotate and ended visits are forgotten on this beat.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(30);
/// While hits keep coming, the enricher looks for more this often rather than being woken by
/// each: a wake-up is a system call on the sender's side and a context switch on both, which
/// under load cost more than enriching the hit. At 40,000 hits a second a pause queues 400.
const BUSY_PAUSE: Duration = Duration::from_millis(10);

/// What a look at the queue found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drained {
    Some,
    Empty,
    Closed,
}

pub(super) struct Enricher {
    receiver: Receiver<Hit>,
    hand_over: Sender<Batch>,
    collector: Arc<Collector>,
    settings: WriterSettings,
    batch: Vec<Event>,
    shared: Arc<Shared>,
}

impl Enricher {
    pub(super) fn new(
        receiver: Receiver<Hit>,
        hand_over: Sender<Batch>,
        collector: Arc<Collector>,
        settings: WriterSettings,
        shared: Arc<Shared>,
    ) -> Self {
        Enricher {
            receiver,
            hand_over,
            collector,
            batch: Vec::with_capacity(settings.batch_rows),
            settings,
            shared,
        }
    }

    /// Runs until the queue is closed and drained, then hands over the last batch. Dropping
    /// `hand_over` on return is what tells the committer to finish.
    pub(super) fn run(mut self) {
        let _stopped = StoppedOnExit(self.shared.clone());
        let mut last_hand_over = Instant::now();
        let mut last_housekeeping = Instant::now();
        let mut busy = false;
        loop {
            let period = self.hand_over_period();
            let wait = period.saturating_sub(last_hand_over.elapsed());
            // Busy (the last look found hits): pause, then take what came meanwhile, so a
            // steady stream costs the senders no wake-up call each. Idle: sleep until a hit
            // comes, which wakes this thread at once.
            let open = if busy {
                std::thread::sleep(BUSY_PAUSE.min(wait));
                self.drain()
            } else {
                match self.receiver.recv_timeout(wait) {
                    Ok(hit) => {
                        self.absorb(hit);
                        self.drain()
                    }
                    Err(RecvTimeoutError::Timeout) => Drained::Empty,
                    Err(RecvTimeoutError::Disconnected) => Drained::Closed,
                }
            };
            busy = open == Drained::Some;
            if open == Drained::Closed {
                self.hand_over();
                break;
            }
            if self.batch.len() >= self.settings.batch_rows || last_hand_over.elapsed() >= period {
                if !self.hand_over() {
                    break;
                }
                last_hand_over = Instant::now();
            }
            if last_housekeeping.elapsed() >= HOUSEKEEPING_INTERVAL {
                self.collector.tick();
                last_housekeeping = Instant::now();
            }
        }
    }

    /// How often a batch is handed over when it does not fill first: the flush interval less
    /// the slowest recent commit and one pause, so that the oldest event of a batch (queued
    /// just after the previous hand-over) is committed within the flush interval; at least half
    /// of it, so a slow store is not asked for ever smaller commits.
    fn hand_over_period(&self) -> Duration {
        let commit = Duration::from_micros(self.shared.slow_commit_micros.load(Ordering::Relaxed));
        let interval = self.settings.flush_interval;
        interval
            .saturating_sub(commit + BUSY_PAUSE)
            .max(interval / 2)
    }

    /// Takes every queued hit, up to a full batch.
    fn drain(&mut self) -> Drained {
        let mut took = false;
        while self.batch.len() < self.settings.batch_rows {
            match self.receiver.try_recv() {
                Ok(hit) => {
                    self.absorb(hit);
                    took = true;
                }
                Err(TryRecvError::Empty) => break,
                // Closed and empty: every hit sent has been taken.
                Err(TryRecvError::Disconnected) => return Drained::Closed,
            }
        }
        if took {
            Drained::Some
        } else {
            Drained::Empty
        }
    }

    fn absorb(&mut self, hit: Hit) {
        let enriched = self.collector.enrich(hit);
        if let Some(domain) = enriched.unknown_domain {
            tracing::warn!(
                "events for {domain} are dropped: it is not a registered site (add it with `footfall site add {domain}`)"
            );
        }
        self.batch.extend(enriched.events);
    }

    /// Gives the batch and the drop tally to the committer, waiting while [`PENDING_BATCHES`]
    /// wait already (the queue fills meanwhile). `false` if the committer is gone: it only ends
    /// early by a panic, and then nothing more can be stored.
    ///
    /// [`PENDING_BATCHES`]: super::PENDING_BATCHES
    fn hand_over(&mut self) -> bool {
        let drops = self.collector.drops().take();
        if self.batch.is_empty() && drops.is_empty() && !self.hand_over.is_empty() {
            // Nothing new, and the committer has batches still to commit: it calls
            // `between_commits` after those anyway.
            return true;
        }
        let batch = Batch {
            events: std::mem::replace(
                &mut self.batch,
                Vec::with_capacity(self.settings.batch_rows),
            ),
            drops,
        };
        if self.hand_over.send(batch).is_err() {
            tracing::error!("the committer thread is gone: no more events can be stored");
            return false;
        }
        true
    }
}
