//! A batch of events as Arrow columns in the order of the `events` table
//! (`migrations/0001_events.sql`), for DuckDB's appender to take a column at a time.
//!
//! Why not the row appender: it binds 27 values per row through the C API and builds a DuckDB
//! `MAP` value for the props of every row (a logical type made and destroyed each time), which
//! made appending the writer's largest cost per event. Columns are handed over as data chunks of
//! 2,048 rows instead.

use std::sync::Arc;

use duckdb::arrow::array::{
    ArrayRef, BooleanBuilder, MapBuilder, StringBuilder, TimestampMicrosecondBuilder,
    UInt32Builder, UInt64Builder, UInt8Builder,
};
use duckdb::arrow::error::ArrowError;
use duckdb::arrow::record_batch::RecordBatch;
use footfall_collector::Event;

/// The events as one record batch, one column per column of the table, in its order.
pub fn record_batch(events: &[Event]) -> Result<RecordBatch, ArrowError> {
    let text = |value: fn(&Event) -> &str| -> ArrayRef {
        let bytes = events.iter().map(|e| value(e).len()).sum();
        let mut column = StringBuilder::with_capacity(events.len(), bytes);
        for event in events {
            column.append_value(value(event));
        }
        Arc::new(column.finish())
    };
    let id = |value: fn(&Event) -> u64| -> ArrayRef {
        let mut column = UInt64Builder::with_capacity(events.len());
        column.extend(events.iter().map(|e| Some(value(e))));
        Arc::new(column.finish())
    };

    let mut ts = TimestampMicrosecondBuilder::with_capacity(events.len());
    let mut interactive = BooleanBuilder::with_capacity(events.len());
    let mut engaged_ms = UInt32Builder::with_capacity(events.len());
    let mut scroll_depth = UInt8Builder::with_capacity(events.len());
    let mut props = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
    for event in events {
        ts.append_value(event.ts.timestamp_micros());
        interactive.append_value(event.interactive);
        engaged_ms.append_option(event.engaged_ms);
        scroll_depth.append_option(event.scroll_depth);
        for (key, value) in &event.props {
            props.keys().append_value(key);
            props.values().append_value(value);
        }
        props.append(true)?;
    }

    RecordBatch::try_from_iter([
        ("site", text(|e| e.site.as_str())),
        ("ts", Arc::new(ts.finish()) as ArrayRef),
        ("name", text(|e| &e.name)),
        ("hostname", text(|e| &e.hostname)),
        ("path", text(|e| &e.path)),
        ("visitor_id", id(|e| e.visitor_id)),
        ("session_id", id(|e| e.session_id)),
        ("interactive", Arc::new(interactive.finish())),
        ("referrer", text(|e| &e.referrer)),
        ("source", text(|e| &e.source)),
        ("utm_source", text(|e| &e.utm.source)),
        ("utm_medium", text(|e| &e.utm.medium)),
        ("utm_campaign", text(|e| &e.utm.campaign)),
        ("utm_content", text(|e| &e.utm.content)),
        ("utm_term", text(|e| &e.utm.term)),
        ("click_id", text(|e| e.click_id)),
        ("country", text(|e| &e.location.country)),
        ("region", text(|e| &e.location.region)),
        ("city", text(|e| &e.location.city)),
        ("browser", text(|e| &e.client.browser)),
        ("browser_version", text(|e| &e.client.browser_version)),
        ("os", text(|e| &e.client.os)),
        ("os_version", text(|e| &e.client.os_version)),
        ("device", text(|e| e.client.device.as_str())),
        ("props", Arc::new(props.finish())),
        ("engaged_ms", Arc::new(engaged_ms.finish())),
        ("scroll_depth", Arc::new(scroll_depth.finish())),
    ])
}
