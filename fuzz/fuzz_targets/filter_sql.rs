//! The filter-to-SQL builder: generated Stats API queries whose every string (site, filter
//! values, prop keys, goals) carries a marker are parsed, planned, and turned into each
//! statement `stats::sql` makes for them (counts by the query's dimensions and in total, with and
//! without visits, without goal conditions, from rollups, the rollups' own inserts, the public
//! counters'). The marker must never be in the SQL text, only in the parameters; each value of
//! a condition must be among the parameters; and the `$n` in the text must be exactly `$1` to
//! `$len`, each used (DuckDB refuses a parameter bound but not used). In ClickHouse's dialect,
//! which binds nothing, the marker must be inside string literals only.
#![no_main]

use arbitrary::Unstructured;
use chrono::Duration;
use footfall_fuzz::{Strings, MARKER};
use footfall_queries::stats::api;
use footfall_queries::stats::model::Filter;
use footfall_queries::stats::period::{offset_steps, utc_day_start};
use footfall_queries::stats::sql::{self, Param, Statement};
use footfall_queries::stats::{Dimension, Query};
use libfuzzer_sys::fuzz_target;

/// The `$n` placeholders of a text, in order.
fn placeholders(sql: &str) -> Vec<usize> {
    let bytes = sql.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' {
            let digits = bytes[i + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            assert!(digits > 0, "a lone $ at {i}: {sql}");
            let n: usize = sql[i + 1..i + 1 + digits].parse().expect("digits");
            found.push(n);
            i += digits;
        }
        i += 1;
    }
    found
}

fn check(sql: &str, params: &[Param], what: &str) {
    assert!(
        !sql.contains(MARKER),
        "{what}: a value in the SQL text: {sql}"
    );
    let mut used = vec![false; params.len()];
    for n in placeholders(sql) {
        assert!(
            (1..=params.len()).contains(&n),
            "{what}: ${n} of {} parameters",
            params.len()
        );
        used[n - 1] = true;
    }
    if let Some(unused) = used.iter().position(|u| !u) {
        panic!("{what}: ${} is bound but not used: {sql}", unused + 1);
    }
}

fn check_statement(statement: &Statement, what: &str) {
    check(&statement.sql, &statement.params, what);
}

/// Every value of the filter's conditions (folded when matched without case) is a parameter.
/// Goals are matched by name in Rust, and their definitions bound instead.
fn values_are_bound(filter: &Filter, params: &[Param]) {
    for condition in filter.conditions() {
        if *condition.dimension == Dimension::Goal {
            continue;
        }
        for clause in condition.clauses {
            let bound = params.iter().any(|p| match p {
                Param::Text(text) => *text == *clause || *text == clause.to_lowercase(),
                _ => false,
            });
            assert!(bound, "{clause:?} is not among the parameters");
        }
    }
}

/// The builder looks a zone's offsets up hour by hour over a bucketed period, and its text
/// grows only by the offsets' steps: a bucketed query is built over its first 120 days at most,
/// which hold a year's changes of offset in most zones, so that long periods do not slow every
/// other path down.
fn lean(query: &Query) -> Query {
    let bucketed = query
        .dimensions
        .iter()
        .any(|d| matches!(d, Dimension::Time(_)));
    let most = Duration::days(120);
    let mut query = query.clone();
    if bucketed && query.period.to - query.period.from > most {
        query.period.to = query.period.from + most;
    }
    query
}

/// The text of a ClickHouse statement outside its string literals, read as ClickHouse's lexer
/// reads them (a quote opens; a backslash escapes the next character; an unescaped quote
/// closes). Panics on a literal that never closes.
fn outside_literals(sql: &str) -> String {
    let mut outside = String::with_capacity(sql.len());
    let mut chars = sql.chars();
    while let Some(c) = chars.next() {
        if c != '\'' {
            outside.push(c);
            continue;
        }
        loop {
            match chars.next() {
                Some('\\') => {
                    chars.next();
                }
                Some('\'') => break,
                Some(_) => {}
                None => panic!("a literal that never closes: {sql}"),
            }
        }
        outside.push_str("''");
    }
    outside
}

fn statements(query: &Query) {
    let query = &lean(query);
    let dimensions = &query.dimensions;
    let with_visits = query.needs_whole_visits(dimensions);
    let s = sql::statement(query, dimensions, with_visits, &query.period);
    check_statement(&s, "statement");
    // ClickHouse's: no parameters, and every value only inside a literal.
    let ch = sql::statement_in(
        sql::Dialect::ClickHouse,
        query,
        dimensions,
        with_visits,
        &query.period,
    );
    assert!(ch.params.is_empty());
    let outside = outside_literals(&ch.sql);
    assert!(
        !outside.contains(MARKER),
        "a value outside a literal: {}",
        ch.sql
    );
    if let Some(filter) = &query.filter {
        values_are_bound(filter, &s.params);
    }
    check_statement(&sql::statement(query, &[], false, &query.period), "totals");
    // As conversion rates ask for their base: without goal conditions, by the other dimensions,
    // without visits.
    let unconverted = Query {
        filter: query.filter.as_ref().and_then(Filter::without_goals),
        ..query.clone()
    };
    let others: Vec<Dimension> = dimensions
        .iter()
        .filter(|d| **d != Dimension::Goal)
        .cloned()
        .collect();
    check_statement(
        &sql::statement(&unconverted, &others, false, &query.period),
        "unconverted",
    );
    // The whole UTC days of the period, as rollups would answer them.
    let first = utc_day_start(query.period.from).date_naive();
    let end = utc_day_start(query.period.to).date_naive().max(first);
    check_statement(
        &sql::rollup_read(query, dimensions, first, end),
        "rollup_read",
    );
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let (Ok(site), Ok(body)) = (
        footfall_fuzz::site(&mut u, Strings::Marked),
        footfall_fuzz::query(&mut u, Strings::Marked),
    ) else {
        return;
    };
    let Ok(request) = api::parse(&body) else {
        return;
    };
    let Ok(planned) = request.plan(site.timezone, site.now, site.first_event, &site.goals) else {
        return;
    };
    for query in planned.queries() {
        statements(query);
    }
    let query = &planned.query;
    // A rollup's inserts for a day of the period, by one of its dimensions or in total.
    let day = utc_day_start(query.period.from);
    let days = footfall_queries::stats::Period {
        from: day,
        to: day + Duration::days(1),
    };
    let dimension = query
        .dimensions
        .iter()
        .find(|d| !matches!(d, Dimension::Time(_)));
    check_statement(
        &sql::rollup_insert(&query.site, &days, dimension),
        "rollup_insert",
    );
    // The public counters' reads of the site, over the offsets of the period's first day.
    let steps = offset_steps(query.timezone, &days);
    for with_shared in [false, true] {
        // Whole (a load) and from an instant on (a refresh).
        for since in [None, Some(query.period.from)] {
            let (text, params) = sql::counter_days(&query.site, &steps, with_shared, since);
            check(&text, &params, "counter_days");
        }
    }
    let (text, params) = sql::counter_recent(&query.site, &steps, query.period.from);
    check(&text, &params, "counter_recent");
});
