//! The writer and the DuckDB sink against a real DuckDB database.

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use footfall_collector::clock::SystemClock;
use footfall_collector::geo::GeoDb;
use footfall_collector::sites::{Site, SiteSettings};
use footfall_collector::{
    Collector, CollectorSettings, DropCount, Event, Hit, RequestContext, SiteDomain,
};
use footfall_queries::writer::PENDING_BATCHES;
use footfall_queries::{
    DuckDbSink, EnqueueError, EventSink, Store, StoreError, StoreOptions, Writer, WriterSettings,
};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

fn collector() -> Arc<Collector> {
    let collector = Collector::new(
        CollectorSettings::default(),
        GeoDb::none(),
        Arc::new(SystemClock),
    );
    collector
        .sites()
        .insert(Site::new(SiteSettings::new(SiteDomain::parse("example.com").unwrap())).unwrap());
    Arc::new(collector)
}

fn hit(i: usize) -> Hit {
    let body = format!(
        r#"{{"n":"pageview","u":"https://example.com/p/{i}?utm_campaign=c{i}","r":"https://www.google.com/","p":{{"k":"v{i}"}}}}"#
    );
    let context = RequestContext {
        received_at: Utc::now(),
        client_ip: IpAddr::from([198, 51, 100, (i % 250) as u8]),
        user_agent: FIREFOX.into(),
        prefetch: false,
        do_not_track: false,
    };
    footfall_collector::payload::parse_event(body.as_bytes(), context).unwrap()
}

fn settings(queue: usize, batch: usize, flush_ms: u64) -> WriterSettings {
    WriterSettings {
        queue_capacity: queue,
        batch_rows: batch,
        flush_interval: Duration::from_millis(flush_ms),
    }
}

fn count(store: &Store) -> u64 {
    store.event_count().unwrap()
}

fn wait_for(mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn every_column_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("f.duckdb"), &StoreOptions::default()).unwrap();
    let writer = Writer::spawn(
        Box::new(DuckDbSink::new(store.connection().unwrap())),
        collector(),
        settings(100, 100, 50),
    );
    writer.try_enqueue(hit(7)).unwrap();
    let engagement = footfall_collector::payload::parse_event(
        br#"{"n":"engagement","u":"https://example.com/p/7","sd":55,"e":4200,"i":false}"#,
        hit(7).context,
    )
    .unwrap();
    writer.try_enqueue(engagement).unwrap();
    assert_eq!(
        writer
            .shutdown(Instant::now() + Duration::from_secs(5))
            .events_written,
        2
    );

    let conn = store.connection().unwrap();
    let (columns, prop, interactive): (Vec<String>, Option<String>, bool) = conn
        .query_row(
            "SELECT site, name, hostname, path, referrer, source, utm_campaign, browser, os, device,
                    props['k'], interactive
             FROM events WHERE name = 'pageview'",
            [],
            |r| {
                let columns = (0..10).map(|i| r.get(i)).collect::<Result<Vec<String>, _>>()?;
                Ok((columns, r.get(10)?, r.get(11)?))
            },
        )
        .unwrap();
    assert_eq!(
        columns,
        [
            "example.com",
            "pageview",
            "example.com",
            "/p/7",
            "google.com",
            "Google",
            "c7",
            "Firefox",
            "Linux",
            "Desktop",
        ]
    );
    assert_eq!((prop.as_deref(), interactive), (Some("v7"), true));
    let (engaged, depth, interactive, same_session): (Option<u32>, Option<u8>, bool, bool) = conn
        .query_row(
            "SELECT engaged_ms, scroll_depth, interactive,
                    session_id = (SELECT session_id FROM events WHERE name = 'pageview')
             FROM events WHERE name = 'engagement'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(
        (engaged, depth, interactive, same_session),
        (Some(4200), Some(55), false, true)
    );
    let age_secs: i64 = conn
        .query_row(
            "SELECT date_diff('second', max(ts), now()::TIMESTAMP) FROM events",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(age_secs.abs() < 60, "ts is stored as UTC: {age_secs}s off");
}

#[test]
fn commits_on_the_interval_and_on_the_batch_size() {
    let store = Arc::new(Store::open_in_memory(&StoreOptions::default()).unwrap());
    // A long interval: only the batch size can trigger the commit.
    let writer = Writer::spawn(
        Box::new(DuckDbSink::new(store.connection().unwrap())),
        collector(),
        settings(1000, 10, 5000),
    );
    for i in 0..10 {
        writer.try_enqueue(hit(i)).unwrap();
    }
    wait_for(|| count(&store) == 10);
    writer.shutdown(Instant::now() + Duration::from_secs(5));

    // A big batch: only the interval can.
    let writer = Writer::spawn(
        Box::new(DuckDbSink::new(store.connection().unwrap())),
        collector(),
        settings(1000, 10_000, 100),
    );
    writer.try_enqueue(hit(1)).unwrap();
    let queued_at = Instant::now();
    wait_for(|| count(&store) == 11);
    assert!(queued_at.elapsed() < Duration::from_secs(3));
    writer.shutdown(Instant::now() + Duration::from_secs(5));
}

#[test]
fn shutdown_drains_everything_queued() {
    let store = Store::open_in_memory(&StoreOptions::default()).unwrap();
    let writer = Writer::spawn(
        Box::new(DuckDbSink::new(store.connection().unwrap())),
        collector(),
        settings(50_000, 1000, 5000),
    );
    for i in 0..20_000 {
        writer.try_enqueue(hit(i)).unwrap();
    }
    let report = writer.shutdown(Instant::now() + Duration::from_secs(8));
    assert_eq!((report.events_written, report.events_lost), (20_000, 0));
    assert_eq!(count(&store), 20_000);
    assert_eq!(writer.try_enqueue(hit(0)), Err(EnqueueError::Closed));
    assert!(!writer.status().running);
}

/// The real DuckDB sink behind a gate the test opens, or a number of failures to give first.
struct Gated {
    inner: DuckDbSink,
    gate: Arc<Mutex<()>>,
    failures_left: Arc<AtomicUsize>,
}

impl EventSink for Gated {
    fn write_batch(&mut self, events: &[Event], drops: &[DropCount]) -> Result<(), StoreError> {
        let _open = self.gate.lock().unwrap();
        if self.failures_left.load(Ordering::SeqCst) > 0 {
            self.failures_left.fetch_sub(1, Ordering::SeqCst);
            return Err(StoreError::Setting("disk full (simulated)".into()));
        }
        self.inner.write_batch(events, drops)
    }

    fn checkpoint(&mut self) -> Result<(), StoreError> {
        self.inner.checkpoint()
    }
}

#[test]
fn a_full_queue_refuses_instead_of_blocking() {
    let store = Store::open_in_memory(&StoreOptions::default()).unwrap();
    let gate = Arc::new(Mutex::new(()));
    let sink = Gated {
        inner: DuckDbSink::new(store.connection().unwrap()),
        gate: gate.clone(),
        failures_left: Arc::default(),
    };
    // One-event batches, and no hand-over on a timer.
    let writer = Writer::spawn(Box::new(sink), collector(), settings(5, 1, 60_000));
    // Closed after the writer is made, so that a failed assertion opens it before the writer's
    // drop waits for its threads.
    let closed = gate.lock().unwrap();
    // The first commit blocks on the gate; batches wait for it (the committer may have merged
    // a few into it), then the enricher waits, then the queue fills and stays full.
    let mut accepted = 0;
    let mut refused_in_a_row = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    while refused_in_a_row < 3 {
        assert!(Instant::now() < deadline, "only {accepted} hits taken");
        let started = Instant::now();
        match writer.try_enqueue(hit(accepted)) {
            Ok(()) => {
                accepted += 1;
                refused_in_a_row = 0;
            }
            Err(EnqueueError::Full) => {
                assert!(
                    started.elapsed() < Duration::from_millis(100),
                    "try_enqueue must not block"
                );
                refused_in_a_row += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(
        accepted >= 5 + PENDING_BATCHES,
        "the queue and the pending batches hold {accepted}"
    );
    assert_eq!(writer.status().queued, 5);
    drop(closed);
    assert_eq!(
        writer
            .shutdown(Instant::now() + Duration::from_secs(5))
            .events_written,
        accepted as u64
    );
    assert_eq!(count(&store), accepted as u64);
}

#[test]
fn failed_commits_are_retried_and_reported_until_they_succeed() {
    let store = Store::open_in_memory(&StoreOptions::default()).unwrap();
    let failures = Arc::new(AtomicUsize::new(3));
    let sink = Gated {
        inner: DuckDbSink::new(store.connection().unwrap()),
        gate: Arc::default(),
        failures_left: failures.clone(),
    };
    let writer = Writer::spawn(Box::new(sink), collector(), settings(100, 100, 10));
    for i in 0..5 {
        writer.try_enqueue(hit(i)).unwrap();
    }
    wait_for(|| writer.status().last_error.is_some());
    assert_eq!(
        writer.status().last_error.as_deref(),
        Some("invalid store setting: disk full (simulated)")
    );
    wait_for(|| count(&store) == 5);
    assert_eq!(
        writer.status().last_error,
        None,
        "cleared by the next good commit"
    );
    assert_eq!(failures.load(Ordering::SeqCst), 0);
    writer.shutdown(Instant::now() + Duration::from_secs(5));
}

#[test]
fn new_hits_are_refused_while_the_store_fails_and_taken_again_once_it_recovers() {
    let store = Store::open_in_memory(&StoreOptions::default()).unwrap();
    let failures = Arc::new(AtomicUsize::new(usize::MAX));
    let sink = Gated {
        inner: DuckDbSink::new(store.connection().unwrap()),
        gate: Arc::default(),
        failures_left: failures.clone(),
    };
    let writer = Writer::spawn(Box::new(sink), collector(), settings(100, 100, 10));
    writer.try_enqueue(hit(0)).unwrap();
    wait_for(|| writer.status().last_error.is_some());
    // Not acknowledged into a queue that may never reach the store (a full disk)…
    assert_eq!(writer.try_enqueue(hit(1)), Err(EnqueueError::StoreFailing));
    // …while the hit queued before the failure is kept and retried.
    failures.store(0, Ordering::SeqCst);
    wait_for(|| writer.status().last_error.is_none());
    assert_eq!(count(&store), 1);
    writer.try_enqueue(hit(2)).unwrap();
    let report = writer.shutdown(Instant::now() + Duration::from_secs(5));
    assert_eq!((report.events_written, report.events_lost), (2, 0));
    assert_eq!(count(&store), 2);
}

#[test]
fn a_store_that_never_recovers_is_given_up_at_the_deadline() {
    let store = Store::open_in_memory(&StoreOptions::default()).unwrap();
    let sink = Gated {
        inner: DuckDbSink::new(store.connection().unwrap()),
        gate: Arc::default(),
        failures_left: Arc::new(AtomicUsize::new(usize::MAX)),
    };
    let writer = Writer::spawn(Box::new(sink), collector(), settings(100, 100, 10));
    for i in 0..3 {
        writer.try_enqueue(hit(i)).unwrap();
    }
    let started = Instant::now();
    let report = writer.shutdown(Instant::now() + Duration::from_secs(1));
    assert_eq!((report.events_written, report.events_lost), (0, 3));
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[test]
fn drop_counts_are_stored_with_batches() {
    let store = Store::open_in_memory(&StoreOptions::default()).unwrap();
    let collector = collector();
    let writer = Writer::spawn(
        Box::new(DuckDbSink::new(store.connection().unwrap())),
        collector.clone(),
        settings(100, 100, 10),
    );
    let mut bot = hit(1);
    bot.context.user_agent = "curl/8.0".into();
    writer.try_enqueue(bot.clone()).unwrap();
    writer.try_enqueue(bot).unwrap();
    let mut unknown = hit(2);
    unknown.domains = vec![SiteDomain::parse("nope.example").unwrap()];
    writer.try_enqueue(unknown).unwrap();
    assert!(collector.parse_event(b"{", hit(3).context).is_err());
    writer.shutdown(Instant::now() + Duration::from_secs(5));

    let totals = footfall_queries::drops::totals_since(
        &store.connection().unwrap(),
        Utc::now().date_naive(),
    )
    .unwrap();
    let flat: Vec<(String, &str, u64)> = totals
        .iter()
        .map(|t| (t.site.clone(), t.reason.as_str(), t.count))
        .collect();
    assert_eq!(
        flat,
        vec![
            ("".into(), "invalid", 1),
            ("".into(), "unknown_site", 1),
            ("example.com".into(), "bot", 2)
        ]
    );
    assert_eq!(count(&store), 0);
}
