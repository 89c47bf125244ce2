//! What the fuzz targets share: generators that turn libFuzzer's bytes (through `arbitrary`)
//! into plausible Stats API queries, sites and clocks, so that coverage goes past the first
//! checks of the parser into the planner and the SQL builder.

use arbitrary::{Result, Unstructured};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use footfall_queries::stats::{Goal, Metric, TimeBucket, VisitField};
use serde_json::{json, Map, Value};

/// Put in every string a generated query carries, so that a target can tell a value that
/// reached the SQL text from the builder's own words. Lower case, so that folding case for a
/// case-insensitive filter keeps it.
pub const MARKER: &str = "zqxjv";

/// How the strings of a generated query are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strings {
    /// Anything, or a few words that mean something to the parser.
    Free,
    /// Each holds [`MARKER`].
    Marked,
}

fn choose<'a, T>(u: &mut Unstructured, items: &'a [T]) -> Result<&'a T> {
    u.choose(items)
}

/// A short string: [`MARKER`] and a few arbitrary characters, or (free) whatever comes.
pub fn text(u: &mut Unstructured, strings: Strings) -> Result<String> {
    let tail: String = {
        let len = u.int_in_range(0..=12)?;
        (0..len)
            .map(|_| u.arbitrary::<char>())
            .collect::<Result<_>>()?
    };
    Ok(match strings {
        Strings::Marked => format!("{MARKER}{}{tail}", u.int_in_range(0..=999u16)?),
        Strings::Free => match u.int_in_range(0..=3)? {
            0 => tail,
            1 => choose(
                u,
                &[
                    "/",
                    "/blog",
                    "Google",
                    "EE",
                    "Chrome",
                    "",
                    "(none)",
                    "Direct / None",
                ],
            )?
            .to_string(),
            2 => format!("/{tail}"),
            _ => format!(
                "{tail}{}",
                choose(u, &["'", "\"", ";", "$1", "\\", "%", "*", "**"])?
            ),
        },
    })
}

fn metric_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
    // Plausible's, which Footfall refuses, and one that is nobody's.
    names.extend(["exit_rate", "total_revenue", "baa"]);
    names
}

/// Dimensions a query may name: every one, a prop, and a few that are refused.
fn dimension(u: &mut Unstructured, strings: Strings, filter: bool) -> Result<String> {
    Ok(match u.int_in_range(0..=9)? {
        0 => format!("event:props:{}", text(u, strings)?),
        1 => choose(
            u,
            &["event:page", "event:name", "event:hostname", "event:goal"],
        )?
        .to_string(),
        2 if !filter => choose(
            u,
            &[
                "time",
                TimeBucket::Hour.name(),
                TimeBucket::Day.name(),
                TimeBucket::Week.name(),
                TimeBucket::Month.name(),
            ],
        )?
        .to_string(),
        3 => choose(
            u,
            &[
                "visit:region_name",
                "segment",
                "time:day",
                "event:props:",
                "visit:nope",
            ],
        )?
        .to_string(),
        _ => format!("visit:{}", choose(u, &VisitField::ALL)?.name()),
    })
}

fn list<T>(
    u: &mut Unstructured,
    max: usize,
    mut item: impl FnMut(&mut Unstructured) -> Result<T>,
) -> Result<Vec<T>> {
    let n = u.int_in_range(1..=max)?;
    (0..n).map(|_| item(u)).collect()
}

/// A filter tree in the Stats API's shape: conditions, `and`/`or`/`not`, `has_done`.
pub fn filter(u: &mut Unstructured, strings: Strings, depth: u32) -> Result<Value> {
    let kind = if depth >= 3 {
        0
    } else {
        u.int_in_range(0..=9)?
    };
    Ok(match kind {
        6 | 7 => json!([
            if kind == 6 { "and" } else { "or" },
            list(u, 3, |u| filter(u, strings, depth + 1))?
        ]),
        8 => json!(["not", filter(u, strings, depth + 1)?]),
        9 => json!([
            choose(u, &["has_done", "has_not_done"])?,
            filter(u, strings, depth + 1)?
        ]),
        _ => {
            let operator = *choose(
                u,
                &[
                    "is",
                    "is_not",
                    "contains",
                    "contains_not",
                    "matches",
                    "matches_not",
                    "equals",
                ],
            )?;
            let dimension = dimension(u, strings, true)?;
            let clauses = if dimension == "visit:country" && u.arbitrary()? {
                list(
                    u,
                    3,
                    |u| Ok(choose(u, &["EE", "US", "de", ""])?.to_string()),
                )?
            } else {
                list(u, 4, |u| text(u, strings))?
            };
            let mut condition = vec![json!(operator), json!(dimension), json!(clauses)];
            if u.arbitrary()? {
                condition.push(json!({"case_sensitive": u.arbitrary::<bool>()?}));
            }
            Value::Array(condition)
        }
    })
}

fn date(u: &mut Unstructured) -> Result<NaiveDate> {
    let base = NaiveDate::from_ymd_opt(2000, 1, 1).expect("a date");
    Ok(base + Duration::days(u.int_in_range(-36_500..=36_500)?))
}

/// A length from a little below zero (refused) to `usual`, and now and then to `long`: the
/// builder's work grows with a period's hours (the zone's offsets are looked up hourly), so long
/// periods, which take no other path, are kept rare.
fn span(u: &mut Unstructured, usual: i64, long: i64) -> Result<i64> {
    let most = if u.ratio(1, 16)? { long } else { usual };
    u.int_in_range(-2..=most)
}

fn date_range(u: &mut Unstructured) -> Result<Value> {
    Ok(match u.int_in_range(0..=3)? {
        0 => json!(choose(
            u,
            &["day", "7d", "28d", "30d", "91d", "month", "6mo", "12mo", "year", "all", "realtime"]
        )?),
        1 => {
            let from = date(u)?;
            let to = from + Duration::days(span(u, 45, 800)?);
            json!([from.to_string(), to.to_string()])
        }
        2 => {
            let from = date(u)?.and_hms_opt(0, 0, 0).expect("midnight").and_utc()
                + Duration::seconds(u.int_in_range(0..=86_399)?);
            let to = from + Duration::seconds(span(u, 3 * 86_400, 400 * 86_400)?);
            let offset =
                chrono::FixedOffset::east_opt(u.int_in_range(-14..=14)? * 3600).expect("an offset");
            json!([
                from.with_timezone(&offset).to_rfc3339(),
                to.with_timezone(&offset).to_rfc3339()
            ])
        }
        _ => json!([text(u, Strings::Free)?, date(u)?.to_string()]),
    })
}

/// A Stats API request body: mostly valid, with every part the parser knows.
pub fn query(u: &mut Unstructured, strings: Strings) -> Result<Value> {
    let mut body = Map::new();
    body.insert("site_id".into(), json!(text(u, strings)?));
    let names = metric_names();
    let mut metrics: Vec<&str> = list(u, 4, |u| Ok(*choose(u, &names)?))?;
    metrics.dedup();
    body.insert("metrics".into(), json!(metrics));
    body.insert("date_range".into(), date_range(u)?);
    let mut dimensions = Vec::new();
    if u.arbitrary()? {
        dimensions = list(u, 3, |u| dimension(u, strings, false))?;
        dimensions.dedup();
        body.insert("dimensions".into(), json!(dimensions));
    }
    if u.arbitrary()? {
        body.insert(
            "filters".into(),
            json!(list(u, 3, |u| filter(u, strings, 1))?),
        );
    }
    if u.arbitrary()? {
        let keys: Vec<&str> = metrics
            .iter()
            .copied()
            .chain(dimensions.iter().map(String::as_str))
            .chain(["time", "visitors"])
            .collect();
        let order = list(u, 2, |u| {
            Ok(json!([
                choose(u, &keys)?,
                choose(u, &["asc", "desc", "up"])?
            ]))
        })?;
        body.insert("order_by".into(), json!(order));
    }
    if u.arbitrary()? {
        let mut include = Map::new();
        for key in ["time_labels", "total_rows", "imports"] {
            if u.arbitrary()? {
                include.insert(key.into(), json!(u.arbitrary::<bool>()?));
            }
        }
        if u.arbitrary()? {
            let comparison = match u.int_in_range(0..=2)? {
                0 => json!({"mode": "previous_period"}),
                1 => json!({"mode": "year_over_year"}),
                _ => {
                    let from = date(u)?;
                    let to = from + Duration::days(u.int_in_range(0..=60)?);
                    json!({"mode": "custom", "date_range": [from.to_string(), to.to_string()]})
                }
            };
            include.insert("comparisons".into(), comparison);
        }
        body.insert("include".into(), Value::Object(include));
    }
    if u.arbitrary()? {
        body.insert(
            "pagination".into(),
            json!({"limit": u.int_in_range(0..=10_001u32)?, "offset": u.int_in_range(0..=100u32)?}),
        );
    }
    Ok(Value::Object(body))
}

/// What a plan is made against: the site's zone, the clock, its first event and its goals.
#[derive(Debug, Clone)]
pub struct Site {
    pub timezone: Tz,
    pub now: DateTime<Utc>,
    pub first_event: Option<DateTime<Utc>>,
    pub goals: Vec<Goal>,
}

pub fn site(u: &mut Unstructured, strings: Strings) -> Result<Site> {
    let timezone = *choose(u, &chrono_tz::TZ_VARIANTS)?;
    let epoch = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap();
    let now = epoch + Duration::seconds(u.int_in_range(0..=100 * 365 * 86_400)?);
    let first_event = if u.arbitrary()? {
        Some(now - Duration::seconds(span(u, 60 * 86_400, 3 * 365 * 86_400)?))
    } else {
        None
    };
    let mut goals = Vec::new();
    for _ in 0..u.int_in_range(0..=3)? {
        let name = text(u, strings)?;
        let goal = if u.arbitrary()? {
            Goal::event(&name)
        } else {
            let pattern = format!("/{}{name}", choose(u, &["", "blog/*/", "**/"])?);
            Goal::page(&pattern)
        };
        goals.extend(goal.ok());
    }
    Ok(Site {
        timezone,
        now,
        first_event,
        goals,
    })
}
