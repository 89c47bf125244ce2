//! Daily rollups: each closed UTC day's counts per value of each dimension, kept in the
//! `rollups` table, so that a query over weeks or months sums a few thousand rows instead of
//! counting millions of events.
//!
//! Why sums are exact. A visitor id is a hash under the day's salt, so the same person has a
//! different id each UTC day, and the distinct visitors of several days are the sum of each
//! day's. A visit counts whole on the day it started (see [`super::sql`]), so visits, bounces,
//! durations and pageviews per visit add up over days too. What does not add up (visits split by
//! pages, time on page, scroll depth, filtered counts) is never read from rollups.
//!
//! When a day is closed. A visit may go on through the day after it started (the collector ends
//! it at the second midnight), so day D is rolled up once D + 2 is reached, plus [`GRACE`] for
//! events still in the write queue. Queries read rollups for the whole UTC days they hold and
//! count events for the rest: the open days, and the hours of a period that do not make a whole
//! UTC day (a site in another time zone, an explicit range).
//!
//! A rollup is, by definition, the answer to the query `[time:day, dimension]` over the day in
//! UTC ([`sql::rollup_insert`]), so rollups and counts from events cannot disagree.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use duckdb::{params_from_iter, Connection};
use footfall_collector::clock::Clock;

use super::model::{Dimension, EventField, Metric, Query, TimeBucket, VisitField};
use super::period::{offset_steps, utc_day_start};
use super::sql;
use crate::error::StoreError;

/// How long after a day closes its events may still be in the write queue.
pub const GRACE: Duration = Duration::minutes(10);
/// At most this many days are rolled up in one transaction, so a backlog (a first start on a
/// large file) goes in steps that a shutdown can wait for.
const DAYS_PER_STEP: i64 = 3;
/// How often the keeper looks for a newly closed day.
const CHECK_INTERVAL: StdDuration = StdDuration::from_secs(300);

/// The dimensions rolled up, besides the totals.
pub fn dimensions() -> Vec<Dimension> {
    [EventField::Page, EventField::Name, EventField::Hostname]
        .into_iter()
        .map(Dimension::Event)
        .chain(
            VisitField::ALL
                .into_iter()
                // Answered from the codes' rollups ([`super::country`]).
                .filter(|f| *f != VisitField::CountryName)
                .map(Dimension::Visit),
        )
        .collect()
}

/// The first day not yet closed at `now`: every day before it is final.
pub fn closed_before(now: DateTime<Utc>) -> NaiveDate {
    (now - GRACE).date_naive() - Duration::days(1)
}

/// Whether rollups can answer `dimensions` for `query`: sums over days must equal the count
/// over the period (see the module's introduction).
pub fn answers(query: &Query, dimensions: &[Dimension]) -> bool {
    let rolled = dimensions
        .iter()
        .filter(|d| !matches!(d, Dimension::Time(_)))
        .collect::<Vec<_>>();
    let buckets = dimensions
        .iter()
        .filter_map(|d| match d {
            Dimension::Time(bucket) => Some(*bucket),
            _ => None,
        })
        .collect::<Vec<_>>();
    query.filter.is_none()
        && !query.metrics.iter().any(|m| m.is_page_metric())
        // Visits split by pages are not a sum over days.
        && (query.visits_are_whole(dimensions) || !query.metrics.contains(&Metric::Visits))
        && rolled.len() <= 1
        && rolled.iter().all(|d| match d {
            Dimension::Prop(_) | Dimension::Goal => false,
            // Their rollups hold no visit metrics (see [`sql::rollup_insert`]).
            Dimension::Event(EventField::Name | EventField::Hostname) => {
                !query.needs_whole_visits(dimensions)
            }
            _ => true,
        })
        && buckets.len() <= 1
        && buckets.iter().all(|b| *b != TimeBucket::Hour)
        // Days are UTC days: buckets of local days match them only where the zone is UTC.
        && (buckets.is_empty()
            || offset_steps(query.timezone, &query.period)
                .iter()
                .all(|(_, offset)| *offset == 0))
}

/// The whole UTC days of the query's period that rollups hold, as `[first, end)`, if any.
pub fn days_for(
    conn: &Connection,
    query: &Query,
    dimensions: &[Dimension],
) -> Result<Option<(NaiveDate, NaiveDate)>, StoreError> {
    if !answers(query, dimensions) {
        return Ok(None);
    }
    let through: Option<NaiveDate> =
        match conn.query_row(sql::rollup_through(), [&query.site], |row| row.get(0)) {
            Ok(day) => day,
            Err(duckdb::Error::QueryReturnedNoRows) => None,
            Err(e) => return Err(e.into()),
        };
    let Some(through) = through else {
        return Ok(None);
    };
    let first = utc_day_start(query.period.from);
    let first = if first < query.period.from {
        first + Duration::days(1)
    } else {
        first
    };
    let end = utc_day_start(query.period.to).date_naive().min(through);
    let first = first.date_naive();
    Ok((first < end).then_some((first, end)))
}

/// What one step of rolling up did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub site: String,
    /// The days rolled up, `[from, to)`.
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// Rolls up the next few closed days of the first site that has any, in one transaction.
/// `None`: every site is up to date.
pub fn step(conn: &Connection, now: DateTime<Utc>) -> Result<Option<Step>, StoreError> {
    let closed = closed_before(now);
    let mut progress = conn.prepare(sql::rollup_progress())?;
    let sites = progress
        .query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, NaiveDate>(1)?,
                row.get::<_, Option<NaiveDate>>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    for (site, first, through) in sites {
        let from = through.unwrap_or(first);
        if from >= closed {
            continue;
        }
        let to = (from + Duration::days(DAYS_PER_STEP)).min(closed);
        roll(conn, &site, from, to)?;
        return Ok(Some(Step { site, from, to }));
    }
    Ok(None)
}

/// Rolls up every closed day of every site (for tests, benches and tools).
pub fn catch_up(conn: &Connection, now: DateTime<Utc>) -> Result<Vec<Step>, StoreError> {
    let mut steps = Vec::new();
    while let Some(step) = step(conn, now)? {
        steps.push(step);
    }
    Ok(steps)
}

/// Forgets every rollup; the keeper (or [`catch_up`]) makes them again from the events.
pub fn reset(conn: &Connection) -> Result<(), StoreError> {
    Ok(conn.execute_batch(sql::rollup_reset())?)
}

/// Makes the rows of `[from, to)` for one site, replacing any there were, and moves its mark.
fn roll(conn: &Connection, site: &str, from: NaiveDate, to: NaiveDate) -> Result<(), StoreError> {
    let days = super::model::Period {
        from: from.and_time(chrono::NaiveTime::MIN).and_utc(),
        to: to.and_time(chrono::NaiveTime::MIN).and_utc(),
    };
    let tx = conn.unchecked_transaction()?;
    tx.execute(sql::rollup_clear(), duckdb::params![site, from, to])?;
    let mut rolled: Vec<Option<Dimension>> = vec![None];
    rolled.extend(dimensions().into_iter().map(Some));
    for dimension in &rolled {
        let statement = sql::rollup_insert(site, &days, dimension.as_ref());
        tx.execute(&statement.sql, params_from_iter(statement.params.iter()))?;
    }
    tx.execute(sql::rollup_mark(), duckdb::params![site, to])?;
    tx.commit()?;
    Ok(())
}

enum Signal {
    Look,
    Stop,
}

/// A thread that rolls up each day once it closes, and catches up on a backlog a step at a time.
pub struct Keeper {
    signals: crossbeam_channel::Sender<Signal>,
    thread: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl Keeper {
    pub fn spawn(conn: Connection, clock: Arc<dyn Clock>) -> Keeper {
        let (signals, received) = crossbeam_channel::bounded::<Signal>(4);
        let thread = std::thread::Builder::new()
            .name("footfall-rollups".into())
            .spawn(move || loop {
                let wait = match step(&conn, clock.now()) {
                    Ok(Some(step)) => {
                        tracing::debug!(
                            "rolled up {} from {} to {}",
                            step.site,
                            step.from,
                            step.to
                        );
                        StdDuration::ZERO
                    }
                    Ok(None) => CHECK_INTERVAL,
                    Err(e) => {
                        tracing::warn!(
                            "rolling up failed (queries count from events meanwhile): {e}"
                        );
                        CHECK_INTERVAL
                    }
                };
                match received.recv_timeout(wait) {
                    Ok(Signal::Look) | Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                    Ok(Signal::Stop) | Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                        break
                    }
                }
            })
            .expect("spawn the rollup thread");
        Keeper {
            signals,
            thread: std::sync::Mutex::new(Some(thread)),
        }
    }

    /// Looks for closed days now rather than at the next check (after a clock jump in tests,
    /// or an import).
    pub fn look_now(&self) {
        let _ = self.signals.try_send(Signal::Look);
    }

    /// Asks the thread to stop after the step in progress, without waiting.
    pub fn request_stop(&self) {
        let _ = self.signals.try_send(Signal::Stop);
    }

    /// Stops after the step in progress, and waits for it.
    pub fn stop(&self) {
        let _ = self
            .signals
            .send_timeout(Signal::Stop, StdDuration::from_millis(100));
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        self.stop();
    }
}
