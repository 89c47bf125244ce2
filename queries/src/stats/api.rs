//! Plausible's Stats API v2 language: a request body (`POST /api/v2/query`) parsed into a
//! [`Query`], and an answer shaped as Plausible shapes it, so that tools written for Plausible
//! work against Footfall. Messages follow Plausible's where it has one (`#/metrics/1: Invalid
//! metric "baa"`); what Plausible has and Footfall does not yet gets a 400 that says so, never a
//! silent wrong answer.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde_json::{json, Map, Value};

use super::figures::{time_labels, MetricValue, QueryResult};
use super::goal::Goal;
use super::model::{
    Dimension, EventField, Filter, Metric, Operator, Order, OrderKey, Query, TimeBucket, VisitField,
};
use super::period::{auto_bucket, Comparison, DateRange};
use super::QueryError;

/// The most rows one answer may hold, and the default (Plausible's).
pub const MAX_LIMIT: u32 = 10_000;
/// Longest filter clause: the longest URL the collector stores.
pub const MAX_CLAUSE_BYTES: usize = 2_000;
pub const MAX_CLAUSES: usize = 100;
/// Conditions in one query, and how deep and/or/not may nest.
pub const MAX_CONDITIONS: usize = 100;
pub const MAX_DEPTH: usize = 8;
/// The longest date range, in days: a century. A period is worked through hour by hour (the
/// zone's offsets in SQL, time labels), so years 1 to 9999 kept one request busy for minutes, and
/// their hourly labels (87 million) did not fit in memory.
pub const MAX_RANGE_DAYS: i64 = 36_525;
/// The first and last days a date range may name: four-digit years, with room on either side for
/// the site's zone and a comparison a century earlier, so that every period stays within what
/// chrono can add to (`+262142-12-31` made the period's end overflow, a panic) and its echo
/// within what RFC 3339 can write.
const EARLIEST: (i32, u32, u32) = (1000, 1, 1);
const LATEST: (i32, u32, u32) = (9998, 12, 31);
const MAX_PROP_KEY_BYTES: usize = 300;

/// Plausible's names that Footfall does not answer yet.
const LATER_METRICS: [&str; 3] = ["total_revenue", "average_revenue", "exit_rate"];
const LATER_DIMENSIONS: [&str; 2] = ["visit:region_name", "visit:city_name"];

/// A dimension as asked for: `time` is resolved once the period is known.
#[derive(Debug, Clone, PartialEq)]
enum Asked {
    Dimension(Dimension),
    Time,
}

/// A parsed request, before its period is resolved.
#[derive(Debug, Clone)]
pub struct Request {
    pub site_id: String,
    metrics: Vec<Metric>,
    date_range: DateRange,
    dimensions: Vec<Asked>,
    filter: Option<Filter>,
    filters_json: Value,
    order_by: Vec<(String, bool)>,
    include_time_labels: bool,
    include_total_rows: bool,
    include_imports: bool,
    /// `include.comparisons`, and the object as given (echoed back).
    comparison: Option<(Comparison, Value)>,
    limit: u32,
    offset: u64,
}

/// A request ready to run, with what the answer must carry besides rows.
#[derive(Debug, Clone)]
pub struct Planned {
    pub query: Query,
    /// Patterns of `matches` filters, which the store checks before running.
    pub patterns: Vec<String>,
    time_bucket: Option<TimeBucket>,
    include_time_labels: bool,
    include_total_rows: bool,
    include_imports: bool,
    /// The comparison period, and its query (the main one over that period, unpaginated).
    comparison: Option<Query>,
    echo: Value,
}

fn invalid(message: impl Into<String>) -> QueryError {
    QueryError::Invalid(message.into())
}

fn later(what: &str) -> QueryError {
    invalid(format!(
        "{what} is not supported by Footfall yet (Plausible's Stats API has it)"
    ))
}

/// Parses a request body.
pub fn parse(body: &Value) -> Result<Request, QueryError> {
    let object = body
        .as_object()
        .ok_or_else(|| invalid("#: the query must be a JSON object"))?;
    for key in object.keys() {
        if ![
            "site_id",
            "metrics",
            "date_range",
            "dimensions",
            "filters",
            "order_by",
            "include",
            "pagination",
        ]
        .contains(&key.as_str())
        {
            return Err(invalid(format!("#/{key}: unknown property")));
        }
    }
    let site_id = object
        .get("site_id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            invalid(
                "Missing site ID. Please provide the required site_id parameter with your request.",
            )
        })?
        .to_owned();

    let metrics = strings(object.get("metrics"), "metrics", true)?
        .into_iter()
        .enumerate()
        .map(|(i, name)| {
            Metric::parse(&name).ok_or_else(|| {
                if LATER_METRICS.contains(&name.as_str()) {
                    later(&format!("#/metrics/{i}: metric `{name}`"))
                } else {
                    invalid(format!("#/metrics/{i}: Invalid metric {name:?}"))
                }
            })
        })
        .collect::<Result<Vec<_>, _>>()?;

    let date_range = parse_date_range(object.get("date_range"))?;

    let dimensions = strings(object.get("dimensions"), "dimensions", false)?
        .into_iter()
        .enumerate()
        .map(|(i, name)| parse_dimension(&name, &format!("#/dimensions/{i}")))
        .collect::<Result<Vec<_>, _>>()?;
    if dimensions.iter().filter(|d| is_time(d)).count() > 1 {
        return Err(invalid("#/dimensions: only one time dimension per query"));
    }

    let filters_json = object.get("filters").cloned().unwrap_or(json!([]));
    let filter = match &filters_json {
        Value::Array(list) if list.is_empty() => None,
        Value::Array(list) => {
            let mut budget = MAX_CONDITIONS;
            let parts = list
                .iter()
                .enumerate()
                .map(|(i, f)| parse_filter(f, &format!("#/filters/{i}"), 1, &mut budget))
                .collect::<Result<Vec<_>, _>>()?;
            Some(if parts.len() == 1 {
                parts.into_iter().next().expect("one part")
            } else {
                Filter::And(parts)
            })
        }
        _ => return Err(invalid("#/filters: must be a list of filters")),
    };

    let order_by = match object.get("order_by") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(entries)) => entries
            .iter()
            .enumerate()
            .map(|(i, entry)| match entry.as_array().map(Vec::as_slice) {
                Some([Value::String(name), Value::String(direction)])
                    if direction == "asc" || direction == "desc" =>
                {
                    Ok((name.clone(), direction == "desc"))
                }
                _ => Err(invalid(format!(
                    "#/order_by/{i}: Invalid value in order_by {entry}"
                ))),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(invalid(
                "#/order_by: must be a list of [name, \"asc\"|\"desc\"]",
            ))
        }
    };

    let (mut include_time_labels, mut include_total_rows, mut include_imports) =
        (false, false, false);
    let mut comparison = None;
    match object.get("include") {
        None | Some(Value::Null) => {}
        Some(Value::Object(include)) => {
            for (key, value) in include {
                if key == "comparisons" {
                    comparison = parse_comparison(value)?.map(|c| (c, value.clone()));
                    continue;
                }
                let flag = value
                    .as_bool()
                    .ok_or_else(|| invalid(format!("#/include/{key}: must be true or false")))?;
                match key.as_str() {
                    "time_labels" => include_time_labels = flag,
                    "total_rows" => include_total_rows = flag,
                    "imports" => include_imports = flag,
                    _ => return Err(invalid(format!("#/include/{key}: unknown property"))),
                }
            }
        }
        Some(_) => return Err(invalid("#/include: must be an object")),
    }

    let (mut limit, mut offset) = (MAX_LIMIT, 0u64);
    match object.get("pagination") {
        None | Some(Value::Null) => {}
        Some(Value::Object(pagination)) => {
            for (key, value) in pagination {
                match key.as_str() {
                    "limit" => {
                        limit = value
                            .as_u64()
                            .filter(|n| (1..=u64::from(MAX_LIMIT)).contains(n))
                            .ok_or_else(|| {
                                invalid(format!(
                                    "#/pagination/limit: must be an integer from 1 to {MAX_LIMIT}"
                                ))
                            })? as u32
                    }
                    "offset" => {
                        offset = value.as_u64().ok_or_else(|| {
                            invalid("#/pagination/offset: must be an integer of at least 0")
                        })?
                    }
                    _ => return Err(invalid(format!("#/pagination/{key}: unknown property"))),
                }
            }
        }
        Some(_) => return Err(invalid("#/pagination: must be an object")),
    }

    Ok(Request {
        site_id,
        metrics,
        date_range,
        dimensions,
        filter,
        filters_json,
        order_by,
        include_time_labels,
        include_total_rows,
        include_imports,
        comparison,
        limit,
        offset,
    })
}

/// `{"mode": "previous_period" | "year_over_year" | "custom", "date_range": [d1, d2]}`.
fn parse_comparison(value: &Value) -> Result<Option<Comparison>, QueryError> {
    let bad = || {
        invalid(format!(
            "#/include/comparisons: Invalid comparison {value}: expected {{\"mode\": \"previous_period\"}}, \
             {{\"mode\": \"year_over_year\"}} or {{\"mode\": \"custom\", \"date_range\": [\"YYYY-MM-DD\", \"YYYY-MM-DD\"]}}"
        ))
    };
    let object = match value {
        Value::Null | Value::Bool(false) => return Ok(None),
        Value::Object(object) => object,
        _ => return Err(bad()),
    };
    let mode = object.get("mode").and_then(Value::as_str).ok_or_else(bad)?;
    let comparison = match mode {
        "previous_period" => Comparison::PreviousPeriod,
        "year_over_year" => Comparison::YearOverYear,
        "custom" => match parse_date_range(object.get("date_range")) {
            Ok(DateRange::Dates(from, to)) => Comparison::Custom(from, to),
            _ => return Err(bad()),
        },
        _ => return Err(bad()),
    };
    if object
        .keys()
        .any(|k| !["mode", "date_range", "match_day_of_week"].contains(&k.as_str()))
    {
        return Err(bad());
    }
    Ok(Some(comparison))
}

fn is_time(asked: &Asked) -> bool {
    matches!(asked, Asked::Time | Asked::Dimension(Dimension::Time(_)))
}

/// A list of distinct strings.
fn strings(value: Option<&Value>, field: &str, required: bool) -> Result<Vec<String>, QueryError> {
    let list = match value {
        None | Some(Value::Null) if !required => return Ok(Vec::new()),
        None | Some(Value::Null) => {
            return Err(invalid(format!(
                "#/{field}: Required property {field} was not present."
            )))
        }
        Some(Value::Array(list)) => list,
        Some(_) => return Err(invalid(format!("#/{field}: must be a list"))),
    };
    if required && list.is_empty() {
        return Err(invalid(format!("#/{field}: at least one is needed")));
    }
    let mut names: Vec<String> = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let name = item
            .as_str()
            .ok_or_else(|| invalid(format!("#/{field}/{i}: must be a string")))?;
        if names.iter().any(|n| n == name) {
            return Err(invalid(format!(
                "#/{field}: Expected items to be unique but they were not."
            )));
        }
        names.push(name.to_owned());
    }
    Ok(names)
}

fn parse_date_range(value: Option<&Value>) -> Result<DateRange, QueryError> {
    let bad = |v: &Value| invalid(format!("#/date_range: Invalid date range {v}"));
    let too_long = || {
        invalid(format!(
            "#/date_range: a date range spans at most {MAX_RANGE_DAYS} days (a century)"
        ))
    };
    let day = |(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).expect("a valid day");
    let (earliest, latest) = (day(EARLIEST), day(LATEST));
    // Instants are checked in UTC, with two days more either side: the echo writes a range of
    // days as instants in the site's zone, which must be asked again as they are.
    let margin = chrono::Duration::days(2);
    let outside = |days: [NaiveDate; 2], margin: chrono::Duration| {
        days.iter()
            .any(|d| !(earliest - margin..=latest + margin).contains(d))
            .then(|| {
                invalid(format!(
                    "#/date_range: dates must be from {earliest} to {latest}"
                ))
            })
    };
    match value {
        None | Some(Value::Null) => Err(invalid(
            "#/date_range: Required property date_range was not present.",
        )),
        Some(v @ Value::String(text)) => DateRange::parse_shortcut(text).ok_or_else(|| bad(v)),
        Some(v @ Value::Array(pair)) => match pair.as_slice() {
            [Value::String(a), Value::String(b)] => {
                if let (Ok(from), Ok(to)) = (a.parse::<NaiveDate>(), b.parse::<NaiveDate>()) {
                    if from > to {
                        return Err(invalid("#/date_range: the first date is after the second"));
                    }
                    if let Some(error) = outside([from, to], chrono::Duration::zero()) {
                        return Err(error);
                    }
                    if (to - from).num_days() + 1 > MAX_RANGE_DAYS {
                        return Err(too_long());
                    }
                    return Ok(DateRange::Dates(from, to));
                }
                match (
                    DateTime::parse_from_rfc3339(a),
                    DateTime::parse_from_rfc3339(b),
                ) {
                    (Ok(from), Ok(to)) => {
                        let utc = |t: DateTime<chrono::FixedOffset>| t.naive_utc().date();
                        if let Some(error) = outside([utc(from), utc(to)], margin) {
                            Err(error)
                        } else if to - from > chrono::Duration::days(MAX_RANGE_DAYS) {
                            Err(too_long())
                        } else if from > to {
                            Err(invalid(
                                "#/date_range: the first instant is after the second",
                            ))
                        } else {
                            Ok(DateRange::Instants(from, to))
                        }
                    }
                    _ => Err(bad(v)),
                }
            }
            _ => Err(bad(v)),
        },
        Some(v) => Err(bad(v)),
    }
}

fn parse_dimension(name: &str, at: &str) -> Result<Asked, QueryError> {
    let bad = || invalid(format!("{at}: Invalid dimension {name:?}"));
    if LATER_DIMENSIONS.contains(&name) {
        return Err(later(&format!("{at}: dimension `{name}`")));
    }
    if let Some(key) = name.strip_prefix("event:props:") {
        if key.is_empty() || key.len() > MAX_PROP_KEY_BYTES {
            return Err(bad());
        }
        return Ok(Asked::Dimension(Dimension::Prop(key.to_owned())));
    }
    let dimension = match name {
        "time" => return Ok(Asked::Time),
        "time:hour" => Dimension::Time(TimeBucket::Hour),
        "time:day" => Dimension::Time(TimeBucket::Day),
        "time:week" => Dimension::Time(TimeBucket::Week),
        "time:month" => Dimension::Time(TimeBucket::Month),
        "event:page" => Dimension::Event(EventField::Page),
        "event:name" => Dimension::Event(EventField::Name),
        "event:hostname" => Dimension::Event(EventField::Hostname),
        "event:goal" => Dimension::Goal,
        _ => {
            let field = name
                .strip_prefix("visit:")
                .and_then(|f| VisitField::ALL.into_iter().find(|v| v.name() == f))
                .ok_or_else(bad)?;
            Dimension::Visit(field)
        }
    };
    Ok(Asked::Dimension(dimension))
}

fn parse_filter(
    value: &Value,
    at: &str,
    depth: usize,
    budget: &mut usize,
) -> Result<Filter, QueryError> {
    let bad = || invalid(format!("{at}: Invalid filter {value}"));
    if depth > MAX_DEPTH {
        return Err(invalid(format!(
            "{at}: filters nest deeper than {MAX_DEPTH}"
        )));
    }
    let items = value.as_array().ok_or_else(bad)?;
    let operator = items.first().and_then(Value::as_str).ok_or_else(bad)?;
    match (operator, &items[1..]) {
        ("and" | "or", [Value::Array(parts)]) if !parts.is_empty() => {
            let parts = parts
                .iter()
                .enumerate()
                .map(|(i, p)| parse_filter(p, &format!("{at}/1/{i}"), depth + 1, budget))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if operator == "and" {
                Filter::And(parts)
            } else {
                Filter::Or(parts)
            })
        }
        ("not", [inner]) => Ok(Filter::Not(Box::new(parse_filter(
            inner,
            &format!("{at}/1"),
            depth + 1,
            budget,
        )?))),
        ("has_done" | "has_not_done", [inner]) => {
            let inner = parse_filter(inner, &format!("{at}/1"), depth + 1, budget)?;
            if contains_behavioral(&inner) {
                return Err(invalid(format!(
                    "{at}: Invalid filters. Behavioral filters (has_done, has_not_done) cannot be nested."
                )));
            }
            if inner
                .conditions()
                .iter()
                .any(|c| !matches!(c.dimension, Dimension::Event(_) | Dimension::Prop(_)))
            {
                return Err(invalid(format!(
                    "{at}: Invalid filters. Behavioral filters (has_done, has_not_done) can only be used with event dimension filters."
                )));
            }
            Ok(Filter::HasDone {
                negated: operator == "has_not_done",
                inner: Box::new(inner),
            })
        }
        (_, [Value::String(dimension), Value::Array(clauses), rest @ ..]) if rest.len() <= 1 => {
            let operator = Operator::parse(operator).ok_or_else(|| {
                invalid(format!("{at}: Unknown operator for filter {operator:?}"))
            })?;
            if dimension == "segment" {
                return Err(later(&format!("{at}: filtering by segment")));
            }
            let dimension = match parse_dimension(dimension, &format!("{at}/1"))? {
                Asked::Dimension(Dimension::Time(_)) | Asked::Time => {
                    return Err(invalid(format!("{at}: time dimensions cannot be filtered")))
                }
                Asked::Dimension(d) => d,
            };
            if dimension == Dimension::Goal {
                if depth > 1 {
                    return Err(invalid(format!(
                        "{at}: Invalid filters. Dimension `event:goal` can only be filtered at the top level."
                    )));
                }
                if !matches!(operator, Operator::Is | Operator::Contains) {
                    return Err(invalid(format!(
                        "{at}: Invalid filters. `event:goal` takes only the `is` and `contains` operators."
                    )));
                }
            }
            let case_sensitive = match rest {
                [] => true,
                [Value::Object(modifiers)] => {
                    let mut case_sensitive = true;
                    for (key, value) in modifiers {
                        match (key.as_str(), value) {
                            ("case_sensitive", Value::Bool(flag)) => case_sensitive = *flag,
                            _ => return Err(bad()),
                        }
                    }
                    if !case_sensitive
                        && matches!(operator, Operator::Matches | Operator::MatchesNot)
                    {
                        return Err(invalid(format!(
                            "{at}: Invalid filters. The case_sensitive modifier is not allowed with pattern operators ({})",
                            operator.name()
                        )));
                    }
                    case_sensitive
                }
                _ => return Err(bad()),
            };
            if clauses.is_empty() || clauses.len() > MAX_CLAUSES {
                return Err(invalid(format!(
                    "{at}: a filter takes 1 to {MAX_CLAUSES} values"
                )));
            }
            let clauses = clauses
                .iter()
                .map(|c| match c {
                    Value::String(text) if text.len() <= MAX_CLAUSE_BYTES => Ok(text.clone()),
                    Value::String(_) => Err(invalid(format!(
                        "{at}: a filter value is longer than {MAX_CLAUSE_BYTES} bytes"
                    ))),
                    _ => Err(invalid(format!("{at}: filter values must be strings"))),
                })
                .collect::<Result<Vec<_>, _>>()?;
            if dimension == Dimension::Visit(VisitField::Country)
                && matches!(operator, Operator::Is | Operator::IsNot)
                && clauses.iter().any(|c| {
                    !(c.is_empty() || (c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic())))
                })
            {
                return Err(invalid(format!(
                    "{at}: Invalid visit:country filter, visit:country needs to be a valid 2-letter country code."
                )));
            }
            *budget = budget
                .checked_sub(1)
                .ok_or_else(|| invalid(format!("more than {MAX_CONDITIONS} filter conditions")))?;
            Ok(Filter::Condition {
                operator,
                dimension,
                clauses,
                case_sensitive,
            })
        }
        _ => Err(bad()),
    }
}

impl Request {
    /// Goal filters name configured goals, and conversion rates have goals to convert to.
    fn check_goals(&self, dimensions: &[Dimension], goals: &[Goal]) -> Result<(), QueryError> {
        for condition in self.filter.iter().flat_map(Filter::conditions) {
            if *condition.dimension != Dimension::Goal || condition.operator != Operator::Is {
                continue;
            }
            for clause in condition.clauses {
                if !goals
                    .iter()
                    .any(|g| g.display_name().to_lowercase() == clause.to_lowercase())
                {
                    return Err(invalid(format!(
                        "Invalid filters. The goal `{clause}` is not configured for this site. \
                         Add it with `footfall goal add`, or in the site's `goals` in the config file."
                    )));
                }
            }
        }
        let by_goal = dimensions.contains(&Dimension::Goal)
            || self.filter.as_ref().is_some_and(Filter::mentions_goal);
        let goal_metrics: Vec<Metric> = self
            .metrics
            .iter()
            .copied()
            .filter(|m| m.is_goal_metric())
            .collect();
        for metric in &goal_metrics {
            if !by_goal {
                return Err(invalid(format!(
                    "Metric `{}` can only be queried with event:goal filters or dimensions.",
                    metric.name()
                )));
            }
            if *metric == Metric::GroupConversionRate && dimensions.is_empty() {
                return Err(invalid(
                    "Metric `group_conversion_rate` can only be queried with dimensions.",
                ));
            }
        }
        // Conversion rates drop the top-level prop conditions from their base, so a prop
        // condition anywhere else would be kept in one count and not the other.
        let top_level: Vec<&Filter> = match &self.filter {
            Some(Filter::And(parts)) => parts.iter().collect(),
            Some(other) => vec![other],
            None => Vec::new(),
        };
        let nested_prop = top_level.iter().any(|f| {
            !matches!(f, Filter::Condition { .. })
                && f.conditions()
                    .iter()
                    .any(|c| matches!(c.dimension, Dimension::Prop(_)))
        });
        if !goal_metrics.is_empty() && nested_prop {
            return Err(invalid(
                "Invalid filters. When `conversion_rate` or `group_conversion_rate` metrics are used, custom property filters can only be used on top level.",
            ));
        }
        Ok(())
    }
}

fn contains_behavioral(filter: &Filter) -> bool {
    match filter {
        Filter::HasDone { .. } => true,
        Filter::And(parts) | Filter::Or(parts) => parts.iter().any(contains_behavioral),
        Filter::Not(inner) => contains_behavioral(inner),
        Filter::Condition { .. } => false,
    }
}

fn backticked<T>(items: &[T], name: impl Fn(&T) -> String) -> String {
    items
        .iter()
        .map(|i| format!("`{}`", name(i)))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Request {
    /// Resolves the period in the site's zone (`first_event` is where `all` starts), `time`, and
    /// the default order, and checks what may be combined with what.
    pub fn plan(
        self,
        timezone: Tz,
        now: DateTime<Utc>,
        first_event: Option<DateTime<Utc>>,
        goals: &[Goal],
    ) -> Result<Planned, QueryError> {
        let period = self.date_range.resolve(now, timezone, first_event);
        let time_bucket = auto_bucket(&period);
        let dimensions: Vec<Dimension> = self
            .dimensions
            .iter()
            .map(|d| match d {
                Asked::Time => Dimension::Time(time_bucket),
                Asked::Dimension(d) => d.clone(),
            })
            .collect();
        let time_dimension = dimensions.iter().find_map(|d| match d {
            Dimension::Time(bucket) => Some(*bucket),
            _ => None,
        });

        let session_metrics: Vec<Metric> = self
            .metrics
            .iter()
            .copied()
            .filter(|m| m.is_session_metric())
            .collect();
        // Pages are the exception: visit metrics by page are those of the visits that entered on
        // it (Plausible's rule too).
        let event_dimensions: Vec<&Dimension> = dimensions
            .iter()
            .filter(|d| d.is_event_dimension() && **d != Dimension::Event(EventField::Page))
            .collect();
        if !session_metrics.is_empty() && !event_dimensions.is_empty() {
            return Err(invalid(format!(
                "Session metric(s) {} cannot be queried along with event dimension(s) {}",
                backticked(&session_metrics, |m| m.name().to_owned()),
                backticked(&event_dimensions, |d| d.name()),
            )));
        }
        if self.metrics.contains(&Metric::ViewsPerVisit)
            && self.filter.as_ref().is_some_and(Filter::mentions_page)
        {
            return Err(invalid(
                "Metric `views_per_visit` cannot be queried with a filter on `event:page`.",
            ));
        }
        let by_page = dimensions.contains(&Dimension::Event(EventField::Page))
            || self.filter.as_ref().is_some_and(Filter::mentions_page);
        if let Some(metric) = self.metrics.iter().find(|m| m.is_page_metric() && !by_page) {
            return Err(invalid(format!(
                "Metric `{}` can only be queried with event:page filters or dimensions.",
                metric.name()
            )));
        }
        self.check_goals(&dimensions, goals)?;
        if self.include_time_labels && time_dimension.is_none() {
            return Err(invalid(
                "Invalid include.time_labels: requires a time dimension.",
            ));
        }

        let mut order = Vec::new();
        for (name, descending) in &self.order_by {
            let name = if name == "time" {
                time_dimension.map_or_else(|| name.clone(), |b| b.name().to_owned())
            } else {
                name.clone()
            };
            let key = Metric::parse(&name)
                .filter(|m| self.metrics.contains(m))
                .map(OrderKey::Metric)
                .or_else(|| {
                    dimensions
                        .iter()
                        .find(|d| d.name() == name)
                        .cloned()
                        .map(OrderKey::Dimension)
                })
                .ok_or_else(|| {
                    invalid(format!(
                        "Invalid order_by entry '{{:{name}, :{}}}'. Entry is not a queried metric or dimension.",
                        if *descending { "desc" } else { "asc" }
                    ))
                })?;
            order.push(Order {
                key,
                descending: *descending,
            });
        }
        if order.is_empty() {
            if let Some(bucket) = time_dimension {
                order.push(Order {
                    key: OrderKey::Dimension(Dimension::Time(bucket)),
                    descending: false,
                });
            }
            order.push(Order {
                key: OrderKey::Metric(self.metrics[0]),
                descending: true,
            });
        }

        let found_patterns: Vec<String> = self
            .filter
            .iter()
            .flat_map(Filter::conditions)
            .filter(|c| matches!(c.operator, Operator::Matches | Operator::MatchesNot))
            .flat_map(|c| c.clauses.iter().cloned())
            .collect();
        let query = Query {
            site: self.site_id.clone(),
            timezone,
            period,
            metrics: self.metrics.clone(),
            dimensions,
            filter: self.filter.clone(),
            goals: goals.to_vec(),
            order,
            limit: self.limit,
            offset: self.offset,
        };
        let echo = self.echo(&query);
        let comparison = self.comparison.as_ref().map(|(c, _)| Query {
            period: c.period(&query.period, timezone),
            limit: MAX_LIMIT,
            offset: 0,
            ..query.clone()
        });
        Ok(Planned {
            comparison,
            query,
            patterns: found_patterns,
            time_bucket: time_dimension,
            include_time_labels: self.include_time_labels,
            include_total_rows: self.include_total_rows,
            include_imports: self.include_imports,
            echo,
        })
    }

    /// The query as it was run, in the request's own shape: a body that asks the same again.
    fn echo(&self, query: &Query) -> Value {
        let order: Vec<Value> = query
            .order
            .iter()
            .map(|o| {
                let name = match &o.key {
                    OrderKey::Metric(m) => m.name().to_owned(),
                    OrderKey::Dimension(d) => d.name(),
                };
                json!([name, if o.descending { "desc" } else { "asc" }])
            })
            .collect();
        let mut include = Map::new();
        if let Some((_, given)) = &self.comparison {
            include.insert("comparisons".to_owned(), given.clone());
        }
        for (key, on) in [
            ("imports", self.include_imports),
            ("time_labels", self.include_time_labels),
            ("total_rows", self.include_total_rows),
        ] {
            if on {
                include.insert(key.to_owned(), Value::Bool(true));
            }
        }
        json!({
            "site_id": query.site,
            "metrics": query.metrics.iter().map(|m| m.name()).collect::<Vec<_>>(),
            "date_range": date_range_echo(query),
            "filters": self.filters_json,
            "dimensions": query.dimensions.iter().map(Dimension::name).collect::<Vec<_>>(),
            "order_by": order,
            "include": include,
            "pagination": {"limit": query.limit, "offset": query.offset},
        })
    }
}

impl Planned {
    /// The queries the answer runs: the one asked, and the comparison period's when asked.
    pub fn queries(&self) -> impl Iterator<Item = &Query> {
        std::iter::once(&self.query).chain(&self.comparison)
    }

    /// Checks the patterns (with DuckDB's RE2, which ClickHouse also uses), runs the query on
    /// `events` and shapes the answer.
    #[cfg(feature = "store")]
    pub fn answer(
        &self,
        conn: &duckdb::Connection,
        events: &impl super::run::CountSource,
    ) -> Result<Value, QueryError> {
        for pattern in &self.patterns {
            conn.query_row(super::sql::pattern_check(), [pattern], |_| Ok(()))
                .map_err(|e| {
                    invalid(format!(
                        "Invalid filters. {pattern:?} is not a valid regular expression (RE2): {}",
                        e.to_string().lines().next().unwrap_or_default()
                    ))
                })?;
        }
        let result = super::run::run(events, &self.query)?;
        let mut answer = self.respond(&result);
        if let Some(compared) = &self.comparison {
            let earlier = super::run::run(events, compared)?;
            self.attach_comparison(&mut answer, &result, compared, &earlier);
        }
        Ok(answer)
    }

    /// Adds to each row the same row of the comparison period, and the change, as Plausible's
    /// dashboard API does. Time buckets pair by position (the first day with the first day);
    /// other dimensions by value. A row without a counterpart compares with nothing (zeros).
    #[cfg(feature = "store")]
    fn attach_comparison(
        &self,
        answer: &mut Value,
        result: &QueryResult,
        compared: &Query,
        earlier: &QueryResult,
    ) {
        let time = self
            .query
            .dimensions
            .iter()
            .position(|d| matches!(d, Dimension::Time(_)));
        let labels = |q: &Query| {
            self.time_bucket
                .map(|b| time_labels(q, b))
                .unwrap_or_default()
        };
        let (now_labels, then_labels) = (labels(&self.query), labels(compared));
        // A row's key: its dimensions, with the time bucket as its position among the labels.
        let key = |dims: &[String], labels: &[String]| -> Vec<String> {
            let mut key = dims.to_vec();
            if let Some(t) = time {
                key[t] = labels
                    .iter()
                    .position(|l| *l == dims[t])
                    .map_or_else(String::new, |i| i.to_string());
            }
            key
        };
        let mut then: std::collections::HashMap<Vec<String>, &super::figures::ResultRow> =
            std::collections::HashMap::new();
        for row in &earlier.rows {
            then.insert(key(&row.dimensions, &then_labels), row);
        }
        let zero = super::figures::Counts::default();
        let results = answer["results"].as_array_mut().expect("results");
        for (row, out) in result.rows.iter().zip(results.iter_mut()) {
            let k = key(&row.dimensions, &now_labels);
            let (dims, metrics) = match then.get(&k) {
                Some(old) => (old.dimensions.clone(), old.metrics.clone()),
                None => {
                    let mut dims = row.dimensions.clone();
                    if let Some(t) = time {
                        dims[t] = k[t]
                            .parse::<usize>()
                            .ok()
                            .and_then(|i| then_labels.get(i).cloned())
                            .unwrap_or_default();
                    }
                    let metrics = self
                        .query
                        .metrics
                        .iter()
                        .map(|m| super::figures::metric_value(*m, &zero, &Default::default()))
                        .collect();
                    (dims, metrics)
                }
            };
            let change: Vec<Value> = self
                .query
                .metrics
                .iter()
                .zip(row.metrics.iter().zip(&metrics))
                .map(|(metric, (new, old))| change(*metric, *new, *old))
                .collect();
            out["comparison"] = json!({
                "dimensions": dims,
                "metrics": metrics.iter().map(metric_json).collect::<Vec<_>>(),
                "change": change,
            });
        }
        answer["meta"]["comparison_date_range"] = date_range_echo(compared);
    }

    /// The answer: `results`, `meta` and the echoed `query`, in Plausible's shapes.
    pub fn respond(&self, result: &QueryResult) -> Value {
        let results: Vec<Value> = result
            .rows
            .iter()
            .map(|row| {
                json!({
                    "dimensions": row.dimensions,
                    "metrics": row.metrics.iter().map(metric_json).collect::<Vec<_>>(),
                })
            })
            .collect();
        let mut meta = Map::new();
        if self.include_imports {
            // Footfall imports nothing (yet), so there is never anything to include.
            meta.insert("imports_included".into(), Value::Bool(false));
        }
        if self.include_time_labels {
            if let Some(bucket) = self.time_bucket {
                meta.insert(
                    "time_labels".into(),
                    json!(time_labels(&self.query, bucket)),
                );
            }
        }
        if self.include_total_rows {
            meta.insert("total_rows".into(), json!(result.total_rows));
        }
        json!({"results": results, "meta": meta, "query": self.echo})
    }
}

/// A query's period as Plausible echoes it: first and last second, in the site's zone.
fn date_range_echo(query: &Query) -> Value {
    let instant = |t: DateTime<Utc>| {
        let local = t.with_timezone(&query.timezone);
        // RFC 3339 offsets are whole minutes, but a zone's local mean time before it took a
        // standard offset had seconds too (Monrovia until 1972): such an instant is written in
        // UTC, so that the echo still asks for the same period (found by `fuzz/`'s stats_query).
        if chrono::Offset::fix(local.offset()).local_minus_utc() % 60 == 0 {
            local.format("%Y-%m-%dT%H:%M:%S%:z").to_string()
        } else {
            t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
        }
    };
    let last = (query.period.to - chrono::Duration::seconds(1)).max(query.period.from);
    json!([instant(query.period.from), instant(last)])
}

fn metric_json(value: &MetricValue) -> Value {
    match value {
        MetricValue::Int(n) => json!(n),
        MetricValue::Float(x) => json!(x),
        MetricValue::Null => Value::Null,
    }
}

/// How a metric moved: a whole percentage (100 from nothing to something, 0 from nothing to
/// nothing); for bounce rate, the difference in points (null from nothing), as Plausible shows.
#[cfg(feature = "store")]
fn change(metric: Metric, new: MetricValue, old: MetricValue) -> Value {
    let number = |v: MetricValue| match v {
        MetricValue::Int(n) => Some(n as f64),
        MetricValue::Float(x) => Some(x),
        MetricValue::Null => None,
    };
    let (Some(new), Some(old)) = (number(new), number(old)) else {
        return Value::Null;
    };
    if metric == Metric::BounceRate {
        return if old == 0.0 {
            Value::Null
        } else {
            json!((new - old).round() as i64)
        };
    }
    if old == 0.0 {
        json!(if new > 0.0 { 100 } else { 0 })
    } else {
        json!(((new - old) / old * 100.0).round() as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 8, 21, 10, 0, 0).unwrap()
    }

    fn plan(body: Value) -> Result<Planned, QueryError> {
        parse(&body)?.plan(Tz::UTC, now(), None, &[])
    }

    fn error(body: Value) -> String {
        match plan(body) {
            Err(QueryError::Invalid(message)) => message,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn the_documentation_examples_parse_and_echo() {
        let planned = plan(json!({
            "site_id": "dummy.site", "metrics": ["visitors", "events"], "date_range": "7d"
        }))
        .unwrap();
        assert_eq!(
            planned.echo,
            json!({
                "site_id": "dummy.site",
                "metrics": ["visitors", "events"],
                "date_range": ["2024-08-14T00:00:00+00:00", "2024-08-20T23:59:59+00:00"],
                "filters": [],
                "dimensions": [],
                "order_by": [["visitors", "desc"]],
                "include": {},
                "pagination": {"limit": 10000, "offset": 0}
            })
        );
        let planned = plan(json!({
            "site_id": "dummy.site", "metrics": ["visitors", "events"], "date_range": "7d",
            "filters": [["is", "visit:os", ["GNU/Linux", "Mac"]]], "dimensions": ["time:day"]
        }))
        .unwrap();
        assert_eq!(
            planned.echo["order_by"],
            json!([["time:day", "asc"], ["visitors", "desc"]])
        );
        let planned = plan(json!({
            "site_id": "dummy.site", "metrics": ["visitors"], "date_range": "day",
            "dimensions": ["time"], "include": {"time_labels": true}
        }))
        .unwrap();
        assert_eq!(planned.echo["dimensions"], json!(["time:hour"]));
        let answer = planned.respond(&QueryResult {
            rows: vec![],
            total_rows: 0,
        });
        assert_eq!(answer["meta"]["time_labels"].as_array().unwrap().len(), 24);
        assert_eq!(answer["meta"]["time_labels"][1], "2024-08-21 01:00:00");
        let planned = plan(json!({
            "site_id": "dummy.site", "metrics": ["visitors"], "date_range": "7d",
            "filters": [["contains", "event:page", ["blog"], {"case_sensitive": false}],
                        ["or", [["is", "visit:country", ["EE", "US"]], ["not", ["matches", "visit:source", ["^Goo"]]]]]],
            "dimensions": ["visit:utm_medium", "event:props:is_customer"],
            "order_by": [["event:props:is_customer", "desc"]],
            "pagination": {"limit": 3, "offset": 1}, "include": {"total_rows": true}
        }))
        .unwrap();
        assert_eq!(planned.patterns, ["^Goo"]);
        assert_eq!((planned.query.limit, planned.query.offset), (3, 1));
        // Pages with their bounce rate: visit metrics go by entry page.
        let planned = plan(json!({
            "site_id": "dummy.site", "metrics": ["visitors", "bounce_rate", "visit_duration"],
            "date_range": "7d", "dimensions": ["event:page"],
            "filters": [["contains", "event:page", ["/blog"]]]
        }))
        .unwrap();
        assert!(planned.query.visits_by_entry_page());
    }

    /// The echo asks for the same period again, in a zone whose offset once had seconds too.
    #[test]
    fn the_echo_asks_for_the_same_period() {
        for tz in [
            Tz::UTC,
            Tz::Europe__Tallinn,
            Tz::Africa__Monrovia,
            Tz::Asia__Kolkata,
        ] {
            for range in [json!(["1960-03-01", "1960-03-07"]), json!("7d")] {
                let body = json!({"site_id": "s", "metrics": ["visitors"], "date_range": range});
                let planned = parse(&body).unwrap().plan(tz, now(), None, &[]).unwrap();
                let echo = planned.respond(&QueryResult {
                    rows: vec![],
                    total_rows: 0,
                });
                let again = parse(&echo["query"])
                    .unwrap()
                    .plan(tz, now(), None, &[])
                    .unwrap();
                let (was, is) = (planned.query.period, again.query.period);
                assert_eq!(was.from, is.from, "{tz} {range}: {}", echo["query"]);
                assert!((was.to - is.to).abs() <= chrono::Duration::seconds(1));
            }
        }
    }

    #[test]
    fn every_bad_query_gets_a_reason() {
        let base = json!({"site_id": "s", "metrics": ["visitors"], "date_range": "7d"});
        let with = |key: &str, value: Value| {
            let mut body = base.clone();
            body[key] = value;
            body
        };
        let cases = [
            (
                with("metrics", json!(["visitors", "baa"])),
                "#/metrics/1: Invalid metric \"baa\"",
            ),
            (
                with("metrics", json!([])),
                "#/metrics: at least one is needed",
            ),
            (
                with("metrics", json!(["visitors", "visitors"])),
                "Expected items to be unique",
            ),
            (
                with("metrics", json!(["conversion_rate"])),
                "Metric `conversion_rate` can only be queried with event:goal filters or dimensions.",
            ),
            (
                with("metrics", json!(["total_revenue"])),
                "not supported by Footfall yet",
            ),
            (
                with("metrics", json!(["time_on_page"])),
                "Metric `time_on_page` can only be queried with event:page filters or dimensions.",
            ),
            (
                with("metrics", json!(["visitors", "scroll_depth"])),
                "Metric `scroll_depth` can only be queried",
            ),
            (
                with("date_range", json!("bad_period")),
                "#/date_range: Invalid date range \"bad_period\"",
            ),
            (
                with("date_range", json!(["2024-02-01", "2024-01-01"])),
                "after the second",
            ),
            (
                with(
                    "date_range",
                    json!(["2024-01-01T00:00:00", "2024-01-02T00:00:00"]),
                ),
                "Invalid date range",
            ),
            (
                with("date_range", json!(["1900-01-01", "2000-01-02"])),
                "spans at most 36525 days",
            ),
            (
                with("date_range", json!(["0001-01-01", "9999-12-31"])),
                "dates must be from 1000-01-01 to 9998-12-31",
            ),
            (
                with("date_range", json!(["+262142-12-30", "+262142-12-31"])),
                "dates must be from",
            ),
            (
                with(
                    "date_range",
                    json!(["9999-12-31T23:59:59+00:00", "9999-12-31T23:59:59-23:59"]),
                ),
                "dates must be from",
            ),
            (
                with(
                    "date_range",
                    json!(["1900-01-01T00:00:00Z", "2000-01-03T00:00:00+00:00"]),
                ),
                "spans at most 36525 days",
            ),
            (
                with(
                    "include",
                    json!({"comparisons": {"mode": "custom", "date_range": ["0001-01-01", "9999-12-31"]}}),
                ),
                "Invalid comparison",
            ),
            (
                with("dimensions", json!(["badproperty"])),
                "#/dimensions/0: Invalid dimension \"badproperty\"",
            ),
            (
                with("dimensions", json!(["event:props:"])),
                "Invalid dimension \"event:props:\"",
            ),
            (
                with("dimensions", json!(["time:day", "time:week"])),
                "one time dimension",
            ),
            (
                with("dimensions", json!(["visit:region_name"])),
                "not supported by Footfall yet",
            ),
            (
                with("filters", json!([["is", "event:page"]])),
                "#/filters/0: Invalid filter",
            ),
            (
                with("filters", json!([["equals", "event:page", ["/"]]])),
                "Unknown operator",
            ),
            (
                with("filters", json!([["is", "time:day", ["2024-01-01"]]])),
                "time dimensions cannot be filtered",
            ),
            (
                with(
                    "filters",
                    json!([["matches", "event:page", ["^/"], {"case_sensitive": false}]]),
                ),
                "pattern operators",
            ),
            (
                with(
                    "filters",
                    json!([["is", "event:page", ["x".repeat(10_000)]]]),
                ),
                "longer than 2000 bytes",
            ),
            (
                with("filters", json!([["is", "event:page", []]])),
                "1 to 100 values",
            ),
            (
                with("filters", json!([["is", "visit:country", ["Estonia"]]])),
                "2-letter country code",
            ),
            (
                with(
                    "filters",
                    json!([["has_done", ["is", "visit:source", ["Google"]]]]),
                ),
                "can only be used with event dimension filters",
            ),
            (
                with(
                    "filters",
                    json!([["has_done", ["has_not_done", ["is", "event:page", ["/"]]]]]),
                ),
                "cannot be nested",
            ),
            (
                with("filters", json!([["is", "segment", [1]]])),
                "not supported by Footfall yet",
            ),
            (with("filters", json!([["and", []]])), "Invalid filter"),
            (
                with("order_by", json!([["bounce_rate", "desc"]])),
                "Entry is not a queried metric or dimension",
            ),
            (
                with("order_by", json!([["visitors", "up"]])),
                "Invalid value in order_by",
            ),
            (
                with("include", json!({"time_labels": true})),
                "requires a time dimension",
            ),
            (
                with("include", json!({"everything": true})),
                "#/include/everything: unknown property",
            ),
            (with("pagination", json!({"limit": 0})), "from 1 to 10000"),
            (
                with("pagination", json!({"limit": 10001})),
                "from 1 to 10000",
            ),
            (with("extra", json!(1)), "#/extra: unknown property"),
            (
                json!({"metrics": ["visitors"], "date_range": "7d"}),
                "Missing site ID",
            ),
            (json!([1, 2]), "must be a JSON object"),
        ];
        for (body, expected) in cases {
            let message = error(body.clone());
            assert!(message.contains(expected), "{body}: {message}");
        }
        let mixed = error(json!({
            "site_id": "s", "metrics": ["visitors", "bounce_rate"], "date_range": "7d",
            "dimensions": ["event:name"]
        }));
        assert_eq!(
            mixed,
            "Session metric(s) `bounce_rate` cannot be queried along with event dimension(s) `event:name`"
        );
        // Quotes and semicolons are values like any other.
        plan(with(
            "filters",
            json!([[
                "is",
                "event:page",
                ["'; DROP TABLE events; --", "\"quoted\""]
            ]]),
        ))
        .unwrap();
        // A century is the longest range.
        plan(with("date_range", json!(["1900-01-01", "2000-01-01"]))).unwrap();
        plan(with(
            "date_range",
            json!(["1900-01-01T00:00:00Z", "2000-01-02T00:00:00+00:00"]),
        ))
        .unwrap();
        let deep = (0..10).fold(json!(["is", "event:page", ["/"]]), |f, _| json!(["not", f]));
        assert!(error(with("filters", json!([deep]))).contains("deeper than"));
    }
}
