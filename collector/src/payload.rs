//! The wire formats: Plausible's Events API body and the tracking pixel's query string, parsed
//! and validated into a [`Hit`].
//!
//! Parsing is cheap and pure, so the server does it before answering: a bad request gets its
//! 400 with a reason right away, and only valid hits are queued. Limits follow Plausible's, so a
//! payload one accepts the other accepts too.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::domain::{strip_www, SiteDomain};

pub const MAX_URL_BYTES: usize = 2000;
pub const MAX_REFERRER_BYTES: usize = 2000;
pub const MAX_NAME_BYTES: usize = 120;
pub const MAX_PROPS: usize = 30;
pub const MAX_PROP_KEY_BYTES: usize = 300;
pub const MAX_PROP_VALUE_BYTES: usize = 2000;
/// One event may be sent to a few sites at once (`d: "a.com,b.com"`), not to hundreds.
pub const MAX_DOMAINS: usize = 10;
/// The longest engaged time one engagement event may report: a day. Larger values are clamped,
/// so one broken client cannot skew averages.
pub const MAX_ENGAGED_MS: u64 = 24 * 60 * 60 * 1000;

/// The name of a pageview, as Plausible's trackers send it.
pub const PAGEVIEW: &str = "pageview";
/// The name of the event a tracker sends when a page is hidden or left.
pub const ENGAGEMENT: &str = "engagement";

/// Why a request was refused. The `Display` text is the reason sent back with the 400: short,
/// and never echoing more of the request than a field name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("body is not valid UTF-8")]
    InvalidUtf8,
    #[error("body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("body must be a JSON object")]
    NotAnObject,
    #[error("event name is required (n or name)")]
    MissingName,
    #[error("event name is longer than {MAX_NAME_BYTES} bytes")]
    NameTooLong,
    #[error("url is required (u or url)")]
    MissingUrl,
    #[error("url is longer than {MAX_URL_BYTES} bytes")]
    UrlTooLong,
    #[error("url is not a valid absolute URL")]
    InvalidUrl,
    #[error("url must use http or https")]
    UnsupportedScheme,
    #[error("referrer is longer than {MAX_REFERRER_BYTES} bytes")]
    ReferrerTooLong,
    #[error("{0}")]
    InvalidDomain(#[from] crate::domain::InvalidDomain),
    #[error("more than {MAX_DOMAINS} domains in one event")]
    TooManyDomains,
    #[error("props must be a JSON object of strings, numbers or booleans")]
    InvalidProps,
    #[error("more than {MAX_PROPS} props")]
    TooManyProps,
    #[error("a prop name is longer than {MAX_PROP_KEY_BYTES} bytes")]
    PropKeyTooLong,
    #[error("a prop value is longer than {MAX_PROP_VALUE_BYTES} bytes")]
    PropValueTooLong,
    #[error("{0} must be a boolean")]
    NotABoolean(&'static str),
    #[error("{0} must be a number")]
    NotANumber(&'static str),
}

/// What the server knows of the request besides its payload. The client IP lives here, in memory,
/// until the visitor id is computed; it is never stored.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub received_at: DateTime<Utc>,
    pub client_ip: IpAddr,
    pub user_agent: String,
    /// A browser prefetch or preview (`Sec-Purpose: prefetch` and the like): not a visit.
    pub prefetch: bool,
    /// `DNT: 1` or `Sec-GPC: 1`; honoured for sites whose owner asked for it.
    pub do_not_track: bool,
}

/// Engagement measured by the tracker when a page is hidden or left.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Engagement {
    pub engaged_ms: u32,
    /// Deepest scroll, 0–100 %.
    pub scroll_depth: u8,
}

/// A valid tracking request, not yet enriched.
#[derive(Debug, Clone)]
pub struct Hit {
    pub name: String,
    pub url: Url,
    /// One or more sites the event belongs to (never empty).
    pub domains: Vec<SiteDomain>,
    pub referrer: Option<String>,
    pub props: Vec<(String, String)>,
    pub hash_mode: bool,
    /// `false` for events that should not make a visit count as engaged (Plausible's `i: false`).
    pub interactive: bool,
    pub engagement: Option<Engagement>,
    pub context: RequestContext,
}

/// Plausible's Events API body, short and long key forms. Unknown fields (`ip`, `userAgent`,
/// `timestamp`, `v`, revenue `$`, …) are ignored on purpose: the connection and the server's
/// clock decide who and when.
#[derive(Deserialize)]
struct WireEvent {
    #[serde(alias = "name")]
    n: Option<String>,
    #[serde(alias = "url")]
    u: Option<String>,
    #[serde(alias = "domain")]
    d: Option<String>,
    #[serde(alias = "referrer")]
    r: Option<String>,
    #[serde(alias = "props", alias = "m", alias = "meta")]
    p: Option<Value>,
    #[serde(alias = "hashMode")]
    h: Option<Value>,
    #[serde(alias = "interactive")]
    i: Option<Value>,
    /// Scroll depth, %.
    sd: Option<Value>,
    /// Engaged time, ms.
    e: Option<Value>,
}

/// Parses an Events API body, whatever its content type (trackers send `text/plain` to avoid a
/// CORS preflight).
pub fn parse_event(body: &[u8], context: RequestContext) -> Result<Hit, Rejection> {
    let text = std::str::from_utf8(body).map_err(|_| Rejection::InvalidUtf8)?;
    if !text.trim_start().starts_with('{') {
        return Err(if text.trim().is_empty() {
            Rejection::InvalidJson("empty body".into())
        } else {
            Rejection::NotAnObject
        });
    }
    let wire: WireEvent =
        serde_json::from_str(text).map_err(|e| Rejection::InvalidJson(json_error(&e)))?;

    let name = parse_name(wire.n.as_deref())?;
    let url = parse_url(wire.u.as_deref())?;
    let engagement = (name == ENGAGEMENT)
        .then(|| engagement(&wire.sd, &wire.e))
        .transpose()?;
    Ok(Hit {
        domains: parse_domains(wire.d.as_deref(), &url)?,
        referrer: parse_referrer(wire.r)?,
        props: parse_props(wire.p)?,
        hash_mode: flag(&wire.h, "h", false)?,
        // Engagement is measured, not done: it never makes a visit count as engaged (not bounced).
        interactive: flag(&wire.i, "i", true)? && engagement.is_none(),
        engagement,
        name,
        url,
        context,
    })
}

/// Parses the pixel's query string: `d` domain, `u` URL or `p` path, `r` referrer, optional `n`
/// name. Without `u` or `p`, the page is the one named by the `Referer` header, which is the page
/// that embeds the pixel.
pub fn parse_pixel(
    query: &str,
    referer_header: Option<&str>,
    context: RequestContext,
) -> Result<Hit, Rejection> {
    let (mut d, mut u, mut p, mut r, mut n) = (None, None, None, None, None);
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let slot = match key.as_ref() {
            "d" | "domain" => &mut d,
            "u" | "url" => &mut u,
            "p" | "path" => &mut p,
            "r" | "referrer" => &mut r,
            "n" | "name" => &mut n,
            _ => continue,
        };
        slot.get_or_insert(value.into_owned());
    }
    let name = match n {
        Some(n) => parse_name(Some(&n))?,
        None => PAGEVIEW.to_owned(),
    };
    let url = match (u, p) {
        (Some(u), _) => parse_url(Some(&u))?,
        (None, Some(path)) => {
            let domain = d.as_deref().ok_or(Rejection::MissingUrl)?;
            let host = SiteDomain::parse(domain.split(',').next().unwrap_or_default())?;
            let path = if path.starts_with('/') {
                path
            } else {
                format!("/{path}")
            };
            parse_url(Some(&format!("https://{host}{path}")))?
        }
        (None, None) => parse_url(referer_header.filter(|h| !h.is_empty()))?,
    };
    Ok(Hit {
        domains: parse_domains(d.as_deref(), &url)?,
        referrer: parse_referrer(r)?,
        props: Vec::new(),
        hash_mode: false,
        interactive: true,
        engagement: None,
        name,
        url,
        context,
    })
}

/// serde_json's messages can quote the offending value; keep only the category and position.
fn json_error(error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match error.classify() {
        Category::Syntax => "syntax error",
        Category::Eof => "unexpected end of input",
        Category::Data => {
            let text = error.to_string();
            if let Some(field) = text.strip_prefix("duplicate field `") {
                let field = field.split('`').next().unwrap_or_default();
                return format!("duplicate field {field}");
            }
            "a field has the wrong type"
        }
        Category::Io => "read error",
    };
    format!("{what} at line {} column {}", error.line(), error.column())
}

fn parse_name(name: Option<&str>) -> Result<String, Rejection> {
    let name = name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or(Rejection::MissingName)?;
    if name.len() > MAX_NAME_BYTES {
        return Err(Rejection::NameTooLong);
    }
    Ok(name.to_owned())
}

fn parse_url(url: Option<&str>) -> Result<Url, Rejection> {
    let url = url
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .ok_or(Rejection::MissingUrl)?;
    if url.len() > MAX_URL_BYTES {
        return Err(Rejection::UrlTooLong);
    }
    let parsed = Url::parse(url).map_err(|_| Rejection::InvalidUrl)?;
    match parsed.scheme() {
        "http" | "https" if parsed.host_str().is_some_and(|h| !h.is_empty()) => Ok(parsed),
        "http" | "https" => Err(Rejection::InvalidUrl),
        _ => Err(Rejection::UnsupportedScheme),
    }
}

/// A comma-separated list sends the event to each site; without one, the page's own host names
/// the site.
fn parse_domains(domains: Option<&str>, url: &Url) -> Result<Vec<SiteDomain>, Rejection> {
    let listed: Vec<&str> = domains
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .collect();
    if listed.len() > MAX_DOMAINS {
        return Err(Rejection::TooManyDomains);
    }
    let mut parsed = Vec::with_capacity(listed.len().max(1));
    for domain in listed {
        let domain = SiteDomain::parse(domain)?;
        if !parsed.contains(&domain) {
            parsed.push(domain);
        }
    }
    if parsed.is_empty() {
        parsed.push(SiteDomain::parse(strip_www(
            url.host_str().unwrap_or_default(),
        ))?);
    }
    Ok(parsed)
}

fn parse_referrer(referrer: Option<String>) -> Result<Option<String>, Rejection> {
    match referrer {
        Some(r) if r.len() > MAX_REFERRER_BYTES => Err(Rejection::ReferrerTooLong),
        Some(r) if r.trim().is_empty() => Ok(None),
        other => Ok(other),
    }
}

/// Props arrive as an object, or (older trackers' `m`) as a JSON string holding one. Values that
/// are null, empty, or nested objects and arrays are skipped, as Plausible skips them; numbers and
/// booleans are kept as their text.
fn parse_props(props: Option<Value>) -> Result<Vec<(String, String)>, Rejection> {
    let object = match props {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Object(map)) => map,
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(Vec::new()),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(&s) {
            Ok(Value::Object(map)) => map,
            Ok(Value::Null) => return Ok(Vec::new()),
            _ => return Err(Rejection::InvalidProps),
        },
        Some(_) => return Err(Rejection::InvalidProps),
    };
    if object.len() > MAX_PROPS {
        return Err(Rejection::TooManyProps);
    }
    let mut out = Vec::with_capacity(object.len());
    for (key, value) in object {
        if key.len() > MAX_PROP_KEY_BYTES {
            return Err(Rejection::PropKeyTooLong);
        }
        let value = match value {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null | Value::Array(_) | Value::Object(_) => continue,
        };
        if value.len() > MAX_PROP_VALUE_BYTES {
            return Err(Rejection::PropValueTooLong);
        }
        if key.trim().is_empty() || value.is_empty() {
            continue;
        }
        out.push((key, value));
    }
    Ok(out)
}

/// Trackers send flags as booleans or as 0/1.
fn flag(value: &Option<Value>, field: &'static str, default: bool) -> Result<bool, Rejection> {
    match value {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::Number(n)) => Ok(n.as_f64().is_some_and(|f| f != 0.0)),
        Some(_) => Err(Rejection::NotABoolean(field)),
    }
}

fn engagement(sd: &Option<Value>, e: &Option<Value>) -> Result<Engagement, Rejection> {
    let scroll = number(sd, "sd")?.clamp(0.0, 100.0);
    let engaged = number(e, "e")?.clamp(0.0, MAX_ENGAGED_MS as f64);
    Ok(Engagement {
        engaged_ms: engaged.round() as u32,
        scroll_depth: scroll.round() as u8,
    })
}

/// A missing number is 0; numbers in strings are accepted, since some clients stringify.
fn number(value: &Option<Value>, field: &'static str) -> Result<f64, Rejection> {
    let n = match value {
        None | Some(Value::Null) => Some(0.0),
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        Some(_) => None,
    };
    n.filter(|n| n.is_finite())
        .ok_or(Rejection::NotANumber(field))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    fn ctx() -> RequestContext {
        RequestContext {
            received_at: Utc::now(),
            client_ip: IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9)),
            user_agent: "Mozilla/5.0".into(),
            prefetch: false,
            do_not_track: false,
        }
    }

    fn parse(body: &str) -> Result<Hit, Rejection> {
        parse_event(body.as_bytes(), ctx())
    }

    #[test]
    fn short_and_long_keys_mean_the_same() {
        let short = parse(
            r#"{"n":"pageview","u":"https://example.com/a?utm_source=x","d":"example.com",
                "r":"https://news.ycombinator.com/","p":{"plan":"pro","n":3,"ok":true},"h":1,"i":false}"#,
        )
        .unwrap();
        let long = parse(
            r#"{"name":"pageview","url":"https://example.com/a?utm_source=x","domain":"example.com",
                "referrer":"https://news.ycombinator.com/","props":{"plan":"pro","n":3,"ok":true},
                "hashMode":true,"interactive":false}"#,
        )
        .unwrap();
        for hit in [&short, &long] {
            assert_eq!(hit.name, "pageview");
            assert_eq!(hit.url.as_str(), "https://example.com/a?utm_source=x");
            assert_eq!(hit.domains, vec![SiteDomain::parse("example.com").unwrap()]);
            assert_eq!(
                hit.referrer.as_deref(),
                Some("https://news.ycombinator.com/")
            );
            assert_eq!(
                hit.props,
                vec![
                    ("n".into(), "3".into()),
                    ("ok".into(), "true".into()),
                    ("plan".into(), "pro".into())
                ]
            );
            assert!(hit.hash_mode);
            assert!(!hit.interactive);
        }
    }

    #[test]
    fn meta_as_json_string_and_nested_values_skipped() {
        let hit =
            parse(r#"{"n":"Signup","u":"https://e.com/","m":"{\"a\":\"1\",\"b\":{\"c\":1},\"d\":null,\"e\":\"\"}"}"#)
                .unwrap();
        assert_eq!(hit.props, vec![("a".into(), "1".into())]);
    }

    #[test]
    fn domain_list_www_and_derived_domain() {
        let hit = parse(r#"{"n":"pageview","u":"https://e.com/","d":"www.a.com, b.com,,a.com"}"#)
            .unwrap();
        let names: Vec<_> = hit.domains.iter().map(|d| d.as_str()).collect();
        assert_eq!(names, ["a.com", "b.com"]);
        let hit = parse(r#"{"n":"pageview","u":"https://www.Shop.example/x"}"#).unwrap();
        assert_eq!(hit.domains[0].as_str(), "shop.example");
    }

    #[test]
    fn ignores_client_supplied_identity_and_time() {
        let hit = parse(
            r#"{"n":"pageview","u":"https://e.com/","ip":"1.2.3.4","userAgent":"x","timestamp":"2001-01-01","$":{"amount":"1"}}"#,
        )
        .unwrap();
        assert_eq!(
            hit.context.client_ip,
            IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9))
        );
        assert_eq!(hit.context.user_agent, "Mozilla/5.0");
    }

    #[test]
    fn engagement_is_kept_and_clamped() {
        let hit = parse(r#"{"n":"engagement","u":"https://e.com/","sd":57.6,"e":12345}"#).unwrap();
        assert_eq!(
            hit.engagement,
            Some(Engagement {
                engaged_ms: 12345,
                scroll_depth: 58
            })
        );
        let hit = parse(r#"{"n":"engagement","u":"https://e.com/","sd":400,"e":1e300}"#).unwrap();
        assert_eq!(
            hit.engagement,
            Some(Engagement {
                engaged_ms: MAX_ENGAGED_MS as u32,
                scroll_depth: 100
            })
        );
        let hit = parse(r#"{"n":"engagement","u":"https://e.com/","sd":-3,"e":"15"}"#).unwrap();
        assert_eq!(
            hit.engagement,
            Some(Engagement {
                engaged_ms: 15,
                scroll_depth: 0
            })
        );
        assert!(!hit.interactive, "engagement never ends a bounce");
        let hit = parse(r#"{"n":"pageview","u":"https://e.com/","sd":5}"#).unwrap();
        assert_eq!(hit.engagement, None);
    }

    #[test]
    fn every_bad_input_has_its_reason() {
        let long = |n: usize| "a".repeat(n);
        let many_props: String = (0..31)
            .map(|i| format!("\"k{i}\":\"v\""))
            .collect::<Vec<_>>()
            .join(",");
        let cases: Vec<(String, Rejection)> = vec![
            ("".into(), Rejection::InvalidJson("empty body".into())),
            ("[1]".into(), Rejection::NotAnObject),
            (
                r#"{"n":"pageview","#.into(),
                Rejection::InvalidJson(String::new()),
            ),
            (r#"{"u":"https://e.com/"}"#.into(), Rejection::MissingName),
            (
                r#"{"n":" ","u":"https://e.com/"}"#.into(),
                Rejection::MissingName,
            ),
            (
                format!(r#"{{"n":"{}","u":"https://e.com/"}}"#, long(121)),
                Rejection::NameTooLong,
            ),
            (r#"{"n":"pageview"}"#.into(), Rejection::MissingUrl),
            (
                format!(r#"{{"n":"x","u":"https://e.com/{}"}}"#, long(2000)),
                Rejection::UrlTooLong,
            ),
            (r#"{"n":"x","u":"/relative"}"#.into(), Rejection::InvalidUrl),
            (
                r#"{"n":"x","u":"javascript:alert(1)"}"#.into(),
                Rejection::UnsupportedScheme,
            ),
            (
                r#"{"n":"x","u":"data:text/html,hi"}"#.into(),
                Rejection::UnsupportedScheme,
            ),
            (
                r#"{"n":"x","u":"file:///etc/passwd"}"#.into(),
                Rejection::UnsupportedScheme,
            ),
            (
                format!(
                    r#"{{"n":"x","u":"https://e.com/","r":"https://r.com/{}"}}"#,
                    long(2000)
                ),
                Rejection::ReferrerTooLong,
            ),
            (
                format!(r#"{{"n":"x","u":"https://e.com/","p":{{{many_props}}}}}"#),
                Rejection::TooManyProps,
            ),
            (
                format!(
                    r#"{{"n":"x","u":"https://e.com/","p":{{"{}":"v"}}}}"#,
                    long(301)
                ),
                Rejection::PropKeyTooLong,
            ),
            (
                format!(
                    r#"{{"n":"x","u":"https://e.com/","p":{{"k":"{}"}}}}"#,
                    long(2001)
                ),
                Rejection::PropValueTooLong,
            ),
            (
                r#"{"n":"x","u":"https://e.com/","p":[1,2]}"#.into(),
                Rejection::InvalidProps,
            ),
            (
                r#"{"n":"x","u":"https://e.com/","p":"not json"}"#.into(),
                Rejection::InvalidProps,
            ),
            (
                r#"{"n":"x","u":"https://e.com/","h":"yes"}"#.into(),
                Rejection::NotABoolean("h"),
            ),
            (
                r#"{"n":"engagement","u":"https://e.com/","e":[]}"#.into(),
                Rejection::NotANumber("e"),
            ),
            (
                r#"{"n":"x","u":"https://e.com/","d":"not a domain"}"#.into(),
                Rejection::InvalidDomain(crate::domain::InvalidDomain("not a domain".into())),
            ),
        ];
        for (body, expected) in cases {
            let got = parse(&body).expect_err(&body);
            match (&got, &expected) {
                (Rejection::InvalidJson(_), Rejection::InvalidJson(e)) if e.is_empty() => {}
                _ => assert_eq!(got, expected, "{body}"),
            }
        }
        assert_eq!(
            parse_event(b"{\"n\":\"\xff\"}", ctx()).unwrap_err(),
            Rejection::InvalidUtf8
        );
    }

    #[test]
    fn json_errors_do_not_echo_values() {
        let err = parse(r#"{"n":"pageview","u":"https://e.com/","i":"203.0.113.77"}"#).unwrap_err();
        assert!(!err.to_string().contains("203.0.113.77"), "{err}");
        let err = parse(r#"{"n":"pageview","u":"https://e.com/","r":12}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "body is not valid JSON: a field has the wrong type at line 1 column 43"
        );
        let err = parse(r#"{"n":"a","name":"b","u":"https://e.com/"}"#).unwrap_err();
        assert!(err.to_string().contains("duplicate field n"), "{err}");
        let err = parse(r#"{"n":"\ud800","u":"https://e.com/"}"#).unwrap_err();
        assert!(matches!(err, Rejection::InvalidJson(_)), "{err}");
    }

    #[test]
    fn pixel_from_url_path_or_referer_header() {
        let hit = parse_pixel(
            "d=example.com&u=https%3A%2F%2Fexample.com%2Fa&r=https%3A%2F%2Fx.com%2F",
            None,
            ctx(),
        )
        .unwrap();
        assert_eq!(
            (hit.name.as_str(), hit.url.as_str()),
            ("pageview", "https://example.com/a")
        );
        assert_eq!(hit.referrer.as_deref(), Some("https://x.com/"));
        let hit = parse_pixel("d=www.example.com&p=blog/x", None, ctx()).unwrap();
        assert_eq!(hit.url.as_str(), "https://example.com/blog/x");
        let hit = parse_pixel(
            "d=example.com",
            Some("https://example.com/from-header"),
            ctx(),
        )
        .unwrap();
        assert_eq!(hit.url.as_str(), "https://example.com/from-header");
        assert_eq!(
            parse_pixel("d=example.com", None, ctx()).unwrap_err(),
            Rejection::MissingUrl
        );
        assert_eq!(
            parse_pixel("p=/x", None, ctx()).unwrap_err(),
            Rejection::MissingUrl
        );
        assert_eq!(
            parse_pixel("u=javascript:x", None, ctx()).unwrap_err(),
            Rejection::UnsupportedScheme
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_event(&body, ctx());
        }

        #[test]
        fn arbitrary_json_shaped_text_never_panics(body in r#"\{("[a-z$]{1,4}":("[^"]{0,20}"|[0-9e.+-]{1,8}|true|null|\[\]|\{\}),?){0,8}\}"#) {
            let _ = parse_event(body.as_bytes(), ctx());
        }

        #[test]
        fn arbitrary_pixel_queries_never_panic(query in ".{0,200}", referer in proptest::option::of(".{0,100}")) {
            let _ = parse_pixel(&query, referer.as_deref(), ctx());
        }
    }
}
