//! Where the writer puts batches. One trait, so a second backend (ClickHouse is planned) slots in
//! beside DuckDB without the writer changing.

use duckdb::Connection;
use footfall_collector::{DropCount, Event};

use crate::drops;
use crate::error::StoreError;
use crate::event_batch;

/// A place batches of events go. `write_batch` is all or nothing: after an error, none of the
/// batch is stored and the writer may retry it whole.
pub trait EventSink: Send + 'static {
    fn write_batch(&mut self, events: &[Event], drops: &[DropCount]) -> Result<(), StoreError>;
    /// Makes everything written durable in the main file (called at shutdown).
    fn checkpoint(&mut self) -> Result<(), StoreError>;
    /// Whether new hits are refused while writes fail. Yes for a local file: its failures (a
    /// full disk) last until someone acts, and a queue that may never reach the store must not
    /// acknowledge more. A remote store's failures are outages that pass (a shard restarting),
    /// so it says no: the queue absorbs them and hits are refused only once it is full.
    fn refuse_while_failing(&self) -> bool {
        true
    }
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
            let batch = event_batch::record_batch(events)?;
            let mut appender = self.conn.appender("events")?;
            appender.append_record_batch(batch)?;
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
