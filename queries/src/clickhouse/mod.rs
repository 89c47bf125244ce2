//! The ClickHouse backend (issue 10), for deployments that outgrow one DuckDB file: the write
//! path and the Stats API's reads. See docs/clickhouse.md for what ClickHouse 18.16 does and why
//! the schema is as it is.
//!
//! Nothing here links DuckDB. Only [`sink`], [`reader`] and [`migrate`] need the `store` feature, because the
//! [`EventSink`](crate::EventSink) trait, the query runner and their error type live with the
//! DuckDB store.
//!
//! - [`literal`]: the one function that writes a value into ClickHouse SQL.
//! - [`client`]: a blocking HTTP client for one server.
//! - [`schema`]: `queries/clickhouse/*.sql`, applied to every server.
//! - [`sink`]: [`ClickHouseSink`](sink::ClickHouseSink), the writer's batches split by shard.
//! - [`purge`]: deleting a site's events on every shard, and counting each site's.
//! - [`migrate`]: `footfall migrate --from duckdb --to clickhouse`, with its check.
//! - [`reader`]: [`ClickHouseReader`](reader::ClickHouseReader), the Stats API's counts from
//!   the statements `stats::sql` writes in ClickHouse's dialect.

pub mod client;
pub mod literal;
#[cfg(feature = "store")]
pub mod migrate;
pub mod purge;
#[cfg(feature = "store")]
pub mod reader;
pub mod schema;
#[cfg(feature = "store")]
pub mod sink;

pub use client::{ClickHouseConfig, ClickHouseError, Client};
#[cfg(feature = "store")]
pub use reader::ClickHouseReader;
#[cfg(feature = "store")]
pub use sink::ClickHouseSink;
