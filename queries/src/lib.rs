//! # footfall-queries
//!
//! The time-series store: the schema and its migrations, the batched writer, and every read.
//! Only this crate speaks SQL. Values always reach DuckDB as bound parameters; SQL text is fixed
//! (in `migrations/` and `sql/`) or assembled from closed enums.
//!
//! ## Layout
//! - [`store`]: opening the DuckDB file (limits, no extension downloads), connections, health.
//! - [`migrate`]: numbered migrations from `migrations/`, applied at start.
//! - [`sink`]: [`EventSink`], the narrow interface a backend implements, and [`DuckDbSink`].
//! - [`clickhouse`]: the ClickHouse backend (issue 10): its one literal-escaping function, an
//!   HTTP client, its schema, and `ClickHouseSink`, which writes batches split by shard. Store-free
//!   apart from the sink.
//! - [`writer`]: [`Writer`], the bounded queue and the thread that enriches and appends.
//! - [`checkpointer`]: [`Checkpointer`], the thread that checkpoints so the writer never waits.
//! - [`sites`]: the `sites` table.
//! - [`drops`]: the `dropped_events` table.
//! - [`keys`]: the `api_keys` table (hashes of Stats API keys).
//! - [`owners`]: the `owners` and `owner_sessions` tables (dashboard logins).
//! - [`goals`]: the `goals` table (conversions added from the command line).
//! - [`shares`]: the `shared_links` table (read-only links to one site's dashboard).
//! - [`counters`]: public hit counts per page and day, in memory, advanced by the writer.
//! - [`stats`]: aggregate queries (metrics by dimensions, filters, periods).
//! - `sample` (feature `test-support`): realistic sample traffic for tests and benches.
//! - `random_filters` (feature `test-support`): random Stats API queries for drill 9.
//!
//! ## Features
//! - `store` (default): DuckDB, and every module above that reads or writes it. Without it, what
//!   is left is [`stats`]' Stats API parser and planner and its SQL builder, which run nothing,
//!   and [`clickhouse`] without its sink: what the fuzz targets in `fuzz/` build, without
//!   DuckDB's C++ build.

#[cfg(feature = "store")]
pub mod checkpointer;
pub mod clickhouse;
#[cfg(feature = "store")]
pub mod counters;
#[cfg(feature = "store")]
pub mod drops;
#[cfg(feature = "store")]
pub mod error;
#[cfg(feature = "store")]
mod event_batch;
#[cfg(feature = "store")]
pub mod goals;
#[cfg(feature = "store")]
pub mod keys;
#[cfg(feature = "store")]
pub mod migrate;
#[cfg(feature = "store")]
pub mod owners;
#[cfg(any(test, feature = "test-support"))]
pub mod random_filters;
#[cfg(all(feature = "store", any(test, feature = "test-support")))]
pub mod sample;
#[cfg(feature = "store")]
pub mod shares;
#[cfg(feature = "store")]
pub mod sink;
#[cfg(feature = "store")]
pub mod sites;
pub mod stats;
#[cfg(feature = "store")]
pub mod store;
#[cfg(feature = "store")]
pub mod writer;

#[cfg(feature = "store")]
pub use checkpointer::Checkpointer;
/// The store's connection type, for callers that run store work on their own threads.
#[cfg(feature = "store")]
pub use duckdb::Connection;
#[cfg(feature = "store")]
pub use error::StoreError;
#[cfg(feature = "store")]
pub use sink::{DuckDbSink, EventSink};
#[cfg(feature = "store")]
pub use store::{Store, StoreOptions};
#[cfg(feature = "store")]
pub use writer::{
    CommitObserver, EnqueueError, Writer, WriterReport, WriterSettings, WriterStatus,
};
