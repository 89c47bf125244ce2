//! Random Stats API queries for reliability drill 9 (docs/reliability.md): filters whose
//! operators, dimensions and values are mostly well formed, so most reach the store, and whose
//! values are made of quotes, semicolons, comment markers, backslashes, `LIKE` and regular
//! expression syntax, NUL, right-to-left marks, combining and astral characters, injection
//! strings and strings up to about 10 kB, nested up to five deep, with a part too few or too many
//! now and then. Shared by the test against the store (`queries/tests/stats_filter_fuzz.rs`) and
//! the one over HTTP (`tests/stats_http.rs`).

use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};

/// Filter operators: six on values, five logical, then three that are not ones (picked rarely).
const OPERATORS: [&str; 14] = [
    "is",
    "is_not",
    "contains",
    "contains_not",
    "matches",
    "matches_not",
    "and",
    "or",
    "not",
    "has_done",
    "has_not_done",
    "matches_wildcard",
    "IS",
    "is; DROP TABLE events",
];

const DIMENSIONS: [&str; 22] = [
    "event:page",
    "event:hostname",
    "event:name",
    "event:goal",
    "event:props:plan",
    "event:props:'; DROP TABLE events; --",
    "visit:source",
    "visit:referrer",
    "visit:channel",
    "visit:country",
    "visit:region",
    "visit:city",
    "visit:browser",
    "visit:browser_version",
    "visit:os",
    "visit:device",
    "visit:entry_page",
    "visit:exit_page",
    "visit:utm_source",
    "visit:utm_campaign",
    "time:day",
    "segment",
];

/// Pieces that break naive SQL, regular expressions, LIKE patterns and text handling.
const NASTY: [&str; 32] = [
    "'",
    "''",
    "\"",
    ";",
    "--",
    "/*",
    "*/",
    "\\",
    "%",
    "_",
    "\0",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "*",
    "+",
    "?",
    "^",
    "$",
    "|",
    "\u{202e}",
    "\u{fffd}",
    "😀",
    "é",
    "e\u{301}",
    "\u{10ffff}",
    "' OR 1=1 --",
    "'); DROP TABLE events; --",
    "/blog/",
];

fn text(rng: &mut StdRng) -> String {
    if rng.random_ratio(1, 50) {
        // Up to about 10 kB.
        return NASTY[rng.random_range(0..NASTY.len())].repeat(rng.random_range(1..2_500));
    }
    let mut s = String::new();
    for _ in 0..rng.random_range(0..8) {
        if rng.random_bool(0.6) {
            s.push_str(NASTY[rng.random_range(0..NASTY.len())]);
        } else {
            s.push(rng.random_range('\u{20}'..='\u{7e}'));
        }
    }
    s
}

/// Mostly text, as a well-formed filter has; now and then another JSON type.
fn value(rng: &mut StdRng) -> Value {
    match rng.random_range(0..200) {
        0 => json!(rng.random::<i64>()),
        1 => json!(rng.random::<f64>() * 1e300),
        2 => Value::Null,
        3 => json!(rng.random_bool(0.5)),
        4 => json!([text(rng)]),
        _ => json!(text(rng)),
    }
}

fn filter(rng: &mut StdRng, depth: u32) -> Value {
    // Well-formed operators and dimensions mostly, so that most filters reach DuckDB.
    let operator = if rng.random_ratio(1, 30) {
        OPERATORS[rng.random_range(11..OPERATORS.len())]
    } else if depth == 0 && rng.random_ratio(1, 3) {
        OPERATORS[rng.random_range(6..11)]
    } else {
        OPERATORS[rng.random_range(0..6)]
    };
    let nested = |rng: &mut StdRng| {
        if depth > 3 {
            json!(["is", "event:page", ["/"]])
        } else {
            filter(rng, depth + 1)
        }
    };
    let mut parts = vec![json!(operator)];
    match operator {
        "and" | "or" => {
            let n = if rng.random_ratio(1, 30) {
                0
            } else {
                rng.random_range(1..4)
            };
            parts.push(Value::Array((0..n).map(|_| nested(rng)).collect()));
        }
        "not" | "has_done" | "has_not_done" => parts.push(nested(rng)),
        _ => {
            let dimension = if rng.random_ratio(1, 30) {
                text(rng)
            } else {
                DIMENSIONS[rng.random_range(0..DIMENSIONS.len())].to_owned()
            };
            parts.push(json!(dimension));
            let n = rng.random_range(1..4);
            parts.push(Value::Array((0..n).map(|_| value(rng)).collect()));
            if rng.random_ratio(1, 4) {
                parts.push(json!({"case_sensitive": value(rng)}));
            }
        }
    }
    // Sometimes a part too few or too many.
    if rng.random_ratio(1, 50) {
        parts.pop();
    } else if rng.random_ratio(1, 50) {
        parts.push(value(rng));
    }
    Value::Array(parts)
}

/// A Stats API query for `site` over the last 7 days with a random filter and dimension.
pub fn query(rng: &mut StdRng, site: &str) -> Value {
    let dimensions = match rng.random_range(0..4) {
        0 => json!([]),
        1 => json!(["visit:country"]),
        2 => json!(["event:page"]),
        _ => json!([DIMENSIONS[rng.random_range(0..DIMENSIONS.len())]]),
    };
    json!({
        "site_id": site,
        "metrics": if rng.random_ratio(1, 4) { json!(["visitors", "pageviews", "bounce_rate"]) } else { json!(["visitors", "pageviews"]) },
        "date_range": "7d",
        "dimensions": dimensions,
        "filters": [filter(rng, 0)],
    })
}
