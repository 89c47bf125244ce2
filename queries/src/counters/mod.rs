//! Public hit counts, kept in memory and advanced by the writer as it commits, so that a page can
//! show a count a few seconds old ("1,234 views") without a query per request.
//!
//! What is kept: for each site, each of its pages and the whole site, each local day's
//! pageviews and visitors (see [`series`]). They are loaded from the events at start, and every
//! committed batch is added ([`Counters::committed`]). To count each visitor once per day as
//! events arrive, the visitors of the last few local days are remembered per page; older days
//! only keep their numbers.
//!
//! The numbers are the Stats API's for the same page and period (`visitors` and `pageviews`
//! with the filter `event:page is PATH`): every event on the page counts its visitor, pageviews
//! are the `pageview` events, and days are the site's local days.
//!
//! Privacy: a count is a number per page and day, exactly what a site's dashboard shows. Which
//! sites and pages the public may see is decided by the caller (the site's opt-in and hidden
//! paths); this module answers for any.

mod series;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use duckdb::{params_from_iter, Connection};
use footfall_collector::Event;
use parking_lot::RwLock;

pub use series::Count;
use series::Series;

use crate::error::StoreError;
use crate::stats::model::Period;
use crate::stats::period::{offset_steps, DateRange};
use crate::stats::sql;
use crate::writer::CommitObserver;

/// Days older than this (before today, local) are folded into one entry per page: no period but
/// `all` reaches back that far (`year` is at most 366 days, `12mo` about 396).
pub const KEPT_DAYS: i64 = 400;
/// Local days whose visitors are remembered, today included: an event may still arrive for
/// yesterday (queued at midnight), and a visitor id can reach into the next local day.
const REMEMBERED_DAYS: i64 = 3;

/// The path under which the whole site's counts are kept. Recorded paths start with `/`.
const SITE_TOTAL: &str = "";

/// A site's time zone, by domain (UTC for one no longer registered).
pub type Zones = Arc<dyn Fn(&str) -> Tz + Send + Sync>;

/// Every site's counts.
pub struct Counters {
    sites: RwLock<HashMap<String, Arc<RwLock<SiteCounts>>>>,
    /// For sites whose first event arrives while the server runs.
    zones: Zones,
}

impl Default for Counters {
    /// Counts in UTC days for every site.
    fn default() -> Self {
        Counters::new(Arc::new(|_: &str| Tz::UTC))
    }
}

struct SiteCounts {
    tz: Tz,
    /// Index 0 is the whole site.
    series: Vec<Series>,
    paths: Vec<String>,
    index: HashMap<String, u32>,
    /// Per local day, the `(page index, visitor id)` pairs already counted.
    seen: BTreeMap<NaiveDate, HashSet<(u32, u64)>>,
    /// The latest local day folding was done for.
    folded_for: NaiveDate,
}

impl SiteCounts {
    fn new(tz: Tz) -> Self {
        let mut site = SiteCounts {
            tz,
            series: Vec::new(),
            paths: Vec::new(),
            index: HashMap::new(),
            seen: BTreeMap::new(),
            folded_for: NaiveDate::MIN,
        };
        site.page(SITE_TOTAL);
        site
    }

    fn page(&mut self, path: &str) -> u32 {
        if let Some(i) = self.index.get(path) {
            return *i;
        }
        let i = self.series.len() as u32;
        self.series.push(Series::default());
        self.paths.push(path.to_owned());
        self.index.insert(path.to_owned(), i);
        i
    }

    /// Counts one event: its visitor once per page and local day, its pageview if it is one.
    fn add(&mut self, path: &str, visitor: u64, pageview: bool, day: NaiveDate) {
        let page = self.page(path);
        let both = [0, page];
        let keys = if page == 0 { &both[..1] } else { &both[..] };
        for &key in keys {
            let series = &mut self.series[key as usize];
            if pageview {
                series.day_mut(day).pageviews += 1;
            }
            let new = self.seen.entry(day).or_default().insert((key, visitor));
            if !new {
                continue;
            }
            series.day_mut(day).visitors += 1;
            let seen_on = |d: NaiveDate| {
                self.seen
                    .get(&d)
                    .is_some_and(|s| s.contains(&(key, visitor)))
            };
            if seen_on(day - Duration::days(1)) {
                series.day_mut(day - Duration::days(1)).shared_with_next += 1;
            }
            if seen_on(day + Duration::days(1)) {
                series.day_mut(day).shared_with_next += 1;
            }
        }
    }

    /// Forgets visitors of days no event can reach any more, and folds old days, once per new
    /// local day.
    fn advance(&mut self, today: NaiveDate) {
        if today <= self.folded_for {
            return;
        }
        self.folded_for = today;
        let oldest = today - Duration::days(REMEMBERED_DAYS - 1);
        self.seen = self.seen.split_off(&oldest);
        let fold = today - Duration::days(KEPT_DAYS);
        for series in &mut self.series {
            series.fold_through(fold);
        }
    }

    fn count(&self, path: &str, first: NaiveDate, last: NaiveDate) -> Count {
        self.index
            .get(path)
            .map(|i| self.series[*i as usize].sum(first, last))
            .unwrap_or_default()
    }
}

/// A period as local days, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Days {
    pub first: NaiveDate,
    pub last: NaiveDate,
}

impl Days {
    /// The local days of a Stats API date range (`all` is every day). `None` for `realtime`,
    /// which is not made of days.
    pub fn of(range: &DateRange, tz: Tz, now: DateTime<Utc>) -> Option<Days> {
        let today = now.with_timezone(&tz).date_naive();
        match range {
            DateRange::Realtime | DateRange::Instants(..) => None,
            DateRange::All => Some(Days {
                first: NaiveDate::MIN,
                last: today,
            }),
            _ => {
                let Period { from, to } = range.resolve(now, tz, None);
                Some(Days {
                    first: from.with_timezone(&tz).date_naive(),
                    last: (to - Duration::microseconds(1))
                        .with_timezone(&tz)
                        .date_naive(),
                })
            }
        }
    }
}

impl Counters {
    /// No counts yet.
    pub fn new(zones: Zones) -> Counters {
        Counters {
            sites: RwLock::new(HashMap::new()),
            zones,
        }
    }

    /// Counts every site's events in the store, each in its site's time zone. Run it before the
    /// writer starts, so that no batch is both loaded and added.
    pub fn load(
        conn: &Connection,
        zones: Zones,
        now: DateTime<Utc>,
    ) -> Result<Counters, StoreError> {
        let counters = Counters::new(zones);
        let spans: Vec<(String, DateTime<Utc>, DateTime<Utc>)> = {
            let mut stmt = conn.prepare(sql::sites_with_events())?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, DateTime<Utc>>(1)?,
                    r.get::<_, DateTime<Utc>>(2)?,
                ))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        for (site, first, last) in spans {
            let tz = (counters.zones)(&site);
            let counts = load_site(conn, &site, tz, first, last.max(now))?;
            counters
                .sites
                .write()
                .insert(site, Arc::new(RwLock::new(counts)));
        }
        Ok(counters)
    }

    /// Drops a site's counts (its events were purged).
    pub fn forget(&self, site: &str) {
        self.sites.write().remove(site);
    }

    fn site(&self, site: &str) -> Option<Arc<RwLock<SiteCounts>>> {
        self.sites.read().get(site).cloned()
    }

    /// A page's counts over some days; `None` for the whole site. Zero for what is unknown.
    pub fn count(&self, site: &str, path: Option<&str>, days: Days) -> Count {
        self.site(site).map_or_else(Count::default, |s| {
            s.read()
                .count(path.unwrap_or(SITE_TOTAL), days.first, days.last)
        })
    }

    /// Each day's counts of a page (or the whole site), every day of the range included.
    pub fn daily(&self, site: &str, path: Option<&str>, days: Days) -> Vec<(NaiveDate, Count)> {
        let site = self.site(site);
        let site = site.as_ref().map(|s| s.read());
        let series = site.as_ref().and_then(|s| {
            s.index
                .get(path.unwrap_or(SITE_TOTAL))
                .map(|i| &s.series[*i as usize])
        });
        match series {
            Some(series) => series.daily(days.first, days.last),
            None => Series::default().daily(days.first, days.last),
        }
    }

    /// The pages with the most pageviews over some days (then the most visitors, then by path),
    /// among those `shown` allows and with at least `min_visitors` visitors.
    pub fn popular(
        &self,
        site: &str,
        days: Days,
        min_visitors: u64,
        limit: usize,
        shown: impl Fn(&str) -> bool,
    ) -> Vec<(String, Count)> {
        let Some(site) = self.site(site) else {
            return Vec::new();
        };
        let site = site.read();
        let mut pages: Vec<(&str, Count)> = site
            .paths
            .iter()
            .zip(&site.series)
            .skip(1)
            .filter(|(path, _)| shown(path))
            .map(|(path, series)| (path.as_str(), series.sum(days.first, days.last)))
            .filter(|(_, c)| c.pageviews > 0 && c.visitors >= min_visitors.max(1))
            .collect();
        pages.sort_by(|a, b| {
            (b.1.pageviews, b.1.visitors)
                .cmp(&(a.1.pageviews, a.1.visitors))
                .then_with(|| a.0.cmp(b.0))
        });
        pages.truncate(limit);
        pages
            .into_iter()
            .map(|(path, count)| (path.to_owned(), count))
            .collect()
    }

    /// The first local day with counts of the site, if any.
    pub fn first_day(&self, site: &str) -> Option<NaiveDate> {
        self.site(site).and_then(|s| s.read().series[0].first_day())
    }

    /// The site's time zone, if it has counts.
    pub fn zone(&self, site: &str) -> Option<Tz> {
        self.site(site).map(|s| s.read().tz)
    }
}

impl CommitObserver for Counters {
    fn committed(&self, events: &[Event]) {
        let mut current: Option<(&str, Arc<RwLock<SiteCounts>>)> = None;
        for event in events {
            let domain = event.site.as_str();
            let site = match &current {
                Some((d, site)) if *d == domain => site.clone(),
                _ => {
                    let site = self
                        .sites
                        .write()
                        .entry(domain.to_owned())
                        .or_insert_with(|| {
                            Arc::new(RwLock::new(SiteCounts::new((self.zones)(domain))))
                        })
                        .clone();
                    current = Some((domain, site.clone()));
                    site
                }
            };
            let mut site = site.write();
            let day = event.ts.with_timezone(&site.tz).date_naive();
            site.advance(day);
            site.add(&event.path, event.visitor_id, event.name == "pageview", day);
        }
    }
}

fn load_site(
    conn: &Connection,
    site: &str,
    tz: Tz,
    first: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<SiteCounts, StoreError> {
    let mut counts = SiteCounts::new(tz);
    let steps = offset_steps(
        tz,
        &Period {
            from: first,
            to: now + Duration::days(1),
        },
    );
    let with_shared = steps.iter().any(|(_, offset)| *offset != 0);
    let (statement, params) = sql::counter_days(site, &steps, with_shared);
    let mut stmt = conn.prepare(&statement)?;
    let mut rows = stmt.query(params_from_iter(params))?;
    while let Some(row) = rows.next()? {
        let path: String = row.get(0)?;
        let date: NaiveDate = row.get(1)?;
        let page = counts.page(&path);
        let day = counts.series[page as usize].day_mut(date);
        day.pageviews = row.get(2)?;
        day.visitors = row.get(3)?;
        day.shared_with_next = row.get(4)?;
    }
    // Who was counted on the days events can still arrive for.
    let today = now.with_timezone(&tz).date_naive();
    let oldest = today - Duration::days(REMEMBERED_DAYS - 1);
    let since = crate::stats::period::local_midnight(tz, oldest);
    let (statement, params) = sql::counter_recent(site, &steps, since);
    let mut stmt = conn.prepare(&statement)?;
    let mut rows = stmt.query(params_from_iter(params))?;
    while let Some(row) = rows.next()? {
        let path: String = row.get(0)?;
        let date: NaiveDate = row.get(1)?;
        let visitor: u64 = row.get(2)?;
        let page = counts.page(&path);
        counts.seen.entry(date).or_default().insert((page, visitor));
    }
    counts.advance(today);
    Ok(counts)
}

#[cfg(test)]
mod tests;
