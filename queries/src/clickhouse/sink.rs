//! [`ClickHouseSink`]: the writer's batches into a sharded ClickHouse cluster.
//!
//! The sink does the sharding itself instead of inserting through the `footfall.events`
//! Distributed table (docs/clickhouse.md, "Writes and outages"): a Distributed insert only queues
//! the other shards' rows on the receiving server's disk, so "acknowledged" would not mean
//! "stored where it belongs", and its synchronous mode can half-write a batch. Here each shard's
//! part of a batch is one `INSERT` of one block into that shard's `footfall.events_local`, which
//! MergeTree stores atomically: all of the part or none of it.

use footfall_collector::{DropCount, Event};
use serde::Serialize;

use super::client::{ClickHouseError, Client};
use super::migrate::StoredEvent;
use crate::error::StoreError;
use crate::sink::EventSink;

/// Each shard's own events table (0001_events.sql).
const EVENTS_TABLE: &str = "footfall.events_local";
/// Each shard's own dropped-events table (0004_dropped_events.sql).
const DROPS_TABLE: &str = "footfall.dropped_events_local";

/// The columns every event row names, in [`EventRow`]'s order. `ts` is left out on purpose:
/// the server derives it from `ts_us` (its DEFAULT applies only to columns the list omits).
const EVENT_COLUMNS: [&str; 28] = [
    "site",
    "ts_us",
    "name",
    "hostname",
    "path",
    "visitor_id",
    "session_id",
    "interactive",
    "referrer",
    "source",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
    "click_id",
    "country",
    "region",
    "city",
    "browser",
    "browser_version",
    "os",
    "os_version",
    "device",
    "props.key",
    "props.value",
    "engaged_ms",
    "scroll_depth",
];

const DROP_COLUMNS: [&str; 4] = ["day", "site", "reason", "count"];

/// Writes to the shards of the `footfall` cluster, each through its own [`Client`].
///
/// # Sharding
/// An event goes to shard `session_id % shards` (0-based, in the order of the cluster's
/// `remote_servers`), which is where the `footfall.events` Distributed table, sharded by
/// `session_id` with equal weights, would have put it: reads through `events` and the per-shard
/// `sessions` views see whole visits either way.
///
/// # All or nothing, with several shards
/// [`EventSink`] promises that after an error none of the batch is stored, so the writer may
/// retry it whole. Across shards no such transaction exists: with shard 2 down, shard 1's part
/// may already be stored when shard 2's fails. The sink keeps the promise's purpose instead of
/// its letter: after an error it remembers the failed batch and which parts of it landed, and
/// when the writer retries the same batch (compared by value, so it is exact), it sends only the
/// parts still missing. Every event is therefore stored once, whatever the number of retries.
/// A different batch clears the memory and is written whole.
///
/// Why not deduplication by the server: 18.16 deduplicates inserts only in Replicated tables
/// (`insert_deduplicate` does nothing for a plain MergeTree), so a blind retry would duplicate
/// the landed part.
///
/// What remains: a part whose insert succeeded but whose answer was lost (a connection cut
/// after the server committed) counts as failed and is sent again, a possible duplicate that no
/// client can rule out without server-side deduplication. And if the writer gives up on a batch
/// at the shutdown deadline, the parts that landed stay stored although the writer counts the
/// whole batch as lost.
///
/// Drop counts are increments summed on read (a SummingMergeTree), so they may land on any shard:
/// they go to the first shard that takes them, and a shard outage does not hold them back.
pub struct ClickHouseSink {
    shards: Vec<Client>,
    /// The last batch that failed, and what of it is already stored.
    unfinished: Option<Unfinished>,
}

struct Unfinished {
    events: Vec<Event>,
    drops: Vec<DropCount>,
    /// Per shard: its part of the events is stored (or was empty).
    events_landed: Vec<bool>,
    drops_landed: bool,
}

impl ClickHouseSink {
    /// `shards` in the cluster's shard order (see the type's doc); at least one.
    pub fn new(shards: Vec<Client>) -> Result<Self, ClickHouseError> {
        if shards.is_empty() {
            return Err(ClickHouseError::NoShards);
        }
        Ok(ClickHouseSink {
            shards,
            unfinished: None,
        })
    }

    /// Tries every part still missing; returns the first error, with the progress recorded in
    /// `progress`.
    fn write_parts(
        &self,
        events: &[Event],
        drops: &[DropCount],
        progress: &mut Unfinished,
    ) -> Result<(), ClickHouseError> {
        let mut parts: Vec<Vec<EventRow>> = (0..self.shards.len()).map(|_| Vec::new()).collect();
        for event in events {
            let shard = shard_of(event.session_id, self.shards.len());
            // A retry leaves out the parts that landed; they are not even serialized again.
            if !progress.events_landed[shard] {
                parts[shard].push(EventRow::new(event));
            }
        }
        let mut first_error = None;
        for (shard, rows) in parts.iter().enumerate() {
            if progress.events_landed[shard] {
                continue;
            }
            match self.shards[shard].insert_json_rows(EVENTS_TABLE, &EVENT_COLUMNS, rows) {
                Ok(()) => progress.events_landed[shard] = true,
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if !progress.drops_landed {
            let rows: Vec<DropRow> = drops.iter().map(DropRow::new).collect();
            let mut last_error = None;
            for shard in &self.shards {
                match shard.insert_json_rows(DROPS_TABLE, &DROP_COLUMNS, &rows) {
                    Ok(()) => {
                        progress.drops_landed = true;
                        break;
                    }
                    Err(e) => last_error = Some(e),
                }
            }
            if let (false, Some(e)) = (progress.drops_landed, last_error) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

impl EventSink for ClickHouseSink {
    fn write_batch(&mut self, events: &[Event], drops: &[DropCount]) -> Result<(), StoreError> {
        let mut progress = match self.unfinished.take() {
            Some(u) if u.events == events && u.drops == drops => u,
            _ => Unfinished {
                events: Vec::new(),
                drops: Vec::new(),
                events_landed: vec![false; self.shards.len()],
                drops_landed: false,
            },
        };
        match self.write_parts(events, drops, &mut progress) {
            Ok(()) => Ok(()),
            Err(e) => {
                if progress.events.is_empty() && progress.drops.is_empty() {
                    // Copied only on a failure, which is rare: the common path copies nothing.
                    progress.events = events.to_vec();
                    progress.drops = drops.to_vec();
                }
                self.unfinished = Some(progress);
                Err(e.into())
            }
        }
    }

    /// Nothing to do: ClickHouse has stored a part on disk when it answers an insert, and it has
    /// no write-ahead log for us to fold into a main file.
    fn checkpoint(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    /// A shard that does not answer is restarting or unreachable for a while: the writer's
    /// queue holds what it cannot deliver, and hits are refused only once that is full.
    fn refuse_while_failing(&self) -> bool {
        false
    }
}

/// `session_id % shards`, the Distributed table's choice for key `session_id` and equal weights.
pub fn shard_of(session_id: u64, shards: usize) -> usize {
    (session_id % shards as u64) as usize
}

/// One event as a JSONEachRow object, field for field [`EVENT_COLUMNS`].
#[derive(Serialize)]
struct EventRow<'a> {
    site: &'a str,
    ts_us: u64,
    name: &'a str,
    hostname: &'a str,
    path: &'a str,
    visitor_id: u64,
    session_id: u64,
    /// 0 or 1: the column is UInt8, and 18.16's JSON reader wants a number.
    interactive: u8,
    referrer: &'a str,
    source: &'a str,
    utm_source: &'a str,
    utm_medium: &'a str,
    utm_campaign: &'a str,
    utm_content: &'a str,
    utm_term: &'a str,
    click_id: &'a str,
    country: &'a str,
    region: &'a str,
    city: &'a str,
    browser: &'a str,
    browser_version: &'a str,
    os: &'a str,
    os_version: &'a str,
    device: &'a str,
    /// The Nested column's two arrays, of equal length (the server checks).
    #[serde(rename = "props.key")]
    props_key: Vec<&'a str>,
    #[serde(rename = "props.value")]
    props_value: Vec<&'a str>,
    engaged_ms: Option<u32>,
    scroll_depth: Option<u8>,
}

impl<'a> EventRow<'a> {
    fn new(e: &'a Event) -> Self {
        EventRow {
            site: e.site.as_str(),
            // Events are received after 1970; a clock before it would be clamped, not wrapped.
            ts_us: u64::try_from(e.ts.timestamp_micros()).unwrap_or(0),
            name: &e.name,
            hostname: &e.hostname,
            path: &e.path,
            visitor_id: e.visitor_id,
            session_id: e.session_id,
            interactive: u8::from(e.interactive),
            referrer: &e.referrer,
            source: &e.source,
            utm_source: &e.utm.source,
            utm_medium: &e.utm.medium,
            utm_campaign: &e.utm.campaign,
            utm_content: &e.utm.content,
            utm_term: &e.utm.term,
            click_id: e.click_id,
            country: &e.location.country,
            region: &e.location.region,
            city: &e.location.city,
            browser: &e.client.browser,
            browser_version: &e.client.browser_version,
            os: &e.client.os,
            os_version: &e.client.os_version,
            device: e.client.device.as_str(),
            props_key: e.props.iter().map(|(k, _)| k.as_str()).collect(),
            props_value: e.props.iter().map(|(_, v)| v.as_str()).collect(),
            engaged_ms: e.engaged_ms,
            scroll_depth: e.scroll_depth,
        }
    }
}

impl<'a> EventRow<'a> {
    fn stored(e: &'a StoredEvent) -> Self {
        EventRow {
            site: &e.site,
            ts_us: e.ts_us,
            name: &e.name,
            hostname: &e.hostname,
            path: &e.path,
            visitor_id: e.visitor_id,
            session_id: e.session_id,
            interactive: u8::from(e.interactive),
            referrer: &e.referrer,
            source: &e.source,
            utm_source: &e.utm[0],
            utm_medium: &e.utm[1],
            utm_campaign: &e.utm[2],
            utm_content: &e.utm[3],
            utm_term: &e.utm[4],
            click_id: &e.click_id,
            country: &e.location[0],
            region: &e.location[1],
            city: &e.location[2],
            browser: &e.client[0],
            browser_version: &e.client[1],
            os: &e.client[2],
            os_version: &e.client[3],
            device: &e.client[4],
            props_key: e.props_key.iter().map(String::as_str).collect(),
            props_value: e.props_value.iter().map(String::as_str).collect(),
            engaged_ms: e.engaged_ms,
            scroll_depth: e.scroll_depth,
        }
    }
}

/// Inserts stored events (`footfall migrate`), each shard's part as one insert, split as the
/// sink splits (see [`ClickHouseSink`]). No retry: the migration stops at the first error.
pub(crate) fn insert_stored(
    shards: &[Client],
    events: &[StoredEvent],
) -> Result<(), ClickHouseError> {
    let mut parts: Vec<Vec<EventRow>> = (0..shards.len()).map(|_| Vec::new()).collect();
    for event in events {
        parts[shard_of(event.session_id, shards.len())].push(EventRow::stored(event));
    }
    for (shard, rows) in shards.iter().zip(&parts) {
        shard.insert_json_rows(EVENTS_TABLE, &EVENT_COLUMNS, rows)?;
    }
    Ok(())
}

/// Inserts drop counts (`footfall migrate`) into the first shard.
pub(crate) fn insert_drops(shards: &[Client], drops: &[DropCount]) -> Result<(), ClickHouseError> {
    let rows: Vec<DropRow> = drops.iter().map(DropRow::new).collect();
    let first = shards.first().ok_or(ClickHouseError::NoShards)?;
    first.insert_json_rows(DROPS_TABLE, &DROP_COLUMNS, &rows)
}

/// One drop count, field for field [`DROP_COLUMNS`].
#[derive(Serialize)]
struct DropRow<'a> {
    /// `YYYY-MM-DD`, which the Date column reads.
    day: String,
    site: &'a str,
    reason: &'static str,
    count: u64,
}

impl<'a> DropRow<'a> {
    fn new(d: &'a DropCount) -> Self {
        DropRow {
            day: d.day.format("%Y-%m-%d").to_string(),
            site: &d.site,
            reason: d.reason.as_str(),
            count: d.count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{self, SampleSpec};

    fn keys(value: serde_json::Value) -> Vec<String> {
        // serde_json keeps a struct's field order only with preserve_order; compare as sets
        // plus the count instead.
        let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    }

    #[test]
    fn rows_have_exactly_the_named_columns() {
        let events = sample::generate(&SampleSpec::small(1));
        let row = serde_json::to_value(EventRow::new(&events[0])).unwrap();
        let mut expected: Vec<String> = EVENT_COLUMNS.iter().map(|c| c.to_string()).collect();
        expected.sort();
        assert_eq!(keys(row), expected);

        let drop = DropCount {
            day: chrono::NaiveDate::from_ymd_opt(2026, 4, 1).unwrap(),
            site: "a.test".into(),
            reason: footfall_collector::DropReason::Bot,
            count: 3,
        };
        let row = serde_json::to_value(DropRow::new(&drop)).unwrap();
        assert_eq!(row["day"], "2026-04-01");
        let mut expected: Vec<String> = DROP_COLUMNS.iter().map(|c| c.to_string()).collect();
        expected.sort();
        assert_eq!(keys(row), expected);
    }

    #[test]
    fn props_become_two_arrays_of_equal_length() {
        let events = sample::generate(&SampleSpec::small(1));
        let event = events.iter().find(|e| !e.props.is_empty()).unwrap();
        let row = serde_json::to_value(EventRow::new(event)).unwrap();
        let keys = row["props.key"].as_array().unwrap();
        let values = row["props.value"].as_array().unwrap();
        assert_eq!(keys.len(), event.props.len());
        assert_eq!(values.len(), event.props.len());
        assert_eq!(keys[0], event.props[0].0.as_str());
    }

    #[test]
    fn shards_follow_the_session_id() {
        assert_eq!(shard_of(10, 2), 0);
        assert_eq!(shard_of(11, 2), 1);
        assert_eq!(shard_of(u64::MAX, 2), 1);
        assert_eq!(shard_of(u64::MAX, 1), 0);
        assert_eq!(shard_of(7, 3), 1);
    }
}
