//! Aggregate queries over the events: the model of a query (metrics, dimensions, filters, a
//! period in the site's time zone), the SQL that answers it, and the arithmetic that turns counts
//! into metrics.
//!
//! ## Layout
//! - [`model`]: the closed sets a query is made of, and [`Query`].
//! - [`goal`]: a site's goals (pages and events that count as conversions).
//! - [`country`]: country names, for `visit:country_name`.
//! - [`period`]: date ranges in the site's time zone.
//! - [`sql`]: the one module that assembles stats SQL.
//! - `bind` (feature `store`): the one place its values become DuckDB values.
//! - [`rollup`]: daily rollups, what they can answer, and the thread that keeps them.
//! - [`figures`]: a group's counts, the metrics worked out of them, the order of rows, time
//!   labels; no store needed.
//! - [`run`] (feature `store`): running a query (from rollups and events), and the store's other
//!   Stats API reads.
//! - [`api`]: Plausible's Stats API v2 request and answer shapes.

pub mod api;
#[cfg(feature = "store")]
mod bind;
pub mod country;
pub mod figures;
pub mod goal;
pub mod model;
pub mod period;
#[cfg(feature = "store")]
pub mod rollup;
#[cfg(feature = "store")]
pub mod run;
pub mod sql;

pub use figures::{MetricValue, QueryResult, ResultRow};
pub use goal::Goal;
pub use model::{
    Dimension, EventField, Filter, Metric, Operator, Period, Query, TimeBucket, VisitField,
};
#[cfg(feature = "store")]
pub use run::run;

#[cfg(feature = "store")]
use crate::error::StoreError;

/// Why a query was not answered. `Invalid` is the asker's mistake (a 400, with a message that
/// names what and why); the rest are the store's.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("{0}")]
    Invalid(String),
    #[cfg(feature = "store")]
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[cfg(feature = "store")]
impl From<duckdb::Error> for QueryError {
    fn from(error: duckdb::Error) -> Self {
        QueryError::Store(StoreError::Db(error))
    }
}
