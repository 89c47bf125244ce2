//! SQL text is fixed (`migrations/`, `sql/`, string literals) or assembled in one module,
//! `stats/sql.rs`, from closed enums with every value bound. This test reads every Rust source of
//! the project and fails when SQL is built from strings anywhere else: a `format!`, `push_str` or
//! `concat` whose text holds SQL.

use std::path::{Path, PathBuf};

/// Words that make a piece of text SQL. Our SQL writes its keywords in capitals; messages to
/// people do not.
const SQL_WORDS: [&str; 9] = [
    "SELECT ",
    "INSERT INTO",
    "UPDATE ",
    "DELETE FROM",
    " WHERE ",
    " FROM ",
    " JOIN ",
    "GROUP BY",
    "ORDER BY",
];
/// Ways of building a string out of pieces.
const BUILDERS: [&str; 5] = ["format!(", "push_str(", "write!(", ".concat(", ".join("];
/// The one place allowed to assemble stats SQL.
const ASSEMBLER: &str = "queries/src/stats/sql.rs";
/// The ClickHouse client's INSERT statement: a table and column names that the code chooses,
/// each checked to be a plain identifier; the values travel as JSON rows in the request body,
/// and values in ClickHouse SQL text only ever come from `clickhouse/literal.rs`.
const CLICKHOUSE_INSERT: &str = "queries/src/clickhouse/client.rs";

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if !path.ends_with("target") && !path.ends_with("node_modules") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn sql_is_built_from_strings_only_in_the_assembler() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut files = Vec::new();
    for dir in [
        "src",
        "collector/src",
        "queries/src",
        "dashboard/src",
        "benches",
        // The fuzz targets check the SQL the assembler makes; they must not make their own.
        "fuzz",
    ] {
        if root.join(dir).is_dir() {
            rust_files(&root.join(dir), &mut files);
        }
    }
    assert!(files.len() > 20, "the sources were found: {}", files.len());
    let mut offences = Vec::new();
    for file in &files {
        let relative = file
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if relative == ASSEMBLER || relative == CLICKHOUSE_INSERT {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        // A statement may span lines: look at each builder call with the lines that follow it.
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if !BUILDERS.iter().any(|b| line.contains(b)) {
                continue;
            }
            let window = lines[i..(i + 4).min(lines.len())].join(" ");
            if SQL_WORDS.iter().any(|w| window.contains(w)) {
                offences.push(format!("{relative}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(
        offences.is_empty(),
        "SQL built from strings outside {ASSEMBLER}:\n{}",
        offences.join("\n")
    );
}
