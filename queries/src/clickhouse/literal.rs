//! The one audited way a value enters ClickHouse SQL text.
//!
//! ClickHouse 18.16 has no bind parameters (`{name:Type}` came later), so values are written
//! into the statement as literals. Every value that reaches ClickHouse SQL goes through this
//! module; nothing else may put a value between quotes.
//!
//! Inside `'…'` ClickHouse reads backslash escapes, so SQL's quote doubling alone is unsafe:
//! `'a\b'` loses its backslash, and `x\` or `\'; SELECT 1 --` ends the literal early. The rule,
//! checked byte for byte against the real server (docs/clickhouse.md), is: backslash first
//! (`\` becomes `\\`), then the quote (`'` becomes `\'`), then wrap in quotes. Every other byte,
//! NUL and newlines included, stands for itself.

use crate::stats::sql::Param;

/// `value` as a ClickHouse string literal, quotes included.
pub fn string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    // One pass, which is the same as replacing backslashes first and quotes second: a
    // backslash is doubled before any quote gains one, so no escape added here is escaped again.
    for c in value.chars() {
        match c {
            '\\' => out.push_str(r"\\"),
            '\'' => out.push_str(r"\'"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A statement's value ([`Param`]) as a ClickHouse literal: the ClickHouse counterpart of
/// binding it (`stats/bind.rs` does that for DuckDB). Text through [`string`]; integers in
/// decimal; a date as `toDate('YYYY-MM-DD')`; an instant as microseconds since the epoch, the
/// unit of the events' exact time column `ts_us`, which the ClickHouse statements compare
/// instants with (never a naive date-time text, which the server would read in its own zone).
pub fn param(value: &Param) -> String {
    match value {
        Param::Text(text) => string(text),
        Param::Int(n) => n.to_string(),
        Param::Date(day) => format!("toDate('{}')", day.format("%Y-%m-%d")),
        Param::Timestamp(t) => t.timestamp_micros().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads a string literal at the start of `sql` the way ClickHouse's lexer does (a quote
    /// ends it unless escaped; a backslash escapes the next character) and returns its value
    /// and the text after it. `None` when the literal never ends.
    fn read_literal(sql: &str) -> Option<(String, &str)> {
        let rest = sql.strip_prefix('\'')?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => value.push(chars.next()?.1),
                '\'' => return Some((value, &rest[i + 1..])),
                c => value.push(c),
            }
        }
        None
    }

    fn assert_inert(input: &str) {
        let literal = string(input);
        let (value, rest) = read_literal(&literal).unwrap_or_else(|| panic!("{literal:?} ends"));
        assert_eq!(value, input, "{literal:?} reads back as its input");
        assert_eq!(rest, "", "{literal:?} is one literal and nothing after it");
    }

    #[test]
    fn backslash_before_quote() {
        assert_eq!(string(""), "''");
        assert_eq!(string("it's"), r"'it\'s'");
        assert_eq!(string(r"a\b"), r"'a\\b'");
        assert_eq!(string(r"\'"), r"'\\\''");
        assert_eq!(string("x\\"), r"'x\\'");
    }

    #[test]
    fn hostile_inputs_stay_one_literal() {
        for input in [
            "'",
            "\\",
            "\\'",
            "''",
            "\\\\'",
            "x\\",
            "'); DROP TABLE x; --",
            "\\'; DROP TABLE x; --",
            "a\0b",
            "\0",
            "line\nbreak\r\t",
            "é€😀",
            "/* not a comment */ -- nor this",
        ] {
            assert_inert(input);
        }
    }

    #[test]
    fn every_ascii_byte_stays_one_literal() {
        for byte in 0u8..=0x7F {
            assert_inert(&char::from(byte).to_string());
            assert_inert(&format!("a{}b\\{}'", char::from(byte), char::from(byte)));
        }
        let all: String = (0u8..=0x7F).map(char::from).collect();
        assert_inert(&all);
    }
}
