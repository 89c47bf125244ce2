//! Where the writer puts batches. One trait, so a second backend (ClickHouse is planned) slots in
//! beside DuckDB without the writer changing.

use duckdb::types::{OrderedMap, TimeUnit, Value};
use duckdb::{Connection, ToSql};
use footfall_collector::{DropCount, Event};

use crate::drops;
use crate::error::StoreError;

/// A place batches of events go. `write_batch` is all or nothing: after an error, none of the
/// batch is stored and the writer may retry it whole.
pub trait EventSink: Send + 'static {
    fn write_batch(&mut self, events: &[Event], drops: &[DropCount]) -> Result<(), StoreError>;
    /// Makes everything written durable in the main file (called at shutdown).
    fn checkpoint(&mut self) -> Result<(), StoreError>;
}

/// Appends to DuckDB with its `Appender`, one transaction per batch.
pub struct DuckDbSink {
    conn: Connection,
}

impl DuckDbSink {
    pub fn new(conn: Connection) -> Self {
        DuckDbSink { conn }
    }

    fn append(&self, events: &[Event], drop_counts: &[DropCount]) -> Result<(), StoreError> {
        if !events.is_empty() {
            let mut appender = self.conn.appender("events")?;
            for event in events {
                append_event(&mut appender, event)?;
            }
            appender.flush()?;
        }
        drops::add(&self.conn, drop_counts)
    }
}

impl EventSink for DuckDbSink {
    fn write_batch(
        &mut self,
        events: &[Event],
        drop_counts: &[DropCount],
    ) -> Result<(), StoreError> {
        self.conn.execute_batch("BEGIN TRANSACTION")?;
        match self.append(events, drop_counts) {
            Ok(()) => Ok(self.conn.execute_batch("COMMIT")?),
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    fn checkpoint(&mut self) -> Result<(), StoreError> {
        Ok(self.conn.execute_batch("CHECKPOINT")?)
    }
}

/// One row, in the column order of `migrations/0001_events.sql`.
fn append_event(appender: &mut duckdb::Appender<'_>, e: &Event) -> Result<(), StoreError> {
    let ts = Value::Timestamp(TimeUnit::Microsecond, e.ts.timestamp_micros());
    let props = Value::Map(OrderedMap::from(
        e.props
            .iter()
            .map(|(k, v)| (Value::Text(k.clone()), Value::Text(v.clone())))
            .collect::<Vec<_>>(),
    ));
    let c = &e.client;
    let row: [&dyn ToSql; 27] = [
        &e.site.as_str(),
        &ts,
        &e.name,
        &e.hostname,
        &e.path,
        &e.visitor_id,
        &e.session_id,
        &e.interactive,
        &e.referrer,
        &e.source,
        &e.utm.source,
        &e.utm.medium,
        &e.utm.campaign,
        &e.utm.content,
        &e.utm.term,
        &e.click_id,
        &e.location.country,
        &e.location.region,
        &e.location.city,
        &c.browser,
        &c.browser_version,
        &c.os,
        &c.os_version,
        &c.device.as_str(),
        &props,
        &e.engaged_ms,
        &e.scroll_depth,
    ];
    appender.append_row(row)?;
    Ok(())
}
