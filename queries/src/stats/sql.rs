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

/// SQL text and the values of its `$n` parameters, in order.
#[derive(Debug, Clone)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<Param>,
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
const EVENT_COLUMNS: &str = "ts, name, path, hostname, visitor_id, session_id, interactive, \
     props, engaged_ms, scroll_depth";

struct Builder<'q> {
    params: Vec<Param>,
    /// The site's goals, for `event:goal`.
    goals: &'q [Goal],
}

impl Builder<'_> {
    /// Binds a value and returns its placeholder.
    fn bind(&mut self, value: Param) -> String {
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
    let mut b = Builder {
        params: Vec::new(),
        goals: &query.goals,
    };
    let site = b.text(&query.site);
    let (period_from, period_to) = (b.instant(piece.from), b.instant(piece.to));
    let scope = format!("site = {site} AND ts >= {period_from} AND ts < {period_to}");

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
    let mut visit_columns: Vec<String> = Vec::new();
    for field in VisitField::ALL.into_iter().filter(|f| fields.contains(f)) {
        visit_columns.push(match field {
            VisitField::EntryPage => {
                "coalesce(arg_min(path, ts) FILTER (WHERE name = 'pageview'), '') AS entry_page"
                    .to_owned()
            }
            VisitField::ExitPage => {
                "coalesce(arg_max(path, ts) FILTER (WHERE name = 'pageview'), '') AS exit_page"
                    .to_owned()
            }
            VisitField::EntryPageHostname => {
                "coalesce(arg_min(hostname, ts) FILTER (WHERE name = 'pageview'), '') \
                 AS entry_page_hostname"
                    .to_owned()
            }
            VisitField::ExitPageHostname => {
                "coalesce(arg_max(hostname, ts) FILTER (WHERE name = 'pageview'), '') \
                 AS exit_page_hostname"
                    .to_owned()
            }
            VisitField::Channel => {
                "arg_min(source, ts) AS ch_source, arg_min(lower(utm_medium), ts) AS ch_medium, \
                 arg_min(lower(utm_source), ts) AS ch_utm_source, \
                 arg_min(lower(utm_campaign), ts) AS ch_campaign, \
                 arg_min(click_id, ts) AS ch_click"
                    .to_owned()
            }
            other => format!("arg_min({name}, ts) AS {name}", name = other.name()),
        });
    }
    let channel = fields
        .contains(&VisitField::Channel)
        .then(|| channel_sql(&mut b));
    if with_visits {
        visit_columns.push(
            "min(ts) AS started, \
             epoch_us(max(ts)) - epoch_us(min(ts)) AS duration_us, \
             count(*) FILTER (WHERE name = 'pageview') AS visit_pageviews, \
             count(*) FILTER (WHERE interactive AND name NOT IN ('pageview', 'engagement')) \
               AS interactions"
                .to_owned(),
        );
    }
    // The visit window is bound only when visits are read: a parameter bound but not used is
    // an error.
    let window = if visit_columns.is_empty() {
        String::new()
    } else {
        let window = visit_window(piece);
        let (from, to) = (b.instant(window.from), b.instant(window.to));
        format!("site = {site} AND ts >= {from} AND ts < {to}")
    };
    let filter = match &query.filter {
        Some(filter) => filter_sql(&mut b, filter),
        None => "true".to_owned(),
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
    let local_ts = if bucketed {
        local_time_sql(&mut b, &steps, "ts")
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

    let matching = if joined {
        format!("m AS (SELECT * FROM ev JOIN v USING (session_id) WHERE {filter}), ")
    } else {
        format!("m AS (SELECT * FROM ev WHERE {filter}), ")
    };
    let visits = if visit_columns.is_empty() {
        matching
    } else {
        let grouped = format!(
            "SELECT session_id, {columns} FROM events WHERE {window} GROUP BY session_id",
            columns = visit_columns.join(", ")
        );
        match &channel {
            // A filter on the channel is made once for the visits: left to the optimizer, the
            // large CASE of `channel_sql` is pushed into the filter, once for each value it
            // names, which took DuckDB hundreds of milliseconds to plan, and with a few values
            // more memory than its limit (found by the random filters of drill 9).
            Some(channel) if filter_fields.contains(&VisitField::Channel) => format!(
                "v AS MATERIALIZED (SELECT *, {channel} AS channel FROM ({grouped})), {matching}"
            ),
            Some(channel) => {
                format!("v AS (SELECT *, {channel} AS channel FROM ({grouped})), {matching}")
            }
            None => format!("v AS ({grouped}), {matching}"),
        }
    };
    // By goal, an event counts once under each goal it reaches: `mg` holds one row per (event,
    // goal reached).
    let by_goal = dimensions.contains(&Dimension::Goal);
    let (visits, counted) = if by_goal {
        let mut reached: Vec<String> = Vec::new();
        for goal in &query.goals {
            let name = b.text(&goal.display_name());
            let condition = goal_sql(&mut b, goal);
            reached.push(format!("SELECT *, {name} AS goal FROM m WHERE {condition}"));
        }
        if reached.is_empty() {
            reached.push("SELECT *, '' AS goal FROM m WHERE false".to_owned());
        }
        (
            format!("{visits}mg AS ({}), ", reached.join(" UNION ALL ")),
            "mg",
        )
    } else {
        (visits, "m")
    };
    // Each page metric reads the engagement reports its own way: only those asked for are made.
    let with_time = query.metrics.contains(&Metric::TimeOnPage);
    let with_scroll = query.metrics.contains(&Metric::ScrollDepth);
    let mut sql = format!(
        "WITH ev AS (SELECT {EVENT_COLUMNS}{ev_columns} FROM events WHERE {scope}), \
         {visits}\
         em AS (\
           SELECT {event_dims}{visitor_count} AS visitors, {visit_count} AS visits, \
             count(*) FILTER (WHERE name = 'pageview') AS pageviews, \
             count(*) FILTER (WHERE name <> 'engagement') AS events{engaged} \
           FROM {counted} GROUP BY ALL)",
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
        engaged = if with_time {
            ", CAST(coalesce(sum(engaged_ms) FILTER (WHERE name = 'engagement'), 0) AS BIGINT) \
               AS engaged_ms, \
             count(DISTINCT session_id) FILTER (WHERE name = 'engagement') AS engaged_visits"
        } else {
            ""
        },
    );
    // Joins a relation of groups to `em`: on the dimensions, or as its one row when there are none.
    let join_on = |kind: &str| {
        if dim_names.is_empty() {
            " CROSS JOIN ".to_owned()
        } else {
            format!(" {kind} ")
        }
    };
    let using = if dim_names.is_empty() {
        String::new()
    } else {
        format!(" USING ({})", dim_names.join(", "))
    };
    let mut from = "em".to_owned();
    let mut columns = vec![
        "coalesce(em.visitors, 0)",
        "coalesce(em.visits, 0)",
        "coalesce(em.pageviews, 0)",
        "coalesce(em.events, 0)",
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
                let join = if visits_joined {
                    " JOIN v USING (session_id)"
                } else {
                    ""
                };
                sql.push_str(&format!(
                    ", ew AS (SELECT {EVENT_COLUMNS}{ew_columns} FROM events WHERE {window}), \
                     ms AS (SELECT session_id FROM ew{join} WHERE {visit_filter})"
                ));
                " AND session_id IN (SELECT session_id FROM ms)".to_owned()
            }
        };
        sql.push_str(&format!(
            ", sm AS (\
               SELECT {visit_dims}count(*) AS sessions, \
                 count(*) FILTER (WHERE visit_pageviews = 1 AND interactions = 0) AS bounced, \
                 CAST(coalesce(sum(duration_us), 0) AS BIGINT) AS duration_us, \
                 CAST(coalesce(sum(visit_pageviews), 0) AS BIGINT) AS visit_pageviews \
               FROM v WHERE started >= {period_from} AND started < {period_to}{visits_of} \
               GROUP BY ALL)",
            visit_dims = select_dims(&visit_dims),
        ));
        from.push_str(&format!("{}sm{}", join_on("FULL OUTER JOIN"), using));
        columns.extend([
            "coalesce(sm.sessions, 0)",
            "coalesce(sm.bounced, 0)",
            "coalesce(sm.duration_us, 0)",
            "coalesce(sm.visit_pageviews, 0)",
        ]);
    } else {
        columns.extend(["0", "0", "0", "0"]);
    }
    if with_time {
        columns.extend([
            "coalesce(em.engaged_ms, 0)",
            "coalesce(em.engaged_visits, 0)",
        ]);
    } else {
        columns.extend(["0", "0"]);
    }
    if with_scroll {
        // The deepest scroll of each visit on each page, then their sum and number per group.
        sql.push_str(&format!(
            ", sd AS (\
               SELECT {event_dims}session_id AS scroll_visit, path AS scroll_page, \
                 max(scroll_depth) AS depth \
               FROM {counted} WHERE name = 'engagement' AND scroll_depth IS NOT NULL \
               GROUP BY ALL), \
             sg AS (\
               SELECT {outer_dims}CAST(coalesce(sum(depth), 0) AS BIGINT) AS scroll_sum, \
                 count(*) AS scroll_pairs \
               FROM sd GROUP BY ALL)",
            event_dims = select_dims(&event_dims),
            outer_dims = select_dims(&dim_names),
        ));
        from.push_str(&format!("{}sg{}", join_on("LEFT JOIN"), using));
        columns.extend(["coalesce(sg.scroll_sum, 0)", "coalesce(sg.scroll_pairs, 0)"]);
    } else {
        columns.extend(["0", "0"]);
    }
    let labels: Vec<String> = dimensions
        .iter()
        .zip(&dim_names)
        .map(|(dimension, name)| label_sql(dimension, name))
        .collect();
    sql.push_str(&format!(
        " SELECT {}{} FROM {from}",
        select_dims(&labels),
        columns.join(", ")
    ));
    Statement {
        sql,
        params: b.params,
    }
}

/// Where the first week bucket starts: the period's own start (the whole period's, whatever the
/// piece), so a week cut by the period is labelled by its first day in it.
fn week_floor(b: &mut Builder, query: &Query) -> String {
    let start = super::period::local_time(query.timezone, query.period.from);
    b.instant(start.and_utc())
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
    let mut b = Builder {
        params: inner.params,
        goals: &[],
    };
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
    let mut b = Builder {
        params: Vec::new(),
        goals: &[],
    };
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
        labels.push(format!("{}, ", label_sql(dimension, &format!("d{i}"))));
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
            format!("coalesce(props[{key}], {none})")
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
        Dimension::Time(bucket) => match bucket {
            TimeBucket::Hour => format!("date_trunc('hour', {local})"),
            TimeBucket::Day => format!("date_trunc('day', {local})"),
            TimeBucket::Week => format!("greatest(date_trunc('week', {local}), {week_floor})"),
            TimeBucket::Month => format!("date_trunc('month', {local})"),
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
        format!("lower(ch_source) IN {}", list(b, &names))
    };
    let (search, social, video, email) = (
        category(b, SourceCategory::Search),
        category(b, SourceCategory::Social),
        category(b, SourceCategory::Video),
        category(b, SourceCategory::Email),
    );
    let paid = format!(
        "(contains(ch_medium, {cp}) OR ch_medium IN {media} OR starts_with(ch_medium, {paid}) \
          OR ch_click <> '')",
        cp = b.text("cp"),
        media = list(b, &["ppc", "retargeting"]),
        paid = b.text("paid"),
    );
    let email_words: Vec<String> = EMAIL_WORDS
        .iter()
        .map(|w| {
            let w = b.text(w);
            format!("contains(ch_medium, {w}) OR contains(ch_utm_source, {w})")
        })
        .collect();
    let rules = [
        (
            format!("contains(ch_campaign, {})", b.text("cross-network")),
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
            format!("{video} OR contains(ch_medium, {})", b.text("video")),
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
                "ch_medium = {sms} OR lower(ch_source) = {sms}",
                sms = b.text("sms")
            ),
            Channel::Sms,
        ),
        (
            format!(
                "ends_with(ch_medium, {}) OR contains(ch_medium, {}) OR contains(ch_medium, {})",
                b.text("push"),
                b.text("mobile"),
                b.text("notification")
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
fn label_sql(dimension: &Dimension, column: &str) -> String {
    match dimension {
        Dimension::Time(TimeBucket::Hour) => format!("strftime({column}, '%Y-%m-%d %H:00:00')"),
        Dimension::Time(_) => format!("strftime({column}, '%Y-%m-%d')"),
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
    if case.is_empty() {
        format!("({column} + to_microseconds({last}))")
    } else {
        format!("({column} + to_microseconds(CASE {case}ELSE {last} END))")
    }
}

/// A filter tree as a condition on a row of `m`.
fn filter_sql(b: &mut Builder, filter: &Filter) -> String {
    match filter {
        Filter::And(parts) => join(b, parts, " AND "),
        Filter::Or(parts) => join(b, parts, " OR "),
        Filter::Not(inner) => format!("(NOT {})", filter_sql(b, inner)),
        // The visits with a matching event in the period (`ev`, which every statement has).
        Filter::HasDone { negated, inner } => format!(
            "({}session_id IN (SELECT session_id FROM ev WHERE {}))",
            if *negated { "NOT " } else { "" },
            filter_sql(b, inner)
        ),
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
                "false".to_owned()
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
            let value = dimension_sql(b, dimension, "ts", "ts");
            let value = if *case_sensitive {
                value
            } else {
                format!("lower({value})")
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
                        .map(|c| format!("contains({value}, {})", clause(b, c)))
                        .collect();
                    format!("({})", any.join(" OR "))
                }
                Operator::Matches | Operator::MatchesNot => {
                    // Patterns are used as written (case_sensitive is refused for them).
                    let any: Vec<String> = clauses
                        .iter()
                        .map(|c| format!("regexp_matches({value}, {})", b.text(c)))
                        .collect();
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
            "(name = 'pageview' AND regexp_full_match(path, {}))",
            b.text(&Goal::path_regex(pattern))
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
/// be seen on two neighbouring local days, and the last column says how many were.
pub fn counter_days(
    site: &str,
    steps: &[(DateTime<Utc>, i32)],
    with_shared: bool,
) -> (String, Vec<Param>) {
    let mut b = Builder {
        params: Vec::new(),
        goals: &[],
    };
    let ev = counter_events(&mut b, site, steps, None);
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
    let mut b = Builder {
        params: Vec::new(),
        goals: &[],
    };
    let ev = counter_events(&mut b, site, steps, Some(since));
    let sql = format!(
        "WITH {ev} SELECT coalesce(path, ''), day, visitor_id FROM ev \
         GROUP BY GROUPING SETS ((path, day, visitor_id), (day, visitor_id))"
    );
    (sql, b.params)
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

    #[test]
    fn values_are_parameters_never_text() {
        let evil = "'); DROP TABLE events; --";
        let filter = Filter::And(vec![
            Filter::Condition {
                operator: Operator::Is,
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
        ]);
        let q = query(Some(filter));
        let s = statement(&q, &[Dimension::Prop(evil.into())], true, &q.period);
        assert!(!s.sql.contains("DROP"), "{}", s.sql);
        assert!(s.params.contains(&Param::Text(evil.into())));
        assert!(s.params.contains(&Param::Text(q.site.clone())));
    }
}
