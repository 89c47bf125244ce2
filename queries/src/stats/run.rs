//! Running a query: the statements from [`super::sql`], from the daily rollups where they can
//! answer and from the events for the rest, merged into each group's counts; then the metrics,
//! ordering and pagination from [`super::figures`]. Also the store's other reads for the Stats
//! API (realtime visitors, prop keys, the first event).

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use duckdb::{params_from_iter, Connection};

use super::figures::{metric_value, sort_rows, Bases, Counts, MetricValue, QueryResult, ResultRow};
use super::model::{
    Dimension, EventField, Filter, Metric, Operator, OrderKey, Period, Query, VisitField,
};
use super::QueryError;
use super::{country, rollup, sql};
use crate::clickhouse::ClickHouseReader;

impl Counts {
    /// Adds another part's counts: every count is a sum over the parts (see [`counts`]).
    fn add(&mut self, other: &Counts) {
        self.visitors += other.visitors;
        self.visits += other.visits;
        self.pageviews += other.pageviews;
        self.events += other.events;
        self.sessions += other.sessions;
        self.bounced += other.bounced;
        self.duration_us += other.duration_us;
        self.visit_pageviews += other.visit_pageviews;
        self.engaged_ms += other.engaged_ms;
        self.engaged_visits += other.engaged_visits;
        self.scroll_sum += other.scroll_sum;
        self.scroll_pairs += other.scroll_pairs;
    }
}

/// The query as the store answers it: country names asked by their codes ([`country`]).
fn by_codes(query: &Query) -> Query {
    let mut coded = query.clone();
    for dimension in &mut coded.dimensions {
        if *dimension == Dimension::Visit(VisitField::CountryName) {
            *dimension = Dimension::Visit(VisitField::Country);
        }
    }
    let is_match =
        |pattern: &str, name: &str| regex::Regex::new(pattern).is_ok_and(|r| r.is_match(name));
    coded.filter = coded.filter.map(|f| country::names_as_codes(&f, &is_match));
    coded
}

/// Where a query's counts come from: each group's counts of events and visits ([`counts`] for
/// DuckDB, `ClickHouseReader` for ClickHouse). Everything else about a query (the bases of
/// percentages and conversion rates, metrics, order, pages) is worked out from these, the same
/// way whatever the store.
pub trait CountSource {
    /// The counts per group of `dimensions` of the query's events (its totals, with none);
    /// `with_visits`: the visit counts too.
    fn counts(
        &self,
        query: &Query,
        dimensions: &[Dimension],
        with_visits: bool,
    ) -> Result<Vec<(Vec<String>, Counts)>, QueryError>;
}

impl CountSource for Connection {
    fn counts(
        &self,
        query: &Query,
        dimensions: &[Dimension],
        with_visits: bool,
    ) -> Result<Vec<(Vec<String>, Counts)>, QueryError> {
        counts(self, query, dimensions, with_visits)
    }
}

/// Where the server reads events: the DuckDB store, or ClickHouse (the `[store] backend`).
/// The small tables (sites, keys, owners, goals) stay in DuckDB either way.
#[derive(Clone, Copy)]
pub enum Events<'a> {
    DuckDb(&'a Connection),
    ClickHouse(&'a ClickHouseReader),
}

impl CountSource for Events<'_> {
    fn counts(
        &self,
        query: &Query,
        dimensions: &[Dimension],
        with_visits: bool,
    ) -> Result<Vec<(Vec<String>, Counts)>, QueryError> {
        match self {
            Events::DuckDb(conn) => counts(conn, query, dimensions, with_visits),
            Events::ClickHouse(reader) => reader.counts(query, dimensions, with_visits),
        }
    }
}

impl Events<'_> {
    /// The site's first event, where the `all` date range starts.
    pub fn first_event(&self, site: &str) -> Result<Option<DateTime<Utc>>, QueryError> {
        match self {
            Events::DuckDb(conn) => first_event(conn, site),
            Events::ClickHouse(reader) => Ok(reader.first_event(site)?),
        }
    }

    /// Visitors on the site in the five minutes before `now`.
    pub fn realtime_visitors(&self, site: &str, now: DateTime<Utc>) -> Result<u64, QueryError> {
        match self {
            Events::DuckDb(conn) => realtime_visitors(conn, site, now),
            Events::ClickHouse(reader) => Ok(reader.realtime_visitors(site, now)?),
        }
    }

    /// The prop keys of the site's events in `period`, most used first (at most 100).
    pub fn prop_keys(&self, site: &str, period: &Period) -> Result<Vec<String>, QueryError> {
        match self {
            Events::DuckDb(conn) => prop_keys(conn, site, period),
            Events::ClickHouse(reader) => Ok(reader.prop_keys(site, period)?),
        }
    }

    /// The site's dropped events per reason over the UTC days `period` touches, most first.
    pub fn dropped(
        &self,
        site: &str,
        period: &Period,
    ) -> Result<Vec<(footfall_collector::DropReason, u64)>, QueryError> {
        match self {
            Events::DuckDb(conn) => Ok(crate::drops::for_period(conn, site, period)?),
            Events::ClickHouse(reader) => Ok(reader.dropped(site, period)?),
        }
    }
}

/// Runs a validated query.
pub fn run(conn: &impl CountSource, asked: &Query) -> Result<QueryResult, QueryError> {
    match pages_last(conn, asked)? {
        Some(result) => Ok(result),
        None => run_whole(conn, asked),
    }
}

/// Page metrics (time on page, scroll depth) read every engagement report of the period, per
/// visit and page: over a breakdown by page that is sorted by another metric, they are worked out
/// for the rows kept only, once the other metrics have chosen them (the top ten pages of 30 days
/// of 10M events: 4.2 s with every page's time, 0.5 s with the ten's). `None` when the query is
/// not of that shape.
fn pages_last(conn: &impl CountSource, asked: &Query) -> Result<Option<QueryResult>, QueryError> {
    let page = Dimension::Event(EventField::Page);
    let (later, first): (Vec<Metric>, Vec<Metric>) =
        asked.metrics.iter().partition(|m| m.is_page_metric());
    let sorted_by_later = asked
        .order
        .iter()
        .any(|o| matches!(o.key, OrderKey::Metric(m) if m.is_page_metric()));
    let Some(page_at) = asked.dimensions.iter().position(|d| *d == page) else {
        return Ok(None);
    };
    if later.is_empty() || first.is_empty() || sorted_by_later {
        return Ok(None);
    }
    let kept = run_whole(
        conn,
        &Query {
            metrics: first.clone(),
            ..asked.clone()
        },
    )?;
    let mut pages: Vec<String> = kept
        .rows
        .iter()
        .map(|r| r.dimensions[page_at].clone())
        .collect();
    pages.sort();
    pages.dedup();
    let mut found: HashMap<Vec<String>, Vec<MetricValue>> = HashMap::new();
    if !pages.is_empty() {
        let shown = Filter::Condition {
            operator: Operator::Is,
            dimension: page,
            clauses: pages,
            case_sensitive: true,
        };
        let filter = match &asked.filter {
            Some(f) => Filter::And(vec![f.clone(), shown]),
            None => shown,
        };
        let extra = run_whole(
            conn,
            &Query {
                metrics: later.clone(),
                filter: Some(filter),
                order: Vec::new(),
                limit: u32::MAX,
                offset: 0,
                ..asked.clone()
            },
        )?;
        found = extra
            .rows
            .into_iter()
            .map(|r| (r.dimensions, r.metrics))
            .collect();
    }
    let rows = kept
        .rows
        .into_iter()
        .map(|row| {
            let late = found.get(&row.dimensions);
            let metrics = asked
                .metrics
                .iter()
                .map(|m| match later.iter().position(|x| x == m) {
                    Some(i) => late.map_or(MetricValue::Null, |values| values[i]),
                    None => row.metrics[first.iter().position(|x| x == m).expect("split")],
                })
                .collect();
            ResultRow {
                dimensions: row.dimensions,
                metrics,
            }
        })
        .collect();
    Ok(Some(QueryResult {
        rows,
        total_rows: kept.total_rows,
    }))
}

/// Runs a query in one pass: every group's counts, then sorted and paged.
fn run_whole(conn: &impl CountSource, asked: &Query) -> Result<QueryResult, QueryError> {
    let coded;
    let query = if country::mentioned(&asked.dimensions, asked.filter.as_ref()) {
        coded = by_codes(asked);
        &coded
    } else {
        asked
    };
    let with_visits = query.needs_whole_visits(&query.dimensions);
    let mut groups = conn.counts(query, &query.dimensions, with_visits)?;
    if query.visits_are_whole(&query.dimensions) {
        for (_, c) in &mut groups {
            c.visits = c.sessions;
        }
    }
    let visitors_of = |q: &Query| -> Result<u64, QueryError> {
        Ok(conn
            .counts(q, &[], false)?
            .first()
            .map_or(0, |(_, c)| c.visitors))
    };
    let with_percentage = query.metrics.contains(&Metric::Percentage);
    let total_visitors = if !with_percentage {
        0
    } else if query.dimensions.is_empty() {
        groups.first().map_or(0, |(_, c)| c.visitors)
    } else {
        visitors_of(query)?
    };
    // Conversion rates are shares of the visitors of the same query without its goal (and
    // prop) conditions: in all, or per group of the dimensions other than the goal.
    let unconverted = Query {
        filter: query.filter.as_ref().and_then(Filter::without_goals),
        ..query.clone()
    };
    let conversion_base = if !query.metrics.contains(&Metric::ConversionRate) {
        0
    } else if with_percentage && unconverted.filter == query.filter {
        // With goals as a dimension only, the base is the percentage's total.
        total_visitors
    } else {
        visitors_of(&unconverted)?
    };
    let goal_at = query.dimensions.iter().position(|d| *d == Dimension::Goal);
    let group_key = |dimensions: &[String]| -> Vec<String> {
        dimensions
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != goal_at)
            .map(|(_, d)| d.clone())
            .collect()
    };
    let group_bases: HashMap<Vec<String>, u64> =
        if query.metrics.contains(&Metric::GroupConversionRate) {
            let dimensions: Vec<Dimension> = query
                .dimensions
                .iter()
                .filter(|d| **d != Dimension::Goal)
                .cloned()
                .collect();
            conn.counts(&unconverted, &dimensions, false)?
                .into_iter()
                .map(|(key, c)| (key, c.visitors))
                .collect()
        } else {
            HashMap::new()
        };
    let mut rows: Vec<ResultRow> = groups
        .into_iter()
        .map(|(dimensions, c)| {
            let bases = Bases {
                visitors: total_visitors,
                conversion: conversion_base,
                group_conversion: group_bases
                    .get(&group_key(&dimensions))
                    .copied()
                    .unwrap_or(0),
            };
            ResultRow {
                metrics: query
                    .metrics
                    .iter()
                    .map(|m| metric_value(*m, &c, &bases))
                    .collect(),
                dimensions,
            }
        })
        .collect();
    for (i, dimension) in asked.dimensions.iter().enumerate() {
        if *dimension == Dimension::Visit(VisitField::CountryName) {
            for row in &mut rows {
                row.dimensions[i] = country::name(&row.dimensions[i]);
            }
        }
    }
    sort_rows(&mut rows, asked);
    let total_rows = rows.len() as u64;
    let rows = rows
        .into_iter()
        .skip(usize::try_from(query.offset).unwrap_or(usize::MAX))
        .take(query.limit as usize)
        .collect();
    Ok(QueryResult { rows, total_rows })
}

/// Visitors on the site in the five minutes before `now`: Plausible's realtime number.
pub fn realtime_visitors(
    conn: &Connection,
    site: &str,
    now: DateTime<Utc>,
) -> Result<u64, QueryError> {
    let since = now - Duration::minutes(5);
    let count: i64 = conn.query_row(
        sql::visitors_since(),
        duckdb::params![site, since.naive_utc()],
        |row| row.get(0),
    )?;
    Ok(count.max(0) as u64)
}

/// The prop keys of the site's events in `period`, most used first (at most 100): what a
/// breakdown by `event:props:KEY` can ask for.
pub fn prop_keys(
    conn: &Connection,
    site: &str,
    period: &Period,
) -> Result<Vec<String>, QueryError> {
    let mut stmt = conn.prepare_cached(sql::prop_keys())?;
    let rows = stmt.query_map(
        duckdb::params![site, period.from.naive_utc(), period.to.naive_utc()],
        |row| row.get(0),
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The site's first event, where the `all` date range starts.
pub fn first_event(conn: &Connection, site: &str) -> Result<Option<DateTime<Utc>>, QueryError> {
    Ok(conn.query_row(sql::first_event(), [site], |row| row.get(0))?)
}

/// The counts per group of the query's events (or its totals, with no dimensions): from the
/// daily rollups for the whole UTC days they hold, when they can answer, and from the events for
/// the rest of the period.
pub fn counts(
    conn: &Connection,
    query: &Query,
    dimensions: &[Dimension],
    with_visits: bool,
) -> Result<Vec<(Vec<String>, Counts)>, QueryError> {
    let Some((first, end)) = rollup::days_for(conn, query, dimensions)? else {
        let statement = sql::statement(query, dimensions, with_visits, &query.period);
        return fetch(conn, &statement, dimensions.len());
    };
    let midnight = |day: NaiveDate| day.and_time(NaiveTime::MIN).and_utc();
    let mut statements = vec![sql::rollup_read(query, dimensions, first, end)];
    for piece in [
        Period {
            from: query.period.from,
            to: midnight(first),
        },
        Period {
            from: midnight(end),
            to: query.period.to,
        },
    ] {
        if piece.from < piece.to {
            statements.push(sql::statement(query, dimensions, with_visits, &piece));
        }
    }
    // Every count is a sum over the parts (see [`rollup`]), so groups merge by adding. Their
    // order does not matter: rows are sorted afterwards.
    let mut merged: HashMap<Vec<String>, Counts> = HashMap::new();
    for statement in &statements {
        for (key, c) in fetch(conn, statement, dimensions.len())? {
            merged.entry(key).or_default().add(&c);
        }
    }
    Ok(merged.into_iter().collect())
}

/// Runs a counting statement: rows of dimension values, then the counts.
fn fetch(
    conn: &Connection,
    statement: &sql::Statement,
    width: usize,
) -> Result<Vec<(Vec<String>, Counts)>, QueryError> {
    let mut prepared = conn.prepare(&statement.sql)?;
    let rows = prepared.query_map(params_from_iter(statement.params.iter()), |row| {
        let dims = (0..width)
            .map(|i| row.get::<_, String>(i))
            .collect::<Result<Vec<_>, _>>()?;
        let n = |i: usize| row.get::<_, i64>(width + i).map(|v| v.max(0) as u64);
        Ok((dims, Counts::read(n)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{self, SampleSpec};
    use crate::stats::model::Order;
    use crate::{Store, StoreOptions};
    use chrono::TimeZone;

    /// Page metrics worked out for the kept rows only give the one-pass answer, whatever else
    /// the query splits by, filters, skips or keeps.
    #[test]
    fn page_metrics_of_the_kept_rows_are_the_one_pass_answer() {
        let store = Store::open_in_memory(&StoreOptions::default()).unwrap();
        let conn = store.connection().unwrap();
        let spec = SampleSpec::small(11);
        sample::load(&conn, &sample::generate(&spec)).unwrap();
        let page = Dimension::Event(EventField::Page);
        let period = Period {
            from: Utc.with_ymd_and_hms(2026, 3, 6, 0, 0, 0).unwrap(),
            to: Utc.with_ymd_and_hms(2026, 4, 3, 0, 0, 0).unwrap(),
        };
        let by_visitors = Order {
            key: OrderKey::Metric(Metric::Visitors),
            descending: true,
        };
        let mut shapes = 0;
        for (dimensions, filter, offset, limit) in [
            (vec![page.clone()], None, 0, 5),
            (vec![page.clone()], None, 3, 4),
            (
                vec![Dimension::Visit(VisitField::Browser), page.clone()],
                None,
                0,
                7,
            ),
            (
                vec![page.clone(), Dimension::Visit(VisitField::CountryName)],
                Some(Filter::Condition {
                    operator: Operator::Contains,
                    dimension: page.clone(),
                    clauses: vec!["/".into()],
                    case_sensitive: true,
                }),
                1,
                6,
            ),
        ] {
            let query = Query {
                site: spec.sites[0].clone(),
                timezone: chrono_tz::Tz::UTC,
                period,
                metrics: vec![
                    Metric::Visitors,
                    Metric::TimeOnPage,
                    Metric::Pageviews,
                    Metric::ScrollDepth,
                ],
                dimensions,
                filter,
                goals: Vec::new(),
                order: vec![by_visitors.clone()],
                limit,
                offset,
            };
            let split = pages_last(&conn, &query)
                .unwrap()
                .expect("this shape is split");
            let whole = run_whole(&conn, &query).unwrap();
            assert_eq!(split, whole, "{query:?}");
            assert!(split.rows.iter().any(|r| r.metrics[1] != MetricValue::Null));
            shapes += 1;
        }
        assert_eq!(shapes, 4);
    }
}
