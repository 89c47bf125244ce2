//! Numbered schema migrations, applied at start, each in its own transaction and recorded in
//! `schema_migrations`. Migrations are append-only: a released one is never edited.

use duckdb::Connection;

use crate::error::StoreError;

struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "events",
        sql: include_str!("../migrations/0001_events.sql"),
    },
    Migration {
        version: 2,
        name: "sites",
        sql: include_str!("../migrations/0002_sites.sql"),
    },
    Migration {
        version: 3,
        name: "dropped_events",
        sql: include_str!("../migrations/0003_dropped_events.sql"),
    },
    Migration {
        version: 4,
        name: "api_keys",
        sql: include_str!("../migrations/0004_api_keys.sql"),
    },
    Migration {
        version: 5,
        name: "rollups",
        sql: include_str!("../migrations/0005_rollups.sql"),
    },
    Migration {
        version: 6,
        name: "goals",
        sql: include_str!("../migrations/0006_goals.sql"),
    },
    Migration {
        version: 7,
        name: "public_counters",
        sql: include_str!("../migrations/0007_public_counters.sql"),
    },
    Migration {
        version: 8,
        name: "owners",
        sql: include_str!("../migrations/0008_owners.sql"),
    },
    Migration {
        version: 9,
        name: "site_rules_and_shares",
        sql: include_str!("../migrations/0009_site_rules_and_shares.sql"),
    },
];

/// The schema version this build writes.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Brings the schema up to date; returns the versions it applied.
pub fn migrate(conn: &Connection) -> Result<Vec<i64>, StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    BIGINT PRIMARY KEY,
             name       VARCHAR NOT NULL,
             applied_at TIMESTAMP NOT NULL DEFAULT (now()::TIMESTAMP)
         )",
    )?;
    let current: i64 = conn.query_row(
        "SELECT coalesce(max(version), 0) FROM schema_migrations",
        [],
        |row| row.get(0),
    )?;
    if current > latest_version() {
        return Err(StoreError::SchemaTooNew {
            found: current,
            known: latest_version(),
        });
    }
    let mut applied = Vec::new();
    for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
        apply(conn, migration).map_err(|source| StoreError::Migration {
            version: migration.version,
            name: migration.name,
            source,
        })?;
        applied.push(migration.version);
    }
    Ok(applied)
}

fn apply(conn: &Connection, migration: &Migration) -> duckdb::Result<()> {
    conn.execute_batch("BEGIN TRANSACTION")?;
    let result = conn.execute_batch(migration.sql).and_then(|()| {
        conn.execute(
            "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
            duckdb::params![migration.version, migration.name],
        )
        .map(drop)
    });
    match result {
        Ok(()) => conn.execute_batch("COMMIT"),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_once_and_records_versions() {
        let conn = Connection::open_in_memory().unwrap();
        assert_eq!(
            migrate(&conn).unwrap(),
            (1..=latest_version()).collect::<Vec<_>>()
        );
        assert!(
            migrate(&conn).unwrap().is_empty(),
            "a second start applies nothing"
        );
        let recorded: i64 = conn
            .query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(recorded, latest_version());
    }

    #[test]
    fn refuses_a_newer_schema() {
        let conn = Connection::open_in_memory().unwrap();
        migrate(&conn).unwrap();
        conn.execute(
            "INSERT INTO schema_migrations (version, name) VALUES (999, 'future')",
            [],
        )
        .unwrap();
        assert!(matches!(
            migrate(&conn),
            Err(StoreError::SchemaTooNew { found: 999, .. })
        ));
    }
}
