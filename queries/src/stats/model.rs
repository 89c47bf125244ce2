//! What a stats query can ask for: closed sets of metrics, dimensions and operators, and the
//! filter tree. Only the names these enums produce ever appear in SQL text.

use chrono::{DateTime, Utc};

/// A number a query computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Distinct visitor ids among the matching events.
    Visitors,
    /// Visits with a matching event. Split by event dimensions (a page, an event name), the
    /// visits with a matching event in the period; otherwise the visits that started in the
    /// period, as the other visit metrics count them (see [`Query::visits_are_whole`]).
    Visits,
    /// Matching pageviews.
    Pageviews,
    /// Matching events other than engagement reports (pageviews and custom events).
    Events,
    /// Pageviews per visit, over the whole of each matching visit; 2 decimals.
    ViewsPerVisit,
    /// Share of matching visits with one pageview and no interactive event, in whole %.
    BounceRate,
    /// Mean time from a matching visit's first event to its last, in whole seconds.
    VisitDuration,
    /// Visitors as a share of all visitors matching the filters, in % with one decimal.
    Percentage,
    /// Engaged time reported on the matching pages, per visit that reported it, in whole
    /// seconds; null without reports.
    TimeOnPage,
    /// The deepest scroll of each visit on each matching page, averaged, in whole %; null
    /// without reports.
    ScrollDepth,
    /// Visitors who reached the goal(s), as a share of all visitors (the same query without its
    /// goal and prop filters, and without dimensions), in % with two decimals.
    ConversionRate,
    /// The same share within each group: the denominator is split by the dimensions other than
    /// `event:goal`.
    GroupConversionRate,
}

impl Metric {
    pub const ALL: [Metric; 12] = [
        Metric::Visitors,
        Metric::Visits,
        Metric::Pageviews,
        Metric::Events,
        Metric::ViewsPerVisit,
        Metric::BounceRate,
        Metric::VisitDuration,
        Metric::Percentage,
        Metric::TimeOnPage,
        Metric::ScrollDepth,
        Metric::ConversionRate,
        Metric::GroupConversionRate,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::Visitors => "visitors",
            Metric::Visits => "visits",
            Metric::Pageviews => "pageviews",
            Metric::Events => "events",
            Metric::ViewsPerVisit => "views_per_visit",
            Metric::BounceRate => "bounce_rate",
            Metric::VisitDuration => "visit_duration",
            Metric::Percentage => "percentage",
            Metric::TimeOnPage => "time_on_page",
            Metric::ScrollDepth => "scroll_depth",
            Metric::ConversionRate => "conversion_rate",
            Metric::GroupConversionRate => "group_conversion_rate",
        }
    }

    pub fn parse(name: &str) -> Option<Metric> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Metrics of whole visits: they need the visit as the unit, so they cannot be split by an
    /// event's attributes (Plausible refuses the same).
    pub fn is_session_metric(self) -> bool {
        matches!(
            self,
            Metric::ViewsPerVisit | Metric::BounceRate | Metric::VisitDuration
        )
    }

    /// Metrics of pages, from the engagement reports sent as pages are left: they need the page
    /// as the unit (an `event:page` dimension or filter).
    pub fn is_page_metric(self) -> bool {
        matches!(self, Metric::TimeOnPage | Metric::ScrollDepth)
    }

    /// Metrics of goals: they need an `event:goal` dimension or filter.
    pub fn is_goal_metric(self) -> bool {
        matches!(self, Metric::ConversionRate | Metric::GroupConversionRate)
    }
}

/// An attribute of a visit: the value on the visit's first event (or its first and last
/// pageview, for entry and exit pages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VisitField {
    EntryPage,
    ExitPage,
    /// The hostnames of the first and last pageview (sites served on several hosts).
    EntryPageHostname,
    ExitPageHostname,
    Source,
    Referrer,
    /// Computed from the first event's source, tags and click id ([`footfall_collector::channel`]).
    Channel,
    UtmSource,
    UtmMedium,
    UtmCampaign,
    UtmContent,
    UtmTerm,
    Country,
    /// The country's English name ([`super::country`]); answered by code, then named.
    CountryName,
    Region,
    City,
    Device,
    Browser,
    BrowserVersion,
    Os,
    OsVersion,
}

impl VisitField {
    pub const ALL: [VisitField; 21] = [
        VisitField::EntryPage,
        VisitField::ExitPage,
        VisitField::EntryPageHostname,
        VisitField::ExitPageHostname,
        VisitField::Source,
        VisitField::Referrer,
        VisitField::Channel,
        VisitField::UtmSource,
        VisitField::UtmMedium,
        VisitField::UtmCampaign,
        VisitField::UtmContent,
        VisitField::UtmTerm,
        VisitField::Country,
        VisitField::CountryName,
        VisitField::Region,
        VisitField::City,
        VisitField::Device,
        VisitField::Browser,
        VisitField::BrowserVersion,
        VisitField::Os,
        VisitField::OsVersion,
    ];

    /// The name after `visit:`, which is also the column of the visits relation.
    pub fn name(self) -> &'static str {
        match self {
            VisitField::EntryPage => "entry_page",
            VisitField::ExitPage => "exit_page",
            VisitField::EntryPageHostname => "entry_page_hostname",
            VisitField::ExitPageHostname => "exit_page_hostname",
            VisitField::Source => "source",
            VisitField::Referrer => "referrer",
            VisitField::Channel => "channel",
            VisitField::UtmSource => "utm_source",
            VisitField::UtmMedium => "utm_medium",
            VisitField::UtmCampaign => "utm_campaign",
            VisitField::UtmContent => "utm_content",
            VisitField::UtmTerm => "utm_term",
            VisitField::Country => "country",
            VisitField::CountryName => "country_name",
            VisitField::Region => "region",
            VisitField::City => "city",
            VisitField::Device => "device",
            VisitField::Browser => "browser",
            VisitField::BrowserVersion => "browser_version",
            VisitField::Os => "os",
            VisitField::OsVersion => "os_version",
        }
    }

    /// Whether the value is the visitor's own, from the client address and user agent: then
    /// every event of a visit has the same one, since a visit is one visitor id, which is a
    /// hash of both (and the GeoIP database and user agent rules do not change while the server
    /// runs, which is as long as a visit lives).
    pub fn is_per_visitor(self) -> bool {
        matches!(
            self,
            VisitField::Country
                | VisitField::CountryName
                | VisitField::Region
                | VisitField::City
                | VisitField::Device
                | VisitField::Browser
                | VisitField::BrowserVersion
                | VisitField::Os
                | VisitField::OsVersion
        )
    }

    /// What an empty value is shown as (and matched by, in filters), as Plausible shows it.
    pub fn empty_label(self) -> &'static str {
        match self {
            VisitField::Source | VisitField::Referrer => "Direct / None",
            VisitField::UtmSource
            | VisitField::UtmMedium
            | VisitField::UtmCampaign
            | VisitField::UtmContent
            | VisitField::UtmTerm
            | VisitField::Device
            | VisitField::Browser
            | VisitField::BrowserVersion
            | VisitField::Os
            | VisitField::OsVersion => "(not set)",
            VisitField::EntryPage
            | VisitField::ExitPage
            | VisitField::EntryPageHostname
            | VisitField::ExitPageHostname
            | VisitField::Channel
            | VisitField::Country
            | VisitField::CountryName
            | VisitField::Region
            | VisitField::City => "",
        }
    }
}

/// An attribute of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventField {
    Page,
    Name,
    Hostname,
}

impl EventField {
    /// The name after `event:`.
    pub fn name(self) -> &'static str {
        match self {
            EventField::Page => "page",
            EventField::Name => "name",
            EventField::Hostname => "hostname",
        }
    }

    /// The column of the events table.
    pub fn column(self) -> &'static str {
        match self {
            EventField::Page => "path",
            EventField::Name => "name",
            EventField::Hostname => "hostname",
        }
    }
}

/// A time bucket, in the site's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeBucket {
    Hour,
    Day,
    Week,
    Month,
}

impl TimeBucket {
    pub fn name(self) -> &'static str {
        match self {
            TimeBucket::Hour => "time:hour",
            TimeBucket::Day => "time:day",
            TimeBucket::Week => "time:week",
            TimeBucket::Month => "time:month",
        }
    }
}

/// What rows are grouped by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Dimension {
    Event(EventField),
    /// `event:props:<key>`; events without the key read as `(none)`.
    Prop(String),
    Visit(VisitField),
    Time(TimeBucket),
    /// `event:goal`: each of the site's goals an event reaches (one event may reach several).
    Goal,
}

/// Shown for events without the prop a breakdown or filter names.
pub const NO_PROP: &str = "(none)";

impl Dimension {
    pub fn name(&self) -> String {
        match self {
            Dimension::Event(field) => format!("event:{}", field.name()),
            Dimension::Prop(key) => format!("event:props:{key}"),
            Dimension::Visit(field) => format!("visit:{}", field.name()),
            Dimension::Time(bucket) => bucket.name().to_owned(),
            Dimension::Goal => "event:goal".to_owned(),
        }
    }

    pub fn is_event_dimension(&self) -> bool {
        matches!(
            self,
            Dimension::Event(_) | Dimension::Prop(_) | Dimension::Goal
        )
    }
}

/// How a filter compares a dimension's value with its clauses. A clause list matches when any
/// clause does; the `_not` forms match when none does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    Is,
    IsNot,
    Contains,
    ContainsNot,
    /// An RE2 regular expression, matched anywhere in the value (anchor it with `^` and `$`).
    Matches,
    MatchesNot,
}

impl Operator {
    pub const ALL: [Operator; 6] = [
        Operator::Is,
        Operator::IsNot,
        Operator::Contains,
        Operator::ContainsNot,
        Operator::Matches,
        Operator::MatchesNot,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Operator::Is => "is",
            Operator::IsNot => "is_not",
            Operator::Contains => "contains",
            Operator::ContainsNot => "contains_not",
            Operator::Matches => "matches",
            Operator::MatchesNot => "matches_not",
        }
    }

    pub fn parse(name: &str) -> Option<Operator> {
        Self::ALL.into_iter().find(|o| o.name() == name)
    }

    /// Whether a name matches any of the clauses, negation left aside: for names matched in
    /// Rust rather than in the store (goals, countries). `is_match` runs `matches` patterns.
    pub fn any_clause_matches(
        self,
        name: &str,
        clauses: &[String],
        case_sensitive: bool,
        is_match: &dyn Fn(&str, &str) -> bool,
    ) -> bool {
        let fold = |text: &str| {
            if case_sensitive {
                text.to_owned()
            } else {
                text.to_lowercase()
            }
        };
        clauses.iter().any(|clause| match self {
            Operator::Is | Operator::IsNot => fold(name) == fold(clause),
            Operator::Contains | Operator::ContainsNot => fold(name).contains(&fold(clause)),
            Operator::Matches | Operator::MatchesNot => is_match(clause, name),
        })
    }

    pub fn is_negated(self) -> bool {
        matches!(
            self,
            Operator::IsNot | Operator::ContainsNot | Operator::MatchesNot
        )
    }
}

/// A filter over events: conditions on event and visit dimensions, combined freely. An event
/// matches when the tree holds for it, its visit's attributes included; a visit matches when one
/// of its events does.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Condition {
        operator: Operator,
        /// Never a time dimension.
        dimension: Dimension,
        clauses: Vec<String>,
        case_sensitive: bool,
    },
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    /// `has_done` (or, `negated`, `has_not_done`): the event's visit has (or has not) an event
    /// in the period for which `inner` holds. `inner` reads event dimensions only.
    HasDone {
        negated: bool,
        inner: Box<Filter>,
    },
}

/// One condition of a filter tree, wherever it sits in it.
#[derive(Debug, Clone, Copy)]
pub struct ConditionRef<'a> {
    pub operator: Operator,
    pub dimension: &'a Dimension,
    pub clauses: &'a [String],
}

impl Filter {
    /// Every condition of the tree, in order.
    pub fn conditions(&self) -> Vec<ConditionRef<'_>> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(filter) = stack.pop() {
            match filter {
                Filter::And(parts) | Filter::Or(parts) => stack.extend(parts.iter().rev()),
                Filter::Not(inner) | Filter::HasDone { inner, .. } => stack.push(inner),
                Filter::Condition {
                    operator,
                    dimension,
                    clauses,
                    ..
                } => out.push(ConditionRef {
                    operator: *operator,
                    dimension,
                    clauses,
                }),
            }
        }
        out
    }

    /// The conditions on the event itself or its visit: those of behavioral filters (which are
    /// about other events of the visit) left out.
    pub fn own_conditions(&self) -> Vec<ConditionRef<'_>> {
        match self {
            Filter::And(parts) | Filter::Or(parts) => {
                parts.iter().flat_map(Filter::own_conditions).collect()
            }
            Filter::Not(inner) => inner.own_conditions(),
            Filter::HasDone { .. } => Vec::new(),
            Filter::Condition { .. } => self.conditions(),
        }
    }

    /// Whether any condition is on `event:goal`.
    pub fn mentions_goal(&self) -> bool {
        self.conditions()
            .iter()
            .any(|c| *c.dimension == Dimension::Goal)
    }

    /// The filter without its top-level conditions on goals and props: what conversion rates
    /// are shares of. `None` when nothing is left.
    pub fn without_goals(&self) -> Option<Filter> {
        let kept = |f: &Filter| {
            !matches!(
                f,
                Filter::Condition {
                    dimension: Dimension::Goal | Dimension::Prop(_),
                    ..
                }
            )
        };
        match self {
            Filter::And(parts) => {
                let parts: Vec<Filter> = parts.iter().filter(|p| kept(p)).cloned().collect();
                (!parts.is_empty()).then_some(Filter::And(parts))
            }
            other => kept(other).then(|| other.clone()),
        }
    }

    /// Whether any condition (outside behavioral filters) is on `event:page`.
    pub fn mentions_page(&self) -> bool {
        self.own_conditions()
            .iter()
            .any(|c| *c.dimension == Dimension::Event(EventField::Page))
    }

    /// The same filter with conditions on `event:page` read as conditions on the visit's entry
    /// page: how visit metrics are filtered by page.
    pub fn pages_as_entry_pages(&self) -> Filter {
        match self {
            Filter::And(parts) => {
                Filter::And(parts.iter().map(Filter::pages_as_entry_pages).collect())
            }
            Filter::Or(parts) => {
                Filter::Or(parts.iter().map(Filter::pages_as_entry_pages).collect())
            }
            Filter::Not(inner) => Filter::Not(Box::new(inner.pages_as_entry_pages())),
            // About other events of the visit, which are read as they are.
            Filter::HasDone { .. } => self.clone(),
            Filter::Condition {
                operator,
                dimension,
                clauses,
                case_sensitive,
            } => Filter::Condition {
                operator: *operator,
                dimension: if *dimension == Dimension::Event(EventField::Page) {
                    Dimension::Visit(VisitField::EntryPage)
                } else {
                    dimension.clone()
                },
                clauses: clauses.clone(),
                case_sensitive: *case_sensitive,
            },
        }
    }
}

/// `[from, to)` in UTC: the instants a query covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// Which way to sort by a metric or dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderKey {
    Metric(Metric),
    Dimension(Dimension),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub key: OrderKey,
    pub descending: bool,
}

impl Query {
    /// Whether the `visits` metric counts whole visits by when they started (as bounce rate and
    /// visit duration do), rather than the visits seen among the matching events: it does
    /// unless the query splits by an event dimension, where one visit shows under each page it
    /// viewed.
    ///
    /// Visit metrics count a visit in the period (and time bucket) it started in, with all of its
    /// events, so that counts over days add up: a visit crossing midnight is one visit of the
    /// day it started, never one of each day.
    pub fn visits_are_whole(&self, dimensions: &[Dimension]) -> bool {
        !dimensions.iter().any(Dimension::is_event_dimension)
    }

    /// Whether answering needs the whole visits (for their metrics), not only the events.
    pub fn needs_whole_visits(&self, dimensions: &[Dimension]) -> bool {
        self.metrics.iter().any(|m| {
            m.is_session_metric() || (*m == Metric::Visits && self.visits_are_whole(dimensions))
        })
    }

    /// Whether visit metrics go by entry page: when pages are asked for (an `event:page`
    /// dimension or filter), a visit belongs to the page it entered on, as Plausible counts the
    /// bounce rate and visit duration of a page.
    pub fn visits_by_entry_page(&self) -> bool {
        self.dimensions
            .contains(&Dimension::Event(EventField::Page))
            || self.filter.as_ref().is_some_and(Filter::mentions_page)
    }
}

/// A validated query, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub site: String,
    pub timezone: chrono_tz::Tz,
    pub period: Period,
    pub metrics: Vec<Metric>,
    pub dimensions: Vec<Dimension>,
    /// `None`: every event of the site in the period.
    pub filter: Option<Filter>,
    /// The site's goals, which `event:goal` dimensions and filters read.
    pub goals: Vec<super::goal::Goal>,
    /// Always complete: defaults are filled in when the query is built.
    pub order: Vec<Order>,
    pub limit: u32,
    pub offset: u64,
}
