//! Shared inputs for the benchmarks: Plausible-style pageviews over a few thousand paths, a
//! spread of real browsers' user agents and client addresses, and a collector with one site.

use std::net::IpAddr;
use std::sync::Arc;

use footfall_collector::clock::SystemClock;
use footfall_collector::geo::GeoDb;
use footfall_collector::sites::{Site, SiteSettings};
use footfall_collector::{Collector, CollectorSettings, RequestContext, SiteDomain};

pub mod drill;
pub mod load;

/// Real browsers' user agents (none is dropped as a bot).
pub const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
];

/// The `i`-th request body.
pub fn body(i: usize) -> String {
    format!(
        r#"{{"n":"pageview","u":"https://example.com/blog/post-{}?utm_source=newsletter&utm_medium=email","d":"example.com","r":"https://www.google.com/search?q=x","p":{{"author":"a{}"}}}}"#,
        i % 5000,
        i % 7
    )
}

/// The `i`-th request's connection: one of 62,500 addresses, one of five browsers.
pub fn context(i: usize) -> RequestContext {
    RequestContext {
        received_at: chrono::Utc::now(),
        client_ip: IpAddr::from([198, 51, (i / 250 % 250) as u8, (i % 250) as u8]),
        user_agent: AGENTS[i % AGENTS.len()].to_owned(),
        prefetch: false,
        do_not_track: false,
    }
}

/// A collector with `example.com` registered and no GeoIP database.
pub fn collector() -> Collector {
    let collector = Collector::new(
        CollectorSettings::default(),
        GeoDb::none(),
        Arc::new(SystemClock),
    );
    collector
        .sites()
        .insert(Site::new(SiteSettings::new(SiteDomain::parse("example.com").unwrap())).unwrap());
    collector
}
