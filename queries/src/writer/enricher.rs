//! The writer's first stage: takes hits off the queue, enriches them into events, and hands
//! them to the committer in batches.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use footfall_collector::{Collector, Event};

use super::{Batch, Queued, Shared, StoppedOnExit, WriterSettings};

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
    receiver: Receiver<Queued>,
    hand_over: Sender<Batch>,
    collector: Arc<Collector>,
    settings: WriterSettings,
    batch: Vec<Event>,
    /// When the hit behind the batch's first event was queued.
    oldest: Option<Instant>,
    shared: Arc<Shared>,
}

impl Enricher {
    pub(super) fn new(
        receiver: Receiver<Queued>,
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
            oldest: None,
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
            // Due a period after the last hand-over (so the committer's observers hear from it
            // every interval), or after the batch's oldest hit was queued if that was earlier
            // (the enricher was held up, and hits waited in the queue meanwhile).
            let due = self
                .oldest
                .map_or(last_hand_over, |o| o.min(last_hand_over))
                + period;
            let wait = due.saturating_duration_since(Instant::now());
            // Busy (the last look found hits): pause, then take what came meanwhile, so a
            // steady stream costs the senders no wake-up call each. Idle: sleep until a hit
            // comes, which wakes this thread at once.
            let open = if busy {
                std::thread::sleep(BUSY_PAUSE.min(wait));
                self.drain()
            } else {
                match self.receiver.recv_timeout(wait) {
                    Ok(queued) => {
                        self.absorb(queued);
                        self.drain()
                    }
                    Err(RecvTimeoutError::Timeout) => Drained::Empty,
                    Err(RecvTimeoutError::Disconnected) => Drained::Closed,
                }
            };
            busy = open == Drained::Some;
            if open == Drained::Closed {
                self.hand_over(false);
                break;
            }
            let full = self.batch.len() >= self.settings.batch_rows;
            if full || Instant::now() >= due {
                if !self.hand_over(!full) {
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

    /// How long after its oldest hit was queued a batch is handed over, when it does not fill
    /// first: the flush interval less the slowest recent commit, one pause and a quarter of
    /// the interval, so that the batch's oldest event is committed within the flush interval;
    /// at least half of it, so a slow store is not asked for ever smaller commits.
    ///
    /// The quarter is for a commit slower than any recent one, or a thread scheduled late: in
    /// reliability drill 3, one commit in about 900 took 58 ms among ones of 5 to 8, and
    /// another batch was handed over 15 ms late.
    fn hand_over_period(&self) -> Duration {
        let commit = Duration::from_micros(self.shared.slow_commit_micros.load(Ordering::Relaxed));
        let interval = self.settings.flush_interval;
        interval
            .saturating_sub(commit + BUSY_PAUSE + interval / 4)
            .max(interval / 2)
    }

    /// Takes every queued hit, up to a full batch.
    fn drain(&mut self) -> Drained {
        let mut took = false;
        while self.batch.len() < self.settings.batch_rows {
            match self.receiver.try_recv() {
                Ok(queued) => {
                    self.absorb(queued);
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

    fn absorb(&mut self, Queued { hit, at }: Queued) {
        let enriched = self.collector.enrich(hit);
        if let Some(domain) = enriched.unknown_domain {
            tracing::warn!(
                "events for {domain} are dropped: it is not a registered site (add it with `footfall site add {domain}`)"
            );
        }
        if !enriched.events.is_empty() && self.oldest.is_none() {
            self.oldest = Some(at);
        }
        self.batch.extend(enriched.events);
    }

    /// Gives the batch and the drop tally to the committer, waiting while [`PENDING_BATCHES`]
    /// wait already (the queue fills meanwhile). `false` if the committer is gone: it only ends
    /// early by a panic, and then nothing more can be stored.
    ///
    /// [`PENDING_BATCHES`]: super::PENDING_BATCHES
    fn hand_over(&mut self, timed: bool) -> bool {
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
            oldest: self.oldest.take(),
            timed,
        };
        if self.hand_over.send(batch).is_err() {
            tracing::error!("the committer thread is gone: no more events can be stored");
            return false;
        }
        true
    }
}
