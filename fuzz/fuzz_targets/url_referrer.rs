//! Page URLs and referrers: `normalize_path` / `normalize_route` on arbitrary text, the page a
//! URL is recorded as (`Page::from_url`), and the referrer's classification, source names and
//! spam list. No panic, and what the collector promises:
//! - a path lookup normalises as pages are recorded: `normalize_path(url.path())` is the
//!   recorded path (and `normalize_route` with the fragment, for hash-routed sites);
//! - paths start with `/` and end without one (but the root), hold no control character;
//! - a referrer keeps no query string or fragment, is direct or has both a referrer and a
//!   source, and a site's own pages are never its referrers;
//! - a parameter's source name is final (asking again gives it back);
//! - a spam entry lists its host and every subdomain.
//!
//! Not asserted, because not promised: that normalising twice changes nothing. A path is decoded
//! once, for reading, so `/a%252F` is recorded as `/a%2F`, which a second pass reads as `/a/`.
#![no_main]

use std::sync::LazyLock;

use footfall_collector::page::{normalize_path, normalize_route, Page, CLICK_ID_PARAMS};
use footfall_collector::referrer::{self, SpamList, MAX_REFERRER_LEN};
use libfuzzer_sys::fuzz_target;
use url::Url;

/// `page.rs`'s longest campaign tag.
const MAX_TAG_BYTES: usize = 300;

static BUILTIN_SPAM: LazyLock<SpamList> = LazyLock::new(SpamList::builtin);

fn check_path(path: &str) {
    assert!(path.starts_with('/'), "{path:?}");
    assert!(path == "/" || !path.ends_with('/'), "{path:?}");
    assert!(!path.chars().any(char::is_control), "{path:?}");
}

fn check_page(url: &Url, hash_mode: bool) {
    let page = Page::from_url(url, hash_mode);
    let path_only = Page::from_url(url, false).path;
    check_path(&path_only);
    assert_eq!(normalize_path(url.path()), path_only, "{url}");
    if hash_mode {
        let route = match url.fragment() {
            Some(fragment) => format!("{}#{fragment}", url.path()),
            None => url.path().to_owned(),
        };
        assert_eq!(normalize_route(&route), page.path, "{url}");
    } else {
        assert_eq!(page.path, path_only);
    }
    for tag in [
        &page.utm.source,
        &page.utm.medium,
        &page.utm.campaign,
        &page.utm.content,
        &page.utm.term,
        &page.ref_source,
    ] {
        assert!(tag.len() <= MAX_TAG_BYTES, "{tag:?}");
        assert!(!tag.chars().any(char::is_control), "{tag:?}");
    }
    assert!(page.click_id.is_empty() || CLICK_ID_PARAMS.contains(&page.click_id));

    // Internal navigation is never a referral, on a site a browser can reach: a host name
    // without empty labels (`www..` reads as `www` or as `.`, depending on which of `www.` and
    // the trailing dots goes first).
    let host = url.host_str().unwrap_or_default();
    let host = host.strip_suffix('.').unwrap_or(host);
    if !host.is_empty() && host.split('.').all(|label| !label.is_empty()) {
        let own = referrer::classify(Some(url.as_str()), &page.hostname);
        assert!(own.is_direct(), "{url} refers to its own site: {own:?}");
    }
}

fn check_referral(text: &str, page_host: &str) {
    let referral = referrer::classify(Some(text), page_host);
    let r = &referral.referrer;
    assert!(!r.contains(['?', '#']), "{r:?} from {text:?}");
    assert!(!r.chars().any(char::is_control), "{r:?}");
    assert_eq!(r.is_empty(), referral.source.is_empty(), "{referral:?}");
    if text.trim().len() > MAX_REFERRER_LEN {
        assert!(referral.is_direct());
    }
}

fn check_spam(text: &str, url: Option<&Url>) {
    let spam = BUILTIN_SPAM.is_spam(Some(text));
    let web = url.filter(|u| matches!(u.scheme(), "http" | "https"));
    assert!(!spam || web.is_some(), "{text:?} is spam but not a web URL");
    let Some(url) = web else {
        return;
    };
    // Hosts as the list keeps them: without trailing dots, and the same host still without them
    // (`x.1..` is a URL's host, `x.1` none, and `1..` a name where `1` is an IPv4 address).
    let Some(host) = url
        .host_str()
        .map(|h| h.trim_end_matches('.'))
        .filter(|h| !h.is_empty() && h.len() <= 253)
        .filter(|h| url::Host::parse(h).is_ok_and(|parsed| parsed.to_string() == *h))
    else {
        return;
    };
    if text.trim().len() > MAX_REFERRER_LEN {
        return;
    }
    assert!(
        SpamList::with_extra([host]).is_spam(Some(text)),
        "{host} listed"
    );
    // A listed domain catches its subdomains (domains only: `0.1.2.3` is an address).
    let parent = host
        .split_once('.')
        .map(|(_, parent)| parent)
        .filter(|p| matches!(url.host(), Some(url::Host::Domain(_))) && p.contains('.'))
        .filter(|p| matches!(url::Host::parse(p), Ok(url::Host::Domain(d)) if d == *p));
    if let Some(parent) = parent {
        assert!(
            SpamList::with_extra([parent]).is_spam(Some(text)),
            "{parent} listed, {host} not caught"
        );
    }
}

fn check_source(text: &str) {
    let source = referrer::source_from_param(text);
    assert!(source == text.trim() || source.len() <= 64, "{source:?}");
    assert_eq!(referrer::source_from_param(&source), source, "{text:?}");
}

// Input: a byte of flags (bit 0: the site routes by fragment), then the text (a path, a URL, a
// referrer, a parameter) and, after a newline, the host of the page it was seen on.
fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let hash_mode = flags & 1 == 1;
    let input = String::from_utf8_lossy(rest);
    let (text, page_host) = input
        .split_once('\n')
        .unwrap_or((input.as_ref(), "example.com"));
    check_path(&normalize_path(text));
    let route = normalize_route(text);
    assert!(route.starts_with('/'), "{route:?}");
    if !text.contains('#') {
        assert_eq!(route, normalize_path(text));
    }

    let url = Url::parse(text.trim()).ok();
    if let Some(url) = url.as_ref().filter(|u| {
        matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
    }) {
        check_page(url, hash_mode);
    }
    check_referral(text, page_host);
    check_spam(text, url.as_ref());
    check_source(text);
});
