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

pub mod checkpointer;
pub mod counters;
pub mod drops;
pub mod error;
mod event_batch;
pub mod goals;
pub mod keys;
pub mod migrate;
pub mod owners;
#[cfg(any(test, feature = "test-support"))]
pub mod random_filters;
#[cfg(any(test, feature = "test-support"))]
pub mod sample;
pub mod shares;
pub mod sink;
pub mod sites;
pub mod stats;
pub mod store;
pub mod writer;

pub use checkpointer::Checkpointer;
/// The store's connection type, for callers that run store work on their own threads.
pub use duckdb::Connection;
pub use error::StoreError;
pub use sink::{DuckDbSink, EventSink};
pub use store::{Store, StoreOptions};
pub use writer::{
    CommitObserver, EnqueueError, Writer, WriterReport, WriterSettings, WriterStatus,
};
