use std::path::PathBuf;

/// What can go wrong with the store. Callers branch on `Locked` (another process has the file)
/// and treat the rest as failures to report.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database {path} is in use by another process (is footfall already running?)")]
    Locked { path: PathBuf },
    #[error("cannot open the database {path}: {source}")]
    Open {
        path: PathBuf,
        source: duckdb::Error,
    },
    #[error("the database was written by a newer footfall (schema version {found}; this build knows up to {known})")]
    SchemaTooNew { found: i64, known: i64 },
    #[error("migration {version} ({name}) failed: {source}")]
    Migration {
        version: i64,
        name: &'static str,
        source: duckdb::Error,
    },
    #[error("invalid store setting: {0}")]
    Setting(String),
    #[error(transparent)]
    Db(#[from] duckdb::Error),
    /// Events could not be laid out as the appender's columns (a bug, not bad input: every
    /// event fits the table).
    #[error("cannot lay out a batch of events as columns: {0}")]
    Columns(#[from] duckdb::arrow::error::ArrowError),
    /// The ClickHouse backend could not write (a shard down, or a statement refused).
    #[error(transparent)]
    ClickHouse(#[from] crate::clickhouse::ClickHouseError),
}
