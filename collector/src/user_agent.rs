//! User agent → browser, OS, device class, or "bot".
//!
//! Why this module exists: reports show browsers, operating systems and device classes, and
//! page views from crawlers, link previewers, uptime checkers and scripts must not be counted at
//! all. Why it is so coarse: privacy. The full user agent string is a fingerprinting vector
//! (exact builds, device models, locales), so it is never stored. Only the fields of [`Client`]
//! leave this module, and all of them come from closed sets: browser and OS names are fixed
//! strings chosen here or in woothee's dataset, and versions are digits and dots (a major version
//! for browsers, at most major.minor for operating systems). Nothing a visitor typed into a user
//! agent can reach the database, and the number of distinct values stays small.
//!
//! The raw string is used in memory only: as the key of a bounded cache (user agents repeat a
//! lot, and woothee plus isbot cost microseconds per call) and, elsewhere, inside the keyed
//! visitor hash.
//!
//! How a user agent is read, in order:
//! 1. Empty, whitespace-only, "-" and overlong (over [`MAX_USER_AGENT_LEN`] bytes) user agents are
//!    bots. This happens before the cache, so junk never occupies it.
//! 2. Cache lookup.
//! 3. Bot checks: isbot's pattern list (search engines, link previewers, HTTP libraries,
//!    HeadlessChrome, PhantomJS, Chrome-Lighthouse, ...), then a few markers isbot lacks
//!    (`AUTOMATION_MARKERS`, `HTTP_CLIENT_PREFIXES`), then woothee's `crawler` and `misc`
//!    categories.
//! 4. woothee for browser, OS and category, corrected by a few well-known tokens woothee misses
//!    or names differently (`BROWSER_TOKENS`).

use std::fmt;
use std::sync::Arc;

use moka::sync::Cache;
use woothee::parser::{Parser as Woothee, WootheeResult};

/// Longer user agents are treated as bots without parsing. Real browsers send 100 to 300 bytes
/// (in-app browsers on iOS reach about 500); anything over 1 KiB is a script, an attack, or
/// garbage, and bounding the length also bounds the memory one cache entry can hold.
pub const MAX_USER_AGENT_LEN: usize = 1024;

/// The device class a report shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    Desktop,
    Mobile,
    Tablet,
    /// TVs, game consoles, and anything woothee cannot place.
    Unknown,
}

impl Device {
    /// The name reports show; the empty string for [`Device::Unknown`], like every other unknown
    /// field of [`Client`].
    pub fn as_str(self) -> &'static str {
        match self {
            Device::Desktop => "Desktop",
            Device::Mobile => "Mobile",
            Device::Tablet => "Tablet",
            Device::Unknown => "",
        }
    }
}

/// What a visitor's user agent says, reduced to what reports show. Empty strings mean unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The name people know: "Chrome", "Safari", "Samsung Internet", "Edge", ... Chromium
    /// browsers that hide their brand (Brave, recent Vivaldi, Arc) show up as "Chrome".
    pub browser: String,
    /// Major version only ("124"): finer versions add rows to reports, not insight.
    pub browser_version: String,
    /// "Windows", "macOS", "iOS" (iPads too, see [`Device::Tablet`]), "Android", "Linux",
    /// "Chrome OS", or another name from woothee's dataset.
    pub os: String,
    /// As precise as the user agent honestly allows: see `os_fields` for what browsers freeze.
    pub os_version: String,
    pub device: Device,
}

/// The verdict on one user agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Agent {
    /// Shared with the cache, so a cache hit costs a reference-count increment, not four string
    /// allocations.
    Human(Arc<Client>),
    /// Crawlers, previewers, monitors, scripts, headless browsers: not counted.
    Bot,
}

/// Parses user agents, caching verdicts by the exact user agent string.
///
/// Build one per process and share it (`&self` methods, safe across threads): isbot compiles a
/// large regular expression when it is built.
pub struct UserAgentParser {
    /// Keyed by the raw user agent. Memory only; bounded by entry count, and each key by
    /// [`MAX_USER_AGENT_LEN`].
    cache: Cache<String, Agent>,
    bots: isbot::Bots,
    woothee: Woothee,
}

impl fmt::Debug for UserAgentParser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the cache's contents: they are raw user agents.
        f.debug_struct("UserAgentParser")
            .field("cached_entries", &self.cache.entry_count())
            .finish_non_exhaustive()
    }
}

/// Lower-case substrings that mark headless browsers and automation tools isbot does not list.
/// isbot already covers "headlesschrome", "phantomjs", "chrome-lighthouse" and "google page speed
/// insight" (the tests check this); "headless" and "lighthouse" here are broader on purpose.
const AUTOMATION_MARKERS: &[&str] = &[
    "headless",
    "puppeteer",
    "playwright",
    "selenium",
    "webdriver",
    "lighthouse",
    "slimerjs",
    "jsdom/",
    "cypress/",
    "gtmetrix",
    "windowspowershell/",
];

/// Lower-case prefixes of HTTP client libraries isbot does not list. isbot already covers curl,
/// wget, python-requests, python-urllib, httpx, aiohttp, go-http-client, okhttp, axios,
/// node-fetch, java/, libwww-perl, guzzlehttp, anything with "httpclient" and PostmanRuntime;
/// woothee's `misc` category adds Ruby, PHP and Perl libraries. These are the usual rest.
const HTTP_CLIENT_PREFIXES: &[&str] = &[
    "undici", // Node.js 18 to 20 built-in fetch
    "node",   // Node.js 21+ built-in fetch ("node"), also node-fetch and friends
    "deno/",
    "bun/",
    "httpie/",
    "insomnia/",
    "dart/",
    "rest-client/",
    "faraday v",
];

/// Browser tokens that win over woothee's verdict, checked in order, each with the name to show.
/// The version is the number right after the token.
const BROWSER_TOKENS: &[(&str, &str)] = &[
    // woothee knows it but calls it "SamsungBrowser"; this also keeps its version rule in one
    // place with the others.
    ("SamsungBrowser/", "Samsung Internet"),
    // woothee misses it: the UA also carries "Chrome/", so it says Chrome.
    ("UCBrowser/", "UC Browser"),
    // woothee knows it, but only with a four-part version; otherwise it says Chrome.
    ("YaBrowser/", "Yandex Browser"),
    // Opera on iOS (Opera Mini, Opera Touch): woothee says Safari. Opera on Chromium ("OPR/")
    // is handled by woothee.
    ("OPiOS/", "Opera"),
    ("OPT/", "Opera"),
    // Amazon's browser on Fire tablets says "like Chrome/"; woothee says Chrome.
    ("Silk/", "Amazon Silk"),
    // DuckDuckGo's mobile browsers: woothee says Safari or Chrome.
    ("DuckDuckGo/", "DuckDuckGo"),
    // The default browsers of Huawei and Xiaomi phones: woothee says Chrome.
    ("HuaweiBrowser/", "Huawei Browser"),
    ("MiuiBrowser/", "Mi Browser"),
];

/// Android TVs and other big screens: not tablets even though their UA lacks "Mobile".
const TV_MARKERS: &[&str] = &[
    "Android TV",
    "GoogleTV",
    "SMART-TV",
    "SmartTV",
    "CrKey",
    "Web0S",
];

/// Versions longer than this are bogus (and would let a client mint unbounded values).
const MAX_VERSION_DIGITS: usize = 6;

impl UserAgentParser {
    /// A parser whose cache holds up to `cache_capacity` distinct user agents (0 disables
    /// caching). A few thousand covers the long tail of a busy site; an entry costs roughly the
    /// user agent's length plus 200 bytes.
    pub fn new(cache_capacity: u64) -> Self {
        UserAgentParser {
            cache: Cache::builder().max_capacity(cache_capacity).build(),
            bots: isbot::Bots::default(),
            woothee: Woothee::new(),
        }
    }

    /// The verdict on `user_agent`. Never panics, whatever the input.
    pub fn parse(&self, user_agent: &str) -> Agent {
        let trimmed = user_agent.trim();
        // "-" is how logs and proxies write "no user agent"; a client sending it is a script.
        if user_agent.len() > MAX_USER_AGENT_LEN || trimmed.is_empty() || trimmed == "-" {
            return Agent::Bot;
        }
        if let Some(agent) = self.cache.get(user_agent) {
            return agent;
        }
        let agent = self.parse_uncached(user_agent);
        self.cache.insert(user_agent.to_owned(), agent.clone());
        agent
    }

    fn parse_uncached(&self, ua: &str) -> Agent {
        if self.is_known_bot(ua) {
            return Agent::Bot;
        }
        let Some(w) = self.woothee.parse(ua) else {
            // Nothing woothee recognises, and no bot pattern either: count the visit, show
            // nothing about it.
            return Agent::Human(Arc::new(Client {
                browser: String::new(),
                browser_version: String::new(),
                os: String::new(),
                os_version: String::new(),
                device: Device::Unknown,
            }));
        };
        // "misc" is woothee's bin for feed readers, HTTP libraries and desktop tools: programs
        // fetching on their own, not people reading pages.
        if w.category == "crawler" || w.category == "misc" {
            return Agent::Bot;
        }
        let (browser, browser_version) = browser_fields(ua, &w);
        let (os, os_version) = os_fields(w.os, &w.os_version);
        Agent::Human(Arc::new(Client {
            browser,
            browser_version,
            os,
            os_version,
            device: device(ua, &w),
        }))
    }

    fn is_known_bot(&self, ua: &str) -> bool {
        let lower = ua.to_ascii_lowercase();
        self.bots.is_bot(&lower)
            || AUTOMATION_MARKERS.iter().any(|m| lower.contains(m))
            || HTTP_CLIENT_PREFIXES.iter().any(|p| lower.starts_with(p))
    }
}

/// Browser name and major version: a `BROWSER_TOKENS` match, else woothee's verdict renamed.
fn browser_fields(ua: &str, w: &WootheeResult<'_>) -> (String, String) {
    for (token, name) in BROWSER_TOKENS {
        if let Some(at) = ua.find(token) {
            return ((*name).to_owned(), major(&ua[at + token.len()..]));
        }
    }
    let name = match w.name {
        woothee::woothee::VALUE_UNKNOWN => "",
        // Android System WebView (in-app browsers, hybrid apps) and iOS apps' web views.
        "Webview" => "WebView",
        other => other,
    };
    let version = match ua.find("Chrome/") {
        // Android's web view says "Version/4.0" for every release; its engine version is the
        // Chrome one.
        Some(at) if name == "WebView" => major(&ua[at + "Chrome/".len()..]),
        _ => major(w.version),
    };
    (name.to_owned(), version)
}

/// OS name and version from woothee's OS name and version.
///
/// What browsers freeze, so what the versions mean:
/// - Windows 11 sends "Windows NT 10.0", like Windows 10: only the `Sec-CH-UA-Platform-Version`
///   client hint tells them apart, so "10" means "10 or 11".
/// - Safari, Chrome and Firefox on every macOS since 11 send "Mac OS X 10_15_7" (or 10.15), so
///   "10.15" means "10.15 or later".
/// - Safari 26 likewise sends "iPhone OS 18_6" on iOS 26, so iOS versions from 18.6 up will
///   pile up on "18.6" as people upgrade.
/// - Chrome's reduced user agent on Android sends "Android 10; K" whatever the release, so
///   Chromium browsers on Android report "10"; Firefox and Samsung Internet still send the real
///   version.
/// - iPads: Safari on iPadOS 13+ sends a Mac user agent by default, so most iPads count as macOS
///   desktops and nothing on the server can tell. The ones that do say "iPad" (other browsers, or
///   Safari asked for the mobile site) are reported as OS "iOS" with device Tablet, not
///   "iPadOS": the device column already separates iPads, both systems share version numbers, and
///   an "iPadOS" row would look tiny beside the iPads hidden under macOS.
fn os_fields(os: &str, version: &str) -> (String, String) {
    let (name, version) = match os {
        woothee::woothee::VALUE_UNKNOWN => ("", String::new()),
        "Mac OSX" => ("macOS", major_minor(version)),
        "iPhone" | "iPad" | "iPod" | "iOS" => ("iOS", major_minor(version)),
        "Android" => ("Android", major(version)),
        // The platform version in "CrOS x86_64 14541.0.0" means nothing to people, and Chrome's
        // reduced user agent freezes it anyway.
        "ChromeOS" => ("Chrome OS", String::new()),
        // woothee gives no version for desktop Linux; nothing useful is sent.
        "Linux" => ("Linux", String::new()),
        "Windows Phone OS" => ("Windows Phone", major_minor(version)),
        "Windows CE" => ("Windows CE", String::new()),
        "Windows UNKNOWN Ver" => ("Windows", String::new()),
        // woothee names them "Windows 10", "Windows 8.1", "Windows 7", "Windows Vista",
        // "Windows XP", ...: the version is the rest of its name (its own `os_version` is the raw
        // "NT 10.0").
        _ if os.starts_with("Windows ") => ("Windows", os["Windows ".len()..].to_owned()),
        // Firefox OS, BlackBerry, consoles, Japanese feature phones, BSD, ...
        other => (other, major_minor(version)),
    };
    (name.to_owned(), version)
}

/// Device class from woothee's category and OS, corrected for tablets and TVs.
fn device(ua: &str, w: &WootheeResult<'_>) -> Device {
    if w.category == "appliance" || TV_MARKERS.iter().any(|m| ua.contains(m)) {
        return Device::Unknown;
    }
    // woothee files iPads and Android tablets under "smartphone".
    if w.os == "iPad"
        // Firefox on Android tablets says "Tablet"; old Windows PCs say "Tablet PC 2.0" in IE.
        || (ua.contains("Tablet") && !ua.contains("Tablet PC"))
        // Android browsers on phones add "Mobile"; on tablets they leave it out (Google's own
        // rule for Chrome and WebView, followed by the other Android browsers). Opera Mini,
        // a phone browser, is the one that never says "Mobile".
        || (w.os == "Android" && !ua.contains("Mobile") && !ua.contains("Opera Mini"))
    {
        return Device::Tablet;
    }
    match w.category {
        "smartphone" | "mobilephone" => Device::Mobile,
        "pc" => Device::Desktop,
        _ => Device::Unknown,
    }
}

/// The leading number of a version ("124.0.6367.82" → "124"); empty when there is none or it is
/// implausibly long.
fn major(version: &str) -> String {
    let digits = version.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > MAX_VERSION_DIGITS {
        return String::new();
    }
    version[..digits].to_owned()
}

/// "17.4.1" → "17.4", "14" → "14"; empty when there is no leading number.
fn major_minor(version: &str) -> String {
    let head = major(version);
    if head.is_empty() {
        return head;
    }
    match version[head.len()..].strip_prefix('.').map(major) {
        Some(minor) if !minor.is_empty() => format!("{head}.{minor}"),
        _ => head,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// (user agent, browser, browser version, OS, OS version, device)
    type Case = (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        Device,
    );

    use Device::{Desktop, Mobile, Tablet, Unknown};

    const HUMANS: &[Case] = &[
        // --- Windows (10 and 11 both send "NT 10.0") ---
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
            "Chrome", "124", "Windows", "10", Desktop,
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51",
            "Edge", "124", "Windows", "10", Desktop,
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
            "Firefox", "125", "Windows", "10", Desktop,
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36 OPR/109.0.0.0",
            "Opera", "109", "Windows", "10", Desktop,
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 YaBrowser/24.4.0.0 Safari/537.36",
            "Yandex Browser", "24", "Windows", "10", Desktop,
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36 Vivaldi/6.6.3271.61",
            "Vivaldi", "6", "Windows", "10", Desktop,
        ),
        // Legacy (EdgeHTML) Edge.
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0.3538.102 Safari/537.36 Edge/18.19045",
            "Edge", "18", "Windows", "10", Desktop,
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko",
            "Internet Explorer", "11", "Windows", "10", Desktop,
        ),
        (
            "Mozilla/5.0 (Windows NT 6.3; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Safari/537.36",
            "Chrome", "109", "Windows", "8.1", Desktop,
        ),
        (
            "Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Safari/537.36",
            "Chrome", "109", "Windows", "7", Desktop,
        ),
        // "Tablet PC 2.0" on a Windows 7 desktop is not a tablet.
        (
            "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; WOW64; Trident/4.0; SLCC2; .NET CLR 2.0.50727; .NET CLR 3.5.30729; .NET CLR 3.0.30729; Media Center PC 6.0; Tablet PC 2.0)",
            "Internet Explorer", "8", "Windows", "7", Desktop,
        ),
        (
            "Mozilla/5.0 (Windows NT 5.1; rv:52.0) Gecko/20100101 Firefox/52.0",
            "Firefox", "52", "Windows", "XP", Desktop,
        ),
        // --- macOS (frozen at 10.15 by every current browser) ---
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
            "Safari", "17", "macOS", "10.15", Desktop,
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
            "Chrome", "124", "macOS", "10.15", Desktop,
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:125.0) Gecko/20100101 Firefox/125.0",
            "Firefox", "125", "macOS", "10.15", Desktop,
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0",
            "Edge", "124", "macOS", "10.15", Desktop,
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/14.1.2 Safari/605.1.15",
            "Safari", "14", "macOS", "10.14", Desktop,
        ),
        // --- Linux, Chrome OS ---
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
            "Chrome", "124", "Linux", "", Desktop,
        ),
        (
            "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
            "Firefox", "125", "Linux", "", Desktop,
        ),
        (
            "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
            "Chrome", "124", "Chrome OS", "", Desktop,
        ),
        // --- iPhone ---
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
            "Safari", "17", "iOS", "17.4", Mobile,
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1",
            "Chrome", "124", "iOS", "17.4", Mobile,
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/125.0 Mobile/15E148 Safari/605.1.15",
            "Firefox", "125", "iOS", "17.4", Mobile,
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 EdgiOS/124.0.2478.50 Mobile/15E148 Safari/605.1.15",
            "Edge", "124", "iOS", "17.4", Mobile,
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1 OPT/4.5.1",
            "Opera", "4", "iOS", "17.4", Mobile,
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 DuckDuckGo/7 Safari/605.1.15",
            "DuckDuckGo", "7", "iOS", "16.6", Mobile,
        ),
        // Facebook's in-app browser.
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/460.0.0.38.108;FBBV/595012348;FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS;FBSV/17.4.1;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5;FBRV/597216413]",
            "WebView", "", "iOS", "17.4", Mobile,
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) GSA/311.0.620696541 Mobile/15E148 Safari/604.1",
            "Google Search App", "311", "iOS", "17.4", Mobile,
        ),
        // --- iPad (those that still say so) ---
        (
            "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
            "Safari", "17", "iOS", "17.4", Tablet,
        ),
        (
            "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1",
            "Chrome", "124", "iOS", "17.4", Tablet,
        ),
        // --- Android phones ---
        // Chrome's reduced user agent: "Android 10; K" whatever the phone.
        (
            "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
            "Chrome", "124", "Android", "10", Mobile,
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
            "Samsung Internet", "24", "Android", "14", Mobile,
        ),
        (
            "Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0",
            "Firefox", "125", "Android", "14", Mobile,
        ),
        (
            "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36 EdgA/124.0.0.0",
            "Edge", "124", "Android", "10", Mobile,
        ),
        (
            "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Mobile Safari/537.36 OPR/81.1.4292.78446",
            "Opera", "81", "Android", "10", Mobile,
        ),
        (
            "Mozilla/5.0 (Linux; U; Android 10; en-US; RMX2030 Build/QKQ1.200209.002) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/100.0.4896.58 UCBrowser/13.6.6.1311 Mobile Safari/537.36",
            "UC Browser", "13", "Android", "10", Mobile,
        ),
        (
            "Mozilla/5.0 (Linux; arm_64; Android 13; SM-A525F) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.6261.128 YaBrowser/24.4.1.99.00 SA/3 Mobile Safari/537.36",
            "Yandex Browser", "24", "Android", "13", Mobile,
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP1A.240405.002; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/124.0.6367.82 Mobile Safari/537.36",
            "WebView", "124", "Android", "14", Mobile,
        ),
        (
            "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/124.0.0.0 Mobile DuckDuckGo/5 Safari/537.36",
            "DuckDuckGo", "5", "Android", "14", Mobile,
        ),
        (
            "Mozilla/5.0 (Linux; Android 12; NOH-NX9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/99.0.4844.88 HuaweiBrowser/14.0.5.302 Mobile Safari/537.36",
            "Huawei Browser", "14", "Android", "12", Mobile,
        ),
        (
            "Mozilla/5.0 (Linux; U; Android 13; en-gb; 2201117TG Build/TKQ1.221114.001) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/112.0.5615.136 Mobile Safari/537.36 XiaoMi/MiuiBrowser/14.5.1-gn",
            "Mi Browser", "14", "Android", "13", Mobile,
        ),
        // Instagram's in-app browser, an Android web view.
        (
            "Mozilla/5.0 (Linux; Android 14; SM-S918B Build/UP1A.231005.007; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/124.0.6367.82 Mobile Safari/537.36 Instagram 329.0.0.41.93 Android (34/14; 480dpi; 1080x2115; samsung; SM-S918B; dm3q; qcom; en_GB; 592148925)",
            "WebView", "124", "Android", "14", Mobile,
        ),
        // Opera Mini never says "Mobile" but is a phone browser.
        (
            "Opera/9.80 (Android; Opera Mini/36.2.2254/119.132; U; id) Presto/2.12.423 Version/12.16",
            "Opera", "12", "Android", "", Mobile,
        ),
        // --- Android tablets: no "Mobile" token, or Firefox's "Tablet" ---
        (
            "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
            "Chrome", "124", "Android", "10", Tablet,
        ),
        (
            "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Safari/537.36",
            "Samsung Internet", "24", "Android", "13", Tablet,
        ),
        (
            "Mozilla/5.0 (Android 14; Tablet; rv:125.0) Gecko/125.0 Firefox/125.0",
            "Firefox", "125", "Android", "14", Tablet,
        ),
        (
            "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/124.2.1 like Chrome/124.0.6367.118 Safari/537.36",
            "Amazon Silk", "124", "Android", "9", Tablet,
        ),
        // --- Big screens ---
        (
            "Mozilla/5.0 (Linux; Android 9; SHIELD Android TV Build/PPR1.180610.011) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Safari/537.36",
            "Chrome", "124", "Android", "9", Unknown,
        ),
    ];

    const BOTS: &[&str] = &[
        // Search engines and SEO crawlers.
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.118 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Googlebot-Image/1.0",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
        "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
        "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
        "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
        // Link previewers.
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "Slackbot 1.0 (+https://api.slack.com/robots)",
        "Twitterbot/1.0",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 (compatible; Discordbot/2.0; +https://discordapp.com)",
        "WhatsApp/2.23.20.0 A",
        // HTTP clients.
        "curl/8.0.1",
        "Wget/1.21.4",
        "python-requests/2.31.0",
        "Python-urllib/3.11",
        "python-httpx/0.27.0",
        "Python/3.11 aiohttp/3.9.5",
        "Go-http-client/1.1",
        "Go-http-client/2.0",
        "okhttp/4.12.0",
        "axios/1.6.8",
        "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
        "undici",
        "node",
        "Java/17.0.2",
        "Apache-HttpClient/4.5.14 (Java/17.0.2)",
        "libwww-perl/6.72",
        "Ruby",
        "Faraday v2.9.0",
        "PostmanRuntime/7.37.3",
        "Deno/1.43.1",
        "Bun/1.1.8",
        "HTTPie/3.2.2",
        "Dart/3.3 (dart:io)",
        "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.19041.4291",
        // Headless browsers, automation, audits. Puppeteer, Playwright and Selenium send the
        // browser's own user agent unless told otherwise; these are the labels teams add.
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.6367.60 Safari/537.36",
        "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1",
        "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Lighthouse",
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/41.0.2272.96 Mobile Safari/537.36 (compatible; Google Page Speed Insights)",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Puppeteer",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Playwright/1.44",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Selenium/4.20 Chrome/124.0.0.0 Safari/537.36",
        "Mozilla/5.0 (darwin) AppleWebKit/537.36 (KHTML, like Gecko) jsdom/24.0.0",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/114.0.5735.289 Safari/537.36 GTmetrix",
        // Monitors and feed readers.
        "Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
        "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 7 subscribers; like FeedFetcher-Google)",
        "Windows-RSS-Platform/2.0 (IE 11.0; Windows NT 6.1)",
    ];

    fn client(parser: &UserAgentParser, ua: &str) -> Arc<Client> {
        match parser.parse(ua) {
            Agent::Human(client) => client,
            Agent::Bot => panic!("taken for a bot: {ua}"),
        }
    }

    #[test]
    fn browsers_read_as_people_know_them() {
        let parser = UserAgentParser::new(1_000);
        let mut failures = Vec::new();
        for &(ua, browser, browser_version, os, os_version, device) in HUMANS {
            let expected = Client {
                browser: browser.into(),
                browser_version: browser_version.into(),
                os: os.into(),
                os_version: os_version.into(),
                device,
            };
            match parser.parse(ua) {
                Agent::Human(got) if *got == expected => {}
                got => failures.push(format!("{ua}\n  want {expected:?}\n  got  {got:?}")),
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn there_are_enough_real_user_agents() {
        assert!(HUMANS.len() >= 30, "{}", HUMANS.len());
    }

    #[test]
    fn bots_are_bots() {
        let parser = UserAgentParser::new(1_000);
        let missed: Vec<_> = BOTS
            .iter()
            .filter(|ua| parser.parse(ua) != Agent::Bot)
            .collect();
        assert!(missed.is_empty(), "taken for people: {missed:#?}");
    }

    /// Documents which of our bot rules isbot alone already covers, so a future isbot upgrade
    /// that drops one shows up here rather than as bot traffic in reports.
    #[test]
    fn isbot_covers_the_common_clients_and_headless_browsers() {
        let bots = isbot::Bots::default();
        for ua in [
            "curl/8.0.1",
            "Wget/1.21.4",
            "python-requests/2.31.0",
            "Go-http-client/1.1",
            "okhttp/4.12.0",
            "axios/1.6.8",
            "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
            "Java/17.0.2",
            "libwww-perl/6.72",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.6367.60 Safari/537.36",
            "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1",
            "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse",
            "Mozilla/5.0 (compatible; Google Page Speed Insights)",
        ] {
            assert!(bots.is_bot(ua), "isbot no longer flags {ua}");
        }
        // ...and not these, which is why AUTOMATION_MARKERS and HTTP_CLIENT_PREFIXES exist.
        for ua in ["undici", "Deno/1.43.1", "Mozilla/5.0 Chrome/124 Puppeteer"] {
            assert!(!bots.is_bot(ua), "isbot now flags {ua}: trim our lists");
        }
    }

    #[test]
    fn empty_blank_and_overlong_user_agents_are_bots() {
        let parser = UserAgentParser::new(10);
        assert_eq!(parser.parse(""), Agent::Bot);
        assert_eq!(parser.parse("   \t\r\n"), Agent::Bot);
        assert_eq!(parser.parse("-"), Agent::Bot);
        let chrome = HUMANS[0].0;
        let overlong = format!(
            "{chrome}{}",
            " ".repeat(MAX_USER_AGENT_LEN + 1 - chrome.len())
        );
        assert_eq!(overlong.len(), MAX_USER_AGENT_LEN + 1);
        assert_eq!(parser.parse(&overlong), Agent::Bot);
        // Right at the limit is still read.
        assert_eq!(
            client(&parser, &overlong[..MAX_USER_AGENT_LEN]).browser,
            "Chrome"
        );
        // Junk is not cached.
        parser.cache.run_pending_tasks();
        assert_eq!(parser.cache.entry_count(), 1);
    }

    #[test]
    fn unrecognised_user_agents_count_with_unknown_fields() {
        let parser = UserAgentParser::new(10);
        let got = client(&parser, "Mozilla/5.0");
        assert_eq!(
            *got,
            Client {
                browser: String::new(),
                browser_version: String::new(),
                os: String::new(),
                os_version: String::new(),
                device: Device::Unknown,
            }
        );
    }

    #[test]
    fn cache_hits_share_the_parsed_client() {
        let parser = UserAgentParser::new(10);
        let ua = HUMANS[0].0;
        let first = client(&parser, ua);
        let second = client(&parser, ua);
        assert!(Arc::ptr_eq(&first, &second));
    }

    #[test]
    fn a_zero_capacity_cache_still_parses() {
        let parser = UserAgentParser::new(0);
        for _ in 0..3 {
            assert_eq!(client(&parser, HUMANS[0].0).browser, "Chrome");
            assert_eq!(parser.parse("curl/8.0.1"), Agent::Bot);
        }
    }

    #[test]
    fn versions_are_bounded_numbers() {
        assert_eq!(major("124.0.6367.82"), "124");
        assert_eq!(major("UNKNOWN"), "");
        assert_eq!(major(""), "");
        assert_eq!(major("1234567.1"), "");
        assert_eq!(major_minor("17.4.1"), "17.4");
        assert_eq!(major_minor("10.15"), "10.15");
        assert_eq!(major_minor("14"), "14");
        assert_eq!(major_minor("13."), "13");
        assert_eq!(major_minor("x86_64 14541.0.0"), "");
        // A forged version cannot smuggle text into a report.
        let parser = UserAgentParser::new(10);
        let got = client(
            &parser,
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/99999999999<script> Safari/537.36",
        );
        assert_eq!(
            (got.browser.as_str(), got.browser_version.as_str()),
            ("Chrome", "")
        );
    }

    #[test]
    fn device_names() {
        assert_eq!(Device::Desktop.as_str(), "Desktop");
        assert_eq!(Device::Mobile.as_str(), "Mobile");
        assert_eq!(Device::Tablet.as_str(), "Tablet");
        assert_eq!(Device::Unknown.as_str(), "");
    }

    /// One parser for all proptest cases (building isbot's regex per case would dominate), with
    /// no cache so that every case is really parsed.
    fn uncached_parser() -> &'static UserAgentParser {
        static PARSER: std::sync::OnceLock<UserAgentParser> = std::sync::OnceLock::new();
        PARSER.get_or_init(|| UserAgentParser::new(0))
    }

    proptest! {
        #[test]
        fn parse_never_panics(ua in any::<String>()) {
            let _ = uncached_parser().parse(&ua);
        }

        /// Browser-shaped noise reaches woothee's regexes (and our slicing) far more often than
        /// arbitrary strings do.
        #[test]
        fn parse_never_panics_on_browser_shaped_input(
            ua in "(Mozilla/5\\.0 )?\\((Linux|iPhone|iPad|Windows NT|Macintosh|X11|Android)[^)]{0,40}\\)( ?[A-Za-z]{1,12}/[0-9.]{0,12}){0,6}( Mobile| Tablet| wv)?"
        ) {
            if let Agent::Human(client) = uncached_parser().parse(&ua) {
                prop_assert!(client.browser_version.bytes().all(|b| b.is_ascii_digit()));
                prop_assert!(client.os_version.len() <= 2 * MAX_VERSION_DIGITS + 1);
            }
        }
    }
}
