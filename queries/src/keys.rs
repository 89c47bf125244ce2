//! The `api_keys` table: who may read which sites' stats. Keys are made and hashed by the
//! server; this module only stores and finds hashes.

use chrono::NaiveDateTime;
use duckdb::{params, Connection, OptionalExt};

use crate::error::StoreError;

/// A key as stored: never the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub id: String,
    pub sites: Vec<String>,
    pub created_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
}

fn split(sites: &str) -> Vec<String> {
    sites
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

pub fn add(
    conn: &Connection,
    id: &str,
    key_hash: &str,
    sites: &[String],
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO api_keys (id, key_hash, sites) VALUES (?, ?, ?)",
        params![id, key_hash, sites.join(",")],
    )?;
    Ok(())
}

pub fn list(conn: &Connection) -> Result<Vec<StoredKey>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, sites, created_at, revoked_at FROM api_keys ORDER BY created_at, id",
    )?;
    let rows = stmt.query_map([], |row| {
        Ok(StoredKey {
            id: row.get(0)?,
            sites: split(&row.get::<_, String>(1)?),
            created_at: row.get(2)?,
            revoked_at: row.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Revokes a key; `false` when there is no such key or it was revoked already.
pub fn revoke(conn: &Connection, id: &str) -> Result<bool, StoreError> {
    let changed = conn.execute(
        "UPDATE api_keys SET revoked_at = now()::TIMESTAMP WHERE id = ? AND revoked_at IS NULL",
        params![id],
    )?;
    Ok(changed == 1)
}

/// The key with this hash, if it exists and is not revoked.
pub fn find(conn: &Connection, key_hash: &str) -> Result<Option<StoredKey>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT id, sites, created_at, revoked_at FROM api_keys \
             WHERE key_hash = ? AND revoked_at IS NULL",
            params![key_hash],
            |row| {
                Ok(StoredKey {
                    id: row.get(0)?,
                    sites: split(&row.get::<_, String>(1)?),
                    created_at: row.get(2)?,
                    revoked_at: row.get(3)?,
                })
            },
        )
        .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Store, StoreOptions};

    #[test]
    fn keys_are_found_by_hash_until_revoked() {
        let store = Store::open_in_memory(&StoreOptions::default()).unwrap();
        let conn = store.connection().unwrap();
        add(&conn, "k1", "hash-1", &["a.com".into(), "b.com".into()]).unwrap();
        let found = find(&conn, "hash-1").unwrap().unwrap();
        assert_eq!((found.id.as_str(), found.sites.len()), ("k1", 2));
        assert_eq!(find(&conn, "hash-2").unwrap(), None);
        assert!(
            add(&conn, "k2", "hash-1", &["a.com".into()]).is_err(),
            "hashes are unique"
        );
        assert!(revoke(&conn, "k1").unwrap());
        assert!(!revoke(&conn, "k1").unwrap(), "once");
        assert_eq!(find(&conn, "hash-1").unwrap(), None);
        assert!(list(&conn).unwrap()[0].revoked_at.is_some());
    }
}
