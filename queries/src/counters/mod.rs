//! Public hit counts, kept in memory and advanced by the writer as it commits, so that a page can
//! show a count a few seconds old ("1,234 views") without a query per request.
//!
//! What is kept: for each site that shows public counts, each of its pages and the whole site,
//! each local day's pageviews and visitors (see [`series`]). They are loaded from the events at
//! start, and every committed batch is added ([`Counters::committed`]). To count each visitor
//! once per day as events arrive, the visitors of the last few local days are remembered per
//! page; older days only keep their numbers.
//!
//! Where other servers write to the same store too (several collectors on ClickHouse), their
//! events reach these counts only from the store: [`Counters::refresh_every`] has the recent days
//! read again on a timer, on the writer's thread between two commits like a load.
//!
//! Only sites whose owner turned public counts on are counted, so the memory goes where it is
//! used. A site turned on while the server runs is loaded on the writer's thread between two
//! commits ([`CommitObserver::between_commits`]): no batch is committed during the load, so no
//! event is missed or counted twice. A site has at most [`MAX_PAGES`] pages counted one by one,
//! so a flood of made-up paths cannot exhaust memory; its total counts every page.
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
use footfall_collector::clock::Clock;
use footfall_collector::Event;
use parking_lot::{Mutex, RwLock};

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

/// Local days a refresh reads again: the remembered ones, where other servers' events can still
/// land, and the one before, whose visitors shared with the next day depend on them.
const REFRESHED_DAYS: i64 = REMEMBERED_DAYS + 1;

/// Pages of one site counted one by one; further paths count only in the site's total.
pub const MAX_PAGES: usize = 100_000;

/// The path under which the whole site's counts are kept. Recorded paths start with `/`.
const SITE_TOTAL: &str = "";

/// A `(page index, visitor id)` pair in the 8 bytes a `seen` set keeps per entry, half of the
/// tuple's 16: the page's index, spread by a multiplication, mixed into the visitor id. Visitor
/// ids are keyed hashes and so uniform; two pairs share a value only when their ids differ by
/// exactly the mix of their pages, a chance of 1 in 2^64 for any two pairs (about 1 in 40
/// million for a day of a million page visits) of counting a visitor one time too few. A soak at
/// 200 events a second holds half a million pairs, and this keeps them in 9 MB instead of 18.
fn pair(page: u32, visitor: u64) -> u64 {
    visitor ^ u64::from(page).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Which sites are counted: `Some(time zone)` for a site that shows public counts.
pub type Rules = Arc<dyn Fn(&str) -> Option<Tz> + Send + Sync>;

/// Every public site's counts.
pub struct Counters {
    sites: RwLock<HashMap<String, Arc<RwLock<SiteCounts>>>>,
    rules: Rules,
    clock: Arc<dyn Clock>,
    /// Sites to (re)load from the store, between two commits.
    pending: Mutex<Vec<String>>,
    /// The store those loads read from.
    reads: Mutex<Option<Box<dyn CounterReads>>>,
    /// How often the recent days are read again, and when they last were; `None`: never.
    refresh: Mutex<Option<(std::time::Duration, std::time::Instant)>>,
}

struct SiteCounts {
    tz: Tz,
    /// Index 0 is the whole site.
    series: Vec<Series>,
    paths: Vec<Arc<str>>,
    index: HashMap<Arc<str>, u32>,
    /// Per local day, the `(page index, visitor id)` pairs already counted, as [`pair`]s. The
    /// largest thing the counters hold: a day's distinct page visits.
    seen: BTreeMap<NaiveDate, HashSet<u64>>,
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

    /// The page's index, or the total's (0) once the site has [`MAX_PAGES`] pages.
    fn page(&mut self, path: &str) -> u32 {
        if let Some(i) = self.index.get(path) {
            return *i;
        }
        if self.paths.len() > MAX_PAGES {
            return 0;
        }
        let i = self.series.len() as u32;
        let path: Arc<str> = Arc::from(path);
        self.series.push(Series::default());
        self.paths.push(path.clone());
        self.index.insert(path, i);
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
            let pair = pair(key, visitor);
            let new = self.seen.entry(day).or_default().insert(pair);
            if !new {
                continue;
            }
            series.day_mut(day).visitors += 1;
            let seen_on = |d: NaiveDate| self.seen.get(&d).is_some_and(|s| s.contains(&pair));
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

/// The first and the last event's instant.
pub type Span = (DateTime<Utc>, DateTime<Utc>);
/// A site and the span of its events.
pub type SiteSpan = (String, DateTime<Utc>, DateTime<Utc>);

/// One row of a site's counted days: a page (or `''`, the whole site) on one local day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayRow {
    pub path: String,
    pub day: NaiveDate,
    pub pageviews: u64,
    pub visitors: u64,
    /// Visitors also seen on the page the next local day (a visitor id lives one UTC day).
    pub shared_with_next: u64,
}

/// What the counters read from the store where the events are (DuckDB, or ClickHouse through
/// `clickhouse::ClickHouseReader`): the statements of `stats::sql`, in the store's dialect.
pub trait CounterReads: Send {
    /// Every site with events, and the span of its events.
    fn sites_with_events(&self) -> Result<Vec<SiteSpan>, StoreError>;
    /// The span of a site's events; `None` when it has none.
    fn site_span(&self, site: &str) -> Result<Option<Span>, StoreError>;
    /// A site's counts per page and local day, from the local midnight `since` on when given
    /// (see `sql::counter_days`).
    fn counter_days(
        &self,
        site: &str,
        steps: &[(DateTime<Utc>, i32)],
        with_shared: bool,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<DayRow>, StoreError>;
    /// The (page, local day, visitor) pairs since `since` (see `sql::counter_recent`).
    fn counter_recent(
        &self,
        site: &str,
        steps: &[(DateTime<Utc>, i32)],
        since: DateTime<Utc>,
    ) -> Result<Vec<(String, NaiveDate, u64)>, StoreError>;
}

impl CounterReads for Box<dyn CounterReads> {
    fn sites_with_events(&self) -> Result<Vec<SiteSpan>, StoreError> {
        (**self).sites_with_events()
    }

    fn site_span(&self, site: &str) -> Result<Option<Span>, StoreError> {
        (**self).site_span(site)
    }

    fn counter_days(
        &self,
        site: &str,
        steps: &[(DateTime<Utc>, i32)],
        with_shared: bool,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<DayRow>, StoreError> {
        (**self).counter_days(site, steps, with_shared, since)
    }

    fn counter_recent(
        &self,
        site: &str,
        steps: &[(DateTime<Utc>, i32)],
        since: DateTime<Utc>,
    ) -> Result<Vec<(String, NaiveDate, u64)>, StoreError> {
        (**self).counter_recent(site, steps, since)
    }
}

impl CounterReads for Connection {
    fn sites_with_events(&self) -> Result<Vec<SiteSpan>, StoreError> {
        let mut stmt = self.prepare(sql::sites_with_events())?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn site_span(&self, site: &str) -> Result<Option<Span>, StoreError> {
        Ok(self.query_row(sql::site_span(), [site], |r| {
            Ok(r.get::<_, Option<DateTime<Utc>>>(0)?.zip(r.get(1)?))
        })?)
    }

    fn counter_days(
        &self,
        site: &str,
        steps: &[(DateTime<Utc>, i32)],
        with_shared: bool,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<DayRow>, StoreError> {
        let (statement, params) = sql::counter_days(site, steps, with_shared, since);
        let mut stmt = self.prepare(&statement)?;
        let rows = stmt.query_map(params_from_iter(params), |row| {
            Ok(DayRow {
                path: row.get(0)?,
                day: row.get(1)?,
                pageviews: row.get(2)?,
                visitors: row.get(3)?,
                shared_with_next: row.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn counter_recent(
        &self,
        site: &str,
        steps: &[(DateTime<Utc>, i32)],
        since: DateTime<Utc>,
    ) -> Result<Vec<(String, NaiveDate, u64)>, StoreError> {
        let (statement, params) = sql::counter_recent(site, steps, since);
        let mut stmt = self.prepare(&statement)?;
        let rows = stmt.query_map(params_from_iter(params), |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl Counters {
    /// No counts yet; `reads` is kept for loading sites turned on later.
    pub fn new(
        rules: Rules,
        clock: Arc<dyn Clock>,
        reads: Option<Box<dyn CounterReads>>,
    ) -> Counters {
        Counters {
            sites: RwLock::new(HashMap::new()),
            rules,
            clock,
            pending: Mutex::new(Vec::new()),
            reads: Mutex::new(reads),
            refresh: Mutex::new(None),
        }
    }

    /// Reads every public site's recent days again from the store every `every`, and loads the
    /// public sites that have events there but none counted yet: for a store that other servers
    /// write to as well. A server that is the store's only writer needs none of it (its own
    /// commits keep the counts exact).
    pub fn refresh_every(self, every: std::time::Duration) -> Counters {
        *self.refresh.lock() = Some((every, std::time::Instant::now()));
        self
    }

    /// Counts the stored events of every site `rules` picks, each in its time zone. Run it
    /// before the writer starts, so that no batch is both loaded and added.
    pub fn load(
        reads: impl CounterReads + 'static,
        rules: Rules,
        clock: Arc<dyn Clock>,
    ) -> Result<Counters, StoreError> {
        let now = clock.now();
        let counters = Counters::new(rules, clock, None);
        for (site, first, last) in reads.sites_with_events()? {
            let Some(tz) = (counters.rules)(&site) else {
                continue;
            };
            let counts = load_site(&reads, &site, tz, first, last.max(now))?;
            counters
                .sites
                .write()
                .insert(site, Arc::new(RwLock::new(counts)));
        }
        *counters.reads.lock() = Some(Box::new(reads));
        Ok(counters)
    }

    /// Loads (again) a site's counts from the store, before the next commit: for a site turned
    /// on, or whose time zone changed.
    pub fn request_load(&self, site: &str) {
        self.pending.lock().push(site.to_owned());
    }

    /// Drops a site's counts (turned off, removed or purged); its later events are not counted.
    pub fn forget(&self, site: &str) {
        self.pending.lock().retain(|s| s != site);
        self.sites.write().remove(site);
    }

    /// Runs the loads asked for. On the writer's thread, between commits.
    fn load_pending(&self) {
        let pending = std::mem::take(&mut *self.pending.lock());
        if pending.is_empty() {
            return;
        }
        let reads = self.reads.lock();
        let Some(reads) = reads.as_deref() else {
            return;
        };
        for site in pending {
            let Some(tz) = (self.rules)(&site) else {
                self.sites.write().remove(&site);
                continue;
            };
            let started = std::time::Instant::now();
            let loaded = (|| -> Result<SiteCounts, StoreError> {
                let now = self.clock.now();
                match reads.site_span(&site)? {
                    Some((first, last)) => load_site(reads, &site, tz, first, last.max(now)),
                    None => Ok(SiteCounts::new(tz)),
                }
            })();
            match loaded {
                Ok(counts) => {
                    tracing::info!(
                        "public counts of {site} loaded in {:.1?}",
                        started.elapsed()
                    );
                    self.sites
                        .write()
                        .insert(site, Arc::new(RwLock::new(counts)));
                }
                Err(e) => tracing::error!("cannot load the public counts of {site}: {e}"),
            }
        }
    }

    /// Runs [`Counters::refresh`] when [`Counters::refresh_every`] says it is due.
    fn refresh_if_due(&self) {
        {
            let mut refresh = self.refresh.lock();
            match refresh.as_mut() {
                Some((every, last)) if last.elapsed() >= *every => {
                    *last = std::time::Instant::now();
                }
                _ => return,
            }
        }
        let reads = self.reads.lock();
        let Some(reads) = reads.as_deref() else {
            return;
        };
        let started = std::time::Instant::now();
        match self.refresh(reads) {
            // What the refresh costs the writer's thread, for choosing its interval.
            Ok(()) => tracing::debug!("public counts refreshed in {:.1?}", started.elapsed()),
            Err(e) => tracing::warn!(
                "cannot refresh the public counts from the store (kept as they were): {e}"
            ),
        }
    }

    /// Reads the recent days of every public site again, and loads whole the public sites with
    /// events in the store but none counted here. On the writer's thread, between commits: this
    /// server's own events are all in the store, so none is missed or counted twice.
    pub fn refresh(&self, reads: &(impl CounterReads + ?Sized)) -> Result<(), StoreError> {
        for (site, first, last) in reads.sites_with_events()? {
            let Some(tz) = (self.rules)(&site) else {
                continue;
            };
            let now = self.clock.now();
            match self.site(&site) {
                Some(counts) if counts.read().tz == tz => {
                    let recent = read_recent(reads, &site, tz, now)?;
                    counts.write().replace_recent(recent);
                }
                _ => {
                    let counts = load_site(reads, &site, tz, first, last.max(now))?;
                    self.sites
                        .write()
                        .insert(site, Arc::new(RwLock::new(counts)));
                }
            }
        }
        Ok(())
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
            .map(|(path, series)| (&**path, series.sum(days.first, days.last)))
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
    fn between_commits(&self) {
        self.load_pending();
        self.refresh_if_due();
    }

    fn committed(&self, events: &[Event]) {
        let mut current: Option<(&str, Option<Arc<RwLock<SiteCounts>>>)> = None;
        for event in events {
            let domain = event.site.as_str();
            let site = match &current {
                Some((d, site)) if *d == domain => site.clone(),
                _ => {
                    let site = self.counted(domain);
                    current = Some((domain, site.clone()));
                    site
                }
            };
            let Some(site) = site else {
                continue;
            };
            let mut site = site.write();
            let day = event.ts.with_timezone(&site.tz).date_naive();
            site.advance(day);
            site.add(&event.path, event.visitor_id, event.name == "pageview", day);
        }
    }
}

impl Counters {
    /// The counts an event of `domain` goes to: none for a site that shows no public counts,
    /// new ones for a public site's first event.
    fn counted(&self, domain: &str) -> Option<Arc<RwLock<SiteCounts>>> {
        if let Some(site) = self.sites.read().get(domain) {
            return Some(site.clone());
        }
        let tz = (self.rules)(domain)?;
        // A site just turned on is loaded before the next commit, which replaces these counts
        // with the store's (this batch included).
        Some(
            self.sites
                .write()
                .entry(domain.to_owned())
                .or_insert_with(|| Arc::new(RwLock::new(SiteCounts::new(tz))))
                .clone(),
        )
    }
}

/// A site's counts as read from the store: its days from `from_day` on (all of them when
/// `None`), and who was counted on the days still being counted.
struct Read {
    today: NaiveDate,
    from_day: Option<NaiveDate>,
    days: Vec<DayRow>,
    remembered: Vec<(String, NaiveDate, u64)>,
}

fn read_site(
    reads: &(impl CounterReads + ?Sized),
    site: &str,
    tz: Tz,
    from: DateTime<Utc>,
    from_day: Option<NaiveDate>,
    now: DateTime<Utc>,
) -> Result<Read, StoreError> {
    let steps = offset_steps(
        tz,
        &Period {
            from,
            to: now + Duration::days(1),
        },
    );
    let with_shared = steps.iter().any(|(_, offset)| *offset != 0);
    let local_midnight = |day| crate::stats::period::local_midnight(tz, day);
    let days = reads.counter_days(site, &steps, with_shared, from_day.map(local_midnight))?;
    let today = now.with_timezone(&tz).date_naive();
    let since = local_midnight(today - Duration::days(REMEMBERED_DAYS - 1));
    let remembered = reads.counter_recent(site, &steps, since)?;
    Ok(Read {
        today,
        from_day,
        days,
        remembered,
    })
}

/// A site's last [`REFRESHED_DAYS`] local days, as the store has them now.
fn read_recent(
    reads: &(impl CounterReads + ?Sized),
    site: &str,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<Read, StoreError> {
    let today = now.with_timezone(&tz).date_naive();
    let from_day = today - Duration::days(REFRESHED_DAYS - 1);
    let from = crate::stats::period::local_midnight(tz, from_day);
    read_site(reads, site, tz, from, Some(from_day), now)
}

fn load_site(
    reads: &(impl CounterReads + ?Sized),
    site: &str,
    tz: Tz,
    first: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<SiteCounts, StoreError> {
    let mut counts = SiteCounts::new(tz);
    counts.replace_recent(read_site(reads, site, tz, first, None, now)?);
    Ok(counts)
}

impl SiteCounts {
    /// Puts what was read in place of the days it covers and of who was counted.
    fn replace_recent(&mut self, read: Read) {
        if let Some(from_day) = read.from_day {
            for series in &mut self.series {
                series.clear_from(from_day);
            }
        }
        for row in read.days {
            let page = self.page(&row.path);
            if page == 0 && !row.path.is_empty() {
                continue; // past MAX_PAGES: in the total only
            }
            let day = self.series[page as usize].day_mut(row.day);
            day.pageviews = row.pageviews;
            day.visitors = row.visitors;
            day.shared_with_next = row.shared_with_next;
        }
        self.seen.clear();
        for (path, date, visitor) in read.remembered {
            let page = self.page(&path);
            if page == 0 && !path.is_empty() {
                continue;
            }
            self.seen
                .entry(date)
                .or_default()
                .insert(pair(page, visitor));
        }
        self.advance(read.today);
    }
}

#[cfg(test)]
mod tests;
