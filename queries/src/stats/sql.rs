//! The one place stats SQL is assembled. Every value (site, instants, offsets, clauses, prop
//! keys, labels) is a bound parameter (`$n`); the text holds only names from the closed enums of
//! [`super::model`] and this module's own fixed fragments.
//!
//! One statement answers a query. Its relations:
//! - `ev`: the site's events in the period.
//! - `v`: the visits whose events are in the period or which started in it, one row each, whole:
//!   read from the visit window ([`visit_window`]), which holds every event of such a visit.
//!   A visit has the attributes of its first event (entry page and exit page from its first and
//!   last pageview), its start, length, pageviews, and interactions (interactive events besides
//!   pageviews and engagement reports). Only the columns the query reads are computed, and `v`
//!   not at all when it reads none.
//! - `m`: the events that match the filter, each with its visit's attributes when the
//!   dimensions or the filter read them (the join is skipped otherwise).
//! - `em`: event metrics per group of matching events.
//! - `ew`, `ms`: the visit window's events, and the visits with a matching event among them
//!   (only with a filter and visit metrics).
//! - `sm`: visit metrics per group of the visits that started in the period with a matching
//!   event (every one when there is no filter; only when asked for), where a visit falls in the
//!   time bucket it started in and, by page, under the page it entered on. Counting a visit where
//!   it started, whole, is what lets counts over days add up (see [`super::rollup`]).
//! - `sd`, `sg`: page metrics (only when asked for): the deepest scroll of each visit on each
//!   page, from the matching engagement reports, summed per group.
//!
//! Rows come back as dimension values (text) and raw counts; the metrics' arithmetic (rates,
//! averages, rounding) happens in Rust, in [`super::figures`].
//!
//! Values are [`Param`]s, which know no database driver: this module builds without DuckDB (the
//! fuzz targets do), and a driver turns each into its own value in one place (`super::bind` for
//! DuckDB).

use chrono::{DateTime, NaiveDate, Utc};

use super::goal::Goal;
use super::model::{
    Dimension, EventField, Filter, Metric, Operator, Period, Query, TimeBucket, VisitField, NO_PROP,
};
use super::period::{offset_steps, visit_window};

/// The value of one `$n` parameter. Every value a statement holds is one of these, so a backend
/// binds (or, one that cannot bind, escapes) values in one function over this closed set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    Text(String),
    /// A `BIGINT`.
    Int(i64),
    /// A `DATE`.
    Date(NaiveDate),
    /// A `TIMESTAMP` (UTC, to the microsecond).
    Timestamp(DateTime<Utc>),
}

/// SQL text and the values of its `$n` parameters, in order (none for ClickHouse, whose
/// statements carry their values as literals).
#[derive(Debug, Clone)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<Param>,
}

/// The SQL a statement is written in. DuckDB binds values; ClickHouse 18.16 cannot, so its
/// statements carry them as literals from `clickhouse::literal::param`, the one function that
/// writes a value into ClickHouse SQL. The two differ in more than values (docs/clickhouse.md
/// maps every construct): 18.16 has no CTEs, so each relation is read as a subquery where it is
/// used; no `FILTER`, so `countIf` and friends; one join per `SELECT`; instants as microseconds
/// (`ts_us`, exact, beside the whole-second `ts` that the index and partitions are on); time
/// zones passed to every date function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    DuckDb,
    ClickHouse,
}

/// The columns of a result row, after the dimensions.
pub const COUNT_COLUMNS: [&str; 12] = [
    "visitors",
    "visits",
    "pageviews",
    "events",
    "sessions",
    "bounced",
    "duration_us",
    "visit_pageviews",
    "engaged_ms",
    "engaged_visits",
    "scroll_sum",
    "scroll_pairs",
];

/// The columns of the events relations `ev` and `ew`: none that a visit column is also named.
/// (ClickHouse: `ts_us` for `ts`, and a Nested `props` read as its two arrays.)
const EVENT_COLUMNS: &str = "ts, name, path, hostname, visitor_id, session_id, interactive, \
     props, engaged_ms, scroll_depth";
const CLICKHOUSE_EVENT_COLUMNS: &str = "ts_us, name, path, hostname, visitor_id, session_id, \
     interactive, props.key, props.value, engaged_ms, scroll_depth";

struct Builder<'q> {
    dialect: Dialect,
    params: Vec<Param>,
    /// The site's goals, for `event:goal`.
    goals: &'q [Goal],
    /// The relations defined so far, in order: `(name, body, materialized)`.
    relations: Vec<(&'static str, String, bool)>,
}

impl<'q> Builder<'q> {
    fn new(dialect: Dialect, goals: &'q [Goal]) -> Self {
        Builder {
            dialect,
            params: Vec::new(),
            goals,
            relations: Vec::new(),
        }
    }

    fn clickhouse(&self) -> bool {
        self.dialect == Dialect::ClickHouse
    }

    /// Binds a value and returns its placeholder (DuckDB), or writes it as a literal through
    /// the one escaping function (ClickHouse).
    fn bind(&mut self, value: Param) -> String {
        if self.clickhouse() {
            return crate::clickhouse::literal::param(&value);
        }
        self.params.push(value);
        format!("${}", self.params.len())
    }

    fn text(&mut self, value: &str) -> String {
        self.bind(Param::Text(value.to_owned()))
    }

    fn date(&mut self, day: NaiveDate) -> String {
        self.bind(Param::Date(day))
    }

    fn instant(&mut self, t: DateTime<Utc>) -> String {
        self.bind(Param::Timestamp(t))
    }

    /// Defines a relation: one of DuckDB's `WITH` list, or a subquery ClickHouse reads in place.
    fn define(&mut self, name: &'static str, body: String) {
        self.relations.push((name, body, false));
    }

    /// A relation DuckDB computes once (`AS MATERIALIZED`).
    fn define_materialized(&mut self, name: &'static str, body: String) {
        self.relations.push((name, body, true));
    }

    /// A defined relation where a `FROM` or `JOIN` reads it.
    fn read(&self, name: &str) -> String {
        if !self.clickhouse() {
            return name.to_owned();
        }
        let (_, body, _) = self
            .relations
            .iter()
            .find(|(n, _, _)| *n == name)
            .expect("relations are defined before they are read");
        format!("({body}) AS {name}")
    }

    /// DuckDB's `WITH` clause of every relation defined (nothing for ClickHouse).
    fn with_clause(&self) -> String {
        if self.clickhouse() || self.relations.is_empty() {
            return String::new();
        }
        let defined: Vec<String> = self
            .relations
            .iter()
            .map(|(name, body, materialized)| {
                let how = if *materialized { " MATERIALIZED" } else { "" };
                format!("{name} AS{how} ({body})")
            })
            .collect();
        format!("WITH {} ", defined.join(", "))
    }

    /// The events table.
    fn events(&self) -> &'static str {
        match self.dialect {
            Dialect::DuckDb => "events",
            Dialect::ClickHouse => "footfall.events",
        }
    }

    /// The events' time column as the statements compare and order it: a `TIMESTAMP` (DuckDB),
    /// or microseconds since the epoch (ClickHouse's `ts_us`).
    fn ts(&self) -> &'static str {
        match self.dialect {
            Dialect::DuckDb => "ts",
            Dialect::ClickHouse => "ts_us",
        }
    }

    fn event_columns(&self) -> &'static str {
        match self.dialect {
            Dialect::DuckDb => EVENT_COLUMNS,
            Dialect::ClickHouse => CLICKHOUSE_EVENT_COLUMNS,
        }
    }

    /// A site's events in `[from, to)`, where `from` and `to` are already bound. ClickHouse
    /// also gets the whole seconds around them on `ts`, which its primary key and partitions are
    /// on; the exact bounds are on `ts_us`.
    fn in_range(
        &mut self,
        site: &str,
        (from, to): (DateTime<Utc>, DateTime<Utc>),
        (bound_from, bound_to): (&str, &str),
    ) -> String {
        let ts = self.ts();
        let exact = format!("site = {site} AND {ts} >= {bound_from} AND {ts} < {bound_to}");
        if !self.clickhouse() {
            return exact;
        }
        let second = |b: &mut Self, t: DateTime<Utc>| b.bind(Param::Int(t.timestamp()));
        let (first, last) = (second(self, from), second(self, to));
        format!("{exact} AND ts >= toDateTime({first}, 'UTC') AND ts <= toDateTime({last}, 'UTC')")
    }

    fn truth(&self, value: bool) -> &'static str {
        match (self.dialect, value) {
            (Dialect::DuckDb, true) => "true",
            (Dialect::DuckDb, false) => "false",
            (Dialect::ClickHouse, true) => "1",
            (Dialect::ClickHouse, false) => "0",
        }
    }

    fn count_if(&self, condition: &str) -> String {
        match self.dialect {
            Dialect::DuckDb => format!("count(*) FILTER (WHERE {condition})"),
            Dialect::ClickHouse => format!("countIf({condition})"),
        }
    }

    /// A sum over the rows where `condition` holds, 0 when none does, as a 64-bit integer.
    fn sum_if(&self, value: &str, condition: &str) -> String {
        match self.dialect {
            Dialect::DuckDb => {
                format!("CAST(coalesce(sum({value}) FILTER (WHERE {condition}), 0) AS BIGINT)")
            }
            Dialect::ClickHouse => format!("toInt64(coalesce(sumIf({value}, {condition}), 0))"),
        }
    }

    fn distinct_if(&self, value: &str, condition: &str) -> String {
        match self.dialect {
            Dialect::DuckDb => format!("count(DISTINCT {value}) FILTER (WHERE {condition})"),
            Dialect::ClickHouse => format!("uniqExactIf({value}, {condition})"),
        }
    }

    /// A sum as a 64-bit integer, 0 over no rows.
    fn sum(&self, value: &str) -> String {
        match self.dialect {
            Dialect::DuckDb => format!("CAST(coalesce(sum({value}), 0) AS BIGINT)"),
            Dialect::ClickHouse => format!("toInt64(coalesce(sum({value}), 0))"),
        }
    }

    /// `value` on a visit's first event.
    fn first(&self, value: &str) -> String {
        match self.dialect {
            Dialect::DuckDb => format!("arg_min({value}, ts)"),
            Dialect::ClickHouse => format!("argMin({value}, ts_us)"),
        }
    }

    /// `value` on a visit's first (or last) pageview, `''` when it has none.
    fn on_pageview(&self, value: &str, last: bool) -> String {
        match (self.dialect, last) {
            (Dialect::DuckDb, false) => {
                format!("coalesce(arg_min({value}, ts) FILTER (WHERE name = 'pageview'), '')")
            }
            (Dialect::DuckDb, true) => {
                format!("coalesce(arg_max({value}, ts) FILTER (WHERE name = 'pageview'), '')")
            }
            (Dialect::ClickHouse, false) => format!("argMinIf({value}, ts_us, name = 'pageview')"),
            (Dialect::ClickHouse, true) => format!("argMaxIf({value}, ts_us, name = 'pageview')"),
        }
    }

    /// A visit's length, in microseconds.
    fn duration(&self) -> &'static str {
        match self.dialect {
            Dialect::DuckDb => "epoch_us(max(ts)) - epoch_us(min(ts))",
            Dialect::ClickHouse => "toInt64(max(ts_us)) - toInt64(min(ts_us))",
        }
    }

    /// Lower case, beyond ASCII (ClickHouse's `lower` is ASCII only).
    fn lower(&self, value: &str) -> String {
        match self.dialect {
            Dialect::DuckDb => format!("lower({value})"),
            Dialect::ClickHouse => format!("lowerUTF8({value})"),
        }
    }

    /// Whether `value` holds `part` (already bound).
    fn contains(&self, value: &str, part: &str) -> String {
        match self.dialect {
            Dialect::DuckDb => format!("contains({value}, {part})"),
            Dialect::ClickHouse => format!("(position({value}, {part}) > 0)"),
        }
    }

    fn starts_with(&self, value: &str, part: &str) -> String {
        match self.dialect {
            Dialect::DuckDb => format!("starts_with({value}, {part})"),
            Dialect::ClickHouse => format!("startsWith({value}, {part})"),
        }
    }

    fn ends_with(&self, value: &str, part: &str) -> String {
        match self.dialect {
            Dialect::DuckDb => format!("ends_with({value}, {part})"),
            Dialect::ClickHouse => format!("endsWith({value}, {part})"),
        }
    }

    /// Whether RE2 `pattern` matches somewhere in `value`. ClickHouse lets `.` match a newline
    /// and DuckDB does not, so its patterns start with `(?-s)` (pitfall 6).
    fn matches(&mut self, value: &str, pattern: &str) -> String {
        match self.dialect {
            Dialect::DuckDb => format!("regexp_matches({value}, {})", self.text(pattern)),
            Dialect::ClickHouse => {
                format!("match({value}, {})", self.text(&format!("(?-s){pattern}")))
            }
        }
    }

    /// Whether RE2 `pattern` matches the whole of `value`.
    fn matches_whole(&mut self, value: &str, pattern: &str) -> String {
        match self.dialect {
            Dialect::DuckDb => format!("regexp_full_match({value}, {})", self.text(pattern)),
            Dialect::ClickHouse => format!(
                "match({value}, {})",
                self.text(&format!("(?-s)^(?:{pattern})$"))
            ),
        }
    }

    /// A join of two relations; ClickHouse spells out that every match is kept (`ALL`).
    fn join(&self, kind: &str) -> String {
        match self.dialect {
            Dialect::DuckDb => kind.to_owned(),
            Dialect::ClickHouse if kind == "CROSS JOIN" => kind.to_owned(),
            Dialect::ClickHouse => format!("ALL {kind}"),
        }
    }
}

/// The statement that computes `query`'s counts grouped by `dimensions` (the query's own, or
/// none for its totals), over the part `piece` of its period (the whole of it, or the hours
/// that daily rollups do not hold). `with_visits`: compute the visit metrics too.
pub fn statement(
    query: &Query,
    dimensions: &[Dimension],
    with_visits: bool,
    piece: &Period,
) -> Statement {
    statement_in(Dialect::DuckDb, query, dimensions, with_visits, piece)
}

/// [`statement`], in `dialect`.
pub fn statement_in(
    dialect: Dialect,
    query: &Query,
    dimensions: &[Dimension],
    with_visits: bool,
    piece: &Period,
) -> Statement {
    let mut b = Builder::new(dialect, &query.goals);
    let site = b.text(&query.site);
    let (period_from, period_to) = (b.instant(piece.from), b.instant(piece.to));
    let scope = b.in_range(&site, (piece.from, piece.to), (&period_from, &period_to));

    // Only the visit columns the query reads are computed, and visits not at all when it reads
    // none: most of a query's time goes into building them.
    let dim_fields: Vec<VisitField> = dimensions
        .iter()
        .filter_map(|d| match d {
            Dimension::Visit(field) => Some(*field),
            _ => None,
        })
        .collect();
    let filter_fields: Vec<VisitField> = query.filter.as_ref().map_or(Vec::new(), |f| {
        f.conditions()
            .iter()
            .filter_map(|c| match c.dimension {
                Dimension::Visit(field) => Some(*field),
                _ => None,
            })
            .collect()
    });
    // Events need their visit's columns when dimensions or the filter read them, except the
    // visitor's own (location, device, browser, OS), which every event of a visit carries alike:
    // those are read from the event, with no join.
    let event_fields: Vec<VisitField> = dim_fields.iter().chain(&filter_fields).copied().collect();
    let joined = event_fields.iter().any(|f| !f.is_per_visitor());
    let by_entry = with_visits && query.visits_by_entry_page();
    // The visits with a matching event are found with the visit's columns when the filter reads
    // any but the visitor's own, or entry pages.
    let visits_joined = by_entry || filter_fields.iter().any(|f| !f.is_per_visitor());
    let mut fields = Vec::new();
    if joined {
        fields.extend(&event_fields);
    }
    if with_visits {
        fields.extend(&dim_fields);
        if visits_joined {
            fields.extend(&filter_fields);
        }
        if by_entry {
            fields.push(VisitField::EntryPage);
        }
    }
    // The columns the events relations read from the event itself, when they are not joined.
    let own_columns = |read: &[VisitField], joined: bool| -> String {
        if joined {
            return String::new();
        }
        VisitField::ALL
            .into_iter()
            .filter(|f| read.contains(f))
            .map(|f| format!(", {}", f.name()))
            .collect()
    };
    let ev_columns = own_columns(&event_fields, joined);
    let ew_columns = own_columns(&filter_fields, visits_joined);
    let event_columns = b.event_columns();
    let events = b.events();
    b.define(
        "ev",
        format!("SELECT {event_columns}{ev_columns} FROM {events} WHERE {scope}"),
    );
    // Each visit column as (expression, name).
    let mut visit_columns: Vec<(String, String)> = Vec::new();
    for field in VisitField::ALL.into_iter().filter(|f| fields.contains(f)) {
        let name = field.name().to_owned();
        match field {
            VisitField::EntryPage => visit_columns.push((b.on_pageview("path", false), name)),
            VisitField::ExitPage => visit_columns.push((b.on_pageview("path", true), name)),
            VisitField::EntryPageHostname => {
                visit_columns.push((b.on_pageview("hostname", false), name));
            }
            VisitField::ExitPageHostname => {
                visit_columns.push((b.on_pageview("hostname", true), name));
            }
            VisitField::Channel => {
                let medium = b.lower("utm_medium");
                let utm_source = b.lower("utm_source");
                let campaign = b.lower("utm_campaign");
                for (value, column) in [
                    ("source", "ch_source"),
                    (medium.as_str(), "ch_medium"),
                    (utm_source.as_str(), "ch_utm_source"),
                    (campaign.as_str(), "ch_campaign"),
                    ("click_id", "ch_click"),
                ] {
                    visit_columns.push((b.first(value), column.to_owned()));
                }
            }
            other => visit_columns.push((b.first(other.name()), name)),
        }
    }
    let channel = fields
        .contains(&VisitField::Channel)
        .then(|| channel_sql(&mut b));
    if with_visits {
        let ts = b.ts();
        visit_columns.extend([
            (format!("min({ts})"), "started".to_owned()),
            (b.duration().to_owned(), "duration_us".to_owned()),
            (
                b.count_if("name = 'pageview'"),
                "visit_pageviews".to_owned(),
            ),
            (
                b.count_if("interactive AND name NOT IN ('pageview', 'engagement')"),
                "interactions".to_owned(),
            ),
        ]);
    }
    // The visit window is bound only when visits are read: a parameter bound but not used is
    // an error.
    let window = if visit_columns.is_empty() {
        String::new()
    } else {
        let window = visit_window(piece);
        let (from, to) = (b.instant(window.from), b.instant(window.to));
        b.in_range(&site, (window.from, window.to), (&from, &to))
    };
    let filter = match &query.filter {
        Some(filter) => filter_sql(&mut b, filter),
        None => b.truth(true).to_owned(),
    };
    // Time buckets need the zone's offsets; a parameter bound but not used is an error, so
    // they are bound only when a bucket is asked for.
    let bucketed = dimensions.iter().any(|d| matches!(d, Dimension::Time(_)));
    let weekly = dimensions.contains(&Dimension::Time(TimeBucket::Week));
    let steps = if bucketed {
        offset_steps(query.timezone, piece)
    } else {
        Vec::new()
    };
    let ts = b.ts();
    let local_ts = if bucketed {
        local_time_sql(&mut b, &steps, ts)
    } else {
        String::new()
    };
    let local_started = if bucketed && with_visits {
        local_time_sql(&mut b, &steps, "started")
    } else {
        String::new()
    };
    let week_floor = if weekly {
        week_floor(&mut b, query)
    } else {
        String::new()
    };

    let mut event_dims = Vec::new();
    let mut visit_dims = Vec::new();
    for (i, dimension) in dimensions.iter().enumerate() {
        event_dims.push(format!(
            "{} AS d{i}",
            dimension_sql(&mut b, dimension, &local_ts, &week_floor)
        ));
        if with_visits {
            let dimension = if by_entry && *dimension == Dimension::Event(EventField::Page) {
                &Dimension::Visit(VisitField::EntryPage)
            } else {
                dimension
            };
            visit_dims.push(format!(
                "{} AS d{i}",
                dimension_sql(&mut b, dimension, &local_started, &week_floor)
            ));
        }
    }
    let dim_names: Vec<String> = (0..dimensions.len()).map(|i| format!("d{i}")).collect();
    let select_dims = |dims: &[String]| {
        if dims.is_empty() {
            String::new()
        } else {
            format!("{}, ", dims.join(", "))
        }
    };
    // Grouped by the dimensions (and `more`), or not at all.
    let group_by = |more: &[&str]| {
        let keys: Vec<&str> = dim_names
            .iter()
            .map(String::as_str)
            .chain(more.iter().copied())
            .collect();
        if keys.is_empty() {
            String::new()
        } else {
            format!(" GROUP BY {}", keys.join(", "))
        }
    };

    if !visit_columns.is_empty() {
        // ClickHouse's aliases are global in a SELECT: an aggregate named as a column that
        // another aggregate of the same SELECT reads would be read in its place (pitfall 1), so
        // there the visit's columns are named `v_…` and renamed one level up.
        let prefix = if b.clickhouse() { "v_" } else { "" };
        let aggregates: Vec<String> = visit_columns
            .iter()
            .map(|(expr, name)| format!("{expr} AS {prefix}{name}"))
            .collect();
        let mut grouped = format!(
            "SELECT session_id, {columns} FROM {events} WHERE {window} GROUP BY session_id",
            columns = aggregates.join(", ")
        );
        if b.clickhouse() {
            let renamed: Vec<String> = visit_columns
                .iter()
                .map(|(_, name)| format!("{prefix}{name} AS {name}"))
                .collect();
            grouped = format!("SELECT session_id, {} FROM ({grouped})", renamed.join(", "));
        }
        match &channel {
            // A filter on the channel is made once for the visits: left to the optimizer, the
            // large CASE of `channel_sql` is pushed into the filter, once for each value it
            // names, which took DuckDB hundreds of milliseconds to plan, and with a few values
            // more memory than its limit (found by the random filters of drill 9).
            Some(channel) if filter_fields.contains(&VisitField::Channel) => b.define_materialized(
                "v",
                format!("SELECT *, {channel} AS channel FROM ({grouped})"),
            ),
            Some(channel) => b.define(
                "v",
                format!("SELECT *, {channel} AS channel FROM ({grouped})"),
            ),
            None => b.define("v", grouped),
        }
    }
    let matching = if joined {
        format!(
            "SELECT * FROM {ev} {join} {v} USING (session_id) WHERE {filter}",
            ev = b.read("ev"),
            join = b.join("JOIN"),
            v = b.read("v"),
        )
    } else {
        format!("SELECT * FROM {} WHERE {filter}", b.read("ev"))
    };
    b.define("m", matching);
    // By goal, an event counts once under each goal it reaches: `mg` holds one row per (event,
    // goal reached).
    let by_goal = dimensions.contains(&Dimension::Goal);
    let counted = if by_goal {
        let mut reached: Vec<String> = Vec::new();
        for goal in &query.goals {
            let name = b.text(&goal.display_name());
            let condition = goal_sql(&mut b, goal);
            reached.push(format!(
                "SELECT *, {name} AS goal FROM {} WHERE {condition}",
                b.read("m")
            ));
        }
        if reached.is_empty() {
            reached.push(format!(
                "SELECT *, '' AS goal FROM {} WHERE {}",
                b.read("m"),
                b.truth(false)
            ));
        }
        b.define("mg", reached.join(" UNION ALL "));
        "mg"
    } else {
        "m"
    };
    // Each page metric reads the engagement reports its own way: only those asked for are made.
    let with_time = query.metrics.contains(&Metric::TimeOnPage);
    let with_scroll = query.metrics.contains(&Metric::ScrollDepth);
    // ClickHouse aggregates on the shards when a SELECT reads the Distributed table itself: each
    // shard sends its groups' partial counts instead of its rows. So there, when the matching
    // events need neither their visits nor goals, `em` reads the events table directly.
    let em_from = if b.clickhouse() && !joined && !by_goal {
        format!("{events} WHERE {scope} AND ({filter})")
    } else {
        b.read(counted)
    };
    let em = format!(
        "SELECT {event_dims}{visitor_count} AS visitors, {visit_count} AS visits, \
           {pageviews} AS pageviews, {events_count} AS events{engaged} \
         FROM {from}{group_by}",
        event_dims = select_dims(&event_dims),
        // Distinct counts are most of a query's cost: only those asked for are made.
        visitor_count = if query
            .metrics
            .iter()
            .any(|m| matches!(m, Metric::Visitors | Metric::Percentage) || m.is_goal_metric())
        {
            "count(DISTINCT visitor_id)"
        } else {
            "0"
        },
        visit_count =
            if query.metrics.contains(&Metric::Visits) && !query.visits_are_whole(dimensions) {
                "count(DISTINCT session_id)"
            } else {
                "0"
            },
        pageviews = b.count_if("name = 'pageview'"),
        events_count = b.count_if("name <> 'engagement'"),
        engaged = if with_time {
            format!(
                ", {} AS sum_engaged_ms, {} AS engaged_visits",
                b.sum_if("engaged_ms", "name = 'engagement'"),
                b.distinct_if("session_id", "name = 'engagement'"),
            )
        } else {
            String::new()
        },
        from = em_from,
        group_by = group_by(&[]),
    );
    b.define("em", em);
    // Joins are written left to right; ClickHouse 18.16 takes one per SELECT, so there each
    // join so far becomes a subquery of the next.
    let using = if dim_names.is_empty() {
        String::new()
    } else {
        format!(" USING ({})", dim_names.join(", "))
    };
    let mut from = b.read("em");
    // The columns of the joins so far. ClickHouse's subquery names them: 18.16's `SELECT *` over
    // a full join also yields the right side's key (`sm.d0`), and its two streams then differ.
    let mut carried: Vec<&str> = dim_names.iter().map(String::as_str).collect();
    carried.extend(["visitors", "visits", "pageviews", "events"]);
    if with_time {
        carried.extend(["sum_engaged_ms", "engaged_visits"]);
    }
    let join_to = |b: &Builder,
                   carried: &mut Vec<&str>,
                   from: String,
                   kind: &str,
                   right: &str,
                   columns: &[&'static str]| {
        let kind = if dim_names.is_empty() {
            b.join("CROSS JOIN")
        } else {
            b.join(kind)
        };
        carried.extend(columns);
        let joined = format!("{from} {kind} {}{using}", b.read(right));
        if b.clickhouse() {
            format!("(SELECT {} FROM {joined})", carried.join(", "))
        } else {
            joined
        }
    };
    let mut columns = vec![
        "coalesce(visitors, 0)",
        "coalesce(visits, 0)",
        "coalesce(pageviews, 0)",
        "coalesce(events, 0)",
    ];
    if with_visits {
        // The visits the metrics are over: those that started in the period with a matching
        // event anywhere in the visit, or (by entry page) with an event matching the filter read
        // with entry pages for pages. Without a filter, every visit that started in the period.
        let visits_of = match &query.filter {
            None => String::new(),
            Some(filter) => {
                let visit_filter = if by_entry {
                    filter.pages_as_entry_pages()
                } else {
                    filter.clone()
                };
                let visit_filter = filter_sql(&mut b, &visit_filter);
                b.define(
                    "ew",
                    format!("SELECT {event_columns}{ew_columns} FROM {events} WHERE {window}"),
                );
                let ms = if visits_joined {
                    format!(
                        "SELECT session_id FROM {ew} {join} {v} USING (session_id) \
                         WHERE {visit_filter}",
                        ew = b.read("ew"),
                        join = b.join("JOIN"),
                        v = b.read("v"),
                    )
                } else {
                    format!(
                        "SELECT session_id FROM {} WHERE {visit_filter}",
                        b.read("ew")
                    )
                };
                b.define("ms", ms);
                format!(
                    " AND session_id IN (SELECT session_id FROM {})",
                    b.read("ms")
                )
            }
        };
        let sm = format!(
            "SELECT {visit_dims}count(*) AS sessions, \
               {bounced} AS bounced, \
               {duration} AS sum_duration_us, \
               {pageviews} AS sum_visit_pageviews \
             FROM {v} WHERE started >= {period_from} AND started < {period_to}{visits_of}\
             {group_by}",
            visit_dims = select_dims(&visit_dims),
            bounced = b.count_if("visit_pageviews = 1 AND interactions = 0"),
            duration = b.sum("duration_us"),
            pageviews = b.sum("visit_pageviews"),
            v = b.read("v"),
            group_by = group_by(&[]),
        );
        b.define("sm", sm);
        from = join_to(
            &b,
            &mut carried,
            from,
            "FULL OUTER JOIN",
            "sm",
            &[
                "sessions",
                "bounced",
                "sum_duration_us",
                "sum_visit_pageviews",
            ],
        );
        columns.extend([
            "coalesce(sessions, 0)",
            "coalesce(bounced, 0)",
            "coalesce(sum_duration_us, 0)",
            "coalesce(sum_visit_pageviews, 0)",
        ]);
    } else {
        columns.extend(["0", "0", "0", "0"]);
    }
    if with_time {
        columns.extend(["coalesce(sum_engaged_ms, 0)", "coalesce(engaged_visits, 0)"]);
    } else {
        columns.extend(["0", "0"]);
    }
    if with_scroll {
        // The deepest scroll of each visit on each page, then their sum and number per group.
        let sd = format!(
            "SELECT {event_dims}session_id AS scroll_visit, path AS scroll_page, \
               max(scroll_depth) AS depth \
             FROM {counted} WHERE name = 'engagement' AND scroll_depth IS NOT NULL\
             {group_by}",
            event_dims = select_dims(&event_dims),
            counted = b.read(counted),
            group_by = group_by(&["scroll_visit", "scroll_page"]),
        );
        b.define("sd", sd);
        let sg = format!(
            "SELECT {outer_dims}{sum} AS scroll_sum, count(*) AS scroll_pairs \
             FROM {sd}{group_by}",
            outer_dims = select_dims(&dim_names),
            sum = b.sum("depth"),
            sd = b.read("sd"),
            group_by = group_by(&[]),
        );
        b.define("sg", sg);
        from = join_to(
            &b,
            &mut carried,
            from,
            "LEFT JOIN",
            "sg",
            &["scroll_sum", "scroll_pairs"],
        );
        columns.extend(["coalesce(scroll_sum, 0)", "coalesce(scroll_pairs, 0)"]);
    } else {
        columns.extend(["0", "0"]);
    }
    let labels: Vec<String> = dimensions
        .iter()
        .zip(&dim_names)
        .enumerate()
        .map(|(i, (dimension, name))| format!("{} AS l{i}", label_sql(&b, dimension, name)))
        .collect();
    // Named, so that ClickHouse's rows (JSON objects) can be read by name.
    let columns: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} AS c{i}"))
        .collect();
    let settings = if b.clickhouse() {
        // Visits are whole on a shard (sharded by session), so a subquery over the events met
        // inside a distributed read can read the shard's own part: exact, and the only way a
        // newer server's pushed-down `IN` is not refused as double-distributed.
        " SETTINGS distributed_product_mode = 'local'"
    } else {
        ""
    };
    let sql = format!(
        "{with}SELECT {}{} FROM {from}{settings}",
        select_dims(&labels),
        columns.join(", "),
        with = b.with_clause(),
    );
    Statement {
        sql,
        params: b.params,
    }
}

/// Where the first week bucket starts: the period's own start (the whole period's, whatever the
/// piece), so a week cut by the period is labelled by its first day in it.
fn week_floor(b: &mut Builder, query: &Query) -> String {
    let start = super::period::local_time(query.timezone, query.period.from);
    match b.dialect {
        Dialect::DuckDb => b.instant(start.and_utc()),
        // ClickHouse's weeks are dates (`toMonday`); the label is the floor's date either way.
        Dialect::ClickHouse => b.date(start.date()),
    }
}

/// The rows that roll up the UTC days of `days` (whole days) for one dimension (`None`: the
/// totals): by definition, the counts of the query `[time:day, dimension]` over those days in
/// UTC, from [`statement`] itself, so rollups and counts from events cannot drift apart.
pub fn rollup_insert(site: &str, days: &Period, dimension: Option<&Dimension>) -> Statement {
    let mut dimensions = vec![Dimension::Time(TimeBucket::Day)];
    dimensions.extend(dimension.cloned());
    let query = Query {
        site: site.to_owned(),
        timezone: chrono_tz::Tz::UTC,
        period: *days,
        metrics: vec![Metric::Visitors, Metric::BounceRate],
        dimensions: dimensions.clone(),
        filter: None,
        goals: Vec::new(),
        order: Vec::new(),
        limit: 0,
        offset: 0,
    };
    // Visits split by an event dimension other than the page have no meaning (a visit has many
    // names and hostnames); their rollup rows hold event counts only.
    let with_visits = !dimension
        .is_some_and(|d| d.is_event_dimension() && *d != Dimension::Event(EventField::Page));
    let inner = statement(&query, &dimensions, with_visits, days);
    let mut b = Builder::new(Dialect::DuckDb, &[]);
    b.params = inner.params;
    let site = b.text(site);
    let name = b.text(&dimension.map(Dimension::name).unwrap_or_default());
    let (value, value_column) = if dimension.is_some() {
        ("value", "value, ")
    } else {
        ("''", "")
    };
    let sql = format!(
        "INSERT INTO rollups \
         SELECT {site}, CAST(day AS DATE), {name}, {value}, visitors, pageviews, events, \
           sessions, bounced, duration_us, visit_pageviews \
         FROM ({inner}) AS r(day, {value_column}{counts})",
        inner = inner.sql,
        counts = COUNT_COLUMNS.join(", "),
    );
    Statement {
        sql,
        params: b.params,
    }
}

/// The rollup counts of the UTC days `[from, to)`, summed per group of `dimensions` (at most a
/// day, week or month bucket in UTC and one dimension that is rolled up): rows shaped as
/// [`statement`]'s, with zeros for what rollups do not hold.
pub fn rollup_read(
    query: &Query,
    dimensions: &[Dimension],
    from: NaiveDate,
    to: NaiveDate,
) -> Statement {
    let mut b = Builder::new(Dialect::DuckDb, &[]);
    let site = b.text(&query.site);
    let rolled = dimensions.iter().find(|d| !matches!(d, Dimension::Time(_)));
    let name = b.text(&rolled.map(Dimension::name).unwrap_or_default());
    let (from, to) = (b.date(from), b.date(to));
    let week_floor = if dimensions.contains(&Dimension::Time(TimeBucket::Week)) {
        week_floor(&mut b, query)
    } else {
        String::new()
    };
    let mut columns = Vec::new();
    let mut labels = Vec::new();
    for (i, dimension) in dimensions.iter().enumerate() {
        let column = match dimension {
            Dimension::Time(_) => {
                dimension_sql(&mut b, dimension, "CAST(day AS TIMESTAMP)", &week_floor)
            }
            _ => "value".to_owned(),
        };
        columns.push(format!("{column} AS d{i}, "));
        labels.push(format!("{}, ", label_sql(&b, dimension, &format!("d{i}"))));
    }
    let sums: Vec<String> = COUNT_COLUMNS
        .iter()
        .map(|c| match *c {
            "visitors" | "pageviews" | "events" | "sessions" | "bounced" | "duration_us"
            | "visit_pageviews" => format!("CAST(coalesce(sum({c}), 0) AS BIGINT)"),
            _ => "0".to_owned(),
        })
        .collect();
    let sql = format!(
        "SELECT {labels}{sums} FROM (\
           SELECT {columns}visitors, pageviews, events, sessions, bounced, duration_us, \
             visit_pageviews \
           FROM rollups \
           WHERE site = {site} AND dimension = {name} AND day >= {from} AND day < {to}) \
         GROUP BY ALL",
        labels = labels.concat(),
        sums = sums.join(", "),
        columns = columns.concat(),
    );
    Statement {
        sql,
        params: b.params,
    }
}

/// Clears a site's rollup rows of the days `[$2, $3)`, before they are made again.
pub fn rollup_clear() -> &'static str {
    "DELETE FROM rollups WHERE site = $1 AND day >= $2 AND day < $3"
}

/// Forgets every rollup, so that they are made again from the events.
pub fn rollup_reset() -> &'static str {
    "DELETE FROM rollups; DELETE FROM rollup_marks;"
}

/// Each site with events: its first day, and the day its rollups reach (null: none yet).
pub fn rollup_progress() -> &'static str {
    "SELECT e.site, e.first, m.through \
     FROM (SELECT site, CAST(min(ts) AS DATE) AS first FROM events GROUP BY site) AS e \
     LEFT JOIN rollup_marks AS m USING (site) ORDER BY e.site"
}

/// The day a site's rollups reach: every day before it has its rows.
pub fn rollup_through() -> &'static str {
    "SELECT through FROM rollup_marks WHERE site = $1"
}

/// Records how far a site's rollups reach.
pub fn rollup_mark() -> &'static str {
    "INSERT OR REPLACE INTO rollup_marks (site, through) VALUES ($1, $2)"
}

/// A dimension's value, as text, for a row of `m` (or of `v`, whose columns it shares);
/// `local` is the row's local time, for time buckets.
fn dimension_sql(b: &mut Builder, dimension: &Dimension, local: &str, week_floor: &str) -> String {
    match dimension {
        Dimension::Event(field) => field.column().to_owned(),
        Dimension::Prop(key) => {
            let key = b.text(key);
            let none = b.text(NO_PROP);
            match b.dialect {
                Dialect::DuckDb => format!("coalesce(props[{key}], {none})"),
                // Nested props are two arrays (18.16 has no Map).
                Dialect::ClickHouse => format!(
                    "if(has(props.key, {key}), props.value[indexOf(props.key, {key})], {none})"
                ),
            }
        }
        Dimension::Goal => "goal".to_owned(),
        Dimension::Visit(field) => {
            let label = field.empty_label();
            if label.is_empty() {
                field.name().to_owned()
            } else {
                let label = b.text(label);
                format!(
                    "CASE WHEN {col} = '' THEN {label} ELSE {col} END",
                    col = field.name()
                )
            }
        }
        // A bucket is grouped as the timestamp it starts at, and written out as text only in the
        // final projection ([`label_sql`]): formatting every row costs more than the grouping.
        Dimension::Time(bucket) => match b.dialect {
            Dialect::DuckDb => match bucket {
                TimeBucket::Hour => format!("date_trunc('hour', {local})"),
                TimeBucket::Day => format!("date_trunc('day', {local})"),
                TimeBucket::Week => {
                    format!("greatest(date_trunc('week', {local}), {week_floor})")
                }
                TimeBucket::Month => format!("date_trunc('month', {local})"),
            },
            // `local` is in microseconds; every date function is given UTC, or the server's own
            // zone would leak in (pitfall 2). Days, weeks and months are dates.
            Dialect::ClickHouse => {
                let at = format!("toDateTime(intDiv({local}, 1000000), 'UTC')");
                match bucket {
                    TimeBucket::Hour => format!("toStartOfHour({at}, 'UTC')"),
                    TimeBucket::Day => format!("toDate({at}, 'UTC')"),
                    TimeBucket::Week => format!("greatest(toMonday({at}, 'UTC'), {week_floor})"),
                    TimeBucket::Month => format!("toStartOfMonth({at}, 'UTC')"),
                }
            }
        },
    }
}

/// The channel of a visit, from its first event's source, tags and click id (the `ch_` columns of
/// `v`): the rules of [`footfall_collector::channel::classify`], with the same lists, bound.
fn channel_sql(b: &mut Builder) -> String {
    use footfall_collector::channel::{
        Channel, DISPLAY_MEDIA, EMAIL_WORDS, REFERRAL_MEDIA, SOCIAL_MEDIA,
    };
    use footfall_collector::referrer::{sources_in, SourceCategory};
    let list = |b: &mut Builder, items: &[&str]| -> String {
        let bound: Vec<String> = items.iter().map(|i| b.text(i)).collect();
        format!("({})", bound.join(", "))
    };
    let category = |b: &mut Builder, c: SourceCategory| -> String {
        let names = sources_in(c);
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        format!("{} IN {}", b.lower("ch_source"), list(b, &names))
    };
    let (search, social, video, email) = (
        category(b, SourceCategory::Search),
        category(b, SourceCategory::Social),
        category(b, SourceCategory::Video),
        category(b, SourceCategory::Email),
    );
    let cp = b.text("cp");
    let paid_word = b.text("paid");
    let paid = format!(
        "({} OR ch_medium IN {media} OR {} OR ch_click <> '')",
        b.contains("ch_medium", &cp),
        b.starts_with("ch_medium", &paid_word),
        media = list(b, &["ppc", "retargeting"]),
    );
    let email_words: Vec<String> = EMAIL_WORDS
        .iter()
        .map(|w| {
            let w = b.text(w);
            format!(
                "{} OR {}",
                b.contains("ch_medium", &w),
                b.contains("ch_utm_source", &w)
            )
        })
        .collect();
    let cross_network = b.text("cross-network");
    let video_word = b.text("video");
    let (push, mobile, notification) = (b.text("push"), b.text("mobile"), b.text("notification"));
    let rules = [
        (
            b.contains("ch_campaign", &cross_network),
            Channel::CrossNetwork,
        ),
        (format!("{paid} AND {search}"), Channel::PaidSearch),
        (format!("{paid} AND {social}"), Channel::PaidSocial),
        (format!("{paid} AND {video}"), Channel::PaidVideo),
        (
            format!("ch_medium IN {}", list(b, &DISPLAY_MEDIA)),
            Channel::Display,
        ),
        (paid.clone(), Channel::PaidOther),
        (
            format!("{social} OR ch_medium IN {}", list(b, &SOCIAL_MEDIA)),
            Channel::OrganicSocial,
        ),
        (
            format!("{video} OR {}", b.contains("ch_medium", &video_word)),
            Channel::OrganicVideo,
        ),
        (search.clone(), Channel::OrganicSearch),
        (
            format!("{email} OR {}", email_words.join(" OR ")),
            Channel::Email,
        ),
        (
            format!("ch_medium = {}", b.text("affiliate")),
            Channel::Affiliates,
        ),
        (format!("ch_medium = {}", b.text("audio")), Channel::Audio),
        (
            format!(
                "ch_medium = {sms} OR {} = {sms}",
                b.lower("ch_source"),
                sms = b.text("sms")
            ),
            Channel::Sms,
        ),
        (
            format!(
                "{} OR {} OR {}",
                b.ends_with("ch_medium", &push),
                b.contains("ch_medium", &mobile),
                b.contains("ch_medium", &notification)
            ),
            Channel::MobilePush,
        ),
        (
            format!(
                "ch_medium IN {} OR ch_source <> ''",
                list(b, &REFERRAL_MEDIA)
            ),
            Channel::Referral,
        ),
    ];
    let mut case = String::from("CASE");
    for (condition, channel) in rules {
        let name = b.text(channel.as_str());
        case.push_str(&format!(" WHEN ({condition}) THEN {name}"));
    }
    let direct = b.text(Channel::Direct.as_str());
    case.push_str(&format!(" ELSE {direct} END"));
    case
}

/// A grouped dimension column as the text it is answered as: time buckets are formatted here.
fn label_sql(b: &Builder, dimension: &Dimension, column: &str) -> String {
    match (b.dialect, dimension) {
        (Dialect::DuckDb, Dimension::Time(TimeBucket::Hour)) => {
            format!("strftime({column}, '%Y-%m-%d %H:00:00')")
        }
        (Dialect::DuckDb, Dimension::Time(_)) => format!("strftime({column}, '%Y-%m-%d')"),
        (Dialect::ClickHouse, Dimension::Time(TimeBucket::Hour)) => {
            format!("formatDateTime({column}, '%Y-%m-%d %H:00:00', 'UTC')")
        }
        (Dialect::ClickHouse, Dimension::Time(_)) => format!("toString({column})"),
        _ => column.to_owned(),
    }
}

/// The local time of a UTC timestamp column, from the zone's offsets over the period
/// ([`offset_steps`]).
fn local_time_sql(b: &mut Builder, steps: &[(DateTime<Utc>, i32)], column: &str) -> String {
    let offset = |b: &mut Builder, seconds: i32| b.bind(Param::Int(i64::from(seconds) * 1_000_000));
    let mut case = String::new();
    for pair in steps.windows(2) {
        let until = b.instant(pair[1].0);
        let offset = offset(b, pair[0].1);
        case.push_str(&format!("WHEN {column} < {until} THEN {offset} "));
    }
    let last = offset(b, steps.last().map_or(0, |s| s.1));
    let offset = if case.is_empty() {
        last
    } else {
        format!("CASE {case}ELSE {last} END")
    };
    match b.dialect {
        Dialect::DuckDb => format!("({column} + to_microseconds({offset}))"),
        // Microseconds plus microseconds.
        Dialect::ClickHouse => format!("(toInt64({column}) + {offset})"),
    }
}

/// A filter tree as a condition on a row of `m`.
fn filter_sql(b: &mut Builder, filter: &Filter) -> String {
    match filter {
        Filter::And(parts) => join(b, parts, " AND "),
        Filter::Or(parts) => join(b, parts, " OR "),
        Filter::Not(inner) => format!("(NOT {})", filter_sql(b, inner)),
        // The visits with a matching event in the period (`ev`, which every statement has).
        Filter::HasDone { negated, inner } => {
            let inner = filter_sql(b, inner);
            format!(
                "({}session_id IN (SELECT session_id FROM {} WHERE {inner}))",
                if *negated { "NOT " } else { "" },
                b.read("ev"),
            )
        }
        Filter::Condition {
            operator,
            dimension: Dimension::Goal,
            clauses,
            case_sensitive,
        } => {
            // Goals are matched by name here, and the events by the goals' definitions.
            // (`matches` is refused for goals when the query is read.)
            let goals = b.goals;
            let reached: Vec<String> = goals
                .iter()
                .filter(|goal| {
                    operator.any_clause_matches(
                        &goal.display_name(),
                        clauses,
                        *case_sensitive,
                        &|_, _| false,
                    )
                })
                .map(|goal| goal_sql(b, goal))
                .collect();
            let matched = if reached.is_empty() {
                b.truth(false).to_owned()
            } else {
                format!("({})", reached.join(" OR "))
            };
            if operator.is_negated() {
                format!("(NOT {matched})")
            } else {
                matched
            }
        }
        Filter::Condition {
            operator,
            dimension,
            clauses,
            case_sensitive,
        } => {
            // Values are never NULL here: every column is NOT NULL, props are coalesced.
            let ts = b.ts();
            let value = dimension_sql(b, dimension, ts, ts);
            let value = if *case_sensitive {
                value
            } else {
                b.lower(&value)
            };
            let clause = |b: &mut Builder, text: &str| {
                let text = if *case_sensitive {
                    text.to_owned()
                } else {
                    text.to_lowercase()
                };
                b.text(&text)
            };
            let matched = match operator {
                Operator::Is | Operator::IsNot => {
                    let list: Vec<String> = clauses.iter().map(|c| clause(b, c)).collect();
                    format!("{value} IN ({})", list.join(", "))
                }
                Operator::Contains | Operator::ContainsNot => {
                    let any: Vec<String> = clauses
                        .iter()
                        .map(|c| {
                            let part = clause(b, c);
                            b.contains(&value, &part)
                        })
                        .collect();
                    format!("({})", any.join(" OR "))
                }
                Operator::Matches | Operator::MatchesNot => {
                    // Patterns are used as written (case_sensitive is refused for them).
                    let any: Vec<String> = clauses.iter().map(|c| b.matches(&value, c)).collect();
                    format!("({})", any.join(" OR "))
                }
            };
            if operator.is_negated() {
                format!("(NOT {matched})")
            } else {
                matched
            }
        }
    }
}

/// Whether an event reaches a goal.
fn goal_sql(b: &mut Builder, goal: &Goal) -> String {
    match goal {
        Goal::Event(name) => format!("name = {}", b.text(name)),
        Goal::Page(pattern) => format!(
            "(name = 'pageview' AND {})",
            b.matches_whole("path", &Goal::path_regex(pattern))
        ),
    }
}

fn join(b: &mut Builder, parts: &[Filter], with: &str) -> String {
    let parts: Vec<String> = parts.iter().map(|p| filter_sql(b, p)).collect();
    format!("({})", parts.join(with))
}

/// Whether a pattern compiles in DuckDB's RE2: asked of DuckDB itself, so a bad pattern gets
/// its 400 before the query runs.
pub fn pattern_check() -> &'static str {
    "SELECT regexp_matches('', $1)"
}

/// One site's events as the public counters count them: path, visitor, whether a pageview, and
/// the local day (from the zone's offsets over the events' span).
fn counter_events(
    b: &mut Builder,
    site: &str,
    steps: &[(DateTime<Utc>, i32)],
    since: Option<DateTime<Utc>>,
) -> String {
    let site = b.text(site);
    let day = local_time_sql(b, steps, "ts");
    let since = since.map_or(String::new(), |t| format!(" AND ts >= {}", b.instant(t)));
    format!(
        "ev AS (SELECT path, visitor_id, name = 'pageview' AS pageview, CAST({day} AS DATE) AS day \
         FROM events WHERE site = {site}{since})"
    )
}

/// The public counters' days of one site, per page and for the whole site (path `''`):
/// `(path, day, pageviews, visitors, visitors shared with the next day)`. Days are local to the
/// site's zone; a visitor id lives one UTC day, so where local and UTC days differ, one id can
/// be seen on two neighbouring local days, and the last column says how many were. With `since`
/// (a local midnight), only the days from there on.
pub fn counter_days(
    site: &str,
    steps: &[(DateTime<Utc>, i32)],
    with_shared: bool,
    since: Option<DateTime<Utc>>,
) -> (String, Vec<Param>) {
    let mut b = Builder::new(Dialect::DuckDb, &[]);
    let ev = counter_events(&mut b, site, steps, since);
    let (shared, join) = if with_shared {
        (
            "count(b.day)",
            " LEFT JOIN pv b ON b.path = a.path AND b.visitor_id = a.visitor_id AND b.day = a.day + 1",
        )
    } else {
        ("0", "")
    };
    let sql = format!(
        "WITH {ev}, \
         pv AS (SELECT coalesce(path, '') AS path, day, visitor_id, \
                  count(*) FILTER (WHERE pageview) AS pageviews \
                FROM ev GROUP BY GROUPING SETS ((path, day, visitor_id), (day, visitor_id))) \
         SELECT a.path, a.day, sum(a.pageviews)::UBIGINT, count(*)::UBIGINT, {shared}::UBIGINT \
         FROM pv a{join} GROUP BY a.path, a.day"
    );
    (sql, b.params)
}

/// The `(path, local day, visitor)` pairs of one site since an instant, and `('', day,
/// visitor)` for the whole site: who was already counted on the days still being counted.
pub fn counter_recent(
    site: &str,
    steps: &[(DateTime<Utc>, i32)],
    since: DateTime<Utc>,
) -> (String, Vec<Param>) {
    let mut b = Builder::new(Dialect::DuckDb, &[]);
    let ev = counter_events(&mut b, site, steps, Some(since));
    let sql = format!(
        "WITH {ev} SELECT coalesce(path, ''), day, visitor_id FROM ev \
         GROUP BY GROUPING SETS ((path, day, visitor_id), (day, visitor_id))"
    );
    (sql, b.params)
}

/// ClickHouse's reads besides the Stats API's counts: the same questions as this module's
/// DuckDB statements, answered as named columns (JSON rows), instants as microseconds since the
/// epoch, days as `YYYY-MM-DD` text. Values are literals from the one escaping function.
pub mod clickhouse {
    use chrono::{DateTime, Utc};

    use super::{local_time_sql, Builder, Dialect, Period};

    fn builder() -> Builder<'static> {
        Builder::new(Dialect::ClickHouse, &[])
    }

    /// A site's events in `[from, to)`, on the exact time and on the indexed second.
    fn in_range(b: &mut Builder, site: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> String {
        let site = b.text(site);
        let (bound_from, bound_to) = (b.instant(from), b.instant(to));
        b.in_range(&site, (from, to), (&bound_from, &bound_to))
    }

    /// `n` (the site's events) and `first` (its first event's instant, 0 when none).
    pub fn first_event(site: &str) -> String {
        let mut b = builder();
        let site = b.text(site);
        format!("SELECT count() AS n, min(ts_us) AS first FROM footfall.events WHERE site = {site}")
    }

    /// `n`, `first` and `last`: the count and span of a site's events.
    pub fn site_span(site: &str) -> String {
        let mut b = builder();
        let site = b.text(site);
        format!(
            "SELECT count() AS n, min(ts_us) AS first, max(ts_us) AS last \
             FROM footfall.events WHERE site = {site}"
        )
    }

    /// `site`, `n`: the events of each site.
    pub fn events_per_site() -> &'static str {
        "SELECT site, count() AS n FROM footfall.events GROUP BY site ORDER BY site"
    }

    /// The statements that delete a site's events and all that was made of them, to run on
    /// every shard: the events, the views' tables (which a delete on the events does not
    /// reach) and the drop counts. Mutations: ClickHouse applies them in the background.
    pub fn purge(site: &str) -> Vec<String> {
        let mut b = builder();
        let site = b.text(site);
        [
            "footfall.events_local",
            "footfall.daily_local",
            "footfall.sessions_local",
            "footfall.dropped_events_local",
        ]
        .iter()
        .map(|table| format!("ALTER TABLE {table} DELETE WHERE site = {site}"))
        .collect()
    }

    /// `n`: the mutations of the `footfall` tables not done yet.
    pub fn mutations_pending() -> &'static str {
        "SELECT count() AS n FROM system.mutations WHERE database = 'footfall' AND is_done = 0"
    }

    /// `site`, `first`, `last` of every site with events.
    pub fn sites_with_events() -> &'static str {
        "SELECT site, min(ts_us) AS first, max(ts_us) AS last FROM footfall.events GROUP BY site"
    }

    /// `n`: the distinct visitors with an event since `since`.
    pub fn visitors_since(site: &str, since: DateTime<Utc>) -> String {
        let mut b = builder();
        let site = b.text(site);
        let since = from_on(&mut b, since);
        format!("SELECT uniqExact(visitor_id) AS n FROM footfall.events WHERE site = {site}{since}")
    }

    /// ` AND` the events from `since` on, exactly and on the indexed second.
    fn from_on(b: &mut Builder, since: DateTime<Utc>) -> String {
        let exact = b.instant(since);
        let second = b.bind(super::Param::Int(since.timestamp()));
        format!(" AND ts_us >= {exact} AND ts >= toDateTime({second}, 'UTC')")
    }

    /// `key`: the prop keys of a site's events in `period`, most used first (at most 100).
    pub fn prop_keys(site: &str, period: &Period) -> String {
        let mut b = builder();
        let range = in_range(&mut b, site, period.from, period.to);
        format!(
            "SELECT key FROM (SELECT arrayJoin(props.key) AS key FROM footfall.events \
             WHERE {range}) GROUP BY key ORDER BY count() DESC, key LIMIT 100"
        )
    }

    /// `reason`, `n`: a site's dropped events per reason over the UTC days `[first, last]`,
    /// most first (as `drops::for_period` reads DuckDB's).
    pub fn dropped(site: &str, first: chrono::NaiveDate, last: chrono::NaiveDate) -> String {
        let mut b = builder();
        let site = b.text(site);
        let (first, last) = (b.date(first), b.date(last));
        format!(
            "SELECT reason, toUInt64(sum(count)) AS n FROM footfall.dropped_events \
             WHERE site = {site} AND day >= {first} AND day <= {last} \
             GROUP BY reason ORDER BY n DESC, reason"
        )
    }

    /// `site`, `reason`, `n`: drop counts per site and reason since the UTC day `since`.
    pub fn dropped_since(since: chrono::NaiveDate) -> String {
        let mut b = builder();
        let since = b.date(since);
        format!(
            "SELECT site, reason, toUInt64(sum(count)) AS n FROM footfall.dropped_events \
             WHERE day >= {since} GROUP BY site, reason ORDER BY site, reason"
        )
    }

    /// One site's events as the public counters count them (see `counter_events`), from
    /// `since` on when given.
    fn counter_events(
        b: &mut Builder,
        site: &str,
        steps: &[(DateTime<Utc>, i32)],
        since: Option<DateTime<Utc>>,
    ) -> String {
        let site = b.text(site);
        let local = local_time_sql(b, steps, "ts_us");
        let since = since.map_or(String::new(), |t| from_on(b, t));
        format!(
            "SELECT path, visitor_id, name = 'pageview' AS pageview, \
               toDate(toDateTime(intDiv({local}, 1000000), 'UTC'), 'UTC') AS day \
             FROM footfall.events WHERE site = {site}{since}"
        )
    }

    /// Per (page, visitor, day) and, with path `''`, per (visitor, day) for the whole site:
    /// 18.16 has no GROUPING SETS.
    fn per_visitor_day(ev: &str, pageviews: bool) -> String {
        let count = if pageviews {
            ", countIf(pageview) AS pageviews"
        } else {
            ""
        };
        format!(
            "SELECT path, day, visitor_id{count} FROM ({ev}) GROUP BY path, day, visitor_id \
             UNION ALL \
             SELECT '' AS path, day, visitor_id{count} FROM ({ev}) GROUP BY day, visitor_id"
        )
    }

    /// `super::counter_days`: columns `path`, `day`, `pageviews`, `visitors`, `shared`.
    pub fn counter_days(
        site: &str,
        steps: &[(DateTime<Utc>, i32)],
        with_shared: bool,
        since: Option<DateTime<Utc>>,
    ) -> String {
        let mut b = builder();
        let ev = counter_events(&mut b, site, steps, since);
        let pv = per_visitor_day(&ev, true);
        let (shared, join) = if with_shared {
            // A visitor seen on the next day too: the next day's pairs moved back a day.
            let next = per_visitor_day(&ev, false);
            (
                "toUInt64(sum(next_day))",
                format!(
                    " ALL LEFT JOIN (SELECT path, next - 1 AS day, visitor_id, 1 AS next_day \
                     FROM (SELECT path, day AS next, visitor_id FROM ({next}))) \
                     USING (path, day, visitor_id)"
                ),
            )
        } else {
            ("toUInt64(0)", String::new())
        };
        format!(
            "SELECT path, toString(day) AS day_text, toUInt64(sum(pageviews)) AS pageview_count, \
               count() AS visitors, {shared} AS shared \
             FROM ({pv}){join} GROUP BY path, day"
        )
    }

    /// `super::counter_recent`: columns `path`, `day`, `visitor_id`.
    pub fn counter_recent(
        site: &str,
        steps: &[(DateTime<Utc>, i32)],
        since: DateTime<Utc>,
    ) -> String {
        let mut b = builder();
        let ev = counter_events(&mut b, site, steps, Some(since));
        let pairs = per_visitor_day(&ev, false);
        format!("SELECT path, toString(day) AS day_text, visitor_id FROM ({pairs})")
    }
}

/// The span of one site's events (`NULL`s when it has none).
pub fn site_span() -> &'static str {
    "SELECT min(ts), max(ts) FROM events WHERE site = $1"
}

/// The sites that have events, with the span of their events.
pub fn sites_with_events() -> &'static str {
    "SELECT site, min(ts), max(ts) FROM events GROUP BY site"
}

/// Visitors with an event since `$2` (the last five minutes, for the realtime count).
pub fn visitors_since() -> &'static str {
    "SELECT count(DISTINCT visitor_id) FROM events WHERE site = $1 AND ts >= $2"
}

/// The site's first event, which `all` starts at.
pub fn first_event() -> &'static str {
    "SELECT min(ts) FROM events WHERE site = $1"
}

/// The prop keys the site's events carry in a period, most used first (at most 100).
pub fn prop_keys() -> &'static str {
    "SELECT key FROM (SELECT unnest(map_keys(props)) AS key FROM events \
     WHERE site = $1 AND ts >= $2 AND ts < $3) GROUP BY key ORDER BY count(*) DESC, key LIMIT 100"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::model::*;
    use chrono::TimeZone;

    fn query(filter: Option<Filter>) -> Query {
        Query {
            site: "x'; DROP TABLE events; --".into(),
            timezone: chrono_tz::Tz::UTC,
            period: Period {
                from: Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap(),
                to: Utc.with_ymd_and_hms(2026, 3, 8, 0, 0, 0).unwrap(),
            },
            metrics: vec![Metric::Visitors],
            dimensions: vec![],
            filter,
            goals: Vec::new(),
            order: vec![],
            limit: 10,
            offset: 0,
        }
    }

    /// `evil` in a page condition (by `page_operator`) and in a prop's key and value.
    fn hostile_filter(evil: &str, page_operator: Operator) -> Filter {
        Filter::And(vec![
            Filter::Condition {
                operator: page_operator,
                dimension: Dimension::Event(EventField::Page),
                clauses: vec![evil.into()],
                case_sensitive: true,
            },
            Filter::Condition {
                operator: Operator::Contains,
                dimension: Dimension::Prop(evil.into()),
                clauses: vec![evil.into()],
                case_sensitive: false,
            },
        ])
    }

    #[test]
    fn values_are_parameters_never_text() {
        let evil = "'); DROP TABLE events; --";
        let q = query(Some(hostile_filter(evil, Operator::Is)));
        let s = statement(&q, &[Dimension::Prop(evil.into())], true, &q.period);
        assert!(!s.sql.contains("DROP"), "{}", s.sql);
        assert!(s.params.contains(&Param::Text(evil.into())));
        assert!(s.params.contains(&Param::Text(q.site.clone())));
    }

    /// ClickHouse binds nothing: every value is a literal from the one escaping function, and
    /// with those taken out, nothing of the values is left in the text.
    #[test]
    fn clickhouse_values_are_escaped_literals_never_text() {
        let evil = "\\'); DROP TABLE events; --";
        let q = query(Some(hostile_filter(evil, Operator::Matches)));
        let s = statement_in(
            Dialect::ClickHouse,
            &q,
            &[Dimension::Prop(evil.into())],
            true,
            &q.period,
        );
        assert!(s.params.is_empty());
        let mut text = s.sql.clone();
        for value in [
            q.site.clone(),
            evil.to_owned(),
            format!("(?-s){evil}"),
            evil.to_lowercase(),
        ] {
            let literal = crate::clickhouse::literal::string(&value);
            assert!(s.sql.contains(&literal), "{value:?} as a literal");
            text = text.replace(&literal, "''");
        }
        assert!(!text.contains("DROP"), "{text}");
    }
}
