//! The ClickHouse schema (`queries/clickhouse/*.sql`), applied to every server of the cluster.
//!
//! 18.16 has no `ON CLUSTER` without ZooKeeper, so each server gets every statement itself. Each
//! statement is `CREATE … IF NOT EXISTS`, which makes applying the schema again harmless: there
//! is no version table, and none is needed until a statement must change an existing table.
//! 18.16's HTTP interface takes one statement per request, hence the splitter.

use super::client::{ClickHouseError, Client};

/// The schema files in the order they must run (later files read earlier tables).
pub const FILES: [(&str, &str); 4] = [
    (
        "0001_events.sql",
        include_str!("../../clickhouse/0001_events.sql"),
    ),
    (
        "0002_daily.sql",
        include_str!("../../clickhouse/0002_daily.sql"),
    ),
    (
        "0003_sessions.sql",
        include_str!("../../clickhouse/0003_sessions.sql"),
    ),
    (
        "0004_dropped_events.sql",
        include_str!("../../clickhouse/0004_dropped_events.sql"),
    ),
];

/// Applies every file, statement by statement, to each server in turn.
pub fn apply(servers: &[Client]) -> Result<(), ClickHouseError> {
    for server in servers {
        for (file, text) in FILES {
            for (index, statement) in statements(text).iter().enumerate() {
                server
                    .execute(statement)
                    .map_err(|source| ClickHouseError::Schema {
                        file,
                        index,
                        source: Box::new(source),
                    })?;
            }
        }
    }
    Ok(())
}

/// The statements of a file, without their comments and `;`. A `;` ends a statement only outside
/// comments (`-- …`, `/* … */`), string literals (`'…'`, with backslash escapes) and quoted
/// names (`"…"`, `` `…` ``): the files' comments contain both `;` and `'`.
pub fn statements(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '-' if chars.peek() == Some(&'-') => {
                // A line comment: up to (not including) the end of the line.
                while chars.next_if(|&n| n != '\n').is_some() {}
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut previous = ' ';
                for n in chars.by_ref() {
                    if previous == '*' && n == '/' {
                        break;
                    }
                    previous = n;
                }
                current.push(' ');
            }
            '\'' | '"' | '`' => {
                current.push(c);
                while let Some(n) = chars.next() {
                    current.push(n);
                    if n == '\\' {
                        if let Some(escaped) = chars.next() {
                            current.push(escaped);
                        }
                    } else if n == c {
                        break;
                    }
                }
            }
            ';' => finish(&mut current, &mut out),
            c => current.push(c),
        }
    }
    finish(&mut current, &mut out);
    out
}

fn finish(current: &mut String, out: &mut Vec<String>) {
    let statement = current.trim();
    if !statement.is_empty() {
        out.push(statement.to_owned());
    }
    current.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_outside_comments_and_quotes() {
        let text = "-- it's a comment; with a semicolon\nCREATE DATABASE x;\n\
                    /* block; 'quote */ SELECT 'a;b\\';c', \"q;\" -- tail; 'x\n;\n\n-- end";
        assert_eq!(
            statements(text),
            ["CREATE DATABASE x", "SELECT 'a;b\\';c', \"q;\""]
        );
    }

    #[test]
    fn the_schema_files_split_into_their_statements() {
        let counts: Vec<usize> = FILES.iter().map(|(_, t)| statements(t).len()).collect();
        // Each file: CREATE DATABASE, then its tables (and views).
        assert_eq!(counts, [3, 4, 4, 3]);
        for (file, text) in FILES {
            for statement in statements(text) {
                assert!(
                    statement.starts_with("CREATE ") && statement.contains("IF NOT EXISTS"),
                    "{file}: every statement can run again: {statement}"
                );
                assert!(!statement.contains("--"), "{file}: comments removed");
            }
        }
    }
}
