//! The requests the harness sends, made once before the clock starts so that making them costs
//! the run nothing: Plausible-style events from many visitors (client addresses sent as
//! `X-Forwarded-For`, a few hundred user agents with some bots), over thousands of paths with a
//! heavy head, with referrers, UTM tags, engagement reports and custom events with props; and the
//! public counters' reads of the pages those events made.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, Method, Uri};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

/// One request, ready to clone and send.
#[derive(Debug, Clone)]
pub struct Template {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Distinct paths of the site; the head is far more visited than the tail.
pub const PATHS: usize = 5_000;
/// Distinct (address, user agent) pairs: the visitors of one day.
const VISITORS: usize = 40_000;
/// Requests prepared; the run cycles through them.
const EVENTS: usize = 200_000;

/// The path of page `i` (0 is the home page).
pub fn path(i: usize) -> String {
    match i {
        0 => "/".into(),
        1 => "/pricing".into(),
        2 => "/about".into(),
        i if i % 5 == 0 => format!("/docs/section-{}/page-{i}", i % 40),
        i => format!("/blog/post-{i}"),
    }
}

/// A page index drawn with a heavy head: about a fifth of views go to the first 1 % of pages.
fn page_index(rng: &mut StdRng) -> usize {
    let u: f64 = rng.random();
    ((u.powi(4)) * PATHS as f64) as usize % PATHS
}

/// A few hundred user agents: desktop and mobile browsers across versions, and a few bots.
pub fn user_agents() -> Vec<String> {
    let mut agents = Vec::new();
    let desktops = [
        "Windows NT 10.0; Win64; x64",
        "Macintosh; Intel Mac OS X 10_15_7",
        "X11; Linux x86_64",
        "X11; CrOS x86_64 14541.0.0",
    ];
    for version in 100..140 {
        for os in desktops {
            agents.push(format!("Mozilla/5.0 ({os}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{version}.0.0.0 Safari/537.36"));
        }
        agents.push(format!("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{version}.0.0.0 Safari/537.36 Edg/{version}.0.0.0"));
        agents.push(format!("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{version}.0.0.0 Mobile Safari/537.36"));
        agents.push(format!("Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{version}.0.0.0 Mobile Safari/537.36"));
        agents.push(format!("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{version}.0) Gecko/20100101 Firefox/{version}.0"));
        agents.push(format!(
            "Mozilla/5.0 (X11; Linux x86_64; rv:{version}.0) Gecko/20100101 Firefox/{version}.0"
        ));
    }
    for minor in 0..8 {
        for major in 15..19 {
            agents.push(format!("Mozilla/5.0 (iPhone; CPU iPhone OS {major}_{minor} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{major}.{minor} Mobile/15E148 Safari/604.1"));
            agents.push(format!("Mozilla/5.0 (iPad; CPU OS {major}_{minor} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{major}.{minor} Mobile/15E148 Safari/604.1"));
            agents.push(format!("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{major}.{minor} Safari/605.1.15"));
        }
    }
    agents
}

/// Crawlers and scripts the collector drops as bots.
pub const BOTS: &[&str] = &[
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "curl/8.5.0",
    "python-requests/2.31.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36",
];

const REFERRERS: &[&str] = &[
    "https://www.google.com/",
    "https://www.google.de/",
    "https://www.bing.com/search?q=analytics",
    "https://duckduckgo.com/",
    "https://news.ycombinator.com/item?id=4242",
    "https://www.reddit.com/r/selfhosted/comments/abc/",
    "https://t.co/xyz",
    "https://www.linkedin.com/feed/",
    "https://github.com/footfall/footfall",
    "https://lobste.rs/s/abcd",
    "https://blog.example.org/links",
    "https://www.facebook.com/",
];

/// A public address somewhere in the world (so the GeoIP lookup finds a country), or one of
/// IPv6's global ranges.
fn client_address(rng: &mut StdRng) -> IpAddr {
    if rng.random_ratio(1, 10) {
        let prefix: [u16; 4] = [0x2a00, 0x2600, 0x2001, 0x2400];
        let first = prefix[rng.random_range(0..prefix.len())] | rng.random_range(0..0x100);
        return IpAddr::V6(Ipv6Addr::new(
            first,
            rng.random(),
            rng.random(),
            rng.random(),
            rng.random(),
            rng.random(),
            rng.random(),
            rng.random(),
        ));
    }
    loop {
        let first: u8 = rng.random_range(1..224);
        if [10, 100, 127, 169, 172, 192, 198, 203].contains(&first) {
            continue;
        }
        return IpAddr::V4(Ipv4Addr::new(
            first,
            rng.random(),
            rng.random(),
            rng.random_range(1..255),
        ));
    }
}

/// `count` events for `domain`, from [`VISITORS`] visitors, about 3 % of them bots.
pub fn events(domain: &str, count: usize, seed: u64) -> Vec<Template> {
    let mut rng = StdRng::seed_from_u64(seed);
    let agents = user_agents();
    let origin = HeaderValue::from_str(&format!("https://{domain}")).expect("a domain is a header");
    let visitors: Vec<(HeaderValue, HeaderValue)> = (0..VISITORS)
        .map(|_| {
            let agent = if rng.random_ratio(3, 100) {
                BOTS[rng.random_range(0..BOTS.len())]
            } else {
                &agents[rng.random_range(0..agents.len())]
            };
            (
                HeaderValue::from_str(&client_address(&mut rng).to_string()).unwrap(),
                HeaderValue::from_str(agent).unwrap(),
            )
        })
        .collect();
    let uri: Uri = "/api/event".parse().unwrap();
    (0..count)
        .map(|_| {
            let (address, agent) = &visitors[rng.random_range(0..visitors.len())];
            let mut url = format!("https://{domain}{}", path(page_index(&mut rng)));
            if rng.random_ratio(15, 100) {
                let campaign = rng.random_range(0..20);
                url.push_str(&format!(
                    "?utm_source=newsletter&utm_medium=email&utm_campaign=launch-{campaign}"
                ));
            }
            let referrer = if rng.random_ratio(45, 100) {
                None
            } else {
                Some(REFERRERS[rng.random_range(0..REFERRERS.len())])
            };
            let roll = rng.random_range(0..100);
            let body = match roll {
                0..80 => json!({"n": "pageview", "u": url, "d": domain, "r": referrer}),
                80..90 => json!({
                    "n": "engagement", "u": url, "d": domain,
                    "e": rng.random_range(500..300_000), "sd": rng.random_range(0..=100),
                }),
                90..95 => {
                    let plan = ["free", "pro", "team"][rng.random_range(0..3)];
                    json!({"n": "Signup", "u": url, "d": domain, "p": {"plan": plan, "trial": "yes"}})
                }
                95..98 => json!({
                    "n": "Outbound Link: Click", "u": url, "d": domain,
                    "p": {"url": REFERRERS[rng.random_range(0..REFERRERS.len())]},
                }),
                _ => json!({
                    "n": "File Download", "u": url, "d": domain,
                    "p": {"url": format!("https://{domain}/files/report-{}.pdf", rng.random_range(0..50))},
                }),
            };
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1"));
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            // The tracker posts from the site's pages, another origin: browsers send this, and
            // Footfall answers it with CORS headers.
            headers.insert(header::ORIGIN, origin.clone());
            headers.insert(header::USER_AGENT, agent.clone());
            headers.insert("x-forwarded-for", address.clone());
            Template {
                method: Method::POST,
                uri: uri.clone(),
                headers,
                body: Bytes::from(body.to_string()),
            }
        })
        .collect()
}

/// The default pool of events: enough that a 20-second run at full speed repeats each few times.
pub fn default_events(domain: &str) -> Vec<Template> {
    events(domain, EVENTS, 1)
}

/// Reads of the public count of every page, in the order pages showing a count would ask:
/// `endpoint` is `/api/counter` (JSON) or `/api/counter.svg` (a badge).
pub fn counter_reads(endpoint: &str, domain: &str) -> Vec<Template> {
    let mut rng = StdRng::seed_from_u64(2);
    (0..EVENTS / 4)
        .map(|_| {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1"));
            Template {
                method: Method::GET,
                uri: format!(
                    "{endpoint}?site={domain}&path={}",
                    path(page_index(&mut rng))
                )
                .parse()
                .unwrap(),
                headers,
                body: Bytes::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_is_varied_and_valid_json() {
        let events = events("load.test", 5_000, 7);
        let agents: std::collections::HashSet<_> = events
            .iter()
            .map(|t| t.headers[header::USER_AGENT].clone())
            .collect();
        let addresses: std::collections::HashSet<_> = events
            .iter()
            .map(|t| t.headers["x-forwarded-for"].clone())
            .collect();
        let bodies: Vec<serde_json::Value> = events
            .iter()
            .map(|t| serde_json::from_slice(&t.body).unwrap())
            .collect();
        let paths: std::collections::HashSet<_> = bodies.iter().map(|b| b["u"].clone()).collect();
        let custom = bodies
            .iter()
            .filter(|b| !["pageview", "engagement"].contains(&b["n"].as_str().unwrap()))
            .count();
        assert!(user_agents().len() > 300, "{}", user_agents().len());
        assert!(agents.len() > 300, "{}", agents.len());
        assert!(addresses.len() > 4_000, "{}", addresses.len());
        assert!(paths.len() > 1_000, "{}", paths.len());
        assert!((400..1_100).contains(&custom), "{custom}");
        assert!(agents.iter().any(|a| a.to_str().unwrap().contains("bot")));
    }
}
