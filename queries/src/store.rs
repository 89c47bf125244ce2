//! The DuckDB database: opening it safely, migrating it, and handing out connections.

use std::path::{Path, PathBuf};

use duckdb::{Config, Connection};
use parking_lot::Mutex;

use crate::error::StoreError;
use crate::migrate;

/// Limits for DuckDB itself. Set explicitly: DuckDB's defaults take 80 % of RAM and every core,
/// which is wrong for an analytics sidecar on a small VPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// DuckDB's `memory_limit`, e.g. `"128MB"`.
    pub memory_limit: String,
    pub threads: u32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            memory_limit: "128MB".into(),
            threads: 2,
        }
    }
}

/// An open, migrated store. Cheap to share behind an `Arc`; every user takes its own connection
/// (DuckDB connections are not `Sync`), all on the one database instance this process holds.
pub struct Store {
    root: Mutex<Connection>,
    path: Option<PathBuf>,
}

impl Store {
    /// Opens (creating if needed) the database file and applies migrations. A file held by
    /// another process is reported as [`StoreError::Locked`].
    pub fn open(path: &Path, options: &StoreOptions) -> Result<Store, StoreError> {
        let conn = Connection::open_with_flags(path, config(options)?).map_err(|source| {
            if source.to_string().contains("Could not set lock") {
                StoreError::Locked {
                    path: path.to_owned(),
                }
            } else {
                StoreError::Open {
                    path: path.to_owned(),
                    source,
                }
            }
        })?;
        Self::init(conn, Some(path.to_owned()))
    }

    /// A throwaway store, for tests and benchmarks.
    pub fn open_in_memory(options: &StoreOptions) -> Result<Store, StoreError> {
        let conn = Connection::open_in_memory_with_flags(config(options)?)?;
        Self::init(conn, None)
    }

    fn init(conn: Connection, path: Option<PathBuf>) -> Result<Store, StoreError> {
        migrate::migrate(&conn)?;
        Ok(Store {
            root: Mutex::new(conn),
            path,
        })
    }

    /// The database file, if on disk.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// A new connection to the same database, for one thread's use.
    pub fn connection(&self) -> Result<Connection, StoreError> {
        Ok(self.root.lock().try_clone()?)
    }

    /// Runs a real query against the store: the health check.
    pub fn check(&self) -> Result<(), StoreError> {
        let conn = self.connection()?;
        conn.query_row("SELECT count(*) FROM schema_migrations", [], |row| {
            row.get::<_, i64>(0)
        })?;
        Ok(())
    }

    /// Freezes DuckDB's settings for the rest of the process: no statement can then turn file
    /// access, extensions or limits back on (`SET lock_configuration` cannot be undone). The
    /// server calls it once its own settings are made (the checkpointer sets one).
    pub fn lock_configuration(&self) -> Result<(), StoreError> {
        self.root
            .lock()
            .execute_batch("SET lock_configuration = true")?;
        Ok(())
    }

    /// Moves the write-ahead log into the database file, so the next start opens fast.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        self.connection()?.execute_batch("CHECKPOINT")?;
        Ok(())
    }

    /// The memory DuckDB accounts for, by what holds it (`duckdb_memory()`: the buffer pool's
    /// cached blocks, what queries and appends have allocated, temporary storage), in bytes,
    /// largest first. The server logs it beside the process's other memory
    /// (`footfall::memory` at debug level), so growth can be told apart from the rest.
    pub fn memory_by_tag(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let conn = self.connection()?;
        let mut statement = conn.prepare(
            "SELECT tag, memory_usage_bytes::UBIGINT FROM duckdb_memory() \
             WHERE memory_usage_bytes > 0 ORDER BY memory_usage_bytes DESC",
        )?;
        let rows = statement
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Total rows in `events` (tests, the CLI, and the shutdown log line).
    pub fn event_count(&self) -> Result<u64, StoreError> {
        Ok(self
            .connection()?
            .query_row("SELECT count(*)::UBIGINT FROM events", [], |r| r.get(0))?)
    }
}

/// Footfall never runs SQL from outside, and must never fetch code at run time: DuckDB's
/// extension auto-install and auto-load are switched off, and so is access to other files.
fn config(options: &StoreOptions) -> Result<Config, StoreError> {
    let setting = |e: duckdb::Error| StoreError::Setting(e.to_string());
    if options.threads == 0 {
        return Err(StoreError::Setting("threads must be at least 1".into()));
    }
    Config::default()
        .max_memory(&options.memory_limit)
        .and_then(|c| c.threads(i64::from(options.threads)))
        .and_then(|c| c.enable_autoload_extension(false))
        .and_then(|c| c.with("autoinstall_known_extensions", "false"))
        .and_then(|c| c.enable_external_access(false))
        .map_err(setting)
}
