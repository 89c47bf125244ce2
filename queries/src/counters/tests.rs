//! The counters against the Stats API on the same DuckDB file: loaded at start, then advanced
//! batch by batch as the writer would, they must give the API's numbers for every page and
//! period, in UTC and in zones whose days are not UTC days.

use chrono::TimeZone;
use footfall_collector::clock::{ManualClock, SystemClock};
use serde_json::{json, Value};

use super::*;
use crate::sample::{self, SampleSpec};
use crate::stats::api;
use crate::{Store, StoreOptions};

/// Every site public, in UTC: counters as the writer's hook fills them.
fn utc_counters() -> Counters {
    Counters::new(
        Arc::new(|_: &str| Some(Tz::UTC)),
        Arc::new(SystemClock),
        None,
    )
}

fn zone(site: &str) -> Tz {
    match site {
        "alpha.test" => Tz::UTC,
        "beta.test" => "Europe/Berlin".parse().unwrap(),
        _ => "America/New_York".parse().unwrap(),
    }
}

/// The Stats API's visitors and pageviews of a page (or the site) over a period.
fn api_count(
    conn: &Connection,
    site: &str,
    path: Option<&str>,
    range: &str,
    now: DateTime<Utc>,
) -> Count {
    let mut body =
        json!({"site_id": site, "metrics": ["visitors", "pageviews"], "date_range": range});
    if let Some(path) = path {
        body["filters"] = json!([["is", "event:page", [path]]]);
    }
    let first = crate::stats::run::first_event(conn, site).unwrap();
    let answer = api::parse(&body)
        .unwrap()
        .plan(zone(site), now, first, &[])
        .unwrap()
        .answer(conn, conn)
        .unwrap();
    let metrics = &answer["results"][0]["metrics"];
    let number = |v: &Value| v.as_u64().unwrap_or(0);
    Count {
        visitors: number(&metrics[0]),
        pageviews: number(&metrics[1]),
    }
}

#[test]
fn counts_agree_with_the_stats_api_loaded_and_live() {
    let spec = SampleSpec::small(11);
    let mut events = sample::generate(&spec);
    events.sort_by_key(|e| e.ts);
    let store = Store::open_in_memory(&StoreOptions::default()).unwrap();
    let conn = store.connection().unwrap();
    // Two thirds are in the store at start; the rest arrives in batches through the writer's
    // hook (and the store), as at run time.
    let split = events.len() * 2 / 3;
    sample::load(&conn, &events[..split]).unwrap();
    let end = events.last().unwrap().ts;
    let clock = Arc::new(ManualClock::new(events[split - 1].ts));
    let rules: Rules = Arc::new(|site: &str| Some(zone(site)));
    let counters = Counters::load(store.connection().unwrap(), rules, clock).unwrap();
    for batch in events[split..].chunks(97) {
        sample::load(&conn, batch).unwrap();
        counters.committed(batch);
    }

    let now = end + Duration::minutes(1);
    assert_eq!(
        agree_with_the_api(&counters, &conn, &spec.sites, now),
        3 * 8 * 7
    );

    // Each day's counts are the API's daily figures too.
    let tz = zone("beta.test");
    let days = Days::of(&DateRange::LastDays(7), tz, now).unwrap();
    for (date, count) in counters.daily("beta.test", None, days) {
        let range = format!("{date}");
        let mut body = json!({"site_id": "beta.test", "metrics": ["visitors", "pageviews"],
            "date_range": [range, range]});
        let first = crate::stats::run::first_event(&conn, "beta.test").unwrap();
        let answer = api::parse(&body.take())
            .unwrap()
            .plan(tz, now, first, &[])
            .unwrap()
            .answer(&conn, &conn)
            .unwrap();
        let metrics = &answer["results"][0]["metrics"];
        assert_eq!(
            (count.visitors, count.pageviews),
            (metrics[0].as_u64().unwrap(), metrics[1].as_u64().unwrap()),
            "{date}"
        );
    }
}

#[test]
fn one_visitor_reloading_a_page_is_one_visitor() {
    let counters = utc_counters();
    let spec = SampleSpec::small(3);
    let mut event = sample::generate(&spec).remove(0);
    event.name = "pageview".into();
    event.path = "/post".into();
    event.ts = Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap();
    let reloads = vec![event.clone(); 1000];
    counters.committed(&reloads);
    let site = event.site.as_str();
    let day = NaiveDate::from_ymd_opt(2026, 5, 1).unwrap();
    let days = Days {
        first: day,
        last: day,
    };
    assert_eq!(
        counters.count(site, Some("/post"), days),
        Count {
            pageviews: 1000,
            visitors: 1
        }
    );
    // The next UTC day, the same person has another id: another visitor, as the API counts.
    let mut next = event.clone();
    next.ts += Duration::days(1);
    next.visitor_id ^= 1;
    counters.committed(&[next]);
    let both = Days {
        first: day,
        last: day + Duration::days(1),
    };
    assert_eq!(counters.count(site, Some("/post"), both).visitors, 2);
    assert_eq!(counters.count(site, None, both).visitors, 2);
    assert_eq!(counters.count("other.test", None, both), Count::default());
}

#[test]
fn popular_pages_leave_out_the_rarely_visited_and_the_hidden() {
    let counters = utc_counters();
    let spec = SampleSpec::small(5);
    let template = sample::generate(&spec).remove(0);
    let at = Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap();
    let mut batch = Vec::new();
    for (path, visitors) in [("/a", 5u64), ("/b", 3), ("/c", 2), ("/secret", 9)] {
        for v in 0..visitors {
            let mut e = template.clone();
            e.name = "pageview".into();
            e.path = path.into();
            e.ts = at;
            e.visitor_id = v + 100;
            batch.push(e);
        }
    }
    counters.committed(&batch);
    let site = template.site.as_str();
    let days = Days::of(&DateRange::Day, Tz::UTC, at).unwrap();
    let popular = counters.popular(site, days, 3, 10, |p| p != "/secret");
    let paths: Vec<&str> = popular.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, ["/a", "/b"]);
    assert_eq!(popular[0].1.visitors, 5);
    assert_eq!(counters.popular(site, days, 3, 1, |_| true)[0].0, "/secret");
}

#[test]
fn only_public_sites_are_counted_and_a_site_turned_on_is_loaded_between_commits() {
    let spec = SampleSpec::small(21);
    let mut events = sample::generate(&spec);
    events.sort_by_key(|e| e.ts);
    let store = Store::open_in_memory(&StoreOptions::default()).unwrap();
    let conn = store.connection().unwrap();
    let split = events.len() / 2;
    sample::load(&conn, &events[..split]).unwrap();
    let public = Arc::new(parking_lot::Mutex::new(vec!["alpha.test".to_owned()]));
    let rules: Rules = {
        let public = public.clone();
        Arc::new(move |site: &str| public.lock().iter().any(|p| p == site).then_some(Tz::UTC))
    };
    let clock = Arc::new(ManualClock::new(events[split - 1].ts));
    let counters = Counters::load(store.connection().unwrap(), rules, clock.clone()).unwrap();
    let all = Days::of(&DateRange::All, Tz::UTC, events.last().unwrap().ts).unwrap();
    let (first, second) = events[split..].split_at((events.len() - split) / 2);
    for batch in first.chunks(50) {
        sample::load(&conn, batch).unwrap();
        counters.committed(batch);
    }
    assert!(counters.count("alpha.test", None, all).pageviews > 0);
    assert_eq!(
        counters.count("beta.test", None, all),
        Count::default(),
        "not public"
    );

    // beta turns public: loaded before the next commit, then counted live, and equal to a
    // fresh load of everything.
    public.lock().push("beta.test".into());
    counters.request_load("beta.test");
    for batch in second.chunks(50) {
        counters.between_commits();
        sample::load(&conn, batch).unwrap();
        counters.committed(batch);
    }
    clock.set(events.last().unwrap().ts);
    let rules: Rules = Arc::new(|site: &str| (site != "gamma.test").then_some(Tz::UTC));
    let fresh = Counters::load(store.connection().unwrap(), rules, clock).unwrap();
    for site in ["alpha.test", "beta.test"] {
        assert_eq!(
            counters.count(site, None, all),
            fresh.count(site, None, all),
            "{site}"
        );
        assert!(counters.count(site, None, all).visitors > 0);
    }
    counters.forget("beta.test");
    assert_eq!(counters.count("beta.test", None, all), Count::default());
}

#[test]
fn a_flood_of_made_up_paths_is_counted_in_the_total_only() {
    let counters = utc_counters();
    let mut event = sample::generate(&SampleSpec::small(4)).remove(0);
    event.name = "pageview".into();
    event.ts = Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap();
    let batch: Vec<Event> = (0..MAX_PAGES + 10)
        .map(|i| {
            let mut e = event.clone();
            e.path = format!("/junk/{i}");
            e
        })
        .collect();
    counters.committed(&batch);
    let site = event.site.as_str();
    let days = Days::of(&DateRange::Day, Tz::UTC, event.ts).unwrap();
    assert_eq!(
        counters.count(site, None, days).pageviews,
        (MAX_PAGES + 10) as u64
    );
    assert_eq!(counters.count(site, Some("/junk/1"), days).pageviews, 1);
    let last = format!("/junk/{}", MAX_PAGES + 5);
    assert_eq!(counters.count(site, Some(&last), days), Count::default());
}

/// Compares the counters with the Stats API for every site, the site's total, a page it never
/// had and its six most viewed pages, over seven periods; returns how many counts it compared.
fn agree_with_the_api(
    counters: &Counters,
    conn: &Connection,
    sites: &[String],
    now: DateTime<Utc>,
) -> usize {
    let mut compared = 0;
    for site in sites {
        let tz = zone(site);
        let mut paths: Vec<Option<String>> = vec![None, Some("/no/such/page".into())];
        paths.extend(
            counters
                .popular(
                    site,
                    Days::of(&DateRange::All, tz, now).unwrap(),
                    0,
                    6,
                    |_| true,
                )
                .into_iter()
                .map(|(p, _)| Some(p)),
        );
        for path in &paths {
            for range in ["day", "7d", "30d", "month", "year", "all", "28d"] {
                let days = Days::of(&DateRange::parse_shortcut(range).unwrap(), tz, now).unwrap();
                let ours = counters.count(site, path.as_deref(), days);
                let theirs = api_count(conn, site, path.as_deref(), range, now);
                assert_eq!(ours, theirs, "{site} {path:?} {range}");
                compared += 1;
            }
        }
    }
    compared
}

/// Two servers writing to one store, as several collectors on ClickHouse do: this one commits
/// every other batch itself (its writer's hook), the other server's batches reach the store
/// only. After each refresh every count is the API's, and a site whose events all came through
/// the other server is loaded whole by the first refresh that finds it.
#[test]
fn a_refresh_brings_in_what_other_servers_stored() {
    let spec = SampleSpec::small(13);
    let mut events = sample::generate(&spec);
    events.sort_by_key(|e| e.ts);
    let store = Store::open_in_memory(&StoreOptions::default()).unwrap();
    let conn = store.connection().unwrap();
    let split = events.len() / 3;
    let (before, after) = events.split_at(split);
    // gamma.test's events all come later, from the other server.
    let (gamma, others): (Vec<Event>, Vec<Event>) = before
        .iter()
        .cloned()
        .partition(|e| e.site.as_str() == "gamma.test");
    sample::load(&conn, &others).unwrap();
    let clock = Arc::new(ManualClock::new(before[split - 1].ts));
    let rules: Rules = Arc::new(|site: &str| Some(zone(site)));
    let counters = Counters::load(store.connection().unwrap(), rules, clock.clone()).unwrap();
    assert_eq!(counters.zone("gamma.test"), None);

    let theirs = gamma
        .into_iter()
        .chain(after.iter().cloned())
        .collect::<Vec<_>>();
    let mut compared = 0;
    for (i, batch) in theirs.chunks(97).enumerate() {
        sample::load(&conn, batch).unwrap();
        let mine: Vec<Event> = batch
            .iter()
            .filter(|e| i % 2 == 0 && e.site.as_str() != "gamma.test")
            .cloned()
            .collect();
        counters.committed(&mine);
        let now = batch.last().unwrap().ts + Duration::seconds(1);
        clock.set(now);
        counters.refresh(&conn).unwrap();
        if i % 10 == 0 {
            compared += agree_with_the_api(&counters, &conn, &spec.sites, now);
        }
    }
    let now = events.last().unwrap().ts + Duration::minutes(1);
    clock.set(now);
    counters.refresh(&conn).unwrap();
    compared += agree_with_the_api(&counters, &conn, &spec.sites, now);
    assert!(compared > 3 * 8 * 7 * 2, "{compared} counts compared");
}
