//! Sample traffic with the shapes of real sites, for tests and benchmarks (feature
//! `test-support`): the reference tests of the query engine and the query benches read it.
//!
//! The shapes that make reports hard are all here: a head of popular pages and a long tail, a long
//! tail of referrers, visits that bounce (about 30%), visits that cross midnight (their visitor id
//! changes with the day's salt, their session id does not), campaigns with UTM tags and click
//! ids, custom events with props, non-interactive events, and engagement reports after pages.
//! Later events of a visit carry no referrer or tags, as an ordinary multi-page site's do: what
//! the visit came from is on its first event only.
//!
//! Everything follows from the seed, so a failing test can be replayed.

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use duckdb::Connection;
use footfall_collector::geo::Location;
use footfall_collector::page::Utm;
use footfall_collector::user_agent::{Client, Device};
use footfall_collector::{Event, SiteDomain};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::error::StoreError;
use crate::sink::{DuckDbSink, EventSink};

/// What to generate.
#[derive(Debug, Clone)]
pub struct SampleSpec {
    pub sites: Vec<String>,
    /// The last day (UTC) with traffic; the first is `days - 1` days before it.
    pub last_day: NaiveDate,
    pub days: u32,
    /// Visits per site and day, on average (each day varies by ±30%).
    pub visits_per_day: u32,
    /// How many distinct pages each site has.
    pub pages: usize,
    pub seed: u64,
}

impl SampleSpec {
    /// A few thousand events over four weeks and three sites: small enough for property tests,
    /// and across both clock changes of spring 2026 (March 8th in America, 29th in Europe).
    pub fn small(seed: u64) -> SampleSpec {
        SampleSpec {
            sites: vec!["alpha.test".into(), "beta.test".into(), "gamma.test".into()],
            last_day: NaiveDate::from_ymd_opt(2026, 4, 2).expect("a date"),
            days: 28,
            visits_per_day: 12,
            pages: 40,
            seed,
        }
    }
}

/// Where a visit came from: referrer, source, tags, click id.
struct Origin {
    referrer: String,
    source: String,
    utm: Utm,
    click_id: &'static str,
}

const REFERRERS: &[(&str, &str, u32)] = &[
    ("", "", 40),
    ("www.google.com/", "Google", 22),
    ("www.bing.com/search", "Bing", 3),
    ("duckduckgo.com/", "DuckDuckGo", 3),
    ("t.co/x1", "Twitter", 3),
    ("www.facebook.com/", "Facebook", 2),
    ("www.reddit.com/r/rust/comments", "Reddit", 2),
    ("news.ycombinator.com/item", "Hacker News", 2),
    ("github.com/footfall/footfall", "GitHub", 2),
];

const COUNTRIES: &[(&str, &str, &str, u32)] = &[
    ("US", "US-CA", "San Francisco", 25),
    ("US", "US-NY", "New York", 10),
    ("DE", "DE-BE", "Berlin", 12),
    ("GB", "GB-ENG", "London", 10),
    ("FR", "FR-IDF", "Paris", 7),
    ("IN", "IN-KA", "Bengaluru", 8),
    ("BR", "BR-SP", "São Paulo", 5),
    ("JP", "JP-13", "Tokyo", 5),
    ("NL", "NL-NH", "Amsterdam", 4),
    ("", "", "", 4),
];

/// (browser, version, os, os version, device, weight)
const CLIENTS: &[(&str, &str, &str, &str, Device, u32)] = &[
    ("Chrome", "131", "Windows", "10", Device::Desktop, 28),
    ("Edge", "131", "Windows", "10", Device::Desktop, 6),
    ("Firefox", "128", "Linux", "", Device::Desktop, 6),
    ("Safari", "17", "macOS", "10.15", Device::Desktop, 12),
    ("Safari", "17", "iOS", "17.4", Device::Mobile, 20),
    ("Chrome", "131", "Android", "14", Device::Mobile, 18),
    ("Samsung Internet", "25", "Android", "14", Device::Mobile, 4),
    ("Safari", "17", "iOS", "17.4", Device::Tablet, 5),
    ("", "", "", "", Device::Unknown, 1),
];

fn weighted<'a, T>(rng: &mut StdRng, items: &'a [T], weight: impl Fn(&T) -> u32) -> &'a T {
    let total: u32 = items.iter().map(&weight).sum();
    let mut pick = rng.random_range(0..total);
    for item in items {
        let w = weight(item);
        if pick < w {
            return item;
        }
        pick -= w;
    }
    &items[items.len() - 1]
}

/// A page of a site: a heavy head ("/", a few popular posts) and a long tail.
fn page(rng: &mut StdRng, pages: usize) -> String {
    let rank = (pages as f64 * rng.random::<f64>().powi(3)) as usize;
    match rank {
        0 => "/".to_owned(),
        1 => "/pricing".to_owned(),
        2 => "/about".to_owned(),
        n if n % 3 == 0 => format!("/docs/section-{}/page-{n}", n % 4),
        n => format!("/blog/post-{n}"),
    }
}

fn origin(rng: &mut StdRng) -> Origin {
    let mut utm = Utm::default();
    let roll = rng.random_range(0..100);
    if roll < 8 {
        utm.source = "newsletter".into();
        utm.medium = "email".into();
        utm.campaign = format!("issue-{}", rng.random_range(1..6));
        return Origin {
            referrer: String::new(),
            source: "newsletter".into(),
            utm,
            click_id: "",
        };
    }
    if roll < 12 {
        utm.source = "google".into();
        utm.medium = "cpc".into();
        utm.campaign = "brand".into();
        utm.term = ["analytics", "privacy analytics"][rng.random_range(0..2)].into();
        return Origin {
            referrer: "www.google.com/".into(),
            source: "Google".into(),
            utm,
            click_id: "gclid",
        };
    }
    if roll < 17 {
        // The long tail: a blog somewhere links here.
        let host = format!("blog{}.example", rng.random_range(0..200));
        return Origin {
            referrer: format!("{host}/a-post"),
            source: host,
            utm,
            click_id: "",
        };
    }
    let (referrer, source, _) = *weighted(rng, REFERRERS, |r| r.2);
    Origin {
        referrer: referrer.into(),
        source: source.into(),
        utm,
        click_id: "",
    }
}

/// Seconds into the day a visit starts: more in the day than at night, and about 2% in the last
/// twenty minutes, so that some visits cross midnight.
fn start_second(rng: &mut StdRng) -> i64 {
    if rng.random_range(0..50) == 0 {
        return 86_400 - rng.random_range(60..1200);
    }
    let hour = *weighted(rng, &(0..24).collect::<Vec<u32>>(), |h| {
        if (8..23).contains(h) {
            6
        } else {
            1
        }
    });
    i64::from(hour) * 3600 + rng.random_range(0..3600)
}

/// Generates the traffic, in order of time.
pub fn generate(spec: &SampleSpec) -> Vec<Event> {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let first_day = spec.last_day - Duration::days(i64::from(spec.days) - 1);
    let mut events = Vec::new();
    for site_name in &spec.sites {
        let site = SiteDomain::parse(site_name).expect("a valid sample site");
        for day in 0..spec.days {
            let date = first_day + Duration::days(i64::from(day));
            let midnight = date.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
            let visits = (f64::from(spec.visits_per_day) * rng.random_range(0.7..1.3)) as u32;
            for _ in 0..visits {
                let start = midnight + Duration::seconds(start_second(&mut rng));
                visit(&mut rng, spec, &site, start, &mut events);
            }
        }
    }
    events.sort_by_key(|e| e.ts);
    events
}

/// One visit: a visitor's id for each UTC day it touches, one session id, its pages and events.
fn visit(
    rng: &mut StdRng,
    spec: &SampleSpec,
    site: &SiteDomain,
    start: DateTime<Utc>,
    events: &mut Vec<Event>,
) {
    let (country, region, city, _) = *weighted(rng, COUNTRIES, |c| c.3);
    let (browser, version, os, os_version, device, _) = *weighted(rng, CLIENTS, |c| c.5);
    let client = Arc::new(Client {
        browser: browser.into(),
        browser_version: version.into(),
        os: os.into(),
        os_version: os_version.into(),
        device,
    });
    let location = Location {
        country: country.into(),
        region: region.into(),
        city: city.into(),
    };
    let came_from = origin(rng);
    // Never 0, and otherwise uniform as the collector's are: a backend that shards by session id
    // (ClickHouse, `session_id % shards`) must see both parities.
    let session_id = rng.random::<u64>().max(1);
    let first_day_id = rng.random::<u64>();
    let next_day_id = rng.random::<u64>();
    let start_day = start.date_naive();
    let hostname = if rng.random_range(0..20) == 0 {
        format!("blog.{site}")
    } else {
        site.to_string()
    };

    let bounce = rng.random_range(0..100) < 30;
    let pageviews = if bounce { 1 } else { rng.random_range(2..=8) };
    let mut at = start;
    let mut first = true;
    let mut push = |name: &str,
                    at: DateTime<Utc>,
                    path: &str,
                    interactive: bool,
                    props: Vec<(String, String)>,
                    engagement: Option<(u32, u8)>,
                    first: bool| {
        let (referrer, source, utm, click_id) = if first {
            (
                came_from.referrer.clone(),
                came_from.source.clone(),
                came_from.utm.clone(),
                came_from.click_id,
            )
        } else {
            (String::new(), String::new(), Utm::default(), "")
        };
        events.push(Event {
            site: site.clone(),
            ts: at,
            name: name.into(),
            hostname: hostname.clone(),
            path: path.into(),
            visitor_id: if at.date_naive() == start_day {
                first_day_id
            } else {
                next_day_id
            },
            session_id,
            interactive,
            referrer,
            source,
            utm,
            click_id,
            location: location.clone(),
            client: client.clone(),
            props,
            engaged_ms: engagement.map(|(ms, _)| ms),
            scroll_depth: engagement.map(|(_, depth)| depth),
        });
    };

    for n in 0..pageviews {
        let path = page(rng, spec.pages);
        push("pageview", at, &path, true, Vec::new(), None, first);
        first = false;
        // What the visitor does on the page, before the next one.
        let dwell = Duration::milliseconds(rng.random_range(3_000..240_000));
        let roll = rng.random_range(0..100);
        if !bounce && roll < 12 {
            let plan = ["free", "pro", "team"][rng.random_range(0..3)];
            let props = vec![("plan".to_owned(), plan.to_owned())];
            push("Signup", at + dwell / 2, &path, true, props, None, false);
        } else if !bounce && roll < 18 {
            let file = format!("guide-{}.pdf", rng.random_range(0..5));
            let props = vec![("url".to_owned(), format!("https://{site}/files/{file}"))];
            push(
                "File Download",
                at + dwell / 3,
                &path,
                true,
                props,
                None,
                false,
            );
        } else if roll < 21 {
            // Seen, not done: a non-interactive event does not end a bounce.
            push(
                "Video Seen",
                at + dwell / 4,
                &path,
                false,
                Vec::new(),
                None,
                false,
            );
        }
        // Most pages report engagement when left; some (a crashed tab) never do.
        if rng.random_range(0..10) > 0 {
            let engaged = (dwell.num_milliseconds() as f64 * rng.random_range(0.3..1.0)) as u32;
            let depth = rng.random_range(10..=100) as u8;
            push(
                "engagement",
                at + dwell,
                &path,
                false,
                Vec::new(),
                Some((engaged, depth)),
                false,
            );
        }
        if n + 1 < pageviews {
            at += dwell + Duration::milliseconds(rng.random_range(200..2_000));
        }
    }
}

/// Writes events into a store through the writer's sink, in the writer's batch size.
pub fn load(conn: &Connection, events: &[Event]) -> Result<(), StoreError> {
    let mut sink = DuckDbSink::new(conn.try_clone()?);
    for batch in events.chunks(5_000) {
        sink.write_batch(batch, &[])?;
    }
    sink.checkpoint()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    #[test]
    fn the_sample_has_the_shapes_it_promises() {
        let events = generate(&SampleSpec::small(7));
        assert!(events.len() > 2_000, "{} events", events.len());
        assert!(events.windows(2).all(|w| w[0].ts <= w[1].ts), "in order");
        assert_eq!(events, generate(&SampleSpec::small(7)), "the seed decides");

        let mut pageviews: HashMap<u64, usize> = HashMap::new();
        let mut visitors: HashMap<u64, HashSet<u64>> = HashMap::new();
        for e in events.iter().filter(|e| e.name == "pageview") {
            *pageviews.entry(e.session_id).or_default() += 1;
        }
        for e in &events {
            visitors
                .entry(e.session_id)
                .or_default()
                .insert(e.visitor_id);
        }
        let bounced = pageviews.values().filter(|n| **n == 1).count();
        let share = bounced as f64 / pageviews.len() as f64;
        assert!((0.2..0.4).contains(&share), "bounces {share}");
        assert!(
            visitors.values().any(|ids| ids.len() == 2),
            "some visits cross midnight and change visitor id"
        );
        assert!(events.iter().any(|e| !e.utm.campaign.is_empty()));
        assert!(events
            .iter()
            .any(|e| e.name == "Signup" && !e.props.is_empty()));
        assert!(events
            .iter()
            .any(|e| e.name == "engagement" && e.engaged_ms.is_some()));
        assert!(events
            .iter()
            .any(|e| !e.interactive && e.name != "engagement"));
    }
}
