//! The `shared_links` table: secret links that show one site's dashboard read-only. The store
//! holds the token's hash and the optional password's argon2id hash; making and checking them
//! is the server's job.

use chrono::NaiveDateTime;
use duckdb::{params, Connection, OptionalExt};

use crate::error::StoreError;

/// A shared link as the owner sees it in their settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedLink {
    pub id: String,
    pub site: String,
    pub label: String,
    pub has_password: bool,
    pub created_at: NaiveDateTime,
    pub revoked: bool,
}

/// A live link found by its token: what a visitor of it may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenLink {
    pub id: String,
    pub site: String,
    pub label: String,
    pub password_hash: Option<String>,
}

pub fn add(
    conn: &Connection,
    id: &str,
    token_hash: &str,
    site: &str,
    label: &str,
    password_hash: Option<&str>,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO shared_links (id, token_hash, site, label, password_hash) \
         VALUES (?, ?, ?, ?, ?)",
        params![id, token_hash, site, label, password_hash],
    )?;
    Ok(())
}

/// A site's links, newest first, revoked ones included.
pub fn list(conn: &Connection, site: &str) -> Result<Vec<SharedLink>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, site, label, password_hash IS NOT NULL, created_at, revoked_at IS NOT NULL \
         FROM shared_links WHERE site = ? ORDER BY created_at DESC, id",
    )?;
    let rows = stmt.query_map(params![site], |r| {
        Ok(SharedLink {
            id: r.get(0)?,
            site: r.get(1)?,
            label: r.get(2)?,
            has_password: r.get(3)?,
            created_at: r.get(4)?,
            revoked: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Revokes a link of `site`; `false` when it has no such live link.
pub fn revoke(conn: &Connection, site: &str, id: &str) -> Result<bool, StoreError> {
    let updated = conn.execute(
        "UPDATE shared_links SET revoked_at = now()::TIMESTAMP \
         WHERE id = ? AND site = ? AND revoked_at IS NULL",
        params![id, site],
    )?;
    Ok(updated == 1)
}

/// The live link whose token hashes to `token_hash`.
pub fn open(conn: &Connection, token_hash: &str) -> Result<Option<OpenLink>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT id, site, label, password_hash FROM shared_links \
             WHERE token_hash = ? AND revoked_at IS NULL",
            params![token_hash],
            |r| {
                Ok(OpenLink {
                    id: r.get(0)?,
                    site: r.get(1)?,
                    label: r.get(2)?,
                    password_hash: r.get(3)?,
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
    fn a_revoked_link_opens_nothing() {
        let store = Store::open_in_memory(&StoreOptions::default()).unwrap();
        let conn = store.connection().unwrap();
        add(&conn, "a1", "hash-a", "example.com", "Team", None).unwrap();
        add(
            &conn,
            "b2",
            "hash-b",
            "example.com",
            "Public",
            Some("$argon2id$x"),
        )
        .unwrap();
        let link = open(&conn, "hash-b").unwrap().unwrap();
        assert_eq!(link.site, "example.com");
        assert_eq!(link.password_hash.as_deref(), Some("$argon2id$x"));
        assert!(
            !revoke(&conn, "other.org", "a1").unwrap(),
            "another site's link"
        );
        assert!(revoke(&conn, "example.com", "a1").unwrap());
        assert!(
            !revoke(&conn, "example.com", "a1").unwrap(),
            "already revoked"
        );
        assert_eq!(open(&conn, "hash-a").unwrap(), None);
        let listed = list(&conn, "example.com").unwrap();
        assert_eq!(listed.len(), 2);
        assert!(listed.iter().any(|l| l.id == "a1" && l.revoked));
        assert!(listed
            .iter()
            .any(|l| l.id == "b2" && l.has_password && !l.revoked));
    }
}
