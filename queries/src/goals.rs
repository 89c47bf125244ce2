//! The `goals` table: the goals added with `footfall goal add`. Goals from the config file are
//! the server's to merge in; this module only stores the others.

use duckdb::{params, Connection};

use crate::error::StoreError;
use crate::stats::Goal;

fn kind_and_value(goal: &Goal) -> (&'static str, &str) {
    match goal {
        Goal::Page(pattern) => ("page", pattern),
        Goal::Event(name) => ("event", name),
    }
}

/// Adds a goal; `false` when the site has it already.
pub fn add(conn: &Connection, site: &str, goal: &Goal) -> Result<bool, StoreError> {
    let (kind, value) = kind_and_value(goal);
    let added = conn.execute(
        "INSERT INTO goals (site, kind, value) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        params![site, kind, value],
    )?;
    Ok(added == 1)
}

/// A site's goals, in the order they were added.
pub fn list(conn: &Connection, site: &str) -> Result<Vec<Goal>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT kind, value FROM goals WHERE site = ? ORDER BY created_at, kind, value",
    )?;
    let rows = stmt.query_map([site], |row| {
        let (kind, value): (String, String) = (row.get(0)?, row.get(1)?);
        Ok(if kind == "page" {
            Goal::Page(value)
        } else {
            Goal::Event(value)
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Removes a goal; `false` when the site has no such goal.
pub fn remove(conn: &Connection, site: &str, goal: &Goal) -> Result<bool, StoreError> {
    let (kind, value) = kind_and_value(goal);
    let removed = conn.execute(
        "DELETE FROM goals WHERE site = ? AND kind = ? AND value = ?",
        params![site, kind, value],
    )?;
    Ok(removed == 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Store, StoreOptions};

    #[test]
    fn goals_are_added_once_listed_in_order_and_removed() {
        let store = Store::open_in_memory(&StoreOptions::default()).unwrap();
        let conn = store.connection().unwrap();
        let signup = Goal::event("Signup").unwrap();
        let blog = Goal::page("/blog/**").unwrap();
        assert!(add(&conn, "example.com", &signup).unwrap());
        assert!(add(&conn, "example.com", &blog).unwrap());
        assert!(!add(&conn, "example.com", &signup).unwrap(), "once");
        assert!(add(&conn, "other.org", &signup).unwrap());
        assert_eq!(
            list(&conn, "example.com").unwrap(),
            vec![signup.clone(), blog.clone()]
        );
        assert!(remove(&conn, "example.com", &blog).unwrap());
        assert!(!remove(&conn, "example.com", &blog).unwrap());
        assert_eq!(list(&conn, "example.com").unwrap(), vec![signup]);
    }
}
