//! The Stats API's request language: `api::parse` on any JSON (bytes that start like JSON are
//! read as JSON; others drive a generator of plausible queries with filters), then `plan` against
//! a site with an arbitrary time zone, clock, first event and goals. No panic; a planned query
//! keeps the parser's limits; and its echo (`query` in the answer) asks the same again, as its
//! documentation says.
#![no_main]

use arbitrary::Unstructured;
use chrono::Duration;
use footfall_fuzz::{Site, Strings};
use footfall_queries::stats::api::{
    self, Planned, MAX_CLAUSES, MAX_CLAUSE_BYTES, MAX_CONDITIONS, MAX_LIMIT,
};
use footfall_queries::stats::model::OrderKey;
use footfall_queries::stats::{Dimension, Operator, QueryResult};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn plan(body: &Value, site: &Site) -> Option<Planned> {
    let request = api::parse(body).ok()?;
    request
        .plan(site.timezone, site.now, site.first_event, &site.goals)
        .ok()
}

fn check(planned: &Planned, body: &Value, site: &Site) {
    let query = &planned.query;
    assert!(!query.metrics.is_empty());
    for (i, metric) in query.metrics.iter().enumerate() {
        assert!(!query.metrics[..i].contains(metric), "{metric:?} twice");
    }
    assert!((1..=MAX_LIMIT).contains(&query.limit));
    assert!(query.period.from < query.period.to, "{:?}", query.period);
    let times = query
        .dimensions
        .iter()
        .filter(|d| matches!(d, Dimension::Time(_)))
        .count();
    assert!(times <= 1);
    if let Some(filter) = &query.filter {
        let conditions = filter.conditions();
        assert!(conditions.len() <= MAX_CONDITIONS);
        for c in &conditions {
            assert!(!matches!(c.dimension, Dimension::Time(_)));
            assert!((1..=MAX_CLAUSES).contains(&c.clauses.len()));
            assert!(c.clauses.iter().all(|c| c.len() <= MAX_CLAUSE_BYTES));
        }
        let patterns: Vec<&String> = conditions
            .iter()
            .filter(|c| matches!(c.operator, Operator::Matches | Operator::MatchesNot))
            .flat_map(|c| c.clauses)
            .collect();
        assert_eq!(planned.patterns.iter().collect::<Vec<_>>(), patterns);
    } else {
        assert!(planned.patterns.is_empty());
    }
    for order in &query.order {
        match &order.key {
            OrderKey::Metric(m) => assert!(query.metrics.contains(m)),
            OrderKey::Dimension(d) => assert!(query.dimensions.contains(d)),
        }
    }

    // The echo asks the same again. Its period is written to the second (first and last
    // second), so the period comes back within a second.
    let answer = planned.respond(&QueryResult {
        rows: Vec::new(),
        total_rows: 0,
    });
    let echo = &answer["query"];
    let again = plan(echo, site).unwrap_or_else(|| {
        panic!(
            "the echo of {body} is refused: {echo}\n{:?}",
            api::parse(echo).and_then(|r| r.plan(
                site.timezone,
                site.now,
                site.first_event,
                &site.goals
            ))
        )
    });
    let second = Duration::seconds(1);
    let (was, is) = (&query, &again.query);
    assert_eq!(
        (&was.site, &was.metrics, &was.dimensions, &was.filter),
        (&is.site, &is.metrics, &is.dimensions, &is.filter),
        "{echo}"
    );
    assert_eq!(
        (&was.order, was.limit, was.offset, &was.goals),
        (&is.order, is.limit, is.offset, &is.goals),
        "{echo}"
    );
    assert!(
        (was.period.from - is.period.from).abs() < second
            && (was.period.to - is.period.to).abs() <= second,
        "{:?} came back as {:?} from {echo}",
        was.period,
        is.period
    );
}

fuzz_target!(|data: &[u8]| {
    let json = data
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| b"{[\"tfn-0123456789".contains(b));
    let (body, site) = if json {
        let Ok(body) = serde_json::from_slice::<Value>(data) else {
            return;
        };
        // A site from the input's length: a different zone and clock for different inputs.
        let seed = (data.len() as u64)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .to_le_bytes();
        let Ok(site) = footfall_fuzz::site(&mut Unstructured::new(&seed), Strings::Free) else {
            return;
        };
        (body, site)
    } else {
        let mut u = Unstructured::new(data);
        let (Ok(site), Ok(body)) = (
            footfall_fuzz::site(&mut u, Strings::Free),
            footfall_fuzz::query(&mut u, Strings::Free),
        ) else {
            return;
        };
        (body, site)
    };
    if let Some(planned) = plan(&body, &site) {
        check(&planned, &body, &site);
    }
});
