//! The `owners` and `owner_sessions` tables: who may open the dashboard, and who is logged in.
//! Only hashes are stored (argon2id for passwords, blake3 for session tokens); making and
//! checking them is the server's job.

use chrono::{DateTime, Utc};
use duckdb::{params, Connection, OptionalExt};

use crate::error::StoreError;

/// Adds an owner; `false` when the name is taken (nothing changes then).
pub fn add(conn: &Connection, name: &str, password_hash: &str) -> Result<bool, StoreError> {
    let inserted = conn.execute(
        "INSERT INTO owners (name, password_hash) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
        params![name, password_hash],
    )?;
    Ok(inserted == 1)
}

/// Adds the first owner, only while there is none (one statement, so two setups at once cannot
/// both succeed); `false` when an owner exists already.
pub fn add_first(conn: &Connection, name: &str, password_hash: &str) -> Result<bool, StoreError> {
    let inserted = conn.execute(
        "INSERT INTO owners (name, password_hash) SELECT ?, ? \
         WHERE NOT EXISTS (SELECT 1 FROM owners)",
        params![name, password_hash],
    )?;
    Ok(inserted == 1)
}

/// Replaces an owner's password and ends their sessions; `false` when there is no such owner.
pub fn set_password(
    conn: &Connection,
    name: &str,
    password_hash: &str,
) -> Result<bool, StoreError> {
    let updated = conn.execute(
        "UPDATE owners SET password_hash = ? WHERE name = ?",
        params![password_hash, name],
    )?;
    conn.execute("DELETE FROM owner_sessions WHERE owner = ?", params![name])?;
    Ok(updated == 1)
}

/// Removes an owner and their sessions; `false` when there was none.
pub fn remove(conn: &Connection, name: &str) -> Result<bool, StoreError> {
    conn.execute("DELETE FROM owner_sessions WHERE owner = ?", params![name])?;
    Ok(conn.execute("DELETE FROM owners WHERE name = ?", params![name])? == 1)
}

/// An owner's password hash.
pub fn password_hash(conn: &Connection, name: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT password_hash FROM owners WHERE name = ?",
            params![name],
            |r| r.get(0),
        )
        .optional()?)
}

/// The owners' names, in order.
pub fn list(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare("SELECT name FROM owners ORDER BY name")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Starts a session for an owner until `expires`.
pub fn start_session(
    conn: &Connection,
    token_hash: &str,
    owner: &str,
    now: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> Result<(), StoreError> {
    // Expired sessions go on the way, so the table holds only live ones.
    conn.execute(
        "DELETE FROM owner_sessions WHERE expires_at <= ?",
        params![now.naive_utc()],
    )?;
    conn.execute(
        "INSERT INTO owner_sessions (token_hash, owner, created_at, expires_at) VALUES (?, ?, ?, ?)",
        params![token_hash, owner, now.naive_utc(), expires.naive_utc()],
    )?;
    Ok(())
}

/// The owner a session belongs to, while it has not expired and the owner still exists.
pub fn session_owner(
    conn: &Connection,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT s.owner FROM owner_sessions s JOIN owners o ON o.name = s.owner \
             WHERE s.token_hash = ? AND s.expires_at > ?",
            params![token_hash, now.naive_utc()],
            |r| r.get(0),
        )
        .optional()?)
}

/// Ends a session (logout). Expired sessions are deleted on the way.
pub fn end_session(
    conn: &Connection,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    conn.execute(
        "DELETE FROM owner_sessions WHERE token_hash = ? OR expires_at <= ?",
        params![token_hash, now.naive_utc()],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Store, StoreOptions};
    use chrono::{Duration, TimeZone};

    #[test]
    fn sessions_end_at_logout_expiry_password_change_and_removal() {
        let store = Store::open_in_memory(&StoreOptions::default()).unwrap();
        let conn = store.connection().unwrap();
        let now = Utc.with_ymd_and_hms(2026, 5, 1, 9, 0, 0).unwrap();
        let later = now + Duration::days(30);
        assert!(add(&conn, "ann", "hash1").unwrap());
        assert!(!add(&conn, "ann", "other").unwrap(), "names are unique");
        assert!(
            !add_first(&conn, "bob", "hash").unwrap(),
            "only while nobody owns it"
        );
        assert_eq!(
            password_hash(&conn, "ann").unwrap().as_deref(),
            Some("hash1")
        );
        assert_eq!(list(&conn).unwrap(), ["ann"]);

        start_session(&conn, "t1", "ann", now, later).unwrap();
        start_session(&conn, "t2", "ann", now, now + Duration::hours(1)).unwrap();
        assert_eq!(
            session_owner(&conn, "t1", now).unwrap().as_deref(),
            Some("ann")
        );
        assert_eq!(
            session_owner(&conn, "t2", now + Duration::hours(2)).unwrap(),
            None
        );
        end_session(&conn, "t1", now).unwrap();
        assert_eq!(session_owner(&conn, "t1", now).unwrap(), None);

        start_session(&conn, "t3", "ann", now, later).unwrap();
        assert!(set_password(&conn, "ann", "hash2").unwrap());
        assert_eq!(
            session_owner(&conn, "t3", now).unwrap(),
            None,
            "a new password ends sessions"
        );
        start_session(&conn, "t4", "ann", now, later).unwrap();
        assert!(remove(&conn, "ann").unwrap());
        assert_eq!(session_owner(&conn, "t4", now).unwrap(), None);
        assert!(!set_password(&conn, "ann", "x").unwrap());
    }
}
