//! The reference for the query engine: plain Rust over the list of events computes what every
//! query should answer, written from the definitions, not from the engine: visits and their
//! attributes, filters, time buckets in the site's zone, and the metrics' arithmetic are all
//! computed here again, directly. Also the random queries the engines are checked with, and
//! [`agree`], which asks them of an engine and compares. Used against DuckDB
//! (`stats_reference.rs`) and ClickHouse (`clickhouse_reference.rs`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use footfall_collector::Event;
use footfall_queries::sample::SampleSpec;
use footfall_queries::stats::model::{Order, OrderKey, Period};
use footfall_queries::stats::{
    Dimension, EventField, Filter, Goal, Metric, MetricValue, Operator, Query, QueryResult,
    ResultRow, TimeBucket, VisitField,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

// ---------------------------------------------------------------------------------------------
// The reference.

/// A visit, from all of its events: a visit counts whole, wherever the period cuts it.
struct Visit<'a> {
    first: &'a Event,
    entry_page: String,
    exit_page: String,
    entry_hostname: String,
    exit_hostname: String,
    started: DateTime<Utc>,
    duration_us: i64,
    pageviews: u64,
    interactions: u64,
}

fn visits<'a>(events: &[&'a Event]) -> HashMap<u64, Visit<'a>> {
    let mut by_session: BTreeMap<u64, Vec<&'a Event>> = BTreeMap::new();
    for e in events {
        by_session.entry(e.session_id).or_default().push(e);
    }
    by_session
        .into_iter()
        .map(|(id, mut list)| {
            list.sort_by_key(|e| e.ts);
            let pages: Vec<&&Event> = list.iter().filter(|e| e.name == "pageview").collect();
            let visit = Visit {
                first: list[0],
                entry_page: pages.first().map(|e| e.path.clone()).unwrap_or_default(),
                exit_page: pages.last().map(|e| e.path.clone()).unwrap_or_default(),
                entry_hostname: pages
                    .first()
                    .map(|e| e.hostname.clone())
                    .unwrap_or_default(),
                exit_hostname: pages.last().map(|e| e.hostname.clone()).unwrap_or_default(),
                started: list[0].ts,
                duration_us: (list[list.len() - 1].ts - list[0].ts)
                    .num_microseconds()
                    .unwrap(),
                pageviews: pages.len() as u64,
                interactions: list
                    .iter()
                    .filter(|e| e.interactive && e.name != "pageview" && e.name != "engagement")
                    .count() as u64,
            };
            (id, visit)
        })
        .collect()
}

fn visit_value(field: VisitField, v: &Visit) -> String {
    let e = v.first;
    let raw = match field {
        VisitField::EntryPage => v.entry_page.clone(),
        VisitField::ExitPage => v.exit_page.clone(),
        VisitField::EntryPageHostname => v.entry_hostname.clone(),
        VisitField::ExitPageHostname => v.exit_hostname.clone(),
        VisitField::Source => e.source.clone(),
        VisitField::Referrer => e.referrer.clone(),
        VisitField::Channel => {
            footfall_collector::channel::classify(footfall_collector::channel::Origin {
                source: &e.source,
                utm_medium: &e.utm.medium,
                utm_source: &e.utm.source,
                utm_campaign: &e.utm.campaign,
                click_id: e.click_id,
            })
            .as_str()
            .to_owned()
        }
        VisitField::UtmSource => e.utm.source.clone(),
        VisitField::UtmMedium => e.utm.medium.clone(),
        VisitField::UtmCampaign => e.utm.campaign.clone(),
        VisitField::UtmContent => e.utm.content.clone(),
        VisitField::UtmTerm => e.utm.term.clone(),
        VisitField::Country => e.location.country.clone(),
        VisitField::CountryName => footfall_queries::stats::country::name(&e.location.country),
        VisitField::Region => e.location.region.clone(),
        VisitField::City => e.location.city.clone(),
        VisitField::Device => e.client.device.as_str().to_owned(),
        VisitField::Browser => e.client.browser.clone(),
        VisitField::BrowserVersion => e.client.browser_version.clone(),
        VisitField::Os => e.client.os.clone(),
        VisitField::OsVersion => e.client.os_version.clone(),
    };
    if !raw.is_empty() {
        return raw;
    }
    match field {
        VisitField::Source | VisitField::Referrer => "Direct / None".into(),
        VisitField::EntryPage
        | VisitField::ExitPage
        | VisitField::EntryPageHostname
        | VisitField::ExitPageHostname
        | VisitField::Channel
        | VisitField::Country
        | VisitField::CountryName
        | VisitField::Region
        | VisitField::City => String::new(),
        _ => "(not set)".into(),
    }
}

fn time_label(q: &Query, bucket: TimeBucket, t: DateTime<Utc>) -> String {
    let local = t.with_timezone(&q.timezone).naive_local();
    match bucket {
        TimeBucket::Hour => local.format("%Y-%m-%d %H:00:00").to_string(),
        TimeBucket::Day => local.date().to_string(),
        TimeBucket::Week => {
            let date = local.date();
            let monday = date - Duration::days(date.weekday().num_days_from_monday() as i64);
            let floor = q.period.from.with_timezone(&q.timezone).date_naive();
            monday.max(floor).to_string()
        }
        TimeBucket::Month => format!("{:04}-{:02}-01", local.year(), local.month()),
    }
}

/// Whether a path matches a page goal's pattern: `**` matches anything, `*` anything but `/`.
fn glob_matches(pattern: &[char], path: &[char]) -> bool {
    match pattern {
        [] => path.is_empty(),
        ['*', '*', rest @ ..] => (0..=path.len()).any(|i| glob_matches(rest, &path[i..])),
        ['*', rest @ ..] => (0..=path.len())
            .take_while(|i| *i == 0 || path[i - 1] != '/')
            .any(|i| glob_matches(rest, &path[i..])),
        [c, rest @ ..] => path.first() == Some(c) && glob_matches(rest, &path[1..]),
    }
}

/// The display names of the goals an event reaches.
fn reached(q: &Query, e: &Event) -> Vec<String> {
    q.goals
        .iter()
        .filter(|g| match g {
            Goal::Event(name) => e.name == *name,
            Goal::Page(pattern) => {
                let pattern: Vec<char> = pattern.chars().collect();
                let path: Vec<char> = e.path.chars().collect();
                e.name == "pageview" && glob_matches(&pattern, &path)
            }
        })
        .map(Goal::display_name)
        .collect()
}

/// The group keys of an event: one, or one per goal it reaches when split by goal.
fn keys(q: &Query, e: &Event, v: &Visit) -> Vec<Vec<String>> {
    let mut keys = vec![Vec::new()];
    for d in &q.dimensions {
        let values = match d {
            Dimension::Goal => reached(q, e),
            d => vec![value(q, d, Some(e), v)],
        };
        keys = keys
            .into_iter()
            .flat_map(|k| {
                values.iter().map(move |value| {
                    let mut k = k.clone();
                    k.push(value.clone());
                    k
                })
            })
            .collect();
    }
    keys
}

/// The filter without its top-level goal and prop conditions (what conversion rates divide by).
fn without_goals(f: &Filter) -> Option<Filter> {
    let dropped = |f: &Filter| {
        matches!(
            f,
            Filter::Condition {
                dimension: Dimension::Goal | Dimension::Prop(_),
                ..
            }
        )
    };
    match f {
        Filter::And(parts) => {
            let kept: Vec<Filter> = parts.iter().filter(|p| !dropped(p)).cloned().collect();
            (!kept.is_empty()).then_some(Filter::And(kept))
        }
        f if dropped(f) => None,
        f => Some(f.clone()),
    }
}

/// A dimension's value for an event (`visit` is its visit) or, with `event: None`, for a visit.
fn value(q: &Query, d: &Dimension, event: Option<&Event>, visit: &Visit) -> String {
    match d {
        Dimension::Event(field) => {
            let e = event.expect("event dimensions only on events");
            match field {
                EventField::Page => e.path.clone(),
                EventField::Name => e.name.clone(),
                EventField::Hostname => e.hostname.clone(),
            }
        }
        Dimension::Prop(key) => {
            let e = event.expect("event dimensions only on events");
            e.props
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| "(none)".into())
        }
        Dimension::Visit(field) => visit_value(*field, visit),
        Dimension::Time(bucket) => time_label(q, *bucket, event.map_or(visit.started, |e| e.ts)),
        Dimension::Goal => unreachable!("goals are keyed by `keys`"),
    }
}

/// The period's events of each visit, for behavioral filters.
type Done<'a> = HashMap<u64, Vec<&'a Event>>;

fn holds(q: &Query, f: &Filter, e: &Event, v: &Visit, done: &Done) -> bool {
    match f {
        Filter::And(parts) => parts.iter().all(|p| holds(q, p, e, v, done)),
        Filter::Or(parts) => parts.iter().any(|p| holds(q, p, e, v, done)),
        Filter::Not(inner) => !holds(q, inner, e, v, done),
        Filter::HasDone { negated, inner } => {
            let any = done
                .get(&e.session_id)
                .is_some_and(|others| others.iter().any(|o| holds(q, inner, o, v, done)));
            any != *negated
        }
        Filter::Condition {
            operator,
            dimension,
            clauses,
            case_sensitive,
        } => {
            let fold = |s: &str| {
                if *case_sensitive {
                    s.to_owned()
                } else {
                    s.to_lowercase()
                }
            };
            if *dimension == Dimension::Goal {
                let reached = reached(q, e);
                let any = reached.iter().any(|name| {
                    clauses.iter().any(|c| match operator {
                        Operator::Is | Operator::IsNot => fold(name) == fold(c),
                        _ => fold(name).contains(&fold(c)),
                    })
                });
                return any != operator.is_negated();
            }
            let actual = value(q, dimension, Some(e), v);
            let any = match operator {
                Operator::Is | Operator::IsNot => clauses.iter().any(|c| fold(c) == fold(&actual)),
                Operator::Contains | Operator::ContainsNot => {
                    clauses.iter().any(|c| fold(&actual).contains(&fold(c)))
                }
                Operator::Matches | Operator::MatchesNot => clauses
                    .iter()
                    .any(|c| regex::Regex::new(c).unwrap().is_match(&actual)),
            };
            any != operator.is_negated()
        }
    }
}

#[derive(Default, Clone)]
struct Group {
    visitors: BTreeSet<u64>,
    visits: BTreeSet<u64>,
    pageviews: u64,
    events: u64,
    sessions: u64,
    bounced: u64,
    duration_us: i64,
    visit_pageviews: u64,
    engaged_ms: u64,
    engaged_visits: BTreeSet<u64>,
    /// The deepest scroll per (visit, page).
    scroll: BTreeMap<(u64, String), u8>,
}

fn round_to(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale
}

pub fn reference(all: &[Event], q: &Query) -> (Vec<ResultRow>, u64) {
    let site_events: Vec<&Event> = all.iter().filter(|e| e.site.as_str() == q.site).collect();
    let visits = visits(&site_events);
    let events: Vec<&Event> = site_events
        .iter()
        .copied()
        .filter(|e| e.ts >= q.period.from && e.ts < q.period.to)
        .collect();
    let mut done: Done = HashMap::new();
    for e in &events {
        done.entry(e.session_id).or_default().push(e);
    }
    let matching: Vec<&Event> = events
        .iter()
        .copied()
        .filter(|e| {
            q.filter
                .as_ref()
                .is_none_or(|f| holds(q, f, e, &visits[&e.session_id], &done))
        })
        .collect();
    let total_visitors: BTreeSet<u64> = matching.iter().map(|e| e.visitor_id).collect();

    let mut groups: BTreeMap<Vec<String>, Group> = BTreeMap::new();
    if q.dimensions.is_empty() {
        groups.insert(Vec::new(), Group::default());
    }
    for e in &matching {
        let v = &visits[&e.session_id];
        for key in keys(q, e, v) {
            let g = groups.entry(key).or_default();
            g.visitors.insert(e.visitor_id);
            g.visits.insert(e.session_id);
            g.pageviews += u64::from(e.name == "pageview");
            g.events += u64::from(e.name != "engagement");
            if e.name == "engagement" {
                g.engaged_ms += u64::from(e.engaged_ms.unwrap_or(0));
                g.engaged_visits.insert(e.session_id);
                if let Some(depth) = e.scroll_depth {
                    let deepest = g.scroll.entry((e.session_id, e.path.clone())).or_insert(0);
                    *deepest = (*deepest).max(depth);
                }
            }
        }
    }
    let whole_visits = !q.dimensions.iter().any(Dimension::is_event_dimension);
    if q.metrics
        .iter()
        .any(|m| m.is_session_metric() || (*m == Metric::Visits && whole_visits))
    {
        // By page, a visit belongs to the page it entered on: `event:page` in the filter and the
        // dimensions reads as the entry page.
        let by_entry = q.dimensions.contains(&Dimension::Event(EventField::Page))
            || q.filter.as_ref().is_some_and(Filter::mentions_page);
        let session_filter = if by_entry {
            q.filter.as_ref().map(Filter::pages_as_entry_pages)
        } else {
            q.filter.clone()
        };
        // Visits that started in the period, with a matching event anywhere in them.
        let matched: BTreeSet<u64> = site_events
            .iter()
            .filter(|e| {
                let v = &visits[&e.session_id];
                v.started >= q.period.from
                    && v.started < q.period.to
                    && session_filter
                        .as_ref()
                        .is_none_or(|f| holds(q, f, e, v, &done))
            })
            .map(|e| e.session_id)
            .collect();
        for id in matched {
            let v = &visits[&id];
            let key: Vec<String> = q
                .dimensions
                .iter()
                .map(|d| match d {
                    Dimension::Event(EventField::Page) => v.entry_page.clone(),
                    d => value(q, d, None, v),
                })
                .collect();
            let g = groups.entry(key).or_default();
            g.sessions += 1;
            g.bounced += u64::from(v.pageviews == 1 && v.interactions == 0);
            g.duration_us += v.duration_us;
            g.visit_pageviews += v.pageviews;
        }
    }

    let ratio = |a: f64, b: u64| if b == 0 { 0.0 } else { a / b as f64 };
    // Conversion rates: the visitors of the query without its goal and prop conditions, in all
    // and per group of the other dimensions.
    let goal_metrics = q.metrics.iter().any(|m| m.is_goal_metric());
    let base_query = |dimensions: Vec<Dimension>| Query {
        metrics: vec![Metric::Visitors],
        dimensions,
        filter: q.filter.as_ref().and_then(without_goals),
        order: Vec::new(),
        limit: u32::MAX,
        offset: 0,
        ..q.clone()
    };
    let conversion_base = if goal_metrics {
        match reference(all, &base_query(Vec::new())).0[0].metrics[0] {
            MetricValue::Int(n) => n,
            _ => unreachable!(),
        }
    } else {
        0
    };
    let goal_at = q.dimensions.iter().position(|d| *d == Dimension::Goal);
    let group_bases: HashMap<Vec<String>, u64> = if goal_metrics && !q.dimensions.is_empty() {
        let others: Vec<Dimension> = q
            .dimensions
            .iter()
            .filter(|d| **d != Dimension::Goal)
            .cloned()
            .collect();
        reference(all, &base_query(others))
            .0
            .into_iter()
            .map(|r| match r.metrics[0] {
                MetricValue::Int(n) => (r.dimensions, n),
                _ => unreachable!(),
            })
            .collect()
    } else {
        HashMap::new()
    };
    let mut rows: Vec<ResultRow> = groups
        .into_iter()
        .map(|(dimensions, g)| ResultRow {
            dimensions: dimensions.clone(),
            metrics: q
                .metrics
                .iter()
                .map(|m| match m {
                    Metric::Visitors => MetricValue::Int(g.visitors.len() as u64),
                    Metric::ConversionRate => MetricValue::Float(round_to(
                        ratio(g.visitors.len() as f64 * 100.0, conversion_base),
                        2,
                    )),
                    Metric::GroupConversionRate => {
                        let group: Vec<String> = dimensions
                            .iter()
                            .enumerate()
                            .filter(|(i, _)| Some(*i) != goal_at)
                            .map(|(_, d)| d.clone())
                            .collect();
                        let base = group_bases.get(&group).copied().unwrap_or(0);
                        MetricValue::Float(round_to(
                            ratio(g.visitors.len() as f64 * 100.0, base),
                            2,
                        ))
                    }
                    Metric::Visits if whole_visits => MetricValue::Int(g.sessions),
                    Metric::Visits => MetricValue::Int(g.visits.len() as u64),
                    Metric::Pageviews => MetricValue::Int(g.pageviews),
                    Metric::Events => MetricValue::Int(g.events),
                    Metric::ViewsPerVisit => {
                        MetricValue::Float(round_to(ratio(g.visit_pageviews as f64, g.sessions), 2))
                    }
                    Metric::BounceRate => MetricValue::Int(round_to(
                        ratio((g.bounced * 100) as f64, g.sessions),
                        0,
                    ) as u64),
                    Metric::VisitDuration => MetricValue::Int(round_to(
                        ratio(g.duration_us as f64, g.sessions) / 1e6,
                        0,
                    ) as u64),
                    Metric::TimeOnPage => {
                        if g.engaged_visits.is_empty() {
                            MetricValue::Null
                        } else {
                            MetricValue::Int(round_to(
                                ratio(g.engaged_ms as f64, g.engaged_visits.len() as u64) / 1e3,
                                0,
                            ) as u64)
                        }
                    }
                    Metric::ScrollDepth => {
                        if g.scroll.is_empty() {
                            MetricValue::Null
                        } else {
                            let sum: u64 = g.scroll.values().map(|d| u64::from(*d)).sum();
                            MetricValue::Int(
                                round_to(ratio(sum as f64, g.scroll.len() as u64), 0) as u64
                            )
                        }
                    }
                    Metric::Percentage => {
                        if total_visitors.is_empty() {
                            MetricValue::Null
                        } else {
                            MetricValue::Float(round_to(
                                ratio((g.visitors.len() * 100) as f64, total_visitors.len() as u64),
                                1,
                            ))
                        }
                    }
                })
                .collect(),
        })
        .collect();

    // Order: the query's keys, then every dimension ascending.
    let numeric = |v: &MetricValue| match v {
        MetricValue::Int(n) => *n as f64,
        MetricValue::Float(x) => *x,
        MetricValue::Null => f64::NEG_INFINITY,
    };
    rows.sort_by(|a, b| {
        for Order { key, descending } in &q.order {
            let o = match key {
                OrderKey::Metric(m) => {
                    let i = q.metrics.iter().position(|x| x == m).unwrap();
                    numeric(&a.metrics[i])
                        .partial_cmp(&numeric(&b.metrics[i]))
                        .unwrap()
                }
                OrderKey::Dimension(d) => {
                    let i = q.dimensions.iter().position(|x| x == d).unwrap();
                    a.dimensions[i].cmp(&b.dimensions[i])
                }
            };
            let o = if *descending { o.reverse() } else { o };
            if o.is_ne() {
                return o;
            }
        }
        a.dimensions.cmp(&b.dimensions)
    });
    let total = rows.len() as u64;
    let page = rows
        .into_iter()
        .skip(q.offset as usize)
        .take(q.limit as usize)
        .collect();
    (page, total)
}

// ---------------------------------------------------------------------------------------------
// Random queries over the sample.

const ZONES: [&str; 4] = ["UTC", "America/New_York", "Asia/Kolkata", "Europe/Berlin"];

fn dimension() -> impl Strategy<Value = Dimension> {
    prop_oneof![
        prop::sample::select(vec![
            EventField::Page,
            EventField::Name,
            EventField::Hostname
        ])
        .prop_map(Dimension::Event),
        prop::sample::select(vec!["plan", "url", "missing"])
            .prop_map(|k| Dimension::Prop(k.into())),
        prop::sample::select(VisitField::ALL.to_vec()).prop_map(Dimension::Visit),
        prop::sample::select(vec![
            TimeBucket::Hour,
            TimeBucket::Day,
            TimeBucket::Week,
            TimeBucket::Month
        ])
        .prop_map(Dimension::Time),
    ]
}

/// Clauses a dimension's real values would match, and some that match nothing.
fn clauses_for(d: &Dimension) -> Vec<&'static str> {
    match d {
        Dimension::Event(EventField::Page)
        | Dimension::Visit(VisitField::EntryPage | VisitField::ExitPage) => {
            vec![
                "/",
                "/pricing",
                "/blog/post-4",
                "blog",
                "/DOCS",
                "post-1",
                "/nowhere",
            ]
        }
        Dimension::Event(EventField::Name) => vec![
            "pageview",
            "Signup",
            "signup",
            "engagement",
            "Video Seen",
            "File",
        ],
        Dimension::Event(EventField::Hostname)
        | Dimension::Visit(VisitField::EntryPageHostname | VisitField::ExitPageHostname) => {
            vec!["alpha.test", "blog.beta.test", "BLOG", "gamma", ""]
        }
        Dimension::Prop(_) => vec!["pro", "free", "(none)", "guide", "TEAM"],
        Dimension::Visit(VisitField::Source) => {
            vec!["Google", "Direct / None", "newsletter", "blog1", "google"]
        }
        Dimension::Visit(VisitField::Channel) => vec![
            "Organic Search",
            "Direct",
            "Paid Search",
            "Email",
            "referral",
            "Social",
        ],
        Dimension::Visit(VisitField::Country) => vec!["US", "DE", "", "us", "XX"],
        Dimension::Visit(VisitField::CountryName) => {
            vec!["United States", "germany", "United", "", "Nowhere"]
        }
        Dimension::Visit(VisitField::Device) => vec!["Desktop", "Mobile", "(not set)", "tablet"],
        Dimension::Visit(
            VisitField::UtmMedium | VisitField::UtmSource | VisitField::UtmCampaign,
        ) => {
            vec!["email", "cpc", "(not set)", "issue-2", "news"]
        }
        Dimension::Visit(_) => vec![
            "Chrome",
            "iOS",
            "17",
            "(not set)",
            "Safari",
            "Direct / None",
            "Berlin",
            "US-CA",
        ],
        Dimension::Time(_) | Dimension::Goal => vec![],
    }
}

const PATTERNS: [&str; 5] = ["^/blog/", "post-[0-9]$", "^(Google|Bing)$", "o", "^$"];

fn condition() -> impl Strategy<Value = Filter> {
    (
        dimension().prop_filter("time cannot be filtered", |d| {
            !matches!(d, Dimension::Time(_))
        }),
        prop::sample::select(Operator::ALL.to_vec()),
        any::<bool>(),
        any::<prop::sample::Index>(),
        1usize..3,
    )
        .prop_map(|(dimension, operator, case_sensitive, pick, n)| {
            let pool: Vec<&str> = match operator {
                Operator::Matches | Operator::MatchesNot => PATTERNS.to_vec(),
                _ => clauses_for(&dimension),
            };
            let clauses = (0..n)
                .map(|i| pool[(pick.index(pool.len()) + i) % pool.len()].to_owned())
                .collect();
            let case_sensitive =
                case_sensitive || matches!(operator, Operator::Matches | Operator::MatchesNot);
            Filter::Condition {
                operator,
                dimension,
                clauses,
                case_sensitive,
            }
        })
}

/// The sample sites' goals: an event, a page, patterns within one segment and across them.
fn goals() -> Vec<Goal> {
    vec![
        Goal::event("Signup").unwrap(),
        Goal::page("/pricing").unwrap(),
        Goal::page("/blog/**").unwrap(),
        Goal::page("/docs/*").unwrap(),
        Goal::page("/docs/**").unwrap(),
        Goal::event("File Download").unwrap(),
    ]
}

/// A goal condition, as the API allows it: `is` or `contains`, at the top level.
fn goal_condition() -> impl Strategy<Value = Filter> {
    (
        prop::sample::select(vec![Operator::Is, Operator::Contains]),
        prop::sample::subsequence(
            vec![
                "Signup",
                "Visit /blog/**",
                "visit /pricing",
                "Visit /docs",
                "Download",
                "Nope",
            ],
            1..3,
        ),
        any::<bool>(),
    )
        .prop_map(|(operator, clauses, case_sensitive)| Filter::Condition {
            operator,
            dimension: Dimension::Goal,
            clauses: clauses.into_iter().map(str::to_owned).collect(),
            case_sensitive,
        })
}

/// `has_done` / `has_not_done` around a condition on an event dimension.
fn behavioral() -> impl Strategy<Value = Filter> {
    (
        any::<bool>(),
        condition().prop_filter("behavioral filters read events", |c| {
            c.conditions()
                .iter()
                .all(|c| matches!(c.dimension, Dimension::Event(_) | Dimension::Prop(_)))
        }),
    )
        .prop_map(|(negated, inner)| Filter::HasDone {
            negated,
            inner: Box::new(inner),
        })
}

fn filter() -> impl Strategy<Value = Filter> {
    prop_oneof![4 => condition(), 1 => behavioral()].prop_recursive(2, 6, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..3).prop_map(Filter::And),
            prop::collection::vec(inner.clone(), 1..3).prop_map(Filter::Or),
            inner.prop_map(|f| Filter::Not(Box::new(f))),
        ]
    })
}

/// Random queries over the sites and days; `filtered`: the share of them with a filter.
pub fn query(
    sites: Vec<String>,
    first_day: NaiveDate,
    days: i64,
    filtered: f64,
) -> impl Strategy<Value = Query> {
    let sites = {
        let mut s = sites;
        s.push("unknown.test".into());
        s
    };
    (
        prop::sample::select(sites),
        prop::sample::select(ZONES.to_vec()),
        0..days,
        1..days + 2,
        prop::sample::subsequence(Metric::ALL.to_vec(), 1..5),
        prop::collection::vec(
            prop_oneof![9 => dimension(), 1 => Just(Dimension::Goal)],
            0..3,
        ),
        (
            prop::option::weighted(filtered, filter()),
            prop::option::weighted(filtered * 0.35, goal_condition()),
        ),
        any::<bool>(),
        1u32..30,
        0u64..5,
        any::<prop::sample::Index>(),
    )
        .prop_map(
            move |(site, zone, start, length, metrics, dims, filters, desc, limit, offset, key)| {
                let filter = match filters {
                    (Some(f), Some(goal)) => Some(Filter::And(vec![goal, f])),
                    (f, goal) => f.or(goal),
                };
                let timezone: Tz = zone.parse().unwrap();
                let from_date = first_day + Duration::days(start);
                let midnight = |d: NaiveDate| {
                    timezone
                        .from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap())
                        .earliest()
                        .unwrap()
                        .with_timezone(&Utc)
                };
                // Some periods start and end mid-day, as explicit instants do.
                let from = midnight(from_date) + Duration::hours(start % 3 * 5);
                let to = midnight(from_date + Duration::days(length));
                // At most one time dimension; no visit metrics with event dimensions.
                let mut dimensions: Vec<Dimension> = Vec::new();
                for d in dims {
                    let repeated = dimensions.contains(&d);
                    let second_time = matches!(d, Dimension::Time(_))
                        && dimensions.iter().any(|x| matches!(x, Dimension::Time(_)));
                    if repeated || second_time {
                        continue;
                    }
                    dimensions.push(d);
                }
                let mut metrics = metrics;
                // Conversion rates need goals in the dimensions or filter, and a group rate needs
                // dimensions (the API refuses them otherwise).
                let by_goal = dimensions.contains(&Dimension::Goal)
                    || filter.as_ref().is_some_and(Filter::mentions_goal);
                metrics.retain(|m| {
                    !m.is_goal_metric()
                        || (by_goal
                            && (*m != Metric::GroupConversionRate || !dimensions.is_empty()))
                });
                if metrics.is_empty() {
                    metrics.push(Metric::Visitors);
                }
                // Visit metrics split by event dimensions other than the page are refused.
                if dimensions
                    .iter()
                    .any(|d| d.is_event_dimension() && *d != Dimension::Event(EventField::Page))
                {
                    metrics.retain(|m| !m.is_session_metric());
                    if metrics.is_empty() {
                        metrics.push(Metric::Visitors);
                    }
                }
                let keys: Vec<OrderKey> = metrics
                    .iter()
                    .map(|m| OrderKey::Metric(*m))
                    .chain(dimensions.iter().cloned().map(OrderKey::Dimension))
                    .collect();
                let order = vec![Order {
                    key: keys[key.index(keys.len())].clone(),
                    descending: desc,
                }];
                Query {
                    site,
                    timezone,
                    period: Period { from, to },
                    metrics,
                    dimensions,
                    filter,
                    goals: goals(),
                    order,
                    limit,
                    offset,
                }
            },
        )
}

/// Asks an engine 300 random queries (a share `filtered` of them filtered) over the sample
/// `events` of `spec`, and checks each answer against the reference. `answer` runs a query on
/// the engine; `rolled` says whether the engine read rollups for it. Returns how many queries
/// found something and how many were answered partly from rollups.
pub fn agree(
    events: &[Event],
    spec: &SampleSpec,
    filtered: f64,
    answer: impl Fn(&Query) -> Result<QueryResult, String>,
    rolled: impl Fn(&Query) -> bool,
) -> (u32, u32) {
    let first_day = spec.last_day - Duration::days(i64::from(spec.days) - 1);
    let strategy = query(
        spec.sites.clone(),
        first_day - Duration::days(1),
        i64::from(spec.days) + 1,
        filtered,
    );
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: 300,
            failure_persistence: None,
            ..Config::default()
        },
        proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::ChaCha,
        ),
    );
    let nonempty = std::cell::Cell::new(0);
    let rolled_up = std::cell::Cell::new(0);
    runner
        .run(&strategy, |q| {
            let got = answer(&q).map_err(|e| TestCaseError::fail(format!("{e}: {q:?}")))?;
            if rolled(&q) {
                rolled_up.set(rolled_up.get() + 1);
            }
            let (rows, total) = reference(events, &q);
            if rows
                .iter()
                .any(|r| r.metrics.iter().any(|m| *m != MetricValue::Int(0)))
            {
                nonempty.set(nonempty.get() + 1);
            }
            prop_assert_eq!(&got.rows, &rows, "query {:?}", q);
            prop_assert_eq!(got.total_rows, total);
            Ok(())
        })
        .unwrap();
    (nonempty.get(), rolled_up.get())
}
