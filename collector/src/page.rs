//! Page URLs → the host, the normalised path and the campaign tags reports group by.
//!
//! Query strings are dropped from paths: they split one page into thousands of rows and often
//! carry personal data (e-mail addresses, tokens). Only the campaign parameters survive, each in
//! its own field; of click ids (`gclid`, `fbclid`, …) we keep which platform sent the click, never
//! the id itself, because the id is a tracking identifier that links a visit to an ad account.

use percent_encoding::percent_decode_str;
use url::Url;

use crate::domain::strip_www;

/// Campaign tags from a page's query string. Empty strings mean absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Utm {
    pub source: String,
    pub medium: String,
    pub campaign: String,
    pub content: String,
    pub term: String,
}

/// What the collector keeps of a page URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// Lower case, without `www.`.
    pub hostname: String,
    /// See [`normalize_path`].
    pub path: String,
    pub utm: Utm,
    /// The `ref` or `source` parameter, which many sites use instead of `utm_source`.
    pub ref_source: String,
    /// The name of the click-id parameter present (`gclid`, `fbclid`, …), which tells the ad
    /// platform; empty when there is none.
    pub click_id: &'static str,
}

/// Click-id parameters of ad platforms, by the name they use in URLs.
pub const CLICK_ID_PARAMS: &[&str] = &[
    "gclid",
    "gbraid",
    "wbraid",
    "dclid",
    "fbclid",
    "msclkid",
    "twclid",
    "li_fat_id",
    "ttclid",
    "yclid",
    "epik",
    "rdt_cid",
    "sccid",
];

/// Longest value kept of one campaign parameter; longer ones are cut at a character boundary.
const MAX_TAG_BYTES: usize = 300;

impl Page {
    /// `hash_mode`: the site routes with `#/fragments` (hash-based single-page apps), so the
    /// fragment is part of the page's identity.
    pub fn from_url(url: &Url, hash_mode: bool) -> Self {
        let mut page = Page {
            hostname: strip_www(url.host_str().unwrap_or_default()).to_owned(),
            path: normalize_url_path(url.path(), hash_mode.then(|| url.fragment()).flatten()),
            ..Page::default()
        };
        for (key, value) in url.query_pairs() {
            let slot = match key.as_ref() {
                "utm_source" => &mut page.utm.source,
                "utm_medium" => &mut page.utm.medium,
                "utm_campaign" => &mut page.utm.campaign,
                "utm_content" => &mut page.utm.content,
                "utm_term" => &mut page.utm.term,
                "ref" | "source" if page.ref_source.is_empty() => &mut page.ref_source,
                other => {
                    if page.click_id.is_empty() {
                        if let Some(name) = CLICK_ID_PARAMS.iter().find(|p| **p == other) {
                            page.click_id = name;
                        }
                    }
                    continue;
                }
            };
            if slot.is_empty() {
                *slot = clean_tag(&value);
            }
        }
        page
    }
}

/// Normalises a path the way every page is recorded, so that a later lookup by path (public
/// counters, filters) finds it: the query string and fragment are dropped, `.`/`..` segments are
/// resolved, percent-escapes are decoded where they spell UTF-8 text, and a trailing slash is
/// removed (`/blog/post/` and `/blog/post` are one page). The root stays `/`.
pub fn normalize_path(input: &str) -> String {
    normalize(input, false)
}

/// As [`normalize_path`], keeping a `#fragment` as a hash-routed site's pages are recorded
/// (`/#/inbox`): what a lookup of such a page asks for.
pub fn normalize_route(input: &str) -> String {
    normalize(input, true)
}

fn normalize(input: &str, keep_fragment: bool) -> String {
    let input = input.trim();
    // A path is read after the host, so that one starting with `//` is this site's path (as
    // `https://e.com//x` is recorded, `//x`) rather than a URL to the host after the slashes.
    let url = if input.starts_with(['/', '\\']) {
        Url::parse(&format!("http://p.invalid{input}"))
    } else {
        Url::parse("http://p.invalid/")
            .expect("static URL parses")
            .join(input)
    };
    match url {
        Ok(url) if url.host_str() == Some("p.invalid") => {
            normalize_url_path(url.path(), url.fragment().filter(|_| keep_fragment))
        }
        // Absolute URLs to other hosts and junk are not paths of this site.
        _ => "/".to_owned(),
    }
}

fn normalize_url_path(encoded_path: &str, fragment: Option<&str>) -> String {
    let mut path = decode_if_text(encoded_path);
    while path.len() > 1 && path.ends_with('/') {
        path.pop();
    }
    if path.is_empty() {
        path.push('/');
    }
    if let Some(fragment) = fragment.filter(|f| !f.is_empty()) {
        path.push('#');
        path.push_str(&decode_if_text(fragment));
    }
    path
}

/// Percent-decodes when the result is readable text; keeps the escaped form otherwise (bytes that
/// are not UTF-8, or control characters that have no business in a report).
fn decode_if_text(encoded: &str) -> String {
    match percent_decode_str(encoded).decode_utf8() {
        Ok(decoded) if !decoded.chars().any(char::is_control) => decoded.into_owned(),
        _ => encoded.to_owned(),
    }
}

fn clean_tag(value: &str) -> String {
    let value = value.trim();
    let mut end = value.len().min(MAX_TAG_BYTES);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    value[..end].chars().filter(|c| !c.is_control()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(url: &str) -> Page {
        Page::from_url(&Url::parse(url).unwrap(), false)
    }

    #[test]
    fn keeps_host_and_path_and_drops_query() {
        let p = page("https://WWW.Example.com/blog/post/?id=7&email=a@b.c#top");
        assert_eq!(p.hostname, "example.com");
        assert_eq!(p.path, "/blog/post");
        assert_eq!(p.utm, Utm::default());
        assert_eq!(p.click_id, "");
    }

    #[test]
    fn extracts_utm_ref_and_click_id() {
        let p = page(
            "https://example.com/?utm_source=Newsletter&utm_medium=email&utm_campaign=spring+sale\
             &utm_content=hero&utm_term=shoes&ref=hn&gclid=abc123",
        );
        assert_eq!(p.path, "/");
        assert_eq!(p.utm.source, "Newsletter");
        assert_eq!(p.utm.medium, "email");
        assert_eq!(p.utm.campaign, "spring sale");
        assert_eq!(p.utm.content, "hero");
        assert_eq!(p.utm.term, "shoes");
        assert_eq!(p.ref_source, "hn");
        assert_eq!(p.click_id, "gclid");
    }

    #[test]
    fn first_value_wins_and_tags_are_capped() {
        let long = "x".repeat(400);
        let p = page(&format!(
            "https://e.com/?utm_source=a&utm_source=b&utm_term={long}&source=s"
        ));
        assert_eq!(p.utm.source, "a");
        assert_eq!(p.utm.term.len(), MAX_TAG_BYTES);
        assert_eq!(p.ref_source, "s");
    }

    #[test]
    fn hash_mode_keeps_the_fragment() {
        let url = Url::parse("https://e.com/app/#/settings/profile?tab=1").unwrap();
        assert_eq!(
            Page::from_url(&url, true).path,
            "/app#/settings/profile?tab=1"
        );
        assert_eq!(Page::from_url(&url, false).path, "/app");
        let url = Url::parse("https://e.com/app#").unwrap();
        assert_eq!(Page::from_url(&url, true).path, "/app");
    }

    #[test]
    fn decodes_text_but_not_binary_escapes() {
        assert_eq!(page("https://e.com/caf%C3%A9").path, "/café");
        assert_eq!(page("https://e.com/café").path, "/café");
        assert_eq!(page("https://e.com/bad%FF").path, "/bad%FF");
        assert_eq!(page("https://e.com/nul%00").path, "/nul%00");
    }

    #[test]
    fn routes_keep_their_fragment() {
        assert_eq!(normalize_route("/#/inbox/"), "/#/inbox/");
        assert_eq!(normalize_route("/app/#/a b"), "/app#/a b");
        assert_eq!(normalize_route("/blog/post/"), "/blog/post");
        assert_eq!(normalize_path("/#/inbox"), "/");
        let url = Url::parse("https://e.com/app/#/a%20b").unwrap();
        assert_eq!(
            Page::from_url(&url, true).path,
            normalize_route("/app/#/a%20b")
        );
    }

    /// Found by `fuzz/`'s url_referrer: a page whose path starts with `//` was looked up as the
    /// root, since the lookup read `//host/...` as a URL to another host.
    #[test]
    fn paths_starting_with_two_slashes_are_looked_up_as_recorded() {
        for raw in [
            "https://e.com//x",
            "https://e.com//evil.example/x/",
            "https://e.com///a//b?q=1",
            "https://e.com//",
            "https://e.com//@evil.example",
        ] {
            let url = Url::parse(raw).unwrap();
            assert_eq!(normalize_path(url.path()), page(raw).path, "{raw}");
        }
        assert_eq!(normalize_path("//x/"), "//x");
        assert_eq!(normalize_path("/\\x"), "//x");
        assert_eq!(normalize_route("//x/#/a"), "//x#/a");
        let url = Url::parse("https://e.com//x/#/a").unwrap();
        assert_eq!(Page::from_url(&url, true).path, "//x#/a");
    }

    #[test]
    fn normalize_path_agrees_with_recorded_paths() {
        for (input, expected) in [
            ("/blog/post/", "/blog/post"),
            ("/blog/post?utm_source=x", "/blog/post"),
            ("/blog/post#comments", "/blog/post"),
            ("blog/post", "/blog/post"),
            ("/a/../b/./c", "/b/c"),
            ("/../../etc/passwd", "/etc/passwd"),
            ("/caf%C3%A9", "/café"),
            ("", "/"),
            ("/", "/"),
            ("//", "/"),
            ("https://evil.example/x", "/"),
        ] {
            assert_eq!(normalize_path(input), expected, "{input:?}");
            let recorded = page(&format!(
                "https://e.com{}",
                if input.starts_with('/') { input } else { "/" }
            ));
            if input.starts_with('/') && !input.starts_with("//") {
                assert_eq!(recorded.path, expected, "recorded {input:?}");
            }
        }
    }
}
