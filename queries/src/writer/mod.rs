//! The batched writer: the threads that enrich queued hits and append them to the store.
//!
//! HTTP handlers only call [`Writer::try_enqueue`], which never blocks: a full queue is an
//! error the server turns into `503 Retry-After`, so a `202` always means "queued". Two threads
//! do the rest, one stage each:
//! - the enricher ([`enricher`]) takes hits off the queue, enriches them (sessions, user agent,
//!   location…) and hands over a batch every `flush_interval` or every `batch_rows` events,
//!   whichever comes first;
//! - the committer ([`committer`]) appends each batch in one transaction and tells the observers.
//!
//! A commit waits while DuckDB checkpoints (up to two seconds seen under heavy load on two
//! cores): with the stages apart, the queue keeps draining meanwhile and batches wait, up to
//! [`PENDING_BATCHES`], instead of hits being refused. A failed commit is retried with backoff;
//! the batches back up, then the queue, and the server answers 503. At shutdown the queue is
//! drained and committed before the store is checkpointed.

mod committer;
mod enricher;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, TrySendError};
use footfall_collector::{Collector, DropCount, Event, Hit};
use parking_lot::{Mutex, RwLock};

use crate::sink::EventSink;
use committer::Committer;
use enricher::Enricher;

/// Enriched batches waiting for their commit, at most, before the enricher waits too (and the
/// queue fills). At 5,000 events a batch, a stall of about a second and a half of a busy
/// server's traffic on top of the queue's.
pub const PENDING_BATCHES: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterSettings {
    /// Hits waiting to be enriched, at most; beyond it the server answers 503. The queue only
    /// fills once [`PENDING_BATCHES`] wait for a commit too (a commit may wait up to two seconds
    /// for a checkpoint under heavy load; see benches/README.md): the default holds a second of
    /// 30,000 hits a second on top of those, about 20 MB when full.
    pub queue_capacity: usize,
    /// Commit when this many events are waiting…
    pub batch_rows: usize,
    /// …or so that the oldest is committed within this long of being queued (the enricher
    /// hands a batch over early by the slowest recent commit's time and a reserve, and
    /// checkpoints start as a commit ends). This bounds what a crash can lose: about this long
    /// of traffic, unless the store is slower than usual just then.
    pub flush_interval: Duration,
}

impl Default for WriterSettings {
    fn default() -> Self {
        WriterSettings {
            queue_capacity: 30_000,
            batch_rows: 5_000,
            flush_interval: Duration::from_millis(200),
        }
    }
}

/// Told of every batch once it is committed, on the writer's thread, in commit order: what
/// keeps live figures (the public counters) in step with the store without reading it back.
/// It must be quick; the writer waits for it.
pub trait CommitObserver: Send + Sync + 'static {
    fn committed(&self, events: &[Event]);

    /// Called on the writer's thread after each commit and every flush interval when there was
    /// nothing to commit: while it runs, no batch is committed, so work that must not race with
    /// commits (reading the store to rebuild live figures) goes here.
    fn between_commits(&self) {}

    /// Called on the writer's thread after [`CommitObserver::between_commits`] when the batch
    /// was handed over by time (not full) and no other waits: the store has a gap of most of a
    /// flush interval ahead, the moment for work that would hold a commit back (a checkpoint).
    /// Under heavy load, when batches fill before they are due, it does not come.
    fn caught_up(&self) {}
}

/// Why a hit was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EnqueueError {
    #[error("the write queue is full")]
    Full,
    #[error("the server is shutting down")]
    Closed,
    #[error("the store cannot write at the moment (is its disk full?)")]
    StoreFailing,
}

/// The writer's health, for `/healthz`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriterStatus {
    pub running: bool,
    pub queued: usize,
    pub events_written: u64,
    /// The last commit's error, cleared by the next successful commit.
    pub last_error: Option<String>,
}

/// What the writer did over its life, reported when it stops.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterReport {
    pub events_written: u64,
    /// Events enqueued but not committed because the store kept failing past the deadline.
    pub events_lost: u64,
}

#[derive(Default)]
struct Shared {
    events_written: AtomicU64,
    /// Set while commits fail: new hits are refused meanwhile rather than acknowledged into a
    /// queue that may never reach the store (a full disk), if the sink says so
    /// ([`EventSink::refuse_while_failing`]). Those already queued are retried.
    store_failing: AtomicBool,
    refuse_while_failing: bool,
    /// The slowest of the last few commits, in microseconds: the enricher hands over earlier by
    /// as much, so that a batch's oldest event is committed within the flush interval.
    slow_commit_micros: AtomicU64,
    last_error: Mutex<Option<String>>,
    /// Set by `shutdown`: past it, a failing store is given up on.
    deadline: Mutex<Option<Instant>>,
    /// Set by the thread as it exits, for whatever reason.
    stopped: AtomicBool,
}

/// The handle to the writer thread.
pub struct Writer {
    /// `None` once shut down. Dropping the sender is what tells the thread to drain and stop, and
    /// the lock makes sure no hit can be queued after that.
    sender: RwLock<Option<Sender<Queued>>>,
    shared: Arc<Shared>,
    threads: Mutex<Option<Threads>>,
}

struct Threads {
    enricher: JoinHandle<()>,
    committer: JoinHandle<WriterReport>,
}

/// A hit in the queue, with when it was queued: the enricher hands a batch over by its oldest
/// event's age, and the committer logs how long that event waited for its commit (what a crash
/// at that moment would have lost, in time).
struct Queued {
    hit: Hit,
    at: Instant,
}

/// One hand-over from the enricher to the committer: the events and the drop tally of one
/// flush interval (or one full batch). Sent even when empty, so the committer's observers get
/// their `between_commits` on every interval.
struct Batch {
    events: Vec<Event>,
    drops: Vec<DropCount>,
    /// When the first hit behind `events` was queued; `None` when there are no events.
    oldest: Option<Instant>,
    /// Handed over because it was due, not because it was full: hits come slower than the
    /// writer takes them, and a gap of most of a flush interval follows its commit.
    timed: bool,
}

impl Writer {
    pub fn spawn(
        sink: Box<dyn EventSink>,
        collector: Arc<Collector>,
        settings: WriterSettings,
    ) -> Writer {
        Self::spawn_observed(sink, collector, settings, Vec::new())
    }

    /// As [`Writer::spawn`], telling `observers` of each committed batch.
    pub fn spawn_observed(
        sink: Box<dyn EventSink>,
        collector: Arc<Collector>,
        settings: WriterSettings,
        observers: Vec<Arc<dyn CommitObserver>>,
    ) -> Writer {
        let (sender, receiver) = crossbeam_channel::bounded(settings.queue_capacity.max(1));
        let (hand_over, batches) = crossbeam_channel::bounded(PENDING_BATCHES);
        let shared = Arc::new(Shared {
            refuse_while_failing: sink.refuse_while_failing(),
            ..Shared::default()
        });
        let committer = Committer::new(batches, sink, observers, shared.clone());
        let enricher = Enricher::new(receiver, hand_over, collector, settings, shared.clone());
        let threads = Threads {
            committer: std::thread::Builder::new()
                .name("footfall-commit".into())
                .spawn(move || committer.run())
                .expect("spawn the committer thread"),
            enricher: std::thread::Builder::new()
                .name("footfall-writer".into())
                .spawn(move || enricher.run())
                .expect("spawn the enricher thread"),
        };
        Writer {
            sender: RwLock::new(Some(sender)),
            shared,
            threads: Mutex::new(Some(threads)),
        }
    }

    /// Queues a hit without blocking; refuses it when the queue is full, and while the store
    /// fails to commit if its sink asks for that.
    pub fn try_enqueue(&self, hit: Hit) -> Result<(), EnqueueError> {
        let sender = self.sender.read();
        let sender = sender.as_ref().ok_or(EnqueueError::Closed)?;
        if self.shared.refuse_while_failing && self.shared.store_failing.load(Ordering::Relaxed) {
            return Err(EnqueueError::StoreFailing);
        }
        let queued = Queued {
            hit,
            at: Instant::now(),
        };
        sender.try_send(queued).map_err(|e| match e {
            TrySendError::Full(_) => EnqueueError::Full,
            TrySendError::Disconnected(_) => EnqueueError::Closed,
        })
    }

    pub fn status(&self) -> WriterStatus {
        let sender = self.sender.read();
        WriterStatus {
            running: !self.shared.stopped.load(Ordering::Relaxed),
            queued: sender.as_ref().map_or(0, Sender::len),
            events_written: self.shared.events_written.load(Ordering::Relaxed),
            last_error: self.shared.last_error.lock().clone(),
        }
    }

    /// Stops taking hits, writes every queued one, checkpoints, and waits for the threads. If
    /// the store keeps failing, gives up at `deadline` and reports what was lost. Idempotent.
    pub fn shutdown(&self, deadline: Instant) -> WriterReport {
        *self.shared.deadline.lock() = Some(deadline);
        self.sender.write().take();
        let Some(threads) = self.threads.lock().take() else {
            return WriterReport::default();
        };
        // The enricher ends once the queue is drained and handed over, which lets the committer
        // end once every batch is committed.
        if threads.enricher.join().is_err() {
            tracing::error!("the enricher thread panicked");
        }
        threads.committer.join().unwrap_or_else(|_| {
            tracing::error!("the committer thread panicked");
            WriterReport::default()
        })
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.shutdown(Instant::now() + Duration::from_secs(5));
    }
}

/// Marks the writer stopped when either of its threads ends, even by a panic, so health checks
/// see it.
struct StoppedOnExit(Arc<Shared>);

impl Drop for StoppedOnExit {
    fn drop(&mut self) {
        self.0.stopped.store(true, Ordering::Relaxed);
    }
}
