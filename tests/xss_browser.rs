//! The XSS drill: several hundred hostile payloads (tags, attribute breakouts, `javascript:` and
//! `data:` URLs, SVG and MathML handlers, entity-, percent- and escape-encoded forms, control
//! characters, template interpolation, CSS) sent through every text channel of the real
//! `POST /api/event` (paths, referrers, the five UTM tags, event names, prop keys and values, user
//! agents) and through a GeoIP database whose region and city names are payloads. The Stats API
//! confirms they were stored; then Chromium opens the dashboard (every period, every tab, rows
//! clicked into filters, rows and chart points hovered, payload filters in the URL) and the public
//! badges, charts and JSON, with `alert`, `confirm`, `prompt`, dialogs and every request to
//! another origin hooked, and walks a shared link's read-only view (labelled with a payload) the
//! same way. Nothing may run, load from elsewhere, or be injected as markup, and the payloads
//! must show up as text. Every SVG and feed the server serves for the payload store (those the
//! walk loaded, the badge and chart of every stored page, the popular pages' feeds) is fetched
//! and parsed with `roxmltree`: each must be well-formed, an `<svg>` or `<rss>` with no script,
//! no `foreignObject`, no event handler and no `javascript:` or `data:` link, and show its
//! payloads as text. Then the CSV exports, the owner's and the shared link's, of every
//! dimension and of every export link the views offered, are parsed: no cell may start as a
//! spreadsheet formula does, and the values must be the stored ones, a `'` before each formula.
//!
//! The base payloads are in `tests/browser/xss-corpus.txt`; the browser side is
//! `tests/browser/xss.mjs`.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use footfall_collector::mmdb_writer::{write_mmdb, MmdbValue};
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_SECURITY_POLICY};
use reqwest::{StatusCode, Url};
use serde_json::{json, Value};
use support::*;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

const SITE: &str = "example.com";

/// How each base payload is varied. Every variant of every base is one payload.
const VARIANTS: [&str; 7] = [
    "as-written",
    "mixed-case",
    "entities",
    "percent",
    "percent-twice",
    "js-escapes",
    "control-chars",
];

/// Longest event name the collector takes (`MAX_NAME_BYTES`), URL (`MAX_URL_BYTES`), prop key
/// (`MAX_PROP_KEY_BYTES`) and GeoIP text it keeps (`MAX_TEXT_BYTES`).
const MAX_NAME: usize = 120;
const MAX_URL: usize = 2000;
const MAX_PROP_KEY: usize = 300;
const MAX_GEO_TEXT: usize = 100;
/// How many payloads become region and city names in the test's GeoIP database.
const GEO_PAYLOADS: usize = 40;
/// What a spreadsheet reads as the start of a formula (OWASP's list for CSV injection): a cell
/// an export writes may not start with one.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];
/// The dimensions whose stored values the drill reads back, and exports.
const DIMENSIONS: [&str; 14] = [
    "event:page",
    "visit:entry_page",
    "visit:referrer",
    "visit:source",
    "visit:utm_source",
    "visit:utm_medium",
    "visit:utm_campaign",
    "visit:utm_content",
    "visit:utm_term",
    "event:name",
    "event:props:xss",
    "visit:region",
    "visit:city",
    "event:goal",
];

#[derive(Debug, Clone)]
struct Payload {
    /// 1-based; what `alert(N)` or `//evil.invalid/N` says when it runs or loads.
    id: usize,
    variant: &'static str,
    text: String,
}

/// The base payloads of `xss-corpus.txt`, with their placeholders still in.
fn bases() -> Vec<String> {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/xss-corpus.txt");
    std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with("# ") && *l != "#")
        .map(str::to_owned)
        .collect()
}

fn corpus() -> Vec<Payload> {
    let mut out = Vec::new();
    for base in bases() {
        for variant in VARIANTS {
            let id = out.len() + 1;
            let text = expand(&base, id, variant == "mixed-case");
            let text = match variant {
                "entities" => entities(&text),
                "percent" => percent(&text),
                "percent-twice" => percent(&percent(&text)),
                "js-escapes" => js_escapes(&text),
                "control-chars" => control_chars(&text),
                _ => text,
            };
            out.push(Payload { id, variant, text });
        }
    }
    out
}

/// Replaces the placeholders of a base payload for payload `id`; `mixed` alternates the case of
/// the letters the base itself spells (`<ScRiPt>`), not those of the call that reports.
fn expand(base: &str, id: usize, mixed: bool) -> String {
    let calls = ["alert", "confirm", "prompt"];
    let js = match (id - 1) % 4 {
        3 => format!("fetch(`//evil.invalid/{id}`)"),
        k => format!("{}({id})", calls[k]),
    };
    let url = if id % 2 == 1 {
        format!("//evil.invalid/{id}")
    } else {
        format!("http://evil.invalid/{id}")
    };
    let mut out = String::new();
    let mut upper = false;
    for (i, part) in base.split("@@").enumerate() {
        if i % 2 == 0 {
            for c in part.chars() {
                if mixed && c.is_ascii_alphabetic() {
                    upper = !upper;
                    out.push(if upper {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    });
                } else {
                    out.push(c);
                }
            }
            continue;
        }
        match part {
            "JS" => out.push_str(&js),
            "URL" => out.push_str(&url),
            "N" => out.push_str(&id.to_string()),
            "B64" => out.push_str(&base64(format!("<script>{js}</script>").as_bytes())),
            "TAB" => out.push('\t'),
            "CR" => out.push('\r'),
            other => panic!("unknown placeholder @@{other}@@ in {base}"),
        }
    }
    out
}

/// Markup characters as HTML character references, in turn named, decimal, hexadecimal, and
/// decimal without the semicolon.
fn entities(text: &str) -> String {
    let mut out = String::new();
    let mut turn = 0;
    for c in text.chars() {
        let named = match c {
            '<' => "lt",
            '>' => "gt",
            '"' => "quot",
            '\'' => "apos",
            '(' => "lpar",
            ')' => "rpar",
            '=' => "equals",
            ':' => "colon",
            '/' => "sol",
            _ => {
                out.push(c);
                continue;
            }
        };
        let code = c as u32;
        out.push_str(&match turn % 4 {
            0 => format!("&{named};"),
            1 => format!("&#{code};"),
            2 => format!("&#x{code:X};"),
            _ => format!("&#{code:07}"),
        });
        turn += 1;
    }
    out
}

/// Every byte but letters, digits and `-._~` as `%XX`.
fn percent(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Markup and quote characters as JavaScript (and JSON) `\uXXXX` escapes, written out.
fn js_escapes(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if "<>\"'()/=`".contains(c) || !c.is_ascii() {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// A NUL after the first character, and each space replaced by a control character in turn (tab,
/// line feed, carriage return, form feed, vertical tab, NUL, SOH, DEL, backspace).
fn control_chars(text: &str) -> String {
    let controls = [
        '\t', '\n', '\r', '\u{c}', '\u{b}', '\u{0}', '\u{1}', '\u{7f}', '\u{8}',
    ];
    let mut out = String::new();
    let mut turn = 0;
    for (i, c) in text.chars().enumerate() {
        if c == ' ' {
            out.push(controls[turn % controls.len()]);
            turn += 1;
        } else {
            out.push(c);
        }
        if i == 0 {
            out.push('\0');
        }
    }
    out
}

fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// One request to `POST /api/event`.
#[derive(Clone)]
struct Sent {
    channel: &'static str,
    body: Value,
    agent: String,
    ip: String,
}

/// The test's GeoIP database: the usual networks, and 45.0.N.0/24 whose region and city names
/// are payloads (what a hostile or broken database could hand the collector).
fn write_geoip(path: &Path, names: &[&Payload]) {
    let mut entries: Vec<(ipnet::IpNet, MmdbValue)> = vec![
        (
            "81.2.69.0/24".parse().unwrap(),
            MmdbValue::map([("country_code", MmdbValue::from("GB"))]),
        ),
        (
            "198.51.100.0/24".parse().unwrap(),
            MmdbValue::map([("country_code", MmdbValue::from("US"))]),
        ),
    ];
    for (j, payload) in names.iter().enumerate() {
        entries.push((
            format!("45.0.{j}.0/24").parse().unwrap(),
            MmdbValue::map([
                ("country_code", MmdbValue::from("FR")),
                ("state1", MmdbValue::from(payload.text.as_str())),
                ("city", MmdbValue::from(payload.text.as_str())),
            ]),
        ));
    }
    write_mmdb(path, "footfall-xss-test", &entries).unwrap();
}

/// Every payload through every channel the collector reads text from. Each request comes from
/// its own address, so each is its own visitor and visit: no repeat limit applies. Every 13th
/// payload (so every variant has some) is sent by three visitors, which puts it at the top of
/// the dashboard's ten-row panels and of the public lists.
fn requests(corpus: &[Payload], geo: &[&Payload]) -> Vec<Sent> {
    let mut sent = Vec::new();
    let mut next_ip = 0u32;
    let mut ip = || {
        next_ip += 1;
        format!(
            "10.{}.{}.{}",
            next_ip >> 16,
            (next_ip >> 8) & 255,
            next_ip & 255
        )
    };
    let pageview = |u: String, r: Option<&str>| json!({"n": "pageview", "u": u, "r": r});
    for (i, p) in corpus.iter().enumerate() {
        let first = sent.len();
        let text = p.text.as_str();
        let encoded = percent(text);
        // Every channel's event is on the payload's own page, so the pages reports are all
        // payloads.
        let page = format!("https://{SITE}/p/{encoded}");
        // (a) The path, encoded into the URL, and as written where the URL parser takes it.
        sent.push(Sent {
            channel: "path (encoded)",
            body: pageview(page.clone(), None),
            agent: FIREFOX.into(),
            ip: ip(),
        });
        let raw = format!("https://{SITE}/r/{text}");
        if Url::parse(raw.trim()).is_ok_and(|u| u.host_str() == Some(SITE)) {
            sent.push(Sent {
                channel: "path (as written)",
                body: pageview(raw, None),
                agent: FIREFOX.into(),
                ip: ip(),
            });
        }
        // (b) The referrer: a URL whose path is the payload, one whose host carries it where a
        // host may, and the payload as a bare string.
        sent.push(Sent {
            channel: "referrer (URL path)",
            body: pageview(
                page.clone(),
                Some(&format!("https://evil.invalid/{encoded}")),
            ),
            agent: IPHONE.into(),
            ip: ip(),
        });
        let host = format!("https://{text}.evil.invalid/");
        if Url::parse(&host)
            .is_ok_and(|u| u.host_str().is_some_and(|h| h.ends_with("evil.invalid")))
        {
            sent.push(Sent {
                channel: "referrer (URL host)",
                body: pageview(page.clone(), Some(&host)),
                agent: IPHONE.into(),
                ip: ip(),
            });
        }
        sent.push(Sent {
            channel: "referrer (bare)",
            body: pageview(page.clone(), Some(text)),
            agent: IPHONE.into(),
            ip: ip(),
        });
        // (c) All five UTM tags (on a short page when the payload's page would make the URL
        // longer than the collector takes).
        let tags = format!(
            "utm_source={encoded}&utm_medium={encoded}&utm_campaign={encoded}\
             &utm_content={encoded}&utm_term={encoded}"
        );
        let tagged = match format!("{page}?{tags}") {
            long if long.len() > MAX_URL => format!("https://{SITE}/campaign?{tags}"),
            url => url,
        };
        sent.push(Sent {
            channel: "utm_source, utm_medium, utm_campaign, utm_content, utm_term",
            body: pageview(tagged, None),
            agent: FIREFOX.into(),
            ip: ip(),
        });
        // (d) A custom event's name (when the collector takes it: 1 to 120 bytes, trimmed).
        let trimmed = text.trim();
        if !trimmed.is_empty() && trimmed.len() <= MAX_NAME {
            sent.push(Sent {
                channel: "event name",
                body: json!({"n": text, "u": &page,
                    "p": {"channel": "name"}}),
                agent: FIREFOX.into(),
                ip: ip(),
            });
        }
        // (e) A prop's key and value.
        let key = if text.len() <= MAX_PROP_KEY && !trimmed.is_empty() {
            text
        } else {
            "long payload"
        };
        sent.push(Sent {
            channel: "prop key and value",
            body: json!({"n": "Props", "u": &page,
                "p": {key: text, "xss": text}}),
            agent: FIREFOX.into(),
            ip: ip(),
        });
        // A user agent carrying the payload (browser names come from closed sets, but the
        // string is parsed).
        let agent = format!("{FIREFOX} {text}");
        if agent.len() <= 1024 && HeaderValue::from_bytes(agent.as_bytes()).is_ok() {
            sent.push(Sent {
                channel: "user agent",
                body: pageview(page.clone(), None),
                agent,
                ip: ip(),
            });
        }
        if i % 13 == 0 {
            let boosted: Vec<Sent> = sent[first..]
                .iter()
                .filter(|s| s.channel != "user agent" && s.channel != "referrer (bare)")
                .cloned()
                .collect();
            for _ in 0..2 {
                for s in &boosted {
                    sent.push(Sent {
                        ip: ip(),
                        ..s.clone()
                    });
                }
            }
        }
    }
    // Region and city names from the GeoIP database.
    for (j, p) in geo.iter().enumerate() {
        sent.push(Sent {
            channel: "GeoIP region and city",
            body: pageview(format!("https://{SITE}/p/{}", percent(&p.text)), None),
            agent: FIREFOX.into(),
            ip: format!("45.0.{j}.7"),
        });
    }
    sent
}

/// Sends everything, 24 at a time; returns how many each channel sent, and every answer that
/// was not 202.
async fn send_all(
    http: &reqwest::Client,
    server: &Server,
    sent: Vec<Sent>,
) -> (BTreeMap<&'static str, usize>, Vec<String>) {
    let limit = Arc::new(Semaphore::new(24));
    let mut tasks = JoinSet::new();
    let mut per_channel = BTreeMap::new();
    for s in sent {
        *per_channel.entry(s.channel).or_default() += 1;
        let permit = limit.clone().acquire_owned().await.unwrap();
        let request = http
            .post(server.url("/api/event"))
            .header(
                "user-agent",
                HeaderValue::from_bytes(s.agent.as_bytes()).unwrap(),
            )
            .header("x-forwarded-for", s.ip)
            .body(s.body.to_string());
        tasks.spawn(async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            drop(permit);
            (status, s.channel, s.body, text)
        });
    }
    let mut refused = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (status, channel, body, answer) = done.unwrap();
        if status != StatusCode::ACCEPTED {
            refused.push(format!("{channel}: {status} {answer} for {body}"));
        }
    }
    (per_channel, refused)
}

/// The distinct values of a dimension today, through the Stats API.
async fn values(
    http: &reqwest::Client,
    server: &Server,
    key: &str,
    dimension: &str,
) -> Vec<String> {
    let answer = stats_query(
        http,
        server,
        key,
        json!({"site_id": SITE, "date_range": "day", "metrics": ["visitors"],
            "dimensions": [dimension], "pagination": {"limit": 10000}}),
    )
    .await;
    answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["dimensions"][0].as_str().map(str::to_owned))
        .filter(|v| !v.is_empty())
        .collect()
}

/// Waits until the writer has committed everything: the event count stops moving.
async fn wait_for_writer(http: &reqwest::Client, server: &Server, key: &str) -> u64 {
    let started = Instant::now();
    let mut last = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let answer = stats_query(
            http,
            server,
            key,
            json!({"site_id": SITE, "date_range": "day", "metrics": ["events"]}),
        )
        .await;
        let events = answer["results"][0]["metrics"][0].as_u64().unwrap_or(0);
        if events > 0 && events == last {
            return events;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the writer did not settle: {events} events"
        );
        last = events;
    }
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// The policy a page is served with: scripts only from the server itself, nothing inline.
fn assert_page_policy(headers: &HeaderMap, what: &str) {
    let policy = headers
        .get(CONTENT_SECURITY_POLICY)
        .unwrap_or_else(|| panic!("{what} has no Content-Security-Policy"))
        .to_str()
        .unwrap();
    let directives: BTreeMap<&str, &str> = policy
        .split(';')
        .filter_map(|d| d.trim().split_once(' '))
        .collect();
    let scripts = directives
        .get("script-src")
        .or(directives.get("default-src"))
        .unwrap_or_else(|| panic!("{what}: no script-src or default-src in {policy}"));
    assert!(
        !scripts.contains("'unsafe-inline'")
            && !scripts.contains("'unsafe-eval'")
            && !scripts.contains('*')
            && !scripts.contains("data:"),
        "{what}: scripts are not held to this server: {policy}"
    );
    assert!(
        directives.contains_key("base-uri") && directives.contains_key("frame-ancestors"),
        "{what}: {policy}"
    );
    assert_eq!(
        headers
            .get("x-content-type-options")
            .map(|v| v.to_str().unwrap()),
        Some("nosniff"),
        "{what}"
    );
}

/// Markup a payload would bring: in a feed of payload paths it must arrive escaped (`&lt;script`).
fn assert_no_markup(body: &str, what: &str) {
    let lower = body.to_ascii_lowercase();
    for tag in [
        "<script",
        "<img",
        "<svg",
        "<iframe",
        "<x:script",
        "<math",
        "<details",
        "<body",
        "<object",
        "<embed",
        "<style",
        "<a ",
        "<div",
        "<input",
        "<x ",
        "<p ",
        "<base",
        "<meta",
        "<form",
    ] {
        assert!(!lower.contains(tag), "{what} holds a raw {tag}");
    }
}

/// `value` as an export must write it: a `'` before a formula's first character, so that a
/// spreadsheet shows the text instead of running it.
fn neutralised(value: &str) -> String {
    if value.starts_with(FORMULA_STARTS) {
        format!("'{value}")
    } else {
        value.to_owned()
    }
}

/// A JSON value as an export writes it in a cell.
fn cell_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// What the drill read of the CSV exports.
#[derive(Debug, Default)]
struct Exports {
    files: usize,
    rows: usize,
    cells: usize,
    /// Cells with a `'` before a formula's first character, by that character.
    neutralised: BTreeMap<String, usize>,
    /// Cells that start as a formula does: each one a failure.
    formulas: Vec<String>,
}

impl Exports {
    fn neutralised(&self) -> usize {
        self.neutralised.values().sum()
    }
}

/// Parses an export with the `csv` crate (which refuses a record longer or shorter than the
/// header, or a broken quote) and checks every cell, the header's too; returns the records,
/// header first.
fn check_export(body: &str, what: &str, exports: &mut Exports) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(body.as_bytes());
    let mut records = Vec::new();
    for record in reader.records() {
        let record = record.unwrap_or_else(|e| panic!("{what} is not well-formed CSV: {e}"));
        let cells: Vec<String> = record.iter().map(str::to_owned).collect();
        for cell in &cells {
            exports.cells += 1;
            if cell.starts_with(FORMULA_STARTS) {
                exports.formulas.push(format!(
                    "{what}: {:?}",
                    cell.chars().take(80).collect::<String>()
                ));
            } else if let Some(first) = cell.strip_prefix('\'').and_then(|c| c.chars().next()) {
                if FORMULA_STARTS.contains(&first) {
                    *exports.neutralised.entry(format!("{first:?}")).or_default() += 1;
                }
            }
        }
        records.push(cells);
    }
    assert!(!records.is_empty(), "{what} has no header");
    exports.files += 1;
    exports.rows += records.len() - 1;
    records
}

/// Downloads an export: a 200 in CSV, offered as a file with a plain name.
async fn download(request: reqwest::RequestBuilder, what: &str) -> (StatusCode, String) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap();
    if status != StatusCode::OK {
        return (status, body);
    }
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8", "{what}");
    let disposition = headers["content-disposition"].to_str().unwrap();
    let name = disposition
        .strip_prefix("attachment; filename=\"")
        .and_then(|rest| rest.strip_suffix(".csv\""))
        .unwrap_or_else(|| panic!("{what}: {disposition}"));
    assert!(
        name.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')),
        "{what}: {disposition}"
    );
    (status, body)
}

/// The namespace every SVG's root element must be in.
const SVG_NS: &str = "http://www.w3.org/2000/svg";
/// What a badge's and a chart's looks may be; the drill turns through them.
const BADGE_STYLES: [&str; 3] = ["flat", "flat-square", "for-the-badge"];
const CHART_STYLES: [&str; 3] = ["line", "bars", "sparkline"];
const CHART_PERIODS: [&str; 4] = ["day", "7d", "30d", "all"];
/// The periods of the popular pages' feeds the drill reads.
const FEED_PERIODS: [&str; 6] = ["day", "7d", "28d", "30d", "month", "all"];

/// Which XML document an answer must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum XmlKind {
    Svg,
    Rss,
}

/// One SVG or feed to fetch: its URL, and the request text a badge or chart must show (a label,
/// a path).
struct XmlRequest {
    kind: XmlKind,
    url: String,
    shown: Vec<String>,
}

impl XmlRequest {
    /// A public URL; `label` and `path` among `query` are what the document must show.
    fn public(server: &Server, route: &str, kind: XmlKind, query: &[(&str, &str)]) -> Self {
        let mut url = Url::parse(&server.url(route)).unwrap();
        url.query_pairs_mut().extend_pairs(query);
        Self::of(kind, url.as_str())
    }

    fn of(kind: XmlKind, url: &str) -> Self {
        let shown = Url::parse(url)
            .unwrap()
            .query_pairs()
            .filter(|(k, _)| k == "label" || k == "path")
            .map(|(_, v)| v.into_owned())
            .collect();
        XmlRequest {
            kind,
            url: url.to_owned(),
            shown,
        }
    }
}

/// Every SVG the public routes serve for the payload store: for each stored page, its badge
/// labelled with the payload (the page's path without its `/p/` or `/r/`) and its chart, turning
/// through the styles, themes, metrics and periods; the site's own badge and chart; and the
/// popular pages' feed for every period.
fn public_documents(server: &Server, pages: &[String]) -> Vec<XmlRequest> {
    let site = [("site", SITE)];
    let mut out = vec![
        XmlRequest::public(server, "/api/counter.svg", XmlKind::Svg, &site),
        XmlRequest::public(server, "/api/chart.svg", XmlKind::Svg, &site),
        XmlRequest::public(server, "/api/popular.rss", XmlKind::Rss, &site),
    ];
    for period in FEED_PERIODS {
        let query = [("site", SITE), ("limit", "100"), ("period", period)];
        out.push(XmlRequest::public(
            server,
            "/api/popular.rss",
            XmlKind::Rss,
            &query,
        ));
    }
    for (i, page) in pages.iter().enumerate() {
        let label = page
            .strip_prefix("/p/")
            .or_else(|| page.strip_prefix("/r/"))
            .unwrap_or(page);
        let badge = [
            ("site", SITE),
            ("path", page),
            ("label", label),
            ("style", BADGE_STYLES[i % 3]),
            ("metric", ["pageviews", "visitors"][i % 2]),
        ];
        out.push(XmlRequest::public(
            server,
            "/api/counter.svg",
            XmlKind::Svg,
            &badge,
        ));
        let chart = [
            ("site", SITE),
            ("path", page),
            ("style", CHART_STYLES[i % 3]),
            ("theme", ["light", "dark"][i / 3 % 2]),
            ("period", CHART_PERIODS[i % 4]),
        ];
        out.push(XmlRequest::public(
            server,
            "/api/chart.svg",
            XmlKind::Svg,
            &chart,
        ));
    }
    out
}

/// What the drill parsed of the SVGs and feeds.
#[derive(Debug, Default)]
struct XmlDocuments {
    /// SVGs by route.
    svg: BTreeMap<String, usize>,
    rss: usize,
    bytes: usize,
    /// SVGs whose text shows the payload they were asked for (its first characters, markup
    /// characters among them, read back as text), by route.
    svg_showing_payload: BTreeMap<String, usize>,
    /// Feed items whose title is a stored payload path with markup characters, read back as
    /// text.
    rss_payload_items: usize,
    /// Everything that failed, each with its URL.
    failures: Vec<String>,
}

/// The first characters of `text` as an SVG must show them (line breaks and tabs as spaces,
/// other control characters and bidirectional overrides dropped), when they hold a markup
/// character: a payload that could only be read back as text if it was escaped.
fn markup_fragment(text: &str) -> Option<String> {
    let fragment: String = text
        .chars()
        .filter_map(|c| match c {
            '\t' | '\n' | '\r' => Some(' '),
            c if c.is_control() => None,
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => None,
            c => Some(c),
        })
        .take(16)
        .collect();
    fragment
        .contains(['<', '>', '&', '"', '\''])
        .then_some(fragment)
}

/// Fetches every document (8 at a time, each from its own address so that the public read
/// limit does not apply), parses it with `roxmltree` and checks it: a 200 of the right type, a
/// well-formed document (no DTD: `roxmltree` refuses one) whose root is `<svg>` in the SVG
/// namespace or `<rss>`, with no `<script>` or `<foreignObject>`, no `on…` attribute and no
/// `href` (`xlink:href` included) to a `javascript:` or `data:` URL.
async fn check_xml(
    http: &reqwest::Client,
    requests: Vec<XmlRequest>,
    stored_pages: &BTreeSet<&str>,
    found: &mut XmlDocuments,
) {
    let limit = Arc::new(Semaphore::new(8));
    let mut tasks = JoinSet::new();
    for (i, request) in requests.into_iter().enumerate() {
        let permit = limit.clone().acquire_owned().await.unwrap();
        let get = http.get(&request.url).header(
            "x-forwarded-for",
            format!("172.{}.{}.{}", 16 + (i >> 16), (i >> 8) & 255, i & 255),
        );
        tasks.spawn(async move {
            let response = get.send().await.unwrap();
            let status = response.status();
            let kind = response
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap_or("?").to_owned())
                .unwrap_or_default();
            let body = response.text().await.unwrap();
            drop(permit);
            (request, status, kind, body)
        });
    }
    while let Some(done) = tasks.join_next().await {
        let (request, status, content_type, body) = done.unwrap();
        let what = request.url.chars().take(160).collect::<String>();
        let mut fail = |problem: String| found.failures.push(format!("{what}: {problem}"));
        let expected_type = match request.kind {
            XmlKind::Svg => "image/svg+xml",
            XmlKind::Rss => "application/rss+xml; charset=utf-8",
        };
        if status != StatusCode::OK || content_type != expected_type {
            fail(format!("{status} {content_type}: {body:.200}"));
            continue;
        }
        let document = match roxmltree::Document::parse(&body) {
            Ok(document) => document,
            Err(e) => {
                fail(format!("not well-formed XML ({e}): {body:.300}"));
                continue;
            }
        };
        found.bytes += body.len();
        let route = Url::parse(&request.url).unwrap().path().to_owned();
        let root = document.root_element();
        let (name, namespace) = (root.tag_name().name(), root.tag_name().namespace());
        match request.kind {
            XmlKind::Svg => {
                *found.svg.entry(route.clone()).or_default() += 1;
                if name != "svg" || namespace != Some(SVG_NS) {
                    fail(format!("the root is <{name}> in {namespace:?}, not an SVG"));
                }
            }
            XmlKind::Rss => {
                found.rss += 1;
                if name != "rss" || namespace.is_some() {
                    fail(format!("the root is <{name}> in {namespace:?}, not <rss>"));
                }
            }
        }
        for element in document.descendants().filter(|n| n.is_element()) {
            let tag = element.tag_name().name();
            if tag.eq_ignore_ascii_case("script") || tag.eq_ignore_ascii_case("foreignObject") {
                fail(format!("a <{tag}> element: {body:.300}"));
            }
            for attribute in element.attributes() {
                let key = attribute.name();
                if key.to_ascii_lowercase().starts_with("on") {
                    fail(format!("an attribute {key} on <{tag}>: {body:.300}"));
                }
                // As a browser reads a URL: spaces around it and tabs and line breaks in it
                // are dropped.
                let value: String = attribute
                    .value()
                    .trim()
                    .chars()
                    .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
                    .collect::<String>()
                    .to_ascii_lowercase();
                if key == "href" && (value.starts_with("javascript:") || value.starts_with("data:"))
                {
                    fail(format!("{key}={value:.80} on <{tag}>"));
                }
            }
        }
        let texts: Vec<&str> = document
            .descendants()
            .filter(|n| n.is_text())
            .filter_map(|n| n.text())
            .collect();
        match request.kind {
            XmlKind::Svg => {
                let fragments: Vec<String> = request
                    .shown
                    .iter()
                    .filter_map(|s| markup_fragment(s))
                    .collect();
                let shows = texts.iter().any(|t| {
                    fragments
                        .iter()
                        .any(|f| t.contains(f.as_str()) || t.contains(&f.to_uppercase()))
                });
                if shows {
                    *found.svg_showing_payload.entry(route).or_default() += 1;
                }
            }
            XmlKind::Rss => {
                found.rss_payload_items += document
                    .descendants()
                    .filter(|n| n.has_tag_name("title"))
                    .filter_map(|n| n.text())
                    .filter(|t| stored_pages.contains(t) && t.contains(['<', '>', '&', '"', '\'']))
                    .count();
            }
        }
    }
}

#[tokio::test]
async fn hostile_strings_in_every_channel_never_run_in_the_dashboard() {
    let started = Instant::now();
    let corpus = corpus();
    assert!(corpus.len() >= 500, "only {} payloads", corpus.len());
    let as_written: Vec<&Payload> = corpus
        .iter()
        .filter(|p| p.variant == "as-written")
        .collect();
    let geo: Vec<&Payload> = as_written
        .iter()
        .filter(|p| p.text.len() <= MAX_GEO_TEXT)
        .take(GEO_PAYLOADS)
        .copied()
        .collect();
    let names: Vec<&Payload> = as_written
        .iter()
        .filter(|p| p.text.len() <= MAX_NAME)
        .copied()
        .collect();

    // Goals named after payloads, so the goals report shows them too.
    let mut goals: Vec<String> = names[..8]
        .iter()
        .map(|p| format!("{{ event = {} }}", toml_string(&p.text)))
        .collect();
    goals.extend(
        names[8..12]
            .iter()
            .map(|p| format!("{{ page = {} }}", toml_string(&format!("/p/{}", p.text)))),
    );
    // The shared view's walk and the exports ask the Stats API's engine a few thousand times
    // through one link, whose hourly budget is the API's.
    let config = format!(
        "trusted_proxies = [\"127.0.0.1\"]\n\
         [writer]\nqueue_capacity = 100000\n\
         [api]\nrequests_per_hour = 100000\n\
         [[sites]]\ndomain = \"{SITE}\"\npublic_counters = true\ncounter_min_visitors = 1\n\
         goals = [{}]\n",
        goals.join(", ")
    );
    let home = tempfile::tempdir().unwrap();
    write_geoip(&home.path().join("test-geo.mmdb"), &geo);
    let server = Server::start_in(home, &config, &[]);
    let http = client();

    let sent = requests(&corpus, &geo);
    let total = sent.len();
    let ingest = Instant::now();
    let (per_channel, refused) = send_all(&http, &server, sent).await;
    let ingest_took = ingest.elapsed();
    assert!(
        refused.is_empty(),
        "{} of {total} events were not accepted, first: {:#?}",
        refused.len(),
        &refused[..refused.len().min(5)]
    );
    eprintln!(
        "{} payloads ({} bases × {} variants); {total} events sent in {ingest_took:?}: {per_channel:#?}",
        corpus.len(),
        as_written.len(),
        VARIANTS.len()
    );

    // The payloads were stored, not dropped: the reports hold hundreds of them.
    let key = stats_key(&server, SITE);
    let events = wait_for_writer(&http, &server, &key).await;
    let mut stored = BTreeMap::new();
    for dimension in DIMENSIONS {
        let found = values(&http, &server, &key, dimension).await;
        stored.insert(dimension, found);
    }
    let counts: BTreeMap<_, _> = stored.iter().map(|(d, v)| (*d, v.len())).collect();
    eprintln!("{events} events stored; distinct values: {counts:#?}");
    for (dimension, least) in [
        ("event:page", 1000),
        ("visit:referrer", 400),
        ("visit:source", 300),
        ("visit:utm_source", 300),
        ("visit:utm_medium", 300),
        ("visit:utm_campaign", 300),
        ("visit:utm_content", 300),
        ("visit:utm_term", 300),
        ("event:name", 300),
        ("event:props:xss", 500),
        ("visit:city", GEO_PAYLOADS),
        ("event:goal", 8),
    ] {
        assert!(
            counts[dimension] >= least,
            "only {} distinct {dimension} stored",
            counts[dimension]
        );
    }
    // Stored as sent, markup and all.
    let first = &corpus[0].text;
    assert_eq!(first, "<script>alert(1)</script>");
    assert!(stored["event:page"].contains(&format!("/p/{first}")));
    assert!(stored["event:name"].contains(first));
    assert!(stored["visit:utm_campaign"].contains(first));
    assert!(stored["event:props:xss"].contains(first));
    assert!(stored["visit:city"].contains(first));
    let prop_key = stats_query(
        &http,
        &server,
        &key,
        json!({"site_id": SITE, "date_range": "day", "metrics": ["visitors"],
            "dimensions": [format!("event:props:{first}")]}),
    )
    .await;
    assert!(
        prop_key["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["dimensions"][0] == json!(first)),
        "a payload as a prop key: {prop_key}"
    );

    // A shared link of the payload store, labelled with a payload (the label is one line of at
    // most 100 characters).
    let label = &as_written
        .iter()
        .find(|p| p.text.starts_with("<img src=xss onerror="))
        .unwrap()
        .text;
    let share = add_share(&server, SITE, &["--label", label]);

    // Chromium: the dashboard, the shared view and the public answers, with everything hooked.
    let payloads = Path::new(env!("CARGO_TARGET_TMPDIR")).join("xss-payloads.json");
    let listed: Vec<Value> = corpus
        .iter()
        .map(|p| json!({"id": p.id, "variant": p.variant, "text": p.text}))
        .collect();
    std::fs::write(&payloads, serde_json::to_vec(&listed).unwrap()).unwrap();
    let browser = Instant::now();
    let mut seen = browser_script(
        &server,
        "xss.mjs",
        &[],
        &[
            ("SETUP", &server.setup_token()),
            ("SITE", SITE),
            ("PAYLOADS", payloads.to_str().unwrap()),
            ("SHARE", &share),
            ("SHARE_LABEL", label),
        ],
    );
    // The export links the views offered, downloaded below (too long to print).
    let offered_links = seen.as_object_mut().unwrap().remove("exportLinks").unwrap();
    let xml_links = seen.as_object_mut().unwrap().remove("xmlLinks").unwrap();
    eprintln!("browser ({:?}): {seen}", browser.elapsed());

    // Every SVG and feed the server serves for the payload store, fetched over HTTP and parsed
    // as XML: those the walk loaded, the badge and chart of every stored page, and the feeds.
    let mut xml_requests = public_documents(&server, &stored["event:page"]);
    let mut walked = 0;
    for link in xml_links.as_array().unwrap() {
        let link = link.as_str().unwrap();
        let kind = if Url::parse(link).unwrap().path().ends_with(".rss") {
            XmlKind::Rss
        } else {
            XmlKind::Svg
        };
        xml_requests.push(XmlRequest::of(kind, link));
        walked += 1;
    }
    let mut urls = BTreeSet::new();
    xml_requests.retain(|r| urls.insert(r.url.clone()));
    let stored_pages: BTreeSet<&str> = stored["event:page"].iter().map(String::as_str).collect();
    let mut xml = XmlDocuments::default();
    let parsing = Instant::now();
    check_xml(&no_redirects(), xml_requests, &stored_pages, &mut xml).await;
    let svgs: usize = xml.svg.values().sum();
    let shown: usize = xml.svg_showing_payload.values().sum();
    eprintln!(
        "SVG and RSS ({:?}): {svgs} SVGs {:?} ({walked} URLs the walk loaded among them) and {} feeds parsed, {} bytes; payloads shown as text in {shown} SVGs {:?} and {} feed items; {} failures",
        parsing.elapsed(),
        xml.svg,
        xml.rss,
        xml.bytes,
        xml.svg_showing_payload,
        xml.rss_payload_items,
        xml.failures.len(),
    );
    assert!(
        xml.failures.is_empty(),
        "{} of the SVGs and feeds served for the payload store are not well-formed or not inert, first: {:#?}",
        xml.failures.len(),
        &xml.failures[..xml.failures.len().min(10)]
    );
    for route in ["/api/counter.svg", "/api/chart.svg"] {
        let parsed = xml.svg.get(route).copied().unwrap_or(0);
        let shown = xml.svg_showing_payload.get(route).copied().unwrap_or(0);
        assert!(
            parsed > counts["event:page"] && shown >= 500,
            "{route}: only {parsed} parsed, {shown} showing their payload as text"
        );
    }
    assert!(walked >= 100, "the walk loaded only {walked} SVGs");
    assert!(
        xml.rss > FEED_PERIODS.len(),
        "only {} feeds parsed",
        xml.rss
    );
    assert!(
        xml.rss_payload_items >= 100,
        "the feeds show only {} payload paths as text",
        xml.rss_payload_items
    );

    assert_eq!(seen["dialogs"], 0, "a payload opened a dialog: {seen:#}");
    assert_eq!(
        seen["hooked"], 0,
        "a payload called a hooked function: {seen:#}"
    );
    assert_eq!(
        seen["outbound"], 0,
        "a payload made the browser ask another origin: {seen:#}"
    );
    assert_eq!(
        seen["cspViolations"], 0,
        "a payload became markup the policy had to block: {seen:#}"
    );
    assert_eq!(seen["injected"], 0, "a payload became markup: {seen:#}");
    assert_eq!(
        seen["payloadRequests"], 0,
        "a payload's relative URL was requested: {seen:#}"
    );
    assert!(
        seen["views"].as_u64().unwrap() >= 30,
        "only {} dashboard views: {seen:#}",
        seen["views"]
    );
    assert!(
        seen["rowClicks"].as_u64().unwrap() >= 4,
        "rows were not clicked: {seen:#}"
    );
    assert!(
        seen["seenAsText"].as_u64().unwrap() >= 20,
        "the dashboard did not show the payloads as text: {seen:#}"
    );
    assert!(
        seen["svgImages"].as_u64().unwrap() >= 100,
        "the public images did not load: {seen:#}"
    );
    assert!(seen["publicDocuments"].as_u64().unwrap() >= 20, "{seen:#}");
    // The shared link's view on its own: walked as the dashboard was, nothing ran or loaded, the
    // payloads (and the link's label) shown as text.
    let shared = &seen["areas"]["share"];
    let figure = |name: &str| {
        shared[name]
            .as_u64()
            .unwrap_or_else(|| panic!("no {name} for the shared view: {seen:#}"))
    };
    for finding in [
        "dialogs",
        "hooked",
        "outbound",
        "csp",
        "injected",
        "payloadRequests",
    ] {
        assert_eq!(figure(finding), 0, "the shared view: {finding}: {seen:#}");
    }
    assert!(figure("views") >= 30, "the shared view: {shared:#}");
    assert!(figure("rowClicks") >= 4, "the shared view: {shared:#}");
    assert!(figure("craftedUrls") >= 10, "the shared view: {shared:#}");
    assert!(figure("seenAsText") >= 20, "the shared view: {shared:#}");
    assert_eq!(
        seen["shareLabelShown"], true,
        "the link's label is not shown as text: {seen:#}"
    );

    // The pages' policy, as served: the dashboard (signed in) and the sign-in page.
    let plain = no_redirects();
    let login = plain.get(server.url("/login")).send().await.unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    assert_page_policy(login.headers(), "/login");
    let cookie = owner_session(&plain, &server, "csp-check", "long enough pass").await;
    let dashboard = plain
        .get(server.url("/"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(dashboard.status(), StatusCode::OK);
    assert_page_policy(dashboard.headers(), "/");
    let html = dashboard.text().await.unwrap();
    assert!(
        !html.to_ascii_lowercase().contains("<script>"),
        "the dashboard's page has an inline script"
    );
    // The feed of popular pages holds payload paths, escaped.
    let feed = plain
        .get(server.url(&format!(
            "/api/popular.rss?site={SITE}&limit=100&period=day"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(feed.status(), StatusCode::OK);
    let feed = feed.text().await.unwrap();
    assert!(
        feed.contains("<title>/p/&lt;script&gt;alert(1)&lt;/script&gt;</title>"),
        "the feed shows no payload: {feed}"
    );
    assert_no_markup(&feed, "/api/popular.rss");
    let popular = plain
        .get(server.url(&format!("/api/popular?site={SITE}&limit=100&period=day")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        popular.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    assert_eq!(popular.headers()["x-content-type-options"], "nosniff");
    let paths: Vec<Value> = popular.json().await.unwrap();
    let shown: BTreeSet<&str> = paths.iter().filter_map(|p| p["path"].as_str()).collect();
    assert!(shown.len() >= 50, "{shown:?}");

    // The CSV exports of the payload store, the owner's and the shared link's: every dimension,
    // a payload and a formula as a prop key; each must hold the Stats API's rows exactly, its
    // values with a `'` before a formula's first character.
    let mut exports = Exports::default();
    let formula = &as_written
        .iter()
        .find(|p| p.text.starts_with('='))
        .unwrap()
        .text;
    let mut dimensions: Vec<String> = DIMENSIONS.iter().map(|d| d.to_string()).collect();
    dimensions.push(format!("event:props:{first}"));
    dimensions.push(format!("event:props:{formula}"));
    for dimension in &dimensions {
        let query = json!({"site_id": SITE, "date_range": "day", "metrics": ["visitors"],
            "dimensions": [dimension], "pagination": {"limit": 10000}});
        let answer = stats_query(&http, &server, &key, query.clone()).await;
        let mut expected: Vec<Vec<String>> = answer["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                vec![
                    neutralised(&cell_text(&r["dimensions"][0])),
                    cell_text(&r["metrics"][0]),
                ]
            })
            .collect();
        expected.sort();
        let header = dimension
            .strip_prefix("visit:")
            .or_else(|| dimension.strip_prefix("event:"))
            .unwrap();
        let q = query.to_string();
        for (who, request) in [
            (
                "owner",
                plain
                    .get(server.url("/api/dashboard/export.csv"))
                    .query(&[("q", q.as_str()), ("name", dimension.as_str())])
                    .header("cookie", &cookie),
            ),
            (
                "shared link",
                plain.get(server.url("/api/share/export.csv")).query(&[
                    ("q", q.as_str()),
                    ("name", dimension.as_str()),
                    ("share", share.as_str()),
                ]),
            ),
        ] {
            let what = format!("the {who}'s export of {dimension}");
            let (status, body) = download(request, &what).await;
            assert_eq!(status, StatusCode::OK, "{what}: {body}");
            let mut records = check_export(&body, &what, &mut exports);
            assert!(
                exports.formulas.is_empty(),
                "cells an export hands a spreadsheet as formulas: {:#?}",
                &exports.formulas[..exports.formulas.len().min(10)]
            );
            assert_eq!(records[0], [header, "visitors"], "{what}");
            let mut rows = records.split_off(1);
            rows.sort();
            assert_eq!(rows.len(), expected.len(), "{what}");
            if let Some((row, stored)) = rows.iter().zip(&expected).find(|(r, e)| r != e) {
                panic!("{what}: not the stored values: {row:?} where {stored:?} was expected");
            }
        }
    }
    let by_dimension = exports.rows;
    // The formula payloads, as stored in a whole value (event names, props, UTM tags), are in
    // the exports with their `'`: the check above did not pass for want of them.
    let mut formulas_found = 0;
    for dimension in ["event:name", "event:props:xss", "visit:utm_campaign"] {
        for value in &stored[dimension] {
            if value.starts_with(FORMULA_STARTS) {
                formulas_found += 1;
            }
        }
    }
    // Every export link the dashboard and the shared view offered (their panels' and the
    // range's, under the filters they were walked with): well-formed, no formula. A link whose
    // filters the Stats API refuses (a payload as a dimension) is a 400.
    let mut offered = BTreeMap::new();
    for (area, links) in offered_links.as_object().unwrap() {
        for link in links.as_array().unwrap() {
            let link = link.as_str().unwrap();
            let request = plain.get(link).header("cookie", &cookie);
            let what = format!("{area} export {}", &link[..link.len().min(120)]);
            let (status, body) = download(request, &what).await;
            assert!(
                status == StatusCode::OK || status == StatusCode::BAD_REQUEST,
                "{what}: {status} {body}"
            );
            if status == StatusCode::OK {
                check_export(&body, &what, &mut exports);
            }
            *offered
                .entry(format!("{area} {}", status.as_u16()))
                .or_insert(0) += 1;
        }
    }
    eprintln!(
        "CSV exports: {} files ({} by dimension, {offered:?} offered by the views), {} rows ({by_dimension} by dimension), {} cells; {} neutralised {:?}; {} cells starting as a formula; {formulas_found} formula payloads stored whole",
        exports.files,
        dimensions.len() * 2,
        exports.rows,
        exports.cells,
        exports.neutralised(),
        exports.neutralised,
        exports.formulas.len(),
    );
    assert!(
        exports.formulas.is_empty(),
        "cells an export hands a spreadsheet as formulas: {:#?}",
        &exports.formulas[..exports.formulas.len().min(10)]
    );
    assert!(
        formulas_found >= 20,
        "only {formulas_found} formula payloads were stored whole"
    );
    assert!(
        exports.neutralised() >= 2 * formulas_found,
        "only {} cells were neutralised",
        exports.neutralised()
    );
    for start in ["'='", "'+'", "'-'", "'@'"] {
        assert!(
            exports.neutralised.contains_key(start),
            "no neutralised cell starting with {start}: {:?}",
            exports.neutralised
        );
    }
    assert!(
        offered.keys().any(|k| k.starts_with("share 200"))
            && offered.keys().any(|k| k.starts_with("dashboard 200")),
        "the views offered no export that worked: {offered:?}"
    );
    for area in ["dashboard", "share"] {
        let kinds = &seen["areas"][area]["exportKinds"];
        for kind in ["plain", "filtered", "props"] {
            assert!(
                kinds[kind].as_u64().unwrap_or(0) > 0,
                "the {area} offered no {kind} export: {kinds}"
            );
        }
    }
    eprintln!("whole test took {:?}", started.elapsed());
}
