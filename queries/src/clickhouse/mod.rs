//! The ClickHouse backend (issue 10), for deployments that outgrow one DuckDB file: so far the
//! write path. See docs/clickhouse.md for what ClickHouse 18.16 does and why the schema is as
//! it is.
//!
//! Nothing here links DuckDB. Only [`sink`] needs the `store` feature, because the
//! [`EventSink`](crate::EventSink) trait and its error type live with the DuckDB store.
//!
//! - [`literal`]: the one function that writes a value into ClickHouse SQL.
//! - [`client`]: a blocking HTTP client for one server.
//! - [`schema`]: `queries/clickhouse/*.sql`, applied to every server.
//! - [`sink`]: [`ClickHouseSink`](sink::ClickHouseSink), the writer's batches split by shard.

pub mod client;
pub mod literal;
pub mod schema;
#[cfg(feature = "store")]
pub mod sink;

pub use client::{ClickHouseConfig, ClickHouseError, Client};
#[cfg(feature = "store")]
pub use sink::ClickHouseSink;
