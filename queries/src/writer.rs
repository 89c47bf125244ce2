//! The batched writer: the one thread that enriches queued hits and appends them to the store.
//!
//! HTTP handlers only call [`Writer::try_enqueue`], which never blocks: a full queue is an
//! error the server turns into `503 Retry-After`, so a `202` always means "queued". The thread
//! commits every `flush_interval` or every `batch_rows` events, whichever comes first. A failed
//! commit is retried with backoff while the queue backs up (and the server answers 503); at
//! shutdown the queue is drained and committed before the store is checkpointed.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError, TrySendError};
use footfall_collector::{Collector, DropCount, DropReason, Event, Hit};
use parking_lot::{Mutex, RwLock};

use crate::sink::EventSink;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterSettings {
    /// Hits waiting to be written, at most; beyond it the server answers 503. A commit may wait
    /// for a checkpoint in progress (up to about a second seen under heavy load, before
    /// checkpoints moved to their own thread; see benches/README.md): the default holds a
    /// second of 30,000 hits a second, about 20 MB when full.
    pub queue_capacity: usize,
    /// Commit when this many events are waiting…
    pub batch_rows: usize,
    /// …or when the oldest has waited this long. This bounds what a crash can lose.
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
}

/// Why a hit was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EnqueueError {
    #[error("the write queue is full")]
    Full,
    #[error("the server is shutting down")]
    Closed,
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
    sender: RwLock<Option<Sender<Hit>>>,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<WriterReport>>>,
}

/// Every so often, a log line says how many events were dropped and why.
const DROP_LOG_INTERVAL: Duration = Duration::from_secs(60);
/// Salts rotate and ended visits are forgotten on this beat.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(30);
/// While hits keep coming, the writer looks for more this often rather than being woken by
/// each: a wake-up is a system call on the sender's side and a context switch on both, which
/// under load cost more than enriching the hit. At 40,000 hits a second a pause queues 400.
const BUSY_PAUSE: Duration = Duration::from_millis(10);

/// A commit slower than this is logged: hits queue up meanwhile, and past the queue's capacity
/// the server answers 503.
const SLOW_COMMIT: Duration = Duration::from_millis(250);

/// What a look at the queue found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drained {
    Some,
    Empty,
    Closed,
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
        let shared = Arc::new(Shared::default());
        let worker = Worker {
            receiver,
            sink,
            collector,
            observers,
            batch: Vec::with_capacity(settings.batch_rows),
            settings,
            shared: shared.clone(),
            drops_since_log: BTreeMap::new(),
            last_drop_log: Instant::now(),
            report: WriterReport::default(),
        };
        let thread = std::thread::Builder::new()
            .name("footfall-writer".into())
            .spawn(move || worker.run())
            .expect("spawn the writer thread");
        Writer {
            sender: RwLock::new(Some(sender)),
            shared,
            thread: Mutex::new(Some(thread)),
        }
    }

    /// Queues a hit without blocking.
    pub fn try_enqueue(&self, hit: Hit) -> Result<(), EnqueueError> {
        let sender = self.sender.read();
        let sender = sender.as_ref().ok_or(EnqueueError::Closed)?;
        sender.try_send(hit).map_err(|e| match e {
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

    /// Stops taking hits, writes every queued one, checkpoints, and waits for the thread. If the
    /// store keeps failing, gives up at `deadline` and reports what was lost. Idempotent.
    pub fn shutdown(&self, deadline: Instant) -> WriterReport {
        *self.shared.deadline.lock() = Some(deadline);
        self.sender.write().take();
        match self.thread.lock().take() {
            Some(thread) => thread.join().unwrap_or_else(|_| {
                tracing::error!("the writer thread panicked");
                WriterReport::default()
            }),
            None => WriterReport::default(),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.shutdown(Instant::now() + Duration::from_secs(5));
    }
}

/// Marks the writer stopped when its thread ends, even by a panic, so health checks see it.
struct StoppedOnExit(Arc<Shared>);

impl Drop for StoppedOnExit {
    fn drop(&mut self) {
        self.0.stopped.store(true, Ordering::Relaxed);
    }
}

struct Worker {
    receiver: Receiver<Hit>,
    sink: Box<dyn EventSink>,
    collector: Arc<Collector>,
    observers: Vec<Arc<dyn CommitObserver>>,
    settings: WriterSettings,
    batch: Vec<Event>,
    shared: Arc<Shared>,
    drops_since_log: BTreeMap<DropReason, u64>,
    last_drop_log: Instant,
    report: WriterReport,
}

impl Worker {
    fn run(mut self) -> WriterReport {
        let _stopped = StoppedOnExit(self.shared.clone());
        let mut last_flush = Instant::now();
        let mut last_housekeeping = Instant::now();
        let mut busy = false;
        loop {
            let wait = self
                .settings
                .flush_interval
                .saturating_sub(last_flush.elapsed());
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
                self.flush();
                break;
            }
            if self.batch.len() >= self.settings.batch_rows
                || last_flush.elapsed() >= self.settings.flush_interval
            {
                self.flush();
                last_flush = Instant::now();
                for observer in &self.observers {
                    observer.between_commits();
                }
            }
            if last_housekeeping.elapsed() >= HOUSEKEEPING_INTERVAL {
                self.collector.tick();
                last_housekeeping = Instant::now();
            }
        }
        if let Err(e) = self.sink.checkpoint() {
            tracing::warn!("checkpoint at shutdown failed (the write-ahead log will be replayed at next start): {e}");
        }
        self.log_drops(true);
        self.report
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

    /// Commits the batch and the drop tally, retrying while the store fails. Gives up only past
    /// the shutdown deadline.
    fn flush(&mut self) {
        let drops = self.collector.drops().take();
        if self.batch.is_empty() && drops.is_empty() {
            return;
        }
        let mut backoff = Duration::from_millis(50);
        loop {
            let started = Instant::now();
            match self.sink.write_batch(&self.batch, &drops) {
                Ok(()) => {
                    let took = started.elapsed();
                    if took > SLOW_COMMIT {
                        // The queue fills meanwhile; past its capacity the server answers 503.
                        tracing::info!(
                            "committing {} events took {took:.0?} (the store may be checkpointing)",
                            self.batch.len()
                        );
                    }
                    let written = self.batch.len() as u64;
                    self.report.events_written += written;
                    self.shared
                        .events_written
                        .fetch_add(written, Ordering::Relaxed);
                    self.shared.last_error.lock().take();
                    for observer in &self.observers {
                        observer.committed(&self.batch);
                    }
                    self.batch.clear();
                    self.count_drops(&drops);
                    break;
                }
                Err(e) => {
                    tracing::error!(
                        "writing {} events failed, retrying in {backoff:?}: {e}",
                        self.batch.len()
                    );
                    *self.shared.last_error.lock() = Some(e.to_string());
                    let past_deadline = self
                        .shared
                        .deadline
                        .lock()
                        .is_some_and(|d| Instant::now() >= d);
                    if past_deadline {
                        tracing::error!(
                            "giving up at shutdown: {} queued events were not written",
                            self.batch.len()
                        );
                        self.report.events_lost += self.batch.len() as u64;
                        self.batch.clear();
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
